//! The decision logic of originating resolution (DESIGN.md §3) over a [`DnsLookup`]:
//! local delivery, ENUM (RFC 6116, services RFC 4355 / RFC 3764), number ranges, the peering
//! table, the MMSE domain pattern, and MX with A/AAAA fallback (RFC 5321 §5.1).

use crate::config::{NumberRangeConfig, PeerConfig, ResolverConfig};
use crate::lookup::{Answer, DnsLookup, LookupError, MxRecord, NaptrRecord, RecordKind, Records};
use mms_address::{Address, E164, NaptrRegexp};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Where a recipient's MM goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Route {
    /// This relay serves the recipient (DESIGN.md §1 step 6).
    Local,
    /// Forward over MM4 to a peer relay: try `hosts` in order, failing over on connect errors.
    Peer {
        /// The peer's MMSE domain (the domain of the MM4 recipient address).
        mmse_domain: String,
        /// MM4 (SMTP) hosts in the order to try.
        hosts: Vec<SocketAddr>,
    },
}

/// Why a recipient cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The address kind is never routed to a peer (IPv4/IPv6/short code/user-defined, or an
    /// e-mail domain that is not a peer).
    #[error("{0} is not routable to an MMS Relay/Server")]
    NotRoutable(String),
    /// No ENUM answer and no number range for the number.
    #[error("no route for {0}: no ENUM record and no number range")]
    NoRoute(String),
    /// A DNS name on the way does not exist (NXDOMAIN).
    #[error("{0} does not exist (NXDOMAIN)")]
    DomainNotFound(String),
    /// The MMSE domain accepts no mail (null MX, RFC 7505).
    #[error("{0} accepts no mail (null MX)")]
    NullMx(String),
    /// The MMSE domain's MX hosts (or the domain itself) have no addresses.
    #[error("no address for the MM4 hosts of {0}")]
    NoAddresses(String),
    /// More ENUM rewrites than allowed, or a number seen twice.
    #[error("ENUM rewrite loop after {0} rewrites")]
    RewriteLoop(usize),
    /// A configured peer host is not `host:port`.
    #[error("invalid peer host {0:?}")]
    BadPeerHost(String),
    /// A DNS question failed in a way that may pass (SERVFAIL, timeout, transport).
    #[error("DNS lookup of {name} {kind} failed: {error}")]
    Dns {
        /// The name asked.
        name: String,
        /// The record type asked.
        kind: RecordKind,
        /// What went wrong.
        error: LookupError,
    },
}

impl ResolveError {
    /// Whether routing the MM again later may succeed (retry), or the recipient fails for good
    /// (`Error-permanent-*` in a delivery report).
    pub fn is_transient(&self) -> bool {
        match self {
            ResolveError::Dns { error, .. } => error.is_transient(),
            _ => false,
        }
    }
}

/// One step of a resolution, for `mmsrelay resolve` and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A rule of DESIGN.md §3 decided something.
    Rule {
        /// Which rule (`own-sip-domain`, `peering-table`, `enum-naptr`, …).
        rule: String,
        /// What it decided.
        detail: String,
    },
    /// A DNS question and its answer.
    Query {
        /// The name asked.
        name: String,
        /// The record type.
        record_type: RecordKind,
        /// `cache` or the name servers asked.
        server: String,
        /// Records in presentation form.
        answers: Vec<String>,
        /// TTL of the answer.
        ttl: Option<u32>,
        /// Why there is no answer.
        error: Option<String>,
    },
}

/// The outcome of resolving one recipient and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The route, or why there is none.
    pub outcome: Result<Route, ResolveError>,
    /// What was asked and decided, in order.
    pub steps: Vec<Step>,
}

/// An ENUM service the resolver uses (RFC 6116 §3.4), in the order it prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EnumService {
    /// `E2U+mms:mailto` / `E2U+mms:tel` (RFC 4355).
    Mms,
    /// `E2U+sip` (RFC 3764).
    Sip,
}

