//! The network [`DnsLookup`]: hickory-resolver 0.26 over the configured name servers (UDP,
//! TCP when truncated), its own cache off (the [`crate::CachingLookup`] caches), no search
//! domains, no hosts file.

use crate::config::ResolverConfig;
use crate::lookup::{
    Answer, DnsLookup, Lookup, LookupError, MxRecord, NaptrRecord, RecordKind, Records,
};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig as HickoryConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::sync::Arc;

/// Why the network lookup could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupSetupError {
    /// No name servers configured and the system configuration could not be read.
    #[error("cannot read the system DNS configuration: {0}")]
    SystemConfig(String),
    /// hickory-resolver refused the configuration.
    #[error("cannot build the DNS resolver: {0}")]
    Build(String),
}

/// DNS questions over the network.
pub struct HickoryLookup {
    resolver: TokioResolver,
    servers: Arc<str>,
}

impl HickoryLookup {
    /// A lookup over `config.nameservers` (or the system's when empty) with the per-question
    /// deadline of the config.
    pub fn new(config: &ResolverConfig) -> Result<Self, LookupSetupError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder(provider)
                .map_err(|e| LookupSetupError::SystemConfig(e.to_string()))?
        } else {
            let servers = config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(HickoryConfig::from_name_servers(servers), provider)
        };
        let opts = builder.options_mut();
        opts.timeout = config.lookup_timeout();
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.preserve_intermediates = false;
        let resolver = builder
            .build()
            .map_err(|e| LookupSetupError::Build(e.to_string()))?;
        let servers = config.nameservers_text();
        Ok(Self {
            resolver,
            servers: Arc::from(servers),
        })
    }
}

fn record_type(kind: RecordKind) -> RecordType {
    match kind {
        RecordKind::Naptr => RecordType::NAPTR,
        RecordKind::Mx => RecordType::MX,
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn host(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn map_error(e: NetError) -> LookupError {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            let negative_ttl = no.negative_ttl;
            if no.response_code == ResponseCode::NXDomain {
                LookupError::NxDomain { negative_ttl }
            } else {
                LookupError::NoData { negative_ttl }
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => LookupError::ServerFailure(code.to_string()),
        NetError::Timeout => LookupError::Timeout,
        NetError::Proto(p) => LookupError::Transport(p.to_string()),
        other => {
            let text = other.to_string();
            if text.contains("timed out") {
                LookupError::Timeout
            } else {
                LookupError::Transport(text)
            }
        }
    }
}

impl DnsLookup for HickoryLookup {
    async fn lookup(&self, name: &str, kind: RecordKind) -> Lookup {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let question = match Name::from_ascii(&fqdn) {
            Ok(q) => q,
            Err(e) => {
                let error = LookupError::BadQuestion(format!("{name}: {e}"));
                return Lookup {
                    result: Err(error),
                    source: self.servers.clone(),
                    cached: false,
                };
            }
        };
        let result = match self.resolver.lookup(question, record_type(kind)).await {
            Ok(lookup) => {
                let mut ttl = u32::MAX;
                let mut naptr = Vec::new();
                let mut mx = Vec::new();
                let mut ips = Vec::new();
                for record in lookup.answers() {
                    let matched = match &record.data {
                        RData::NAPTR(n) if kind == RecordKind::Naptr => {
                            naptr.push(NaptrRecord {
                                order: n.order,
                                preference: n.preference,
                                flags: text(&n.flags),
                                services: text(&n.services),
                                regexp: text(&n.regexp),
                                replacement: host(&n.replacement),
                            });
                            true
                        }
                        RData::MX(m) if kind == RecordKind::Mx => {
                            mx.push(MxRecord {
                                preference: m.preference,
                                exchange: host(&m.exchange),
                            });
                            true
                        }
                        RData::A(a) if kind == RecordKind::A => {
                            ips.push(std::net::IpAddr::V4(a.0));
                            true
                        }
                        RData::AAAA(a) if kind == RecordKind::Aaaa => {
                            ips.push(std::net::IpAddr::V6(a.0));
                            true
                        }
                        _ => false,
                    };
                    if matched {
                        ttl = ttl.min(record.ttl);
                    }
                }
                let records = match kind {
                    RecordKind::Naptr => Records::Naptr(naptr),
                    RecordKind::Mx => Records::Mx(mx),
                    RecordKind::A | RecordKind::Aaaa => Records::Ip(ips),
                };
                if ttl == u32::MAX {
                    Err(LookupError::NoData { negative_ttl: None })
                } else {
                    Ok(Arc::new(Answer { records, ttl }))
                }
            }
            Err(e) => Err(map_error(e)),
        };
        Lookup {
            result,
            source: self.servers.clone(),
            cached: false,
        }
    }
}
