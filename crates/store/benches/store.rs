//! Store throughput (DESIGN.md §11): durable MM inserts/s (1 KB and 30 KB bodies, 1 and 64 concurrent
//! writers) and lease+complete cycles/s, on SQLite and — when `MMSRELAY_TEST_DATABASE_URL` is set —
//! on PostgreSQL (a throw-away schema, dropped afterwards).
//!
//! Each insert is what the relay does on `m-send-req`: the MM, one recipient and its first outbox
//! item in one transaction, durable before the call returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mms_store::*;
use sqlx::Connection;

fn new_mm(body: &Bytes, seq: u64) -> NewMm {
    NewMm {
        meta: MmMeta {
            message_id: format!("bench-{seq}"),
            transaction_id: format!("tx-{seq}"),
            from: "sip:alice@a.example".into(),
            mms_version: "1.3".into(),
            content_type: "application/vnd.wap.multipart.related".into(),
            subject: Some("bench".into()),
            size: body.len() as u64,
            date: Timestamp::now(),
            expiry: Timestamp::now().plus(Duration::from_secs(86_400)),
            delivery_report: true,
            read_report: false,
            origin: Origin::Mm1 {
                identity: "sip:alice@a.example".into(),
            },
        },
        headers: Bytes::from_static(&[0x8c, 0x80, 0x98, b'x', 0, 0x8d, 0x93]),
        body: body.clone(),
    }
}

async fn insert(store: &AnyStore, body: &Bytes, seq: u64) {
    let rcpt = "sip:bob@b.example";
    let item = NewOutboxItem {
        kind: OutboxKind::Resolve,
        idempotency_key: format!("resolve:{seq}:{:x}", rand::random::<u64>()),
        mm_id: None,
        recipient: Some(rcpt.into()),
        payload: Bytes::new(),
        due_at: Timestamp::now(),
    };
    store
        .accept_mm(
            new_mm(body, seq),
            vec![NewRecipient {
                address: rcpt.into(),
                state: RecipientState::Resolving,
                retrieval_token: None,
            }],
            vec![item],
            Timestamp::now(),
        )
        .await
        .expect("insert");
}

/// Runs `total` inserts over `writers` tasks; returns the elapsed time.
async fn insert_many(store: &AnyStore, body: &Bytes, writers: u64, total: u64) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, body, next) = (store.clone(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                insert(&store, &body, seq).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    start.elapsed()
}

/// Enqueues `total` push items, then times `workers` tasks each leasing one item and completing it.
async fn lease_complete(store: &AnyStore, workers: u64, total: u64) -> Duration {
    let tag: u64 = rand::random();
    let now = Timestamp::now();
    for chunk in (0..total).collect::<Vec<_>>().chunks(500) {
        let items = chunk
            .iter()
            .map(|i| NewOutboxItem {
                kind: OutboxKind::Push,
                idempotency_key: format!("push:{tag:x}:{i}"),
                mm_id: None,
                recipient: None,
                payload: Bytes::from_static(b"notification"),
                due_at: now,
            })
            .collect();
        store.enqueue(items, now).await.expect("enqueue");
    }
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            while done.load(Ordering::Relaxed) < total {
                let now = Timestamp::now();
                let items = store
                    .lease(
                        &[OutboxKind::Push],
                        1,
                        &owner,
                        Duration::from_secs(300),
                        now,
                    )
                    .await
                    .expect("lease");
                if items.is_empty() {
                    break;
                }
                for item in items {
                    store.complete(&item.lease(), now).await.expect("complete");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    start.elapsed()
}

struct Target {
    name: &'static str,
    store: AnyStore,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn targets() -> Vec<Target> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = AnyStore::open(&dir.path().display().to_string())
        .await
        .expect("open sqlite");
    let mut out = vec![Target {
        name: "sqlite",
        store: sqlite,
        cleanup: None,
        _dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("MMSRELAY_TEST_DATABASE_URL") {
        let schema = format!("mmsrelay_bench_{:x}", rand::random::<u32>());
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        let location = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        out.push(Target {
            name: "postgres",
            store: AnyStore::open(&location).await.expect("open postgres"),
            cleanup: Some((url, schema)),
            _dir: None,
        });
    } else {
        eprintln!("MMSRELAY_TEST_DATABASE_URL unset: PostgreSQL not measured");
    }
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let targets = rt.block_on(targets());
    for t in &targets {
        let mut group = c.benchmark_group(format!("store_insert_{}", t.name));
        group.throughput(Throughput::Elements(1));
        for (label, size) in [("1KB", 1024usize), ("30KB", 30 * 1024)] {
            let body = Bytes::from(vec![0x5a; size]);
            for writers in [1u64, 64] {
                group.bench_function(format!("{label}_{writers}w"), |b| {
                    b.iter_custom(|iters| rt.block_on(insert_many(&t.store, &body, writers, iters)))
                });
            }
        }
        group.finish();
        let mut group = c.benchmark_group(format!("store_lease_complete_{}", t.name));
        group.throughput(Throughput::Elements(1));
        for workers in [1u64, 8] {
            group.bench_function(format!("{workers}w"), |b| {
                b.iter_custom(|iters| rt.block_on(lease_complete(&t.store, workers, iters)))
            });
        }
        group.finish();
    }
    for t in targets {
        if let Some((url, schema)) = t.cleanup {
            rt.block_on(async {
                if let AnyStore::Postgres(pg) = &t.store {
                    pg.close().await;
                }
                let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
                let sql = format!("DROP SCHEMA {schema} CASCADE");
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await;
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
