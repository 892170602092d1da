//! PostgreSQL back end (DESIGN.md §7): one database shared by any number of stateless relay nodes.
//!
//! Portable SQL only (no extensions, no sequences, no advisory locks in queries), so CockroachDB and
//! YugabyteDB run it too. Each write is one transaction; leasing takes due rows with
//! `FOR UPDATE SKIP LOCKED`, so nodes never lease the same item while its lease is live.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

use crate::backend::{BoxFuture, backend};
use crate::error::{OpenError, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How a node uses its PostgreSQL connection pool (`[relay] store_pool`,
/// `store_acquire_timeout_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Connections per node.
    pub max_connections: u32,
    /// Longest wait for a pooled connection. While the database is down, sqlx retries connecting
    /// with backoff for this long, then the operation fails with [`StoreError::Database`], which
    /// MM1 answers `Error-transient-failure` (MMS ENC §7.3.48) and MM4 `451 4.3.0`: it should be
    /// well below a phone's or a peer's own timeout, so they retry instead of hanging up on a
    /// silent relay.
    pub acquire_timeout: std::time::Duration,
}

impl Default for PoolOptions {
    /// 16 connections; 5 s (sqlx's own default, 30 s, outlasts many phones' HTTP timeout).
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// A PostgreSQL store: a cheap-to-clone handle on a connection pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

/// Refuses a session that cannot write (a hot standby, `default_transaction_read_only`, a
/// read-only role setting) before migrating, with [`OpenError::NotWritable`] rather than the
/// migration's or the first MM's error.
async fn probe_writable(conn: &mut PgConnection, server: String) -> Result<(), OpenError> {
    let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
        .fetch_one(&mut *conn)
        .await
        .map_err(OpenError::Connect)?;
    if read_only == "on" {
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut *conn)
            .await
            .map_err(OpenError::Connect)?;
        return Err(OpenError::NotWritable {
            location: server,
            reason: if standby {
                "the server is a standby (in recovery)".into()
            } else {
                "the session is read-only (transaction_read_only = on)".into()
            },
        });
    }
    Ok(())
}

impl PgStore {
    /// Connects to a `postgres://` URL (sqlx syntax; `?options=-c search_path=...` picks a schema),
    /// checks the schema version and migrates.
    pub async fn connect(url: &str, pool: PoolOptions) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url).map_err(OpenError::Connect)?;
        Self::connect_with(options, pool).await
    }

    /// Connects with explicit connection and pool options.
    pub async fn connect_with(
        options: PgConnectOptions,
        pool: PoolOptions,
    ) -> Result<Self, OpenError> {
        // Where, for messages: no user name, no password.
        let server = format!(
            "postgres://{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        let mut conn = pool.acquire().await.map_err(OpenError::Connect)?;
        probe_writable(&mut conn, server).await?;
        check_schema(&mut conn).await?;
        MIGRATOR.run(&mut *conn).await?;
        drop(conn);
        Ok(Self { pool })
    }

    /// Closes the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `work` in one transaction, committed before this returns `Ok`.
    async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, E>>,
    {
        let db = |e| E::from(StoreError::Database(e));
        let mut tx = self.pool.begin().await.map_err(db)?;
        let value = work(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(value)
    }

    /// Runs `work` on a pooled connection outside any explicit transaction.
    async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, E>>,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| E::from(StoreError::Database(e)))?;
        work(&mut conn).await
    }
}

async fn check_schema(conn: &mut PgConnection) -> Result<(), OpenError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(OpenError::Connect)?;
    if exists == 0 {
        return Ok(());
    }
    let database: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(OpenError::Connect)?;
    crate::compare_schema(database, &MIGRATOR)
}

backend! {
    store: PgStore,
    conn: sqlx::PgConnection,
    row: sqlx::postgres::PgRow,
    lease_lock: " FOR UPDATE SKIP LOCKED",
    row_lock: " FOR UPDATE",
    multi_statement: false,
    expire_lock: " FOR UPDATE OF r SKIP LOCKED",
}
