//! SQLite out of space (issue 11, RELIABILITY.md §2): the store sits on a small tmpfs that is
//! filled up. A write that does not fit fails as "storage full" (the relay answers 452 4.3.1 on
//! MM4 and Error-transient-failure on MM1), nothing stored before is lost or damaged, reads go on,
//! and writes work again once space is freed, without reopening the store. A store that cannot
//! be written at all (SQLite on a read-only file system, a read-only PostgreSQL session) is
//! refused at open.

use mms_store::*;
use test_peers::disk::SmallDisk;

use crate::support::*;

const BODY: usize = 32 * 1024;

async fn accept(s: &AnyStore, seq: u64) -> Result<MmId, StoreError> {
    let (bob, _) = local_rcpt("sip:bob@b.example");
    match s.accept_mm(mm1(seq, BODY), vec![bob], vec![], T0).await? {
        AcceptOutcome::Stored { id, .. } => Ok(id),
        AcceptOutcome::Duplicate => panic!("MM {seq} taken for a duplicate"),
    }
}

async fn assert_reads_back(s: &AnyStore, stored: &[(u64, MmId)]) {
    for (seq, id) in stored {
        let got = s
            .mm(id)
            .await
            .unwrap()
            .expect("an MM stored before is still there");
        assert_eq!(got.body, mm1(*seq, BODY).body, "MM {seq} damaged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_space_refuses_writes_as_storage_full_and_recovers_when_space_returns() {
    let Some(disk) = SmallDisk::mount(16 << 20) else {
        return;
    };
    let location = disk.subdir("data").display().to_string();
    let s = AnyStore::open(&location).await.expect("open store");
    let mut stored = Vec::new();
    for seq in 0..8 {
        stored.push((seq, accept(&s, seq).await.expect("room on the disk")));
    }
    disk.fill_up(0);
    let mut refused = None;
    for seq in 100..400 {
        match accept(&s, seq).await {
            Ok(id) => stored.push((seq, id)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let err = refused.expect("a full disk took 300 more MMs of 32 KiB");
    assert!(
        err.is_storage_full(),
        "not recognised as storage full: {err:?}"
    );
    // Still full: every write keeps failing the same way, reads go on.
    for seq in 500..505 {
        let e = accept(&s, seq).await.expect_err("stored on a full disk");
        assert!(e.is_storage_full(), "{e:?}");
    }
    assert_reads_back(&s, &stored).await;

    disk.resize(64 << 20);
    stored.push((
        600,
        accept(&s, 600).await.expect("stored once space is back"),
    ));
    assert_reads_back(&s, &stored).await;
    drop(s);
    let again = AnyStore::open(&location).await.expect("reopen");
    assert_reads_back(&again, &stored).await;
    eprintln!(
        "DISK FULL SQLite: {} MMs of 32 KiB stored, refused as storage full once the disk was full, \
         all read back after space returned and after a reopen",
        stored.len()
    );
}

/// A store that opens but cannot be written (its file system is mounted read-only) is refused at
/// open with [`OpenError::NotWritable`], instead of a relay that starts and fails every MM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_that_cannot_be_written_is_refused_at_open() {
    let Some(disk) = SmallDisk::mount(16 << 20) else {
        return;
    };
    let dir = disk.subdir("data");
    let s = AnyStore::open(&dir.display().to_string())
        .await
        .expect("open store");
    let stored = vec![(1, accept(&s, 1).await.expect("room on the disk"))];
    // `s` stays open meanwhile, so the WAL index (`-shm`) exists and the read-only open gets as
    // far as the write probe. (Without it, and with the last writer gone, SQLite cannot open a WAL
    // database on a read-only file system at all: `OpenError::Connect`, also a refusal.)
    let view = disk.read_only_view();
    let read_only = view.path().join("data").display().to_string();
    match AnyStore::open(&read_only).await {
        Err(OpenError::NotWritable { location, .. }) => {
            assert!(location.starts_with(&read_only), "{location}");
        }
        Err(other) => panic!("refused, but not as not writable: {other}"),
        Ok(_) => panic!("a store on a read-only file system was opened"),
    }
    drop(view);
    drop(s);
    let s = AnyStore::open(&dir.display().to_string())
        .await
        .expect("writable again");
    assert_reads_back(&s, &stored).await;
}

/// PostgreSQL's counterpart: a session that cannot write (here `default_transaction_read_only`;
/// a hot standby is the same) is refused at open, before migrating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_that_cannot_write_is_refused_at_open() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    drop(db.open().await);
    let read_only = format!("{}%20-c%20default_transaction_read_only%3Don", db.location);
    match AnyStore::open(&read_only).await {
        Err(OpenError::NotWritable { location, reason }) => {
            assert!(location.starts_with("postgres://"), "{location}");
            assert!(!location.contains('@'), "credentials in {location}");
            assert!(reason.contains("read-only"), "{reason}");
        }
        Err(other) => panic!("refused, but not as not writable: {other}"),
        Ok(_) => panic!("a read-only session was taken for a store"),
    }
    db.open().await;
}
