//! MM4 between relays (TS 23.140 §8.4, DESIGN.md §1 steps 4–5 and 8): the SMTP server's delivery
//! handler ([`Mm4Inbound`], MM4 in) and the worker that sends forwards, responses and reports
//! ([`Mm4Outbound`], MM4 out).
//!
//! **In.** A message is answered 250 only after what it asks for is durable:
//! * `MM4_forward.REQ`: the recipients of our MMSE domains are stored with the MM
//!   ([`Store::accept_mm`], origin MM4, state `Resolving`, one [`ResolveJob`] and retrieval token
//!   each) in the shape the MM1 server serves: `headers` + `body` are an encoded `m-retrieve-conf`
//!   (From already left out when the sender hid it). A forward whose every (X-Mms-Message-ID,
//!   recipient) was seen before is a duplicate: answered, not delivered again. No recipient of
//!   ours: `Error-sending-address-unresolved`.
//! * `MM4_delivery_report.REQ` / `MM4_read_reply_report.REQ` for a local sender: a
//!   [`DeliveryIndJob`] / [`ReadOrigIndJob`] for the notifier. Either is taken only for an MM this
//!   relay originated and forwarded to the report's sender, and goes to the MM's stored sender
//!   (else its `.RES` says `Error-message-not-found`, or SMTP 550 5.7.1 when it asked for none).
//! * `MM4_forward.RES` with an error status: the forwarded recipient's failure report.
//! * Every request with `X-Mms-Ack-Request: Yes` gets its `.RES` (an [`Mm4ResponseJob`]) to its
//!   `X-Mms-Originator-System`; a message that does not decode gets
//!   `Error-message-format-corrupt` that way, or 554 when it names nobody to answer.
//!
//! **Out.** [`OutboxKind::Mm4Forward`] builds the `MM4_forward.REQ` from the stored `m-send-req`
//! ([`mm4::forward_req_from_send_req`]), resolves the peer's hosts again (cached) and sends it
//! over a reused SMTP connection with failover. SMTP 250 hands responsibility over (TS 23.140
//! §8.4.1): the recipient is `Forwarded`. 4yz or no connection: retried with backoff until the
//! MM expires. 5yz: the recipient fails with a delivery report ([`status_for_send_error`]).
//! Responses and reports go to the peer's MMSE domain (peering table, else its MX).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ipnet::IpNet;
use mm4::{ForwardParams, Mm4Address, Mm4Message, RequestStatus, Response, RetrieveParams};
use mm4_smtp::{
    ClientConfig, DeliveryHandler, EnhancedCode, Host, OutboundEnvelope, Reject, SendError,
    ServerConfig, SmtpClient, SmtpServer, Stage,
};
use mms_address::Address;
use mms_pdu::{Body, EncodedString, MmsVersion, Pdu, ReadStatus, RetrieveConf, Status, TimeSpec};
use mms_resolver::{DnsLookup, RecordKind, Records, ResolveError, Resolver, ResolverConfig, Route};
use mms_store::{
    AcceptOutcome, LeasedItem, MessageRecipient, MmId, MmMeta, NewMm, NewOutboxItem, NewRecipient,
    Origin, OutboxEffects, OutboxKind, RecipientEvent, RecipientState, RetrievalToken, Store,
    StoreError, StoredMm, Timestamp,
};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::jobs::{
    DeliveryIndJob, DeliveryReportJob, Job, Mm4ForwardJob, Mm4ResponseJob, ReadOrigIndJob,
    ReadReportJob, ResolveJob,
};
use crate::notifier::report_item_outcome;
pub use crate::peer_slots::{PeerSlot, PeerSlots};
use crate::reports::{
    RecipientItem, WorkerContext, delivery_report_item, delivery_report_of, from_secs,
    read_report_of, report_expiry, secs,
};
use crate::routing::QueueTuning;
use crate::worker::{self, Handler, Outcome, Wake};

/// The SMTP answer to a store failure while taking MM4 in: `452 4.3.1` when the store is out of
/// space, `451 4.3.0` otherwise; both make the peer keep the message and retry (RFC 5321 §4.2.5).
/// The database's own error text stays in the log: a peer learns only what to do.
fn store_reject(e: StoreError) -> Reject {
    if e.is_storage_full() {
        tracing::error!(error = %e, "store full: MM4 refused until space is freed");
        metrics::counter!("mmsrelay_store_full_refusals_total", "interface" => "mm4").increment(1);
        Reject::storage_full("insufficient system storage, try again later")
    } else {
        tracing::warn!(error = %e, "store unavailable: MM4 refused for now");
        Reject::transient("local store unavailable, try again later")
    }
}

/// `[mm4]`: the MM4 (SMTP) listener and client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mm4Config {
    /// Where the MM4 SMTP server listens.
    pub listen: SocketAddr,
    /// Our host name in the SMTP greeting and EHLO; empty: the relay's MMSE domain.
    pub hostname: String,
    /// Networks of the peer relays allowed to connect (CIDR); others get 554 (DESIGN.md §6).
    pub peers: Vec<String>,
    /// `[mm4.report_peers]`: MMSE domain → the networks (CIDR) its delivery reports and read
    /// replies may come from. A report on an MM forwarded to a listed domain is refused from any
    /// other address, so one peer cannot report on MMs that went to another; a domain not
    /// listed may report from any of `peers`.
    pub report_peers: BTreeMap<String, Vec<String>>,
    /// Largest MM4 message accepted, in octets.
    pub max_message_size: usize,
    /// Most SMTP connections served at once; more get 421 (RFC 5321 §3.8).
    pub max_connections: usize,
    /// Most SMTP connections from one address (IPv6: one /64) at once; more get `421 4.7.0`,
    /// so one host holding idle connections cannot lock the other peers out.
    pub max_connections_per_ip: usize,
    /// Most RCPT TO in one transaction; more get 452 (RFC 5321 §4.5.3.1.8).
    pub max_recipients: usize,
    /// Seconds a peer has to send each whole command line (RFC 5321 §4.5.3.2.7: 300).
    pub command_timeout_secs: u64,
    /// Seconds a peer has to send a whole message after DATA.
    pub max_data_time_secs: u64,
    /// Our X-Mms-Originator-System (where peers send `.RES` and reports); empty:
    /// `system-user@<mmse domain>`.
    pub originator_system: String,
    /// Ask peers for `.RES` (X-Mms-Ack-Request: Yes) on forwards and reports.
    pub ack_request: bool,
    /// Most simultaneous SMTP connections to one peer host (default 8: each transaction waits
    /// for the peer's durable commit, so the connections bound the rate to one peer; BENCHMARKS.md).
    pub connections_per_peer: usize,
    /// Most outbound items (forwards, responses, reports) in hand for one peer at once, whether
    /// sending or waiting for one of its connections. More wait in process for their turn while
    /// the peer finishes one at least every second; items of a peer that has finished none for a
    /// second (it accepts and never answers) are put back for a second instead, so that it does
    /// not tie up the whole `[mm4.queue]`: keep it below `queue.concurrency`.
    pub in_flight_per_peer: usize,
    /// Port to use for every resolved MM4 host instead of the resolved one (tests, tunnels).
    pub smtp_port: Option<u16>,
    /// PEM certificate chain for STARTTLS on the listener (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS on the listener.
    pub tls_key: Option<PathBuf>,
    /// STARTTLS towards peers (RFC 3207): off, opportunistic (when offered) or require.
    pub tls_outbound: OutboundTls,
    /// PEM CA certificates a peer's certificate must chain to (needed unless `tls_outbound` is
    /// off). The peer is checked against the address it was reached at (an IP address SAN).
    pub tls_ca_file: Option<PathBuf>,
    /// SHA-256 fingerprints (64 hex digits, `:` allowed) of the peer certificates accepted;
    /// empty: any certificate that chains to `tls_ca_file`.
    pub tls_pins: Vec<String>,
    /// SMTP connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Expiry of a received MM without X-Mms-Expiry, in seconds.
    pub default_expiry_secs: u64,
    /// Longest expiry accepted from a peer, in seconds.
    pub max_expiry_secs: u64,
    /// How long responses and reports are retried, in seconds.
    pub report_keep_secs: u64,
    /// The outbound worker loop.
    pub queue: QueueTuning,
}

