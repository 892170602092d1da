//! Test databases: a temporary SQLite directory, or a fresh schema in the PostgreSQL named by
//! `MMSRELAY_TEST_DATABASE_URL` (dropped when the test ends, pass or fail).

use std::str::FromStr;

use bytes::Bytes;
use mms_store::{
    AnyStore, MmMeta, NewMm, NewRecipient, Origin, RecipientState, RetrievalToken, Timestamp,
};
use sqlx::Connection;

/// Which back end a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL, or `None` (with a notice) when unset; panics if PostgreSQL is required.
pub fn postgres_url() -> Option<String> {
    match std::env::var("MMSRELAY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("MMSRELAY_REQUIRE_POSTGRES").is_some() {
                panic!("MMSRELAY_REQUIRE_POSTGRES is set but MMSRELAY_TEST_DATABASE_URL is not");
            }
            eprintln!("notice: MMSRELAY_TEST_DATABASE_URL unset, skipping the PostgreSQL half");
            None
        }
    }
}

/// A database for one test; its location can be opened again (reopen, child processes).
pub struct TestDb {
    pub location: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database location, or `None` when the back end is unavailable here.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let location = dir.path().join("data").display().to_string();
                Some(Self {
                    location,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let url = postgres_url()?;
                let schema = format!("mmsrelay_test_{:016x}", rand::random::<u64>());
                let mut admin = sqlx::PgConnection::connect(&url)
                    .await
                    .expect("connect to MMSRELAY_TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .expect("create schema");
                let _ = admin.close().await;
                let sep = if url.contains('?') { '&' } else { '?' };
                let location = format!("{url}{sep}options=-c%20search_path%3D{schema}");
                Some(Self {
                    location,
                    _dir: None,
                    pg: Some((url, schema)),
                })
            }
        }
    }

    /// Opens the store at this location.
    pub async fn open(&self) -> AnyStore {
        AnyStore::open(&self.location).await.expect("open store")
    }

    /// Runs SQL directly against the test database (outside the store).
    pub async fn raw(&self, sql: &str) {
        match &self.pg {
            Some(_) => {
                let opts = sqlx::postgres::PgConnectOptions::from_str(&self.location).expect("url");
                let mut c = sqlx::PgConnection::connect_with(&opts)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut c)
                    .await
                    .expect("raw sql");
                let _ = c.close().await;
            }
            None => {
                let file = std::path::Path::new(&self.location).join(mms_store::DB_FILE);
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
                let mut c = sqlx::SqliteConnection::connect_with(&opts)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut c)
                    .await
                    .expect("raw sql");
                let _ = c.close().await;
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((url, schema)) = self.pg.take() else {
            return;
        };
        // Drop the schema from a helper thread with its own runtime (Drop cannot await).
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                    let _ = c.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a reader can recompute what a writer stored.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

pub fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + offset_ms)
}

/// An MM1-originated MM numbered `seq` with a body of `body_len` pattern bytes, expiring at `T0 + 1 h`.
pub fn mm1(seq: u64, body_len: usize) -> NewMm {
    NewMm {
        meta: MmMeta {
            message_id: format!("msg-{seq}"),
            transaction_id: format!("tx-{seq}"),
            from: "sip:alice@a.example".into(),
            mms_version: "1.3".into(),
            content_type: "application/vnd.wap.multipart.related".into(),
            subject: Some(format!("subject {seq} ü")),
            size: body_len as u64,
            date: T0,
            expiry: at(3_600_000),
            delivery_report: true,
            read_report: false,
            origin: Origin::Mm1 {
                identity: "sip:alice@a.example".into(),
            },
        },
        headers: Bytes::from(pattern(seq ^ 0xABCD, 64)),
        body: Bytes::from(pattern(seq, body_len)),
    }
}

/// An MM4-originated copy of `mm1(seq)` from `mms.a.example`.
pub fn mm4(seq: u64, body_len: usize) -> NewMm {
    let mut mm = mm1(seq, body_len);
    mm.meta.origin = Origin::Mm4 {
        originator_system: "system-user@mms.a.example".into(),
    };
    mm
}

pub fn rcpt(address: &str, state: RecipientState) -> NewRecipient {
    NewRecipient {
        address: address.into(),
        state,
        retrieval_token: None,
    }
}

pub fn local_rcpt(address: &str) -> (NewRecipient, RetrievalToken) {
    let token = RetrievalToken::generate();
    (
        NewRecipient {
            address: address.into(),
            state: RecipientState::Notifying,
            retrieval_token: Some(token.clone()),
        },
        token,
    )
}
