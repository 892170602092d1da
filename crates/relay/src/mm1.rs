//! MM1 over HTTP (OMA MMS CTR / MMS ENC 1.3 §6, DESIGN.md §1 and §6): the phone-facing server.
//!
//! * `POST` (any path) of `application/vnd.wap.mms-message`:
//!   - `m-send-req` (MMS ENC §6.1): validated, the sender authenticated ([`crate::identity`]),
//!     recipients normalised, the MM stored durably with one [`ResolveJob`] per recipient
//!     ([`Store::accept_mm`], one transaction), then answered with `m-send-conf`. Every refusal is
//!     an `m-send-conf` whose X-Mms-Response-Status comes from [`SendError`] (one mapping, below).
//!   - `m-notifyresp-ind` (§6.2) and `m-acknowledge-ind` (§6.4) move the recipient to
//!     `Retrieved`/`Rejected` and, when the sender asked, queue its delivery report in the same
//!     transaction; `m-read-rec-ind` (§6.7.2) queues a read report. Answered `204` without a body.
//! * `GET <X-Mms-Content-Location>` (§6.3): `m-retrieve-conf` of the MM for the recipient the URL's
//!   token was issued to.
//!
//! # Contracts with the other workers
//!
//! * Retrieval URL: [`content_location`]`(public_url, token)`; the token is the recipient's
//!   [`RetrievalToken`] stored at accept time.
//! * The `X-Mms-Transaction-ID` of the `m-notification-ind` for a recipient must be that
//!   recipient's retrieval token ([`notification_transaction_id`]): `m-notifyresp-ind` echoes it, and
//!   it is how the relay finds the recipient. The `m-retrieve-conf` carries it too, so
//!   `m-acknowledge-ind` does the same.
//! * Each [`ResolveJob`] carries the recipient's token (the store has no recipient -> token lookup).
//! * Stored MM: `headers` + `body` concatenated are an encoded `m-send-req` (or `m-retrieve-conf`)
//!   PDU whose From is the authenticated sender ([`encode_for_store`], [`stored_pdu`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use diameter::sh_client::ShClient;
use futures::StreamExt;
use mms_address::{Address, ParseOptions};
use mms_pdu::{
    AcknowledgeInd, Body, ContentType, DecodeError, EncodedString, FromAddress, MediaType,
    MessageType, MmsVersion, NotifyRespInd, Pdu, ReadRecInd, ResponseStatus, RetrieveConf,
    RetrieveStatus, SendConf, SendReq, SenderVisibility, Status, TimeSpec,
};
use mms_store::{
    MmId, MmMeta, NewMm, NewRecipient, Origin, OutboxEffects, OutboxKind, RecipientEvent,
    RecipientState, RetrievalToken, Store, StoreError, StoredMm, Timestamp, UpdateError,
};

use crate::config::RelayConfig;
use crate::identity::{AuthenticatedUa, IdentitySources, RequestFacts, SenderError, sender_for};
use crate::jobs::{Job, Mm4ReadReplyJob, ReadOrigIndJob, ReadReportJob, ResolveJob};

/// `application/vnd.wap.mms-message` (MMS ENC §5).
pub const MMS_CONTENT_TYPE: &str = "application/vnd.wap.mms-message";
/// Path prefix of retrieval URLs.
pub const RETRIEVE_PATH: &str = "/m/";

/// The retrieval URL (`X-Mms-Content-Location`, MMS ENC §7.3.10) of a recipient's token.
pub fn content_location(public_url: &str, token: &RetrievalToken) -> String {
    format!(
        "{}{RETRIEVE_PATH}{}",
        public_url.trim_end_matches('/'),
        token.as_str()
    )
}

/// The `X-Mms-Transaction-ID` the `m-notification-ind` of a recipient must carry (see module doc).
pub fn notification_transaction_id(token: &RetrievalToken) -> String {
    token.as_str().to_owned()
}

