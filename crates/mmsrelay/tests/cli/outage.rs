//! Peer outages (issue 11 item 2, RELIABILITY.md §2): under a steady MM1 load (10 MM/s from Alice
//! at relay A to Bob at relay B), one peer at a time — the DNS server, the HSS, B's SMSC, or the
//! MM4 peer (relay B itself) — is stopped for a few seconds and started again. Checked:
//!
//! * every MM acknowledged `Ok` is pushed to Bob once the peer is back;
//! * retries back off: the CPU time (utime + stime from /proc) the relays use during the outage
//!   is printed, and the test fails only on an obvious hot loop (more than half a core);
//! * expiry is respected: an MM whose expiry passes during the outage gets an `Expired` delivery
//!   report and is never pushed afterwards.
//!
//! And a slow MM4 peer (accepts TCP, never says a word) does not stall MMs to other peers.
//! Caches are off (DNS answers and Sh answers expire at once), so an outage is felt at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mms_pdu::{Pdu, ResponseStatus, Status, TimeSpec};

use super::harness::*;

const OUTAGE: Duration = Duration::from_secs(6);
/// Most of one core a relay may use while a peer is down before we call it a hot loop.
const HOT_LOOP: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Dns,
    Hss,
    Smsc,
    Mm4,
}

/// A steady load: one MM every `every` until `stop`; returns (subject, Message-ID if acked).
fn steady_load(
    mm1: String,
    to: &'static str,
    prefix: &'static str,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, Option<String>)>> {
    tokio::spawn(async move {
        let ua = alice();
        let mut out = Vec::new();
        let mut tick = tokio::time::interval(every);
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let subject = format!("{prefix}-{i}");
            let id = match ua.send(&mm1, ALICE_SIP, &[to], &subject, &subject).await {
                Ok(conf) if conf.response_status.is_ok() => conf.message_id,
                _ => None,
            };
            out.push((subject, id));
            i += 1;
        }
        out
    })
}

