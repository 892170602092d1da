//! The notifier (DESIGN.md §5): WAP Push over SMS through an SMSC over SMPP 3.4.
//!
//! One worker loop takes three kinds of items:
//! * [`OutboxKind::Push`]: `m-notification-ind` (MMS ENC 1.3 §6.2) to a local recipient: From
//!   (unless the sender hid it, §7.3.52), Subject, class, priority, size, expiry and
//!   X-Mms-Content-Location = `<mm1 public URL>/m/<retrieval token>`; its X-Mms-Transaction-ID is
//!   the token (the MM1 server finds the recipient by it, see [`crate::mm1`]).
//! * [`OutboxKind::DeliveryInd`]: `m-delivery-ind` (§6.6) to a local sender.
//! * [`OutboxKind::ReadOrigInd`]: `m-read-orig-ind` (§6.7.2) to a local sender.
//!
//! Each PDU is wrapped in a connectionless WSP push (WAP-230 §8.2.4), cut into SMS per `[notifier]
//! mode` (UDH concatenation with port addressing, TS 23.040 §9.2.3.24, or SMPP SAR TLVs, SMPP 3.4
//! §5.3.2.22–24) with concatenation references rotating per destination, and every segment is
//! submitted (`submit_sm`, data_coding 0x04). All segments accepted: the recipient is `Notified`;
//! an SMSC error that may pass (throttling, timeout, connection lost) retries the item until the
//! MM expires; a permanent one fails the recipient (delivery report Unreachable).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diameter::sh_client::ShClient;
use mms_address::Address;
use mms_pdu::{
    DeliveryInd, EncodedString, FromAddress, MessageClass, MmsVersion, NotificationInd, Pdu,
    ReadOrigInd, ReadStatus, SenderVisibility, Status, TimeSpec,
};
use mms_store::{
    LeasedItem, MmHead, OutboxKind, RecipientEvent, RecipientState, RetrievalToken, Store,
};
use serde::Deserialize;
use smpp::SubmitSm;
use smpp::client::{Client, ClientConfig};
use smpp::session::{Backoff, SubmitError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wap_push::{ConcatReference, Ports, ReferenceAllocator, ReferenceWidth, SegmentError};

use crate::jobs::PushJob;
use crate::reports::{
    RecipientItem, ReportItemError, WorkerContext, delivery_report_of, read_report_of,
    report_expiry, secs,
};
use crate::routing::{MsisdnError, QueueTuning, msisdn_for};
use crate::worker::{self, Handler, Outcome, Wake};

/// `[smsc]`: the SMSC the relay binds to as an ESME (SMPP 3.4 §4.1, DESIGN.md §5 step 4).
/// Its `Debug` output (and so the config's) leaves the password out.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmscConfig {
    /// The SMSC's host name or IP address.
    pub host: String,
    /// The SMSC's SMPP port.
    pub port: u16,
    /// bind_transceiver system_id (up to 15 characters).
    pub system_id: String,
    /// bind_transceiver password (up to 8 characters).
    pub password: String,
    /// bind_transceiver system_type.
    pub system_type: String,
    /// Most submit_sm outstanding without response (SMPP 3.4 §2.5 window).
    pub window: usize,
    /// Most submit_sm per second; none for no limit.
    pub throttle_per_second: Option<u32>,
    /// submit_sm registered_delivery (0: no receipt, 1: receipt on final outcome).
    pub registered_delivery: u8,
    /// source_addr of every submit_sm (the relay's short code or number).
    pub source_address: String,
    /// source_addr_ton (1 international, 5 alphanumeric, ...).
    pub source_ton: u8,
    /// source_addr_npi (1 E.164).
    pub source_npi: u8,
    /// How long to wait for any SMSC response, in milliseconds.
    pub response_timeout_ms: u64,
    /// enquire_link after this many seconds of silence (SMPP 3.4 §4.11).
    pub enquire_link_secs: u64,
    /// Largest delay between reconnect attempts, in milliseconds.
    pub reconnect_max_ms: u64,
}

impl std::fmt::Debug for SmscConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmscConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("window", &self.window)
            .field("throttle_per_second", &self.throttle_per_second)
            .field("registered_delivery", &self.registered_delivery)
            .field("source_address", &self.source_address)
            .field("source_ton", &self.source_ton)
            .field("source_npi", &self.source_npi)
            .field("response_timeout_ms", &self.response_timeout_ms)
            .field("enquire_link_secs", &self.enquire_link_secs)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .finish()
    }
}

