//! Records kept by the store (DESIGN.md §7): MMs, recipients, outbox items, subscribers, RADIUS bindings,
//! seen MM4 message ids and retrieval tokens. Addresses are plain strings the relay has normalised.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::state::RecipientState;

/// A point in time as milliseconds since the Unix epoch (UTC); callers pass `now` so tests control time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The given number of milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The wall clock now.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(ms)
    }

    /// This time plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

fn random_hex128() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// 48 bits of milliseconds then 80 random bits, in hex: new keys land at the right edge of the
/// B-tree, so a group commit touches a few pages instead of one random page per row.
fn time_ordered_hex128() -> String {
    let ms = u64::try_from(Timestamp::now().as_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let random = rand::random::<u128>() & ((1u128 << 80) - 1);
    format!("{ms:012x}{random:020x}")
}

/// The store's key of one MM: creation time and 80 random bits in 32 hex digits (no sequences, so any SQL
/// database can take them; not a secret — retrieval uses [`RetrievalToken`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MmId(String);

impl MmId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(time_ordered_hex128())
    }

    /// Wraps an id read back from the store or from a queue payload.
    pub fn from_string(id: String) -> Self {
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of one outbox item (time-ordered like [`MmId`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(String);

impl ItemId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(time_ordered_hex128())
    }

    /// Wraps an id read back from the store.
    pub fn from_string(id: String) -> Self {
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The unguessable token in a retrieval URL (`X-Mms-Content-Location`, DESIGN.md §5): 128 random bits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RetrievalToken(String);

impl RetrievalToken {
    /// A fresh token from the OS-seeded thread-local generator (128 bits, hex).
    pub fn generate() -> Self {
        Self(random_hex128())
    }

    /// Wraps a token taken from a request URL (not validated: lookup decides).
    pub fn from_string(token: String) -> Self {
        Self(token)
    }

    /// The token as URL-safe text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RetrievalToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: keep them out of logs.
        f.write_str("RetrievalToken(..)")
    }
}

/// Who handed the MM to this relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// MM1 `m-send-req` from an authenticated UA (DESIGN.md §6); the asserted identity that sent it.
    Mm1 {
        /// The network-asserted identity of the sending UA.
        identity: String,
    },
    /// MM4_forward.REQ from a peer relay (TS 23.140 §8.4.1), with its `X-Mms-Originator-System`.
    Mm4 {
        /// Where MM4 responses and reports go.
        originator_system: String,
    },
}

impl Origin {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Mm1 { .. } => "mm1",
            Self::Mm4 { .. } => "mm4",
        }
    }

    pub(crate) fn detail(&self) -> &str {
        match self {
            Self::Mm1 { identity } => identity,
            Self::Mm4 { originator_system } => originator_system,
        }
    }

    pub(crate) fn parse(kind: &str, detail: String) -> Option<Self> {
        match kind {
            "mm1" => Some(Self::Mm1 { identity: detail }),
            "mm4" => Some(Self::Mm4 {
                originator_system: detail,
            }),
            _ => None,
        }
    }
}

/// The indexed fields of an MM (MMS ENC §7.3 header fields the relay routes and reports on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmMeta {
    /// `X-Mms-Message-ID` (MMS ENC §7.3.29).
    pub message_id: String,
    /// `X-Mms-Transaction-ID` of the request that brought it.
    pub transaction_id: String,
    /// `From`, normalised by the relay.
    pub from: String,
    /// `X-Mms-MMS-Version` as the relay prints it (e.g. `1.3`).
    pub mms_version: String,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// `Subject`, if any.
    pub subject: Option<String>,
    /// `X-Mms-Message-Size` as reported in notifications.
    pub size: u64,
    /// `Date`.
    pub date: Timestamp,
    /// Absolute `X-Mms-Expiry`; pending recipients expire at this time.
    pub expiry: Timestamp,
    /// `X-Mms-Delivery-Report: Yes`.
    pub delivery_report: bool,
    /// `X-Mms-Read-Report: Yes`.
    pub read_report: bool,
    /// Who handed it to us.
    pub origin: Origin,
}

/// An MM to store: indexed fields, the encoded headers and the body, kept once for all recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMm {
    /// Indexed fields.
    pub meta: MmMeta,
    /// The MMS headers as encoded on the wire (opaque to the store).
    pub headers: Bytes,
    /// The body (multipart as received).
    pub body: Bytes,
}

/// A stored MM as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMm {
    /// The store's key.
    pub id: MmId,
    /// Indexed fields.
    pub meta: MmMeta,
    /// The encoded headers, byte for byte as stored.
    pub headers: Bytes,
    /// The body, byte for byte as stored.
    pub body: Bytes,
    /// When the store accepted it.
    pub received_at: Timestamp,
}

