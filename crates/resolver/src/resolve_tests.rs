//! The decision logic of DESIGN.md §3 and the cache of §3.5 over scripted answers: no sockets.

use super::*;
use crate::cache::CachingLookup;
use crate::config::CacheConfig;
use crate::lookup::Lookup;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Answers from a table; unknown questions get NXDOMAIN; `hang` questions never answer;
/// `delay` holds every answer back (under paused tokio time).
#[derive(Default)]
struct Scripted {
    answers: Mutex<HashMap<(String, RecordKind), Result<Answer, LookupError>>>,
    hang: Vec<(String, RecordKind)>,
    delay: Option<Duration>,
    calls: AtomicU64,
}

impl Scripted {
    fn set(&self, name: &str, kind: RecordKind, result: Result<Answer, LookupError>) {
        self.answers
            .lock()
            .unwrap()
            .insert((name.to_owned(), kind), result);
    }
    fn naptr(self, name: &str, records: &[(u16, u16, &str, &str, &str)]) -> Self {
        let records = records
            .iter()
            .map(|(order, preference, flags, services, regexp)| NaptrRecord {
                order: *order,
                preference: *preference,
                flags: (*flags).into(),
                services: (*services).into(),
                regexp: (*regexp).into(),
                replacement: String::new(),
            })
            .collect();
        self.set(
            name,
            RecordKind::Naptr,
            Ok(Answer {
                records: Records::Naptr(records),
                ttl: 300,
            }),
        );
        self
    }
    fn mx(self, name: &str, mx: &[(u16, &str)]) -> Self {
        let mx = mx
            .iter()
            .map(|(p, e)| MxRecord {
                preference: *p,
                exchange: (*e).into(),
            })
            .collect();
        self.set(
            name,
            RecordKind::Mx,
            Ok(Answer {
                records: Records::Mx(mx),
                ttl: 300,
            }),
        );
        self
    }
    fn a(self, name: &str, ips: &[[u8; 4]], ttl: u32) -> Self {
        let ips = ips.iter().map(|o| IpAddr::V4(Ipv4Addr::from(*o))).collect();
        self.set(
            name,
            RecordKind::A,
            Ok(Answer {
                records: Records::Ip(ips),
                ttl,
            }),
        );
        self
    }
    fn fail(self, name: &str, kind: RecordKind, e: LookupError) -> Self {
        self.set(name, kind, Err(e));
        self
    }
}

impl DnsLookup for Scripted {
    async fn lookup(&self, name: &str, kind: RecordKind) -> Lookup {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        if self.hang.iter().any(|(n, k)| n == name && *k == kind) {
            std::future::pending::<()>().await;
        }
        let result = self
            .answers
            .lock()
            .unwrap()
            .get(&(name.to_owned(), kind))
            .cloned()
            .unwrap_or(Err(LookupError::NxDomain {
                negative_ttl: Some(60),
            }))
            .map(Arc::new);
        Lookup {
            result,
            source: Arc::from("scripted"),
            cached: false,
        }
    }
}

const BOB: &str = "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa";
const MAILTO: &str = "!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs!";

fn config() -> ResolverConfig {
    ResolverConfig {
        own_sip_domains: vec!["a.example".into()],
        ..ResolverConfig::default()
    }
}

async fn resolve(lookup: Scripted, config: ResolverConfig, addr: &str) -> Resolution {
    Resolver::new(config, lookup)
        .resolve(&Address::parse(addr).unwrap())
        .await
}

fn peer(mmse: &str, hosts: &[&str]) -> Route {
    Route::Peer {
        mmse_domain: mmse.into(),
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
    }
}

fn with_mmse_b(s: Scripted) -> Scripted {
    s.mx(
        "mms.b.example",
        &[(20, "mx2.b.example"), (10, "mx1.b.example")],
    )
    .a("mx1.b.example", &[[192, 0, 2, 1]], 300)
    .a("mx2.b.example", &[[192, 0, 2, 2]], 300)
}

