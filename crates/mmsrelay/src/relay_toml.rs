//! The configuration file (DESIGN.md §9) of one relay of the loopback two-relay network that
//! `mmsrelay demo`, `mmsrelay bench` and the CLI integration tests run: relay `a` (a.example) or
//! `b` (b.example) with its MM1 and MM4 listeners on 127.0.0.1, its DNS zone, SMSC and (relay B)
//! HSS. One template; what the three uses differ in (queue tuning, MM4 connect timeout, caches,
//! admin listener, MM4 listen address) are the options of [`RelayToml`].
//!
//! The document is built as a TOML table, and the queue sections are serialized from the relay's
//! own [`QueueTuning`], so the text is always well-formed; the tests below parse every option set
//! with [`relay::config::RelayConfig::from_toml`] (which rejects unknown keys), so a key renamed
//! in the relay's configuration fails here first. Shared into tests/cli through `#[path]`.
#![allow(dead_code)]

use std::fmt::Display;
use std::net::SocketAddr;

use relay::routing::QueueTuning;
use toml::{Table, Value};

/// The configuration of one loopback relay, with the demo's settings as defaults.
#[derive(Clone, Debug)]
pub struct RelayToml {
    name: String,
    number_range: String,
    store: String,
    mm1: u16,
    mm4_listen: SocketAddr,
    peer_mm4: u16,
    dns: SocketAddr,
    smsc: SocketAddr,
    hss: Option<SocketAddr>,
    queue: QueueTuning,
    mm4_connect_timeout_ms: u64,
    caches: bool,
    admin: Option<SocketAddr>,
}

