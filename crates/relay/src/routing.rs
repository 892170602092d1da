//! The routing worker (DESIGN.md §3, §4): takes each [`ResolveJob`] and decides where its
//! recipient's MM goes.
//!
//! * A recipient this relay serves (an IMPU in the subscriber table, or [`Route::Local`]: own SIP
//!   domain, own number range, own MMSE domain) has its MSISDN resolved (DESIGN.md §4: a `tel:`
//!   number directly; a SIP URI over Sh when an HSS is configured, else from the subscriber
//!   table) and becomes `ResolvedLocal` with a [`PushJob`] for the notifier.
//! * A recipient of a peer ([`Route::Peer`]) becomes `ResolvedRemote` with an [`Mm4ForwardJob`]
//!   naming the peer's MMSE domain.
//! * DNS or HSS trouble is transient: the item is retried until the MM expires. An unroutable
//!   address or an unknown local user fails the recipient (X-Mms-Status Unreachable in the
//!   delivery report the sender asked for).
//!
//! Each state change, the completion of the leased item and the next item commit in one
//! [`Store::update_recipient`] transaction, so a crash never loses or doubles a step.

use std::sync::Arc;
use std::time::Duration;

use diameter::sh_client::ShClient;
use mms_address::Address;
use mms_pdu::Status;
use mms_resolver::{DnsLookup, Resolver, Route};
use mms_store::{
    LeasedItem, MmHead, NewOutboxItem, Origin, OutboxEffects, OutboxKind, RecipientEvent,
    RetryPolicy, Store, Timestamp,
};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::jobs::{Job, Mm4ForwardJob, PushJob, ResolveJob};
use crate::reports::{RecipientItem, WorkerContext, outcome_of_update};
use crate::worker::{self, Handler, Outcome, Wake, WorkerConfig};

/// How one worker loop runs: concurrency, polling and retry backoff (DESIGN.md §7). Embedded
/// as `queue` in each worker's section.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueTuning {
    /// Items handled at once.
    pub concurrency: usize,
    /// How often to look for due items when not woken, in milliseconds.
    pub poll_interval_ms: u64,
    /// Delay after the first transient failure, in milliseconds (doubling per attempt).
    pub retry_base_ms: u64,
    /// Largest delay between attempts, in milliseconds.
    pub retry_cap_ms: u64,
    /// How long a node holds a leased item, in milliseconds: when a node dies, its items wait
    /// this long before another node (or the restarted one) takes them over. Must exceed the
    /// longest time one item's work takes (DESIGN.md §7).
    pub lease_ms: u64,
    /// Shortest time between two leases of the loop, in milliseconds: under load the items queued
    /// meanwhile are leased together (fewer store writes) at the cost of at most this much latency.
    pub min_lease_interval_ms: u64,
}

impl Default for QueueTuning {
    fn default() -> Self {
        Self {
            concurrency: 32,
            poll_interval_ms: 1000,
            retry_base_ms: 30_000,
            retry_cap_ms: 3_600_000,
            lease_ms: 60_000,
            min_lease_interval_ms: crate::worker::DEFAULT_MIN_LEASE_INTERVAL.as_millis() as u64,
        }
    }
}

impl QueueTuning {
    /// The worker loop settings for `name` over `kinds`.
    pub fn worker_config(&self, name: &'static str, kinds: Vec<OutboxKind>) -> WorkerConfig {
        let mut c = WorkerConfig::new(name, kinds);
        c.concurrency = self.concurrency.max(1);
        c.batch = u32::try_from(self.concurrency.clamp(1, 256)).unwrap_or(64);
        c.poll_interval = Duration::from_millis(self.poll_interval_ms.max(1));
        c.lease_for = Duration::from_millis(self.lease_ms.max(1));
        c.min_lease_interval = Duration::from_millis(self.min_lease_interval_ms);
        c.retry = RetryPolicy {
            base: Duration::from_millis(self.retry_base_ms.max(1)),
            cap: Duration::from_millis(self.retry_cap_ms.max(self.retry_base_ms).max(1)),
            max_attempts: 0,
        };
        c
    }
}

/// `[routing]`: the routing worker's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// The worker loop.
    pub queue: QueueTuning,
}

/// Why a local subscriber's MSISDN is not known (DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MsisdnError {
    /// The HSS or the subscriber table does not know the identity: permanent.
    #[error("unknown subscriber {0}")]
    Unknown(String),
    /// The HSS or the store did not answer: try again later.
    #[error("MSISDN lookup failed: {0}")]
    Unavailable(String),
}

