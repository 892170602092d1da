//! Durable store and work queues of the relay (DESIGN.md §7): SQLite (embedded default) and
//! PostgreSQL (shared by many relay nodes), both on sqlx.
//!
//! # Using it
//!
//! Open with [`AnyStore::open`], which takes a data directory path (SQLite, `mmsrelay.db` inside it),
//! a `sqlite:` URL or a `postgres://` URL. The handle is cheap to clone, `Send + Sync`, and every
//! operation is an `async fn` of the [`Store`] trait; code that wants to stay back-end agnostic takes
//! `S: Store` or simply [`AnyStore`].
//!
//! Every write has committed durably when its future returns `Ok` (SQLite: WAL with
//! `synchronous=FULL`, concurrent writes batched into one group commit; PostgreSQL: one transaction
//! per call), so the relay may acknowledge (`m-send-conf`, `MM4_forward.RES`) right after.
//!
//! # What is kept
//!
//! * MMs: the encoded headers and the body once, plus the indexed fields ([`MmMeta`]).
//! * Per-recipient delivery state ([`RecipientState`], transitions are pure functions).
//! * The outbox: every outbound action as an item with a unique idempotency key, a due time, attempts
//!   and a lease. [`Store::lease`] hands due items to one owner at a time; an expired lease is taken
//!   by the next owner, so a node that dies loses nothing; a live owner whose lease call failed
//!   gives back what that call may have leased ([`Store::release_leases`]). A recipient's state change and the outbox
//!   changes it implies commit in one transaction ([`Store::update_recipient`] with [`OutboxEffects`]);
//!   accepting an MM stores it, its recipients and their first items at once ([`Store::accept_mm`]).
//! * Subscribers (IMPU ↔ MSISDN), RADIUS bindings (IP → MSISDN, with the NAS that reported
//!   them, cleared when it sends Accounting-On/Off), MM4 message ids already seen
//!   (duplicate suppression, TS 23.140 §8.4.1) and retrieval tokens (≥128 random bits).
//!
//! Retry timing is a pure function, [`retry_at`]; [`Store::expire_due`] turns recipients whose MM
//! expired into [`RecipientState::Expired`] and queues their expired reports.
//!
//! Bodies are kept inline in the database on both back ends (SQLite blobs, PostgreSQL `BYTEA`), once
//! per MM however many recipients it has: a body then becomes durable in the same fsync as its
//! record, with no file to write, fsync and garbage-collect beside it.
//!
//! # Schema
//!
//! Migrations are embedded (one set per back end; the SQL differs only in the blob type) and run at
//! open. A database migrated by a newer binary is refused with [`OpenError::SchemaTooNew`].
#![forbid(unsafe_code)]

mod backend;
mod error;
mod model;
mod postgres;
mod retry;
mod sqlite;
mod state;

use std::future::Future;
use std::time::Duration;

pub use error::{OpenError, QueueError, StoreError, UpdateError};
pub use model::{
    ALL_KINDS, AcceptOutcome, ExpiredRecipient, ItemId, Lease, LeasedItem, MessageRecipient,
    MmHead, MmId, MmMeta, NasKey, NewMm, NewOutboxItem, NewRecipient, Origin, OutboxEffects,
    OutboxKind, RadiusBinding, RecipientRecord, RecipientView, RetrievalToken, StoredMm, Timestamp,
};
pub use postgres::{PgStore, PoolOptions};
pub use retry::{RetryPolicy, retry_at, retry_at_random};
pub use sqlite::{DB_FILE, SqliteStore};
pub use state::{ALL_STATES, RecipientEvent, RecipientState, TransitionError};

/// The most MMs [`Store::mm_by_message_id`] returns for one (message id, recipient).
pub const MESSAGE_ID_MATCHES: u32 = 16;