/// 127.0.0.1:`port`.
fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl RelayToml {
    /// Relay `name` (`a`: MMSE domain `mms.a.example`, SIP domain `a.example`) serving the E.164
    /// prefix `number_range`, storing at `store` (a directory, `sqlite:` or `postgres://`).
    /// Defaults: every port 0, routing, MM4 and notifier queues polling every 50 ms and retrying
    /// from 300 ms up to 2 s, MM4 connect timeout 2 s, DNS and Sh caches as the relay's defaults,
    /// no HSS, no admin listener.
    pub fn new(name: &str, number_range: &str, store: impl Display) -> Self {
        Self {
            name: name.to_owned(),
            number_range: number_range.to_owned(),
            store: store.to_string(),
            mm1: 0,
            mm4_listen: loopback(0),
            peer_mm4: 0,
            dns: loopback(0),
            smsc: loopback(0),
            hss: None,
            queue: QueueTuning {
                poll_interval_ms: 50,
                retry_base_ms: 300,
                retry_cap_ms: 2000,
                ..QueueTuning::default()
            },
            mm4_connect_timeout_ms: 2000,
            caches: true,
            admin: None,
        }
    }

    /// MM1 on 127.0.0.1:`mm1` (also its public URL), MM4 on 127.0.0.1:`mm4`, and the peer relay's
    /// MM4 on port `peer_mm4` (`[mm4] smtp_port`).
    pub fn ports(mut self, mm1: u16, mm4: u16, peer_mm4: u16) -> Self {
        self.mm1 = mm1;
        self.mm4_listen = loopback(mm4);
        self.peer_mm4 = peer_mm4;
        self
    }

    /// MM4 listens on `addr` instead (e.g. 127.0.0.2 for a second node).
    pub fn mm4_listen(mut self, addr: SocketAddr) -> Self {
        self.mm4_listen = addr;
        self
    }

    /// The DNS server (`[resolver] nameservers`), the SMSC and the HSS (`None`: no `[hss]`).
    pub fn peers(mut self, dns: SocketAddr, smsc: SocketAddr, hss: Option<SocketAddr>) -> Self {
        self.dns = dns;
        self.smsc = smsc;
        self.hss = hss;
        self
    }

    /// The worker loop of routing, MM4 out and the notifier.
    pub fn queue(mut self, queue: QueueTuning) -> Self {
        self.queue = queue;
        self
    }

    /// `[mm4] connect_timeout_ms`.
    pub fn mm4_connect_timeout_ms(mut self, ms: u64) -> Self {
        self.mm4_connect_timeout_ms = ms;
        self
    }

    /// `false`: (almost) no DNS and Sh caching, so that a peer outage is felt at once.
    pub fn caches(mut self, on: bool) -> Self {
        self.caches = on;
        self
    }

    /// The admin listener on `listen`; `None`: `[admin] enabled = false`.
    pub fn admin(mut self, listen: Option<SocketAddr>) -> Self {
        self.admin = listen;
        self
    }

    /// The TOML document.
    pub fn to_toml(&self) -> String {
        let name = &self.name;
        let queue = Value::try_from(&self.queue).expect("QueueTuning serializes as a table");
        let mut resolver = table([
            ("nameservers", Value::from(vec![self.dns.to_string()])),
            ("enum_suffixes", Value::from(vec!["e164.arpa"])),
            ("lookup_timeout_ms", int(2000)),
        ]);
        if !self.caches {
            resolver.insert(
                "cache".into(),
                Value::Table(table([
                    ("min_ttl_secs", int(0)),
                    ("max_ttl_secs", int(0)),
                    ("max_negative_ttl_secs", int(0)),
                ])),
            );
        }
        let mut doc = table([
            (
                "relay",
                Value::Table(table([
                    ("mmse_domain", format!("mms.{name}.example").into()),
                    ("sip_domains", vec![format!("{name}.example")].into()),
                    ("number_ranges", vec![self.number_range.clone()].into()),
                    ("store", self.store.clone().into()),
                ])),
            ),
            (
                "mm1",
                Value::Table(table([
                    ("listen", loopback(self.mm1).to_string().into()),
                    (
                        "public_url",
                        format!("http://127.0.0.1:{}", self.mm1).into(),
                    ),
                ])),
            ),
            ("resolver", Value::Table(resolver)),
            ("routing", Value::Table(table([("queue", queue.clone())]))),
            (
                "mm4",
                Value::Table(table([
                    ("listen", self.mm4_listen.to_string().into()),
                    ("smtp_port", int(self.peer_mm4.into())),
                    ("connect_timeout_ms", int(self.mm4_connect_timeout_ms)),
                    ("queue", queue.clone()),
                ])),
            ),
            ("notifier", Value::Table(table([("queue", queue)]))),
            (
                "smsc",
                Value::Table(table([
                    ("host", self.smsc.ip().to_string().into()),
                    ("port", int(self.smsc.port().into())),
                    ("system_id", format!("relay-{name}").into()),
                    ("response_timeout_ms", int(3000)),
                ])),
            ),
            (
                "admin",
                Value::Table(match self.admin {
                    Some(listen) => table([("listen", listen.to_string().into())]),
                    None => table([("enabled", false.into())]),
                }),
            ),
        ]);
        if let Some(hss) = self.hss {
            let mut section = table([
                ("peers", vec![hss.to_string()].into()),
                ("origin_host", format!("mms.{name}.example").into()),
                ("origin_realm", format!("{name}.example").into()),
                ("destination_realm", "example".into()),
                ("request_timeout", "2s".into()),
            ]);
            if !self.caches {
                section.insert("cache_ttl".into(), "1ms".into());
                section.insert("negative_cache_ttl".into(), "1ms".into());
            }
            doc.insert("hss".into(), Value::Table(section));
        }
        doc.to_string()
    }
}

