//! Load generators (closed and open loop) and the push collector at SMSC B.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mms_pdu::Pdu;
use tokio::sync::Semaphore;
use wap_push::{Reassembler, ReassemblyStatus, UserData};

use crate::demo_cmd::{ALICE_SIP, BOB_SIP, Peers};
use crate::ua::Ua;

/// When the load stops.
#[derive(Clone, Copy, Debug)]
pub(super) enum Limit {
    /// After this many MMs.
    Count(u64),
    /// After this long.
    Duration(Duration),
}

/// How the load is offered.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    /// C user agents, each sending its next MM when the previous one was answered.
    Closed {
        /// User agents (HTTP connections).
        concurrency: usize,
    },
    /// MMs sent at a fixed schedule, `rate` per second, whatever the answers; latency counts from
    /// the scheduled time, so a stalled relay is charged for the MMs it delayed.
    Open {
        /// Offered MM/s.
        rate: f64,
        /// Requests allowed in flight at once (beyond it a send waits, its latency still running).
        max_in_flight: usize,
    },
}

/// What one load run against an MM1 endpoint measured.
#[derive(Default)]
pub(super) struct LoadResult {
    /// MMs whose send was started (or scheduled).
    pub(super) offered: u64,
    /// m-send-conf Ok.
    pub(super) accepted: u64,
    /// Errors (HTTP, status not Ok).
    pub(super) errors: u64,
    /// The first error.
    pub(super) first_error: Option<String>,
    /// When the first send started.
    pub(super) start: Option<Instant>,
    /// First send → last answer.
    pub(super) elapsed: Duration,
    /// Submit (or scheduled time) → m-send-conf, sorted.
    pub(super) conf_latency: Vec<Duration>,
    /// Open loop: actual send start − scheduled time, sorted.
    pub(super) send_lag: Vec<Duration>,
    /// Submit (or scheduled) time of each accepted MM, by MM number.
    pub(super) submitted: HashMap<u64, Instant>,
}

/// Text making an m-send-req of about `size` octets.
pub(super) fn filler_text(size: usize) -> String {
    let ua = bench_ua("bench-0");
    let overhead = Pdu::SendReq(request(&ua, 0, "")).encode().len();
    "x".repeat(size.saturating_sub(overhead).max(1))
}

/// A sending user agent (alice's identity).
pub(super) fn bench_ua(name: &str) -> Ua {
    Ua::new(name, &[ALICE_SIP], "447700900001")
}

/// The m-send-req of MM number `n` (its subject is `bench <n>`).
pub(super) fn request(ua: &Ua, n: u64, text: &str) -> mms_pdu::SendReq {
    ua.text_req(&[BOB_SIP], &format!("bench {n}"), text)
}

/// One send and its outcome, as the load tasks report it.
enum Sent {
    Accepted { n: u64, t0: Instant, conf: Duration },
    Error(String),
}

/// Sends MM `n` from `t0` (its start or scheduled time).
async fn send_one(ua: &Ua, mm1: &str, n: u64, t0: Instant, text: &str) -> Sent {
    match ua.send_req(mm1, ALICE_SIP, request(ua, n, text)).await {
        Ok(c) if c.response_status.is_ok() => Sent::Accepted {
            n,
            t0,
            conf: t0.elapsed(),
        },
        Ok(c) => Sent::Error(format!("m-send-conf status {}", c.response_status.0)),
        Err(e) => Sent::Error(e),
    }
}

impl LoadResult {
    fn add(&mut self, sent: Sent) {
        match sent {
            Sent::Accepted { n, t0, conf } => {
                self.submitted.insert(n, t0);
                self.conf_latency.push(conf);
            }
            Sent::Error(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn finish(mut self, start: Instant) -> Self {
        self.start = Some(start);
        self.elapsed = start.elapsed();
        self.accepted = self.submitted.len() as u64;
        self.conf_latency.sort();
        self.send_lag.sort();
        self
    }
}

/// Runs the load against `mm1`, numbering MMs from `next`.
pub(super) async fn run_load(
    mm1: &str,
    mode: Mode,
    limit: Limit,
    text: &str,
    next: &Arc<AtomicU64>,
) -> LoadResult {
    match mode {
        Mode::Closed { concurrency } => closed_loop(mm1, concurrency, limit, text, next).await,
        Mode::Open {
            rate,
            max_in_flight,
        } => open_loop(mm1, rate, max_in_flight, limit, text, next).await,
    }
}

async fn closed_loop(
    mm1: &str,
    concurrency: usize,
    limit: Limit,
    text: &str,
    next: &Arc<AtomicU64>,
) -> LoadResult {
    let start = Instant::now();
    let deadline = match limit {
        Limit::Duration(d) => Some(start + d),
        Limit::Count(_) => None,
    };
    let first = next.load(Ordering::Relaxed);
    let end = match limit {
        Limit::Count(n) => first.saturating_add(n),
        Limit::Duration(_) => u64::MAX - 1,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..concurrency {
        let (next, mm1, text) = (next.clone(), mm1.to_owned(), text.to_owned());
        tasks.spawn(async move {
            let ua = bench_ua(&format!("bench{k}"));
            let mut sent = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    break;
                }
                sent.push(send_one(&ua, &mm1, n, Instant::now(), &text).await);
            }
            sent
        });
    }
    let mut result = LoadResult::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(sent) => {
                result.offered += sent.len() as u64;
                sent.into_iter().for_each(|s| result.add(s));
            }
            Err(e) => result.add(Sent::Error(format!("load task: {e}"))),
        }
    }
    // Numbers drawn past the end by the tasks that stopped are not used.
    next.store(first + result.offered, Ordering::Relaxed);
    result.finish(start)
}

