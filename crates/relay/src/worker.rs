//! The outbox worker loop (DESIGN.md §1, §7): lease due items of some kinds, run a handler on each
//! with bounded concurrency, then complete, retry with backoff or fail them.
//!
//! What to do with a handler's [`Outcome`] is decided by the pure function [`settle`]; the loop only
//! moves items between the store and the handler. A node that dies leaves leases that expire, and
//! another node's loop takes the items over; the work a handler does must therefore be idempotent
//! or guarded by the item's idempotency key (MM4 peers suppress duplicates by message id and
//! recipient; pushes are at-least-once).
//!
//! When the store goes away (a database cut, a full disk) the loop loses no time to leases: a
//! lease call whose answer was lost is given back before the next call (`LeaseRounds`), and an
//! item whose settling failed is settled again, backing off, while its lease lasts.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::FutureExt;
use mms_store::{
    LeasedItem, NewOutboxItem, OutboxKind, QueueError, RetryPolicy, Store, StoreError, Timestamp,
    retry_at_random,
};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a handler made of one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done: complete the item.
    Done,
    /// The handler already completed the item in its own transaction (e.g. a recipient's state
    /// change with [`mms_store::OutboxEffects::complete`]): nothing left to do.
    Settled,
    /// A transient failure (peer down, timeout, DNS SERVFAIL): try again later, but not past
    /// `expiry` (the MM's expiry, when the item belongs to one).
    Retry {
        /// Why, recorded on the item and its recipient.
        error: String,
        /// The latest time a retry makes sense.
        expiry: Option<Timestamp>,
    },
    /// Not now, through no fault of the item (e.g. its peer has as many items in flight as it
    /// may have): release it until `until` without backoff.
    Defer {
        /// When to look at it again.
        until: Timestamp,
        /// Why, recorded on the item.
        error: String,
    },
    /// A permanent failure: fail the item.
    Fail {
        /// Why, recorded on the item and its recipient.
        error: String,
    },
}

/// What the loop does with the item after the handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Mark the item done.
    Complete,
    /// Nothing: the handler settled it.
    Nothing,
    /// Release it until this time.
    RetryAt(Timestamp, String),
    /// Release it until this time; not a failure (logged at debug level only).
    Defer(Timestamp, String),
    /// Mark it failed.
    Fail(String),
}

/// Decides what becomes of an item after `outcome`, its `attempts` so far and the retry `policy`.
/// A retry that would fall past the expiry, or past the policy's attempt limit, fails the item
/// (the expiry sweeper then turns its recipient into `Expired` and queues the report).
pub fn settle(
    outcome: Outcome,
    attempts: u32,
    policy: &RetryPolicy,
    now: Timestamp,
    jitter: impl FnOnce(&RetryPolicy, u32, Timestamp, Timestamp) -> Option<Timestamp>,
) -> Settlement {
    match outcome {
        Outcome::Done => Settlement::Complete,
        Outcome::Settled => Settlement::Nothing,
        Outcome::Fail { error } => Settlement::Fail(error),
        Outcome::Defer { until, error } => Settlement::Defer(until, error),
        Outcome::Retry { error, expiry } => {
            let expiry = expiry.unwrap_or(Timestamp::from_millis(i64::MAX));
            match jitter(policy, attempts, now, expiry) {
                Some(at) => Settlement::RetryAt(at, error),
                None => Settlement::Fail(format!("gave up after {attempts} attempts: {error}")),
            }
        }
    }
}

/// Handles one leased item.
pub trait Handler: Send + Sync + 'static {
    /// Does the item's work and says how it went. Must not panic on bad payloads: a payload that
    /// does not decode is [`Outcome::Fail`].
    fn handle(&self, item: LeasedItem) -> impl Future<Output = Outcome> + Send;
}

