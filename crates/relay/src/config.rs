//! The relay's TOML configuration (DESIGN.md §9): one struct per section, every key defaulted so an
//! empty file serves (MM1 on 127.0.0.1:8080, SQLite in `./data`), unknown keys rejected with their
//! name (`#[serde(deny_unknown_fields)]`).
//!
//! ```toml
//! [relay]
//! mmse_domain = "mms.a.example"
//! sip_domains = ["a.example"]
//! number_ranges = ["+4417"]
//! default_country_code = "44"
//! store = "./data"                      # or "sqlite:/path/file.db" or "postgres://…"
//! store_pool = 16                       # PostgreSQL: connections of this node
//! store_acquire_timeout_ms = 5000       # PostgreSQL: wait for a connection, then transient failure
//!
//! [mm1]
//! listen = "127.0.0.1:8080"
//! public_url = "http://mms.a.example:8080"
//! max_message_size = 1048576
//! [mm1.identity]
//! auth_proxy = true
//! trusted_proxies = ["10.0.0.0/24"]
//! wap_gateway = true
//! wap_gateways = ["10.0.1.0/24"]
//! radius = true
//!
//! [radius]
//! listen = "127.0.0.1:1813"
//! clients = [{ cidr = "10.0.2.0/24", secret = "s3cret" }]
//!
//! [resolver]                            # mms_resolver::ResolverConfig
//! [hss]                                 # diameter::sh_client::ShConfig; absent: no HSS
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use diameter::sh_client::ShConfig;
use ipnet::IpNet;
use mms_address::ParseOptions;
use mms_resolver::ResolverConfig;
use serde::{Deserialize, Deserializer};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// `[relay]`: who this relay is and where it stores.
    pub relay: RelaySection,
    /// `[mm1]`: the phone-facing HTTP listener.
    pub mm1: Mm1Config,
    /// `[radius]`: the RADIUS accounting listener (RFC 2866) feeding identity bindings.
    pub radius: RadiusConfig,
    /// `[resolver]`: originating resolution (DESIGN.md §3).
    pub resolver: ResolverConfig,
    /// `[hss]`: the HSS over Diameter Sh (DESIGN.md §4, §6); absent means no HSS.
    pub hss: Option<ShConfig>,
    /// `[routing]`: the worker resolving each recipient to local delivery or a peer (DESIGN.md §3).
    pub routing: crate::routing::RoutingConfig,
    /// `[mm4]`: the MM4 (SMTP) listener and sender (TS 23.140 §8.4).
    pub mm4: crate::mm4::Mm4Config,
    /// `[notifier]`: how WAP pushes are built and sent (DESIGN.md §5).
    pub notifier: crate::notifier::NotifierConfig,
    /// `[smsc]`: the SMSC for WAP Push over SMS (SMPP 3.4); absent: pushes wait in the queue.
    pub smsc: Option<crate::notifier::SmscConfig>,
    /// `[admin]`: the `/health` and `/metrics` listener.
    pub admin: crate::admin::AdminConfig,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Not TOML, a wrong type, or an unknown key (the message names the key).
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// Well-formed but unusable (the message names the key).
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The offending key, e.g. `mm1.public_url`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RelayConfig {
    /// Parses and checks a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Checks what serde cannot: values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| ConfigError::Invalid {
            key,
            reason: reason.to_owned(),
        };
        if self.relay.mmse_domain.trim().is_empty() {
            return Err(invalid("relay.mmse_domain", "must not be empty"));
        }
        if self.relay.store_pool == 0 {
            return Err(invalid("relay.store_pool", "must be positive"));
        }
        if self.relay.store_acquire_timeout_ms == 0 {
            return Err(invalid(
                "relay.store_acquire_timeout_ms",
                "must be positive",
            ));
        }
        if let Some(cc) = &self.relay.default_country_code {
            let digits = cc.trim_start_matches('+');
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid(
                    "relay.default_country_code",
                    "must be 1 to 3 digits",
                ));
            }
        }
        if !(self.mm1.public_url.starts_with("http://")
            || self.mm1.public_url.starts_with("https://"))
        {
            return Err(invalid(
                "mm1.public_url",
                "must start with http:// or https://",
            ));
        }
        if self.mm1.max_message_size == 0 {
            return Err(invalid("mm1.max_message_size", "must be positive"));
        }
        if self.mm1.default_expiry_secs == 0
            || self.mm1.default_expiry_secs > self.mm1.max_expiry_secs
        {
            return Err(invalid(
                "mm1.default_expiry_secs",
                "must be positive and at most mm1.max_expiry_secs",
            ));
        }
        if let Err(reason) = self.mm1.limits.check() {
            return Err(invalid("mm1.limits", reason));
        }
        if let Err(reason) = self.admin.limits.check() {
            return Err(invalid("admin.limits", reason));
        }
        if self.radius.listen.is_some() && self.radius.clients.is_empty() {
            return Err(invalid(
                "radius.clients",
                "a RADIUS listener needs at least one client",
            ));
        }
        if self.radius.clients.iter().any(|c| c.secret.is_empty()) {
            return Err(invalid(
                "radius.clients",
                "every client needs a non-empty secret",
            ));
        }
        Ok(())
    }

    /// Address parsing options for this relay's network (default country code for local numbers).
    pub fn parse_options(&self) -> ParseOptions {
        match &self.relay.default_country_code {
            Some(cc) => ParseOptions::with_country_code(cc),
            None => ParseOptions::default(),
        }
    }

    /// The resolver configuration with this relay's own SIP domains, MMSE domain and number
    /// ranges added, so the resolver sees the same "local" as the rest of the relay.
    pub fn resolver_config(&self) -> ResolverConfig {
        let mut r = self.resolver.clone();
        for d in &self.relay.sip_domains {
            if !r.own_sip_domains.iter().any(|x| x.eq_ignore_ascii_case(d)) {
                r.own_sip_domains.push(d.clone());
            }
        }
        if !r
            .own_mmse_domains
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&self.relay.mmse_domain))
        {
            r.own_mmse_domains.push(self.relay.mmse_domain.clone());
        }
        for n in &self.relay.number_ranges {
            if !r.own_number_ranges.contains(n) {
                r.own_number_ranges.push(n.clone());
            }
        }
        r
    }
}

