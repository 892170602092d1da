//! Errors, one type per kind of operation (opening, plain reads/writes, queue leases, recipient updates).

use crate::state::TransitionError;

/// Opening a store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The location is neither a path nor a `postgres://`/`sqlite:` URL we can use.
    #[error("cannot open store at {location}: {reason}")]
    BadLocation {
        /// What was given.
        location: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Creating the data directory failed.
    #[error("creating data directory: {0}")]
    Io(#[from] std::io::Error),
    /// Connecting to the database failed.
    #[error("connecting to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The database opens but cannot be written (a read-only file or file system, a PostgreSQL
    /// standby or read-only session): a relay on it could take no MM, so it does not start.
    #[error("the store {location} cannot be written: {reason}")]
    NotWritable {
        /// The database file, or the PostgreSQL server.
        location: String,
        /// What the write probe got.
        reason: String,
    },
    /// The database has migrations this binary does not know: it was written by a newer relay.
    #[error(
        "database schema version {database} is newer than this binary's {binary}; upgrade the relay"
    )]
    SchemaTooNew {
        /// Highest migration applied in the database.
        database: i64,
        /// Highest migration this binary carries.
        binary: i64,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A read or write failed in the database or the store's writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error (connection lost, disk full, constraint …).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite writer task has stopped (the store is shutting down or crashed).
    #[error("the store's writer has stopped")]
    WriterStopped,
    /// The group commit this write was part of failed; nothing of the group was stored.
    #[error("group commit failed: {0}")]
    GroupCommit(#[source] std::sync::Arc<sqlx::Error>),
    /// A stored value could not be read back (unknown state or kind text, negative size).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The argument cannot be stored (e.g. a recipient starting in a non-initial state).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether the same call may succeed later: the database failed (a connection lost, a full
    /// disk, a busy file), not the store itself (stopped, a corrupt record, a bad argument).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::GroupCommit(_))
    }

    /// Whether the write that failed may have committed all the same: the connection to the
    /// database broke after the request went out (an I/O or protocol error), so what was lost may
    /// be only the answer. An error the database returned, a pool timeout, or any SQLite failure
    /// (its writer rolls back what failed) did not commit.
    pub fn may_have_committed(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::Protocol(_))
        )
    }

    /// The database is out of space: SQLite's `SQLITE_FULL` (13, "database or disk is full"), an
    /// `ENOSPC` from the file system, or PostgreSQL's `disk_full` (53100). An operator must free
    /// space; callers answer "try later" with the protocol's storage status (SMTP 452 4.3.1).
    pub fn is_storage_full(&self) -> bool {
        let e = match self {
            StoreError::Database(e) => e,
            StoreError::GroupCommit(e) => &**e,
            _ => return false,
        };
        match e {
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("13" | "53100"))
            }
            sqlx::Error::Io(io) => io.raw_os_error() == Some(28),
            _ => false,
        }
    }
}

/// Completing, retrying or failing a leased outbox item failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The item is no longer held by this owner (lease expired and was taken, or the item was cancelled).
    #[error("lease lost: item {item} is not held by {owner}")]
    LeaseLost {
        /// The item.
        item: String,
        /// The owner that thought it held it.
        owner: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

/// Changing a recipient's state (with its outbox effects) failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// No such MM and recipient.
    #[error("no recipient {recipient} of MM {mm_id}")]
    UnknownRecipient {
        /// The MM.
        mm_id: String,
        /// The recipient.
        recipient: String,
    },
    /// The recipient's state does not allow the event.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The item to complete is not held by the given owner.
    #[error("lease lost: item {item} is not held by {owner}")]
    LeaseLost {
        /// The item.
        item: String,
        /// The owner that thought it held it.
        owner: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UpdateError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

impl From<QueueError> for UpdateError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::LeaseLost { item, owner } => Self::LeaseLost { item, owner },
            QueueError::Store(s) => Self::Store(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// A real `SQLITE_FULL`: an in-memory database capped at a few pages.
    async fn sqlite_full() -> sqlx::Error {
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (b BLOB); PRAGMA max_page_count = 4;")
            .execute(&mut c)
            .await
            .unwrap();
        for _ in 0..100 {
            if let Err(e) = sqlx::query("INSERT INTO t VALUES (zeroblob(3000))")
                .execute(&mut c)
                .await
            {
                return e;
            }
        }
        panic!("100 inserts of 3 kB fit in 4 pages");
    }

    #[tokio::test]
    async fn a_full_database_is_storage_full_and_did_not_commit() {
        let full = StoreError::Database(sqlite_full().await);
        assert!(full.is_storage_full(), "{full:?}");
        assert!(!full.may_have_committed());
        let group = StoreError::GroupCommit(std::sync::Arc::new(sqlite_full().await));
        assert!(group.is_storage_full());
        let enospc = StoreError::Database(sqlx::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert!(enospc.is_storage_full());
    }

    #[test]
    fn only_a_broken_connection_may_have_committed() {
        let cut = StoreError::Database(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()));
        assert!(cut.may_have_committed());
        assert!(!cut.is_storage_full());
        for refused in [
            StoreError::Database(sqlx::Error::PoolTimedOut),
            StoreError::Database(sqlx::Error::RowNotFound),
            StoreError::WriterStopped,
            StoreError::Invalid("x".into()),
        ] {
            assert!(!refused.may_have_committed(), "{refused:?}");
            assert_eq!(
                refused.is_transient(),
                matches!(refused, StoreError::Database(_)),
                "{refused:?}"
            );
            assert!(!refused.is_storage_full(), "{refused:?}");
        }
    }
}