/// Settings of one worker loop.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The loop's name in logs and metrics.
    pub name: &'static str,
    /// The kinds it works on.
    pub kinds: Vec<OutboxKind>,
    /// Lease owner: unique per node and loop, so a restarted node does not reuse a dead one's leases.
    pub owner: String,
    /// Items leased per round.
    pub batch: u32,
    /// Items handled at once.
    pub concurrency: usize,
    /// How long a lease lasts; an item whose handler runs longer may be taken by another node.
    pub lease_for: Duration,
    /// How often to look for due items when not woken.
    pub poll_interval: Duration,
    /// The shortest time between two leases of the loop: items queued meanwhile wait for the next
    /// lease together (fewer, fuller leases under load; at most this much more latency).
    pub min_lease_interval: Duration,
    /// Backoff of transient failures.
    pub retry: RetryPolicy,
}

impl WorkerConfig {
    /// A loop over `kinds` with the defaults: batches of 64, 32 at once, 60 s leases, 1 s polls,
    /// leases at least [`DEFAULT_MIN_LEASE_INTERVAL`] apart.
    pub fn new(name: &'static str, kinds: Vec<OutboxKind>) -> Self {
        Self {
            name,
            kinds,
            owner: lease_owner(name),
            batch: 64,
            concurrency: 32,
            lease_for: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            min_lease_interval: DEFAULT_MIN_LEASE_INTERVAL,
            retry: RetryPolicy::default(),
        }
    }
}

/// A lease owner name unique to this process and loop: `<loop>@<host>:<pid>:<random>`.
pub fn lease_owner(name: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!(
        "{name}@{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// The wake-ups of one node's worker loops (DESIGN.md §7): each loop has its own, and whoever
/// queues work wakes only the loops of the kinds it queued. A wake-up that comes while its loop is
/// busy is kept (one at most), so the loop looks again once it is done instead of at its next poll.
#[derive(Clone, Default)]
pub struct Wake {
    loops: Arc<RwLock<Vec<LoopWake>>>,
}

/// The kinds of one loop and its wake-up.
type LoopWake = (KindSet, Arc<Notify>);

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wake").finish_non_exhaustive()
    }
}

/// A set of outbox kinds, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KindSet(u32);

impl KindSet {
    fn of(kinds: impl IntoIterator<Item = OutboxKind>) -> Self {
        Self(kinds.into_iter().fold(0, |set, k| set | (1 << k as u32)))
    }
}

impl Wake {
    /// Wake-ups with no loop yet (loops join with [`spawn`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A wake-up for a loop over `kinds`.
    fn register(&self, kinds: &[OutboxKind]) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.loops
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((KindSet::of(kinds.iter().copied()), notify.clone()));
        notify
    }

    fn wake(&self, set: KindSet) {
        let loops = self.loops.read().unwrap_or_else(|e| e.into_inner());
        for (kinds, notify) in loops.iter() {
            if kinds.0 & set.0 != 0 {
                notify.notify_one();
            }
        }
    }

    /// Wakes the loops that work on any of `kinds` (items of those kinds were queued).
    pub fn kinds(&self, kinds: impl IntoIterator<Item = OutboxKind>) {
        self.wake(KindSet::of(kinds));
    }

    /// Wakes the loops that work on the kinds of `items`.
    pub fn items(&self, items: &[NewOutboxItem]) {
        self.kinds(items.iter().map(|i| i.kind));
    }

    /// Wakes every loop (work of unknown kinds was queued from outside, e.g. by an operator).
    pub fn all(&self) {
        self.wake(KindSet(u32::MAX));
    }
}

/// Starts a worker loop. It wakes when work of its kinds is queued on this node (`wake`), or every
/// poll interval, and stops when `cancel` fires, after the items in hand are settled.
pub fn spawn<S: Store, H: Handler>(
    store: S,
    config: WorkerConfig,
    handler: Arc<H>,
    wake: &Wake,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let notify = wake.register(&config.kinds);
    tokio::spawn(run(store, config, handler, notify, cancel))
}