impl Default for Mm4Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
            hostname: String::new(),
            peers: vec!["127.0.0.0/8".into()],
            report_peers: BTreeMap::new(),
            max_message_size: 10 * 1024 * 1024,
            max_connections: 512,
            max_connections_per_ip: 32,
            max_recipients: 100,
            command_timeout_secs: 300,
            max_data_time_secs: 600,
            originator_system: String::new(),
            ack_request: true,
            connections_per_peer: 8,
            in_flight_per_peer: 16,
            smtp_port: None,
            tls_cert: None,
            tls_key: None,
            tls_outbound: OutboundTls::Off,
            tls_ca_file: None,
            tls_pins: Vec::new(),
            connect_timeout_ms: 10_000,
            default_expiry_secs: 7 * 86_400,
            max_expiry_secs: 30 * 86_400,
            report_keep_secs: 2 * 86_400,
            queue: QueueTuning::default(),
        }
    }
}

/// `[mm4] tls_outbound`: whether forwards, responses and reports go over STARTTLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundTls {
    /// Always in clear.
    #[default]
    Off,
    /// STARTTLS when the peer offers it (then its certificate must verify), else in clear.
    Opportunistic,
    /// Only over STARTTLS: a peer that does not offer it is a permanent failure (RFC 3207 §4).
    Require,
}