/// Waits until every subject in `want` was notified to `msisdn` at the SMSC `reader` reads; the
/// notified subjects with when each was first seen.
async fn await_pushes(
    reader: &mut PushReader,
    seen: &mut HashMap<String, Instant>,
    msisdn: &str,
    want: &HashSet<String>,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        for (dest, pdu) in reader.poll() {
            if let Some(subject) = subject_of(&pdu)
                && dest == msisdn
            {
                seen.entry(subject).or_insert_with(Instant::now);
            }
        }
        if want.iter().all(|s| seen.contains_key(s)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits up to `timeout` until every subject in `acked` was pushed to Bob at B's SMSC: whether
/// all were, when each pushed one was first seen, and the subjects never pushed.
async fn pushed_to_bob<'a>(
    net: &Net,
    acked: &'a HashSet<String>,
    timeout: Duration,
) -> (bool, HashMap<String, Instant>, Vec<&'a String>) {
    let mut pushes = PushReader::new(&net.smsc_b.record);
    let mut seen = HashMap::new();
    let all = await_pushes(&mut pushes, &mut seen, BOB_MSISDN, acked, timeout).await;
    let missing = acked.iter().filter(|s| !seen.contains_key(*s)).collect();
    (all, seen, missing)
}

/// Share of one core `pid` used between two CPU-time readings `wall` apart.
fn core_share(before: Duration, after: Duration, wall: Duration) -> f64 {
    after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64()
}

async fn outage(peer: Peer) {
    let mut net = Net::start_with(NetOptions {
        tuning: Tuning {
            retry_base_ms: 200,
            retry_cap_ms: 2000,
            caches: false,
            ..Tuning::default()
        },
        ..NetOptions::default()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(
        net.mm1('A'),
        BOB_SIP,
        "load",
        Duration::from_millis(100),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The outage; relay B's CPU is measured unless B is the peer that is down.
    let (cpu_a, cpu_b) = (net.relay_a.pid(), net.b().pid());
    let t0 = Instant::now();
    let (a0, b0) = (cpu_time_of(cpu_a), cpu_time_of(cpu_b));
    match peer {
        Peer::Dns => net.stop_dns(),
        Peer::Hss => net.stop_hss().await,
        Peer::Smsc => net.smsc_b.stop(),
        // Stopped (SIGTERM): it settles the items in hand. A crashed node's leases last
        // `lease_ms`; the crash soak covers that.
        Peer::Mm4 => {
            let b = net.b();
            b.proc_mut()
                .terminate(Duration::from_secs(20))
                .expect("relay B stops on SIGTERM");
            b.kill();
        }
    }
    // An MM that expires while the peer is down.
    let alice = alice();
    let mut req = alice.text_req(&[BOB_SIP], "expiring", "expiring");
    req.expiry = Some(TimeSpec::Relative(2));
    let conf = alice.send_req(&net.mm1('A'), ALICE_SIP, req).await.unwrap();
    assert!(conf.response_status.is_ok(), "{:?}", conf.response_status);
    let expiring_id = conf.message_id.unwrap();
    tokio::time::sleep(OUTAGE).await;
    let wall = t0.elapsed();
    let share_a = core_share(a0, cpu_time_of(cpu_a), wall);
    let share_b = (peer != Peer::Mm4).then(|| core_share(b0, cpu_time_of(cpu_b), wall));
    let retrying = if matches!(peer, Peer::Dns | Peer::Mm4) {
        &net.store_a
    } else {
        &net.store_b
    };
    let max_attempts = retrying.query_count("SELECT coalesce(max(attempts), 0) FROM outbox");
    match peer {
        Peer::Dns => net.restart_dns(),
        Peer::Hss => net.restart_hss().await,
        Peer::Smsc => net.smsc_b.restart(),
        Peer::Mm4 => net.b().restart(),
    }
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();
    let acked: HashSet<String> = sent
        .iter()
        .filter(|(_, id)| id.is_some())
        .map(|(s, _)| s.clone())
        .collect();

    let (all, seen, missing) = pushed_to_bob(&net, &acked, Duration::from_secs(40)).await;
    let recovered = back.elapsed();

    // The expiring MM: an Expired report to Alice, and never a push to Bob.
    let mut reports = PushReader::new(&net.smsc_a.record);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut expired = None;
    while expired.is_none() && Instant::now() < deadline {
        for (dest, pdu) in reports.poll() {
            if let Pdu::DeliveryInd(ind) = pdu
                && dest == ALICE_MSISDN
                && ind.message_id == expiring_id
            {
                expired = Some(ind.status);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expiring_pushed = seen.contains_key("expiring")
        || PushReader::new(&net.smsc_b.record)
            .poll()
            .iter()
            .any(|(_, p)| subject_of(p).as_deref() == Some("expiring"));
    eprintln!(
        "OUTAGE {peer:?}: {wall:.1?} down; CPU relay A {:.1} % of a core, relay B {}; most attempts \
         of one item {max_attempts}; sent {} acked {} delivered {} within {recovered:.1?} of the \
         peer's return; expiring MM: report {expired:?}, pushed {expiring_pushed}",
        share_a * 100.0,
        share_b.map_or("down".to_owned(), |s| format!(
            "{:.1} % of a core",
            s * 100.0
        )),
        sent.len(),
        acked.len(),
        acked.len() - missing.len(),
    );
    assert!(
        all,
        "acknowledged MMs never pushed: {missing:?}\n{}",
        net.logs()
    );
    assert!(
        acked.len() * 10 >= sent.len() * 9,
        "relay A refused MMs during the {peer:?} outage"
    );
    assert!(
        share_a < HOT_LOOP,
        "relay A spins during the {peer:?} outage"
    );
    assert!(
        share_b.is_none_or(|s| s < HOT_LOOP),
        "relay B spins during the {peer:?} outage"
    );
    assert_eq!(expired, Some(Status::EXPIRED), "{}", net.logs());
    assert!(
        !expiring_pushed,
        "an expired MM was pushed after the outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_outage_under_load_backs_off_and_delivers_everything_after() {
    if peers_available() {
        outage(Peer::Dns).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hss_outage_under_load_backs_off_and_delivers_everything_after() {
    if peers_available() {
        outage(Peer::Hss).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smsc_outage_under_load_backs_off_and_delivers_everything_after() {
    if peers_available() {
        outage(Peer::Smsc).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mm4_peer_outage_under_load_backs_off_and_delivers_everything_after() {
    if peers_available() {
        outage(Peer::Mm4).await;
    }
}

/// Latencies (send → push at B's SMSC) of `n` MMs to Bob sent 50 ms apart.
async fn latencies_to_bob(net: &Net, reader: &mut PushReader, tag: &str, n: usize) -> Vec<f64> {
    let alice = alice();
    let mut sent_at = HashMap::new();
    for i in 0..n {
        let subject = format!("{tag}-{i}");
        let conf = alice
            .send(&net.mm1('A'), ALICE_SIP, &[BOB_SIP], &subject, &subject)
            .await
            .unwrap();
        assert!(conf.response_status.is_ok(), "{:?}", conf.response_status);
        sent_at.insert(subject, Instant::now());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let want: HashSet<String> = sent_at.keys().cloned().collect();
    let mut seen = HashMap::new();
    let all = await_pushes(
        reader,
        &mut seen,
        BOB_MSISDN,
        &want,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        all,
        "{tag}: MMs to Bob stalled: {} of {n} pushed in 30 s\n{}",
        want.iter().filter(|s| seen.contains_key(*s)).count(),
        net.logs()
    );
    let mut l: Vec<f64> = want
        .iter()
        .map(|s| seen[s].duration_since(sent_at[s]).as_secs_f64())
        .collect();
    l.sort_by(f64::total_cmp);
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_accepts_and_never_answers_does_not_stall_other_peers() {
    if !peers_available() {
        return;
    }
    let mut net = Net::start_with(NetOptions {
        dns_extra: vec![
            "--mx-host=mms.c.example,mx.mms.c.example,10".into(),
            "--host-record=mx.mms.c.example,127.0.0.3".into(),
        ],
        ..NetOptions::default()
    })
    .await;
    // Relay C: takes the connection and says nothing (no greeting), on the MM4 port A uses.
    let slow = std::net::TcpListener::bind(("127.0.0.3", net.mm4_b)).unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in slow.incoming() {
            let Ok(conn) = conn else { break };
            counter.fetch_add(1, Ordering::Relaxed);
            held.push(conn);
        }
    });
    let mut reader = PushReader::new(&net.smsc_b.record);
    let before = latencies_to_bob(&net, &mut reader, "before", 20).await;
    // More MMs to the silent peer than the MM4 worker handles at once.
    let alice = alice();
    for i in 0..80 {
        let to = format!("sip:carl{i}@c.example");
        send_ok(&alice, &net.mm1('A'), ALICE_SIP, &to, "to the silent peer").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = latencies_to_bob(&net, &mut reader, "during", 20).await;
    let median = |l: &[f64]| l[l.len() / 2];
    let worst = |l: &[f64]| l[l.len() - 1];
    eprintln!(
        "SLOW PEER: latency send→push to Bob before: median {:.3} s, worst {:.3} s; with 80 MMs \
         stuck at the silent peer ({} connections held): median {:.3} s, worst {:.3} s",
        median(&before),
        worst(&before),
        accepted.load(Ordering::Relaxed),
        median(&during),
        worst(&during),
    );
    assert!(
        accepted.load(Ordering::Relaxed) > 0,
        "relay A never tried the silent peer"
    );
    drop(net.relay_b.take());
}

/// What one MM1 send during the database outage test got.
#[derive(Debug)]
enum Answer {
    /// m-send-conf `Ok`, with the Message-ID.
    Ok(String),
    /// m-send-conf with another X-Mms-Response-Status.
    Refused(ResponseStatus),
    /// No m-send-conf (HTTP error, timeout, connection refused).
    None(String),
}

/// One MM every `every` until `stop`, each sent in its own task so a slow answer does not slow
/// the offered rate; (subject, when it was sent, what it got), in sending order.
fn offered_load(
    mm1: String,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, Instant, Answer)>> {
    tokio::spawn(async move {
        let ua = Arc::new(alice());
        let mut sends = Vec::new();
        let mut tick = tokio::time::interval(every);
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let subject = format!("db-{i}");
            let (ua, mm1, s) = (ua.clone(), mm1.clone(), subject.clone());
            let at = Instant::now();
            sends.push((
                subject,
                at,
                tokio::spawn(async move { ua.send(&mm1, ALICE_SIP, &[BOB_SIP], &s, &s).await }),
            ));
            i += 1;
        }
        let mut out = Vec::new();
        for (subject, at, task) in sends {
            let answer = match task.await.unwrap() {
                Ok(conf) if conf.response_status.is_ok() => {
                    Answer::Ok(conf.message_id.expect("an Ok m-send-conf has a Message-ID"))
                }
                Ok(conf) => Answer::Refused(conf.response_status),
                Err(e) => Answer::None(e),
            };
            out.push((subject, at, answer));
        }
        out
    })
}

/// The recipients and outbox items of the MMs with these subjects in `store` (for a failure).
fn outbox_of(store: &StoreAt, subjects: &[String]) -> String {
    let list: Vec<String> = subjects.iter().map(|s| format!("'{s}'")).collect();
    if list.is_empty() {
        return String::new();
    }
    let agg = match store {
        StoreAt::Sqlite(_) => "group_concat",
        StoreAt::Postgres(_) => "string_agg",
    };
    store.query_scalar(&format!(
        "SELECT {agg}(m.subject || ' ' || r.state || ' ' || coalesce(o.kind || ':' || \
         o.status || ' attempts ' || o.attempts || ' lease until ' || \
         coalesce(o.lease_until_ms, 0), 'no item'), '; ') FROM mm m \
         JOIN recipient r ON r.mm_id = m.id LEFT JOIN outbox o ON o.mm_id = m.id \
         WHERE m.subject IN ({})",
        list.join(",")
    ))
}

/// What came of a store outage (the database cut, a disk full) under [`offered_load`]: the
/// answers Alice got, the pushes Bob got afterwards, what the stores hold.
struct StoreOutage {
    sent: usize,
    /// Sends made while the store was away.
    during: usize,
    acked: HashSet<String>,
    refused: Vec<ResponseStatus>,
    unanswered: Vec<String>,
    first_ok_after: Option<Duration>,
    /// Acked MMs never pushed to Bob.
    missing: Vec<String>,
    /// From the store's return until every acked MM was pushed (or the wait gave up).
    recovered: Duration,
    /// Acked MMs found in relay A's store.
    stored_acked: usize,
    duplicates: i64,
    /// Pushes to Bob beyond the first of each MM (pushes are at-least-once; a store that goes
    /// away must not make them more).
    duplicate_pushes: usize,
    alive: (bool, bool),
    /// Share of a core each relay used while the store was away.
    cpu: (f64, f64),
    logs: String,
}

impl StoreOutage {
    /// Tallies the answers of `sent` (the store was away from `cut_at` to `back`) and waits up to
    /// 30 s for every acked MM to be pushed to Bob.
    async fn judge(
        net: &mut Net,
        sent: Vec<(String, Instant, Answer)>,
        (cut_at, back): (Instant, Instant),
        cpu: (f64, f64),
    ) -> Self {
        let (mut acked, mut acked_ids) = (HashSet::new(), Vec::new());
        let (mut refused, mut unanswered) = (Vec::new(), Vec::new());
        for (subject, _, answer) in &sent {
            match answer {
                Answer::Ok(id) => {
                    acked.insert(subject.clone());
                    acked_ids.push(format!("'{id}'"));
                }
                Answer::Refused(status) => refused.push(*status),
                Answer::None(e) => unanswered.push(e.clone()),
            }
        }
        let during = sent
            .iter()
            .filter(|(_, at, _)| *at >= cut_at && *at < back)
            .count();
        let first_ok_after = sent
            .iter()
            .filter(|(_, at, a)| *at >= back && matches!(a, Answer::Ok(_)))
            .map(|(_, at, _)| at.duration_since(back))
            .min();
        let (_, _, missing) = pushed_to_bob(net, &acked, Duration::from_secs(30)).await;
        let missing: Vec<String> = missing.into_iter().cloned().collect();
        let recovered = back.elapsed();
        // Every Ok MM is in A's store (an Ok is only given for a committed MM).
        let stored_acked = if acked_ids.is_empty() {
            0
        } else {
            net.store_a.query_count(&format!(
                "SELECT count(*) FROM mm WHERE message_id IN ({})",
                acked_ids.join(",")
            ))
        };
        let alive_a = net.relay_a.proc_mut().child.try_wait().unwrap().is_none();
        let alive_b = net.b().proc_mut().child.try_wait().unwrap().is_none();
        Self {
            sent: sent.len(),
            during,
            acked,
            refused,
            unanswered,
            first_ok_after,
            missing,
            recovered,
            stored_acked: usize::try_from(stored_acked).unwrap(),
            duplicates: net.b_duplicate_mm4(),
            duplicate_pushes: duplicate_pushes_to_bob(net),
            alive: (alive_a, alive_b),
            cpu,
            logs: net.logs(),
        }
    }

    /// The figures RELIABILITY.md §2 quotes.
    fn summary(&self) -> String {
        format!(
            "CPU relay A {:.1} % of a core, relay B {:.1} %; sent {} ({} while the store was \
             away), acked {}, refused {} ({:?}), unanswered {}; delivered {} within {:.1?} of \
             the return, lost {}; MM4 duplicates at B {}; duplicate pushes {}; first Ok after \
             the return {:.1?}; relays up: A {}, B {}",
            self.cpu.0 * 100.0,
            self.cpu.1 * 100.0,
            self.sent,
            self.during,
            self.acked.len(),
            self.refused.len(),
            tally(
                self.refused
                    .iter()
                    .map(|s| s.name().unwrap_or("?").to_owned())
            ),
            self.unanswered.len(),
            self.acked.len() - self.missing.len(),
            self.recovered,
            self.missing.len(),
            self.duplicates,
            self.duplicate_pushes,
            self.first_ok_after,
            self.alive.0,
            self.alive.1,
        )
    }

    /// Nothing lost, nobody misled: both relays up and no panic; every `Ok` MM stored and pushed
    /// to Bob; sends the relay could not store refused `Error-transient-failure` (never `Ok`,
    /// never without an answer), and some were (the outage was felt); MMs taken again once the
    /// store is back; no MM4 forward stored twice at B; no hot loop while the store was away.
    fn assert_nothing_lost(&self, net: &Net) {
        let logs = &self.logs;
        assert!(
            self.alive.0 && self.alive.1,
            "a relay died in the outage\n{logs}"
        );
        assert!(!logs.contains("panicked"), "a relay panicked\n{logs}");
        assert!(
            self.missing.is_empty(),
            "acknowledged MMs never pushed: {:?}\nA: {}\nB: {}\n{logs}",
            self.missing,
            outbox_of(&net.store_a, &self.missing),
            outbox_of(&net.store_b, &self.missing),
        );
        assert_eq!(
            self.stored_acked,
            self.acked.len(),
            "an MM answered Ok is not in relay A's store"
        );
        assert!(
            !self.refused.is_empty(),
            "no send was refused while the store was away: the outage was not felt"
        );
        assert!(
            self.refused
                .iter()
                .all(|s| *s == ResponseStatus::ERROR_TRANSIENT_FAILURE),
            "sends refused with another status than Error-transient-failure: {:?}",
            self.refused
        );
        assert!(
            self.unanswered.is_empty(),
            "sends left without an m-send-conf: {:?}",
            self.unanswered
        );
        assert!(
            self.first_ok_after.is_some(),
            "relay A took no MM after the store came back"
        );
        assert_eq!(self.duplicates, 0, "relay B stored an MM4 forward twice");
        assert!(
            self.cpu.0 < HOT_LOOP,
            "relay A spins while the store is away"
        );
        assert!(
            self.cpu.1 < HOT_LOOP,
            "relay B spins while the store is away"
        );
    }
}

/// Two relays on `stores` (A's, B's) with quick retries and the default 60 s lease, under
/// [`offered_load`] (10 MM/s) for a second already: the start of a store outage. The lease is the
/// default on purpose: a lease call whose commit reached the store but whose answer was lost, or
/// an item that could not be settled, must be given back by its worker, or its MM misses the
/// 30 s wait of [`StoreOutage::judge`].
async fn start_store_outage(
    stores: (String, String),
) -> (
    Net,
    Arc<AtomicBool>,
    tokio::task::JoinHandle<Vec<(String, Instant, Answer)>>,
) {
    let net = Net::start_with(NetOptions {
        stores: Some(stores),
        tuning: Tuning {
            retry_base_ms: 200,
            retry_cap_ms: 2000,
            ..Tuning::default()
        },
        ..NetOptions::default()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = offered_load(net.mm1('A'), Duration::from_millis(100), stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    (net, stop, load)
}

/// Pushes to Bob at B's SMSC beyond the first of each subject, over the whole record.
fn duplicate_pushes_to_bob(net: &Net) -> usize {
    let mut per_subject: HashMap<String, usize> = HashMap::new();
    for (dest, pdu) in PushReader::new(&net.smsc_b.record).poll() {
        if let Some(subject) = subject_of(&pdu)
            && dest == BOB_MSISDN
        {
            *per_subject.entry(subject).or_default() += 1;
        }
    }
    per_subject.values().map(|n| n - 1).sum()
}

/// CPU time of both relays now, to measure their share of a core over an outage.
fn cpu_times(net: &mut Net) -> (u32, u32, Duration, Duration) {
    let (a, b) = (net.relay_a.pid(), net.b().pid());
    (a, b, cpu_time_of(a), cpu_time_of(b))
}

/// Each relay's share of a core since [`cpu_times`] was taken `wall` ago.
fn cpu_shares((a, b, a0, b0): (u32, u32, Duration, Duration), wall: Duration) -> (f64, f64) {
    (
        core_share(a0, cpu_time_of(a), wall),
        core_share(b0, cpu_time_of(b), wall),
    )
}

/// The database goes away under load (issue 11, RELIABILITY.md §2): both relays store in
/// PostgreSQL through a TCP proxy, which is cut (every connection closed, new ones refused) for
/// a few seconds and restored. Checked: both relays stay up; an MM1 send the relay could not
/// store is answered `Error-transient-failure` (a phone retries it), never `Ok`; every `Ok` MM is
/// in the store and pushed to Bob once the database is back; B stored no MM4 forward twice; the
/// relays back off (CPU during the outage); the connection pools reconnect by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_under_load_refuses_transiently_and_delivers_every_acked_mm_after() {
    use super::harness::pg::{Schemas, location, pg_url};

    if !peers_available() {
        return;
    }
    let Some(url) = pg_url() else { return };
    let Some(schemas) = Schemas::create(&url, &["dbout_a", "dbout_b"]) else {
        return;
    };
    let mut direct = reqwest::Url::parse(&url).expect("MMSRELAY_TEST_DATABASE_URL is a URL");
    let upstream = tokio::net::lookup_host((
        direct.host_str().unwrap_or("127.0.0.1").to_owned(),
        direct.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .expect("the database host resolves");
    let mut proxy = test_peers::proxy::TcpProxy::start(upstream).await.unwrap();
    direct.set_host(Some("127.0.0.1")).unwrap();
    direct.set_port(Some(proxy.addr().port())).unwrap();
    let proxied = direct.to_string();
    let (mut net, stop, load) = start_store_outage((
        location(&proxied, &schemas.names[0]),
        location(&proxied, &schemas.names[1]),
    ))
    .await;
    // The test reads the stores directly, not through the proxy.
    net.store_a = StoreAt::Postgres(location(&url, &schemas.names[0]));
    net.store_b = StoreAt::Postgres(location(&url, &schemas.names[1]));

    let before = cpu_times(&mut net);
    let t0 = Instant::now();
    proxy.cut().await;
    let cut_at = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    let wall = t0.elapsed();
    let cpu = cpu_shares(before, wall);
    let accepted_before = proxy.accepted();
    proxy.restore().await.unwrap();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();
    let reconnects = proxy.accepted() - accepted_before;

    let outage = StoreOutage::judge(&mut net, sent, (cut_at, back), cpu).await;
    let given_back = outage
        .logs
        .matches("gave back the items of a lease")
        .count();
    eprintln!(
        "OUTAGE Database: {wall:.1?} cut; {}; {reconnects} new database connections after it; \
         leases given back after a lost answer {given_back}",
        outage.summary()
    );
    outage.assert_nothing_lost(&net);
    assert!(
        reconnects > 0,
        "no connection to the database after it came back"
    );
}

/// Both relays' disks fill up under load (issue 11, RELIABILITY.md §2): each relay's SQLite store
/// sits on its own small tmpfs. Relay B's fills first: it refuses A's MM4 forwards with
/// `452 4.3.1` and A keeps them; then A's: A refuses sends `Error-transient-failure`. Then space
/// is freed on both. Checked as for the database cut ([`StoreOutage::assert_nothing_lost`]), and
/// that each relay said its store was full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_under_load_refuses_transiently_and_delivers_every_acked_mm_after() {
    use test_peers::disk::SmallDisk;

    if !peers_available() {
        return;
    }
    let Some(disk_a) = SmallDisk::mount(64 << 20) else {
        return;
    };
    let Some(disk_b) = SmallDisk::mount(64 << 20) else {
        return;
    };
    let (dir_a, dir_b) = (disk_a.subdir("store-a"), disk_b.subdir("store-b"));
    let (mut net, stop, load) =
        start_store_outage((dir_a.display().to_string(), dir_b.display().to_string())).await;

    let before = cpu_times(&mut net);
    let t0 = Instant::now();
    disk_b.fill_up(0);
    tokio::time::sleep(OUTAGE / 2).await;
    disk_a.fill_up(0);
    let cut_at = Instant::now();
    tokio::time::sleep(OUTAGE / 2).await;
    let wall = t0.elapsed();
    let cpu = cpu_shares(before, wall);
    disk_a.resize(64 << 20);
    disk_b.resize(64 << 20);
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();

    let outage = StoreOutage::judge(&mut net, sent, (cut_at, back), cpu).await;
    let (full_a, full_b) = (
        outage
            .logs
            .matches("store full: m-send-req refused")
            .count(),
        outage.logs.matches("store full: MM4 refused").count(),
    );
    eprintln!(
        "OUTAGE Disk full: {wall:.1?} (B full for all of it, A for the second half); {}; \
         store-full refusals logged: A (MM1) {full_a}, B (MM4) {full_b}",
        outage.summary()
    );
    outage.assert_nothing_lost(&net);
    assert!(full_a > 0, "relay A never said its store was full");
    assert!(full_b > 0, "relay B never refused MM4 for a full store");
    assert!(
        outage.logs.contains("452 4.3.1"),
        "relay A's MM4 forwards never met B's 452 4.3.1"
    );
}