/// The services of an ENUM NAPTR this resolver can use, if any (RFC 6116 §3.4.3:
/// `E2U+type[:subtype][+type[:subtype]]`, case-insensitive).
fn enum_service(services: &str) -> Option<EnumService> {
    let lower = services.to_ascii_lowercase();
    let rest = lower.strip_prefix("e2u+")?;
    let mut best = None;
    for svc in rest.split('+') {
        let found = match svc {
            "mms:mailto" | "mms:tel" => Some(EnumService::Mms),
            "sip" => Some(EnumService::Sip),
            _ => None,
        };
        best = match (best, found) {
            (Some(b), Some(f)) => Some(std::cmp::min(b, f)),
            (b, f) => b.or(f),
        };
    }
    best
}

/// Originating resolution over a lookup.
pub struct Resolver<L> {
    config: Arc<ResolverConfig>,
    lookup: L,
    servers: String,
}

struct Run<'a, L> {
    resolver: &'a Resolver<L>,
    steps: Vec<Step>,
}

fn host_matches(domain: &str, key: &str) -> bool {
    let key = key.trim_end_matches('.');
    domain.eq_ignore_ascii_case(key)
        || (domain.len() > key.len()
            && domain
                .get(domain.len() - key.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(key))
            && domain.as_bytes().get(domain.len() - key.len() - 1) == Some(&b'.'))
}