#[tokio::test]
async fn own_sip_domain_is_local_design_3_1() {
    let r = resolve(Scripted::default(), config(), "sip:alice@A.example").await;
    assert_eq!(r.outcome, Ok(Route::Local));
    assert!(matches!(&r.steps[0], Step::Rule { rule, .. } if rule == "own-sip-domain"));
}

#[tokio::test]
async fn own_number_range_is_local_design_3_1() {
    let c = ResolverConfig {
        own_number_ranges: vec!["+4917".into()],
        ..config()
    };
    assert_eq!(
        resolve(Scripted::default(), c, "tel:+4917612345678")
            .await
            .outcome,
        Ok(Route::Local)
    );
}

#[tokio::test]
async fn sip_domain_uses_pattern_then_mx_by_preference_rfc5321_5_1() {
    let r = resolve(
        with_mmse_b(Scripted::default()),
        config(),
        "sip:bob@b.example",
    )
    .await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
    assert!(
        r.steps
            .iter()
            .any(|s| matches!(s, Step::Rule { rule, .. } if rule == "mmse-domain-pattern"))
    );
}

#[tokio::test]
async fn mx_without_records_falls_back_to_a_of_the_domain_rfc5321_5_1() {
    let s = Scripted::default()
        .fail(
            "mms.c.example",
            RecordKind::Mx,
            LookupError::NoData {
                negative_ttl: Some(60),
            },
        )
        .a("mms.c.example", &[[192, 0, 2, 9]], 60);
    let r = resolve(s, config(), "sip:carol@c.example").await;
    assert_eq!(r.outcome, Ok(peer("mms.c.example", &["192.0.2.9:25"])));
}

#[tokio::test]
async fn nxdomain_mmse_domain_is_permanent_rfc2308() {
    let r = resolve(Scripted::default(), config(), "sip:dave@nowhere.example").await;
    assert_eq!(
        r.outcome,
        Err(ResolveError::DomainNotFound("mms.nowhere.example".into()))
    );
    assert!(!r.outcome.unwrap_err().is_transient());
}

#[tokio::test]
async fn null_mx_means_no_mail_rfc7505() {
    let s = Scripted::default().mx("mms.n.example", &[(0, "")]);
    assert_eq!(
        resolve(s, config(), "sip:x@n.example").await.outcome,
        Err(ResolveError::NullMx("mms.n.example".into()))
    );
}

#[tokio::test]
async fn servfail_on_mx_is_transient() {
    let s = Scripted::default().fail(
        "mms.b.example",
        RecordKind::Mx,
        LookupError::ServerFailure("SERVFAIL".into()),
    );
    let err = resolve(s, config(), "sip:bob@b.example")
        .await
        .outcome
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn enum_mailto_gives_mmse_domain_rfc4355() {
    let s = Scripted::default()
        .naptr(BOB, &[(10, 10, "u", "E2U+mms:mailto", MAILTO)])
        .mx("mms.mnc002.mcc262.gprs", &[(10, "mx.mnc002.mcc262.gprs")])
        .a("mx.mnc002.mcc262.gprs", &[[198, 51, 100, 7]], 300);
    let r = resolve(s, config(), "tel:+4917612345678").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.mnc002.mcc262.gprs", &["198.51.100.7:25"]))
    );
    assert!(
        matches!(&r.steps[0], Step::Query { name, record_type: RecordKind::Naptr, .. } if name == BOB)
    );
}