fn table<const N: usize>(entries: [(&str, Value); N]) -> Table {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

fn int(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use relay::config::RelayConfig;

    use super::*;

    fn parse(t: &RelayToml) -> RelayConfig {
        let text = t.to_toml();
        RelayConfig::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn relay_a() -> RelayToml {
        RelayToml::new("a", "+4477009", "/tmp/relay-a").ports(8081, 2526, 2527)
    }

    #[test]
    fn the_demo_defaults_parse_with_the_relays_loader() {
        let c = parse(&relay_a().peers(loopback(53), loopback(2775), None));
        assert_eq!(c.relay.mmse_domain, "mms.a.example");
        assert_eq!(c.relay.sip_domains, ["a.example"]);
        assert_eq!(c.relay.number_ranges, ["+4477009"]);
        assert_eq!(c.relay.store, "/tmp/relay-a");
        assert_eq!(c.mm1.listen, loopback(8081));
        assert_eq!(c.mm1.public_url, "http://127.0.0.1:8081");
        assert_eq!(c.mm4.listen, loopback(2526));
        assert_eq!(c.mm4.smtp_port, Some(2527));
        assert_eq!(c.mm4.connect_timeout_ms, 2000);
        assert_eq!(c.resolver.nameservers, [loopback(53)]);
        assert_eq!(c.resolver.enum_suffixes, ["e164.arpa"]);
        assert_eq!(c.resolver.lookup_timeout_ms, 2000);
        assert_eq!(c.resolver.cache, RelayConfig::default().resolver.cache);
        let queue = QueueTuning {
            poll_interval_ms: 50,
            retry_base_ms: 300,
            retry_cap_ms: 2000,
            ..QueueTuning::default()
        };
        assert_eq!(
            [&c.routing.queue, &c.mm4.queue, &c.notifier.queue],
            [&queue; 3]
        );
        let smsc = c.smsc.expect("[smsc]");
        assert_eq!((smsc.host.as_str(), smsc.port), ("127.0.0.1", 2775));
        assert_eq!(smsc.system_id, "relay-a");
        assert_eq!(smsc.response_timeout_ms, 3000);
        assert!(!c.admin.enabled);
        assert!(c.hss.is_none());
    }

    #[test]
    fn every_option_parses_with_the_relays_loader() {
        let queue = QueueTuning {
            poll_interval_ms: 50,
            retry_base_ms: 200,
            retry_cap_ms: 1000,
            lease_ms: 1500,
            ..QueueTuning::default()
        };
        let hss = loopback(3868);
        let second_node: SocketAddr = "127.0.0.2:2526".parse().unwrap();
        let store = "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3De2e_1";
        for caches in [true, false] {
            let b = RelayToml::new("b", "+49176", store)
                .ports(8082, 2527, 2526)
                .mm4_listen(second_node)
                .peers(loopback(5353), loopback(2776), Some(hss))
                .queue(queue.clone())
                .mm4_connect_timeout_ms(1000)
                .caches(caches)
                .admin(Some(loopback(0)));
            let c = parse(&b);
            assert_eq!(c.relay.mmse_domain, "mms.b.example");
            assert_eq!(c.relay.store, store);
            assert_eq!(c.mm4.listen, second_node);
            assert_eq!(c.mm4.smtp_port, Some(2526));
            assert_eq!(c.mm4.connect_timeout_ms, 1000);
            assert_eq!(
                [&c.routing.queue, &c.mm4.queue, &c.notifier.queue],
                [&queue; 3]
            );
            assert!(c.admin.enabled);
            assert_eq!(c.admin.listen, loopback(0));
            let sh = c.hss.expect("[hss]");
            assert_eq!(sh.peers, [hss.to_string()]);
            assert_eq!(sh.origin_host, "mms.b.example");
            assert_eq!(sh.origin_realm, "b.example");
            assert_eq!(sh.destination_realm, "example");
            assert_eq!(sh.request_timeout, Duration::from_secs(2));
            let cache = &c.resolver.cache;
            let default_sh = diameter_defaults().hss.expect("[hss]");
            if caches {
                assert_eq!(*cache, RelayConfig::default().resolver.cache);
                assert_eq!(
                    (sh.cache_ttl, sh.negative_cache_ttl),
                    (default_sh.cache_ttl, default_sh.negative_cache_ttl)
                );
            } else {
                assert_eq!(
                    (
                        cache.min_ttl_secs,
                        cache.max_ttl_secs,
                        cache.max_negative_ttl_secs
                    ),
                    (0, 0, 0)
                );
                assert_eq!(sh.cache_ttl, Duration::from_millis(1));
                assert_eq!(sh.negative_cache_ttl, Duration::from_millis(1));
            }
        }
    }

    /// The Sh client's defaults: an `[hss]` with only its peers set.
    fn diameter_defaults() -> relay::config::RelayConfig {
        RelayConfig::from_toml("[hss]\npeers = [\"127.0.0.1:3868\"]").unwrap()
    }
}
