//! What the end-to-end, soak and outage tests share: `mmsrelay serve` processes with their own
//! configs, the peers no one on this project wrote (dnsmasq as the authoritative DNS zone, the npm
//! `smpp` server as SMSC), the HSS test peer in the test process, the scripted user agent, and the
//! bookkeeping those tests need (SIGKILL and restart, CPU time from /proc, store queries, pushes
//! read back from the SMSC record).
//!
//! Missing external peers (dnsmasq, node with tests/peers/node_modules): the tests print a
//! notice and pass, unless MMSRELAY_REQUIRE_PEERS is set, then they fail. Every wait is bounded.
#![allow(dead_code)]

#[path = "../../src/relay_toml.rs"]
pub mod relay_toml;
#[path = "../../src/ua.rs"]
pub mod ua;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mms_pdu::{Pdu, Status};
use relay::routing::QueueTuning;
pub use relay_toml::RelayToml;
use test_peers::hss::TestHss;
pub use ua::{Sms, Ua, text_of};
use wap_push::{Reassembler, ReassemblyStatus};

pub const ALICE_SIP: &str = "sip:alice@a.example";
pub const ALICE_TEL: &str = "tel:+447700900001";
pub const CAROL_SIP: &str = "sip:carol@a.example";
pub const BOB_SIP: &str = "sip:bob@b.example";
pub const BOB_TEL: &str = "tel:+4917612345678";
pub const BOB_MSISDN: &str = "4917612345678";
pub const ALICE_MSISDN: &str = "447700900001";
pub const STEP: Duration = Duration::from_secs(15);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mmsrelay")
}

pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Whether dnsmasq and the npm SMSC can run here; prints a notice (or panics when
/// MMSRELAY_REQUIRE_PEERS is set) when not.
pub fn peers_available() -> bool {
    let dnsmasq = Path::new("/usr/sbin/dnsmasq").exists();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let smpp = peers_dir().join("node_modules/smpp").exists();
    if dnsmasq && node && smpp {
        return true;
    }
    let missing = format!(
        "e2e: external peers missing (dnsmasq: {dnsmasq}, node: {node}, tests/peers/node_modules/smpp: {smpp}); \
         install dnsmasq-base and run `npm ci` in tests/peers"
    );
    assert!(
        std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_none(),
        "{missing}"
    );
    eprintln!("NOTICE: {missing}; test skipped");
    false
}

/// A TCP port on 127.0.0.1 that was free when asked and that this test process has not handed out
/// before. The kernel may give a just-closed port to the next `bind(0)`, so two calls in a row
/// could otherwise name the same port for two listeners (seen once: relay B's MM1 and another
/// listener, "Address already in use").
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Hold every probe open until one is new, so the kernel cannot offer the same port again.
    let mut probes = Vec::new();
    loop {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        probes.push(probe);
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn free_udp_tcp_port() -> u16 {
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A child process killed (and reaped) when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// CPU time (user + system) the process used so far, from /proc/<pid>/stat.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(self.pid())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGKILL: a dropped process gets no chance to clean up, like a crashed node.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of `pid` (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 1/100 s).
pub fn cpu_time_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ')' field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Reads lines of `stdout` until one starts with `prefix`, for at most `timeout`.
pub fn wait_line(
    stdout: std::process::ChildStdout,
    prefix: &'static str,
    timeout: Duration,
) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with(prefix) {
                let _ = tx.send(line);
                // Keep draining so the child never blocks on a full pipe.
            }
        }
    });
    rx.recv_timeout(timeout).ok()
}

/// dnsmasq serving the test zone: ENUM NAPTR for Bob's and Alice's numbers, MX and A of
/// `mms.a.example` and `mms.b.example` (127.0.0.1), plus `extra` options.
pub fn start_dnsmasq(port: u16, extra: &[String]) -> Proc {
    let mut cmd = Command::new("/usr/sbin/dnsmasq");
    cmd.args([
        "-k",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        &format!("--port={port}"),
        "--user=root",
        "--pid-file=",
        "--local=/e164.arpa/",
        "--local=/example/",
        "--local-ttl=60",
        "--naptr-record=8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa,10,10,u,E2U+mms:mailto,!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.b.example!",
        "--naptr-record=1.0.0.0.0.9.0.0.7.7.4.4.e164.arpa,10,10,u,E2U+sip,!^.*$!sip:alice@a.example!",
        "--mx-host=mms.a.example,mx.mms.a.example,10",
        "--host-record=mx.mms.a.example,127.0.0.1",
        "--mx-host=mms.b.example,mx.mms.b.example,10",
        "--host-record=mx.mms.b.example,127.0.0.1",
    ])
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    Proc {
        child: cmd.spawn().expect("dnsmasq starts"),
    }
}

