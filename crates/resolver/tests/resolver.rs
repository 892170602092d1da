//! Originating resolution against real DNS servers on 127.0.0.1 (DESIGN.md §3): the embedded
//! hickory-server zone of `test-peers` and dnsmasq. No mocks at this layer.

use mms_address::Address;
use mms_resolver::{
    CacheConfig, CachingLookup, DnsLookup, HickoryLookup, LookupError, RecordKind, ResolveError,
    ResolverConfig, Route, Step, dns_resolver,
};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use test_peers::dns::{DnsServer, DnsZone};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// The zone of the scenarios: ENUM under e164.arpa, MMSE domains under example and gprs.
fn zone() -> DnsZone {
    DnsZone::new(["e164.arpa", "example", "gprs"])
        .negative_ttl(30)
        // E2U+mms:mailto (RFC 4355) to a PLMN MMSE domain
        .enum_naptr(
            "+4917612345678",
            "e164.arpa",
            10,
            10,
            "E2U+mms:mailto",
            "!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs!",
        )
        // E2U+sip (RFC 3764)
        .enum_naptr(
            "+4917611111111",
            "e164.arpa",
            10,
            10,
            "E2U+sip",
            "!^\\+(.*)$!sip:\\1@b.example!",
        )
        // both: the MMS service wins although the SIP one has the lower order
        .enum_naptr(
            "+4917622222222",
            "e164.arpa",
            10,
            10,
            "E2U+sip",
            "!^.*$!sip:bob@b.example!",
        )
        .enum_naptr(
            "+4917622222222",
            "e164.arpa",
            20,
            10,
            "E2U+mms:mailto",
            "!^(.*)$!mailto:\\1/TYPE=PLMN@mms.c.example!",
        )
        // a ported number: tel -> tel -> mailto
        .enum_naptr(
            "+4917633333333",
            "e164.arpa",
            10,
            10,
            "E2U+mms:tel",
            "!^.*$!tel:+4915144444444!",
        )
        .enum_naptr(
            "+4915144444444",
            "e164.arpa",
            10,
            10,
            "E2U+mms:tel",
            "!^.*$!tel:+4915155555555!",
        )
        .enum_naptr(
            "+4915155555555",
            "e164.arpa",
            10,
            10,
            "E2U+mms:mailto",
            "!^.*$!mailto:x@mms.c.example!",
        )
        // a loop
        .enum_naptr(
            "+4917677777777",
            "e164.arpa",
            10,
            10,
            "E2U+mms:tel",
            "!^.*$!tel:+4917688888888!",
        )
        .enum_naptr(
            "+4917688888888",
            "e164.arpa",
            10,
            10,
            "E2U+mms:tel",
            "!^.*$!tel:+4917677777777!",
        )
        // MMSE domains
        .ttl(120)
        .mx("mms.mnc002.mcc262.gprs", 10, "mx1.mnc002.mcc262.gprs")
        .a("mx1.mnc002.mcc262.gprs", Ipv4Addr::new(127, 0, 0, 2))
        .mx("mms.b.example", 20, "mx2.b.example")
        .mx("mms.b.example", 10, "mx1.b.example")
        .a("mx1.b.example", Ipv4Addr::new(127, 0, 0, 3))
        .aaaa("mx1.b.example", Ipv6Addr::LOCALHOST)
        .a("mx2.b.example", Ipv4Addr::new(127, 0, 0, 4))
        .mx("mms.c.example", 10, "mx.c.example")
        .a("mx.c.example", Ipv4Addr::new(127, 0, 0, 5))
        // no MX: implicit MX from A (RFC 5321 §5.1)
        .a("mms.d.example", Ipv4Addr::new(127, 0, 0, 6))
}

fn config(server: &DnsServer) -> ResolverConfig {
    ResolverConfig {
        nameservers: vec![server.addr()],
        enum_suffixes: vec!["e164.arpa".into()],
        own_sip_domains: vec!["a.example".into()],
        lookup_timeout_ms: 2000,
        ..ResolverConfig::default()
    }
}

async fn route(config: ResolverConfig, addr: &str) -> (Result<Route, ResolveError>, Vec<Step>) {
    let resolver = dns_resolver(config).unwrap();
    let r = timeout(LIMIT, resolver.resolve(&Address::parse(addr).unwrap()))
        .await
        .unwrap();
    (r.outcome, r.steps)
}

