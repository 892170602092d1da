//! Crash soak (issue 11 item 1, RELIABILITY.md §1): relay A and relay B under a steady MM1 load
//! from concurrent user agents, each killed with SIGKILL at random moments (seeded, seed printed)
//! and restarted, then the queues drain. Checked afterwards:
//!
//! * every MM that got `Ok` in m-send-conf was pushed to Bob (matched by subject at B's SMSC):
//!   lost = 0;
//! * relay B stored no MM4 forward twice (rows per Message-ID in B's store);
//! * Bob retrieves and acknowledges every MM at B, and Alice gets one `Retrieved` delivery report
//!   per acknowledged MM at A's SMSC.
//!
//! The figures (sent, acked, delivered, lost, duplicate pushes, MM4 duplicates, reports) are
//! printed. Sizes: MMSRELAY_SOAK_MMS (default 300), MMSRELAY_SOAK_RATE (MM/s offered, default 30),
//! MMSRELAY_SOAK_KILLS (kills per relay, default 3), MMSRELAY_SOAK_SEED; `scripts/soak.sh` runs a
//! long one. Leases last 1.5 s here, so a killed node's items are taken over after that.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mms_pdu::{Pdu, Status};

use super::harness::pg::{Schemas, pg_url};
use super::harness::*;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one soak run saw.
#[derive(Debug, Default)]
struct Figures {
    sent: usize,
    acked: usize,
    delivered: usize,
    delivered_unacked: usize,
    lost: usize,
    duplicate_pushes: usize,
    mm4_stored_at_b: i64,
    mm4_duplicates: i64,
    reports_retrieved: usize,
    reports_duplicate: usize,
    kills_a: usize,
    kills_b: usize,
}

