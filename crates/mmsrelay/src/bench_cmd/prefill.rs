//! `--prefill N`: N MMs put into each relay's store before the relays start, through
//! `Store::accept_mm`, stored and queued as a real backlog would be:
//!
//! * relay A: MMs from `sip:alice@a.example` to `sip:bob@b.example` whose forward to relay B
//!   failed for now — recipient `Forwarding`, one `Mm4Forward` outbox item due in a day;
//! * relay B: MMs received over MM4 whose recipient bob was notified and has not fetched yet —
//!   recipient `Notified` with its retrieval token, the (message id, recipient) pair recorded as
//!   seen, no outbox item.
//!
//! Each is two transactions, as in the relay: `accept_mm` (recipient in its initial state) and
//! `update_recipient` (the event that led to the backlog state, with its outbox effects).
//!
//! All expire in 7 days, so nothing of the prefill is due, expires or is pushed during the run:
//! it only weighs on the stores (indexes, lease and expiry scans, page cache) and on memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_store::{
    AcceptOutcome, AnyStore, MmMeta, NewMm, NewRecipient, Origin, OutboxEffects, RecipientEvent,
    RecipientState, RetrievalToken, Store, Timestamp,
};
use relay::jobs::{Job, Mm4ForwardJob};

use crate::demo_cmd::{ALICE_SIP, BOB_SIP};

/// Concurrent `accept_mm` calls (the SQLite store batches them into group commits).
const WRITERS: usize = 64;

/// What to prefill each relay's store with.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Prefill {
    /// MMs per relay.
    pub(super) count: u64,
    /// Body octets of each.
    pub(super) size: usize,
}

/// The stored MM number `n` of the prefill of `relay` (`a` or `b`) as accepted (recipient in its
/// initial state, no outbox item), and the event with its outbox effects that then brings the
/// recipient to its backlog state.
fn backlog_mm(
    relay: char,
    n: u64,
    body: &Bytes,
    now: Timestamp,
) -> (NewMm, NewRecipient, RecipientEvent, OutboxEffects) {
    let message_id = format!("prefill-{n}@mms.a.example");
    let (origin, state, token, event, enqueue) = if relay == 'a' {
        let item = Mm4ForwardJob {
            mmse_domain: "mms.b.example".to_owned(),
        }
        .item(
            format!("mm4-forward:prefill-{n}:{BOB_SIP}"),
            None,
            Some(BOB_SIP.to_owned()),
            now.plus(Duration::from_secs(24 * 3600)),
        );
        (
            Origin::Mm1 {
                identity: ALICE_SIP.to_owned(),
            },
            RecipientState::Resolving,
            None,
            RecipientEvent::ResolvedRemote {
                peer: "mms.b.example".to_owned(),
            },
            vec![item],
        )
    } else {
        (
            Origin::Mm4 {
                originator_system: "system-user@mms.a.example".to_owned(),
            },
            RecipientState::Notifying,
            Some(RetrievalToken::generate()),
            RecipientEvent::PushSent,
            Vec::new(),
        )
    };
    let mm = bench_mm(
        message_id,
        Some(format!("prefill {n}")),
        origin,
        body.clone(),
        now,
    );
    let recipient = NewRecipient {
        address: BOB_SIP.to_owned(),
        state,
        retrieval_token: token,
    };
    let effects = OutboxEffects {
        complete: None,
        enqueue,
    };
    (mm, recipient, event, effects)
}

/// An MM from alice as the bench stores it (7 days to expiry, delivery report asked for).
pub(super) fn bench_mm(
    message_id: String,
    subject: Option<String>,
    origin: Origin,
    body: Bytes,
    now: Timestamp,
) -> NewMm {
    NewMm {
        meta: MmMeta {
            message_id: message_id.clone(),
            transaction_id: message_id,
            from: ALICE_SIP.to_owned(),
            mms_version: "1.2".to_owned(),
            content_type: "application/vnd.wap.multipart.mixed".to_owned(),
            subject,
            size: body.len() as u64,
            date: now,
            expiry: now.plus(Duration::from_secs(7 * 24 * 3600)),
            delivery_report: true,
            read_report: false,
            origin,
        },
        headers: Bytes::new(),
        body,
    }
}

/// Stores one backlog MM: accepted, then moved to its backlog state.
async fn store_one(store: &AnyStore, relay: char, n: u64, body: &Bytes) -> Result<(), String> {
    let now = Timestamp::now();
    let (mm, recipient, event, effects) = backlog_mm(relay, n, body, now);
    let fail = |e: &dyn std::fmt::Display| format!("prefill of relay {relay}: MM {n}: {e}");
    let id = match store
        .accept_mm(mm, vec![recipient], Vec::new(), now)
        .await
        .map_err(|e| fail(&e))?
    {
        AcceptOutcome::Stored { id, .. } => id,
        AcceptOutcome::Duplicate => return Err(fail(&"already stored")),
    };
    store
        .update_recipient(&id, BOB_SIP, event, effects, now)
        .await
        .map_err(|e| fail(&e))?;
    Ok(())
}

/// Puts `with.count` backlog MMs of `relay` into `store`; prints progress on stderr for large
/// counts.
pub(super) async fn prefill(store: &AnyStore, relay: char, with: Prefill) -> Result<(), String> {
    if with.count == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let body = Bytes::from(vec![b'x'; with.size]);
    let next = Arc::new(AtomicU64::new(0));
    let step = (with.count / 10).max(10_000);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (store, next, body) = (store.clone(), next.clone(), body.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= with.count {
                    return Ok::<(), String>(());
                }
                store_one(&store, relay, n, &body).await?;
                if (n + 1) % step == 0 {
                    eprintln!(
                        "mmsrelay bench: prefill relay {relay}: {} of {} MMs ({:.0} s)",
                        n + 1,
                        with.count,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| format!("prefill task: {e}"))??;
    }
    eprintln!(
        "mmsrelay bench: prefill relay {relay}: {} MMs of {} octets in {:.1} s",
        with.count,
        with.size,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backlog_is_stored_in_the_states_of_a_real_backlog() {
        let dir = tempfile::tempdir().unwrap();
        for relay in ['a', 'b'] {
            let store = AnyStore::open(&dir.path().join(relay.to_string()).display().to_string())
                .await
                .unwrap();
            prefill(
                &store,
                relay,
                Prefill {
                    count: 3,
                    size: 100,
                },
            )
            .await
            .unwrap();
            let due_at = |after: u64| {
                store.lease(
                    &mms_store::ALL_KINDS,
                    10,
                    "test",
                    Duration::from_secs(5),
                    Timestamp::now().plus(Duration::from_secs(after)),
                )
            };
            // Nothing of it is due now.
            let due = due_at(0).await.unwrap();
            assert!(due.is_empty(), "relay {relay}: {due:?}");
            // All of it is due in two days, on A only.
            let later = due_at(2 * 24 * 3600).await.unwrap();
            assert_eq!(later.len(), if relay == 'a' { 3 } else { 0 }, "{relay}");
        }
    }
}
