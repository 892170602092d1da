//! End to end (DESIGN.md §1): two `mmsrelay serve` processes with their own configs and SQLite
//! stores, meeting peers no one on this project wrote — dnsmasq as the authoritative DNS zone
//! (ENUM NAPTR, MX, A) and the npm `smpp` server as SMSC — plus the HSS test peer (Diameter Sh)
//! in the test process and a scripted user agent speaking MM1 (the set-up is in `harness.rs`).

use std::process::{Command, Stdio};
use std::time::Duration;

use mms_pdu::{Pdu, Status, TimeSpec};

use super::harness::*;

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
        net.hss.as_ref().unwrap().udr_count() >= 1,
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
    net.start_b();
    net.receive(&mut bob, 'B', "queued").await;
    assert_eq!(net.report(&mut alice).await, (id, Status::RETRIEVED));

    // SIGTERM stops a relay gracefully (exit 0); restarted on its store, it serves again.
    let b = net.b();
    let status = b
        .proc_mut()
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