/// `[relay]`: the relay's own names and its store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    /// This relay's MMSE domain (TS 23.140 §8.4: right-hand side of MM4 addresses, Message-IDs).
    pub mmse_domain: String,
    /// SIP domains whose users this relay serves (DESIGN.md §3.1).
    pub sip_domains: Vec<String>,
    /// E.164 prefixes of this relay's subscribers (`+4417` or `4417`).
    pub number_ranges: Vec<String>,
    /// Country code (digits) for local numbers without context (RFC 3966 §5.1.5).
    pub default_country_code: Option<String>,
    /// Where the store lives: a data directory (SQLite), `sqlite:FILE` or `postgres://…`.
    pub store: String,
    /// PostgreSQL: connections in this node's pool.
    pub store_pool: u32,
    /// PostgreSQL: longest wait in milliseconds for a pooled connection (while the database is
    /// down, a send is answered `Error-transient-failure` after this long).
    pub store_acquire_timeout_ms: u64,
}

impl RelaySection {
    /// The store's pool options from `store_pool` and `store_acquire_timeout_ms`.
    pub fn store_pool_options(&self) -> mms_store::PoolOptions {
        let mut pool = mms_store::PoolOptions::default();
        pool.max_connections = self.store_pool;
        pool.acquire_timeout = Duration::from_millis(self.store_acquire_timeout_ms);
        pool
    }
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            mmse_domain: "mms.localdomain".into(),
            sip_domains: Vec::new(),
            number_ranges: Vec::new(),
            default_country_code: None,
            store: "./data".into(),
            store_pool: mms_store::PoolOptions::default().max_connections,
            store_acquire_timeout_ms: 5_000,
        }
    }
}

