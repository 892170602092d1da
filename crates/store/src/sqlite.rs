//! SQLite back end (DESIGN.md §7, the embedded default): one database file in WAL mode with
//! `synchronous=FULL`, so a commit is on disk before the caller is answered.
//!
//! All writes go through one writer task that owns the only write connection. It drains its channel,
//! runs every waiting request inside one transaction, commits once — one fsync for the whole group —
//! and then answers each caller. A request that fails must leave nothing behind, yet wrapping every
//! request in its own `SAVEPOINT` costs one more round trip to SQLite's thread per request. The
//! writer therefore runs a group without savepoints first; only when a request of it fails does it
//! roll the group back and run it again with one savepoint per request (requests are re-runnable
//! closures, and nothing of the first run was committed), and the next group too. Reads use a small
//! pool of read-only connections, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::backend::{BoxFuture, backend};
use crate::error::{OpenError, StoreError};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "mmsrelay.db";

/// Most requests committed in one group.
const MAX_GROUP: usize = 512;

/// How long the writer gathers more requests before a group, when the last group was large.
const GATHER: Duration = Duration::from_millis(2);

/// Size of the last group from which on the writer gathers (heavy concurrency only: a few callers
/// would wait for nothing).
const GATHER_AFTER: usize = 16;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded SQLite store: a cheap-to-clone handle on the writer task and the read pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: mpsc::Sender<Box<dyn WriteOp>>,
    readers: SqlitePool,
    path: PathBuf,
}

/// One request for the writer task: runs inside the group's transaction, answered after the commit.
trait WriteOp: Send {
    /// Runs the request (again, after a rolled-back run); `true` when it succeeded.
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    /// Answers the caller with the request's result, or the commit's error.
    fn finish(self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>);
}

impl std::fmt::Debug for dyn WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteOp")
    }
}

struct Op<T, E, F> {
    work: F,
    result: Option<Result<T, E>>,
    reply: Option<oneshot::Sender<Result<T, E>>>,
}

impl<T, E, F> WriteOp for Op<T, E, F>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let result = (self.work)(conn).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn finish(mut self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>) {
        let answer = match (commit, self.result.take()) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(e), Some(Ok(_))) => Err(StoreError::GroupCommit(e).into()),
            (_, None) => Err(StoreError::WriterStopped.into()),
        };
        if let Some(reply) = self.reply.take() {
            // The caller may have gone away; its write is committed all the same.
            let _ = reply.send(answer);
        }
    }
}