/// A stored MM without its body ([`crate::Store::mm_head`]): what the workers that only look at
/// the indexed fields or the headers read, so a 1–300 KB body is not copied out of the database
/// for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmHead {
    /// The store's key.
    pub id: MmId,
    /// Indexed fields.
    pub meta: MmMeta,
    /// The encoded headers, byte for byte as stored.
    pub headers: Bytes,
    /// When the store accepted it.
    pub received_at: Timestamp,
}

/// One recipient of an MM as a worker sees it, read at once ([`crate::Store::recipient_view`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientView {
    /// The MM without its body.
    pub mm: MmHead,
    /// The recipient's record; `None` when the MM has no such recipient.
    pub record: Option<RecipientRecord>,
    /// The MSISDN the subscriber table holds for the IMPU asked about, if one was asked about
    /// and it is there (DESIGN.md §3/§4: a subscriber of the table is local).
    pub subscriber_msisdn: Option<String>,
}

/// One recipient of an MM being accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecipient {
    /// Normalised address.
    pub address: String,
    /// Starting state: [`RecipientState::Resolving`] or [`RecipientState::Notifying`].
    pub state: RecipientState,
    /// Token for the retrieval URL, when the recipient is local and will be notified.
    pub retrieval_token: Option<RetrievalToken>,
}

/// A recipient's delivery record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientRecord {
    /// The MM.
    pub mm_id: MmId,
    /// Normalised address.
    pub address: String,
    /// Where delivery stands.
    pub state: RecipientState,
    /// Route detail set by resolution (peer or MSISDN).
    pub detail: Option<String>,
    /// Attempts made by the work items of this recipient.
    pub attempts: u32,
    /// The last error seen (transient or permanent).
    pub last_error: Option<String>,
    /// When the recipient record was created.
    pub created_at: Timestamp,
    /// When `state` last changed or an attempt was recorded.
    pub updated_at: Timestamp,
}

/// What an outbox item asks a worker to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutboxKind {
    /// Resolve a recipient (DESIGN.md §3/§4).
    Resolve,
    /// Send MM4_forward.REQ (TS 23.140 §8.4.1).
    Mm4Forward,
    /// Send MM4_forward.RES to the originator system.
    Mm4Response,
    /// Send MM4_delivery_report.REQ (TS 23.140 §8.4.2).
    Mm4DeliveryReport,
    /// Send MM4_read_reply_report.REQ (TS 23.140 §8.4.3).
    Mm4ReadReply,
    /// WAP push of m-notification-ind (MMS ENC §6.2).
    Push,
    /// WAP push of m-delivery-ind to the sender (MMS ENC §6.6).
    DeliveryInd,
    /// WAP push of m-read-orig-ind to the sender (MMS ENC §6.7).
    ReadOrigInd,
}

/// Every outbox kind.
pub const ALL_KINDS: [OutboxKind; 8] = [
    OutboxKind::Resolve,
    OutboxKind::Mm4Forward,
    OutboxKind::Mm4Response,
    OutboxKind::Mm4DeliveryReport,
    OutboxKind::Mm4ReadReply,
    OutboxKind::Push,
    OutboxKind::DeliveryInd,
    OutboxKind::ReadOrigInd,
];

impl OutboxKind {
    /// Text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Mm4Forward => "mm4-forward",
            Self::Mm4Response => "mm4-response",
            Self::Mm4DeliveryReport => "mm4-delivery-report",
            Self::Mm4ReadReply => "mm4-read-reply",
            Self::Push => "push",
            Self::DeliveryInd => "delivery-ind",
            Self::ReadOrigInd => "read-orig-ind",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == text)
    }
}

/// An outbox item to enqueue. `idempotency_key` is unique across the whole outbox, done items included:
/// enqueueing the same key twice keeps the first, so a retried request never repeats an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxItem {
    /// What to do.
    pub kind: OutboxKind,
    /// Unique key, e.g. `mm4-forward:<mm id>:<recipient>`.
    pub idempotency_key: String,
    /// The MM the item belongs to, if any.
    pub mm_id: Option<MmId>,
    /// The recipient the item belongs to, if any (its attempts and errors are mirrored there).
    pub recipient: Option<String>,
    /// Opaque data for the worker.
    pub payload: Bytes,
    /// Earliest time a worker may take it.
    pub due_at: Timestamp,
}

impl NewOutboxItem {
    /// An item due at `due_at` for one recipient of an MM, keyed `<kind>:<mm id>:<recipient>`.
    pub fn for_recipient(
        kind: OutboxKind,
        mm_id: &MmId,
        recipient: &str,
        due_at: Timestamp,
    ) -> Self {
        Self {
            kind,
            idempotency_key: format!("{}:{}:{}", kind.as_str(), mm_id, recipient),
            mm_id: Some(mm_id.clone()),
            recipient: Some(recipient.to_owned()),
            payload: Bytes::new(),
            due_at,
        }
    }