/// The relay's durable store (DESIGN.md §7). Every method commits before it returns `Ok`.
pub trait Store: Clone + Send + Sync + 'static {
    /// Stores an MM, its recipients (with their retrieval tokens) and their first outbox items in one
    /// transaction. Items naming no MM get the new MM's id; items of a recipient left out are dropped.
    ///
    /// For an MM4 origin, every (message id, recipient) pair is recorded as seen; pairs seen before are
    /// left out, and when none is new nothing is stored ([`AcceptOutcome::Duplicate`], TS 23.140 §8.4.1).
    fn accept_mm(
        &self,
        mm: NewMm,
        recipients: Vec<NewRecipient>,
        outbox: Vec<NewOutboxItem>,
        now: Timestamp,
    ) -> impl Future<Output = Result<AcceptOutcome, StoreError>> + Send;

    /// Reads an MM with its headers and body.
    fn mm(&self, id: &MmId) -> impl Future<Output = Result<Option<StoredMm>, StoreError>> + Send;

    /// Reads an MM's indexed fields and headers, without its body.
    fn mm_head(&self, id: &MmId)
    -> impl Future<Output = Result<Option<MmHead>, StoreError>> + Send;

    /// Reads, in one round trip, an MM with its body and the record of its recipient
    /// `recipient` (`None` when it has no such recipient). `None` when the MM is not stored. The
    /// MM4 forwarding worker reads its item's MM with it.
    fn mm_with_recipient(
        &self,
        id: &MmId,
        recipient: &str,
    ) -> impl Future<Output = Result<Option<(StoredMm, Option<RecipientRecord>)>, StoreError>> + Send;

    /// Reads, in one round trip, an MM without its body, the record of its recipient `recipient`
    /// and, when `impu` is given, the subscriber table's MSISDN for that IMPU (what
    /// [`Store::msisdn_for_impu`] answers). `None` when the MM is not stored. The routing worker
    /// (which checks the subscriber table before resolving, DESIGN.md §3) and the notifier read
    /// their item's MM with it.
    fn recipient_view(
        &self,
        id: &MmId,
        recipient: &str,
        impu: Option<&str>,
    ) -> impl Future<Output = Result<Option<RecipientView>, StoreError>> + Send;

    /// The recipients of an MM, ordered by address.
    fn recipients(
        &self,
        id: &MmId,
    ) -> impl Future<Output = Result<Vec<RecipientRecord>, StoreError>> + Send;

    /// The MMs stored under X-Mms-Message-ID `message_id` that have `recipient` (a normalised
    /// address) among their recipients, with that recipient's record; newest first, at most
    /// [`MESSAGE_ID_MATCHES`]. Indexed by message id, then by (MM, recipient). Read reports
    /// (MMS ENC §6.7.2, TS 23.140 §8.4.3) are checked against it.
    fn mm_by_message_id(
        &self,
        message_id: &str,
        recipient: &str,
    ) -> impl Future<Output = Result<Vec<MessageRecipient>, StoreError>> + Send;

    /// Applies `event` to one recipient ([`RecipientState::apply`]) and, in the same transaction,
    /// completes `effects.complete` and enqueues `effects.enqueue`. Nothing changes on error.
    fn update_recipient(
        &self,
        mm_id: &MmId,
        address: &str,
        event: RecipientEvent,
        effects: OutboxEffects,
        now: Timestamp,
    ) -> impl Future<Output = Result<RecipientState, UpdateError>> + Send;

    /// Enqueues items; an idempotency key already present (pending or done) is ignored.
    /// Returns how many were new.
    fn enqueue(
        &self,
        items: Vec<NewOutboxItem>,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Leases up to `n` due items of the given kinds that no live lease holds, oldest due first, to
    /// `owner` until `now + lease_for`; counts an attempt on each.
    fn lease(
        &self,
        kinds: &[OutboxKind],
        n: u32,
        owner: &str,
        lease_for: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<LeasedItem>, StoreError>> + Send;

    /// Gives back every pending item of `kinds` that `owner` leased at `leased_at` (the `now` of
    /// that [`Store::lease`] call), uncounting the attempt the lease counted, so the items are due
    /// again at once. For a worker whose lease call failed with the lease perhaps committed (the
    /// connection dropped between COMMIT and the answer): it holds none of those items, and no
    /// one else would take them before the lease ran out. Returns how many were given back.
    fn release_leases(
        &self,
        kinds: &[OutboxKind],
        owner: &str,
        leased_at: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Marks a leased item done. [`QueueError::LeaseLost`] if another owner took it meanwhile.
    fn complete(
        &self,
        lease: &Lease,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Releases a leased item to be tried again at `due_at` (see [`retry_at`]), recording `error` on
    /// the item and on its recipient.
    fn retry(
        &self,
        lease: &Lease,
        due_at: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Marks a leased item permanently failed, recording `error` on the item and its recipient.
    fn fail(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Expires up to `limit` pending recipients whose MM expired at or before `now`: state
    /// [`RecipientState::Expired`], their pending items cancelled, and — when the sender asked for
    /// delivery reports — a [`OutboxKind::DeliveryInd`] (MM1 origin) or
    /// [`OutboxKind::Mm4DeliveryReport`] (MM4 origin) item queued, keyed like any delivery report of
    /// that recipient so it is sent once.
    fn expire_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ExpiredRecipient>, StoreError>> + Send;

    /// The MM and recipient a retrieval token was issued for.
    fn retrieval_target(
        &self,
        token: &RetrievalToken,
    ) -> impl Future<Output = Result<Option<(MmId, String)>, StoreError>> + Send;

    /// Adds or replaces a subscriber (IMPU → MSISDN), DESIGN.md §4's embedded table.
    fn put_subscriber(
        &self,
        impu: &str,
        msisdn: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a subscriber's IMPU; `true` if it existed.
    fn remove_subscriber(
        &self,
        impu: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The MSISDN of an IMPU.
    fn msisdn_for_impu(
        &self,
        impu: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The IMPUs of an MSISDN, sorted.
    fn impus_for_msisdn(
        &self,
        msisdn: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Every subscriber as (IMPU, MSISDN), sorted by IMPU.
    fn subscribers(&self)
    -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Records RADIUS Accounting Start or Interim (RFC 2866): the IP now belongs to the MSISDN.
    fn radius_start(
        &self,
        binding: RadiusBinding,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records Accounting Stop: removes the binding if it is still this session's; `true` if removed.
    fn radius_stop(
        &self,
        ip: &str,
        session_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The binding of an IP address.
    fn radius_binding(
        &self,
        ip: &str,
    ) -> impl Future<Output = Result<Option<RadiusBinding>, StoreError>> + Send;

    /// Records Accounting-On/Off (RFC 2866 §5.1 Acct-Status-Type 7/8) of a NAS: removes every
    /// binding `nas.client` reported for that NAS (same NAS IP address, or same NAS-Identifier when
    /// one is given), and every binding whose NAS is unknown (stored by schema 1). Returns how many
    /// were removed.
    fn radius_nas_reset(
        &self,
        nas: &NasKey,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes finished outbox items finished before `before`, and MMs expired before `before` that
    /// have no pending recipient or item. Returns the number of rows deleted.
    fn purge(&self, before: Timestamp) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Either back end, picked at open time from the location.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// A shared PostgreSQL database.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens `postgres://…`/`postgresql://…` on PostgreSQL, `sqlite:PATH` as a SQLite file, and any
    /// other string as a data directory holding `mmsrelay.db`.
    pub async fn open(location: &str) -> Result<Self, OpenError> {
        Self::open_with(location, PoolOptions::default()).await
    }

    /// [`AnyStore::open`] with the PostgreSQL pool's options (SQLite has no pool: one writer).
    pub async fn open_with(location: &str, pool: PoolOptions) -> Result<Self, OpenError> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Ok(Self::Postgres(PgStore::connect(location, pool).await?));
        }
        if let Some(path) = location.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() || path.contains(":memory:") {
                return Err(OpenError::BadLocation {
                    location: location.into(),
                    reason: "a durable store needs a file".into(),
                });
            }
            return Ok(Self::Sqlite(SqliteStore::open_file(path).await?));
        }
        if location.contains("://") {
            return Err(OpenError::BadLocation {
                location: location.into(),
                reason: "unknown URL scheme (use postgres://, sqlite: or a directory)".into(),
            });
        }
        Ok(Self::Sqlite(SqliteStore::open_dir(location).await?))
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn accept_mm(
        &self,
        mm: NewMm,
        recipients: Vec<NewRecipient>,
        outbox: Vec<NewOutboxItem>,
        now: Timestamp,
    ) -> Result<AcceptOutcome, StoreError> {
        dispatch!(self, s => s.accept_mm(mm, recipients, outbox, now))
    }

    async fn mm(&self, id: &MmId) -> Result<Option<StoredMm>, StoreError> {
        dispatch!(self, s => s.mm(id))
    }

    async fn mm_head(&self, id: &MmId) -> Result<Option<MmHead>, StoreError> {
        dispatch!(self, s => s.mm_head(id))
    }

    async fn mm_with_recipient(
        &self,
        id: &MmId,
        recipient: &str,
    ) -> Result<Option<(StoredMm, Option<RecipientRecord>)>, StoreError> {
        dispatch!(self, s => s.mm_with_recipient(id, recipient))
    }

    async fn recipient_view(
        &self,
        id: &MmId,
        recipient: &str,
        impu: Option<&str>,
    ) -> Result<Option<RecipientView>, StoreError> {
        dispatch!(self, s => s.recipient_view(id, recipient, impu))
    }

    async fn recipients(&self, id: &MmId) -> Result<Vec<RecipientRecord>, StoreError> {
        dispatch!(self, s => s.recipients(id))
    }

    async fn mm_by_message_id(
        &self,
        message_id: &str,
        recipient: &str,
    ) -> Result<Vec<MessageRecipient>, StoreError> {
        dispatch!(self, s => s.mm_by_message_id(message_id, recipient))
    }

    async fn update_recipient(
        &self,
        mm_id: &MmId,
        address: &str,
        event: RecipientEvent,
        effects: OutboxEffects,
        now: Timestamp,
    ) -> Result<RecipientState, UpdateError> {
        dispatch!(self, s => s.update_recipient(mm_id, address, event, effects, now))
    }

    async fn enqueue(
        &self,
        items: Vec<NewOutboxItem>,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        dispatch!(self, s => s.enqueue(items, now))
    }

    async fn lease(
        &self,
        kinds: &[OutboxKind],
        n: u32,
        owner: &str,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<Vec<LeasedItem>, StoreError> {
        dispatch!(self, s => s.lease(kinds, n, owner, lease_for, now))
    }

    async fn release_leases(
        &self,
        kinds: &[OutboxKind],
        owner: &str,
        leased_at: Timestamp,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.release_leases(kinds, owner, leased_at))
    }

    async fn complete(&self, lease: &Lease, now: Timestamp) -> Result<(), QueueError> {
        dispatch!(self, s => s.complete(lease, now))
    }

    async fn retry(
        &self,
        lease: &Lease,
        due_at: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> Result<(), QueueError> {
        dispatch!(self, s => s.retry(lease, due_at, error, now))
    }

    async fn fail(&self, lease: &Lease, error: &str, now: Timestamp) -> Result<(), QueueError> {
        dispatch!(self, s => s.fail(lease, error, now))
    }

    async fn expire_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ExpiredRecipient>, StoreError> {
        dispatch!(self, s => s.expire_due(now, limit))
    }

    async fn retrieval_target(
        &self,
        token: &RetrievalToken,
    ) -> Result<Option<(MmId, String)>, StoreError> {
        dispatch!(self, s => s.retrieval_target(token))
    }

    async fn put_subscriber(&self, impu: &str, msisdn: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_subscriber(impu, msisdn))
    }

    async fn remove_subscriber(&self, impu: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.remove_subscriber(impu))
    }

    async fn msisdn_for_impu(&self, impu: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.msisdn_for_impu(impu))
    }

    async fn impus_for_msisdn(&self, msisdn: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.impus_for_msisdn(msisdn))
    }

    async fn subscribers(&self) -> Result<Vec<(String, String)>, StoreError> {
        dispatch!(self, s => s.subscribers())
    }

    async fn radius_start(&self, binding: RadiusBinding) -> Result<(), StoreError> {
        dispatch!(self, s => s.radius_start(binding))
    }

    async fn radius_stop(&self, ip: &str, session_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.radius_stop(ip, session_id))
    }

    async fn radius_binding(&self, ip: &str) -> Result<Option<RadiusBinding>, StoreError> {
        dispatch!(self, s => s.radius_binding(ip))
    }

    async fn radius_nas_reset(&self, nas: &NasKey) -> Result<u64, StoreError> {
        dispatch!(self, s => s.radius_nas_reset(nas))
    }

    async fn purge(&self, before: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, s => s.purge(before))
    }
}

/// Refuses a database whose newest migration this binary does not carry.
fn compare_schema(
    database: Option<i64>,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), OpenError> {
    let binary = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match database {
        Some(database) if database > binary => Err(OpenError::SchemaTooNew { database, binary }),
        _ => Ok(()),
    }
}
