//! Items in hand per MM4 peer (`[mm4] in_flight_per_peer`, DESIGN.md §7): a peer that accepts
//! connections and never answers must not tie up the whole MM4 worker, and a peer that is merely
//! busy must not cost a store write per item over its bound.
//!
//! An item over its peer's bound waits in this process, in order of arrival, for one of the
//! peer's items to finish, as long as the peer makes progress (one of its items finished within
//! the stall time) and until a deadline (before its lease runs out). Only an item of a stalled
//! peer, or one that waited until its deadline, is turned away; the MM4 worker then puts it back
//! in the store for a while.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long a peer with every slot taken may go without finishing an item before the items
/// waiting for it are turned away.
pub const PEER_STALL: Duration = Duration::from_secs(1);

/// Why an item got no slot for its peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// Every slot is taken and none came back for the stall time.
    #[error("{limit} MM4 items in hand and none finished for {stall_ms} ms")]
    Stalled {
        /// The per-peer bound.
        limit: usize,
        /// The stall time.
        stall_ms: u128,
    },
    /// The item waited until its deadline.
    #[error("{limit} MM4 items in hand; no turn before the item's deadline")]
    Deadline {
        /// The per-peer bound.
        limit: usize,
    },
}

/// Items in hand per peer (keyed by the first host of its route), bounded; see the module.
#[derive(Clone, Debug)]
pub struct PeerSlots {
    limit: usize,
    stall: Duration,
    peers: Arc<Mutex<HashMap<SocketAddr, Arc<Gate>>>>,
}

/// One peer's slots and the last time one came back.
#[derive(Debug)]
struct Gate {
    slots: Arc<Semaphore>,
    progress: Mutex<Instant>,
}