impl Default for SmscConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 2775,
            system_id: "mmsrelay".into(),
            password: String::new(),
            system_type: String::new(),
            window: 10,
            throttle_per_second: None,
            registered_delivery: 0,
            source_address: "9200".into(),
            source_ton: 1,
            source_npi: 1,
            response_timeout_ms: 10_000,
            enquire_link_secs: 30,
            reconnect_max_ms: 30_000,
        }
    }
}

/// How a push longer than one SMS is cut (DESIGN.md §5 step 3/4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    /// User data header: port addressing and concatenation IEs in every SMS (esm_class UDHI).
    #[default]
    Udh,
    /// No UDH: ports and segmentation in SMPP TLVs (0x020A/0x020B, 0x020C/0x020E/0x020F).
    Sar,
}

/// `[notifier]`: how pushes are built and sent.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    /// UDH or SAR TLV segmentation.
    pub mode: PushMode,
    /// Width of UDH concatenation references: 8 (IEI 0x00) or 16 (IEI 0x08).
    pub udh_reference_bits: u8,
    /// Destinations whose last reference number is remembered.
    pub references_remembered: usize,
    /// How long a delivery or read report is retried after the event it reports, in seconds.
    pub report_keep_secs: u64,
    /// The worker loop.
    pub queue: QueueTuning,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            mode: PushMode::Udh,
            udh_reference_bits: 8,
            references_remembered: 100_000,
            report_keep_secs: 2 * 86_400,
            queue: QueueTuning::default(),
        }
    }
}

/// Why starting the notifier failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `[smsc] host` does not resolve to an address.
    #[error("SMSC host {host}:{port} does not resolve: {reason}")]
    SmscAddress {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// Why.
        reason: String,
    },
}

/// Why a push was not handed to the SMSC.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The push needs more than 255 SMS.
    #[error("push cannot be segmented: {0}")]
    Segment(#[from] SegmentError),
    /// An SMSC refusal or a session failure.
    #[error("submit_sm: {0}")]
    Submit(#[from] SubmitError),
}

impl PushError {
    /// Whether submitting again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            PushError::Segment(_) => false,
            PushError::Submit(e) => e.is_transient(),
        }
    }
}

/// The `m-notification-ind` (MMS ENC 1.3 §6.2) telling a recipient that `mm` waits at
/// `<public_url>/m/<token>`. The stored MM is an `m-send-req` (MM1 origin) or `m-retrieve-conf`
/// (MM4 origin), see [`crate::mm1`]; its headers alone decode (the body follows them), and they
/// hold every field the notification takes.
pub fn notification_ind(
    mm: &MmHead,
    token: &RetrievalToken,
    public_url: &str,
) -> Result<NotificationInd, mms_pdu::DecodeError> {
    let (from, subject, class, priority, delivery_report) = match Pdu::decode(&mm.headers)? {
        Pdu::SendReq(s) => {
            let hide = s.sender_visibility == Some(SenderVisibility::HIDE);
            (
                (!hide).then_some(s.from),
                s.subject,
                s.message_class,
                s.priority,
                s.delivery_report,
            )
        }
        Pdu::RetrieveConf(r) => (
            r.from,
            r.subject,
            r.message_class,
            r.priority,
            r.delivery_report,
        ),
        other => {
            return Err(mms_pdu::DecodeError::UnknownMessageType {
                value: other.message_type().0,
            });
        }
    };
    Ok(NotificationInd {
        transaction_id: crate::mm1::notification_transaction_id(token),
        version: MmsVersion::V1_2,
        from,
        subject,
        delivery_report,
        message_class: class.unwrap_or(MessageClass::Personal),
        priority,
        message_size: mm.meta.size,
        expiry: TimeSpec::Absolute(secs(mm.meta.expiry)),
        content_location: crate::mm1::content_location(public_url, token),
        ..Default::default()
    })
}

/// An address as MMS ENC writes it in To/From (`+49…/TYPE=PLMN`, `sip%3A…/TYPE=SIP`).
fn mms_enc(address: &str) -> EncodedString {
    EncodedString::plain(
        Address::parse(address)
            .map(|a| a.to_mms_enc())
            .unwrap_or_else(|_| address.to_owned()),
    )
}

