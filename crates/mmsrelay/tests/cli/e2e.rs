//! End to end (DESIGN.md §1): two `mmsrelay serve` processes with their own configs and SQLite
//! stores, meeting peers no one on this project wrote — dnsmasq as the authoritative DNS zone
//! (ENUM NAPTR, MX, A) and the npm `smpp` server as SMSC — plus the HSS test peer (Diameter Sh)
//! in the test process and a scripted user agent speaking MM1.
//!
//! Missing external peers (dnsmasq, node with tests/peers/node_modules): the tests print a
//! notice and pass, unless MMSRELAY_REQUIRE_PEERS is set, then they fail. Every wait is bounded.

#[path = "../../src/ua.rs"]
mod ua;

#[path = "e2e_pg.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mms_pdu::{Pdu, Status, TimeSpec};
use test_peers::hss::TestHss;
use ua::{Sms, Ua, text_of};

const ALICE_SIP: &str = "sip:alice@a.example";
const ALICE_TEL: &str = "tel:+447700900001";
const CAROL_SIP: &str = "sip:carol@a.example";
const BOB_SIP: &str = "sip:bob@b.example";
const BOB_TEL: &str = "tel:+4917612345678";
const STEP: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mmsrelay")
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Whether dnsmasq and the npm SMSC can run here; prints a notice (or panics when
/// MMSRELAY_REQUIRE_PEERS is set) when not.
fn peers_available() -> bool {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_tcp_port() -> u16 {
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A child process killed (and reaped) when dropped.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
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
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads lines of `stdout` until one starts with `prefix`, for at most `timeout`.
fn wait_line(
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

fn start_dnsmasq(port: u16, extra: &[&str]) -> Proc {
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
struct Smsc {
    _proc: Proc,
    record: PathBuf,
    port: u16,
}

impl Smsc {
    fn start(dir: &Path, name: &str) -> Self {
        let record = dir.join(format!("smsc-{name}.jsonl"));
        std::fs::write(&record, b"").unwrap();
        let mut child = Command::new("node")
            .arg(peers_dir().join("smsc.js"))
            .arg(&record)
            .arg("0")
            .current_dir(peers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node smsc.js starts");
        let stdout = child.stdout.take().unwrap();
        let proc = Proc { child };
        let line = wait_line(stdout, "LISTENING", Duration::from_secs(15)).expect("SMSC listens");
        let port = line.trim_start_matches("LISTENING").trim().parse().unwrap();
        Self {
            _proc: proc,
            record,
            port,
        }
    }

    /// Every submit_sm so far, in order.
    fn sms(&self) -> Vec<Sms> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| Sms {
                destination: v["destination_addr"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                user_data: v["short_message"]
                    .as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// One `mmsrelay serve` process.
struct RelayProc {
    proc: Proc,
    config: PathBuf,
    log: PathBuf,
}

impl RelayProc {
    fn start(config: &Path, log: &Path) -> Self {
        let mut child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            ))
            .spawn()
            .expect("mmsrelay serve starts");
        let stdout = child.stdout.take().unwrap();
        let proc = Proc { child };
        if wait_line(stdout, "READY", Duration::from_secs(30)).is_none() {
            panic!(
                "relay did not become ready:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        Self {
            proc,
            config: config.to_owned(),
            log: log.to_owned(),
        }
    }

    fn restart(&mut self) {
        let again = Self::start(&self.config.clone(), &self.log.clone());
        *self = again;
    }
}

/// Ports and peers of one two-relay network.
struct Net {
    dir: tempfile::TempDir,
    _dns: Proc,
    hss: TestHss,
    smsc_a: Smsc,
    smsc_b: Smsc,
    relay_a: RelayProc,
    relay_b: Option<RelayProc>,
    mm1_a: u16,
    mm1_b: u16,
    config_b: PathBuf,
}

#[allow(clippy::too_many_arguments)]
fn relay_toml(
    name: &str,
    number_range: &str,
    store: &Path,
    mm1: u16,
    mm4: u16,
    peer_mm4: u16,
    dns: u16,
    smsc: u16,
    hss: Option<SocketAddr>,
) -> String {
    let queue = "poll_interval_ms = 50\nretry_base_ms = 300\nretry_cap_ms = 1000\n";
    let mut text = format!(
        r#"[relay]
mmse_domain = "mms.{name}.example"
sip_domains = ["{name}.example"]
number_ranges = ["{number_range}"]
store = "{store}"
[mm1]
listen = "127.0.0.1:{mm1}"
public_url = "http://127.0.0.1:{mm1}"
[resolver]
nameservers = ["127.0.0.1:{dns}"]
enum_suffixes = ["e164.arpa"]
lookup_timeout_ms = 2000
[routing.queue]
{queue}
[mm4]
listen = "127.0.0.1:{mm4}"
smtp_port = {peer_mm4}
connect_timeout_ms = 1000
[mm4.queue]
{queue}
[notifier.queue]
{queue}
[smsc]
host = "127.0.0.1"
port = {smsc}
system_id = "relay-{name}"
response_timeout_ms = 3000
[admin]
listen = "127.0.0.1:0"
"#,
        store = store.display()
    );
    if let Some(hss) = hss {
        text.push_str(&format!(
            "[hss]\npeers = [\"{hss}\"]\norigin_host = \"mms.{name}.example\"\norigin_realm = \"{name}.example\"\ndestination_realm = \"example\"\nrequest_timeout = \"2s\"\n"
        ));
    }
    text
}

impl Net {
    /// Starts everything; relay B only when `with_b`.
    async fn start(with_b: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dns_port = free_udp_tcp_port();
        let dns = start_dnsmasq(dns_port, &[]);
        let hss = TestHss::start("hss.example").await.unwrap();
        hss.add_subscriber("4917612345678", &[BOB_SIP, BOB_TEL]);
        let smsc_a = Smsc::start(dir.path(), "a");
        let smsc_b = Smsc::start(dir.path(), "b");
        let (mm1_a, mm1_b, mm4_a, mm4_b) = (free_port(), free_port(), free_port(), free_port());
        let store_a = dir.path().join("store-a");
        let store_b = dir.path().join("store-b");
        let config_a = dir.path().join("a.toml");
        let config_b = dir.path().join("b.toml");
        std::fs::write(
            &config_a,
            relay_toml(
                "a",
                "+4477009",
                &store_a,
                mm1_a,
                mm4_a,
                mm4_b,
                dns_port,
                smsc_a.port,
                None,
            ),
        )
        .unwrap();
        std::fs::write(
            &config_b,
            relay_toml(
                "b",
                "+49176",
                &store_b,
                mm1_b,
                mm4_b,
                mm4_a,
                dns_port,
                smsc_b.port,
                Some(hss.addr()),
            ),
        )
        .unwrap();
        // Relay A's subscriber table, through the CLI.
        for (impu, msisdn) in [
            (ALICE_SIP, "447700900001"),
            (ALICE_TEL, "447700900001"),
            (CAROL_SIP, "447700900003"),
        ] {
            let out = Command::new(bin())
                .args(["subscriber", "--config"])
                .arg(&config_a)
                .args(["add", impu, msisdn])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let relay_a = RelayProc::start(&config_a, &dir.path().join("a.log"));
        let relay_b = with_b.then(|| RelayProc::start(&config_b, &dir.path().join("b.log")));
        Self {
            dir,
            _dns: dns,
            hss,
            smsc_a,
            smsc_b,
            relay_a,
            relay_b,
            mm1_a,
            mm1_b,
            config_b,
        }
    }

    fn mm1(&self, relay: char) -> String {
        let port = if relay == 'A' { self.mm1_a } else { self.mm1_b };
        format!("http://127.0.0.1:{port}/")
    }

    fn sms(&self, relay: char) -> Vec<Sms> {
        if relay == 'A' {
            self.smsc_a.sms()
        } else {
            self.smsc_b.sms()
        }
    }

    fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- relay A ---\n{}\n--- relay B ---\n{}",
            read("a.log"),
            read("b.log")
        )
    }

    /// The recipient takes the push, fetches the MM, checks its text and acknowledges.
    async fn receive(&self, recipient: &mut Ua, relay: char, text: &str) {
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
    async fn report(&self, sender: &mut Ua) -> (String, Status) {
        let got = sender
            .next_push(|| self.sms('A'), STEP)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        let Pdu::DeliveryInd(ind) = got.pdu else {
            panic!("expected m-delivery-ind, got {:?}", got.pdu.message_type());
        };
        (ind.message_id, ind.status)
    }
}

async fn send_ok(ua: &Ua, mm1: &str, from: &str, to: &str, text: &str) -> String {
    let conf = ua.send(mm1, from, &[to], "e2e", text).await.unwrap();
    assert!(
        conf.response_status.is_ok(),
        "m-send-conf {:?}",
        conf.response_status
    );
    conf.message_id.expect("m-send-conf carries the Message-ID")
}

fn alice() -> Ua {
    Ua::new("alice", &[ALICE_SIP, ALICE_TEL], "447700900001")
}

fn bob() -> Ua {
    Ua::new("bob", &[BOB_SIP, BOB_TEL], "4917612345678")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_tel_and_local_journeys_with_reports_over_dnsmasq_smpp_and_sh() {
    if !peers_available() {
        return;
    }
    let net = Net::start(true).await;
    let mut alice = alice();
    let mut bob = bob();
    let mut carol = Ua::new("carol", &[CAROL_SIP], "447700900003");
    let a = net.mm1('A');
    // sip -> sip, tel -> sip, sip -> tel (ENUM): across the relays; then local on A.
    for (i, (from, to)) in [
        (ALICE_SIP, BOB_SIP),
        (ALICE_TEL, BOB_SIP),
        (ALICE_SIP, BOB_TEL),
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!("journey {i}: {from} -> {to}");
        let id = send_ok(&alice, &a, from, to, &text).await;
        net.receive(&mut bob, 'B', &text).await;
        assert_eq!(
            net.report(&mut alice).await,
            (id, Status::RETRIEVED),
            "{from} -> {to}"
        );
    }
    assert!(
        net.hss.udr_count() >= 1,
        "relay B asked the HSS for Bob's MSISDN"
    );
    let id = send_ok(&alice, &a, ALICE_SIP, CAROL_SIP, "local").await;
    net.receive(&mut carol, 'A', "local").await;
    assert_eq!(net.report(&mut alice).await, (id, Status::RETRIEVED));
    assert!(
        net.smsc_b
            .sms()
            .iter()
            .all(|s| s.destination != "447700900003"),
        "a local MM never leaves relay A"
    );

    // Unknown SIP user at B (HSS answers 5001): the sender gets a failure report.
    let id = send_ok(&alice, &a, ALICE_SIP, "sip:nobody@b.example", "to nobody").await;
    let (rid, status) = net.report(&mut alice).await;
    assert_eq!(rid, id);
    // B fails the recipient as Unreachable (135); TS 23.140 §8.4.2 X-Mms-MM-Status-Code has no
    // such value, so over MM4 it travels as Indeterminate (133).
    assert_eq!(status, Status::INDETERMINATE, "{}", net.logs());

    // A domain DNS does not know (NXDOMAIN from dnsmasq): failure report from A itself.
    let id = send_ok(&alice, &a, ALICE_SIP, "sip:x@nowhere.example", "to nowhere").await;
    assert_eq!(net.report(&mut alice).await, (id, Status::UNREACHABLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mm_waits_at_a_while_b_is_down_and_is_delivered_when_b_returns() {
    if !peers_available() {
        return;
    }
    let mut net = Net::start(false).await;
    let mut alice = alice();
    let mut bob = bob();
    let id = send_ok(&alice, &net.mm1('A'), ALICE_SIP, BOB_SIP, "queued").await;
    // Relay A retries the forward (connection refused) for a while: nothing reaches B's SMSC.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(net.smsc_b.sms().is_empty());
    let log = net.dir.path().join("b.log");
    net.relay_b = Some(RelayProc::start(&net.config_b, &log));
    net.receive(&mut bob, 'B', "queued").await;
    assert_eq!(net.report(&mut alice).await, (id, Status::RETRIEVED));

    // SIGTERM stops a relay gracefully (exit 0); restarted on its store, it serves again.
    let b = net.relay_b.as_mut().unwrap();
    let status = b
        .proc
        .terminate(Duration::from_secs(20))
        .expect("relay B exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    b.restart();
    let id = send_ok(&alice, &net.mm1('A'), ALICE_SIP, BOB_SIP, "after restart").await;
    net.receive(&mut bob, 'B', "after restart").await;
    assert_eq!(net.report(&mut alice).await, (id, Status::RETRIEVED));
    let _ = &net.relay_a;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unretrieved_mm_expires_and_the_sender_gets_an_expired_report() {
    if !peers_available() {
        return;
    }
    let net = Net::start(true).await;
    let mut alice = alice();
    let mut bob = bob();
    let mut req = alice.text_req(&[BOB_SIP], "short-lived", "expires");
    req.expiry = Some(TimeSpec::Relative(3));
    let conf = alice.send_req(&net.mm1('A'), ALICE_SIP, req).await.unwrap();
    assert!(conf.response_status.is_ok());
    // Bob is notified but never fetches.
    let got = bob.next_push(|| net.sms('B'), STEP).await.unwrap();
    assert!(matches!(got.pdu, Pdu::NotificationInd(_)));
    let (id, status) = net.report(&mut alice).await;
    assert_eq!(Some(id), conf.message_id);
    assert_eq!(status, Status::EXPIRED, "{}", net.logs());
}

#[test]
fn config_example_checks_and_subscriber_table_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let example = dir.path().join("example.toml");
    // Point the store at the temp dir; everything else stays as printed.
    let text = String::from_utf8(out.stdout).unwrap().replace(
        "store = \"./data\"",
        &format!("store = \"{}\"", dir.path().join("data").display()),
    );
    std::fs::write(&example, text).unwrap();
    let check = Command::new(bin())
        .args(["config", "check", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    std::fs::write(dir.path().join("bad.toml"), "[mm1]\nlisten_adress = 1\n").unwrap();
    let bad = Command::new(bin())
        .args(["config", "check", "--config"])
        .arg(dir.path().join("bad.toml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("listen_adress"));

    let sub = |args: &[&str]| {
        Command::new(bin())
            .args(["subscriber", "--config"])
            .arg(&example)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        sub(&["add", "sip:Dave@D.example", "+44 7700 900004"])
            .status
            .success()
    );
    assert!(
        sub(&["add", "tel:+44-7700-900004", "447700900004"])
            .status
            .success()
    );
    let list = sub(&["list"]);
    assert!(list.status.success());
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "sip:Dave@d.example -> 447700900004\ntel:+447700900004 -> 447700900004\n"
    );
    let show = sub(&["show", "sip:Dave@d.example"]);
    assert!(show.status.success());
    assert!(String::from_utf8_lossy(&show.stdout).contains("447700900004"));
    assert!(sub(&["remove", "sip:Dave@d.example"]).status.success());
    assert_eq!(sub(&["show", "sip:Dave@d.example"]).status.code(), Some(1));
    assert_eq!(
        sub(&["add", "sip:e@d.example", "12ab"]).status.code(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_json_answers_health_and_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[relay]\nstore = \"{}\"\n[mm1]\nlisten = \"127.0.0.1:0\"\n[mm4]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[resolver]\nnameservers = [\"127.0.0.1:9\"]\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let mut child = Command::new(bin())
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut proc = Proc { child };
    let ready = wait_line(stdout, "READY", Duration::from_secs(30)).expect("READY line");
    let admin = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("admin="))
        .unwrap()
        .to_owned();
    let health = reqwest::get(format!("http://{admin}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let status = proc
        .terminate(Duration::from_secs(20))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(logs.contains("relay stopped"), "{logs}");
}
