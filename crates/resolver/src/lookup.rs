//! The DNS questions the resolver asks (RFC 1035 A/MX, RFC 3596 AAAA, RFC 3403 NAPTR) and their
//! answers, behind a trait so the decision logic runs over scripted answers in tests.

use serde::Serialize;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

/// The record types originating resolution asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    /// NAPTR (RFC 3403), for ENUM.
    Naptr,
    /// MX (RFC 1035 §3.3.9), for the MMSE domain.
    Mx,
    /// A (RFC 1035 §3.4.1).
    A,
    /// AAAA (RFC 3596).
    Aaaa,
}

impl RecordKind {
    /// All kinds, in a fixed order (index with [`RecordKind::index`]).
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Naptr,
        RecordKind::Mx,
        RecordKind::A,
        RecordKind::Aaaa,
    ];

    /// A dense index 0..4.
    pub fn index(self) -> usize {
        match self {
            RecordKind::Naptr => 0,
            RecordKind::Mx => 1,
            RecordKind::A => 2,
            RecordKind::Aaaa => 3,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Naptr => "NAPTR",
            RecordKind::Mx => "MX",
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
        })
    }
}

/// One NAPTR record (RFC 3403 §4.1), text fields as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// ORDER: lower first, strictly.
    pub order: u16,
    /// PREFERENCE: lower first among equal order.
    pub preference: u16,
    /// FLAGS, e.g. `u` (terminal, the result is a URI).
    pub flags: String,
    /// SERVICES, e.g. `E2U+mms:mailto`.
    pub services: String,
    /// REGEXP substitution expression.
    pub regexp: String,
    /// REPLACEMENT domain (`.` for none).
    pub replacement: String,
}

impl fmt::Display for NaptrRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} \"{}\" \"{}\" \"{}\" {}",
            self.order, self.preference, self.flags, self.services, self.regexp, self.replacement
        )
    }
}

/// One MX record (RFC 1035 §3.3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    /// PREFERENCE: lower is tried first (RFC 5321 §5.1).
    pub preference: u16,
    /// The exchange host, without trailing dot; empty for a null MX (RFC 7505).
    pub exchange: String,
}

/// The records of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// NAPTR records.
    Naptr(Vec<NaptrRecord>),
    /// MX records.
    Mx(Vec<MxRecord>),
    /// A or AAAA addresses.
    Ip(Vec<IpAddr>),
}

impl Records {
    /// Each record in presentation form, for the trace.
    pub fn describe(&self) -> Vec<String> {
        match self {
            Records::Naptr(r) => r.iter().map(ToString::to_string).collect(),
            Records::Mx(r) => r
                .iter()
                .map(|m| {
                    format!(
                        "{} {}",
                        m.preference,
                        if m.exchange.is_empty() {
                            "."
                        } else {
                            &m.exchange
                        }
                    )
                })
                .collect(),
            Records::Ip(r) => r.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A positive answer: records and the TTL they may be cached for (the least TTL of the RRset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The records.
    pub records: Records,
    /// Seconds the answer may be cached.
    pub ttl: u32,
}

/// Why a question has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// NXDOMAIN (RFC 1035 §4.1.1 RCODE 3): the name does not exist. Permanent.
    #[error("NXDOMAIN")]
    NxDomain {
        /// Negative-caching TTL from the SOA (RFC 2308 §5), if the answer carried one.
        negative_ttl: Option<u32>,
    },
    /// NOERROR with no records of the type (RFC 2308 §2.2 NODATA). Permanent.
    #[error("no records of this type (NODATA)")]
    NoData {
        /// Negative-caching TTL from the SOA (RFC 2308 §5), if the answer carried one.
        negative_ttl: Option<u32>,
    },
    /// SERVFAIL, REFUSED or another error RCODE. Transient.
    #[error("server answered {0}")]
    ServerFailure(String),
    /// No answer before the deadline. Transient.
    #[error("no answer before the deadline")]
    Timeout,
    /// A transport problem (no route, connection refused …). Transient.
    #[error("transport error: {0}")]
    Transport(String),
    /// The question itself was malformed (not a domain name). Permanent.
    #[error("invalid question: {0}")]
    BadQuestion(String),
}

impl LookupError {
    /// Whether asking again later may give an answer (DESIGN.md §3.5: DNS failure is transient,
    /// NXDOMAIN permanent).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LookupError::ServerFailure(_) | LookupError::Timeout | LookupError::Transport(_)
        )
    }

    /// The negative-caching TTL of an NXDOMAIN/NODATA answer (RFC 2308 §5).
    pub fn negative_ttl(&self) -> Option<u32> {
        match self {
            LookupError::NxDomain { negative_ttl } | LookupError::NoData { negative_ttl } => {
                *negative_ttl
            }
            _ => None,
        }
    }
}

/// An answer or why there is none, and where it came from (for the trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The answer or why there is none.
    pub result: Result<Arc<Answer>, LookupError>,
    /// `cache` or the name servers asked.
    pub source: Arc<str>,
    /// Whether the answer came from the cache.
    pub cached: bool,
}

/// Asks one DNS question. Implementations: [`crate::HickoryLookup`] (the network),
/// [`crate::CachingLookup`] (a cache over another lookup), scripted answers in tests.
pub trait DnsLookup: Send + Sync {
    /// Asks for `kind` records of `name` (a domain name without trailing dot, lower-case).
    fn lookup(&self, name: &str, kind: RecordKind) -> impl Future<Output = Lookup> + Send;
}

impl<T: DnsLookup> DnsLookup for std::sync::Arc<T> {
    fn lookup(&self, name: &str, kind: RecordKind) -> impl Future<Output = Lookup> + Send {
        (**self).lookup(name, kind)
    }
}
