//! An authoritative DNS server for tests, on 127.0.0.1 (UDP and TCP on one port): hickory-server
//! 0.26 with a handler over an in-memory zone built by [`DnsZone`]. It answers NAPTR (RFC 3403),
//! MX (RFC 1035), A, AAAA; NXDOMAIN and NODATA with the zone's SOA in the authority section
//! (RFC 2308 §3); counts every query it receives; and can be told never to answer (timeouts).

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, NAPTR, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// TTL of records added before any call to [`DnsZone::ttl`].
pub const DEFAULT_TTL: u32 = 300;

/// Why a zone could not be built or served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsZoneError {
    /// A name that is not a valid domain name.
    #[error("invalid domain name {0:?}")]
    BadName(String),
    /// A record whose owner is in none of the zone's origins.
    #[error("{0:?} is outside every origin of the zone")]
    OutOfZone(String),
    /// The zone built has an error (the first one is given).
    #[error("invalid test zone: {0}")]
    Invalid(String),
    /// Binding the UDP socket or TCP listener failed.
    #[error("cannot bind the DNS server: {0}")]
    Bind(#[from] io::Error),
}

fn name(s: &str) -> Result<Name, DnsZoneError> {
    let fqdn = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_str(&fqdn).map_err(|_| DnsZoneError::BadName(s.to_owned()))
}

/// The records of a test zone, built step by step; [`DnsZone::serve`] starts the server.
#[derive(Debug, Clone)]
pub struct DnsZone {
    origins: Vec<(LowerName, Record)>,
    records: HashMap<(LowerName, RecordType), Vec<Record>>,
    ttl: u32,
    negative_ttl: u32,
    silent: bool,
    error: Option<String>,
}

impl DnsZone {
    /// A zone authoritative for `origins` (e.g. `["e164.arpa", "example"]`); names outside
    /// them are REFUSED.
    pub fn new<'a>(origins: impl IntoIterator<Item = &'a str>) -> Self {
        let mut zone = Self {
            origins: Vec::new(),
            records: HashMap::new(),
            ttl: DEFAULT_TTL,
            negative_ttl: 60,
            silent: false,
            error: None,
        };
        for origin in origins {
            match name(origin) {
                Ok(n) => {
                    let soa = zone.soa_record(&n);
                    zone.origins.push((LowerName::from(&n), soa));
                }
                Err(e) => zone = zone.fail(e),
            }
        }
        zone
    }

    fn soa_record(&self, origin: &Name) -> Record {
        let mname = Name::from_str("ns.test.").unwrap_or_default();
        let rname = Name::from_str("hostmaster.test.").unwrap_or_default();
        let soa = SOA::new(mname, rname, 1, 3600, 600, 86400, self.negative_ttl);
        Record::from_rdata(origin.clone(), self.negative_ttl, RData::SOA(soa))
    }

    /// TTL of the records added after this call.
    pub fn ttl(mut self, secs: u32) -> Self {
        self.ttl = secs;
        self
    }

    /// The SOA minimum (and SOA TTL) sent with NXDOMAIN/NODATA answers: the negative-caching
    /// TTL of RFC 2308 §5.
    pub fn negative_ttl(mut self, secs: u32) -> Self {
        self.negative_ttl = secs;
        let origins: Vec<Name> = self.origins.iter().map(|(o, _)| Name::from(o)).collect();
        self.origins = origins
            .iter()
            .map(|o| (LowerName::from(o), self.soa_record(o)))
            .collect();
        self
    }

    /// The server receives and counts queries but never answers (to test timeouts).
    pub fn never_answer(mut self) -> Self {
        self.silent = true;
        self
    }

    fn fail(mut self, e: DnsZoneError) -> Self {
        self.error.get_or_insert(e.to_string());
        self
    }

    fn add(mut self, owner: &str, rdata: RData) -> Self {
        match name(owner) {
            Ok(n) => {
                let lower = LowerName::from(&n);
                if !self.origins.iter().any(|(o, _)| o.zone_of(&lower)) {
                    self.error
                        .get_or_insert(DnsZoneError::OutOfZone(owner.to_owned()).to_string());
                }
                let rtype = rdata.record_type();
                self.records
                    .entry((lower, rtype))
                    .or_default()
                    .push(Record::from_rdata(n, self.ttl, rdata));
            }
            Err(e) => return self.fail(e),
        }
        self
    }

    /// A NAPTR record (RFC 3403 §4.1); `replacement` `.` for terminal rules with a regexp.
    #[allow(clippy::too_many_arguments)]
    pub fn naptr(
        self,
        owner: &str,
        order: u16,
        preference: u16,
        flags: &str,
        services: &str,
        regexp: &str,
        replacement: &str,
    ) -> Self {
        let replacement = match replacement {
            "." => Name::root(),
            other => match name(other) {
                Ok(n) => n,
                Err(e) => return self.fail(e),
            },
        };
        let rdata = NAPTR::new(
            order,
            preference,
            flags.as_bytes().into(),
            services.as_bytes().into(),
            regexp.as_bytes().into(),
            replacement,
        );
        self.add(owner, RData::NAPTR(rdata))
    }

    /// An ENUM NAPTR (RFC 6116): the owner is the ENUM domain of `e164` (`+49…`) under
    /// `suffix`, flag `u`, the given service and regexp, replacement `.`.
    pub fn enum_naptr(
        self,
        e164: &str,
        suffix: &str,
        order: u16,
        preference: u16,
        services: &str,
        regexp: &str,
    ) -> Self {
        let digits: Vec<String> = e164
            .trim_start_matches('+')
            .chars()
            .rev()
            .map(String::from)
            .collect();
        let owner = format!("{}.{}", digits.join("."), suffix.trim_matches('.'));
        self.naptr(&owner, order, preference, "u", services, regexp, ".")
    }

    /// An MX record (RFC 1035 §3.3.9); exchange `.` is a null MX (RFC 7505).
    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Self {
        let exchange = match exchange {
            "." => Name::root(),
            other => match name(other) {
                Ok(n) => n,
                Err(e) => return self.fail(e),
            },
        };
        self.add(owner, RData::MX(MX::new(preference, exchange)))
    }

    /// An A record.
    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Self {
        self.add(owner, RData::A(A(ip)))
    }

    /// An AAAA record.
    pub fn aaaa(self, owner: &str, ip: Ipv6Addr) -> Self {
        self.add(owner, RData::AAAA(AAAA(ip)))
    }

    /// Starts serving on 127.0.0.1, UDP and TCP on the same (free) port.
    pub async fn serve(self) -> Result<DnsServer, DnsZoneError> {
        if let Some(e) = &self.error {
            return Err(DnsZoneError::Invalid(e.clone()));
        }
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let log = Arc::new(QueryLog::default());
        let silent = Arc::new(AtomicBool::new(self.silent));
        let handler = ZoneHandler::new(self, log.clone(), silent.clone());
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
        Ok(DnsServer {
            addr,
            log,
            silent,
            server,
        })
    }
}