/// Whether `text` has the form of a retrieval token (128 bits, 32 lower-case hex digits).
fn is_token(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why an `m-send-req` is refused. [`ResponseStatus::from`] is the one place each maps to its
/// X-Mms-Response-Status (MMS ENC §7.3.48).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Larger than `[mm1] max_message_size`.
    #[error("message of {size} octets exceeds the limit of {limit}")]
    TooLarge {
        /// Octets received (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More parts than `[mm1] max_parts` (each part costs memory and work far beyond its octets).
    #[error("{count} parts exceed the limit of {limit}")]
    TooManyParts {
        /// Parts in the message.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More To + Cc + Bcc addresses than `[mm1] max_recipients`.
    #[error("{count} recipients exceed the limit of {limit}")]
    TooManyRecipients {
        /// Addresses in the message.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a decodable PDU (MMS ENC §7).
    #[error("malformed PDU: {0}")]
    Malformed(#[from] DecodeError),
    /// X-Mms-MMS-Version (MMS ENC §7.3.34) with a major version other than 1: ENC version
    /// management answers it with `Error-unsupported-message`.
    #[error("unsupported MMS major version {0}")]
    UnsupportedVersion(MmsVersion),
    /// A PDU type this listener does not serve (e.g. m-forward-req, MMBox requests).
    #[error("unsupported PDU type 0x{:02X}", .0.0)]
    UnsupportedMessageType(MessageType),
    /// No identity source vouched for the sender (DESIGN.md §6).
    #[error("sender not authenticated")]
    NotAuthenticated,
    /// From is not one of the sender's asserted identities (DESIGN.md §6).
    #[error("From is not an identity of the sender")]
    SenderNotOwned,
    /// No To/Cc/Bcc address is valid and routable.
    #[error("no valid recipient")]
    NoValidRecipient,
    /// The store failed; the MM was not accepted (the UA may retry).
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<SenderError> for SendError {
    fn from(e: SenderError) -> Self {
        match e {
            SenderError::NotAuthenticated => Self::NotAuthenticated,
            SenderError::NotOwned { .. } => Self::SenderNotOwned,
        }
    }
}

impl From<&SendError> for ResponseStatus {
    fn from(e: &SendError) -> Self {
        match e {
            SendError::TooLarge { .. } | SendError::TooManyParts { .. } => {
                ResponseStatus::ERROR_PERMANENT_CONTENT_NOT_ACCEPTED
            }
            SendError::TooManyRecipients { .. } => ResponseStatus::ERROR_PERMANENT_FAILURE,
            SendError::Malformed(_) => ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT,
            SendError::UnsupportedVersion(_) | SendError::UnsupportedMessageType(_) => {
                ResponseStatus::ERROR_UNSUPPORTED_MESSAGE
            }
            SendError::NotAuthenticated => ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED,
            SendError::SenderNotOwned | SendError::NoValidRecipient => {
                ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED
            }
            SendError::Store(_) => ResponseStatus::ERROR_TRANSIENT_FAILURE,
        }
    }
}

impl SendError {
    /// X-Mms-Response-Text shown to the user: the reason, without internals.
    fn public_text(&self) -> String {
        match self {
            SendError::Store(_) => "temporary failure, please retry".into(),
            other => other.to_string(),
        }
    }
}

/// Why a notify-response, acknowledgement or read report is not applied. MM1 defines no
/// response PDU for these, so each maps to an HTTP status ([`ReportError::http_status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The transaction id names no retrieval token, or the MM is gone.
    #[error("unknown transaction")]
    UnknownTransaction,
    /// The requester's identity is known and is not the recipient's.
    #[error("the requester is not the recipient")]
    NotRecipient,
    /// A read report from a requester with no identity, or a From it does not own.
    #[error("read report sender not authenticated")]
    NotAuthenticated,
    /// A read report for a message id naming no MM delivered to the reader through this relay
    /// (unknown, or another user's).
    #[error("no such message delivered to the reader")]
    UnknownMessage,
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl ReportError {
    /// The HTTP status of the answer.
    pub fn http_status(&self) -> StatusCode {
        match self {
            ReportError::UnknownTransaction | ReportError::UnknownMessage => StatusCode::NOT_FOUND,
            ReportError::NotRecipient | ReportError::NotAuthenticated => StatusCode::FORBIDDEN,
            ReportError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Why a retrieval gets no message; mapped to X-Mms-Retrieve-Status (MMS ENC §7.3.50) by
/// [`RetrieveStatus::from`]. Another user's URL and a guessed token are indistinguishable from
/// a missing message on purpose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetrieveError {
    /// No such token, the recipient's MM is not (or no longer) retrievable, or it is not the requester's.
    #[error("message not found")]
    NotFound,
    /// The stored MM does not decode.
    #[error("stored message does not decode: {0}")]
    Corrupt(DecodeError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<&RetrieveError> for RetrieveStatus {
    fn from(e: &RetrieveError) -> Self {
        match e {
            RetrieveError::NotFound => RetrieveStatus::ERROR_PERMANENT_MESSAGE_NOT_FOUND,
            RetrieveError::Corrupt(_) => RetrieveStatus::ERROR_PERMANENT_FAILURE,
            RetrieveError::Store(_) => RetrieveStatus::ERROR_TRANSIENT_FAILURE,
        }
    }
}

/// Shared state of the MM1 listener.
pub struct Mm1State<S: Store> {
    inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Mm1State<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S: Store> {
    config: Arc<RelayConfig>,
    opts: ParseOptions,
    store: S,
    identity: IdentitySources<S>,
    /// Notified when a request queued work, so this node's workers take it at once.
    wake: crate::worker::Wake,
}

impl<S: Store> Mm1State<S> {
    /// State over `config`, `store` and the identity sources of this listener.
    pub fn new(config: Arc<RelayConfig>, store: S, identity: IdentitySources<S>) -> Self {
        let opts = config.parse_options();
        Self {
            inner: Arc::new(Inner {
                config,
                opts,
                store,
                identity,
                wake: crate::worker::Wake::new(),
            }),
        }
    }

    /// Wakes the loops of `wake` (this node's outbox workers) whose kinds a request queued,
    /// instead of leaving the work to their next poll. Call it on a new state, before it is cloned.
    pub fn with_wake(self, wake: crate::worker::Wake) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.wake = wake;
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => {
                tracing::warn!("Mm1State::with_wake on a shared state: workers will poll instead");
                Self { inner }
            }
        }
    }

    /// State with the identity sources `[mm1.identity]` names, and the HSS client if one runs.
    pub fn from_config(config: Arc<RelayConfig>, store: S, hss: Option<Arc<ShClient>>) -> Self {
        let identity = IdentitySources::new(
            config.mm1.identity.clone(),
            config.parse_options(),
            store.clone(),
            hss,
        );
        Self::new(config, store, identity)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }
}

/// The MM1 HTTP service: every method and path goes to one handler (phones and gateways use
/// whatever URL the operator provisioned). Serve it with peer addresses, see [`serve`].
pub fn router<S: Store>(state: Mm1State<S>) -> Router {
    Router::new().fallback(handle::<S>).with_state(state)
}

/// Serves `router(state)` on `listener` under `[mm1.limits]` until `shutdown` completes
/// (in-flight requests finish).
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    state: Mm1State<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.inner.config.mm1.limits.clone();
    let shared = state.inner.config.mm1.identity.shared_addresses();
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    crate::listener::serve(listener, router(state), limits, shared, None, cancel).await
}

async fn handle<S: Store>(State(state): State<Mm1State<S>>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let (parts, body) = req.into_parts();
    match parts.method {
        Method::GET | Method::HEAD => {
            retrieve(&state, peer, &parts.headers, parts.uri.path()).await
        }
        Method::POST => post(&state, peer, &parts.headers, body).await,
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST")],
        )
            .into_response(),
    }
}

fn pdu_response(pdu: Pdu) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MMS_CONTENT_TYPE),
        )],
        pdu.encode(),
    )
        .into_response()
}

async fn authenticate<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<Option<AuthenticatedUa>, StoreError> {
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let facts = RequestFacts {
        peer,
        header: &lookup,
    };
    state.inner.identity.authenticate(&facts).await
}

/// The first octets of a PDU, read without decoding the rest, so even a refused or truncated
/// request gets an answer with its transaction id (MMS ENC §6: Message-Type, Transaction-ID and
/// MMS-Version lead).
#[derive(Debug, Default, PartialEq, Eq)]
struct PduPrefix {
    message_type: Option<u8>,
    transaction_id: Option<String>,
    version: Option<MmsVersion>,
}

fn scan_prefix(b: &[u8]) -> PduPrefix {
    let mut p = PduPrefix::default();
    if b.first() != Some(&0x8C) {
        return p;
    }
    p.message_type = b.get(1).copied();
    let mut pos = 2;
    for _ in 0..2 {
        match b.get(pos) {
            Some(0x98) => {
                let mut start = pos + 1;
                if b.get(start) == Some(&0x7F) {
                    start += 1;
                }
                let rest = b.get(start..).unwrap_or_default();
                let Some(end) = rest.iter().take(256).position(|&c| c == 0) else {
                    break;
                };
                let text = rest.get(..end).unwrap_or_default();
                p.transaction_id = Some(String::from_utf8_lossy(text).into_owned());
                pos = start + end + 1;
            }
            Some(0x8D) => {
                if let Some(&v) = b.get(pos + 1).filter(|v| **v & 0x80 != 0) {
                    p.version = Some(MmsVersion {
                        major: (v >> 4) & 0x07,
                        minor: v & 0x0F,
                    });
                }
                pos += 2;
            }
            _ => break,
        }
    }
    p
}

/// Reads the body up to `limit` octets; `Err(prefix, seen)` with the first octets when it is longer.
async fn read_limited(body: HttpBody, limit: u64) -> Result<Bytes, (Bytes, u64)> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            // The client went away or sent a broken body: what arrived is all there is.
            break;
        };
        seen += chunk.len() as u64;
        if seen > limit {
            let keep = 512usize.saturating_sub(buf.len()).min(chunk.len());
            buf.extend_from_slice(chunk.get(..keep).unwrap_or_default());
            return Err((buf.freeze(), seen));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

async fn post<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    body: HttpBody,
) -> Response {
    let limit = state.inner.config.mm1.max_message_size;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body_timeout = state.inner.config.mm1.limits.body_timeout();
    let Ok(read) = tokio::time::timeout(body_timeout, read_limited(body, limit)).await else {
        // Slow body (slowloris): the request never completed, so there is no m-send-req to
        // answer; HTTP 408 and the connection is closed.
        tracing::info!(%peer, "MM1 request body not received in time");
        return (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            "request body not received in time\n",
        )
            .into_response();
    };
    let bytes = match read {
        Ok(b) if declared.is_none_or(|d| d <= limit) => b,
        Ok(b) => {
            let size = declared.unwrap_or(b.len() as u64);
            return send_conf_error(&scan_prefix(&b), &SendError::TooLarge { size, limit });
        }
        Err((prefix, size)) => {
            return send_conf_error(&scan_prefix(&prefix), &SendError::TooLarge { size, limit });
        }
    };
    let prefix = scan_prefix(&bytes);
    let pdu = match Pdu::decode(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let expects_conf = matches!(prefix.message_type, None | Some(0x80));
            if !expects_conf {
                tracing::info!(%peer, error = %e, "malformed MM1 PDU without response PDU");
                return StatusCode::BAD_REQUEST.into_response();
            }
            let err = match prefix.version {
                Some(v) if v.major != 1 => SendError::UnsupportedVersion(v),
                _ => SendError::Malformed(e),
            };
            return send_conf_error(&prefix, &err);
        }
    };
    match pdu {
        Pdu::SendReq(req) => {
            let tid = req.transaction_id.clone();
            match send(state, peer, headers, req, bytes.len() as u64).await {
                Ok(conf) => pdu_response(conf.into()),
                Err(e) => send_conf_error(
                    &PduPrefix {
                        transaction_id: Some(tid),
                        ..prefix
                    },
                    &e,
                ),
            }
        }
        Pdu::NotifyRespInd(n) => report_response(notify_resp(state, peer, headers, n).await),
        Pdu::AcknowledgeInd(a) => report_response(acknowledge(state, peer, headers, a).await),
        Pdu::ReadRecInd(r) => report_response(read_rec(state, peer, headers, r).await),
        other => send_conf_error(
            &prefix,
            &SendError::UnsupportedMessageType(other.message_type()),
        ),
    }
}