impl Gate {
    fn progress(&self) -> Instant {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

/// One item's place among its peer's items in hand; given back on drop.
#[derive(Debug)]
pub struct PeerSlot {
    permit: Option<OwnedSemaphorePermit>,
    gate: Option<Arc<Gate>>,
    slots: PeerSlots,
    peer: SocketAddr,
}

impl PeerSlots {
    /// At most `limit` (at least 1) items per peer, waiting for a peer while it finishes an item
    /// at least every [`PEER_STALL`].
    pub fn new(limit: usize) -> Self {
        Self::with_stall(limit, PEER_STALL)
    }

    /// As [`PeerSlots::new`] with another stall time.
    pub fn with_stall(limit: usize, stall: Duration) -> Self {
        Self {
            limit: limit.max(1),
            stall,
            peers: Arc::default(),
        }
    }

    /// The per-peer bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Gate>>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gate(&self, peer: SocketAddr) -> Arc<Gate> {
        self.lock()
            .entry(peer)
            .or_insert_with(|| {
                Arc::new(Gate {
                    slots: Arc::new(Semaphore::new(self.limit)),
                    progress: Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    fn slot(&self, peer: SocketAddr, gate: Arc<Gate>, permit: OwnedSemaphorePermit) -> PeerSlot {
        PeerSlot {
            permit: Some(permit),
            gate: Some(gate),
            slots: self.clone(),
            peer,
        }
    }

    /// A slot for `peer` now, or `None` when it has `limit` items in hand.
    pub fn try_take(&self, peer: SocketAddr) -> Option<PeerSlot> {
        let gate = self.gate(peer);
        let permit = gate.slots.clone().try_acquire_owned().ok();
        match permit {
            Some(p) => Some(self.slot(peer, gate, p)),
            None => {
                self.forget_if_idle(peer, gate);
                None
            }
        }
    }

    /// A slot for `peer`: at once when it has fewer than `limit` items in hand; else after
    /// waiting, in order of arrival, for one of them to finish, while the peer finishes an item
    /// at least every stall time, and not past `deadline`.
    pub async fn take(&self, peer: SocketAddr, deadline: Instant) -> Result<PeerSlot, SlotError> {
        let gate = self.gate(peer);
        let result = loop {
            if let Ok(p) = gate.slots.clone().try_acquire_owned() {
                break Ok(p);
            }
            let stalled_at = gate.progress() + self.stall;
            let now = Instant::now();
            if now >= stalled_at {
                break Err(SlotError::Stalled {
                    limit: self.limit,
                    stall_ms: self.stall.as_millis(),
                });
            }
            if now >= deadline {
                break Err(SlotError::Deadline { limit: self.limit });
            }
            tokio::select! {
                p = gate.slots.clone().acquire_owned() => match p {
                    Ok(p) => break Ok(p),
                    Err(_) => break Err(SlotError::Deadline { limit: self.limit }),
                },
                _ = tokio::time::sleep_until(stalled_at.min(deadline)) => {}
            }
        };
        match result {
            Ok(p) => Ok(self.slot(peer, gate, p)),
            Err(e) => {
                self.forget_if_idle(peer, gate);
                Err(e)
            }
        }
    }

    /// Drops `peer`'s entry when nothing holds or waits for its slots (`gate` is the caller's
    /// reference, given up here).
    fn forget_if_idle(&self, peer: SocketAddr, gate: Arc<Gate>) {
        let mut peers = self.lock();
        drop(gate);
        if let Some(g) = peers.get(&peer)
            && Arc::strong_count(g) == 1
            && g.slots.available_permits() == self.limit
        {
            peers.remove(&peer);
        }
    }

    /// Peers with an entry (items in hand or waiting).
    #[cfg(test)]
    fn known(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        if let Some(gate) = self.gate.take() {
            gate.touch();
            self.slots.forget_if_idle(self.peer, gate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> (SocketAddr, SocketAddr) {
        (
            "127.0.0.3:25".parse().unwrap(),
            "127.0.0.1:25".parse().unwrap(),
        )
    }

    #[test]
    fn try_take_bounds_each_peer_alone_and_slots_come_back_on_drop() {
        let slots = PeerSlots::new(2);
        let (silent, other) = peers();
        let a = slots.try_take(silent).unwrap();
        let b = slots.try_take(silent).unwrap();
        assert!(slots.try_take(silent).is_none(), "third item of one peer");
        let c = slots.try_take(other);
        assert!(c.is_some(), "another peer is not held up");
        drop(a);
        let d = slots.try_take(silent);
        assert!(d.is_some(), "a finished item gives its slot back");
        drop((b, c, d));
        assert_eq!(slots.known(), 0, "idle peers are forgotten");
        assert!(
            PeerSlots::new(0).try_take(other).is_some(),
            "limit is at least 1"
        );
    }

    #[tokio::test]
    async fn an_item_over_the_bound_waits_for_its_peer_in_order_of_arrival() {
        let slots = PeerSlots::with_stall(1, Duration::from_secs(60));
        let (peer, _) = peers();
        let deadline = Instant::now() + Duration::from_secs(60);
        let first = slots.take(peer, deadline).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..3 {
            let (mine, order) = (slots.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let slot = mine.take(peer, deadline).await.unwrap();
                order.lock().unwrap().push(n);
                tokio::task::yield_now().await;
                drop(slot);
            }));
            // Each waiter queues before the next one starts (one thread: a waiter holding the
            // gate runs until it waits): map + `first` + this look-up + the waiters so far.
            while Arc::strong_count(&slots.gate(peer)) < n + 4 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
        assert_eq!(slots.known(), 0);
    }

    #[tokio::test]
    async fn a_stalled_peer_or_a_passed_deadline_turns_the_item_away() {
        let slots = PeerSlots::with_stall(1, Duration::from_millis(50));
        let (peer, other) = peers();
        let far = Instant::now() + Duration::from_secs(60);
        let _held = slots.take(peer, far).await.unwrap();
        assert_eq!(
            slots.take(peer, far).await.unwrap_err(),
            SlotError::Stalled {
                limit: 1,
                stall_ms: 50
            }
        );
        let patient = PeerSlots::with_stall(1, Duration::from_secs(60));
        let _held = patient.take(other, far).await.unwrap();
        assert_eq!(
            patient.take(other, Instant::now()).await.unwrap_err(),
            SlotError::Deadline { limit: 1 }
        );
    }
}