/// The npm SMSC: its process and the file it records submit_sm to.
pub struct Smsc {
    proc: Option<Proc>,
    pub record: PathBuf,
    pub port: u16,
}

impl Smsc {
    /// Starts an SMSC on a free port with an empty record.
    pub fn start(dir: &Path, name: &str) -> Self {
        let record = dir.join(format!("smsc-{name}.jsonl"));
        std::fs::write(&record, b"").unwrap();
        let (proc, port) = Self::spawn(&record, 0);
        Self {
            proc: Some(proc),
            record,
            port,
        }
    }

    fn spawn(record: &Path, port: u16) -> (Proc, u16) {
        let mut child = Command::new("node")
            .arg(peers_dir().join("smsc.js"))
            .arg(record)
            .arg(port.to_string())
            .current_dir(peers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node smsc.js starts");
        let stdout = child.stdout.take().unwrap();
        let proc = Proc { child };
        let line = wait_line(stdout, "LISTENING", Duration::from_secs(15)).expect("SMSC listens");
        let port = line.trim_start_matches("LISTENING").trim().parse().unwrap();
        (proc, port)
    }

    /// Kills the SMSC (outage); its record stays.
    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// Starts it again on the same port, appending to the same record.
    pub fn restart(&mut self) {
        let (proc, _) = Self::spawn(&self.record, self.port);
        self.proc = Some(proc);
    }

    /// Every submit_sm so far, in order.
    pub fn sms(&self) -> Vec<Sms> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines().filter_map(sms_of_line).collect()
    }
}

