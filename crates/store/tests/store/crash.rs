//! Crash tests (DESIGN.md §11: `kill -9` at any moment loses no acknowledged MM).
//!
//! The parent re-runs this test binary with one `#[ignore]`d child test selected and an environment
//! variable naming the database; the child writes MMs and prints `ACK <seq> <id>` after each commit.
//! The parent SIGKILLs it at a random moment, reopens the store and checks every acknowledged MM.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mms_store::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use crate::support::*;

const WRITER_CHILD: &str = "MMSRELAY_STORE_CRASH_WRITER";
const WRITER_FIRST_SEQ: &str = "MMSRELAY_STORE_CRASH_FIRST_SEQ";
const LEASER_CHILD: &str = "MMSRELAY_STORE_CRASH_LEASER";

fn body_len(seq: u64) -> usize {
    [1_000, 30_000, 100_000][(seq % 3) as usize]
}

/// Starts this test binary running only `test`, with `env` set; killed when dropped.
fn spawn_child(test: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .stdin(Stdio::null())
    .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of acknowledged_mms_survive_sigkill"]
async fn crash_writer_child() {
    let Ok(location) = std::env::var(WRITER_CHILD) else {
        return;
    };
    let first: u64 = std::env::var(WRITER_FIRST_SEQ)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let store = AnyStore::open(&location).await.expect("child opens store");
    let next = Arc::new(AtomicU64::new(first));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (store, next) = (store.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            // Bounded even if the parent never kills us.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while tokio::time::Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let outcome = store
                    .accept_mm(
                        mm1(seq, body_len(seq)),
                        vec![rcpt("sip:bob@b.example", RecipientState::Resolving)],
                        vec![],
                        T0,
                    )
                    .await
                    .expect("accept");
                if let AcceptOutcome::Stored { id, .. } = outcome {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {seq} {id}").expect("stdout");
                    out.flush().expect("flush");
                }
            }
        }));
    }
    for w in writers {
        let _ = w.await;
    }
}

pub async fn acknowledged_mms_survive_sigkill(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    drop(db.open().await); // migrate once up front
    let mut acked: HashMap<u64, MmId> = HashMap::new();
    for round in 0..3u64 {
        let mut child = spawn_child(
            "crash::crash_writer_child",
            &[
                (WRITER_CHILD, db.location.clone()),
                (WRITER_FIRST_SEQ, (round * 1_000_000).to_string()),
            ],
        );
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let kill_after = Duration::from_millis(rand::random_range(150..600));
        let started = tokio::time::Instant::now();
        let mut round_acks = 0;
        // Read acknowledgements until the kill moment (or 10 s without the first one).
        loop {
            let deadline = if round_acks == 0 {
                started + Duration::from_secs(10)
            } else {
                started + kill_after
            };
            match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    if let Some((seq, id)) = parse_ack(&line) {
                        acked.insert(seq, id);
                        round_acks += 1;
                    }
                }
                Ok(_) => panic!("child ended before it was killed"),
                Err(_) => break,
            }
        }
        assert!(
            round_acks > 0,
            "child acknowledged nothing in round {round}"
        );
        child.start_kill().expect("SIGKILL");
        let status = timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("child dies")
            .expect("wait");
        assert!(!status.success());
        // Acknowledgements already in the pipe were made before the kill: they count too.
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((seq, id)) = parse_ack(&line) {
                acked.insert(seq, id);
            }
        }
    }
    let store = db.open().await;
    for (seq, id) in &acked {
        let mm = store
            .mm(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged MM {seq} lost"));
        let want = mm1(*seq, body_len(*seq));
        assert_eq!(mm.meta, want.meta, "MM {seq}");
        assert_eq!(mm.headers, want.headers, "MM {seq}");
        assert!(mm.body == want.body, "MM {seq} body differs");
        assert_eq!(store.recipients(id).await.unwrap().len(), 1);
    }
    eprintln!(
        "{b:?}: {} acknowledged MMs intact after 3 SIGKILLs",
        acked.len()
    );
}

