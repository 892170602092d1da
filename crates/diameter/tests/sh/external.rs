//! Peers no one here wrote: python-diameter's node stack as the HSS (tests/peers/hss.py), and tshark's
//! Diameter dissector reading a capture of our UDR. Missing tools: a notice, or a failure when
//! MMSRELAY_REQUIRE_PEERS is set (CI).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use diameter::sh_client::ShError;
use test_peers::hss::TestHss;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{CLIENT_HOST, config, connected_client};

/// Kills the child process when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// True when the tool is there; otherwise a notice (or a panic under MMSRELAY_REQUIRE_PEERS).
fn peer_available(what: &str, probe: &mut std::process::Command) -> bool {
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_some() {
            panic!("{what} is required (MMSRELAY_REQUIRE_PEERS is set) but missing");
        }
        eprintln!("notice: {what} not installed; skipping this test");
    }
    ok
}

fn hss_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/hss.py")
}

/// Starts tests/peers/hss.py and returns it with its port.
async fn start_python_hss(subscribers: &[&str]) -> (ChildGuard, u16) {
    let mut cmd = Command::new("python3");
    cmd.arg(hss_script()).args(["--peer", CLIENT_HOST]);
    for s in subscribers {
        cmd.args(["--sub", s]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = ChildGuard(child);
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .expect("hss.py did not print its port within 15 s")
        .expect("read hss.py stdout")
        .expect("hss.py exited before printing its port");
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from hss.py: {line:?}"));
    (guard, port)
}

#[tokio::test]
async fn python_diameter_hss_resolves_sip_uri_to_msisdn_and_answers_5001() {
    if !peer_available(
        "python3 module diameter (PyPI python-diameter)",
        std::process::Command::new("python3").args(["-c", "import diameter.node"]),
    ) {
        return;
    }
    let (_hss, port) =
        start_python_hss(&["4917612345678=sip:bob@b.example,tel:+4917612345678"]).await;
    let client = connected_client(config(&[format!("127.0.0.1:{port}")])).await;
    assert_eq!(
        client.msisdn_for("sip:bob@b.example").await,
        Ok("4917612345678".to_string())
    );
    assert_eq!(
        client.public_identities_for("4917612345678").await,
        Ok(vec![
            "sip:bob@b.example".to_string(),
            "tel:+4917612345678".to_string()
        ])
    );
    assert_eq!(
        client.msisdn_for("sip:nobody@b.example").await,
        Err(ShError::UserUnknown)
    );
    client.shutdown().await;
}

/// Runs tshark to completion and returns its stdout.
fn tshark(args: &[&str]) -> String {
    let out = std::process::Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn tshark_decodes_our_udr_and_uda_without_malformed_or_expert_errors() {
    if !peer_available(
        "tshark",
        std::process::Command::new("tshark").arg("--version"),
    ) {
        return;
    }
    let hss = TestHss::start("hss.tshark.example").await.expect("bind");
    hss.add_subscriber("4917612345678", &["sip:bob@b.example"]);
    let port = hss.addr().port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("sh.pcapng");
    let pcap_s = pcap.to_str().expect("utf-8 temp path");
    let filter = format!("tcp port {port}");
    let decode_as = format!("tcp.port=={port},diameter");
    // -P -l: also print each packet's summary as it is captured, so we know when our DPA has been read;
    // dumpcap keeps packets it has not read yet out of the file when stopped.
    let mut capture = Command::new("tshark")
        .args([
            "-i", "lo", "-f", &filter, "-w", pcap_s, "-P", "-l", "-d", &decode_as,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tshark");
    let stderr = capture.stderr.take().expect("piped stderr");
    let stdout = capture.stdout.take().expect("piped stdout");
    let mut capture = ChildGuard(capture);
    let mut said = BufReader::new(stderr).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = said.next_line().await {
            if line.contains("Capture started") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "tshark did not start capturing");
    let drain_stderr =
        tokio::spawn(async move { while let Ok(Some(_)) = said.next_line().await {} });
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let watch_stdout = tokio::spawn(async move {
        let mut summaries = BufReader::new(stdout).lines();
        let mut seen_tx = Some(seen_tx);
        let mut all = Vec::new();
        while let Ok(Some(line)) = summaries.next_line().await {
            if line.contains("Disconnect-Peer")
                && line.contains("flags=----")
                && let Some(tx) = seen_tx.take()
            {
                let _ = tx.send(());
            }
            all.push(line);
        }
        all
    });

    let client = connected_client(config(&[hss.addr().to_string()])).await;
    assert_eq!(
        client.msisdn_for("sip:bob@b.example").await,
        Ok("4917612345678".into())
    );
    assert_eq!(
        client.public_identities_for("4917612345678").await,
        Ok(vec!["sip:bob@b.example".into()])
    );
    client.shutdown().await;

    let dpa_seen = tokio::time::timeout(Duration::from_secs(10), seen_rx).await;
    let pid = capture.0.id().expect("tshark pid").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), capture.0.wait()).await;
    drain_stderr.abort();
    let summaries = tokio::time::timeout(Duration::from_secs(5), watch_stdout)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    assert!(
        matches!(dpa_seen, Ok(Ok(()))),
        "tshark never showed our DPA: {summaries:#?}"
    );

    let bad = tshark(&[
        "-r",
        pcap_s,
        "-d",
        &decode_as,
        "-Y",
        "_ws.malformed || (_ws.expert && diameter) ",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    assert!(bad.trim().is_empty(), "tshark flagged frames: {bad}");
    let fields = tshark(&[
        "-r",
        pcap_s,
        "-d",
        &decode_as,
        "-Y",
        "diameter.cmd.code == 306",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "diameter.flags.request",
        "-e",
        "diameter.applicationId",
        "-e",
        "diameter.Public-Identity",
        "-e",
        "diameter.MSISDN",
        "-e",
        "diameter.Data-Reference",
        "-e",
        "diameter.Result-Code",
        "-e",
        "diameter.Sh-User-Data",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(
        rows.len(),
        4,
        "two UDRs and two UDAs expected: {fields}; capture: {}",
        tshark(&["-r", pcap_s, "-d", &decode_as])
    );
    let udr_by_impu = &rows[0];
    assert_eq!(udr_by_impu[0], "1");
    assert_eq!(udr_by_impu[1], "16777217");
    assert_eq!(udr_by_impu[2], "sip:bob@b.example");
    assert_eq!(udr_by_impu[4], "17");
    let uda = &rows[1];
    assert_eq!(uda[0], "0");
    assert_eq!(uda[5], "2001");
    let xml = hex_to_string(uda[6]);
    assert!(xml.contains("<MSISDN>4917612345678</MSISDN>"), "{xml}");
    let udr_by_msisdn = &rows[2];
    assert_eq!(udr_by_msisdn[3], "947116325476f8", "MSISDN in TBCD");
    assert_eq!(udr_by_msisdn[4], "10");
}

fn hex_to_string(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