fn report_response(result: Result<(), ReportError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::info!(error = %e, "MM1 report not applied");
            e.http_status().into_response()
        }
    }
}

/// The version to answer with: the request's (at most 1.3), else 1.2.
fn answer_version(v: Option<MmsVersion>) -> MmsVersion {
    match v {
        Some(v) if v.major == 1 && v.minor <= 3 => v,
        Some(v) if v.major == 1 => MmsVersion::V1_3,
        _ => MmsVersion::V1_2,
    }
}

fn send_conf_error(prefix: &PduPrefix, err: &SendError) -> Response {
    let status = ResponseStatus::from(err);
    match err {
        SendError::Store(e) if e.is_storage_full() => {
            tracing::error!(error = %err, "store full: m-send-req refused until space is freed");
            metrics::counter!("mmsrelay_store_full_refusals_total", "interface" => "mm1")
                .increment(1);
        }
        _ => {
            tracing::info!(error = %err, status = status.name().unwrap_or("?"), "m-send-req refused");
        }
    }
    let conf = SendConf {
        transaction_id: prefix.transaction_id.clone().unwrap_or_default(),
        version: answer_version(prefix.version),
        response_status: status,
        response_text: Some(EncodedString::plain(err.public_text())),
        ..Default::default()
    };
    pdu_response(conf.into())
}

