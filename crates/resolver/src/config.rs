//! Configuration of originating resolution (DESIGN.md §3), embedded in the relay's TOML
//! config: every key has a default, unknown keys are rejected.

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Originating resolution settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverConfig {
    /// Name servers (`ip:port`, asked over UDP, TCP on truncation); empty: the system's.
    pub nameservers: Vec<SocketAddr>,
    /// ENUM suffixes asked in order (RFC 6116 §2.4), e.g. `e164.arpa` or a carrier-ENUM root.
    pub enum_suffixes: Vec<String>,
    /// SIP domains this relay serves: their users are local (DESIGN.md §3.1).
    pub own_sip_domains: Vec<String>,
    /// MMSE domains of this relay: MM4 addresses there are local. The pattern applied to
    /// every own SIP domain is implied.
    pub own_mmse_domains: Vec<String>,
    /// E.164 prefixes (`+4917`, `4917`) of this relay's subscribers: local.
    pub own_number_ranges: Vec<String>,
    /// Peering table (DESIGN.md §3.3/§3.4).
    pub peers: Vec<PeerConfig>,
    /// Number-range table: E.164 prefix -> peer, when ENUM has no answer (DESIGN.md §3.2).
    pub number_ranges: Vec<NumberRangeConfig>,
    /// SIP domain -> MMSE domain when no peer entry names one; `{domain}` is replaced.
    pub mmse_domain_pattern: String,
    /// Deadline of one DNS question, in milliseconds.
    pub lookup_timeout_ms: u64,
    /// Port of MM4 (SMTP) hosts found through MX or A/AAAA (RFC 5321 §4.5.4: 25).
    pub smtp_port: u16,
    /// Most ENUM rewrites (`tel:` results, ported numbers) before giving up as a loop.
    pub max_enum_rewrites: usize,
    /// Answer cache.
    pub cache: CacheConfig,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            enum_suffixes: vec!["e164.arpa".into()],
            own_sip_domains: Vec::new(),
            own_mmse_domains: Vec::new(),
            own_number_ranges: Vec::new(),
            peers: Vec::new(),
            number_ranges: Vec::new(),
            mmse_domain_pattern: "mms.{domain}".into(),
            lookup_timeout_ms: 3000,
            smtp_port: 25,
            max_enum_rewrites: 5,
            cache: CacheConfig::default(),
        }
    }
}

/// Why a TOML text is not a [`ResolverConfig`].
#[derive(Debug, thiserror::Error)]
#[error("invalid resolver configuration: {0}")]
pub struct ConfigError(#[from] toml::de::Error);

impl ResolverConfig {
    /// Parses a TOML document holding exactly the keys of this struct (unknown keys rejected).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// The name servers as logged and reported: `ip:port` joined by commas, or `system` when
    /// none are configured (the system's resolv.conf is used).
    pub fn nameservers_text(&self) -> String {
        if self.nameservers.is_empty() {
            return "system".to_owned();
        }
        self.nameservers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The per-question deadline.
    pub fn lookup_timeout(&self) -> Duration {
        Duration::from_millis(self.lookup_timeout_ms.max(1))
    }

    /// The MMSE domain of `sip_domain` by [`ResolverConfig::mmse_domain_pattern`].
    pub fn mmse_domain_for(&self, sip_domain: &str) -> String {
        self.mmse_domain_pattern
            .replace("{domain}", sip_domain)
            .to_ascii_lowercase()
    }
}

/// One peering-table entry: a SIP or MMSE domain (exactly, or any subdomain of it) routed to a
/// peer's MMSE domain and/or fixed MM4 hosts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The domain matched: equal, or a suffix at a label boundary (exact matches win, then the
    /// longest suffix).
    pub domain: String,
    /// The peer's MMSE domain; default by the pattern from the matched domain.
    #[serde(default)]
    pub mmse_domain: Option<String>,
    /// MM4 hosts `host:port` (IP or name); default: MX of the MMSE domain.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// One number-range entry: E.164 prefix -> peer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRangeConfig {
    /// Digits the number starts with (`+` optional).
    pub prefix: String,
    /// The peer's MMSE domain.
    pub mmse_domain: String,
    /// MM4 hosts `host:port`; default: MX of the MMSE domain.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Answer cache bounds (DESIGN.md §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Most cached answers (positive and negative).
    pub max_entries: usize,
    /// Least seconds a positive answer is kept (TTL 0 answers are kept this long).
    pub min_ttl_secs: u32,
    /// Most seconds a positive answer is kept.
    pub max_ttl_secs: u32,
    /// Most seconds a negative answer is kept (RFC 2308 §5 suggests 1–3 hours).
    pub max_negative_ttl_secs: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            min_ttl_secs: 5,
            max_ttl_secs: 86_400,
            max_negative_ttl_secs: 3_600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_reported_as_configured_or_as_system() {
        let mut c = ResolverConfig::default();
        assert_eq!(c.nameservers_text(), "system");
        c.nameservers = vec![
            "127.0.0.1:53".parse().unwrap(),
            "[::1]:5353".parse().unwrap(),
        ];
        assert_eq!(c.nameservers_text(), "127.0.0.1:53,[::1]:5353");
    }

    #[test]
    fn empty_toml_gives_defaults() {
        let c: ResolverConfig = toml::from_str("").unwrap();
        assert_eq!(c, ResolverConfig::default());
        assert_eq!(c.smtp_port, 25);
        assert_eq!(c.mmse_domain_for("B.example"), "mms.b.example");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(ResolverConfig::from_toml("nameserver = []").is_err());
        assert!(toml::from_str::<ResolverConfig>("[cache]\nmax = 1").is_err());
    }

    #[test]
    fn full_toml_parses() {
        let c: ResolverConfig = toml::from_str(
            r#"
            nameservers = ["127.0.0.1:5353"]
            enum_suffixes = ["e164.arpa", "e164.carrier.example"]
            own_sip_domains = ["a.example"]
            own_number_ranges = ["+4415"]
            mmse_domain_pattern = "mmsc.{domain}"
            lookup_timeout_ms = 500
            [[peers]]
            domain = "b.example"
            hosts = ["127.0.0.1:2525"]
            [[number_ranges]]
            prefix = "+4917"
            mmse_domain = "mms.mnc002.mcc262.gprs"
            [cache]
            max_entries = 10
            "#,
        )
        .unwrap();
        assert_eq!(
            c.nameservers,
            vec!["127.0.0.1:5353".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(c.peers[0].hosts, vec!["127.0.0.1:2525"]);
        assert_eq!(c.cache.max_entries, 10);
        assert_eq!(c.cache.min_ttl_secs, 5);
        assert_eq!(c.lookup_timeout(), Duration::from_millis(500));
    }
}
