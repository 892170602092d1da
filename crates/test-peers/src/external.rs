//! Peer programs no one on this project wrote, run by the tests: python3 with aiosmtpd
//! (tests/peers/smtp_sink.py, a receiving MM4 peer) and FreeRADIUS `radclient` (an accounting
//! client, RFC 2866). A missing program skips the test with a notice, or fails it when
//! `MMSRELAY_REQUIRE_PEERS` is set (CI).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Upper bound of every wait on an external peer.
const LIMIT: Duration = Duration::from_secs(15);

/// tests/peers of the repository (the scripts and the npm peers).
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// True when `what` is not `present` and the test should return; panics instead when
/// `MMSRELAY_REQUIRE_PEERS` is set.
pub fn peer_missing(what: &str, present: bool) -> bool {
    if present {
        return false;
    }
    assert!(
        std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_none(),
        "{what} missing but MMSRELAY_REQUIRE_PEERS is set"
    );
    eprintln!("notice: {what} not installed; skipping");
    true
}

/// Whether `program args` runs and succeeds.
pub fn runs(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when python3 cannot import aiosmtpd (see [`peer_missing`]).
pub fn aiosmtpd_missing() -> bool {
    peer_missing(
        "python3 module aiosmtpd",
        runs("python3", &["-c", "import aiosmtpd"]),
    )
}

/// True when FreeRADIUS `radclient` is not installed (see [`peer_missing`]).
pub fn radclient_missing() -> bool {
    peer_missing(
        "radclient (freeradius-utils)",
        Path::new("/usr/bin/radclient").exists(),
    )
}

/// Sends one accounting request with `attributes` (radclient's `Name = value` lines) to `addr`
/// with `secret`, once (`-r 1 -t 2`: one try, 2 s); true when an Accounting-Response came back.
pub async fn radclient_acct(addr: SocketAddr, secret: &str, attributes: &str) -> bool {
    let mut child = tokio::process::Command::new("/usr/bin/radclient")
        .args([
            "-x",
            "-r",
            "1",
            "-t",
            "2",
            &addr.to_string(),
            "acct",
            secret,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn radclient");
    let mut stdin = child.stdin.take().expect("radclient stdin");
    stdin
        .write_all(attributes.as_bytes())
        .await
        .expect("attributes written to radclient");
    drop(stdin);
    let out = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("radclient finished in time")
        .expect("radclient ran");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Accounting-Response")
}

/// tests/peers/smtp_sink.py (aiosmtpd) on 127.0.0.1, keeping each message it accepts as
/// `msg-N.eml` with its envelope in `msg-N.json`; killed on drop.
pub struct SmtpSink {
    child: tokio::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where it keeps the messages.
    pub dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl SmtpSink {
    /// Starts the sink with extra arguments (`--fail550 ADDR`, `--fail451 ADDR`).
    pub async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = tokio::process::Command::new("python3")
            .arg(peers_dir().join("smtp_sink.py"))
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn python3 smtp_sink.py");
        let mut out = BufReader::new(child.stdout.take().expect("sink stdout"));
        let mut line = String::new();
        tokio::time::timeout(LIMIT, out.read_line(&mut line))
            .await
            .expect("sink started")
            .expect("sink stdout readable");
        let port: u16 = line.trim().parse().expect("sink prints its port");
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        }
    }

    /// Waits for the `n`th stored message (1-based): its bytes and its envelope as JSON text
    /// (`mail_from`, `rcpt_tos`).
    pub async fn message(&self, n: usize) -> (Vec<u8>, Vec<u8>) {
        let eml = self.dir.path().join(format!("msg-{n}.eml"));
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !eml.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "sink stored no message {n}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let json = self.dir.path().join(format!("msg-{n}.json"));
        (
            std::fs::read(&eml).expect("stored message"),
            std::fs::read(json).expect("stored envelope"),
        )
    }
}