fn now_secs(now: Timestamp) -> u64 {
    u64::try_from(now.as_millis() / 1000).unwrap_or(0)
}

fn secs_to_ts(secs: u64) -> Timestamp {
    Timestamp::from_millis(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))
}

/// Absolute expiry in seconds since the epoch (MMS ENC §7.3.20): the sender's, bounded by the
/// configured maximum; the default when none was given.
fn expiry_secs(requested: Option<TimeSpec>, now: u64, default: u64, max: u64) -> u64 {
    let latest = now.saturating_add(max);
    match requested {
        Some(TimeSpec::Relative(d)) => now.saturating_add(d.min(max)),
        Some(TimeSpec::Absolute(t)) => t.clamp(now, latest),
        None => now.saturating_add(default),
    }
}

/// Whether a recipient address can be delivered to at all: SIP, tel, e-mail, and short codes
/// (a local service may own one; the routing worker decides). Device addresses (`/TYPE=IPv4`,
/// `/TYPE=IPv6`, user-defined types) have no route (DESIGN.md §2).
fn routable(a: &Address) -> bool {
    matches!(
        a,
        Address::Sip(_) | Address::Tel(_) | Address::Email(_) | Address::ShortCode(_)
    )
}

/// Splits an encoded `m-send-req` into the store's `headers` and `body` (see module doc).
pub fn encode_for_store(req: &SendReq) -> (Bytes, Bytes) {
    let full = Bytes::from(Pdu::SendReq(req.clone()).encode());
    let mut head_only = req.clone();
    head_only.body = Body::Single(Bytes::new());
    let head_len = Pdu::SendReq(head_only).encode().len().min(full.len());
    (full.slice(..head_len), full.slice(head_len..))
}

/// The PDU a stored MM holds (`headers` then `body`).
pub fn stored_pdu(mm: &StoredMm) -> Result<Pdu, DecodeError> {
    let mut all = BytesMut::with_capacity(mm.headers.len() + mm.body.len());
    all.extend_from_slice(&mm.headers);
    all.extend_from_slice(&mm.body);
    Pdu::decode(&all.freeze())
}