async fn run<S: Store, H: Handler>(
    store: S,
    config: WorkerConfig,
    handler: Arc<H>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let concurrency = u32::try_from(config.concurrency.max(1)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(concurrency as usize));
    let config = Arc::new(config);
    // After a full batch more items are due: wait for room for half a batch rather than leasing
    // the one or two places that free up first.
    let refill = config.batch.min(concurrency).div_ceil(2).max(1);
    let mut more_due = false;
    let mut last_lease: Option<tokio::time::Instant> = None;
    let mut leases = LeaseRounds::default();
    loop {
        let need = if more_due { refill } else { 1 };
        tokio::select! {
            _ = cancel.cancelled() => break,
            room = permits.acquire_many(need) => if room.is_err() { break },
        }
        // Leases of one loop at least `min_lease_interval` apart: under load the items queued
        // meanwhile go in one lease instead of one lease each.
        if let Some(at) = last_lease.map(|t| t + config.min_lease_interval)
            && at > tokio::time::Instant::now()
        {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(at) => {}
            }
        }
        // A wake-up that came meanwhile is answered by this lease.
        let _ = wake.notified().now_or_never();
        let free = u32::try_from(permits.available_permits()).unwrap_or(u32::MAX);
        let want = config.batch.min(free).max(1);
        last_lease = Some(tokio::time::Instant::now());
        let leased = leases.next(&store, &config, want, Timestamp::now()).await;
        more_due = !leased.is_empty() && leased.len() == want as usize;
        for item in leased {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (store, handler, config) = (store.clone(), handler.clone(), config.clone());
            let cancel = cancel.clone();
            tokio::spawn(async move {
                handle_one(&store, &*handler, &config, item, &cancel).await;
                drop(permit);
            });
        }
        if more_due {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
    // Wait for the items in hand: every permit back means every handler settled its item.
    let _ = permits.acquire_many(concurrency).await;
}

/// The two store calls of a lease round. Every [`Store`] is one; the seam lets the round's
/// bookkeeping be tested against a store that loses an answer on purpose.
trait LeaseCalls: Send + Sync {
    /// [`Store::lease`].
    fn take(
        &self,
        kinds: &[OutboxKind],
        n: u32,
        owner: &str,
        lease_for: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<LeasedItem>, StoreError>> + Send;

    /// [`Store::release_leases`].
    fn give_back(
        &self,
        kinds: &[OutboxKind],
        owner: &str,
        leased_at: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl<S: Store> LeaseCalls for S {
    fn take(
        &self,
        kinds: &[OutboxKind],
        n: u32,
        owner: &str,
        lease_for: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<LeasedItem>, StoreError>> + Send {
        self.lease(kinds, n, owner, lease_for, now)
    }

    fn give_back(
        &self,
        kinds: &[OutboxKind],
        owner: &str,
        leased_at: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.release_leases(kinds, owner, leased_at)
    }
}

/// The lease calls of one worker loop. Each call has its own owner name (`<loop owner>#<n>`),
/// so the items of a call whose answer was lost (a connection cut between COMMIT and the reply)
/// can be told apart from the items in hand, and are given back before the next call instead of
/// waiting, held by no one, for their lease to run out.
#[derive(Debug, Default)]
struct LeaseRounds {
    calls: u64,
    /// Owner names and times of the failed calls not yet given back.
    unanswered: Vec<(String, Timestamp)>,
}

impl LeaseRounds {
    /// Gives back what earlier failed calls may have leased, then leases up to `want` items.
    async fn next(
        &mut self,
        store: &impl LeaseCalls,
        config: &WorkerConfig,
        want: u32,
        now: Timestamp,
    ) -> Vec<LeasedItem> {
        self.give_back(store, config, now).await;
        self.calls += 1;
        let owner = format!("{}#{}", config.owner, self.calls);
        match store
            .take(&config.kinds, want, &owner, config.lease_for, now)
            .await
        {
            Ok(items) => {
                count_lease(config.name, items.len());
                items
            }
            Err(e) => {
                tracing::warn!(worker = config.name, error = %e, "lease failed");
                if e.may_have_committed() {
                    self.unanswered.push((owner, now));
                }
                Vec::new()
            }
        }
    }

    /// Gives back what the unanswered calls may have leased, oldest first. Stops at the first
    /// release that fails (the store is still away) and keeps the rest for the next round;
    /// forgets calls whose leases have run out by themselves, which bounds the list to about
    /// `lease_for / poll_interval` calls however long the store is away.
    async fn give_back(&mut self, store: &impl LeaseCalls, config: &WorkerConfig, now: Timestamp) {
        self.unanswered
            .retain(|(_, at)| at.plus(config.lease_for) > now);
        while let Some((owner, at)) = self.unanswered.first() {
            match store.give_back(&config.kinds, owner, *at).await {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(
                            worker = config.name,
                            owner,
                            items = n,
                            "gave back the items of a lease whose answer was lost"
                        );
                        metrics::counter!("mmsrelay_outbox_released_items_total", "worker" => config.name)
                            .increment(n);
                    }
                    self.unanswered.remove(0);
                }
                Err(e) => {
                    tracing::debug!(worker = config.name, owner, error = %e, "release failed, will try again");
                    return;
                }
            }
        }
    }
}

/// Counts one lease request of loop `worker` that got `items` items (`/metrics`): requests,
/// empty ones and items leased.
fn count_lease(worker: &'static str, items: usize) {
    metrics::counter!("mmsrelay_outbox_leases_total", "worker" => worker).increment(1);
    if items == 0 {
        metrics::counter!("mmsrelay_outbox_empty_leases_total", "worker" => worker).increment(1);
    }
    metrics::counter!("mmsrelay_outbox_leased_items_total", "worker" => worker)
        .increment(items as u64);
}

async fn handle_one<S: Store, H: Handler>(
    store: &S,
    handler: &H,
    config: &WorkerConfig,
    item: LeasedItem,
    cancel: &CancellationToken,
) {
    let lease = item.lease();
    let (attempts, lease_until) = (item.attempts, item.lease_until);
    let (id, kind) = (item.id.clone(), item.kind);
    let outcome = handler.handle(item).await;
    let settlement = settle(
        outcome,
        attempts,
        &config.retry,
        Timestamp::now(),
        retry_at_random,
    );
    match &settlement {
        Settlement::RetryAt(_, error) => {
            tracing::info!(worker = config.name, item = %id, kind = kind.as_str(), attempts, error = %error, "will retry");
        }
        Settlement::Defer(_, error) => {
            metrics::counter!("mmsrelay_outbox_deferred_total", "worker" => config.name)
                .increment(1);
            tracing::debug!(worker = config.name, item = %id, kind = kind.as_str(), error = %error, "deferred");
        }
        Settlement::Fail(error) => {
            tracing::warn!(worker = config.name, item = %id, kind = kind.as_str(), error = %error, "failed");
        }
        Settlement::Complete | Settlement::Nothing => {}
    }
    // The store may be away (database cut, disk full): settling is tried again, backing off,
    // while the lease lasts, so the item is due again as soon as the store is back rather than
    // when its lease runs out.
    let mut again = StoreRetry::until(lease_until);
    loop {
        let now = Timestamp::now();
        let result = match &settlement {
            Settlement::Complete => store.complete(&lease, now).await,
            Settlement::Nothing => Ok(()),
            Settlement::RetryAt(at, error) | Settlement::Defer(at, error) => {
                store.retry(&lease, *at, error, now).await
            }
            Settlement::Fail(error) => store.fail(&lease, error, now).await,
        };
        let e = match result {
            Ok(()) => return,
            // Another node took the item over; it will settle it.
            Err(e @ QueueError::LeaseLost { .. }) => {
                tracing::warn!(worker = config.name, item = %id, error = %e, "could not settle item");
                return;
            }
            Err(QueueError::Store(e)) if e.is_transient() => e,
            Err(e) => {
                tracing::warn!(worker = config.name, item = %id, error = %e, "could not settle item; due again when its lease runs out");
                return;
            }
        };
        let pause = match again.next_pause(Timestamp::now()) {
            Some(pause) if !cancel.is_cancelled() => pause,
            _ => {
                tracing::warn!(worker = config.name, item = %id, error = %e, "could not settle item; due again when its lease runs out");
                return;
            }
        };
        tracing::debug!(worker = config.name, item = %id, error = %e, "settling failed, will try again");
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Paces the tries of a store write that failed while the store is away (a database cut, a full
/// disk), for as long as an item's lease lasts: 100 ms, doubling up to 2 s, and no pause that
/// would end at or after the lease's end (by then another owner may hold the item).
#[derive(Debug)]
pub(crate) struct StoreRetry {
    pause: Duration,
    until: Timestamp,
}

impl StoreRetry {
    /// Tries for an item leased until `until`.
    pub(crate) fn until(until: Timestamp) -> Self {
        Self {
            pause: Duration::from_millis(100),
            until,
        }
    }

    /// The pause before the next try, at `now`; `None` when the lease would run out first.
    pub(crate) fn next_pause(&mut self, now: Timestamp) -> Option<Duration> {
        let pause = self.pause;
        if now.plus(pause) >= self.until {
            return None;
        }
        self.pause = (pause * 2).min(Duration::from_secs(2));
        Some(pause)
    }
}

/// The default [`WorkerConfig::min_lease_interval`].
pub const DEFAULT_MIN_LEASE_INTERVAL: Duration = Duration::from_millis(5);

/// Starts the expiry sweeper: every `interval`, recipients whose MM expired become `Expired` and
/// their reports are queued (MMS ENC Status Expired 128); the report loops are woken when it
/// expired any.
pub fn spawn_expiry_sweeper<S: Store>(
    store: S,
    interval: Duration,
    wake: Wake,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.expire_due(Timestamp::now(), 500).await {
                Ok(expired) if !expired.is_empty() => {
                    tracing::info!(count = expired.len(), "recipients expired");
                    wake.kinds([OutboxKind::DeliveryInd, OutboxKind::Mm4DeliveryReport]);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mms_store::ItemId;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    fn fixed(
        at: Option<Timestamp>,
    ) -> impl FnOnce(&RetryPolicy, u32, Timestamp, Timestamp) -> Option<Timestamp> {
        move |_, _, _, _| at
    }

    #[test]
    fn done_completes_and_settled_leaves_the_item_alone() {
        let p = RetryPolicy::default();
        assert_eq!(
            settle(Outcome::Done, 1, &p, NOW, fixed(None)),
            Settlement::Complete
        );
        assert_eq!(
            settle(Outcome::Settled, 1, &p, NOW, fixed(None)),
            Settlement::Nothing
        );
    }

    #[test]
    fn transient_failure_retries_at_the_backoff_time() {
        let p = RetryPolicy::default();
        let at = Timestamp::from_millis(1_030_000);
        let out = settle(
            Outcome::Retry {
                error: "peer down".into(),
                expiry: None,
            },
            1,
            &p,
            NOW,
            fixed(Some(at)),
        );
        assert_eq!(out, Settlement::RetryAt(at, "peer down".into()));
    }

    #[test]
    fn retry_past_expiry_fails_the_item() {
        let p = RetryPolicy::default();
        let expiry = Timestamp::from_millis(1_000_010);
        let out = settle(
            Outcome::Retry {
                error: "timeout".into(),
                expiry: Some(expiry),
            },
            3,
            &p,
            NOW,
            retry_at_random,
        );
        assert!(
            matches!(out, Settlement::Fail(e) if e.contains("gave up after 3 attempts: timeout"))
        );
    }

    #[test]
    fn deferral_releases_the_item_until_the_given_time_without_backoff() {
        let p = RetryPolicy::default();
        let until = Timestamp::from_millis(1_001_000);
        let out = settle(
            Outcome::Defer {
                until,
                error: "peer busy".into(),
            },
            7,
            &p,
            NOW,
            fixed(None),
        );
        assert_eq!(out, Settlement::Defer(until, "peer busy".into()));
    }

    #[test]
    fn permanent_failure_fails() {
        let p = RetryPolicy::default();
        let out = settle(
            Outcome::Fail {
                error: "user unknown".into(),
            },
            1,
            &p,
            NOW,
            fixed(None),
        );
        assert_eq!(out, Settlement::Fail("user unknown".into()));
    }

    #[test]
    fn store_retries_back_off_and_stop_before_the_lease_ends() {
        let until = NOW.plus(Duration::from_secs(5));
        let mut again = StoreRetry::until(until);
        let pauses: Vec<u64> = std::iter::from_fn(|| again.next_pause(NOW))
            .take(8)
            .map(|p| p.as_millis() as u64)
            .collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        let before_end = |ms| Timestamp::from_millis(until.as_millis() - ms);
        assert_eq!(
            StoreRetry::until(until).next_pause(before_end(100)),
            None,
            "a pause that would end with the lease"
        );
        assert_eq!(
            StoreRetry::until(until).next_pause(before_end(101)),
            Some(Duration::from_millis(100))
        );
    }

    /// A store of due items whose next `lose` lease calls commit and then fail, as when the
    /// connection drops between COMMIT and the answer; it records who holds what.
    #[derive(Default)]
    struct LosingStore {
        /// (item, owner) per due item; owner empty: free.
        items: std::sync::Mutex<Vec<(ItemId, String)>>,
        lose: std::sync::atomic::AtomicU32,
        store_away: std::sync::atomic::AtomicBool,
    }

    impl LosingStore {
        fn with_items(n: usize) -> Self {
            let s = Self::default();
            s.items
                .lock()
                .unwrap()
                .extend((0..n).map(|_| (ItemId::generate(), String::new())));
            s
        }

        fn held_by(&self, owner: &str) -> usize {
            self.items
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, o)| o == owner)
                .count()
        }
    }

    impl LeaseCalls for LosingStore {
        async fn take(
            &self,
            kinds: &[OutboxKind],
            n: u32,
            owner: &str,
            lease_for: Duration,
            now: Timestamp,
        ) -> Result<Vec<LeasedItem>, StoreError> {
            use std::sync::atomic::Ordering::SeqCst;
            if self.store_away.load(SeqCst) {
                return Err(connection_reset());
            }
            let mut items = self.items.lock().unwrap();
            let leased: Vec<LeasedItem> = items
                .iter_mut()
                .filter(|(_, o)| o.is_empty())
                .take(n as usize)
                .map(|(id, o)| {
                    *o = owner.to_owned();
                    LeasedItem {
                        id: id.clone(),
                        kind: kinds[0],
                        idempotency_key: id.to_string(),
                        mm_id: None,
                        recipient: None,
                        payload: bytes::Bytes::new(),
                        due_at: now,
                        attempts: 1,
                        last_error: None,
                        lease_owner: owner.to_owned(),
                        lease_until: now.plus(lease_for),
                    }
                })
                .collect();
            if self.lose.load(SeqCst) > 0 {
                self.lose.fetch_sub(1, SeqCst);
                return Err(connection_reset());
            }
            Ok(leased)
        }

        async fn give_back(
            &self,
            _kinds: &[OutboxKind],
            owner: &str,
            _leased_at: Timestamp,
        ) -> Result<u64, StoreError> {
            if self.store_away.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(connection_reset());
            }
            let mut n = 0;
            for (_, o) in self.items.lock().unwrap().iter_mut() {
                if o == owner {
                    o.clear();
                    n += 1;
                }
            }
            Ok(n)
        }
    }

    /// The connection broke after the request went out: the answer, maybe not the commit, is lost.
    fn connection_reset() -> StoreError {
        StoreError::Database(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()))
    }

    fn loop_config() -> WorkerConfig {
        let mut c = WorkerConfig::new("test", vec![OutboxKind::Push]);
        c.owner = "test@node".into();
        c
    }

    /// A store of `items` due items and a loop whose first lease call (of up to `want`, at
    /// `NOW`) committed and lost its answer.
    async fn after_a_lost_answer(items: usize, want: u32) -> (LosingStore, LeaseRounds) {
        let store = LosingStore::with_items(items);
        store.lose.store(1, std::sync::atomic::Ordering::SeqCst);
        let mut rounds = LeaseRounds::default();
        assert!(
            rounds
                .next(&store, &loop_config(), want, NOW)
                .await
                .is_empty()
        );
        (store, rounds)
    }

    #[tokio::test]
    async fn items_of_a_lease_whose_answer_was_lost_are_given_back_before_the_next_lease() {
        let (store, mut rounds) = after_a_lost_answer(3, 2).await;
        let config = loop_config();
        assert_eq!(store.held_by("test@node#1"), 2, "the lost call leased 2");
        let got = rounds.next(&store, &config, 10, NOW).await;
        assert_eq!(got.len(), 3, "the 2 given back and the free one");
        assert!(got.iter().all(|i| i.lease_owner == "test@node#2"));
        assert_eq!(store.held_by("test@node#1"), 0);
    }

    #[tokio::test]
    async fn a_lease_call_the_store_refused_is_not_given_back() {
        /// Refuses every lease call with an error that cannot follow a commit.
        struct Refusing;
        impl LeaseCalls for Refusing {
            async fn take(
                &self,
                _: &[OutboxKind],
                _: u32,
                _: &str,
                _: Duration,
                _: Timestamp,
            ) -> Result<Vec<LeasedItem>, StoreError> {
                Err(StoreError::WriterStopped)
            }
            async fn give_back(
                &self,
                _: &[OutboxKind],
                _: &str,
                _: Timestamp,
            ) -> Result<u64, StoreError> {
                panic!("nothing to give back")
            }
        }
        let mut rounds = LeaseRounds::default();
        for _ in 0..3 {
            assert!(
                rounds
                    .next(&Refusing, &loop_config(), 8, NOW)
                    .await
                    .is_empty()
            );
        }
        assert!(rounds.unanswered.is_empty());
    }

    #[tokio::test]
    async fn a_give_back_that_fails_is_tried_again_until_the_lease_has_run_out() {
        use std::sync::atomic::Ordering::SeqCst;
        let (store, mut rounds) = after_a_lost_answer(2, 2).await;
        let config = loop_config();
        // The store stays away: neither the release nor the next lease gets through.
        store.store_away.store(true, SeqCst);
        assert!(rounds.next(&store, &config, 2, NOW).await.is_empty());
        assert_eq!(rounds.unanswered.len(), 2, "both failed calls are kept");
        assert_eq!(store.held_by("test@node#1"), 2);
        // Back: the first call's items are given back and leased again.
        store.store_away.store(false, SeqCst);
        let got = rounds.next(&store, &config, 10, NOW).await;
        assert_eq!(got.len(), 2);
        assert!(rounds.unanswered.is_empty());
        // A failed call older than the lease is forgotten: its items are free by then anyway.
        let (store, mut rounds) = after_a_lost_answer(1, 1).await;
        store.store_away.store(true, SeqCst);
        let later = NOW.plus(config.lease_for);
        assert!(rounds.next(&store, &config, 1, later).await.is_empty());
        assert_eq!(
            rounds.unanswered.len(),
            1,
            "only the newest failed call is kept"
        );
        assert_eq!(rounds.unanswered[0].0, "test@node#2");
    }

    #[test]
    fn lease_owners_differ_between_loops_of_one_process() {
        assert_ne!(lease_owner("push"), lease_owner("push"));
        assert!(lease_owner("push").starts_with("push@"));
    }
}