#[tokio::test]
async fn enum_mms_service_wins_over_sip_even_with_higher_order_rfc6116() {
    let s = with_mmse_b(Scripted::default())
        .naptr(
            BOB,
            &[
                (10, 10, "u", "E2U+sip", "!^\\+49(.*)$!sip:\\1@b.example!"),
                (
                    20,
                    10,
                    "u",
                    "E2U+mms:mailto",
                    "!^(.*)$!mailto:\\1/TYPE=PLMN@mms.d.example!",
                ),
            ],
        )
        .mx("mms.d.example", &[(10, "mx.d.example")])
        .a("mx.d.example", &[[192, 0, 2, 40]], 300);
    let r = resolve(s, config(), "tel:+4917612345678").await;
    assert_eq!(r.outcome, Ok(peer("mms.d.example", &["192.0.2.40:25"])));
}

#[tokio::test]
async fn enum_record_with_unusable_regexp_is_skipped_rfc3402_3_2() {
    let s = with_mmse_b(Scripted::default()).naptr(
        BOB,
        &[
            (
                10,
                10,
                "u",
                "E2U+mms:mailto",
                "!^(.*)$!mailto:\\2@mms.d.example!",
            ),
            (10, 20, "u", "E2U+sip", "!^\\+49(.*)$!sip:\\1@b.example!"),
        ],
    );
    let r = resolve(s, config(), "tel:+4917612345678").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
    assert!(
        r.steps
            .iter()
            .any(|s| matches!(s, Step::Rule { rule, .. } if rule == "enum-naptr-skipped"))
    );
}

#[tokio::test]
async fn enum_prefers_mms_then_order_then_preference_rfc3403_4_1() {
    let s = Scripted::default()
        .naptr(
            BOB,
            &[
                (10, 10, "u", "E2U+sip", "!^.*$!sip:bob@b.example!"),
                (
                    20,
                    20,
                    "u",
                    "E2U+mms:mailto",
                    "!^.*$!mailto:bob@mms.y.example!",
                ),
                (
                    20,
                    10,
                    "u",
                    "E2U+mms:mailto",
                    "!^.*$!mailto:bob@mms.x.example!",
                ),
                (
                    10,
                    10,
                    "",
                    "E2U+mms:mailto",
                    "!^.*$!mailto:bob@mms.nonterminal.example!",
                ),
            ],
        )
        .mx("mms.x.example", &[(10, "mx.x.example")])
        .a("mx.x.example", &[[192, 0, 2, 50]], 300);
    let r = resolve(s, config(), "tel:+4917612345678").await;
    assert_eq!(r.outcome, Ok(peer("mms.x.example", &["192.0.2.50:25"])));
}