/// The `m-retrieve-conf` (MMS ENC §6.3) of a stored MM: its headers but Bcc; From left out when
/// the sender asked to hide it (§7.3.52).
pub fn retrieve_conf_of(
    mm: &StoredMm,
    transaction_id: Option<String>,
) -> Result<RetrieveConf, DecodeError> {
    let mut conf = match stored_pdu(mm)? {
        Pdu::SendReq(s) => {
            let hide = s.sender_visibility == Some(SenderVisibility::HIDE);
            RetrieveConf {
                version: s.version,
                date: s.date,
                from: if hide { None } else { Some(s.from) },
                to: s.to,
                cc: s.cc,
                subject: s.subject,
                message_class: s.message_class,
                priority: s.priority,
                delivery_report: s.delivery_report,
                read_report: s.read_report,
                content_class: s.content_class,
                drm_content: s.drm_content,
                applic_id: s.applic_id,
                reply_applic_id: s.reply_applic_id,
                aux_applic_info: s.aux_applic_info,
                content_type: s.content_type,
                body: s.body,
                ..Default::default()
            }
        }
        Pdu::RetrieveConf(r) => r,
        other => {
            return Err(DecodeError::UnknownMessageType {
                value: other.message_type().0,
            });
        }
    };
    conf.transaction_id = transaction_id;
    conf.message_id = Some(mm.meta.message_id.clone());
    conf.retrieve_status = None;
    if conf.version.major != 1 || conf.version.minor > 3 {
        conf.version = MmsVersion::V1_2;
    }
    Ok(conf)
}

async fn send<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    req: SendReq,
    size: u64,
) -> Result<SendConf, SendError> {
    let inner = &state.inner;
    if req.version.major != 1 {
        return Err(SendError::UnsupportedVersion(req.version));
    }
    let mm1 = &inner.config.mm1;
    let count = req.body.parts().len();
    if count > mm1.max_parts {
        return Err(SendError::TooManyParts {
            count,
            limit: mm1.max_parts,
        });
    }
    let count = req.to.len() + req.cc.len() + req.bcc.len();
    if count > mm1.max_recipients {
        return Err(SendError::TooManyRecipients {
            count,
            limit: mm1.max_recipients,
        });
    }
    let ua = authenticate(state, peer, headers).await?;
    let sender = sender_for(ua.as_ref(), &req.from, &inner.opts).inspect_err(|e| {
        tracing::warn!(%peer, error = %e, method = ua.as_ref().map(|u| u.method.as_str()), "m-send-req sender refused");
    })?;

    let mut recipients: Vec<Address> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for written in req.to.iter().chain(&req.cc).chain(&req.bcc) {
        let text = written.text();
        match Address::parse_with(&text, &inner.opts) {
            Ok(a) if routable(&a) => {
                if !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
            Ok(_) | Err(_) => refused.push(text),
        }
    }
    if recipients.is_empty() {
        return Err(SendError::NoValidRecipient);
    }
    if !refused.is_empty() {
        tracing::info!(%sender, ?refused, "recipients refused in m-send-req");
    }

    let now = Timestamp::now();
    let now_s = now_secs(now);
    let mm1 = &inner.config.mm1;
    let expiry = expiry_secs(
        req.expiry,
        now_s,
        mm1.default_expiry_secs,
        mm1.max_expiry_secs,
    );
    let message_id = format!(
        "{:032x}@{}",
        rand::random::<u128>(),
        inner.config.relay.mmse_domain
    );
    let date = req.date.unwrap_or(now_s);

    let mut stored = req.clone();
    stored.from = FromAddress::Present(EncodedString::plain(sender.to_mms_enc()));
    stored.date = Some(date);
    stored.expiry = Some(TimeSpec::Absolute(expiry));
    let (head, body) = encode_for_store(&stored);

    let meta = MmMeta {
        message_id: message_id.clone(),
        transaction_id: req.transaction_id.clone(),
        from: sender.to_string(),
        mms_version: req.version.to_string(),
        content_type: req
            .content_type
            .media
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_owned(),
        subject: req.subject.as_ref().map(EncodedString::text),
        size,
        date: secs_to_ts(date),
        expiry: secs_to_ts(expiry),
        delivery_report: req.delivery_report == Some(true),
        read_report: req.read_report == Some(true),
        origin: Origin::Mm1 {
            identity: sender.to_string(),
        },
    };
    let mut new_recipients = Vec::with_capacity(recipients.len());
    let mut outbox = Vec::with_capacity(recipients.len());
    for a in &recipients {
        let address = a.to_string();
        let token = RetrievalToken::generate();
        let job = ResolveJob {
            retrieval_token: Some(token.as_str().to_owned()),
        };
        outbox.push(job.item(
            format!("resolve:{message_id}:{address}"),
            None,
            Some(address.clone()),
            now,
        ));
        new_recipients.push(NewRecipient {
            address,
            state: RecipientState::Resolving,
            retrieval_token: Some(token),
        });
    }
    inner
        .store
        .accept_mm(
            NewMm {
                meta,
                headers: head,
                body,
            },
            new_recipients,
            outbox,
            now,
        )
        .await?;
    inner.wake.kinds([OutboxKind::Resolve]);
    tracing::debug!(%sender, %message_id, recipients = recipients.len(), "m-send-req accepted");

    let response_text = (!refused.is_empty())
        .then(|| EncodedString::utf8(format!("not accepted: {}", refused.join(", "))));
    Ok(SendConf {
        transaction_id: req.transaction_id,
        version: answer_version(Some(req.version)),
        response_status: ResponseStatus::OK,
        response_text,
        message_id: Some(message_id),
        ..Default::default()
    })
}

/// The recipient a notify-response or acknowledgement is about, checked against the requester.
async fn recipient_of_transaction<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    transaction_id: &str,
) -> Result<(MmId, String), ReportError> {
    if !is_token(transaction_id) {
        return Err(ReportError::UnknownTransaction);
    }
    let token = RetrievalToken::from_string(transaction_id.to_owned());
    let (mm_id, recipient) = state
        .inner
        .store
        .retrieval_target(&token)
        .await?
        .ok_or(ReportError::UnknownTransaction)?;
    if let Some(ua) = authenticate(state, peer, headers).await? {
        let owned = Address::parse(&recipient).is_ok_and(|a| ua.owns(&a));
        if !owned {
            tracing::warn!(%peer, "MM1 report for another user's message refused");
            return Err(ReportError::NotRecipient);
        }
    }
    Ok((mm_id, recipient))
}