fn sms_of_line(line: &str) -> Option<Sms> {
    let v = serde_json::from_str::<serde_json::Value>(line).ok()?;
    Some(Sms {
        destination: v["destination_addr"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        user_data: v["short_message"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_default(),
    })
}

/// Reads an SMSC record incrementally and decodes the WAP pushes in it (reassembling
/// concatenated SMS per destination): for bulk checks, where [`Ua::next_push`] rereading the whole
/// record per push would be quadratic.
pub struct PushReader {
    record: PathBuf,
    offset: usize,
    reassembler: Reassembler,
    /// SMS that were not a push or did not decode.
    pub bad: usize,
}

impl PushReader {
    pub fn new(record: &Path) -> Self {
        Self {
            record: record.to_owned(),
            offset: 0,
            reassembler: Reassembler::new(Duration::from_secs(600), 100_000),
            bad: 0,
        }
    }

    /// The pushes completed since the last call: (destination MSISDN, PDU).
    pub fn poll(&mut self) -> Vec<(String, Pdu)> {
        let data = std::fs::read(&self.record).unwrap_or_default();
        let mut out = Vec::new();
        let Some(new) = data.get(self.offset..) else {
            return out;
        };
        // Only whole lines: the SMSC may be in the middle of appending one.
        let Some(end) = new.iter().rposition(|b| *b == b'\n') else {
            return out;
        };
        let text = String::from_utf8_lossy(&new[..=end]).into_owned();
        self.offset += end + 1;
        for sms in text.lines().filter_map(sms_of_line) {
            let dest = sms.destination.trim_start_matches('+').to_owned();
            match self
                .reassembler
                .push_user_data(&dest, &sms.user_data, Instant::now())
            {
                Ok(ReassemblyStatus::Complete(message)) => {
                    match message.push().ok().and_then(|p| Pdu::decode(&p.body).ok()) {
                        Some(pdu) => out.push((dest, pdu)),
                        None => self.bad += 1,
                    }
                }
                Ok(_) => {}
                Err(_) => self.bad += 1,
            }
        }
        out
    }
}

/// The subject of a notification (how the bulk tests name their MMs).
pub fn subject_of(pdu: &Pdu) -> Option<String> {
    match pdu {
        Pdu::NotificationInd(n) => n.subject.as_ref().map(|s| s.text()),
        _ => None,
    }
}

/// Where a relay keeps its store, and how a test reads it.
#[derive(Clone, Debug)]
pub enum StoreAt {
    /// A SQLite data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL URL with `search_path` set to the relay's schema.
    Postgres(String),
}

impl StoreAt {
    /// The `[relay] store` value.
    pub fn location(&self) -> String {
        match self {
            StoreAt::Sqlite(dir) => dir.display().to_string(),
            StoreAt::Postgres(url) => url.clone(),
        }
    }

    /// Runs `sql` with sqlite3 or psql and returns the first column of the first row.
    pub fn query_scalar(&self, sql: &str) -> String {
        let out = match self {
            StoreAt::Sqlite(dir) => Command::new("sqlite3")
                .arg(dir.join("mmsrelay.db"))
                .arg(sql)
                .output(),
            StoreAt::Postgres(url) => Command::new("psql")
                .arg(url)
                .args(["-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .output(),
        }
        .expect("sqlite3/psql runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// [`Self::query_scalar`] as a number.
    pub fn query_count(&self, sql: &str) -> i64 {
        let v = self.query_scalar(sql);
        v.parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {v:?}"))
    }
}

/// One `mmsrelay serve` process.
pub struct RelayProc {
    pub proc: Option<Proc>,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl RelayProc {
    pub fn start(config: &Path, log: &Path) -> Self {
        let mut r = Self {
            proc: None,
            config: config.to_owned(),
            log: log.to_owned(),
        };
        r.restart();
        r
    }

    /// Starts the process (again) on its config and waits for READY.
    pub fn restart(&mut self) {
        self.proc = None;
        let mut child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.log)
                    .unwrap(),
            ))
            .spawn()
            .expect("mmsrelay serve starts");
        let stdout = child.stdout.take().unwrap();
        let proc = Proc { child };
        if wait_line(stdout, "READY", Duration::from_secs(30)).is_none() {
            panic!(
                "relay did not become ready:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        self.proc = Some(proc);
    }

    /// SIGKILL, no warning.
    pub fn kill(&mut self) {
        self.proc = None;
    }

    pub fn proc_mut(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("relay is running")
    }

    pub fn pid(&self) -> u32 {
        self.proc.as_ref().expect("relay is running").pid()
    }
}

/// The settings of one relay in a test network.
#[derive(Clone, Debug)]
pub struct RelaySpec {
    pub name: &'static str,
    pub number_range: &'static str,
    pub store: String,
    pub mm1: u16,
    /// `ip:port` of its MM4 listener.
    pub mm4_listen: String,
    pub peer_mm4: u16,
    pub dns: u16,
    pub smsc: u16,
    pub hss: Option<SocketAddr>,
    pub tuning: Tuning,
}

/// Queue and cache settings a test may change.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub poll_interval_ms: u64,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    pub lease_ms: u64,
    /// Cache DNS and Sh answers as the defaults do; `false`: (almost) no caching, so a peer
    /// outage is felt at once.
    pub caches: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            poll_interval_ms: 50,
            retry_base_ms: 300,
            retry_cap_ms: 1000,
            lease_ms: 60_000,
            caches: true,
        }
    }
}

/// The relay config of `spec`: the template of `mmsrelay demo` with the tests' MM4 connect
/// timeout (1 s), tuning and an admin listener.
pub fn relay_toml(spec: &RelaySpec) -> String {
    let t = &spec.tuning;
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    RelayToml::new(spec.name, spec.number_range, &spec.store)
        .ports(spec.mm1, 0, spec.peer_mm4)
        .mm4_listen(spec.mm4_listen.parse().expect("mm4_listen is ip:port"))
        .peers(loopback(spec.dns), loopback(spec.smsc), spec.hss)
        .queue(QueueTuning {
            poll_interval_ms: t.poll_interval_ms,
            retry_base_ms: t.retry_base_ms,
            retry_cap_ms: t.retry_cap_ms,
            lease_ms: t.lease_ms,
            ..QueueTuning::default()
        })
        .mm4_connect_timeout_ms(1000)
        .caches(t.caches)
        .admin(Some(loopback(0)))
        .to_toml()
}

/// How to build a two-relay network.
#[derive(Clone, Debug, Default)]
pub struct NetOptions {
    /// Start relay B (else the test starts it later with [`Net::start_b`]).
    pub without_b: bool,
    /// Stores of A and B; `None`: SQLite directories in the test's temp dir.
    pub stores: Option<(String, String)>,
    pub tuning: Tuning,
    /// More dnsmasq options (extra peers).
    pub dns_extra: Vec<String>,
}

/// Ports and peers of one two-relay network: A serves a.example (+4477009, subscriber table),
/// B serves b.example (+49176, HSS over Sh).
pub struct Net {
    pub dir: tempfile::TempDir,
    pub dns: Option<Proc>,
    pub dns_port: u16,
    dns_extra: Vec<String>,
    pub hss: Option<TestHss>,
    pub hss_addr: SocketAddr,
    pub smsc_a: Smsc,
    pub smsc_b: Smsc,
    pub relay_a: RelayProc,
    pub relay_b: Option<RelayProc>,
    pub mm1_a: u16,
    pub mm1_b: u16,
    pub mm4_a: u16,
    pub mm4_b: u16,
    pub config_b: PathBuf,
    pub store_a: StoreAt,
    pub store_b: StoreAt,
}

fn store_at(location: &str) -> StoreAt {
    if location.starts_with("postgres") {
        StoreAt::Postgres(location.to_owned())
    } else {
        StoreAt::Sqlite(PathBuf::from(location))
    }
}

impl Net {
    /// Starts everything with the default options; relay B only when `with_b`.
    pub async fn start(with_b: bool) -> Self {
        Self::start_with(NetOptions {
            without_b: !with_b,
            ..NetOptions::default()
        })
        .await
    }

    /// Starts everything as `opts` says.
    pub async fn start_with(opts: NetOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dns_port = free_udp_tcp_port();
        let dns = start_dnsmasq(dns_port, &opts.dns_extra);
        let hss = TestHss::start("hss.example").await.unwrap();
        hss.add_subscriber(BOB_MSISDN, &[BOB_SIP, BOB_TEL]);
        let smsc_a = Smsc::start(dir.path(), "a");
        let smsc_b = Smsc::start(dir.path(), "b");
        let (mm1_a, mm1_b, mm4_a, mm4_b) = (free_port(), free_port(), free_port(), free_port());
        let (store_a, store_b) = opts.stores.clone().unwrap_or_else(|| {
            (
                dir.path().join("store-a").display().to_string(),
                dir.path().join("store-b").display().to_string(),
            )
        });
        let config_a = dir.path().join("a.toml");
        let config_b = dir.path().join("b.toml");
        let spec_a = RelaySpec {
            name: "a",
            number_range: "+4477009",
            store: store_a.clone(),
            mm1: mm1_a,
            mm4_listen: format!("127.0.0.1:{mm4_a}"),
            peer_mm4: mm4_b,
            dns: dns_port,
            smsc: smsc_a.port,
            hss: None,
            tuning: opts.tuning.clone(),
        };
        let spec_b = RelaySpec {
            name: "b",
            number_range: "+49176",
            store: store_b.clone(),
            mm1: mm1_b,
            mm4_listen: format!("127.0.0.1:{mm4_b}"),
            peer_mm4: mm4_a,
            smsc: smsc_b.port,
            hss: Some(hss.addr()),
            ..spec_a.clone()
        };
        std::fs::write(&config_a, relay_toml(&spec_a)).unwrap();
        std::fs::write(&config_b, relay_toml(&spec_b)).unwrap();
        // Relay A's subscriber table, through the CLI.
        for (impu, msisdn) in [
            (ALICE_SIP, ALICE_MSISDN),
            (ALICE_TEL, ALICE_MSISDN),
            (CAROL_SIP, "447700900003"),
        ] {
            add_subscriber(&config_a, impu, msisdn);
        }
        let relay_a = RelayProc::start(&config_a, &dir.path().join("a.log"));
        let relay_b =
            (!opts.without_b).then(|| RelayProc::start(&config_b, &dir.path().join("b.log")));
        Self {
            hss_addr: hss.addr(),
            dir,
            dns: Some(dns),
            dns_port,
            dns_extra: opts.dns_extra,
            hss: Some(hss),
            smsc_a,
            smsc_b,
            relay_a,
            relay_b,
            mm1_a,
            mm1_b,
            mm4_a,
            mm4_b,
            config_b,
            store_a: store_at(&store_a),
            store_b: store_at(&store_b),
        }
    }

    /// Starts relay B (when the network was started without it).
    pub fn start_b(&mut self) {
        let log = self.dir.path().join("b.log");
        self.relay_b = Some(RelayProc::start(&self.config_b, &log));
    }

    pub fn b(&mut self) -> &mut RelayProc {
        self.relay_b.as_mut().expect("relay B was started")
    }

    /// Kills dnsmasq (DNS outage).
    pub fn stop_dns(&mut self) {
        self.dns = None;
    }

    /// Starts dnsmasq again on the same port.
    pub fn restart_dns(&mut self) {
        self.dns = Some(start_dnsmasq(self.dns_port, &self.dns_extra));
    }

    /// Stops the HSS (outage).
    pub async fn stop_hss(&mut self) {
        if let Some(hss) = self.hss.take() {
            hss.stop().await;
        }
    }

    /// Starts the HSS again on the same address, with Bob.
    pub async fn restart_hss(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let hss = loop {
            match TestHss::start_on(self.hss_addr, "hss.example").await {
                Ok(h) => break h,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("HSS restart: {e}; trying again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("HSS does not restart on {}: {e}", self.hss_addr),
            }
        };
        hss.add_subscriber(BOB_MSISDN, &[BOB_SIP, BOB_TEL]);
        self.hss = Some(hss);
    }

    pub fn mm1(&self, relay: char) -> String {
        let port = if relay == 'A' { self.mm1_a } else { self.mm1_b };
        format!("http://127.0.0.1:{port}/")
    }

    pub fn sms(&self, relay: char) -> Vec<Sms> {
        if relay == 'A' {
            self.smsc_a.sms()
        } else {
            self.smsc_b.sms()
        }
    }

    pub fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- relay A ---\n{}\n--- relay B ---\n{}",
            read("a.log"),
            read("b.log")
        )
    }

    /// The recipient takes the push, fetches the MM, checks its text and acknowledges.
    pub async fn receive(&self, recipient: &mut Ua, relay: char, text: &str) {
        let got = recipient
            .next_push(|| self.sms(relay), STEP)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        let Pdu::NotificationInd(note) = got.pdu else {
            panic!(
                "expected m-notification-ind, got {:?}",
                got.pdu.message_type()
            );
        };
        let (http, conf) = recipient.retrieve(&note.content_location).await.unwrap();
        assert_eq!(http, 200);
        assert_eq!(text_of(&conf).as_deref(), Some(text));
        let ack = recipient
            .acknowledge(&self.mm1(relay), &note.transaction_id)
            .await
            .unwrap();
        assert!((200..300).contains(&ack), "acknowledge: HTTP {ack}");
    }

    /// The sender's next delivery report (m-delivery-ind pushed by relay A).
    pub async fn report(&self, sender: &mut Ua) -> (String, Status) {
        let got = sender
            .next_push(|| self.sms('A'), STEP)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        let Pdu::DeliveryInd(ind) = got.pdu else {
            panic!("expected m-delivery-ind, got {:?}", got.pdu.message_type());
        };
        (ind.message_id, ind.status)
    }

    /// MM4 forwards relay B stored more than once (same Message-ID): must stay 0.
    pub fn b_duplicate_mm4(&self) -> i64 {
        self.store_b.query_count(
            "SELECT count(*) - count(DISTINCT message_id) FROM mm WHERE origin_kind = 'mm4'",
        )
    }

    /// MMs relay B stored from MM4.
    pub fn b_mm4_stored(&self) -> i64 {
        self.store_b
            .query_count("SELECT count(*) FROM mm WHERE origin_kind = 'mm4'")
    }
}

/// `mmsrelay subscriber add` on `config`.
pub fn add_subscriber(config: &Path, impu: &str, msisdn: &str) {
    let out = Command::new(bin())
        .args(["subscriber", "--config"])
        .arg(config)
        .args(["add", impu, msisdn])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub async fn send_ok(ua: &Ua, mm1: &str, from: &str, to: &str, text: &str) -> String {
    let conf = ua.send(mm1, from, &[to], "e2e", text).await.unwrap();
    assert!(
        conf.response_status.is_ok(),
        "m-send-conf {:?}",
        conf.response_status
    );
    conf.message_id.expect("m-send-conf carries the Message-ID")
}

pub fn alice() -> Ua {
    Ua::new("alice", &[ALICE_SIP, ALICE_TEL], ALICE_MSISDN)
}

pub fn bob() -> Ua {
    Ua::new("bob", &[BOB_SIP, BOB_TEL], BOB_MSISDN)
}

/// PostgreSQL for a test: MMSRELAY_TEST_DATABASE_URL, and schemas created with psql, dropped when
/// the test ends. Without it the tests print a notice and pass, unless MMSRELAY_REQUIRE_POSTGRES
/// is set.
pub mod pg {
    use super::*;

    fn require_postgres() -> bool {
        std::env::var_os("MMSRELAY_REQUIRE_POSTGRES").is_some()
    }

    pub fn pg_url() -> Option<String> {
        match std::env::var("MMSRELAY_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                assert!(
                    !require_postgres(),
                    "MMSRELAY_REQUIRE_POSTGRES is set but MMSRELAY_TEST_DATABASE_URL is not"
                );
                eprintln!("NOTICE: MMSRELAY_TEST_DATABASE_URL unset: PostgreSQL e2e skipped");
                None
            }
        }
    }

    pub fn psql(url: &str, sql: &str) -> bool {
        Command::new("psql")
            .arg(url)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Schemas created for one test, dropped when it ends (pass or fail).
    pub struct Schemas {
        pub url: String,
        pub names: Vec<String>,
    }

    impl Schemas {
        /// Creates one schema per name in `prefixes` (plus a unique suffix); `None` (after a
        /// notice) when psql cannot.
        pub fn create(url: &str, prefixes: &[&str]) -> Option<Self> {
            let suffix = format!(
                "{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            );
            let schemas = Schemas {
                url: url.to_owned(),
                names: prefixes.iter().map(|p| format!("{p}_{suffix}")).collect(),
            };
            for n in &schemas.names {
                if !psql(url, &format!("CREATE SCHEMA {n}")) {
                    assert!(
                        !require_postgres(),
                        "cannot create schema {n} with psql at {url}"
                    );
                    eprintln!(
                        "NOTICE: psql cannot create a schema at MMSRELAY_TEST_DATABASE_URL: skipped"
                    );
                    return None;
                }
            }
            Some(schemas)
        }

        /// The store location of schema `i`.
        pub fn location(&self, i: usize) -> String {
            location(&self.url, &self.names[i])
        }
    }

    impl Drop for Schemas {
        fn drop(&mut self) {
            for n in &self.names {
                psql(&self.url, &format!("DROP SCHEMA IF EXISTS {n} CASCADE"));
            }
        }
    }

    pub fn location(url: &str, schema: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    }
}

/// A small deterministic generator (SplitMix64) for kill schedules: the seed is printed, so a
/// failing run can be repeated with MMSRELAY_SOAK_SEED.
pub struct Rng(u64);

impl Rng {
    /// Seeded from MMSRELAY_SOAK_SEED, else from the clock; prints the seed.
    pub fn from_env(what: &str) -> Self {
        let seed = std::env::var("MMSRELAY_SOAK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{what}: seed {seed} (repeat with MMSRELAY_SOAK_SEED={seed})");
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next_u64() % (hi - lo).max(1))
    }
}

/// Count of each item in `items`.
pub fn tally<I: IntoIterator<Item = String>>(items: I) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}