fn parse_ack(line: &str) -> Option<(u64, MmId)> {
    // libtest prints `test name ... ` without a newline before the child's first line.
    let at = line.find("ACK ")?;
    let mut words = line.get(at + "ACK ".len()..)?.split(' ');
    let seq = words.next()?.parse().ok()?;
    let id = words.next()?;
    // A whole id only: a line cut short by the kill was never an acknowledgement.
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (seq, MmId::from_string(id.to_owned())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of killed_node_items_are_taken_after_the_lease_expires"]
async fn crash_leaser_child() {
    let Ok(location) = std::env::var(LEASER_CHILD) else {
        return;
    };
    let store = AnyStore::open(&location).await.expect("child opens store");
    let items = store
        .lease(
            &[OutboxKind::Push],
            10,
            "node-a",
            Duration::from_secs(60),
            Timestamp::now(),
        )
        .await
        .expect("lease");
    let ids: Vec<_> = items.iter().map(|i| i.id.to_string()).collect();
    println!("LEASED {}", ids.join(" "));
    // "Work" on them until killed.
    tokio::time::sleep(Duration::from_secs(20)).await;
}

/// Two nodes (independent pools) share one PostgreSQL queue: every item is handled exactly once.
pub async fn two_nodes_handle_every_item_exactly_once(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let (node_a, node_b) = (db.open().await, db.open().await);
    let items: Vec<_> = (0..300)
        .map(|i| NewOutboxItem {
            kind: if i % 2 == 0 {
                OutboxKind::Push
            } else {
                OutboxKind::Mm4Forward
            },
            idempotency_key: format!("item-{i}"),
            mm_id: None,
            recipient: None,
            payload: bytes::Bytes::new(),
            due_at: T0,
        })
        .collect();
    assert_eq!(node_a.enqueue(items, T0).await.unwrap(), 300);
    let seen = Arc::new(std::sync::Mutex::new(HashMap::<String, u32>::new()));
    let mut workers = Vec::new();
    for (node, name) in [(node_a.clone(), "a"), (node_b.clone(), "b")] {
        for w in 0..3 {
            let (node, seen) = (node.clone(), seen.clone());
            let owner = format!("node-{name}-{w}");
            workers.push(tokio::spawn(async move {
                loop {
                    let now = at(1);
                    let got = node
                        .lease(
                            &[OutboxKind::Push, OutboxKind::Mm4Forward],
                            7,
                            &owner,
                            Duration::from_secs(600),
                            now,
                        )
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break;
                    }
                    for item in got {
                        *seen
                            .lock()
                            .unwrap()
                            .entry(item.idempotency_key.clone())
                            .or_default() += 1;
                        node.complete(&item.lease(), now).await.unwrap();
                    }
                }
            }));
        }
    }
    for w in workers {
        timeout(Duration::from_secs(30), w)
            .await
            .expect("workers finish")
            .unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&n| n == 1), "an item was handled twice");
    assert!(
        node_b
            .lease(&ALL_KINDS, 10, "x", Duration::from_secs(1), at(10_000_000))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A node killed while holding leases: the other node takes its items once the leases expire.
pub async fn killed_node_items_are_taken_after_the_lease_expires(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let node_b = db.open().await;
    let now = Timestamp::now();
    let items: Vec<_> = (0..25)
        .map(|i| NewOutboxItem {
            kind: OutboxKind::Push,
            idempotency_key: format!("push-{i}"),
            mm_id: None,
            recipient: None,
            payload: bytes::Bytes::new(),
            due_at: now,
        })
        .collect();
    node_b.enqueue(items, now).await.unwrap();
    let mut child = spawn_child(
        "crash::crash_leaser_child",
        &[(LEASER_CHILD, db.location.clone())],
    );
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let leased_by_a: HashSet<String> = loop {
        let line = timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("child leases in time")
            .expect("read")
            .expect("child printed LEASED");
        // libtest prints `test name ... ` without a newline before the child's first line.
        if let Some(ids) = line.find("LEASED ").map(|at| &line[at + "LEASED ".len()..]) {
            break ids.split(' ').map(str::to_owned).collect();
        }
    };
    assert_eq!(leased_by_a.len(), 10);
    child.start_kill().expect("SIGKILL");
    timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("child dies")
        .expect("wait");

    let now = Timestamp::now();
    let rest = node_b
        .lease(
            &[OutboxKind::Push],
            100,
            "node-b",
            Duration::from_secs(60),
            now,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 15);
    assert!(
        rest.iter().all(|i| !leased_by_a.contains(i.id.as_str())),
        "a live lease was taken"
    );
    for i in &rest {
        node_b.complete(&i.lease(), now).await.unwrap();
    }
    assert!(
        node_b
            .lease(
                &[OutboxKind::Push],
                100,
                "node-b",
                Duration::from_secs(60),
                now
            )
            .await
            .unwrap()
            .is_empty()
    );
    let after = now.plus(Duration::from_secs(61));
    let taken = node_b
        .lease(
            &[OutboxKind::Push],
            100,
            "node-b",
            Duration::from_secs(60),
            after,
        )
        .await
        .unwrap();
    let taken_ids: HashSet<String> = taken.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(taken_ids, leased_by_a);
    assert!(taken.iter().all(|i| i.attempts == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_mms_survive_sigkill() {
    acknowledged_mms_survive_sigkill(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_mms_survive_sigkill() {
    acknowledged_mms_survive_sigkill(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_handle_every_item_exactly_once() {
    two_nodes_handle_every_item_exactly_once(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_node_items_are_taken_after_the_lease_expires() {
    killed_node_items_are_taken_after_the_lease_expires(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_node_items_are_taken_after_the_lease_expires() {
    killed_node_items_are_taken_after_the_lease_expires(Backend::Sqlite).await
}