    /// The same item with a payload.
    pub fn with_payload(mut self, payload: Bytes) -> Self {
        self.payload = payload;
        self
    }
}

/// An item a worker holds a lease on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedItem {
    /// The item's key.
    pub id: ItemId,
    /// What to do.
    pub kind: OutboxKind,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// The MM, if any.
    pub mm_id: Option<MmId>,
    /// The recipient, if any.
    pub recipient: Option<String>,
    /// Opaque data for the worker.
    pub payload: Bytes,
    /// When it became due.
    pub due_at: Timestamp,
    /// Attempts including this one.
    pub attempts: u32,
    /// The error of the previous attempt.
    pub last_error: Option<String>,
    /// Who holds the lease.
    pub lease_owner: String,
    /// When the lease ends; after it another owner may take the item.
    pub lease_until: Timestamp,
}

impl LeasedItem {
    /// The lease, for completing or retrying the item.
    pub fn lease(&self) -> Lease {
        Lease {
            item: self.id.clone(),
            owner: self.lease_owner.clone(),
        }
    }
}

/// Proof of holding an item: its id and the owner that leased it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The item.
    pub item: ItemId,
    /// The lease owner (a node or worker name).
    pub owner: String,
}

/// Outbox changes that commit in the same transaction as a recipient's state change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxEffects {
    /// Complete this leased item.
    pub complete: Option<Lease>,
    /// Enqueue these items (duplicates by idempotency key are ignored).
    pub enqueue: Vec<NewOutboxItem>,
}

/// What accepting an MM did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored, with the recipients that were new.
    Stored {
        /// The new MM's key.
        id: MmId,
        /// Recipients stored (MM4 recipients seen before are left out).
        recipients: Vec<String>,
    },
    /// An MM4 forward whose every (message id, recipient) pair was seen before: nothing stored
    /// (TS 23.140 §8.4.1 duplicate; answer Ok again, deliver nothing twice).
    Duplicate,
}

/// A recipient turned to [`RecipientState::Expired`] by [`crate::Store::expire_due`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredRecipient {
    /// The MM.
    pub mm_id: MmId,
    /// The recipient.
    pub address: String,
    /// The state it was in.
    pub was: RecipientState,
    /// Whether an expired report was queued (the sender asked for delivery reports).
    pub report_queued: bool,
}

/// A RADIUS accounting binding (RFC 2866): the UE's IP address to its MSISDN until Stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadiusBinding {
    /// `Framed-IP-Address` as text.
    pub ip: String,
    /// `Calling-Station-Id`.
    pub msisdn: String,
    /// `Acct-Session-Id`.
    pub session_id: String,
    /// When Start (or the latest Interim) was recorded.
    pub updated_at: Timestamp,
    /// The NAS that reported the session; `None` for bindings stored before the store recorded
    /// it (schema 1), which any Accounting-On/Off clears ([`crate::Store::radius_nas_reset`]).
    pub nas: Option<NasKey>,
}

/// Which NAS reported a RADIUS binding, so that its Accounting-On/Off (RFC 2866 §5.1
/// Acct-Status-Type 7/8: the NAS restarted or goes down, all its sessions are over) clears exactly
/// the bindings it reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NasKey {
    /// The RADIUS client the Accounting-Request came from (its source address, the party holding
    /// the shared secret; a proxy when several NASes sit behind one).
    pub client: String,
    /// NAS-IP-Address (RFC 2865 §5.4), else NAS-IPv6-Address (RFC 3162 §2.1), else `client`.
    pub ip: String,
    /// NAS-Identifier (RFC 2865 §5.32), when sent.
    pub identifier: Option<String>,
}

/// One recipient of an MM found by its X-Mms-Message-ID ([`crate::Store::mm_by_message_id`]):
/// what read reports (MMS ENC §6.7.2, TS 23.140 §8.4.3) are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecipient {
    /// The store's key of the MM.
    pub mm_id: MmId,
    /// The MM's indexed fields (sender, origin, report requests).
    pub meta: MmMeta,
    /// The recipient's delivery record.
    pub recipient: RecipientRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_ordered_by_time() {
        let a = MmId::generate();
        std::thread::sleep(Duration::from_millis(2));
        let b = MmId::generate();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(a < b);
        assert_ne!(ItemId::generate(), ItemId::generate());
    }

    #[test]
    fn retrieval_tokens_are_128_random_bits_and_not_logged() {
        let t = RetrievalToken::generate();
        assert_eq!(t.as_str().len(), 32);
        assert_ne!(t, RetrievalToken::generate());
        assert_eq!(format!("{t:?}"), "RetrievalToken(..)");
    }

    #[test]
    fn outbox_kind_text_round_trips() {
        for k in ALL_KINDS {
            assert_eq!(OutboxKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OutboxKind::parse("fax"), None);
    }
}