/// Applies a final delivery outcome and, when the sender asked and the recipient allows, queues
/// the delivery report in the same transaction (MMS ENC §6.6, TS 23.140 §8.4.2).
async fn finish_delivery<S: Store>(
    state: &Mm1State<S>,
    mm_id: &MmId,
    recipient: &str,
    outcome: Status,
    report_allowed: Option<bool>,
) -> Result<(), ReportError> {
    let store = &state.inner.store;
    let mm = store
        .mm_head(mm_id)
        .await?
        .ok_or(ReportError::UnknownTransaction)?;
    let now = Timestamp::now();
    let mut effects = OutboxEffects::default();
    if report_allowed != Some(false) {
        // Keyed like the store's expiry reports, so one recipient gets one report.
        effects.enqueue.extend(crate::reports::delivery_report_item(
            mm_id, &mm.meta, recipient, outcome, None, now,
        ));
    }
    let queued: Vec<OutboxKind> = effects.enqueue.iter().map(|i| i.kind).collect();
    let event = if outcome == Status::REJECTED {
        RecipientEvent::Rejected
    } else {
        RecipientEvent::Retrieved
    };
    match store
        .update_recipient(mm_id, recipient, event, effects, now)
        .await
    {
        Ok(_) => {
            state.inner.wake.kinds(queued);
            Ok(())
        }
        Err(UpdateError::Transition(t)) => {
            // Repeated or late indication (already retrieved, expired …): nothing to change.
            tracing::debug!(error = %t, "MM1 indication after the recipient's final state");
            Ok(())
        }
        Err(UpdateError::UnknownRecipient { .. }) => Err(ReportError::UnknownTransaction),
        Err(UpdateError::Store(e)) => Err(ReportError::Store(e)),
        Err(other) => Err(ReportError::Store(StoreError::Invalid(other.to_string()))),
    }
}

async fn notify_resp<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    n: NotifyRespInd,
) -> Result<(), ReportError> {
    let (mm_id, recipient) =
        recipient_of_transaction(state, peer, headers, &n.transaction_id).await?;
    match n.status {
        Status::RETRIEVED | Status::REJECTED => {
            finish_delivery(state, &mm_id, &recipient, n.status, n.report_allowed).await
        }
        other => {
            // Deferred (the UA fetches later), Unrecognised …: the recipient stays notified.
            tracing::debug!(
                status = other.name().unwrap_or("?"),
                "m-notifyresp-ind without state change"
            );
            Ok(())
        }
    }
}

async fn acknowledge<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    a: AcknowledgeInd,
) -> Result<(), ReportError> {
    let (mm_id, recipient) =
        recipient_of_transaction(state, peer, headers, &a.transaction_id).await?;
    finish_delivery(
        state,
        &mm_id,
        &recipient,
        Status::RETRIEVED,
        a.report_allowed,
    )
    .await
}

/// Whether a recipient in `state` was delivered through this relay's MM1 side: the states in
/// which its MM is served for retrieval (the push is out or going, or it was fetched). Only such
/// a recipient can have read the MM.
fn delivered_here(state: RecipientState) -> bool {
    matches!(
        state,
        RecipientState::Notifying | RecipientState::Notified | RecipientState::Retrieved
    )
}