#[tokio::test]
async fn enum_sip_result_continues_at_sip_domain_rfc3764() {
    let s = with_mmse_b(Scripted::default()).naptr(
        BOB,
        &[(10, 10, "U", "e2u+SIP", "!^\\+49(.*)$!sip:\\1@b.example!")],
    );
    assert_eq!(
        resolve(s, config(), "tel:+4917612345678").await.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
}

#[tokio::test]
async fn enum_sip_result_in_own_domain_is_local() {
    let s = Scripted::default().naptr(BOB, &[(10, 10, "u", "E2U+sip", "!^.*$!sip:bob@a.example!")]);
    assert_eq!(
        resolve(s, config(), "tel:+4917612345678").await.outcome,
        Ok(Route::Local)
    );
}

#[tokio::test]
async fn enum_tel_result_follows_the_ported_number() {
    let ported = "9.9.9.9.9.9.9.1.5.1.9.4.e164.arpa"; // +491519999999
    let s = with_mmse_b(Scripted::default())
        .naptr(
            BOB,
            &[(10, 10, "u", "E2U+mms:tel", "!^.*$!tel:+491519999999!")],
        )
        .naptr(
            ported,
            &[(
                10,
                10,
                "u",
                "E2U+mms:mailto",
                "!^.*$!mailto:+491519999999/TYPE=PLMN@mms.b.example!",
            )],
        );
    let r = resolve(s, config(), "tel:+4917612345678").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
    assert!(
        r.steps
            .iter()
            .any(|s| matches!(s, Step::Rule { rule, .. } if rule == "enum-rewrite"))
    );
}

#[tokio::test]
async fn enum_loop_is_detected_and_permanent() {
    let other = "2.2.2.2.2.2.2.1.5.1.9.4.e164.arpa"; // +491512222222
    let s = Scripted::default()
        .naptr(
            BOB,
            &[(10, 10, "u", "E2U+mms:tel", "!^.*$!tel:+491512222222!")],
        )
        .naptr(
            other,
            &[(10, 10, "u", "E2U+mms:tel", "!^.*$!tel:+4917612345678!")],
        );
    let err = resolve(s, config(), "tel:+4917612345678")
        .await
        .outcome
        .unwrap_err();
    assert_eq!(err, ResolveError::RewriteLoop(1));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn enum_gives_up_after_five_rewrites() {
    let mut s = Scripted::default();
    for i in 0..10u64 {
        let from = E164::parse(&format!("+4930000000{i}")).unwrap();
        let to = format!("tel:+4930000000{}", i + 1);
        s = s.naptr(
            &from.enum_domain("e164.arpa"),
            &[(1, 1, "u", "E2U+mms:tel", &format!("!^.*$!{to}!"))],
        );
    }
    let err = resolve(s, config(), "tel:+49300000000")
        .await
        .outcome
        .unwrap_err();
    assert_eq!(err, ResolveError::RewriteLoop(5));
}

#[tokio::test]
async fn no_enum_answer_uses_number_range_then_fails_permanently() {
    let c = ResolverConfig {
        number_ranges: vec![
            NumberRangeConfig {
                prefix: "+49".into(),
                mmse_domain: "mms.wide.example".into(),
                hosts: vec!["192.0.2.99:25".into()],
            },
            NumberRangeConfig {
                prefix: "4917".into(),
                mmse_domain: "mms.b.example".into(),
                hosts: vec![],
            },
        ],
        ..config()
    };
    let r = resolve(
        with_mmse_b(Scripted::default()),
        c.clone(),
        "tel:+4917612345678",
    )
    .await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
    let err = resolve(Scripted::default(), config(), "tel:+4917612345678")
        .await
        .outcome
        .unwrap_err();
    assert_eq!(err, ResolveError::NoRoute("+4917612345678".into()));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn second_enum_suffix_is_asked_when_the_first_has_nothing_rfc6116() {
    let c = ResolverConfig {
        enum_suffixes: vec!["e164.arpa".into(), "e164.carrier.example".into()],
        ..config()
    };
    let s = with_mmse_b(Scripted::default()).naptr(
        "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.carrier.example",
        &[(10, 10, "u", "E2U+sip", "!^.*$!sip:bob@b.example!")],
    );
    assert_eq!(
        resolve(s, c, "tel:+4917612345678").await.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:25", "192.0.2.2:25"]))
    );
}

#[tokio::test]
async fn enum_servfail_without_range_is_transient() {
    let s = Scripted::default().fail(
        BOB,
        RecordKind::Naptr,
        LookupError::ServerFailure("SERVFAIL".into()),
    );
    let err = resolve(s, config(), "tel:+4917612345678")
        .await
        .outcome
        .unwrap_err();
    assert!(err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn a_lookup_past_its_deadline_is_a_transient_timeout() {
    let s = Scripted {
        hang: vec![(BOB.to_owned(), RecordKind::Naptr)],
        ..Scripted::default()
    };
    let c = ResolverConfig {
        lookup_timeout_ms: 200,
        ..config()
    };
    let r = resolve(s, c, "tel:+4917612345678").await;
    assert_eq!(
        r.outcome,
        Err(ResolveError::Dns {
            name: BOB.into(),
            kind: RecordKind::Naptr,
            error: LookupError::Timeout
        })
    );
    assert!(r.outcome.unwrap_err().is_transient());
}

#[tokio::test]
async fn peering_table_exact_then_longest_suffix_design_3_3() {
    let c = ResolverConfig {
        peers: vec![
            PeerConfig {
                domain: "example".into(),
                mmse_domain: Some("mms.wide.example".into()),
                hosts: vec!["192.0.2.200:2525".into()],
            },
            PeerConfig {
                domain: "b.example".into(),
                mmse_domain: None,
                hosts: vec!["192.0.2.100:2525".into(), "[2001:db8::1]:25".into()],
            },
        ],
        ..config()
    };
    let r = resolve(Scripted::default(), c.clone(), "sip:bob@ims.b.example").await;
    assert_eq!(
        r.outcome,
        Ok(peer(
            "mms.ims.b.example",
            &["192.0.2.100:2525", "[2001:db8::1]:25"]
        ))
    );
    let r = resolve(Scripted::default(), c.clone(), "sip:x@c.example").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.wide.example", &["192.0.2.200:2525"]))
    );
    // "xb.example" is not under "b.example"
    let r = resolve(Scripted::default(), c, "sip:x@xb.example").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.wide.example", &["192.0.2.200:2525"]))
    );
}

#[tokio::test]
async fn peer_host_names_are_resolved_and_bad_ones_rejected() {
    let c = ResolverConfig {
        peers: vec![PeerConfig {
            domain: "b.example".into(),
            mmse_domain: None,
            hosts: vec!["relay.b.example:2525".into()],
        }],
        ..config()
    };
    let s = Scripted::default().a("relay.b.example", &[[192, 0, 2, 77]], 60);
    assert_eq!(
        resolve(s, c.clone(), "sip:bob@b.example").await.outcome,
        Ok(peer("mms.b.example", &["192.0.2.77:2525"]))
    );
    let mut bad = c;
    bad.peers[0].hosts = vec!["relay.b.example".into()];
    assert_eq!(
        resolve(Scripted::default(), bad, "sip:bob@b.example")
            .await
            .outcome,
        Err(ResolveError::BadPeerHost("relay.b.example".into()))
    );
}

#[tokio::test]
async fn non_peer_address_kinds_are_not_routable() {
    for a in [
        "192.0.2.1/TYPE=IPv4",
        "4444/TYPE=PLMN",
        "bob@elsewhere.example",
        "x/TYPE=FOO",
    ] {
        let err = resolve(Scripted::default(), config(), a)
            .await
            .outcome
            .unwrap_err();
        assert!(matches!(err, ResolveError::NotRoutable(_)), "{a}: {err}");
    }
}

#[tokio::test]
async fn smtp_port_override_applies_to_mx_hosts() {
    let c = ResolverConfig {
        smtp_port: 2525,
        ..config()
    };
    let r = resolve(with_mmse_b(Scripted::default()), c, "sip:bob@b.example").await;
    assert_eq!(
        r.outcome,
        Ok(peer("mms.b.example", &["192.0.2.1:2525", "192.0.2.2:2525"]))
    );
}

#[test]
fn steps_serialize_as_tagged_json() {
    let step = Step::Query {
        name: "mms.b.example".into(),
        record_type: RecordKind::Mx,
        server: "127.0.0.1:53".into(),
        answers: vec!["10 mx.b.example".into()],
        ttl: Some(300),
        error: None,
    };
    let json = serde_json::to_value(&step).unwrap();
    assert_eq!(json["step"], "query");
    assert_eq!(json["record_type"], "MX");
    assert_eq!(
        serde_json::to_value(peer("m.example", &["192.0.2.1:25"])).unwrap()["kind"],
        "peer"
    );
}

// ---- cache (DESIGN.md §3.5) ----

fn cache_config() -> CacheConfig {
    CacheConfig {
        max_entries: 100,
        min_ttl_secs: 5,
        max_ttl_secs: 600,
        max_negative_ttl_secs: 120,
    }
}

#[tokio::test(start_paused = true)]
async fn cache_keeps_a_positive_answer_for_its_ttl() {
    let s = Scripted::default().a("h.example", &[[192, 0, 2, 1]], 30);
    let cache = CachingLookup::new(s, cache_config());
    assert!(!cache.lookup("h.example", RecordKind::A).await.cached);
    tokio::time::advance(Duration::from_secs(29)).await;
    let hit = cache.lookup("H.Example.", RecordKind::A).await;
    assert!(hit.cached && hit.result.is_ok());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(!cache.lookup("h.example", RecordKind::A).await.cached);
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 2);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn cache_clamps_ttl_to_configured_bounds() {
    let s = Scripted::default()
        .a("zero.example", &[[192, 0, 2, 1]], 0)
        .a("long.example", &[[192, 0, 2, 2]], 100_000);
    let cache = CachingLookup::new(s, cache_config());
    cache.lookup("zero.example", RecordKind::A).await;
    cache.lookup("long.example", RecordKind::A).await;
    tokio::time::advance(Duration::from_secs(4)).await;
    assert!(
        cache.lookup("zero.example", RecordKind::A).await.cached,
        "min TTL 5 s"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(!cache.lookup("zero.example", RecordKind::A).await.cached);
    tokio::time::advance(Duration::from_secs(600)).await;
    assert!(
        !cache.lookup("long.example", RecordKind::A).await.cached,
        "max TTL 600 s"
    );
}

#[tokio::test(start_paused = true)]
async fn cache_keeps_nxdomain_for_the_soa_minimum_rfc2308_5() {
    let s = Scripted::default().fail(
        "gone.example",
        RecordKind::A,
        LookupError::NxDomain {
            negative_ttl: Some(20),
        },
    );
    let cache = CachingLookup::new(s, cache_config());
    cache.lookup("gone.example", RecordKind::A).await;
    tokio::time::advance(Duration::from_secs(19)).await;
    let hit = cache.lookup("gone.example", RecordKind::A).await;
    assert!(hit.cached);
    assert_eq!(
        hit.result,
        Err(LookupError::NxDomain {
            negative_ttl: Some(20)
        })
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(!cache.lookup("gone.example", RecordKind::A).await.cached);
}

#[tokio::test(start_paused = true)]
async fn cache_does_not_keep_negative_answers_without_soa_or_transient_failures() {
    let s = Scripted::default()
        .fail(
            "nosoa.example",
            RecordKind::A,
            LookupError::NoData { negative_ttl: None },
        )
        .fail(
            "broken.example",
            RecordKind::A,
            LookupError::ServerFailure("SERVFAIL".into()),
        );
    let cache = CachingLookup::new(s, cache_config());
    for _ in 0..2 {
        assert!(!cache.lookup("nosoa.example", RecordKind::A).await.cached);
        assert!(!cache.lookup("broken.example", RecordKind::A).await.cached);
    }
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 4);
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_of_one_name_share_one_query() {
    let s = Scripted {
        delay: Some(Duration::from_millis(50)),
        ..Scripted::default()
    }
    .a("h.example", &[[192, 0, 2, 1]], 60);
    let cache = Arc::new(CachingLookup::new(s, cache_config()));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.lookup("h.example", RecordKind::A).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().result.is_ok());
    }
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.coalesced + stats.hits, 199);
}

#[tokio::test(start_paused = true)]
async fn cache_size_is_bounded() {
    let s = Scripted::default();
    for i in 0..50 {
        s.set(
            &format!("h{i}.example"),
            RecordKind::A,
            Ok(Answer {
                records: Records::Ip(vec![]),
                ttl: 60,
            }),
        );
    }
    let cache = CachingLookup::new(
        s,
        CacheConfig {
            max_entries: 10,
            ..cache_config()
        },
    );
    for i in 0..50 {
        cache.lookup(&format!("h{i}.example"), RecordKind::A).await;
        assert!(cache.stats().entries <= 10);
    }
    assert!(
        cache.lookup("h49.example", RecordKind::A).await.cached,
        "the newest entry stays"
    );
}