async fn soak(label: &str, stores: Option<(String, String)>) {
    let mms: usize = env_or("MMSRELAY_SOAK_MMS", 300);
    let rate: f64 = env_or("MMSRELAY_SOAK_RATE", 30.0);
    let kills: usize = env_or("MMSRELAY_SOAK_KILLS", 3);
    let senders = 8;
    let mut rng = Rng::from_env(&format!("soak {label}"));
    let mut net = Net::start_with(NetOptions {
        stores,
        tuning: Tuning {
            lease_ms: 1500,
            ..Tuning::default()
        },
        ..NetOptions::default()
    })
    .await;
    let load_for = Duration::from_secs_f64(mms as f64 / rate);
    // The kill schedule: `kills` per relay at random offsets in the load, each down 0.1–1 s.
    let mut schedule: Vec<(Duration, char, Duration)> = (0..kills * 2)
        .map(|i| {
            let at = load_for.mul_f64(0.05 + 0.9 * (rng.next_u64() % 1000) as f64 / 1000.0);
            let relay = if i % 2 == 0 { 'A' } else { 'B' };
            (at, relay, rng.millis(100, 1000))
        })
        .collect();
    schedule.sort();
    eprintln!(
        "soak {label}: {mms} MMs at {rate}/s from {senders} UAs over {load_for:?}; kills: {schedule:?}"
    );

    let started = Instant::now();
    let mm1_a = net.mm1('A');
    let mut tasks = Vec::new();
    for s in 0..senders {
        let mm1 = mm1_a.clone();
        tasks.push(tokio::spawn(async move {
            let ua = alice();
            let mut out = Vec::new();
            for i in (s..mms).step_by(senders) {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let subject = format!("soak-{i}");
                let acked = match ua
                    .send(&mm1, ALICE_SIP, &[BOB_SIP], &subject, &format!("soak {i}"))
                    .await
                {
                    Ok(conf) if conf.response_status.is_ok() => Ok(conf.message_id),
                    Ok(conf) => Err(format!("m-send-conf {:?}", conf.response_status)),
                    // Connection refused or reset: the error's first words say which.
                    Err(e) => Err(e.split(": ").skip(1).collect::<Vec<_>>().join(": ")),
                };
                if acked.is_err() {
                    // Relay A is down: a handset would not fire its whole backlog at once.
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                out.push((subject, acked));
            }
            out
        }));
    }
    let mut figures = Figures::default();
    let mut restarts = Vec::new(); // seconds from spawn to READY
    for (at, relay, down) in &schedule {
        tokio::time::sleep_until((started + *at).into()).await;
        let r = if *relay == 'A' {
            figures.kills_a += 1;
            &mut net.relay_a
        } else {
            figures.kills_b += 1;
            net.relay_b.as_mut().unwrap()
        };
        r.kill();
        tokio::time::sleep(*down).await;
        let t = Instant::now();
        tokio::task::block_in_place(|| r.restart());
        restarts.push(t.elapsed().as_secs_f64());
    }
    let mut acked: HashMap<String, String> = HashMap::new(); // subject -> Message-ID
    let mut refused = Vec::new();
    for t in tasks {
        for (subject, id) in t.await.unwrap() {
            figures.sent += 1;
            match id {
                Ok(Some(id)) => {
                    acked.insert(subject, id);
                }
                Ok(None) => refused.push("Ok without a Message-ID".to_owned()),
                Err(e) => refused.push(e),
            }
        }
    }
    eprintln!(
        "soak {label}: sends not acknowledged: {:?}",
        tally(refused.clone())
    );
    figures.acked = acked.len();
    restarts.sort_by(f64::total_cmp);
    if let (Some(median), Some(worst)) = (restarts.get(restarts.len() / 2), restarts.last()) {
        eprintln!("soak {label}: restart to READY took {median:.2} s median, {worst:.2} s worst");
    }
    let load_done = started.elapsed();

    // Drain: wait until every acknowledged MM was pushed to Bob.
    let deadline = Instant::now() + Duration::from_secs(60) + load_for;
    let mut pushes_b = PushReader::new(&net.smsc_b.record);
    let mut notes: HashMap<String, Vec<(String, String)>> = HashMap::new(); // subject -> (URL, tid)
    loop {
        for (dest, pdu) in pushes_b.poll() {
            if let (Some(subject), Pdu::NotificationInd(n)) = (subject_of(&pdu), &pdu)
                && dest == BOB_MSISDN
            {
                notes
                    .entry(subject)
                    .or_default()
                    .push((n.content_location.clone(), n.transaction_id.clone()));
            }
        }
        if acked.keys().all(|s| notes.contains_key(s)) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = started.elapsed();
    figures.delivered = acked.keys().filter(|s| notes.contains_key(*s)).count();
    figures.lost = figures.acked - figures.delivered;
    figures.delivered_unacked = notes.keys().filter(|s| !acked.contains_key(*s)).count();
    figures.duplicate_pushes = notes.values().map(|v| v.len() - 1).sum();

    // Bob retrieves and acknowledges every MM he was told about, 8 at a time.
    let bob = Arc::new(bob());
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut fetches = Vec::new();
    for (subject, list) in &notes {
        let (url, tid) = list[0].clone();
        let (bob, limit, mm1_b, subject) =
            (bob.clone(), limit.clone(), net.mm1('B'), subject.clone());
        fetches.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let (http, conf) = bob.retrieve(&url).await?;
            let want = subject.replace('-', " ");
            if http != 200 || text_of(&conf).as_deref() != Some(want.as_str()) {
                return Err(format!("{subject}: HTTP {http}, text {:?}", text_of(&conf)));
            }
            match bob.acknowledge(&mm1_b, &tid).await? {
                200..=299 => Ok(()),
                other => Err(format!("{subject}: acknowledge HTTP {other}")),
            }
        }));
    }
    let mut fetch_errors = Vec::new();
    for f in fetches {
        if let Err(e) = f.await.unwrap() {
            fetch_errors.push(e);
        }
    }

    // Alice's delivery reports at A's SMSC.
    let wanted: HashSet<&String> = acked.values().collect();
    let mut pushes_a = PushReader::new(&net.smsc_a.record);
    let mut reports: HashMap<String, Vec<Status>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (dest, pdu) in pushes_a.poll() {
            if let Pdu::DeliveryInd(ind) = pdu
                && dest == ALICE_MSISDN
            {
                reports.entry(ind.message_id).or_default().push(ind.status);
            }
        }
        let done = wanted.iter().all(|id| {
            reports
                .get(*id)
                .is_some_and(|s| s.contains(&Status::RETRIEVED))
        });
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    figures.reports_retrieved = wanted
        .iter()
        .filter(|id| {
            reports
                .get(**id)
                .is_some_and(|s| s.contains(&Status::RETRIEVED))
        })
        .count();
    figures.reports_duplicate = reports.values().map(|v| v.len().saturating_sub(1)).sum();
    figures.mm4_stored_at_b = net.b_mm4_stored();
    figures.mm4_duplicates = net.b_duplicate_mm4();
    eprintln!(
        "SOAK {label}: sent {} acked {} delivered {} (plus {} pushed but not acked) lost {} \
         duplicate-pushes {} mm4-stored-at-B {} mm4-duplicates {} retrieved-reports {}/{} \
         duplicate-reports {} kills A {} B {}; load {:.1?}, drained {:.1?}, reports {:.1?}",
        figures.sent,
        figures.acked,
        figures.delivered,
        figures.delivered_unacked,
        figures.lost,
        figures.duplicate_pushes,
        figures.mm4_stored_at_b,
        figures.mm4_duplicates,
        figures.reports_retrieved,
        figures.acked,
        figures.reports_duplicate,
        figures.kills_a,
        figures.kills_b,
        load_done,
        drained,
        started.elapsed(),
    );
    let missing: Vec<&String> = acked.keys().filter(|s| !notes.contains_key(*s)).collect();
    assert_eq!(
        figures.lost,
        0,
        "acknowledged MMs never pushed: {missing:?}\n{}",
        net.logs()
    );
    assert_eq!(
        figures.mm4_duplicates, 0,
        "relay B stored an MM4 forward twice"
    );
    assert!(
        fetch_errors.is_empty(),
        "retrievals failed: {fetch_errors:?}"
    );
    assert_eq!(
        figures.reports_retrieved, figures.acked,
        "acknowledged MMs without a Retrieved report"
    );
    assert_eq!((figures.kills_a, figures.kills_b), (kills, kills));
    // A send goes unacknowledged only when relay A is down (no HTTP answer), never with an
    // error status from a running relay.
    assert!(figures.acked > 0, "{figures:?}");
    assert!(
        !refused
            .iter()
            .any(|e| e.starts_with("m-send-conf") || e.starts_with("Ok without")),
        "a running relay refused MMs: {:?}",
        tally(refused)
    );
    assert_eq!(pushes_b.bad + pushes_a.bad, 0, "undecodable pushes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_soak_sqlite_kill_9_both_relays_under_load_loses_nothing() {
    if !peers_available() {
        return;
    }
    soak("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_soak_postgres_kill_9_both_relays_under_load_loses_nothing() {
    if !peers_available() {
        return;
    }
    let Some(url) = pg_url() else { return };
    let Some(schemas) = Schemas::create(&url, &["soak_a", "soak_b"]) else {
        return;
    };
    soak("postgres", Some((schemas.location(0), schemas.location(1)))).await;
}