/// `m-read-rec-ind` (MMS ENC §6.7.2): accepted only from an authenticated reader who is a
/// recipient of an MM stored under that X-Mms-Message-ID and delivered to them here
/// ([`delivered_here`]); the report goes to the MM's stored sender (its To is not trusted):
/// `m-read-orig-ind` for an MM1 sender, `MM4_read_reply_report.REQ` to the originating relay
/// for an MM4 one. Anything else is [`ReportError::UnknownMessage`], answered alike whether the
/// message id is unknown or someone else's.
async fn read_rec<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    r: ReadRecInd,
) -> Result<(), ReportError> {
    let inner = &state.inner;
    let ua = authenticate(state, peer, headers).await?;
    let from = r.from.clone().unwrap_or(FromAddress::InsertAddressToken);
    // A From the UA wrote must be one of its identities; insert-address-token stands for any of
    // them (the MM may have been addressed to another of the subscriber's identities).
    let readers = match (&from, ua.as_ref()) {
        (FromAddress::Present(_), _) => vec![
            sender_for(ua.as_ref(), &from, &inner.opts)
                .map_err(|_| ReportError::NotAuthenticated)?,
        ],
        (FromAddress::InsertAddressToken, Some(ua)) => ua.identities.clone(),
        (FromAddress::InsertAddressToken, None) => return Err(ReportError::NotAuthenticated),
    };
    let mut delivered = None;
    for reader in &readers {
        let found = inner
            .store
            .mm_by_message_id(&r.message_id, &reader.to_string())
            .await?;
        if let Some(m) = found
            .into_iter()
            .find(|m| delivered_here(m.recipient.state))
        {
            delivered = Some(m);
            break;
        }
    }
    let Some(m) = delivered else {
        tracing::info!(
            %peer,
            reader = %readers.first().map(ToString::to_string).unwrap_or_default(),
            message_id = %r.message_id,
            "m-read-rec-ind for no MM delivered to the reader here: refused"
        );
        return Err(ReportError::UnknownMessage);
    };
    let now = Timestamp::now();
    let reader = m.recipient.address.clone();
    let (kind, originator_system) = match &m.meta.origin {
        Origin::Mm1 { .. } => (OutboxKind::ReadOrigInd, None),
        Origin::Mm4 { originator_system } => {
            (OutboxKind::Mm4ReadReply, Some(originator_system.clone()))
        }
    };
    let job = ReadReportJob {
        message_id: r.message_id.clone(),
        sender: m.meta.from.clone(),
        recipient: reader.clone(),
        read_status: r.read_status.0,
        date: r.date.unwrap_or_else(|| now_secs(now)),
        originator_system,
    };
    // One read report per recipient of an MM: a repeated m-read-rec-ind is not passed on again.
    let key = format!("{}:{}:{reader}", kind.as_str(), m.mm_id);
    let item = match kind {
        OutboxKind::ReadOrigInd => ReadOrigIndJob(job).item(key, None, None, now),
        _ => Mm4ReadReplyJob(job).item(key, None, None, now),
    };
    inner.store.enqueue(vec![item], now).await?;
    inner.wake.kinds([kind]);
    Ok(())
}

async fn retrieve<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    path: &str,
) -> Response {
    let token = path.rsplit('/').next().unwrap_or_default();
    match retrieve_conf(state, peer, headers, token).await {
        Ok(conf) => pdu_response(conf.into()),
        Err(e) => {
            tracing::info!(%peer, error = %e, "retrieval refused");
            let text = match &e {
                RetrieveError::NotFound => "message not found",
                RetrieveError::Corrupt(_) => "message cannot be delivered",
                RetrieveError::Store(_) => "temporary failure, please retry",
            };
            let conf = RetrieveConf {
                version: MmsVersion::V1_2,
                retrieve_status: Some(RetrieveStatus::from(&e)),
                retrieve_text: Some(EncodedString::plain(text)),
                content_type: ContentType::new(MediaType::TEXT_PLAIN),
                body: Body::Single(Bytes::from_static(text.as_bytes())),
                ..Default::default()
            };
            pdu_response(conf.into())
        }
    }
}