/// Sends WAP pushes through one SMPP session.
pub struct PushSender {
    client: Client,
    source: smpp::Address,
    registered_delivery: u8,
    mode: PushMode,
    width: ReferenceWidth,
    references: Mutex<ReferenceAllocator>,
    wsp_tid: AtomicU8,
}

impl PushSender {
    /// A sender over an SMPP client.
    pub fn new(client: Client, smsc: &SmscConfig, config: &NotifierConfig) -> Self {
        Self {
            client,
            source: smpp::Address {
                ton: smsc.source_ton,
                npi: smsc.source_npi,
                address: smsc.source_address.clone(),
            },
            registered_delivery: smsc.registered_delivery,
            mode: config.mode,
            width: if config.udh_reference_bits == 16 {
                ReferenceWidth::Sixteen
            } else {
                ReferenceWidth::Eight
            },
            references: Mutex::new(ReferenceAllocator::new(config.references_remembered.max(1))),
            wsp_tid: AtomicU8::new(rand::random()),
        }
    }

    /// The submit_sm of one push of `mms_pdu` to `msisdn` (DESIGN.md §5 steps 2–4).
    pub fn submits(&self, msisdn: &str, mms_pdu: &[u8]) -> Result<Vec<SubmitSm>, SegmentError> {
        let push = wap_push::encode_mms_push(self.wsp_tid.fetch_add(1, Ordering::Relaxed), mms_pdu);
        let destination = smpp::Address::international(msisdn);
        let mut references = self.references.lock().unwrap_or_else(|e| e.into_inner());
        let mut submits: Vec<SubmitSm> = match self.mode {
            PushMode::Udh => {
                let reference: ConcatReference = references.next(msisdn, self.width);
                drop(references);
                wap_push::segment_udh(&push, Ports::WAP_PUSH, reference)?
                    .into_iter()
                    .map(|ud| SubmitSm::binary(self.source.clone(), destination.clone(), ud, true))
                    .collect()
            }
            PushMode::Sar => {
                let reference = references.next_sar(msisdn);
                drop(references);
                wap_push::segment_sar(&push, reference)?
                    .into_iter()
                    .map(|seg| {
                        let sm = SubmitSm::binary(
                            self.source.clone(),
                            destination.clone(),
                            seg.payload,
                            false,
                        )
                        .with_ports(Ports::WAP_PUSH.source, Ports::WAP_PUSH.destination);
                        match seg.sar {
                            Some(sar) => sm.with_sar(sar.reference, sar.total, sar.sequence),
                            None => sm,
                        }
                    })
                    .collect()
            }
        };
        for sm in &mut submits {
            sm.registered_delivery = self.registered_delivery;
        }
        Ok(submits)
    }

    /// Submits every segment of one push; `Ok` when the SMSC accepted all of them.
    pub async fn send(&self, msisdn: &str, mms_pdu: &[u8]) -> Result<(), PushError> {
        let submits = self.submits(msisdn, mms_pdu)?;
        let results =
            futures::future::join_all(submits.into_iter().map(|sm| self.client.submit(sm))).await;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(_) => {}
                // A permanent refusal outranks a transient one: retrying would not help.
                Err(e)
                    if first_error
                        .as_ref()
                        .is_none_or(|f: &SubmitError| f.is_transient()) =>
                {
                    first_error = Some(e);
                }
                Err(_) => {}
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    }
}

/// The notifier's handler of [`OutboxKind::Push`], [`OutboxKind::DeliveryInd`] and
/// [`OutboxKind::ReadOrigInd`] items.
pub struct Notifier<S> {
    cx: WorkerContext<S>,
    sh: Option<Arc<ShClient>>,
    sender: PushSender,
    public_url: String,
    report_keep_secs: u64,
}

impl<S: Store> Notifier<S> {
    /// A notifier pushing through `sender`; retrieval URLs start with `public_url` (`[mm1]
    /// public_url`).
    pub fn new(
        store: S,
        sh: Option<Arc<ShClient>>,
        sender: PushSender,
        public_url: &str,
        config: &NotifierConfig,
        wake: Wake,
    ) -> Self {
        Self {
            cx: WorkerContext { store, wake },
            sh,
            sender,
            public_url: public_url.to_owned(),
            report_keep_secs: config.report_keep_secs,
        }
    }