/// `[mm1]`: the HTTP listener phones (or their WAP gateway / proxy) talk to (MMS ENC §6, DESIGN.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mm1Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Base URL phones reach this listener at; retrieval URLs (`X-Mms-Content-Location`) start with it.
    pub public_url: String,
    /// Largest m-send-req accepted, in octets (larger: `Error-permanent-content-not-accepted`).
    pub max_message_size: u64,
    /// Most parts in an m-send-req (more: `Error-permanent-content-not-accepted`).
    pub max_parts: usize,
    /// Most To + Cc + Bcc addresses in an m-send-req (more: `Error-permanent-failure`).
    pub max_recipients: usize,
    /// Expiry given to an MM whose sender set none (MMS ENC §7.3.20), in seconds.
    pub default_expiry_secs: u64,
    /// Longest expiry honoured, in seconds; a later one is cut to this.
    pub max_expiry_secs: u64,
    /// Where the sender's identity may come from on this listener (DESIGN.md §6).
    pub identity: IdentityConfig,
    /// `[mm1.limits]`: connections, timeouts and request-head limits of the listener.
    pub limits: crate::listener::HttpLimits,
}

impl Default for Mm1Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            max_message_size: 1024 * 1024,
            max_parts: 256,
            max_recipients: 100,
            default_expiry_secs: 7 * 24 * 3600,
            max_expiry_secs: 30 * 24 * 3600,
            identity: IdentityConfig::default(),
            limits: crate::listener::HttpLimits::default(),
        }
    }
}

impl Mm1Config {
    /// The default expiry.
    pub fn default_expiry(&self) -> Duration {
        Duration::from_secs(self.default_expiry_secs)
    }
}

/// Identity sources of one MM1 listener (DESIGN.md §6). Header values are believed only from the
/// networks listed here; from anywhere else they are ignored and logged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Believe `X-3GPP-Asserted-Identity` (TS 24.109) from `trusted_proxies`.
    pub auth_proxy: bool,
    /// Networks of the trusted authentication proxies. Default: loopback only.
    pub trusted_proxies: Vec<Cidr>,
    /// Believe MSISDN enrichment headers (`X-MSISDN`, `X-WAP-Network-Client-MSISDN`,
    /// `X-Nokia-MSISDN`) and `X-Forwarded-For` from `wap_gateways`.
    pub wap_gateway: bool,
    /// Networks of the WAP gateways.
    pub wap_gateways: Vec<Cidr>,
    /// Look the client's IP address up in the RADIUS accounting bindings (RFC 2866).
    pub radius: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            auth_proxy: true,
            trusted_proxies: vec![Cidr::loopback_v4(), Cidr::loopback_v6()],
            wap_gateway: false,
            wap_gateways: Vec::new(),
            radius: false,
        }
    }
}

impl IdentityConfig {
    /// The networks whose clients are many users behind one address: the trusted proxies when
    /// `auth_proxy` is on and the WAP gateways when `wap_gateway` is on. The MM1 listener does not
    /// apply `max_connections_per_ip` to them.
    pub fn shared_addresses(&self) -> Vec<Cidr> {
        let mut nets = Vec::new();
        if self.auth_proxy {
            nets.extend(&self.trusted_proxies);
        }
        if self.wap_gateway {
            nets.extend(&self.wap_gateways);
        }
        nets
    }
}

/// `[radius]`: the accounting listener (RFC 2866 §3) that binds framed IP addresses to MSISDNs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusConfig {
    /// UDP listen address (production port 1813); absent: no listener.
    pub listen: Option<SocketAddr>,
    /// GGSN/PGW/NAS allowed to send accounting, each with its shared secret.
    pub clients: Vec<RadiusClientConfig>,
    /// Seconds a request is remembered to recognise retransmissions (RFC 2865 §3 Identifier).
    pub duplicate_window_secs: Option<u64>,
}

/// One RADIUS client.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusClientConfig {
    /// Source network of the client.
    pub cidr: Cidr,
    /// The shared secret (RFC 2865 §3).
    pub secret: String,
}

impl fmt::Debug for RadiusClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RadiusClientConfig")
            .field("cidr", &self.cidr)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// An IP network written `10.0.0.0/8`, `::1/128` or a bare address (a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(pub IpNet);

impl Cidr {
    /// `127.0.0.0/8`.
    pub fn loopback_v4() -> Self {
        Self(IpNet::from(IpAddr::from([127, 0, 0, 1])).trunc_to(8))
    }

    /// `::1/128`.
    pub fn loopback_v6() -> Self {
        Self(IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)))
    }

    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical_ip(ip))
    }
}

trait Trunc {
    fn trunc_to(self, len: u8) -> IpNet;
}