async fn retrieve_conf<S: Store>(
    state: &Mm1State<S>,
    peer: IpAddr,
    headers: &HeaderMap,
    token: &str,
) -> Result<RetrieveConf, RetrieveError> {
    if !is_token(token) {
        return Err(RetrieveError::NotFound);
    }
    let store = &state.inner.store;
    let token = RetrievalToken::from_string(token.to_owned());
    let (mm_id, recipient) = store
        .retrieval_target(&token)
        .await?
        .ok_or(RetrieveError::NotFound)?;
    if let Some(ua) = authenticate(state, peer, headers).await?
        && !Address::parse(&recipient).is_ok_and(|a| ua.owns(&a))
    {
        tracing::warn!(%peer, "retrieval of another user's message refused");
        return Err(RetrieveError::NotFound);
    }
    let retrievable = store
        .recipients(&mm_id)
        .await?
        .iter()
        .any(|r| r.address == recipient && delivered_here(r.state));
    if !retrievable {
        return Err(RetrieveError::NotFound);
    }
    let mm = store.mm(&mm_id).await?.ok_or(RetrieveError::NotFound)?;
    retrieve_conf_of(&mm, Some(notification_transaction_id(&token))).map_err(RetrieveError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_send_error_maps_to_its_mms_enc_7_3_48_status() {
        let cases: Vec<(SendError, u8)> = vec![
            (SendError::TooLarge { size: 2, limit: 1 }, 229),
            (SendError::TooManyParts { count: 2, limit: 1 }, 229),
            (SendError::TooManyRecipients { count: 2, limit: 1 }, 224),
            (
                SendError::Malformed(DecodeError::NotMmsPdu { found: 0 }),
                226,
            ),
            (
                SendError::UnsupportedVersion(MmsVersion { major: 2, minor: 0 }),
                136,
            ),
            (
                SendError::UnsupportedMessageType(MessageType::FORWARD_REQ),
                136,
            ),
            (SendError::NotAuthenticated, 225),
            (SendError::SenderNotOwned, 227),
            (SendError::NoValidRecipient, 227),
            (SendError::Store(StoreError::WriterStopped), 192),
        ];
        for (e, code) in cases {
            assert_eq!(ResponseStatus::from(&e).0, code, "{e}");
        }
    }

    #[test]
    fn retrieve_errors_map_to_mms_enc_7_3_50_status() {
        assert_eq!(
            RetrieveStatus::from(&RetrieveError::NotFound),
            RetrieveStatus::ERROR_PERMANENT_MESSAGE_NOT_FOUND
        );
        assert_eq!(
            RetrieveStatus::from(&RetrieveError::Store(StoreError::WriterStopped)),
            RetrieveStatus::ERROR_TRANSIENT_FAILURE
        );
    }

    #[test]
    fn prefix_scan_finds_transaction_id_and_version_of_truncated_pdu() {
        let p = scan_prefix(&[0x8C, 0x80, 0x98, b'T', b'1', 0x00, 0x8D, 0xA0, 0x89]);
        assert_eq!(p.message_type, Some(0x80));
        assert_eq!(p.transaction_id.as_deref(), Some("T1"));
        assert_eq!(p.version, Some(MmsVersion { major: 2, minor: 0 }));
        assert_eq!(scan_prefix(b"garbage"), PduPrefix::default());
        assert_eq!(scan_prefix(&[0x8C, 0x80, 0x98, b'T']).transaction_id, None);
        assert_eq!(scan_prefix(&[]), PduPrefix::default());
    }

    #[test]
    fn expiry_is_bounded_by_the_configured_maximum_mms_enc_7_3_20() {
        assert_eq!(expiry_secs(None, 1000, 50, 100), 1050);
        assert_eq!(
            expiry_secs(Some(TimeSpec::Relative(10)), 1000, 50, 100),
            1010
        );
        assert_eq!(
            expiry_secs(Some(TimeSpec::Relative(1_000_000)), 1000, 50, 100),
            1100
        );
        assert_eq!(
            expiry_secs(Some(TimeSpec::Absolute(5)), 1000, 50, 100),
            1000
        );
        assert_eq!(
            expiry_secs(Some(TimeSpec::Absolute(u64::MAX)), 1000, 50, 100),
            1100
        );
    }

    #[test]
    fn stored_split_decodes_back_to_the_same_send_req() {
        let req = SendReq {
            transaction_id: "t".into(),
            version: MmsVersion::V1_2,
            from: FromAddress::Present(EncodedString::plain("+441234567890/TYPE=PLMN")),
            to: vec![EncodedString::plain("sip%3Abob%40b.example/TYPE=SIP")],
            subject: Some(EncodedString::utf8("hi")),
            content_type: ContentType::new(MediaType::MULTIPART_MIXED),
            body: Body::Multipart(vec![mms_pdu::Part::new(
                ContentType::new(MediaType::TEXT_PLAIN),
                Bytes::from_static(b"hello"),
            )]),
            ..Default::default()
        };
        let (headers, body) = encode_for_store(&req);
        assert!(!body.is_empty());
        let mm = StoredMm {
            id: MmId::generate(),
            meta: MmMeta {
                message_id: "m@x".into(),
                transaction_id: "t".into(),
                from: "tel:+441234567890".into(),
                mms_version: "1.2".into(),
                content_type: "x".into(),
                subject: None,
                size: 1,
                date: Timestamp::from_millis(0),
                expiry: Timestamp::from_millis(0),
                delivery_report: false,
                read_report: false,
                origin: Origin::Mm1 {
                    identity: "x".into(),
                },
            },
            headers,
            body,
            received_at: Timestamp::from_millis(0),
        };
        assert_eq!(stored_pdu(&mm).unwrap(), Pdu::SendReq(req.clone()));
        // The headers alone decode to the same request without its parts: what the notifier
        // reads (`Store::recipient_view` leaves the body in the database).
        let head_only = SendReq {
            body: Body::Multipart(Vec::new()),
            ..req.clone()
        };
        assert_eq!(Pdu::decode(&mm.headers).unwrap(), Pdu::SendReq(head_only));
        let conf = retrieve_conf_of(&mm, Some("tok".into())).unwrap();
        assert_eq!(conf.message_id.as_deref(), Some("m@x"));
        assert_eq!(conf.transaction_id.as_deref(), Some("tok"));
        assert_eq!(conf.to, req.to);
        assert_eq!(conf.body, req.body);
    }

    #[test]
    fn tokens_are_32_lower_hex_digits() {
        assert!(is_token(RetrievalToken::generate().as_str()));
        assert!(!is_token("../../etc/passwd"));
        assert!(!is_token("ABCDEF0123456789ABCDEF0123456789"));
        assert!(!is_token(""));
    }

    #[test]
    fn content_location_joins_base_and_token() {
        let t = RetrievalToken::from_string("00112233445566778899aabbccddeeff".into());
        assert_eq!(
            content_location("http://mms.a.example/", &t),
            "http://mms.a.example/m/00112233445566778899aabbccddeeff"
        );
    }
}