fn peer(mmse: &str, hosts: &[&str]) -> Route {
    Route::Peer {
        mmse_domain: mmse.into(),
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
    }
}

#[tokio::test]
async fn enum_mms_mailto_to_mmse_domain_mx_rfc4355() {
    let server = zone().serve().await.unwrap();
    let (outcome, steps) = route(config(&server), "tel:+49-176-1234-5678").await;
    assert_eq!(
        outcome,
        Ok(peer("mms.mnc002.mcc262.gprs", &["127.0.0.2:25"]))
    );
    let Step::Query {
        name,
        answers,
        ttl,
        server: asked,
        ..
    } = &steps[0]
    else {
        panic!("{steps:?}")
    };
    assert_eq!(name, "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa");
    assert!(answers[0].contains("E2U+mms:mailto"), "{answers:?}");
    assert_eq!(
        (*ttl, asked.as_str()),
        (Some(300), server.addr().to_string().as_str())
    );
}

#[tokio::test]
async fn enum_sip_to_sip_domain_pattern_and_mx_order_rfc3764() {
    let server = zone().serve().await.unwrap();
    let (outcome, _) = route(config(&server), "tel:+4917611111111").await;
    assert_eq!(
        outcome,
        Ok(peer(
            "mms.b.example",
            &["127.0.0.3:25", "[::1]:25", "127.0.0.4:25"]
        ))
    );
}

#[tokio::test]
async fn sip_uri_routes_by_pattern_and_mx_design_3_3() {
    let server = zone().serve().await.unwrap();
    let mut c = config(&server);
    c.smtp_port = 2525;
    let (outcome, _) = route(c, "sip:bob@B.example").await;
    assert_eq!(
        outcome,
        Ok(peer(
            "mms.b.example",
            &["127.0.0.3:2525", "[::1]:2525", "127.0.0.4:2525"]
        ))
    );
}

#[tokio::test]
async fn number_with_both_services_prefers_mms() {
    let server = zone().serve().await.unwrap();
    assert_eq!(
        route(config(&server), "tel:+4917622222222").await.0,
        Ok(peer("mms.c.example", &["127.0.0.5:25"]))
    );
}

#[tokio::test]
async fn ported_number_chain_is_followed() {
    let server = zone().serve().await.unwrap();
    let (outcome, steps) = route(config(&server), "tel:+4917633333333").await;
    assert_eq!(outcome, Ok(peer("mms.c.example", &["127.0.0.5:25"])));
    let rewrites = steps
        .iter()
        .filter(|s| matches!(s, Step::Rule { rule, .. } if rule == "enum-rewrite"))
        .count();
    assert_eq!(rewrites, 2);
}

#[tokio::test]
async fn enum_loop_is_a_permanent_failure() {
    let server = zone().serve().await.unwrap();
    let err = route(config(&server), "tel:+4917677777777")
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, ResolveError::RewriteLoop(_)), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn domain_without_mx_falls_back_to_a_rfc5321_5_1() {
    let server = zone().serve().await.unwrap();
    assert_eq!(
        route(config(&server), "sip:dave@d.example").await.0,
        Ok(peer("mms.d.example", &["127.0.0.6:25"]))
    );
}

#[tokio::test]
async fn nxdomain_is_permanent_and_cached_by_soa_minimum_rfc2308() {
    let server = zone().serve().await.unwrap();
    let resolver = dns_resolver(config(&server)).unwrap();
    let addr = Address::parse("sip:eve@nowhere.example").unwrap();
    let first = timeout(LIMIT, resolver.resolve(&addr)).await.unwrap();
    assert_eq!(
        first.outcome,
        Err(ResolveError::DomainNotFound("mms.nowhere.example".into()))
    );
    let Step::Query { ttl, .. } = first.steps.last().unwrap() else {
        panic!()
    };
    assert_eq!(*ttl, Some(30), "negative TTL from the SOA");
    let asked = server.queries_received();
    let second = timeout(LIMIT, resolver.resolve(&addr)).await.unwrap();
    assert_eq!(second.outcome, first.outcome);
    assert_eq!(
        server.queries_received(),
        asked,
        "the NXDOMAIN came from the cache"
    );
    assert!(matches!(second.steps.last(), Some(Step::Query { server, .. }) if server == "cache"));
}