impl<L: DnsLookup> Resolver<L> {
    /// A resolver with `config` over `lookup`.
    pub fn new(config: ResolverConfig, lookup: L) -> Self {
        let servers = config.nameservers_text();
        Self {
            config: Arc::new(config),
            lookup,
            servers,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// The lookup underneath (e.g. to read cache counters).
    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    /// Resolves `address` to a route (DESIGN.md §3), with the trace of every step.
    pub async fn resolve(&self, address: &Address) -> Resolution {
        let mut run = Run {
            resolver: self,
            steps: Vec::new(),
        };
        let outcome = run.address(address).await;
        Resolution {
            outcome,
            steps: run.steps,
        }
    }

    fn is_own_sip_domain(&self, domain: &str) -> bool {
        self.config
            .own_sip_domains
            .iter()
            .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
    }

    fn is_own_mmse_domain(&self, domain: &str) -> bool {
        self.config
            .own_mmse_domains
            .iter()
            .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
            || self
                .config
                .own_sip_domains
                .iter()
                .any(|d| self.config.mmse_domain_for(d.trim_end_matches('.')) == domain)
    }

    fn own_range(&self, number: &E164) -> Option<&str> {
        self.config
            .own_number_ranges
            .iter()
            .map(String::as_str)
            .find(|p| number.has_prefix(p))
    }

    /// The longest number range containing `number`.
    fn number_range(&self, number: &E164) -> Option<&NumberRangeConfig> {
        self.config
            .number_ranges
            .iter()
            .filter(|r| number.has_prefix(&r.prefix))
            .max_by_key(|r| r.prefix.trim_start_matches('+').len())
    }

    /// The peer entry for `domain`: exact match first, then the longest suffix.
    fn peer_for(&self, domain: &str) -> Option<&PeerConfig> {
        let peers = &self.config.peers;
        peers
            .iter()
            .find(|p| p.domain.trim_end_matches('.').eq_ignore_ascii_case(domain))
            .or_else(|| {
                peers
                    .iter()
                    .filter(|p| host_matches(domain, &p.domain))
                    .max_by_key(|p| p.domain.len())
            })
    }
}

impl<L: DnsLookup> Run<'_, L> {
    fn rule(&mut self, rule: &str, detail: impl Into<String>) {
        self.steps.push(Step::Rule {
            rule: rule.to_owned(),
            detail: detail.into(),
        });
    }

    /// Asks one question under the per-lookup deadline and records it.
    async fn ask(&mut self, name: &str, kind: RecordKind) -> Result<Arc<Answer>, LookupError> {
        let deadline = self.resolver.config.lookup_timeout();
        let lookup =
            match tokio::time::timeout(deadline, self.resolver.lookup.lookup(name, kind)).await {
                Ok(lookup) => lookup,
                Err(_) => crate::lookup::Lookup {
                    result: Err(LookupError::Timeout),
                    source: Arc::from(self.resolver.servers.as_str()),
                    cached: false,
                },
            };
        let (answers, ttl, error) = match &lookup.result {
            Ok(a) => (a.records.describe(), Some(a.ttl), None),
            Err(e) => (Vec::new(), e.negative_ttl(), Some(e.to_string())),
        };
        self.steps.push(Step::Query {
            name: name.to_owned(),
            record_type: kind,
            server: lookup.source.to_string(),
            answers,
            ttl,
            error,
        });
        lookup.result
    }

    async fn address(&mut self, address: &Address) -> Result<Route, ResolveError> {
        match address {
            Address::Sip(uri) => self.sip_domain(uri.host()).await,
            Address::Tel(number) => self.tel(number).await,
            Address::Email(e) => match self.resolver.peer_for(e.domain()) {
                Some(peer) => {
                    let peer = peer.clone();
                    self.rule(
                        "peering-table",
                        format!("e-mail domain {} matches peer {}", e.domain(), peer.domain),
                    );
                    self.peer(e.domain(), &peer).await
                }
                None if self.resolver.is_own_mmse_domain(e.domain()) => {
                    self.rule(
                        "own-mmse-domain",
                        format!("{} is this relay's MMSE domain", e.domain()),
                    );
                    Ok(Route::Local)
                }
                None => Err(ResolveError::NotRoutable(format!(
                    "e-mail address {e} (domain is not a peer)"
                ))),
            },
            other => Err(ResolveError::NotRoutable(other.to_string())),
        }
    }

    /// DESIGN.md §3.1 and §3.2 for a number: own ranges, ENUM with rewrites, number ranges.
    async fn tel(&mut self, first: &E164) -> Result<Route, ResolveError> {
        let mut number = first.clone();
        let mut seen = vec![number.clone()];
        let max_rewrites = self.resolver.config.max_enum_rewrites;
        loop {
            if let Some(range) = self.resolver.own_range(&number) {
                self.rule(
                    "own-number-range",
                    format!("{number} is in own range {range}"),
                );
                return Ok(Route::Local);
            }
            match self.enum_lookup(&number).await? {
                EnumOutcome::Route(route) => return Ok(route),
                EnumOutcome::Rewrite(next) => {
                    if seen.contains(&next) || seen.len() > max_rewrites {
                        self.rule(
                            "enum-loop",
                            format!("{next} after {} rewrites: giving up", seen.len() - 1),
                        );
                        return Err(ResolveError::RewriteLoop(seen.len() - 1));
                    }
                    self.rule("enum-rewrite", format!("{number} -> {next}"));
                    seen.push(next.clone());
                    number = next;
                }
                EnumOutcome::NoAnswer { transient } => {
                    if let Some(range) = self.resolver.number_range(&number).cloned() {
                        self.rule(
                            "number-range",
                            format!(
                                "{number} in range {} -> {}",
                                range.prefix, range.mmse_domain
                            ),
                        );
                        let peer = PeerConfig {
                            domain: range.prefix.clone(),
                            mmse_domain: Some(range.mmse_domain.clone()),
                            hosts: range.hosts.clone(),
                        };
                        return self.peer(&range.mmse_domain, &peer).await;
                    }
                    return Err(
                        transient.unwrap_or_else(|| ResolveError::NoRoute(number.to_string()))
                    );
                }
            }
        }
    }

    /// One ENUM pass over every suffix (RFC 6116 §3): the first usable NAPTR decides.
    async fn enum_lookup(&mut self, number: &E164) -> Result<EnumOutcome, ResolveError> {
        let mut transient = None;
        let suffixes = self.resolver.config.enum_suffixes.clone();
        for suffix in &suffixes {
            let name = number.enum_domain(suffix);
            let answer = match self.ask(&name, RecordKind::Naptr).await {
                Ok(a) => a,
                Err(e) if e.is_transient() => {
                    transient.get_or_insert(ResolveError::Dns {
                        name: name.clone(),
                        kind: RecordKind::Naptr,
                        error: e,
                    });
                    continue;
                }
                Err(_) => continue,
            };
            let Records::Naptr(records) = &answer.records else {
                continue;
            };
            let mut usable: Vec<(EnumService, &NaptrRecord)> = records
                .iter()
                .filter(|r| r.flags.eq_ignore_ascii_case("u"))
                .filter_map(|r| enum_service(&r.services).map(|s| (s, r)))
                .collect();
            // MMS services first (this is an MMS relay), then ORDER, then PREFERENCE (RFC 3403 §4.1)
            usable.sort_by_key(|(s, r)| (*s, r.order, r.preference));
            for (service, record) in usable {
                let rule = match NaptrRegexp::parse(&record.regexp) {
                    Ok(r) => r,
                    Err(e) => {
                        self.rule("enum-naptr-skipped", format!("{record}: {e}"));
                        continue;
                    }
                };
                let uri = match rule.apply(number.as_str()) {
                    Ok(uri) => uri,
                    Err(e) => {
                        self.rule("enum-naptr-skipped", format!("{record}: {e}"));
                        continue;
                    }
                };
                let target = match Address::parse(&uri) {
                    Ok(a) => a,
                    Err(e) => {
                        self.rule(
                            "enum-naptr-skipped",
                            format!("{record}: result {uri:?}: {e}"),
                        );
                        continue;
                    }
                };
                self.rule("enum-naptr", format!("{service:?} {record} -> {uri}"));
                return match target {
                    Address::Tel(next) => Ok(EnumOutcome::Rewrite(next)),
                    Address::Sip(sip) => self.sip_domain(sip.host()).await.map(EnumOutcome::Route),
                    Address::Email(mailbox) => {
                        let mmse = mailbox.domain().to_owned();
                        if self.resolver.is_own_mmse_domain(&mmse) {
                            self.rule(
                                "own-mmse-domain",
                                format!("{mmse} is this relay's MMSE domain"),
                            );
                            return Ok(EnumOutcome::Route(Route::Local));
                        }
                        self.mmse_domain(&mmse).await.map(EnumOutcome::Route)
                    }
                    other => {
                        self.rule(
                            "enum-naptr-skipped",
                            format!("{record}: {other} is not routable"),
                        );
                        continue;
                    }
                };
            }
        }
        Ok(EnumOutcome::NoAnswer { transient })
    }

    /// DESIGN.md §3.1/§3.3: own SIP domain, else peering table, else the MMSE domain pattern.
    async fn sip_domain(&mut self, domain: &str) -> Result<Route, ResolveError> {
        if self.resolver.is_own_sip_domain(domain) {
            self.rule(
                "own-sip-domain",
                format!("{domain} is served by this relay"),
            );
            return Ok(Route::Local);
        }
        if let Some(peer) = self.resolver.peer_for(domain).cloned() {
            self.rule(
                "peering-table",
                format!("{domain} matches peer {}", peer.domain),
            );
            return self.peer(domain, &peer).await;
        }
        let mmse = self.resolver.config.mmse_domain_for(domain);
        self.rule("mmse-domain-pattern", format!("{domain} -> {mmse}"));
        self.mmse_domain(&mmse).await
    }

    /// A peering-table entry: its hosts if set, else MX of its MMSE domain.
    async fn peer(&mut self, domain: &str, peer: &PeerConfig) -> Result<Route, ResolveError> {
        let mmse = match &peer.mmse_domain {
            Some(m) => m.trim_end_matches('.').to_ascii_lowercase(),
            None => self.resolver.config.mmse_domain_for(domain),
        };
        if peer.hosts.is_empty() {
            return self.mx(&mmse).await;
        }
        let mut hosts = Vec::new();
        let mut transient = None;
        for host in &peer.hosts {
            if let Ok(addr) = host.parse::<SocketAddr>() {
                hosts.push(addr);
                continue;
            }
            let (name, port) = host
                .rsplit_once(':')
                .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h, p)))
                .ok_or_else(|| ResolveError::BadPeerHost(host.clone()))?;
            match self.addresses(name, port).await {
                Ok(found) => hosts.extend(found),
                Err(e) if e.is_transient() => {
                    transient.get_or_insert(e);
                }
                Err(_) => {}
            }
        }
        if hosts.is_empty() {
            return Err(transient.unwrap_or(ResolveError::NoAddresses(mmse)));
        }
        self.rule("peer-hosts", format!("{mmse} -> {}", join(&hosts)));
        Ok(Route::Peer {
            mmse_domain: mmse,
            hosts,
        })
    }

    /// DESIGN.md §3.4 for an MMSE domain: a peer entry for it, else MX.
    async fn mmse_domain(&mut self, mmse: &str) -> Result<Route, ResolveError> {
        if let Some(peer) = self.resolver.peer_for(mmse).cloned() {
            self.rule(
                "peering-table",
                format!("MMSE domain {mmse} matches peer {}", peer.domain),
            );
            let peer = PeerConfig {
                mmse_domain: Some(peer.mmse_domain.clone().unwrap_or_else(|| mmse.to_owned())),
                ..peer
            };
            return self.peer(mmse, &peer).await;
        }
        self.mx(mmse).await
    }

    /// RFC 5321 §5.1: MX sorted by preference, A/AAAA of each exchange; no MX: the domain's own
    /// A/AAAA (implicit MX); null MX: no mail.
    async fn mx(&mut self, mmse: &str) -> Result<Route, ResolveError> {
        let port = self.resolver.config.smtp_port;
        let exchanges: Vec<MxRecord> = match self.ask(mmse, RecordKind::Mx).await {
            Ok(answer) => match &answer.records {
                Records::Mx(mx) => mx.clone(),
                _ => Vec::new(),
            },
            Err(LookupError::NoData { .. }) => {
                self.rule(
                    "implicit-mx",
                    format!("{mmse} has no MX: its own A/AAAA (RFC 5321 §5.1)"),
                );
                vec![MxRecord {
                    preference: 0,
                    exchange: mmse.to_owned(),
                }]
            }
            Err(LookupError::NxDomain { .. }) => {
                return Err(ResolveError::DomainNotFound(mmse.to_owned()));
            }
            Err(error) => {
                return Err(ResolveError::Dns {
                    name: mmse.to_owned(),
                    kind: RecordKind::Mx,
                    error,
                });
            }
        };
        if exchanges.len() == 1 && exchanges.first().is_some_and(|m| m.exchange.is_empty()) {
            return Err(ResolveError::NullMx(mmse.to_owned()));
        }
        let mut sorted = exchanges;
        sorted.sort_by_key(|m| m.preference); // stable: equal preferences keep DNS order
        let mut hosts = Vec::new();
        let mut transient = None;
        for mx in sorted.iter().filter(|m| !m.exchange.is_empty()) {
            match self.addresses(&mx.exchange, port).await {
                Ok(found) => {
                    for addr in found {
                        if !hosts.contains(&addr) {
                            hosts.push(addr);
                        }
                    }
                }
                Err(e) if e.is_transient() => {
                    transient.get_or_insert(e);
                }
                Err(_) => {}
            }
        }
        if hosts.is_empty() {
            return Err(transient.unwrap_or_else(|| ResolveError::NoAddresses(mmse.to_owned())));
        }
        self.rule("mx-hosts", format!("{mmse} -> {}", join(&hosts)));
        Ok(Route::Peer {
            mmse_domain: mmse.to_owned(),
            hosts,
        })
    }

    /// A then AAAA of `host`, each with `port`. Only a failure of both that may pass is an error.
    async fn addresses(&mut self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let mut out = Vec::new();
        let mut failure = None;
        for kind in [RecordKind::A, RecordKind::Aaaa] {
            match self.ask(host, kind).await {
                Ok(answer) => {
                    if let Records::Ip(ips) = &answer.records {
                        out.extend(ips.iter().map(|ip| SocketAddr::new(*ip, port)));
                    }
                }
                Err(error) if error.is_transient() => {
                    failure.get_or_insert(ResolveError::Dns {
                        name: host.to_owned(),
                        kind,
                        error,
                    });
                }
                Err(_) => {}
            }
        }
        match (out.is_empty(), failure) {
            (true, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }
}

enum EnumOutcome {
    Route(Route),
    Rewrite(E164),
    NoAnswer { transient: Option<ResolveError> },
}

fn join(hosts: &[SocketAddr]) -> String {
    hosts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