/// The MSISDN (E.164 digits, no `+`) of a local subscriber (DESIGN.md §4): a `tel:` number
/// directly; a SIP URI over Sh when `sh` is given, else from the subscriber table; any other
/// address from the subscriber table.
pub async fn msisdn_for<S: Store>(
    store: &S,
    sh: Option<&ShClient>,
    address: &Address,
) -> Result<String, MsisdnError> {
    match msisdn_outside_the_table(sh, address).await {
        Some(found) => found,
        None => match store.msisdn_for_impu(&address.to_string()).await {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(MsisdnError::Unknown(address.to_string())),
            Err(e) => Err(MsisdnError::Unavailable(e.to_string())),
        },
    }
}

/// [`msisdn_for`] when the answer does not come from the subscriber table: a `tel:` number's
/// digits, or a SIP URI's MSISDN over Sh. `None`: the subscriber table decides.
async fn msisdn_outside_the_table(
    sh: Option<&ShClient>,
    address: &Address,
) -> Option<Result<String, MsisdnError>> {
    match (address, sh) {
        (Address::Tel(n), _) => Some(Ok(n.digits().to_owned())),
        (Address::Sip(uri), Some(sh)) => Some(sh.msisdn_for(&uri.to_string()).await.map_err(|e| {
            if e.is_transient() {
                MsisdnError::Unavailable(e.to_string())
            } else {
                MsisdnError::Unknown(format!("{address}: {e}"))
            }
        })),
        _ => None,
    }
}

/// What resolution decided for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Local { msisdn: String },
    Remote { mmse_domain: String },
    Transient(String),
    Permanent(String),
}

/// The [`OutboxKind::Resolve`] handler.
pub struct Router<S, L> {
    cx: WorkerContext<S>,
    resolver: Arc<Resolver<L>>,
    sh: Option<Arc<ShClient>>,
}

impl<S: Store, L: DnsLookup + 'static> Router<S, L> {
    /// A router over `store`, resolving with `resolver` and, when given, the HSS over `sh`.
    pub fn new(
        store: S,
        resolver: Arc<Resolver<L>>,
        sh: Option<Arc<ShClient>>,
        wake: Wake,
    ) -> Self {
        Self {
            cx: WorkerContext { store, wake },
            resolver,
            sh,
        }
    }

    /// Where `address` goes. `subscriber` is the subscriber table's MSISDN for it, read with the
    /// MM ([`Store::recipient_view`]).
    async fn decide(&self, address: &Address, subscriber: Option<String>) -> Decision {
        // A subscriber in our own table is local whatever the resolver's configuration says.
        if let Some(msisdn) = subscriber {
            return Decision::Local { msisdn };
        }
        let resolution = self.resolver.resolve(address).await;
        match resolution.outcome {
            // What `msisdn_for` does, without asking the subscriber table again.
            Ok(Route::Local) => match msisdn_outside_the_table(self.sh.as_deref(), address).await {
                Some(Ok(msisdn)) => Decision::Local { msisdn },
                Some(Err(MsisdnError::Unavailable(e))) => Decision::Transient(e),
                Some(Err(e)) => Decision::Permanent(e.to_string()),
                None => Decision::Permanent(MsisdnError::Unknown(address.to_string()).to_string()),
            },
            Ok(Route::Peer { mmse_domain, .. }) => Decision::Remote { mmse_domain },
            Err(e) if e.is_transient() => Decision::Transient(e.to_string()),
            Err(e) => Decision::Permanent(e.to_string()),
        }
    }

    async fn route(&self, item: LeasedItem) -> Outcome {
        let named = match RecipientItem::of(&item, "resolve", Some(ResolveJob::default())) {
            Ok(named) => named,
            Err(outcome) => return outcome,
        };
        let (mm_id, recipient) = (named.mm_id, named.recipient);
        let address = Address::parse(recipient);
        // The MM without its body and the subscriber table's answer for the recipient, in one
        // read (no cache: another node's change to the table counts from the next item on).
        let impu = address.as_ref().ok().map(Address::to_string);
        let read = self
            .cx
            .store
            .recipient_view(mm_id, recipient, impu.as_deref())
            .await;
        let (mm, subscriber) = match named.mm(read) {
            Ok(view) => (view.mm, view.subscriber_msisdn),
            Err(outcome) => return outcome,
        };
        let job = named.job;
        let address = match address {
            Ok(a) => a,
            Err(e) => {
                let error = format!("recipient address: {e}");
                return self
                    .cx
                    .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
                    .await;
            }
        };
        match self.decide(&address, subscriber).await {
            Decision::Local { msisdn } => {
                let push = PushJob {
                    msisdn: Some(msisdn.clone()),
                    retrieval_token: job.retrieval_token,
                };
                self.settle(
                    &item,
                    &mm,
                    recipient,
                    RecipientEvent::ResolvedLocal { msisdn },
                    push.to_payload(),
                    OutboxKind::Push,
                )
                .await
            }
            Decision::Remote { mmse_domain } => {
                if let Origin::Mm4 { .. } = mm.meta.origin {
                    // TS 23.140 §8.4.1: we accepted it as the recipient's relay; no transit.
                    let error = format!("received over MM4 but served by {mmse_domain}");
                    return self
                        .cx
                        .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
                        .await;
                }
                let forward = Mm4ForwardJob {
                    mmse_domain: mmse_domain.clone(),
                };
                self.settle(
                    &item,
                    &mm,
                    recipient,
                    RecipientEvent::ResolvedRemote { peer: mmse_domain },
                    forward.to_payload(),
                    OutboxKind::Mm4Forward,
                )
                .await
            }
            Decision::Transient(error) => Outcome::Retry {
                error,
                expiry: Some(mm.meta.expiry),
            },
            Decision::Permanent(error) => {
                self.cx
                    .fail_recipient(&item, &mm, recipient, error, Status::UNREACHABLE)
                    .await
            }
        }
    }

    async fn settle(
        &self,
        item: &LeasedItem,
        mm: &MmHead,
        recipient: &str,
        event: RecipientEvent,
        payload: bytes::Bytes,
        kind: OutboxKind,
    ) -> Outcome {
        let now = Timestamp::now();
        let next = NewOutboxItem::for_recipient(kind, &mm.id, recipient, now).with_payload(payload);
        let effects = OutboxEffects {
            complete: Some(item.lease()),
            enqueue: vec![next],
        };
        let result = self
            .cx
            .store
            .update_recipient(&mm.id, recipient, event, effects, now)
            .await;
        if result.is_ok() {
            self.cx.wake.kinds([kind]);
        }
        outcome_of_update(result)
    }
}