/// The rustls client configuration of `[mm4] tls_outbound`, `tls_ca_file` and `tls_pins`;
/// `None` when off.
pub fn outbound_tls(config: &Mm4Config) -> Result<Option<Arc<rustls::ClientConfig>>, StartError> {
    if config.tls_outbound == OutboundTls::Off {
        return Ok(None);
    }
    let path = config.tls_ca_file.as_ref().ok_or(StartError::NoCaFile)?;
    let invalid = |e: String| StartError::Tls(io::Error::new(io::ErrorKind::InvalidData, e));
    let pem = std::fs::read(path).map_err(|e| {
        StartError::Tls(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots
            .add(cert.map_err(StartError::Tls)?)
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(invalid(format!("{}: no certificate", path.display())));
    }
    let pins = config
        .tls_pins
        .iter()
        .map(|p| {
            let digits: String = p.chars().filter(|c| *c != ':').collect();
            hex::decode(&digits)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| StartError::BadPin(p.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let webpki = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let builder = rustls::ClientConfig::builder().dangerous();
    let tls = if pins.is_empty() {
        builder.with_custom_certificate_verifier(webpki)
    } else {
        builder.with_custom_certificate_verifier(Arc::new(PinnedVerifier { webpki, pins }))
    };
    Ok(Some(Arc::new(tls.with_no_client_auth())))
}

/// Chain verification, then the leaf's SHA-256 must be one of the pins.
#[derive(Debug)]
struct PinnedVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if self.pins.iter().any(|p| p[..] == *digest.as_ref()) {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "peer certificate is not one of [mm4] tls_pins".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Why the MM4 listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A `peers` or `report_peers` entry is not a CIDR.
    #[error("[mm4] peers / report_peers: {0:?} is not a network (CIDR)")]
    BadPeer(String),
    /// Only one of `tls_cert` / `tls_key` is set.
    #[error("[mm4] tls_cert and tls_key go together")]
    HalfTls,
    /// Reading the TLS files failed.
    #[error("[mm4] TLS: {0}")]
    Tls(io::Error),
    /// `tls_outbound` is on without `tls_ca_file`.
    #[error("[mm4] tls_outbound needs tls_ca_file")]
    NoCaFile,
    /// A `tls_pins` entry is not 64 hex digits.
    #[error("[mm4] tls_pins: {0:?} is not a SHA-256 fingerprint (64 hex digits)")]
    BadPin(String),
    /// Binding the listener failed.
    #[error("[mm4] cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// Who we are on MM4: our MMSE domains and system address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mm4Identity {
    /// Our MMSE domain (right-hand side of our users' MM4 addresses).
    pub mmse_domain: String,
    /// Every MMSE domain whose recipients we accept: ours, the resolver's own MMSE domains and
    /// those of our SIP domains.
    pub domains: Vec<String>,
    /// Our X-Mms-Originator-System.
    pub system: String,
    /// Our SMTP host name.
    pub hostname: String,
}

impl Mm4Identity {
    /// Our identity from `[relay] mmse_domain`, `[resolver]` and `[mm4]`.
    pub fn new(mmse_domain: &str, resolver: &ResolverConfig, config: &Mm4Config) -> Self {
        let mmse = mmse_domain.trim_end_matches('.').to_ascii_lowercase();
        let mut domains = vec![mmse.clone()];
        domains.extend(
            resolver
                .own_mmse_domains
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        );
        domains.extend(
            resolver
                .own_sip_domains
                .iter()
                .map(|d| resolver.mmse_domain_for(d.trim_end_matches('.'))),
        );
        domains.sort();
        domains.dedup();
        let system = if config.originator_system.is_empty() {
            format!("system-user@{mmse}")
        } else {
            config.originator_system.clone()
        };
        let hostname = if config.hostname.is_empty() {
            mmse.clone()
        } else {
            config.hostname.clone()
        };
        Self {
            mmse_domain: mmse,
            domains,
            system,
            hostname,
        }
    }

    fn serves(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// The domain of an RFC 5321 address (`system-user@mms.a.example` → `mms.a.example`).
fn domain_of(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
}

/// The X-Mms-Transaction-ID of the forward of `recipient` of `mm_id`: names both, so the
/// `MM4_forward.RES` finds the recipient again.
pub fn forward_transaction_id(mm_id: &MmId, recipient: &str) -> String {
    format!("fwd-{mm_id}-{}", hex::encode(recipient))
}

/// The MM and recipient a forward's X-Mms-Transaction-ID names ([`forward_transaction_id`]).
pub fn parse_forward_transaction_id(tid: &str) -> Option<(MmId, String)> {
    let (mm, rcpt) = tid.strip_prefix("fwd-")?.split_once('-')?;
    let rcpt = String::from_utf8(hex::decode(rcpt).ok()?).ok()?;
    Some((MmId::from_string(mm.to_owned()), rcpt))
}

/// The X-Mms-Status of the delivery report for a forward the peer refused for good: a refused
/// recipient is Unreachable, a refused message (too big, content) Rejected, anything else
/// Indeterminate (MMS ENC §7.3.54, TS 23.140 §8.4.1.2).
pub fn status_for_send_error(e: &SendError) -> Status {
    match e {
        SendError::RecipientsRejected { .. } | SendError::InvalidAddress(_) => Status::UNREACHABLE,
        SendError::MessageTooBig { .. } => Status::REJECTED,
        SendError::Rejected {
            stage: Stage::Rcpt, ..
        } => Status::UNREACHABLE,
        SendError::Rejected {
            stage: Stage::Message | Stage::Data,
            reply,
        } if matches!(reply.code, 552 | 554) => Status::REJECTED,
        _ => Status::INDETERMINATE,
    }
}

/// The X-Mms-Status of the failure report for a `MM4_forward.RES` error status.
pub fn status_for_request_status(s: RequestStatus) -> Status {
    match s {
        RequestStatus::Ok => Status::FORWARDED,
        RequestStatus::ErrorSendingAddressUnresolved => Status::UNREACHABLE,
        RequestStatus::ErrorContentNotAccepted | RequestStatus::ErrorServiceDenied => {
            Status::REJECTED
        }
        _ => Status::INDETERMINATE,
    }
}

/// Splits an encoded `m-retrieve-conf` into the store's `headers` and `body`, as
/// [`crate::mm1::encode_for_store`] does for `m-send-req`.
pub fn retrieve_conf_for_store(conf: &RetrieveConf) -> (Bytes, Bytes) {
    let full = Bytes::from(Pdu::RetrieveConf(conf.clone()).encode());
    let mut head_only = conf.clone();
    head_only.body = Body::Single(Bytes::new());
    let head_len = Pdu::RetrieveConf(head_only).encode().len().min(full.len());
    (full.slice(..head_len), full.slice(head_len..))
}

/// A few raw header values of a message that did not decode, to answer it anyway.
fn raw_header(data: &[u8], name: &str) -> Option<String> {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    let head = String::from_utf8_lossy(data.get(..end)?);
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value.filter(|v| !v.is_empty())
}

/// The `.RES` type answering a `.REQ` type.
fn response_type(request_type: &str) -> &'static str {
    match request_type.to_ascii_lowercase().as_str() {
        "mm4_delivery_report.req" => "MM4_delivery_report.RES",
        "mm4_read_reply_report.req" => "MM4_read_reply_report.RES",
        _ => "MM4_forward.RES",
    }
}

/// The request a `.RES` answers.
struct Answering<'a> {
    /// `MM4_forward.RES`, ...
    response_type: &'a str,
    /// The requester's X-Mms-Originator-System.
    to: &'a str,
    transaction_id: &'a str,
    message_id: &'a str,
}

/// The MM4 server's delivery handler (MM4 in).
pub struct Mm4Inbound<S> {
    store: S,
    me: Arc<Mm4Identity>,
    config: Mm4Config,
    wake: Wake,
}

impl<S: Store> Mm4Inbound<S> {
    /// A handler storing into `store`.
    pub fn new(store: S, me: Arc<Mm4Identity>, config: Mm4Config, wake: Wake) -> Self {
        Self {
            store,
            me,
            config,
            wake,
        }
    }

    fn response_item(
        &self,
        request: &Answering<'_>,
        status: RequestStatus,
        text: Option<String>,
        key_suffix: &str,
    ) -> NewOutboxItem {
        let (to, transaction_id) = (request.to, request.transaction_id);
        Mm4ResponseJob {
            message_type: request.response_type.to_owned(),
            to: to.to_owned(),
            transaction_id: transaction_id.to_owned(),
            message_id: request.message_id.to_owned(),
            request_status_code: status.as_str().to_owned(),
            status_text: text,
        }
        .item(
            format!("mm4-response:{to}:{transaction_id}{key_suffix}"),
            None,
            None,
            Timestamp::now(),
        )
    }

    async fn enqueue(&self, items: Vec<NewOutboxItem>) -> Result<(), Reject> {
        if items.is_empty() {
            return Ok(());
        }
        let kinds: Vec<OutboxKind> = items.iter().map(|i| i.kind).collect();
        self.store
            .enqueue(items, Timestamp::now())
            .await
            .map_err(store_reject)?;
        self.wake.kinds(kinds);
        Ok(())
    }

    async fn malformed(&self, data: &[u8], error: mm4::Mm4Error) -> Result<(), Reject> {
        let ack =
            raw_header(data, "X-Mms-Ack-Request").is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let to = raw_header(data, "X-Mms-Originator-System").or_else(|| raw_header(data, "Sender"));
        let tid = raw_header(data, "X-Mms-Transaction-ID");
        tracing::info!(error = %error, "malformed MM4 message");
        match (ack, to, tid) {
            (true, Some(to), Some(tid)) if to.contains('@') => {
                let request = raw_header(data, "X-Mms-Message-Type").unwrap_or_default();
                let message_id = raw_header(data, "X-Mms-Message-ID").unwrap_or_default();
                let answering = Answering {
                    response_type: response_type(&request),
                    to: to.trim_matches(['<', '>']),
                    transaction_id: &tid,
                    message_id: &message_id,
                };
                let item = self.response_item(
                    &answering,
                    error.request_status(),
                    Some(error.to_string()),
                    "",
                );
                self.enqueue(vec![item]).await
            }
            _ => Err(Reject {
                code: 554,
                enhanced: EnhancedCode::new(5, 6, 0),
                text: format!("malformed MM4 message: {error}"),
            }),
        }
    }

    async fn forward(&self, fwd: mm4::ForwardReq, mail_from: &str) -> Result<(), Reject> {
        let reply_to = fwd
            .originator_system
            .clone()
            .or_else(|| fwd.sender.clone())
            .or_else(|| (!mail_from.is_empty()).then(|| mail_from.to_owned()));
        let wants_res = fwd.ack_request == Some(true);
        let respond = |status: RequestStatus, text: Option<String>, suffix: &str| match (
            &reply_to, wants_res,
        ) {
            (Some(to), true) => Some(self.response_item(
                &Answering {
                    response_type: "MM4_forward.RES",
                    to,
                    transaction_id: &fwd.transaction_id,
                    message_id: &fwd.message_id,
                },
                status,
                text,
                suffix,
            )),
            _ => None,
        };
        let mut ours: Vec<String> = Vec::new();
        for a in &fwd.rcpt_to {
            let address = a.address().to_string();
            if self.me.serves(a.domain()) && !ours.contains(&address) {
                ours.push(address);
            }
        }
        if ours.is_empty() {
            tracing::info!(message_id = %fwd.message_id, "MM4 forward for no recipient of ours");
            return match respond(
                RequestStatus::ErrorSendingAddressUnresolved,
                Some("no recipient is served by this relay".into()),
                "",
            ) {
                Some(item) => self.enqueue(vec![item]).await,
                None => Err(Reject::unknown_recipient("no recipient is served here")),
            };
        }

        let now = Timestamp::now();
        let now_s = secs(now);
        let latest = now_s.saturating_add(self.config.max_expiry_secs);
        let expiry = match fwd.expiry {
            Some(TimeSpec::Absolute(t)) => t.clamp(now_s, latest),
            Some(TimeSpec::Relative(s)) => now_s.saturating_add(s).min(latest),
            None => now_s.saturating_add(self.config.default_expiry_secs),
        };
        let conf = mm4::retrieve_conf_from_forward_req(
            &fwd,
            &RetrieveParams {
                transaction_id: None,
                version: MmsVersion::V1_2,
            },
        );
        let (headers, body) = retrieve_conf_for_store(&conf);
        let meta = MmMeta {
            message_id: fwd.message_id.clone(),
            transaction_id: fwd.transaction_id.clone(),
            from: fwd.from.address().to_string(),
            mms_version: MmsVersion::V1_2.to_string(),
            content_type: conf
                .content_type
                .media
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_owned(),
            subject: fwd.subject.as_ref().map(EncodedString::text),
            size: (headers.len() + body.len()) as u64,
            date: from_secs(fwd.date),
            expiry: from_secs(expiry),
            delivery_report: fwd.delivery_report == Some(true),
            read_report: fwd.read_reply == Some(true),
            origin: Origin::Mm4 {
                originator_system: reply_to.clone().unwrap_or_default(),
            },
        };
        let mut recipients = Vec::with_capacity(ours.len());
        let mut outbox = Vec::with_capacity(ours.len() + 1);
        for address in ours {
            let token = RetrievalToken::generate();
            outbox.push(
                ResolveJob {
                    retrieval_token: Some(token.as_str().to_owned()),
                }
                .item(
                    format!("resolve:{}:{address}", fwd.message_id),
                    None,
                    Some(address.clone()),
                    now,
                ),
            );
            recipients.push(NewRecipient {
                address,
                state: RecipientState::Resolving,
                retrieval_token: Some(token),
            });
        }
        outbox.extend(respond(RequestStatus::Ok, None, ""));
        let kinds: Vec<OutboxKind> = outbox.iter().map(|i| i.kind).collect();
        match self
            .store
            .accept_mm(
                NewMm {
                    meta,
                    headers,
                    body,
                },
                recipients,
                outbox,
                now,
            )
            .await
        {
            Ok(AcceptOutcome::Stored { id, recipients }) => {
                tracing::debug!(mm = %id, message_id = %fwd.message_id, recipients = recipients.len(), "MM4 forward stored");
                self.wake.kinds(kinds);
                Ok(())
            }
            Ok(AcceptOutcome::Duplicate) => {
                tracing::info!(message_id = %fwd.message_id, "duplicate MM4 forward answered, not delivered again");
                let suffix = format!(":dup:{:016x}", rand::random::<u64>());
                let item = respond(RequestStatus::Ok, None, &suffix);
                self.enqueue(item.into_iter().collect()).await
            }
            Err(e) => Err(store_reject(e)),
        }
    }

    /// Queues the notifier's job for a report to a local sender (`originator`), and the `.RES`
    /// when `request` wants one.
    async fn report(
        &self,
        request: Option<Answering<'_>>,
        originator: &Mm4Address,
        job: NewOutboxItem,
    ) -> Result<(), Reject> {
        let ours = self.me.serves(originator.domain());
        let mut items: Vec<NewOutboxItem> = Vec::new();
        if ours {
            items.push(job);
        }
        if let Some(request) = request {
            let (status, text) = if ours {
                (RequestStatus::Ok, None)
            } else {
                (
                    RequestStatus::ErrorSendingAddressUnresolved,
                    Some(format!("{originator} is not served by this relay")),
                )
            };
            items.push(self.response_item(&request, status, text, ""));
        }
        if items.is_empty() {
            return Err(Reject::unknown_recipient("originator not served here"));
        }
        self.enqueue(items).await
    }

    /// The MM an `MM4_delivery_report.REQ` or `MM4_read_reply_report.REQ` (TS 23.140 §8.4.2,
    /// §8.4.3) may report on: one this relay originated (MM1 origin) under `message_id` and
    /// forwarded over MM4 to `recipient`, the report's From (state `forwarding` — the 250 may not
    /// be recorded yet — or `forwarded`). `None` for an unknown message id, another recipient's
    /// MM, or a recipient this relay did not forward to.
    async fn forwarded_to(
        &self,
        message_id: &str,
        recipient: &str,
    ) -> Result<Option<MessageRecipient>, Reject> {
        let found = self
            .store
            .mm_by_message_id(message_id, recipient)
            .await
            .map_err(store_reject)?;
        Ok(found.into_iter().find(|m| {
            matches!(m.meta.origin, Origin::Mm1 { .. })
                && matches!(
                    m.recipient.state,
                    RecipientState::Forwarding | RecipientState::Forwarded
                )
        }))
    }

    /// A delivery or read report from `peer` on `message_id` for `recipient`: when
    /// [`Self::forwarded_to`] finds the MM, the notifier's job `item(mm)` (addressed to the MM's
    /// stored sender, not to whatever the report's To says) and the `.RES`; otherwise logged and
    /// refused with `Error-message-not-found`.
    async fn report_on_forwarded(
        &self,
        request: Option<Answering<'_>>,
        message_id: &str,
        recipient: &str,
        originator: &Mm4Address,
        peer: SocketAddr,
        item: impl FnOnce(&MessageRecipient) -> NewOutboxItem,
    ) -> Result<(), Reject> {
        match self.forwarded_to(message_id, recipient).await? {
            Some(m) if !self.may_report(&m, peer) => {
                tracing::info!(
                    message_id,
                    recipient,
                    %peer,
                    forwarded_to = m.recipient.detail.as_deref(),
                    "MM4 report from an address not in [mm4.report_peers] of the peer the MM went to: refused"
                );
                self.refuse(
                    request,
                    RequestStatus::ErrorServiceDenied,
                    "reports on this message are taken only from the peer it was forwarded to",
                )
                .await
            }
            Some(m) => self.report(request, originator, item(&m)).await,
            None => {
                tracing::info!(
                    message_id,
                    recipient,
                    %peer,
                    "MM4 report for no MM forwarded to its sender: refused"
                );
                self.refuse(
                    request,
                    RequestStatus::ErrorMessageNotFound,
                    "no such message was forwarded to that recipient",
                )
                .await
            }
        }
    }

    /// Whether `peer` may report on `m`: the domain `m` was forwarded to (the recipient's route
    /// detail) is not in `[mm4.report_peers]`, or `peer` is in one of its networks.
    fn may_report(&self, m: &MessageRecipient, peer: SocketAddr) -> bool {
        let Some(nets) = m
            .recipient
            .detail
            .as_deref()
            .and_then(|domain| self.config.report_peers.get(domain))
        else {
            return true;
        };
        let ip = crate::config::canonical_ip(peer.ip());
        nets.iter()
            .any(|n| parse_net(n).is_ok_and(|n| n.contains(&ip)))
    }

    /// Refuses a request: its `.RES` with `status` when it asked for one, else SMTP 550 5.7.1
    /// (RFC 3463 §3.8: delivery not authorized, message refused).
    async fn refuse(
        &self,
        request: Option<Answering<'_>>,
        status: RequestStatus,
        text: &str,
    ) -> Result<(), Reject> {
        match request {
            Some(request) => {
                let item = self.response_item(&request, status, Some(text.to_owned()), "");
                self.enqueue(vec![item]).await
            }
            None => Err(Reject {
                code: 550,
                enhanced: EnhancedCode::new(5, 7, 1),
                text: text.to_owned(),
            }),
        }
    }

    async fn forward_res(&self, res: Response) -> Result<(), Reject> {
        if res.request_status.is_ok() {
            tracing::debug!(transaction = %res.transaction_id, "MM4_forward.RES Ok");
            return Ok(());
        }
        let Some((mm_id, recipient)) = parse_forward_transaction_id(&res.transaction_id) else {
            tracing::info!(transaction = %res.transaction_id, "MM4_forward.RES for no forward of ours");
            return Ok(());
        };
        let mm = match self.store.mm_head(&mm_id).await {
            Ok(Some(mm)) => mm,
            Ok(None) => return Ok(()),
            Err(e) => return Err(store_reject(e)),
        };
        let now = Timestamp::now();
        let text = res
            .status_text
            .as_ref()
            .map(EncodedString::text)
            .unwrap_or_else(|| res.request_status.as_str().to_owned());
        let error = format!(
            "peer answered MM4_forward.RES {}: {text}",
            res.request_status
        );
        tracing::info!(mm = %mm_id, recipient, error, "forward refused by the peer");
        let report = delivery_report_item(
            &mm.id,
            &mm.meta,
            &recipient,
            status_for_request_status(res.request_status),
            Some(error.clone()),
            now,
        );
        // Still Forwarding (the .RES overtook our bookkeeping): fail it with the report. Already
        // Forwarded (responsibility was handed over at 250): the state stays, the report goes.
        let effects = OutboxEffects {
            complete: None,
            enqueue: report.clone().into_iter().collect(),
        };
        let failed = self
            .store
            .update_recipient(
                &mm_id,
                &recipient,
                RecipientEvent::Failed { error },
                effects,
                now,
            )
            .await;
        if failed.is_err() {
            self.enqueue(report.into_iter().collect()).await?;
        } else {
            self.wake.kinds(report.iter().map(|i| i.kind));
        }
        Ok(())
    }
}

impl<S: Store> DeliveryHandler for Mm4Inbound<S> {
    async fn check_recipient(&self, rcpt: &str, _peer: SocketAddr) -> Result<(), Reject> {
        if rcpt.eq_ignore_ascii_case(&self.me.system) || Mm4Address::parse(rcpt).is_ok() {
            Ok(())
        } else {
            Err(Reject::unknown_recipient("not an MM4 address"))
        }
    }

    async fn deliver(&self, envelope: mm4_smtp::Envelope, data: Bytes) -> Result<(), Reject> {
        let env = mm4::Envelope {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
        };
        let msg = match mm4::decode(&env, &data) {
            Ok(m) => m,
            Err(e) => return self.malformed(&data, e).await,
        };
        let wants_res = msg.wants_response();
        match msg {
            Mm4Message::ForwardReq(fwd) => self.forward(*fwd, &envelope.mail_from).await,
            Mm4Message::DeliveryReportReq(r) => {
                let reply_to = r
                    .sender
                    .clone()
                    .unwrap_or_else(|| envelope.mail_from.clone());
                let request = (wants_res && !reply_to.is_empty()).then(|| Answering {
                    response_type: "MM4_delivery_report.RES",
                    to: &reply_to,
                    transaction_id: &r.transaction_id,
                    message_id: &r.message_id,
                });
                let recipient = r.from.address().to_string();
                self.report_on_forwarded(
                    request,
                    &r.message_id,
                    &recipient,
                    &r.to,
                    envelope.peer_addr,
                    |m| {
                        let job = DeliveryIndJob(DeliveryReportJob {
                            message_id: r.message_id.clone(),
                            sender: m.meta.from.clone(),
                            recipient: recipient.clone(),
                            status: r.mm_status.to_mms_status().0,
                            status_text: r.status_text.as_ref().map(EncodedString::text),
                            date: r.date,
                            originator_system: None,
                        });
                        let key = format!("delivery-ind:mm4:{}:{recipient}", r.message_id);
                        job.item(key, None, None, Timestamp::now())
                    },
                )
                .await
            }
            Mm4Message::ReadReplyReportReq(r) => {
                let reply_to = r
                    .sender
                    .clone()
                    .unwrap_or_else(|| envelope.mail_from.clone());
                let request = (wants_res && !reply_to.is_empty()).then(|| Answering {
                    response_type: "MM4_read_reply_report.RES",
                    to: &reply_to,
                    transaction_id: &r.transaction_id,
                    message_id: &r.message_id,
                });
                let reader = r.from.address().to_string();
                self.report_on_forwarded(
                    request,
                    &r.message_id,
                    &reader,
                    &r.to,
                    envelope.peer_addr,
                    |m| {
                        let job = ReadOrigIndJob(ReadReportJob {
                            message_id: r.message_id.clone(),
                            sender: m.meta.from.clone(),
                            recipient: reader.clone(),
                            read_status: r.read_status.0,
                            date: r.date,
                            originator_system: None,
                        });
                        let key = format!("read-orig-ind:{}:{reader}", m.mm_id);
                        job.item(key, None, None, Timestamp::now())
                    },
                )
                .await
            }
            Mm4Message::ForwardRes(res) => self.forward_res(res).await,
            other => {
                tracing::debug!(
                    kind = other.message_type(),
                    transaction = other.transaction_id(),
                    "MM4 response received"
                );
                Ok(())
            }
        }
    }
}

/// The sender of forwards, responses and reports (MM4 out).
pub struct Mm4Outbound<S, L> {
    cx: WorkerContext<S>,
    resolver: Arc<Resolver<L>>,
    client: SmtpClient,
    me: Arc<Mm4Identity>,
    config: Mm4Config,
    in_flight: PeerSlots,
}

/// How long an item is put back for when its peer has `in_flight_per_peer` items in hand and
/// is stalled, or the item waited for its turn as long as it may.
const PEER_BUSY_DELAY: Duration = Duration::from_secs(1);

/// The longest an item waits in process for its peer's turn.
const PEER_MAX_WAIT: Duration = Duration::from_secs(10);

/// Until when an item leased until `lease_until` may wait for its peer's turn: half its
/// remaining lease (the rest is for sending it), at most [`PEER_MAX_WAIT`].
fn peer_wait_deadline(lease_until: Timestamp) -> tokio::time::Instant {
    let left = lease_until
        .as_millis()
        .saturating_sub(Timestamp::now().as_millis())
        .max(0);
    let wait = Duration::from_millis(u64::try_from(left / 2).unwrap_or(0)).min(PEER_MAX_WAIT);
    tokio::time::Instant::now() + wait
}

/// Why no hosts are known for a peer.
enum HostError {
    Transient(String),
    Permanent(String),
}

impl<S: Store, L: DnsLookup + 'static> Mm4Outbound<S, L> {
    /// A sender resolving peers with `resolver`, over STARTTLS as `config`'s `tls_outbound`,
    /// `tls_ca_file` and `tls_pins` say (see [`outbound_tls`]).
    pub fn new(
        store: S,
        resolver: Arc<Resolver<L>>,
        me: Arc<Mm4Identity>,
        config: Mm4Config,
        wake: Wake,
    ) -> Result<Self, StartError> {
        let tls = outbound_tls(&config)?;
        let mut client = ClientConfig::new(me.hostname.clone());
        client.require_tls = tls.is_some() && config.tls_outbound == OutboundTls::Require;
        client.tls = tls;
        client.max_connections_per_host = config.connections_per_peer.max(1);
        client.connect_timeout = Duration::from_millis(config.connect_timeout_ms.max(1));
        Ok(Self {
            cx: WorkerContext { store, wake },
            resolver,
            client: SmtpClient::new(client),
            me,
            in_flight: PeerSlots::new(config.in_flight_per_peer),
            config,
        })
    }

    /// A slot among the items in hand for the peer at `hosts`, waiting for the peer's turn in
    /// process ([`PeerSlots::take`]), or the deferral to return.
    async fn peer_slot(
        &self,
        hosts: &[Host],
        lease_until: Timestamp,
    ) -> Result<Option<PeerSlot>, Outcome> {
        let Some(first) = hosts.first() else {
            return Ok(None);
        };
        match self
            .in_flight
            .take(first.addr, peer_wait_deadline(lease_until))
            .await
        {
            Ok(slot) => Ok(Some(slot)),
            Err(e) => Err(Outcome::Defer {
                until: Timestamp::from_millis(
                    Timestamp::now()
                        .as_millis()
                        .saturating_add(PEER_BUSY_DELAY.as_millis() as i64),
                ),
                error: format!("{}: {e}", first.name),
            }),
        }
    }

    fn to_hosts(&self, addrs: Vec<SocketAddr>) -> Vec<Host> {
        addrs
            .into_iter()
            .map(|mut addr| {
                if let Some(port) = self.config.smtp_port {
                    addr.set_port(port);
                }
                Host {
                    name: addr.ip().to_string(),
                    addr,
                }
            })
            .collect()
    }

    fn route_hosts(&self, route: Result<Route, ResolveError>) -> Result<Vec<Host>, HostError> {
        match route {
            Ok(Route::Peer { hosts, .. }) => Ok(self.to_hosts(hosts)),
            Ok(Route::Local) => Err(HostError::Permanent(
                "the address is served by this relay".into(),
            )),
            Err(e) if e.is_transient() => Err(HostError::Transient(e.to_string())),
            Err(e) => Err(HostError::Permanent(e.to_string())),
        }
    }

    /// The MM4 hosts of `address` (DESIGN.md §3).
    async fn hosts_of_address(&self, address: &Address) -> Result<Vec<Host>, HostError> {
        self.route_hosts(self.resolver.resolve(address).await.outcome)
    }

    /// The MM4 hosts of an MMSE domain: the peering table, else its MX hosts (RFC 5321 §5.1).
    async fn hosts_of_domain(&self, domain: &str) -> Result<Vec<Host>, HostError> {
        if let Ok(a) = Address::parse(&format!("postmaster@{domain}")) {
            match self.resolver.resolve(&a).await.outcome {
                Err(ResolveError::NotRoutable(_)) => {}
                other => return self.route_hosts(other),
            }
        }
        let lookup = self.resolver.lookup();
        let port = self.resolver.config().smtp_port;
        let mut exchanges = match lookup.lookup(domain, RecordKind::Mx).await.result {
            Ok(answer) => match &answer.records {
                Records::Mx(mx) => mx.clone(),
                _ => Vec::new(),
            },
            Err(e) if e.is_transient() => {
                return Err(HostError::Transient(format!("MX {domain}: {e}")));
            }
            Err(_) => Vec::new(),
        };
        exchanges.sort_by_key(|m| m.preference);
        let mut names: Vec<String> = exchanges
            .into_iter()
            .filter(|m| !m.exchange.is_empty())
            .map(|m| m.exchange)
            .collect();
        if names.is_empty() {
            names.push(domain.to_owned());
        }
        let mut addrs = Vec::new();
        for name in names {
            if let Ok(answer) = lookup.lookup(&name, RecordKind::A).await.result
                && let Records::Ip(ips) = &answer.records
            {
                addrs.extend(ips.iter().map(|ip: &IpAddr| SocketAddr::new(*ip, port)));
            }
        }
        if addrs.is_empty() {
            return Err(HostError::Permanent(format!("no MM4 host for {domain}")));
        }
        Ok(self.to_hosts(addrs))
    }

    async fn send(
        &self,
        hosts: &[Host],
        msg: &Mm4Message,
    ) -> Result<mm4_smtp::SendOutcome, SendError> {
        let (envelope, bytes) = mm4::encode(msg);
        let envelope = OutboundEnvelope {
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
        };
        self.client.send(hosts, &envelope, &bytes).await
    }

    async fn forward(&self, item: LeasedItem) -> Outcome {
        let named = match RecipientItem::<Mm4ForwardJob>::of(&item, "forward", None) {
            Ok(named) => named,
            Err(outcome) => return outcome,
        };
        let (mm_id, recipient) = (named.mm_id, named.recipient);
        let read = self.cx.store.mm_with_recipient(mm_id, recipient).await;
        let (mm, record) = match named.mm_and_record(read) {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let job = named.job;
        if record.state != RecipientState::Forwarding {
            return Outcome::Done;
        }
        let fwd = match self.forward_req(&mm, recipient, &job) {
            Ok(f) => f,
            Err(error) => {
                return self
                    .cx
                    .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
                    .await;
            }
        };
        let address = fwd.rcpt_to.first().map(|a| a.address().clone());
        let hosts = match address {
            Some(a) => self.hosts_of_address(&a).await,
            None => Err(HostError::Permanent("no recipient".into())),
        };
        let hosts = match hosts {
            Ok(h) => h,
            Err(HostError::Transient(error)) => {
                return Outcome::Retry {
                    error,
                    expiry: Some(mm.meta.expiry),
                };
            }
            Err(HostError::Permanent(error)) => {
                return self
                    .cx
                    .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
                    .await;
            }
        };
        let _slot = match self.peer_slot(&hosts, item.lease_until).await {
            Ok(slot) => slot,
            Err(deferred) => return deferred,
        };
        match self.send(&hosts, &Mm4Message::from(fwd)).await {
            Ok(_) => {
                self.cx
                    .advance(&item, mm_id, recipient, RecipientEvent::Forwarded)
                    .await
            }
            Err(e) if e.is_transient() => Outcome::Retry {
                error: e.to_string(),
                expiry: Some(mm.meta.expiry),
            },
            Err(e) => {
                let status = status_for_send_error(&e);
                let error = match e.reply() {
                    Some(reply) => format!("{e}: {} {}", reply.code, reply.text()),
                    None => e.to_string(),
                };
                self.cx
                    .fail_recipient(&item, &mm, recipient, error, status)
                    .await
            }
        }
    }

    /// The `MM4_forward.REQ` of `recipient` of a stored MM1 `m-send-req`.
    fn forward_req(
        &self,
        mm: &StoredMm,
        recipient: &str,
        job: &Mm4ForwardJob,
    ) -> Result<mm4::ForwardReq, String> {
        let mut req = match crate::mm1::stored_pdu(mm) {
            Ok(Pdu::SendReq(s)) => s,
            Ok(other) => {
                return Err(format!(
                    "stored {} is not forwarded",
                    other.message_type().0
                ));
            }
            Err(e) => return Err(format!("stored MM does not decode: {e}")),
        };
        let address = Address::parse(recipient).map_err(|e| format!("recipient: {e}"))?;
        let sender = Address::parse(&mm.meta.from).map_err(|e| format!("sender: {e}"))?;
        let from =
            Mm4Address::new(sender, &self.me.mmse_domain).map_err(|e| format!("sender: {e}"))?;
        let rcpt = Mm4Address::new(address.clone(), &job.mmse_domain)
            .map_err(|e| format!("recipient: {e}"))?;
        // To/Cc in the MM4 form of their own domains; addresses that do not parse are dropped
        // from the header copy (they were refused at submission).
        let mut domains = Vec::new();
        let mut normalise = |list: &mut Vec<EncodedString>| {
            list.retain_mut(|written| match Address::parse(&written.text()) {
                Ok(a) => {
                    let domain = if a == address {
                        job.mmse_domain.clone()
                    } else if let Address::Sip(uri) = &a {
                        self.resolver.config().mmse_domain_for(uri.host())
                    } else {
                        self.me.mmse_domain.clone()
                    };
                    *written = EncodedString::plain(a.to_mms_enc());
                    domains.push((a, domain));
                    true
                }
                Err(_) => false,
            });
        };
        normalise(&mut req.to);
        normalise(&mut req.cc);
        let mut params = ForwardParams::new(
            from,
            &mm.meta.message_id,
            &forward_transaction_id(&mm.id, recipient),
            secs(mm.meta.date),
            &self.me.mmse_domain,
        );
        params.recipient_domains = domains;
        params.rcpt_to = vec![rcpt];
        params.sender = Some(self.me.system.clone());
        params.originator_system = Some(self.me.system.clone());
        params.ack_request = self.config.ack_request;
        mm4::forward_req_from_send_req(&req, &params).map_err(|e| e.to_string())
    }

    /// Sends a response or report (of the item leased until `lease_until`) to `hosts`; `expiry`
    /// bounds its retries.
    async fn send_report(
        &self,
        hosts: Result<Vec<Host>, HostError>,
        msg: Mm4Message,
        expiry: Timestamp,
        lease_until: Timestamp,
    ) -> Outcome {
        let hosts = match hosts {
            Ok(h) => h,
            Err(HostError::Transient(error)) => {
                return Outcome::Retry {
                    error,
                    expiry: Some(expiry),
                };
            }
            Err(HostError::Permanent(error)) => return Outcome::Fail { error },
        };
        let _slot = match self.peer_slot(&hosts, lease_until).await {
            Ok(slot) => slot,
            Err(deferred) => return deferred,
        };
        match self.send(&hosts, &msg).await {
            Ok(_) => Outcome::Done,
            Err(e) if e.is_transient() => Outcome::Retry {
                error: e.to_string(),
                expiry: Some(expiry),
            },
            Err(e) => Outcome::Fail {
                error: e.to_string(),
            },
        }
    }

    async fn response(&self, item: LeasedItem) -> Outcome {
        let job = match Mm4ResponseJob::from_payload(&item.payload) {
            Ok(j) => j,
            Err(e) => {
                return Outcome::Fail {
                    error: e.to_string(),
                };
            }
        };
        let now = Timestamp::now();
        let res = Response {
            version: mm4::DEFAULT_3GPP_MMS_VERSION.to_owned(),
            transaction_id: job.transaction_id.clone(),
            message_id: job.message_id.clone(),
            rfc5322_message_id: None,
            from: self.me.system.clone(),
            to: job.to.clone(),
            date: secs(now),
            request_status: RequestStatus::from_name(&job.request_status_code)
                .unwrap_or(RequestStatus::ErrorUnspecified),
            status_text: job.status_text.clone().map(EncodedString::utf8),
            extra: Vec::new(),
        };
        let msg = match job.message_type.as_str() {
            "MM4_forward.RES" => Mm4Message::ForwardRes(res),
            "MM4_delivery_report.RES" => Mm4Message::DeliveryReportRes(res),
            "MM4_read_reply_report.RES" => Mm4Message::ReadReplyReportRes(res),
            other => {
                return Outcome::Fail {
                    error: format!("unknown response type {other}"),
                };
            }
        };
        let Some(domain) = domain_of(&job.to) else {
            return Outcome::Fail {
                error: format!("response address {} has no domain", job.to),
            };
        };
        let hosts = self.hosts_of_domain(domain).await;
        let expiry = report_expiry(secs(item.due_at), self.config.report_keep_secs);
        self.send_report(hosts, msg, expiry, item.lease_until).await
    }

    /// The originating relay's MM4 address of `sender` and the hosts to send to.
    async fn originator(
        &self,
        sender: &str,
        originator_system: Option<&str>,
    ) -> Result<(Mm4Address, Result<Vec<Host>, HostError>), String> {
        let address = Address::parse(sender).map_err(|e| format!("sender: {e}"))?;
        match originator_system.and_then(domain_of) {
            Some(domain) => {
                let to = Mm4Address::new(address, domain).map_err(|e| format!("sender: {e}"))?;
                Ok((to, self.hosts_of_domain(domain).await))
            }
            None => match self.resolver.resolve(&address).await.outcome {
                Ok(Route::Peer { mmse_domain, hosts }) => {
                    let to = Mm4Address::new(address, &mmse_domain)
                        .map_err(|e| format!("sender: {e}"))?;
                    Ok((to, Ok(self.to_hosts(hosts))))
                }
                Ok(Route::Local) => Err(format!("{sender} is served by this relay")),
                Err(e) if e.is_transient() => {
                    let to = Mm4Address::new(address, &self.me.mmse_domain)
                        .map_err(|e| format!("sender: {e}"))?;
                    Ok((to, Err(HostError::Transient(e.to_string()))))
                }
                Err(e) => Err(format!("no route to {sender}: {e}")),
            },
        }
    }

    async fn delivery_report(&self, item: LeasedItem) -> Outcome {
        let report = match delivery_report_of(&self.cx.store, &item).await {
            Ok(r) => r,
            Err(e) => return report_item_outcome(e),
        };
        let reporter = match Address::parse(&report.recipient)
            .map_err(|e| e.to_string())
            .and_then(|a| Mm4Address::new(a, &self.me.mmse_domain).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(error) => return Outcome::Fail { error },
        };
        let (to, hosts) = match self
            .originator(&report.sender, report.originator_system.as_deref())
            .await
        {
            Ok(x) => x,
            Err(error) => return Outcome::Fail { error },
        };
        let mut req = mm4::delivery_report_req(
            &report.message_id,
            reporter,
            to,
            Status(report.status),
            &format!("dr-{}", item.id),
            report.date,
        );
        req.sender = Some(self.me.system.clone());
        req.ack_request = self.config.ack_request.then_some(true);
        req.status_text = report.status_text.clone().map(EncodedString::utf8);
        let expiry = report_expiry(report.date, self.config.report_keep_secs);
        self.send_report(hosts, Mm4Message::from(req), expiry, item.lease_until)
            .await
    }

    async fn read_reply(&self, item: LeasedItem) -> Outcome {
        let report = match read_report_of(&item) {
            Ok(r) => r,
            Err(e) => return report_item_outcome(e),
        };
        let reader = match Address::parse(&report.recipient)
            .map_err(|e| e.to_string())
            .and_then(|a| Mm4Address::new(a, &self.me.mmse_domain).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(error) => return Outcome::Fail { error },
        };
        let (to, hosts) = match self
            .originator(&report.sender, report.originator_system.as_deref())
            .await
        {
            Ok(x) => x,
            Err(error) => return Outcome::Fail { error },
        };
        let req = mm4::ReadReplyReportReq {
            version: mm4::DEFAULT_3GPP_MMS_VERSION.to_owned(),
            transaction_id: format!("rr-{}", item.id),
            message_id: report.message_id.clone(),
            rfc5322_message_id: None,
            from: reader,
            to,
            sender: Some(self.me.system.clone()),
            date: report.date,
            ack_request: self.config.ack_request.then_some(true),
            read_status: ReadStatus(report.read_status),
            status_text: None,
            applic_id: None,
            reply_applic_id: None,
            aux_applic_info: None,
            extra: Vec::new(),
        };
        let expiry = report_expiry(report.date, self.config.report_keep_secs);
        self.send_report(hosts, Mm4Message::from(req), expiry, item.lease_until)
            .await
    }
}

impl<S: Store, L: DnsLookup + 'static> Handler for Mm4Outbound<S, L> {
    async fn handle(&self, item: LeasedItem) -> Outcome {
        match item.kind {
            OutboxKind::Mm4Forward => self.forward(item).await,
            OutboxKind::Mm4Response => self.response(item).await,
            OutboxKind::Mm4DeliveryReport => self.delivery_report(item).await,
            OutboxKind::Mm4ReadReply => self.read_reply(item).await,
            other => Outcome::Fail {
                error: format!("MM4 worker does not handle {}", other.as_str()),
            },
        }
    }
}

/// Binds the MM4 SMTP listener (`[mm4] listen`) and serves it until `cancel` fires. Returns the
/// bound address and the server task.
pub async fn spawn_server<S: Store>(
    config: &Mm4Config,
    me: Arc<Mm4Identity>,
    store: S,
    wake: Wake,
    cancel: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<io::Result<()>>), StartError> {
    let peers = config
        .peers
        .iter()
        .map(|p| parse_net(p))
        .collect::<Result<Vec<_>, _>>()?;
    for net in config.report_peers.values().flatten() {
        parse_net(net)?;
    }
    let mut server = ServerConfig::new(me.hostname.clone(), peers);
    server.max_message_size = config.max_message_size;
    server.max_connections = config.max_connections.max(1);
    server.max_connections_per_ip = config.max_connections_per_ip.max(1);
    server.max_recipients = config.max_recipients.max(1);
    server.command_timeout = Duration::from_secs(config.command_timeout_secs.max(1));
    server.max_data_time = Duration::from_secs(config.max_data_time_secs.max(1));
    server.tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let cert = std::fs::read(cert).map_err(StartError::Tls)?;
            let key = std::fs::read(key).map_err(StartError::Tls)?;
            Some(mm4_smtp::server_config_from_pem(&cert, &key).map_err(StartError::Tls)?)
        }
        (None, None) => None,
        _ => return Err(StartError::HalfTls),
    };
    let listener = SmtpServer::bind(config.listen, server)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let handler = Arc::new(Mm4Inbound::new(store, me, config.clone(), wake));
    Ok((addr, tokio::spawn(listener.run(handler, cancel))))
}

/// A `[mm4]` network: CIDR or a bare address (a host).
fn parse_net(text: &str) -> Result<IpNet, StartError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| StartError::BadPeer(text.to_owned()))
}