async fn open_loop(
    mm1: &str,
    rate: f64,
    max_in_flight: usize,
    limit: Limit,
    text: &str,
    next: &Arc<AtomicU64>,
) -> LoadResult {
    let ua = Arc::new(bench_ua("bench-open"));
    let text: Arc<str> = Arc::from(text);
    let mm1: Arc<str> = Arc::from(mm1);
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut result = LoadResult::default();
    for i in 0u64.. {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        let stop = match limit {
            Limit::Count(n) => i >= n,
            Limit::Duration(d) => at >= start + d,
        };
        if stop {
            break;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        result.send_lag.push(at.elapsed());
        let n = next.fetch_add(1, Ordering::Relaxed);
        result.offered += 1;
        let (ua, mm1, text) = (ua.clone(), mm1.clone(), text.clone());
        tasks.spawn(async move {
            let sent = send_one(&ua, &mm1, n, at, &text).await;
            drop(slot);
            sent
        });
        // Collect what finished meanwhile, so that the set stays small.
        while let Some(done) = tasks.try_join_next() {
            result.add(done.unwrap_or_else(|e| Sent::Error(format!("load task: {e}"))));
        }
    }
    while let Some(done) = tasks.join_next().await {
        result.add(done.unwrap_or_else(|e| Sent::Error(format!("load task: {e}"))));
    }
    result.finish(start)
}

/// Pushes seen at the SMSC sink, by MM number.
#[derive(Default)]
pub(super) struct Pushes {
    /// When the first segment of MM `n`'s notification was seen.
    pub(super) seen: HashMap<u64, Instant>,
    /// Segments reassembled into something that is not one of our notifications.
    pub(super) other: u64,
}

/// Locks, ignoring poisoning (the data stays consistent: single inserts).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until `done` holds for the pushes, for at most `timeout`.
pub(super) async fn wait_pushed(
    pushes: &Mutex<Pushes>,
    done: impl Fn(&Pushes) -> bool,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&lock(pushes)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Watches the sink's submit_sm records, reassembles the pushes and notes when the first segment
/// of each `m-notification-ind` was seen (the sink wakes it on every new record; it reads only the
/// new ones).
pub(super) async fn collect_pushes(
    peers: Arc<Peers>,
    pushes: Arc<Mutex<Pushes>>,
    stop: Arc<AtomicBool>,
) {
    let sink = &peers.smsc_b;
    let mut reassembler = Reassembler::new(Duration::from_secs(300), 1 << 16);
    let mut first_segment: HashMap<(String, wap_push::ConcatReference), Instant> = HashMap::new();
    let mut done = 0usize;
    while !stop.load(Ordering::Relaxed) {
        sink.wait_for_submits(done + 1, Duration::from_millis(100))
            .await;
        let records = sink.submits_since(done);
        let now = Instant::now();
        done += records.len();
        for r in records {
            let destination = &r.submit.destination.address;
            let user_data = &r.submit.short_message;
            let reference = UserData::parse_with_header(user_data)
                .ok()
                .and_then(|u| u.concat())
                .map(|(reference, _, _)| (destination.clone(), reference));
            if let Some(key) = &reference {
                first_segment.entry(key.clone()).or_insert(now);
            }
            let Ok(ReassemblyStatus::Complete(message)) =
                reassembler.push_user_data(destination, user_data, now)
            else {
                continue;
            };
            let first = reference
                .and_then(|k| first_segment.remove(&k))
                .unwrap_or(now);
            let number = message
                .push()
                .ok()
                .and_then(|p| Pdu::decode(&p.body).ok())
                .and_then(|pdu| match pdu {
                    Pdu::NotificationInd(n) => n.subject.map(|s| s.text()),
                    _ => None,
                })
                .and_then(|s| s.strip_prefix("bench ").and_then(|n| n.parse::<u64>().ok()));
            let mut p = lock(&pushes);
            match number {
                Some(n) => {
                    p.seen.entry(n).or_insert(first);
                }
                None => p.other += 1,
            }
        }
    }
}
