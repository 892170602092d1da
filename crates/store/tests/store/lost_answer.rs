//! A lease whose COMMIT reached PostgreSQL but whose answer did not (RELIABILITY.md §2): the
//! store reaches the database through `test_peers::proxy::TcpProxy`, which breaks the client's
//! connection right after forwarding `COMMIT`. The caller gets an error that may have followed a
//! commit; the items are leased to an owner that holds nothing; `release_leases` gives them back.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use mms_store::*;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use test_peers::proxy::TcpProxy;

use crate::support::*;

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_answer_is_lost_after_commit_is_given_back() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let direct = db.open().await;
    let push = [OutboxKind::Push];
    let items = (0..3)
        .map(|i| NewOutboxItem {
            kind: OutboxKind::Push,
            idempotency_key: format!("push-{i}"),
            mm_id: None,
            recipient: None,
            payload: Bytes::new(),
            due_at: T0,
        })
        .collect();
    assert_eq!(direct.enqueue(items, T0).await.unwrap(), 3);

    let options = PgConnectOptions::from_str(&db.location).expect("the test URL parses");
    let upstream = tokio::net::lookup_host((options.get_host().to_owned(), options.get_port()))
        .await
        .unwrap()
        .next()
        .expect("the database host resolves");
    let proxy = TcpProxy::start(upstream).await.unwrap();
    // In clear and without a statement cache, so every statement's text (the trap's `COMMIT`)
    // crosses the proxy as it is.
    let proxied = PgStore::connect_with(
        options
            .host("127.0.0.1")
            .port(proxy.addr().port())
            .ssl_mode(PgSslMode::Disable)
            .statement_cache_capacity(0),
        PoolOptions::default(),
    )
    .await
    .expect("open through the proxy");

    proxy.lose_answer_after(b"COMMIT");
    let lost = proxied
        .lease(&push, 10, "w#1", LEASE, T0)
        .await
        .expect_err("the answer came through");
    assert!(lost.may_have_committed(), "{lost:?}");
    assert!(
        direct
            .lease(&push, 10, "other", LEASE, T0)
            .await
            .unwrap()
            .is_empty(),
        "the lost call's lease committed: nobody else may take the items"
    );
    assert_eq!(
        direct.release_leases(&push, "w#1", T0).await.unwrap(),
        3,
        "given back"
    );
    let again = direct.lease(&push, 10, "w#2", LEASE, T0).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(
        again.iter().all(|i| i.attempts == 1),
        "the lost attempt is uncounted"
    );
    // The proxied store's pool gets a new connection and works again.
    assert_eq!(proxied.release_leases(&push, "w#2", T0).await.unwrap(), 3);
}