    async fn notify(&self, item: LeasedItem) -> Outcome {
        let named = match RecipientItem::of(&item, "push", Some(PushJob::default())) {
            Ok(named) => named,
            Err(outcome) => return outcome,
        };
        let (mm_id, recipient) = (named.mm_id, named.recipient);
        // The MM without its body (the notification needs its headers only) and the
        // recipient's record, in one read.
        let read = self.cx.store.recipient_view(mm_id, recipient, None).await;
        let (mm, record) = match named.mm_and_record(read.map(|v| v.map(|v| (v.mm, v.record)))) {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let job = named.job;
        if record.state != RecipientState::Notifying {
            tracing::debug!(mm = %mm_id, recipient, state = %record.state, "push no longer needed");
            return Outcome::Done;
        }
        let fail = |error: String| {
            self.cx
                .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
        };
        let Some(token) = job.retrieval_token.map(RetrievalToken::from_string) else {
            return fail("no retrieval token was issued for the recipient".into()).await;
        };
        let msisdn = match job.msisdn {
            Some(m) => m,
            None => match self.msisdn_of(recipient).await {
                Ok(m) => m,
                Err(MsisdnError::Unavailable(e)) => {
                    return Outcome::Retry {
                        error: e,
                        expiry: Some(mm.meta.expiry),
                    };
                }
                Err(e) => return fail(e.to_string()).await,
            },
        };
        let ni = match notification_ind(&mm, &token, &self.public_url) {
            Ok(ni) => ni,
            Err(e) => return fail(format!("stored MM does not decode: {e}")).await,
        };
        match self.sender.send(&msisdn, &Pdu::from(ni).encode()).await {
            Ok(()) => {
                self.cx
                    .advance(&item, mm_id, recipient, RecipientEvent::PushSent)
                    .await
            }
            Err(e) if e.is_transient() => Outcome::Retry {
                error: e.to_string(),
                expiry: Some(mm.meta.expiry),
            },
            Err(e) => fail(e.to_string()).await,
        }
    }

    async fn msisdn_of(&self, address: &str) -> Result<String, MsisdnError> {
        let a =
            Address::parse(address).map_err(|e| MsisdnError::Unknown(format!("{address}: {e}")))?;
        msisdn_for(&self.cx.store, self.sh.as_deref(), &a).await
    }

    /// Pushes a report PDU to a local sender.
    async fn push_report(&self, sender: &str, pdu: Pdu, date: u64) -> Outcome {
        let msisdn = match self.msisdn_of(sender).await {
            Ok(m) => m,
            Err(MsisdnError::Unavailable(error)) => {
                return Outcome::Retry {
                    error,
                    expiry: Some(report_expiry(date, self.report_keep_secs)),
                };
            }
            Err(e) => {
                return Outcome::Fail {
                    error: e.to_string(),
                };
            }
        };
        match self.sender.send(&msisdn, &pdu.encode()).await {
            Ok(()) => Outcome::Done,
            Err(e) if e.is_transient() => Outcome::Retry {
                error: e.to_string(),
                expiry: Some(report_expiry(date, self.report_keep_secs)),
            },
            Err(e) => Outcome::Fail {
                error: e.to_string(),
            },
        }
    }

    async fn delivery_ind(&self, item: LeasedItem) -> Outcome {
        let report = match delivery_report_of(&self.cx.store, &item).await {
            Ok(r) => r,
            Err(e) => return report_item_outcome(e),
        };
        let ind = DeliveryInd {
            version: MmsVersion::V1_2,
            message_id: report.message_id.clone(),
            to: vec![mms_enc(&report.recipient)],
            date: Some(report.date),
            status: Status(report.status),
            status_text: report.status_text.clone().map(EncodedString::utf8),
            ..Default::default()
        };
        self.push_report(&report.sender, Pdu::from(ind), report.date)
            .await
    }

    async fn read_orig_ind(&self, item: LeasedItem) -> Outcome {
        let report = match read_report_of(&item) {
            Ok(r) => r,
            Err(e) => return report_item_outcome(e),
        };
        let ind = ReadOrigInd {
            version: MmsVersion::V1_2,
            message_id: report.message_id.clone(),
            to: vec![mms_enc(&report.sender)],
            from: Some(FromAddress::Present(mms_enc(&report.recipient))),
            date: Some(report.date),
            read_status: ReadStatus(report.read_status),
            ..Default::default()
        };
        self.push_report(&report.sender, Pdu::from(ind), report.date)
            .await
    }
}

/// The outcome of a report item that cannot be built.
pub(crate) fn report_item_outcome(e: ReportItemError) -> Outcome {
    match e {
        ReportItemError::Store(e) => Outcome::Retry {
            error: format!("store: {e}"),
            expiry: None,
        },
        other => Outcome::Fail {
            error: other.to_string(),
        },
    }
}

impl<S: Store> Handler for Notifier<S> {
    async fn handle(&self, item: LeasedItem) -> Outcome {
        match item.kind {
            OutboxKind::Push => self.notify(item).await,
            OutboxKind::DeliveryInd => self.delivery_ind(item).await,
            OutboxKind::ReadOrigInd => self.read_orig_ind(item).await,
            other => Outcome::Fail {
                error: format!("notifier does not handle {}", other.as_str()),
            },
        }
    }
}

/// The SMPP client settings of `[smsc]` for the SMSC at `addr`.
pub fn client_config(smsc: &SmscConfig, addr: SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new(addr);
    c.session.bind.system_id = smsc.system_id.clone();
    c.session.bind.password = smsc.password.clone();
    c.session.bind.system_type = smsc.system_type.clone();
    c.session.window = smsc.window.max(1);
    c.session.throttle_per_second = smsc.throttle_per_second;
    c.session.response_timeout = Duration::from_millis(smsc.response_timeout_ms.max(1));
    // A push waits unsent (SMSC unreachable) at most one response timeout; then the outbox item
    // retries with backoff and stops at the MM's expiry. A longer wait inside the SMPP client
    // would send the notification of an MM that expired meanwhile (RELIABILITY.md §2).
    c.session.queue_timeout = c.session.response_timeout;
    c.session.enquire_link_interval = Duration::from_secs(smsc.enquire_link_secs.max(1));
    c.session.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(smsc.reconnect_max_ms.max(100)),
    };
    c
}