/// Starts the MM4 out worker over forwards, responses and reports, over STARTTLS as `config`
/// says; fails when its TLS settings cannot be used ([`outbound_tls`]).
pub fn spawn_workers<S: Store, L: DnsLookup + 'static>(
    config: &Mm4Config,
    me: Arc<Mm4Identity>,
    store: S,
    resolver: Arc<Resolver<L>>,
    wake: Wake,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, StartError> {
    let handler = Arc::new(Mm4Outbound::new(
        store.clone(),
        resolver,
        me,
        config.clone(),
        wake.clone(),
    )?);
    let kinds = vec![
        OutboxKind::Mm4Forward,
        OutboxKind::Mm4Response,
        OutboxKind::Mm4DeliveryReport,
        OutboxKind::Mm4ReadReply,
    ];
    let worker = worker::spawn(
        store,
        config.queue.worker_config("mm4-out", kinds),
        handler.clone(),
        &wake,
        cancel,
    );
    Ok(tokio::spawn(async move {
        let _ = worker.await;
        handler.client.close_idle().await;
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_answers_452_4_3_1_and_any_other_store_failure_451_4_3_0() {
        let full = store_reject(StoreError::Database(sqlx::Error::Io(
            std::io::Error::from_raw_os_error(28),
        )));
        assert_eq!(
            (full.code, full.enhanced),
            (452, EnhancedCode::new(4, 3, 1))
        );
        let away = store_reject(StoreError::WriterStopped);
        assert_eq!(
            (away.code, away.enhanced),
            (451, EnhancedCode::new(4, 3, 0))
        );
        for r in [full, away] {
            assert!(
                !r.text.contains("writer") && !r.text.contains("os error"),
                "{}",
                r.text
            );
        }
    }

    #[test]
    fn forward_transaction_id_names_mm_and_recipient() {
        let id = MmId::from_string("00ff".into());
        let tid = forward_transaction_id(&id, "sip:bob@b.example");
        assert_eq!(
            parse_forward_transaction_id(&tid),
            Some((id, "sip:bob@b.example".to_owned()))
        );
        assert_eq!(parse_forward_transaction_id("t-1"), None);
        assert_eq!(parse_forward_transaction_id("fwd-00-zz"), None);
    }

    #[test]
    fn raw_headers_are_read_case_insensitively_and_unfolded() {
        let data = b"x-mms-ack-request: Yes\r\nX-Mms-Originator-System:\r\n system@mms.a.example\r\n\r\nX-Mms-Transaction-ID: body\r\n";
        assert_eq!(
            raw_header(data, "X-Mms-Ack-Request").as_deref(),
            Some("Yes")
        );
        assert_eq!(
            raw_header(data, "X-Mms-Originator-System").as_deref(),
            Some("system@mms.a.example")
        );
        assert_eq!(
            raw_header(data, "X-Mms-Transaction-ID"),
            None,
            "body is not headers"
        );
    }

    #[test]
    fn identity_serves_own_and_sip_derived_mmse_domains() {
        let resolver = ResolverConfig {
            own_sip_domains: vec!["b.example".into()],
            ..Default::default()
        };
        let me = Mm4Identity::new("MMS.B.example", &resolver, &Mm4Config::default());
        assert!(me.serves("mms.b.example"));
        assert!(!me.serves("mms.a.example"));
        assert_eq!(me.system, "system-user@mms.b.example");
    }

    #[test]
    fn refused_recipients_report_unreachable_and_refused_content_rejected() {
        let reply = |code| mm4_smtp::Reply {
            code,
            enhanced: None,
            lines: vec!["no".into()],
        };
        assert_eq!(
            status_for_send_error(&SendError::Rejected {
                stage: Stage::Message,
                reply: reply(554)
            }),
            Status::REJECTED
        );
        assert_eq!(
            status_for_send_error(&SendError::MessageTooBig { size: 2, limit: 1 }),
            Status::REJECTED
        );
        assert_eq!(
            status_for_request_status(RequestStatus::ErrorSendingAddressUnresolved),
            Status::UNREACHABLE
        );
    }

    #[test]
    fn mm4_config_defaults_and_rejects_unknown_keys() {
        let c: Mm4Config =
            toml::from_str("listen = \"0.0.0.0:25\"\nack_request = false\n").unwrap();
        assert_eq!(c.listen.port(), 25);
        assert!(!c.ack_request);
        assert!(toml::from_str::<Mm4Config>("acks = 1").is_err());
        assert_eq!(c.in_flight_per_peer, 16);
        assert_eq!(c.connections_per_peer, 8);
    }
}