async fn bind_pair() -> io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let port = udp.local_addr()?.port();
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

#[derive(Debug, Default)]
struct QueryLog {
    total: AtomicU64,
    by_question: Mutex<HashMap<(String, RecordType), u64>>,
}

/// A running test DNS server; stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    log: Arc<QueryLog>,
    silent: Arc<AtomicBool>,
    server: Server<ZoneHandler>,
}

impl DnsServer {
    /// The address it serves on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far, over UDP and TCP, answered or not.
    pub fn queries_received(&self) -> u64 {
        self.log.total.load(Ordering::SeqCst)
    }

    /// Queries received for `name` (case-insensitive, with or without a trailing dot) and type.
    pub fn queries_for(&self, name: &str, rtype: RecordType) -> u64 {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), rtype);
        self.log
            .by_question
            .lock()
            .map(|m| m.get(&key).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// From now on, receive and count queries but never answer.
    pub fn stop_answering(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}

struct ZoneHandler {
    origins: Vec<(LowerName, Record)>,
    records: HashMap<(LowerName, RecordType), Vec<Record>>,
    names: HashSet<LowerName>,
    log: Arc<QueryLog>,
    silent: Arc<AtomicBool>,
}

impl ZoneHandler {
    fn new(zone: DnsZone, log: Arc<QueryLog>, silent: Arc<AtomicBool>) -> Self {
        let mut names = HashSet::new();
        for (owner, _) in zone.records.keys() {
            // the owner and every empty non-terminal up to its origin exist (RFC 8020)
            let mut n = owner.clone();
            loop {
                names.insert(n.clone());
                if n.is_root() || zone.origins.iter().any(|(o, _)| *o == n) {
                    break;
                }
                n = n.base_name();
            }
        }
        Self {
            origins: zone.origins,
            records: zone.records,
            names,
            log,
            silent,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for ZoneHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let Some(query) = request.queries.queries().first() else {
            metadata.response_code = ResponseCode::FormErr;
            return ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            });
        };
        let qname = query.name().clone();
        let qtype = query.query_type();
        self.log.total.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.log.by_question.lock() {
            let key = (
                Name::from(&qname)
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
                qtype,
            );
            *m.entry(key).or_insert(0) += 1;
        }
        if self.silent.load(Ordering::SeqCst) {
            metadata.response_code = ResponseCode::ServFail;
            return ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            });
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        let Some((_, soa)) = self.origins.iter().find(|(o, _)| o.zone_of(&qname)) else {
            metadata.response_code = ResponseCode::Refused;
            let response = builder.build_no_records(metadata);
            return send(&mut response_handle, response, metadata).await;
        };
        metadata.authoritative = true;
        let answers: &[Record] = self
            .records
            .get(&(qname.clone(), qtype))
            .map_or(&[], Vec::as_slice);
        let negative_soa = answers.is_empty().then_some(soa);
        if answers.is_empty() && !self.names.contains(&qname) {
            metadata.response_code = ResponseCode::NXDomain;
        }
        let response = builder.build(metadata, answers.iter(), None, negative_soa, None);
        send(&mut response_handle, response, metadata).await
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    metadata: Metadata,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!("test DNS server could not send a response: {e}");
            let mut metadata = metadata;
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_outside_every_origin_are_refused() {
        let err = DnsZone::new(["example"])
            .a("host.other", Ipv4Addr::LOCALHOST)
            .serve()
            .await;
        assert!(matches!(err, Err(DnsZoneError::Invalid(m)) if m.contains("host.other")));
        let err = DnsZone::new(["example"])
            .mx("mms.example", 10, "bad..name")
            .serve()
            .await;
        assert!(matches!(err, Err(DnsZoneError::Invalid(_))));
    }

    #[tokio::test]
    async fn serves_udp_and_tcp_on_one_port_and_counts_queries() {
        let server = DnsZone::new(["example"])
            .a("h.example", Ipv4Addr::LOCALHOST)
            .serve()
            .await
            .unwrap();
        assert_eq!(server.queries_received(), 0);
        assert!(std::net::TcpStream::connect(server.addr()).is_ok());
    }
}