/// Starts the SMPP session to `[smsc]` and the notifier's worker loop. The returned handle ends
/// after `cancel` fired, the loop settled its items and the session unbound.
pub async fn spawn<S: Store>(
    config: &NotifierConfig,
    smsc: &SmscConfig,
    public_url: &str,
    store: S,
    sh: Option<Arc<ShClient>>,
    wake: Wake,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, StartError> {
    let addr = tokio::net::lookup_host((smsc.host.as_str(), smsc.port))
        .await
        .map_err(|e| e.to_string())
        .and_then(|mut a| a.next().ok_or_else(|| "no address".to_owned()))
        .map_err(|reason| StartError::SmscAddress {
            host: smsc.host.clone(),
            port: smsc.port,
            reason,
        })?;
    let (client, mut receipts) = Client::start(client_config(smsc, addr));
    let sender = PushSender::new(client.clone(), smsc, config);
    let handler = Arc::new(Notifier::new(
        store.clone(),
        sh,
        sender,
        public_url,
        config,
        wake.clone(),
    ));
    let kinds = vec![
        OutboxKind::Push,
        OutboxKind::DeliveryInd,
        OutboxKind::ReadOrigInd,
    ];
    let worker = worker::spawn(
        store,
        config.queue.worker_config("notifier", kinds),
        handler,
        &wake,
        cancel.clone(),
    );
    Ok(tokio::spawn(async move {
        let drain = async {
            // Delivery receipts of the pushes (registered_delivery): logged, not acted on.
            while let Some(receipt) = receipts.recv().await {
                tracing::debug!(source = %receipt.source.address, "SMSC receipt");
            }
        };
        tokio::select! {
            _ = drain => {}
            _ = cancel.cancelled() => {}
        }
        let _ = worker.await;
        client.shutdown().await;
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifier_config_reads_mode_and_rejects_unknown_keys() {
        let c: NotifierConfig = toml::from_str("mode = \"sar\"\n").unwrap();
        assert_eq!(c.mode, PushMode::Sar);
        assert_eq!(c.udh_reference_bits, 8);
        assert!(toml::from_str::<NotifierConfig>("modus = \"sar\"").is_err());
        let s: SmscConfig = toml::from_str("host = \"smsc.example\"\nwindow = 64\n").unwrap();
        assert_eq!((s.port, s.window), (2775, 64));
    }

    #[test]
    fn mms_enc_writes_sip_and_tel_in_mms_enc_form_section_8() {
        assert_eq!(
            mms_enc("tel:+4917612345678").text(),
            "+4917612345678/TYPE=PLMN"
        );
        assert_eq!(
            mms_enc("sip:bob@b.example").text(),
            "sip%3Abob%40b.example/TYPE=SIP"
        );
    }
}
