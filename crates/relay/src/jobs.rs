//! Outbox item payloads (DESIGN.md §1, §7): what each kind of queued work carries, so the code that
//! queues an item and the worker that does it agree on one type.
//!
//! Items that act for one recipient of a stored MM ([`OutboxKind::Resolve`], [`OutboxKind::Mm4Forward`],
//! [`OutboxKind::Push`]) carry the MM id and recipient address on the item itself; their payload adds
//! only what the producer decided. Reports and responses outlive the request that caused them, so their
//! payload holds everything needed to build the message. Payloads are JSON: readable in the database
//! and tolerant of fields added later.

use bytes::Bytes;
use mms_store::{NewOutboxItem, OutboxKind, Timestamp};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A payload with its outbox kind.
pub trait Job: Serialize + DeserializeOwned {
    /// The outbox kind that carries this payload.
    const KIND: OutboxKind;

    /// Encodes the payload for [`NewOutboxItem::payload`].
    fn to_payload(&self) -> Bytes {
        // Serialising plain structs of strings and integers to JSON cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a payload read from the outbox.
    fn from_payload(payload: &[u8]) -> Result<Self, JobError> {
        serde_json::from_slice(payload).map_err(|e| JobError {
            kind: Self::KIND.as_str(),
            reason: e.to_string(),
        })
    }

    /// An item with this payload under `idempotency_key`, due at `due_at`.
    fn item(
        &self,
        idempotency_key: String,
        mm_id: Option<mms_store::MmId>,
        recipient: Option<String>,
        due_at: Timestamp,
    ) -> NewOutboxItem {
        NewOutboxItem {
            kind: Self::KIND,
            idempotency_key,
            mm_id,
            recipient,
            payload: self.to_payload(),
            due_at,
        }
    }
}

/// A payload that does not decode as its kind says: the item is failed, not retried.
#[derive(Debug, thiserror::Error)]
#[error("outbox {kind} payload does not decode: {reason}")]
pub struct JobError {
    /// The item's kind.
    pub kind: &'static str,
    /// The decoder's message.
    pub reason: String,
}

/// Resolve one recipient (DESIGN.md §3): local delivery or a peer. Item carries MM id and recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveJob {
    /// The recipient's retrieval token as stored by `accept_mm`, handed on to the [`PushJob`]
    /// (the store has no recipient -> token accessor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_token: Option<String>,
}

impl Job for ResolveJob {
    const KIND: OutboxKind = OutboxKind::Resolve;
}

/// Forward the MM to a peer relay as `MM4_forward.REQ` (TS 23.140 §8.4.1). Item carries MM id and
/// recipient; the hosts are resolved again (from cache) when sending, so a changed MX is followed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mm4ForwardJob {
    /// The recipient's MMSE domain (right-hand side of the MM4 address).
    pub mmse_domain: String,
}

impl Job for Mm4ForwardJob {
    const KIND: OutboxKind = OutboxKind::Mm4Forward;
}

/// Notify a local recipient by WAP push of `m-notification-ind` (MMS ENC §6.2). Item carries MM id
/// and recipient; `msisdn` is set when resolution already learned it (else the notifier asks the HSS
/// or the subscriber table).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushJob {
    /// E.164 digits (no `+`) to send the SMS to, if known.
    pub msisdn: Option<String>,
    /// The recipient's retrieval token (from the [`ResolveJob`]): the notification's
    /// X-Mms-Content-Location and X-Mms-Transaction-ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_token: Option<String>,
}

impl Job for PushJob {
    const KIND: OutboxKind = OutboxKind::Push;
}

/// Answer a peer's `MM4_forward.REQ` (or report) with its `.RES` (TS 23.140 §8.4.1.2), sent to the
/// request's `X-Mms-Originator-System` when it asked for an acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mm4ResponseJob {
    /// `MM4_forward.RES`, `MM4_delivery_report.RES` or `MM4_read_reply_report.RES`.
    pub message_type: String,
    /// RFC 5321 address to send the response to (`X-Mms-Originator-System`).
    pub to: String,
    /// `X-Mms-Transaction-ID` of the request.
    pub transaction_id: String,
    /// `X-Mms-Message-ID` of the request.
    pub message_id: String,
    /// `X-Mms-Request-Status-Code` text (`Ok`, `Error-unspecified`, ...).
    pub request_status_code: String,
    /// `X-Mms-Status-Text`, if any.
    pub status_text: Option<String>,
}