impl<S: Store, L: DnsLookup + 'static> Handler for Router<S, L> {
    fn handle(&self, item: LeasedItem) -> impl std::future::Future<Output = Outcome> + Send {
        self.route(item)
    }
}

/// Starts the routing worker over [`OutboxKind::Resolve`] items.
pub fn spawn<S: Store, L: DnsLookup + 'static>(
    config: &RoutingConfig,
    store: S,
    resolver: Arc<Resolver<L>>,
    sh: Option<Arc<ShClient>>,
    wake: Wake,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let handler = Arc::new(Router::new(store.clone(), resolver, sh, wake.clone()));
    worker::spawn(
        store,
        config
            .queue
            .worker_config("routing", vec![OutboxKind::Resolve]),
        handler,
        &wake,
        cancel,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_tuning_builds_the_worker_backoff() {
        let t = QueueTuning {
            concurrency: 4,
            poll_interval_ms: 50,
            retry_base_ms: 100,
            retry_cap_ms: 10,
            lease_ms: 2500,
            min_lease_interval_ms: 7,
        };
        let c = t.worker_config("routing", vec![OutboxKind::Resolve]);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.lease_for, Duration::from_millis(2500));
        assert_eq!(c.retry.base, Duration::from_millis(100));
        assert_eq!(
            c.retry.cap,
            Duration::from_millis(100),
            "cap never below base"
        );
        assert_eq!(c.poll_interval, Duration::from_millis(50));
        assert_eq!(c.min_lease_interval, Duration::from_millis(7));
    }

    #[test]
    fn routing_config_rejects_unknown_keys_and_defaults_the_rest() {
        let c: RoutingConfig = toml::from_str("[queue]\nconcurrency = 8\n").unwrap();
        assert_eq!(c.queue.concurrency, 8);
        assert_eq!(c.queue.retry_base_ms, 30_000);
        assert_eq!(c.queue.lease_ms, 60_000);
        assert!(toml::from_str::<RoutingConfig>("colour = 1").is_err());
    }
}