#[tokio::test]
async fn number_without_enum_record_and_range_is_unresolvable() {
    let server = zone().serve().await.unwrap();
    let err = route(config(&server), "tel:+4930123456")
        .await
        .0
        .unwrap_err();
    assert_eq!(err, ResolveError::NoRoute("+4930123456".into()));
}

#[tokio::test]
async fn silent_server_gives_transient_timeout() {
    let server = zone().never_answer().serve().await.unwrap();
    let mut c = config(&server);
    c.lookup_timeout_ms = 300;
    let (outcome, _) = route(c, "tel:+4917612345678").await;
    let err = outcome.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(server.queries_received() >= 1);
}

#[tokio::test]
async fn network_lookup_maps_nodata_and_nxdomain_rfc2308_2() {
    let server = zone().serve().await.unwrap();
    let lookup = HickoryLookup::new(&config(&server)).unwrap();
    let nodata = timeout(LIMIT, lookup.lookup("mms.d.example", RecordKind::Mx))
        .await
        .unwrap();
    assert_eq!(
        nodata.result,
        Err(LookupError::NoData {
            negative_ttl: Some(30)
        })
    );
    let nx = timeout(LIMIT, lookup.lookup("nothing.example", RecordKind::A))
        .await
        .unwrap();
    assert_eq!(
        nx.result,
        Err(LookupError::NxDomain {
            negative_ttl: Some(30)
        })
    );
    let refused = timeout(LIMIT, lookup.lookup("outside.test", RecordKind::A))
        .await
        .unwrap();
    assert!(refused.result.unwrap_err().is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_lookups_of_one_name_send_one_query_design_11() {
    let server = zone().serve().await.unwrap();
    let cache = Arc::new(CachingLookup::new(
        HickoryLookup::new(&config(&server)).unwrap(),
        CacheConfig::default(),
    ));
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.lookup("mms.b.example", RecordKind::Mx).await })
        })
        .collect();
    for task in tasks {
        let lookup = timeout(LIMIT, task).await.unwrap().unwrap();
        assert!(lookup.result.is_ok());
    }
    assert_eq!(
        server.queries_for("mms.b.example", hickory_proto::rr::RecordType::MX),
        1
    );
    assert_eq!(server.queries_received(), 1);
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits + stats.coalesced), (1, 9_999));
}

// ---- dnsmasq (PEERS.md) ----

/// dnsmasq on a free port, killed on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // a port free for both UDP and TCP right now
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_dnsmasq(extra: &[&str]) -> Option<Dnsmasq> {
    let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(
            std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_none(),
            "dnsmasq is required (MMSRELAY_REQUIRE_PEERS) but missing"
        );
        eprintln!("notice: dnsmasq not installed; skipping the dnsmasq test");
        return None;
    };
    let port = free_port();
    let child = Command::new(binary)
        .args([
            "-k",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
        ])
        .args([
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            "--user=root",
            "--pid-file=",
        ])
        .args(["--local=/e164.arpa/", "--local=/example/", "--local-ttl=60"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dnsmasq");
    Some(Dnsmasq {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    })
}

#[tokio::test]
async fn dnsmasq_serves_enum_and_mx_for_a_peer() {
    let Some(dnsmasq) = start_dnsmasq(&[
        "--naptr-record=8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa,10,10,u,E2U+mms:mailto,!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.b.example!",
        "--mx-host=mms.b.example,mx1.mms.b.example,10",
        "--host-record=mx1.mms.b.example,127.0.0.7",
    ]) else {
        return;
    };
    let c = ResolverConfig {
        nameservers: vec![dnsmasq.addr],
        lookup_timeout_ms: 1000,
        ..ResolverConfig::default()
    };
    // dnsmasq needs a moment to bind: retry transient failures for a bounded time
    let resolver = dns_resolver(c).unwrap();
    let addr = Address::parse("tel:+4917612345678").unwrap();
    let mut outcome = None;
    for _ in 0..50 {
        let r = resolver.resolve(&addr).await;
        if r.outcome.as_ref().is_err_and(ResolveError::is_transient) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        outcome = Some(r.outcome);
        break;
    }
    assert_eq!(outcome, Some(Ok(peer("mms.b.example", &["127.0.0.7:25"]))));
    let err = resolver
        .resolve(&Address::parse("sip:x@nowhere.example").unwrap())
        .await
        .outcome
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::DomainNotFound("mms.nowhere.example".into())
    );
}