/// Writes the header's `user_version` back unchanged, before migrating: a database on a read-only
/// file or file system opens and reads fine, and would fail only at the first MM (or at a pending
/// migration, with a less telling error); this fails at open instead. A disk so full that this
/// one page does not fit refuses too: such a relay could take no MM either.
async fn probe_writable(conn: &mut SqliteConnection, path: &Path) -> Result<(), OpenError> {
    let not_writable = |e: sqlx::Error| OpenError::NotWritable {
        location: path.display().to_string(),
        reason: e.to_string(),
    };
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(not_writable)?;
    // PRAGMA takes no bound parameters; the value is an integer read just above.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA user_version = {version}"
    )))
    .execute(&mut *conn)
    .await
    .map_err(not_writable)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `mmsrelay.db` under the data directory `dir`.
    pub async fn open_dir(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        Self::open_file(dir.join(DB_FILE)).await
    }

    /// Opens (creating if needed) the database file `path`, checks the schema version and migrates.
    pub async fn open_file(path: impl Into<PathBuf>) -> Result<Self, OpenError> {
        let path = path.into();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(OpenError::Connect)?;
        probe_writable(&mut conn, &path).await?;
        check_schema(&mut conn).await?;
        MIGRATOR.run(&mut conn).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(OpenError::Connect)?;
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(run_writer(conn, rx));
        Ok(Self {
            inner: Arc::new(Inner {
                writer: tx,
                readers,
                path,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` in the writer's next group commit and answers after the commit. `work` may run
    /// more than once (a run whose group was rolled back left nothing behind); its last result is
    /// the answer.
    async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let op = Op {
            work,
            result: None,
            reply: Some(reply),
        };
        self.inner
            .writer
            .send(Box::new(op))
            .await
            .map_err(|_| E::from(StoreError::WriterStopped))?;
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::WriterStopped.into()))
    }

    /// Runs `work` on a read-only connection.
    async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, E>>,
    {
        let mut conn = self
            .inner
            .readers
            .acquire()
            .await
            .map_err(|e| E::from(StoreError::Database(e)))?;
        work(&mut conn).await
    }
}

async fn check_schema(conn: &mut SqliteConnection) -> Result<(), OpenError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
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

async fn run_writer(mut conn: SqliteConnection, mut requests: mpsc::Receiver<Box<dyn WriteOp>>) {
    let mut group: Vec<Box<dyn WriteOp>> = Vec::with_capacity(MAX_GROUP);
    let mut last_group = 0;
    // A request of the last group failed: run this one with savepoints straight away.
    let mut careful = false;
    while requests.recv_many(&mut group, MAX_GROUP).await > 0 {
        // Under heavy concurrency, callers answered by the last commit resubmit within moments; waiting
        // a little for them turns two half-size groups (two fsyncs) into one. A few callers never wait.
        if last_group >= GATHER_AFTER && group.len() < MAX_GROUP {
            tokio::time::sleep(GATHER).await;
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(op) => group.push(op),
                    Err(_) => break,
                }
            }
        }
        last_group = group.len();
        let mut outcome = if careful {
            Ok(false)
        } else {
            run_group(&mut conn, &mut group).await
        };
        if !matches!(outcome, Ok(true)) {
            // A request failed (or the group did): nothing of this run may stay.
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
            outcome = run_group_with_savepoints(&mut conn, &mut group).await;
        }
        careful = !matches!(outcome, Ok(true));
        if let Err(e) = &outcome {
            tracing::error!(error = %e, size = group.len(), "group commit failed");
            // Leave no transaction open for the next group.
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        }
        let outcome = outcome.map(|_| ()).map_err(Arc::new);
        for op in group.drain(..) {
            op.finish(outcome.clone());
        }
    }
    let _ = conn.close().await;
}

/// Runs the group in one transaction without savepoints and commits it; `Ok(false)`, with the
/// transaction still open, when a request failed (the caller rolls back).
async fn run_group(
    conn: &mut SqliteConnection,
    group: &mut [Box<dyn WriteOp>],
) -> Result<bool, sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for op in group.iter_mut() {
        if !op.run(conn).await {
            return Ok(false);
        }
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(true)
}

/// Runs the group in one transaction, each request in its own savepoint (a failing request rolls
/// back alone), and commits it; `Ok(true)` when every request succeeded.
async fn run_group_with_savepoints(
    conn: &mut SqliteConnection,
    group: &mut [Box<dyn WriteOp>],
) -> Result<bool, sqlx::Error> {
    // Savepoint bookkeeping rides in the same round trip as the step before it: SQLite runs every
    // statement of a multi-statement query, so each request costs one extra round trip, not two.
    sqlx::query("BEGIN IMMEDIATE; SAVEPOINT request")
        .execute(&mut *conn)
        .await?;
    let last = group.len().saturating_sub(1);
    let mut all_ok = true;
    for (i, op) in group.iter_mut().enumerate() {
        let ok = op.run(conn).await;
        all_ok &= ok;
        let step = match (ok, i == last) {
            (true, false) => "RELEASE request; SAVEPOINT request",
            (true, true) => "RELEASE request; COMMIT",
            (false, false) => "ROLLBACK TO request; RELEASE request; SAVEPOINT request",
            (false, true) => "ROLLBACK TO request; RELEASE request; COMMIT",
        };
        sqlx::query(step).execute(&mut *conn).await?;
    }
    Ok(all_ok)
}

backend! {
    store: SqliteStore,
    conn: sqlx::SqliteConnection,
    row: sqlx::sqlite::SqliteRow,
    lease_lock: "",
    row_lock: "",
    multi_statement: true,
    expire_lock: "",
}