impl Trunc for IpNet {
    fn trunc_to(self, len: u8) -> IpNet {
        IpNet::new(self.addr(), len).map_or(self, |n| n.trunc())
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; any other address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is in any of `nets`.
pub fn in_any(nets: &[Cidr], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(ip))
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|ip| Self(IpNet::from(ip)))
            .map_err(|_| format!("{s:?} is not an IP network (a.b.c.d/len) or address"))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_every_default() {
        let c = RelayConfig::from_toml("").unwrap();
        assert_eq!(c, RelayConfig::default());
        assert_eq!(c.mm1.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.relay.store, "./data");
        assert!(c.hss.is_none());
        assert!(c.radius.listen.is_none());
        assert!(c.mm1.identity.auth_proxy);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let err = RelayConfig::from_toml("[mm1]\nlisten_adress = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_adress"), "{err}");
        let err = RelayConfig::from_toml("[nonsense]\n").unwrap_err();
        assert!(err.to_string().contains("nonsense"), "{err}");
        let err = RelayConfig::from_toml("[mm1.identity]\nradius_secret = 1\n").unwrap_err();
        assert!(err.to_string().contains("radius_secret"), "{err}");
    }

    #[test]
    fn full_file_parses_every_section() {
        let c = RelayConfig::from_toml(
            r#"
            [relay]
            mmse_domain = "mms.a.example"
            sip_domains = ["a.example"]
            number_ranges = ["+4417"]
            default_country_code = "44"
            store = "sqlite:/tmp/x.db"
            [mm1]
            listen = "0.0.0.0:8081"
            public_url = "http://mms.a.example"
            max_message_size = 300000
            [mm1.identity]
            auth_proxy = false
            wap_gateway = true
            wap_gateways = ["10.1.0.0/16", "192.0.2.7"]
            radius = true
            [radius]
            listen = "127.0.0.1:1813"
            clients = [{ cidr = "10.2.0.0/16", secret = "s" }]
            [resolver]
            enum_suffixes = ["e164.example"]
            [hss]
            peers = ["127.0.0.1:3868"]
            request_timeout = "500ms"
            "#,
        )
        .unwrap();
        assert_eq!(c.relay.mmse_domain, "mms.a.example");
        assert_eq!(c.mm1.max_message_size, 300_000);
        assert!(in_any(
            &c.mm1.identity.wap_gateways,
            "10.1.2.3".parse().unwrap()
        ));
        assert!(in_any(
            &c.mm1.identity.wap_gateways,
            "192.0.2.7".parse().unwrap()
        ));
        assert!(!in_any(
            &c.mm1.identity.wap_gateways,
            "192.0.2.8".parse().unwrap()
        ));
        assert_eq!(c.radius.clients.len(), 1);
        assert_eq!(c.hss.unwrap().request_timeout, Duration::from_millis(500));
        let r = RelayConfig::from_toml(
            "[relay]\nsip_domains=[\"a.example\"]\nnumber_ranges=[\"+4417\"]",
        )
        .unwrap()
        .resolver_config();
        assert_eq!(r.own_sip_domains, vec!["a.example"]);
        assert_eq!(r.own_number_ranges, vec!["+4417"]);
        assert_eq!(r.own_mmse_domains, vec!["mms.localdomain"]);
    }

    #[test]
    fn unusable_values_name_their_key() {
        for (text, key) in [
            ("[mm1]\npublic_url = \"ftp://x\"", "mm1.public_url"),
            (
                "[relay]\ndefault_country_code = \"4a\"",
                "relay.default_country_code",
            ),
            ("[radius]\nlisten = \"127.0.0.1:1813\"", "radius.clients"),
            ("[mm1]\nmax_message_size = 0", "mm1.max_message_size"),
        ] {
            let err = RelayConfig::from_toml(text).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        assert!(
            RelayConfig::from_toml("[mm1.identity]\ntrusted_proxies = [\"10.0.0.300/8\"]").is_err()
        );
    }

    #[test]
    fn ipv4_mapped_peer_matches_ipv4_network() {
        let loopback = Cidr::loopback_v4();
        assert!(loopback.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(loopback.contains("127.5.5.5".parse().unwrap()));
        assert!(!loopback.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(loopback.to_string(), "127.0.0.0/8");
    }
}
