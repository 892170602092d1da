//! Memory while many MMs are stored (DESIGN.md §11: flat RSS with 1 M MMs stored and queued).
//! Inserts `MMSRELAY_RSS_COUNT` MMs (default 100 000; 1 KB bodies, one recipient and one queued item
//! each) with 64 writers into a SQLite store (or `MMSRELAY_RSS_LOCATION`) and prints the process RSS
//! every tenth of the way. Not a criterion bench: `cargo bench -p mms-store --bench store_rss`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_store::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `--list` probes: nothing to run
    }
    let total: u64 = std::env::var("MMSRELAY_RSS_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = std::env::var("MMSRELAY_RSS_LOCATION")
            .unwrap_or_else(|_| dir.path().display().to_string());
        let store = AnyStore::open(&location).await.expect("open");
        println!("start: rss {} KiB", rss_kib());
        let body = Bytes::from(vec![0x42; 1024]);
        let next = Arc::new(AtomicU64::new(0));
        let step = (total / 10).max(1);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (store, body, next) = (store.clone(), body.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= total {
                        break;
                    }
                    let now = Timestamp::now();
                    let mm = NewMm {
                        meta: MmMeta {
                            message_id: format!("rss-{seq}"),
                            transaction_id: format!("tx-{seq}"),
                            from: "sip:alice@a.example".into(),
                            mms_version: "1.3".into(),
                            content_type: "application/vnd.wap.multipart.related".into(),
                            subject: None,
                            size: 1024,
                            date: now,
                            expiry: now.plus(Duration::from_secs(86_400)),
                            delivery_report: false,
                            read_report: false,
                            origin: Origin::Mm1 {
                                identity: "sip:alice@a.example".into(),
                            },
                        },
                        headers: Bytes::from_static(b"headers"),
                        body: body.clone(),
                    };
                    let rcpt = format!("sip:user{seq}@b.example");
                    let item = NewOutboxItem {
                        kind: OutboxKind::Resolve,
                        idempotency_key: format!("resolve:rss:{seq}"),
                        mm_id: None,
                        recipient: Some(rcpt.clone()),
                        payload: Bytes::new(),
                        due_at: now,
                    };
                    let r = NewRecipient {
                        address: rcpt,
                        state: RecipientState::Resolving,
                        retrieval_token: None,
                    };
                    store
                        .accept_mm(mm, vec![r], vec![item], now)
                        .await
                        .expect("insert");
                    if (seq + 1) % step == 0 {
                        println!(
                            "{:>8} MMs stored and queued: rss {} KiB, {:.0} inserts/s so far",
                            seq + 1,
                            rss_kib(),
                            (seq + 1) as f64 / start.elapsed().as_secs_f64()
                        );
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
        println!("end: rss {} KiB after {:?}", rss_kib(), start.elapsed());
    });
}