impl Job for Mm4ResponseJob {
    const KIND: OutboxKind = OutboxKind::Mm4Response;
}

/// The delivery outcome of one recipient, reported to the MM's sender (MMS ENC §6.6, TS 23.140
/// §8.4.2): as `MM4_delivery_report.REQ` to the originating relay ([`OutboxKind::Mm4DeliveryReport`])
/// or as `m-delivery-ind` pushed to a local sender ([`OutboxKind::DeliveryInd`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReportJob {
    /// `X-Mms-Message-ID` of the original MM.
    pub message_id: String,
    /// The original MM's sender (normalised address), to whom the report goes.
    pub sender: String,
    /// The recipient the report is about (normalised address).
    pub recipient: String,
    /// MMS ENC `X-Mms-Status` value (128 Expired, 129 Retrieved, 130 Rejected, 131 Deferred,
    /// 132 Unrecognised, 133 Indeterminate, 134 Forwarded, 135 Unreachable).
    pub status: u8,
    /// Optional `X-Mms-Status-Text`.
    pub status_text: Option<String>,
    /// When the outcome happened (seconds since the epoch).
    pub date: u64,
    /// For MM4: the originating relay's `X-Mms-Originator-System` (where the report is sent).
    pub originator_system: Option<String>,
}

/// The MM4 form of a delivery report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mm4DeliveryReportJob(pub DeliveryReportJob);

impl Job for Mm4DeliveryReportJob {
    const KIND: OutboxKind = OutboxKind::Mm4DeliveryReport;
}

/// The MM1 form of a delivery report: `m-delivery-ind` pushed to the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryIndJob(pub DeliveryReportJob);

impl Job for DeliveryIndJob {
    const KIND: OutboxKind = OutboxKind::DeliveryInd;
}

/// A read report of one recipient back to the sender (MMS ENC §6.7, TS 23.140 §8.4.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReportJob {
    /// `X-Mms-Message-ID` of the original MM.
    pub message_id: String,
    /// The original MM's sender, to whom the report goes.
    pub sender: String,
    /// The recipient who read (or deleted) the MM.
    pub recipient: String,
    /// MMS ENC `X-Mms-Read-Status` (128 Read, 129 Deleted without being read).
    pub read_status: u8,
    /// When (seconds since the epoch).
    pub date: u64,
    /// For MM4: the originating relay's `X-Mms-Originator-System`.
    pub originator_system: Option<String>,
}

/// The MM4 form of a read report (`MM4_read_reply_report.REQ`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mm4ReadReplyJob(pub ReadReportJob);

impl Job for Mm4ReadReplyJob {
    const KIND: OutboxKind = OutboxKind::Mm4ReadReply;
}

/// The MM1 form of a read report: `m-read-orig-ind` pushed to the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOrigIndJob(pub ReadReportJob);

impl Job for ReadOrigIndJob {
    const KIND: OutboxKind = OutboxKind::ReadOrigInd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_names_its_kind_on_error() {
        let job = Mm4ForwardJob {
            mmse_domain: "mms.b.example".into(),
        };
        assert_eq!(Mm4ForwardJob::from_payload(&job.to_payload()).unwrap(), job);
        let err = Mm4ForwardJob::from_payload(b"{}").unwrap_err();
        assert_eq!(err.kind, "mm4-forward");
    }

    #[test]
    fn delivery_report_payload_keeps_every_field() {
        let job = DeliveryIndJob(DeliveryReportJob {
            message_id: "m1".into(),
            sender: "sip:alice@a.example".into(),
            recipient: "sip:bob@b.example".into(),
            status: 129,
            status_text: None,
            date: 1_800_000_000,
            originator_system: None,
        });
        assert_eq!(
            DeliveryIndJob::from_payload(&job.to_payload()).unwrap(),
            job
        );
    }
}
