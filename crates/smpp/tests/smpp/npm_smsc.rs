//! Our ESME against the npm `smpp` 0.5.1 server (tests/peers/smsc.js): a segmented WAP push of
//! real m-notification-ind PDUs goes out through our client, and what that SMSC recorded is
//! reassembled and compared byte by byte with what we sent.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smpp::client::Client;
use wap_push::{Ports, Reassembler, ReassemblyStatus, SarInfo};

use crate::common::{
    LIMIT, NI_272, client_config, join_all, sar_submits, udh_submits, unhex, vector,
};

/// Kills the node process when the test ends, however it ends.
struct NodeGuard(Child);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Starts `node smsc.js`; `None` (with a notice) when node or node_modules are missing and
/// MMSRELAY_REQUIRE_PEERS is unset.
fn start_npm_smsc(record: &std::path::Path) -> Option<(NodeGuard, u16)> {
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules_ok = peers_dir().join("node_modules/smpp/package.json").exists();
    if !node_ok || !modules_ok {
        let why = if node_ok {
            "tests/peers/node_modules is missing (run npm ci in tests/peers)"
        } else {
            "node is not installed"
        };
        if std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_some() {
            panic!("npm smpp SMSC required by MMSRELAY_REQUIRE_PEERS: {why}");
        }
        eprintln!("notice: skipping the npm smpp SMSC test: {why}");
        return None;
    }
    let mut child = Command::new("node")
        .arg(peers_dir().join("smsc.js"))
        .arg(record)
        .arg("0")
        .current_dir(peers_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node smsc.js");
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = NodeGuard(child);
    // read "LISTENING <port>" on a thread so a silent node cannot hang the test
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(LIMIT).expect("npm SMSC did not start");
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected npm SMSC output {line:?}"));
    Some((guard, port))
}

fn read_records(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn segmented_wap_push_through_npm_smsc_reassembles_to_the_notification_sent() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("submits.jsonl");
    let Some((_node, port)) = start_npm_smsc(&record) else {
        return;
    };
    let ni = vector(NI_272);
    let ni_sar = vector("sailfish-mms-engine/test_retrieve/Success3/m-notification.ind");
    let udh = udh_submits(&ni, 0x5A);
    let sar = sar_submits(&ni_sar, 0x0304);
    assert_eq!((udh.len(), sar.len()), (2, 2));

    let (client, _deliveries) = Client::start(client_config(([127, 0, 0, 1], port).into()));
    let all: Vec<_> = udh.into_iter().chain(sar).collect();
    let submits = all.into_iter().map(|sm| {
        let c = client.clone();
        async move { c.submit(sm).await }
    });
    let ids = tokio::time::timeout(LIMIT, join_all(submits))
        .await
        .expect("submits answered in time");
    for id in &ids {
        assert!(id.as_ref().unwrap().0.starts_with("npm"), "{ids:?}");
    }
    tokio::time::timeout(LIMIT, client.shutdown())
        .await
        .unwrap();

    let records = read_records(&record, 4);
    assert_eq!(records.len(), 4);
    let mut reassembler = Reassembler::new(Duration::from_secs(60), 8);
    let now = Instant::now();
    let mut complete = Vec::new();
    for r in &records {
        assert_eq!(r["data_coding"], 4);
        assert_eq!(r["source_addr_ton"], 1);
        assert_eq!(r["dest_addr_npi"], 1);
        assert_eq!(r["destination_addr"], "4917611111111");
        let sm = unhex(r["short_message"].as_str().unwrap());
        let status = if r["esm_class"] == 0x40 {
            reassembler
                .push_user_data("4917611111111", &sm, now)
                .unwrap()
        } else {
            assert_eq!(r["esm_class"], 0);
            assert_eq!(r["dest_port"], 2948);
            assert_eq!(r["source_port"], 9200);
            let sar = SarInfo {
                reference: r["sar_msg_ref_num"].as_u64().unwrap() as u16,
                total: r["sar_total_segments"].as_u64().unwrap() as u8,
                sequence: r["sar_segment_seqnum"].as_u64().unwrap() as u8,
            };
            reassembler
                .push_sar("4917611111111", Some(Ports::WAP_PUSH), Some(sar), &sm, now)
                .unwrap()
        };
        if let ReassemblyStatus::Complete(m) = status {
            complete.push(m.push().unwrap().body);
        }
    }
    assert_eq!(complete.len(), 2);
    assert!(complete.iter().any(|b| b.as_ref() == ni.as_slice()));
    assert!(complete.iter().any(|b| b.as_ref() == ni_sar.as_slice()));
}
