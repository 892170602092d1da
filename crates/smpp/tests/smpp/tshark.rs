//! tshark (Wireshark 4.0) as an independent judge of our bytes: the submit_sm stream of a
//! segmented WAP push, as our codec encodes it, is dissected as SMPP → GSM SMS user data
//! (UDH concatenation and ports, reassembly) → WSP push → MMS m-notification-ind.

use std::io::Write;
use std::process::{Command, Stdio};

use smpp::{Body, Pdu};

use crate::common::{NI_272, udh_submits, vector};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `od -Ax -tx1`-style dump text2pcap reads.
fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:06x}", i * 16));
        for b in line {
            out.push_str(&format!(" {b:02x}"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn tshark_reassembles_our_submit_sm_stream_into_the_m_notification_ind() {
    if !have("tshark") || !have("text2pcap") {
        if std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_some() {
            panic!("tshark/text2pcap required by MMSRELAY_REQUIRE_PEERS");
        }
        eprintln!("notice: skipping the tshark check: tshark or text2pcap is not installed");
        return;
    }
    let ni = vector(NI_272);
    let mut stream = Vec::new();
    for (i, sm) in udh_submits(&ni, 7).into_iter().enumerate() {
        Pdu::request(i as u32 + 2, Body::SubmitSm(Box::new(sm)))
            .encode(&mut stream)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("push.pcap");
    let mut text2pcap = Command::new("text2pcap")
        .args(["-q", "-T", "40000,2775", "-"])
        .arg(&pcap)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    text2pcap
        .stdin
        .take()
        .unwrap()
        .write_all(hexdump(&stream).as_bytes())
        .unwrap();
    assert!(text2pcap.wait().unwrap().success());
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-d", "tcp.port==2775,smpp", "-T", "fields"])
        .args(["-E", "occurrence=a", "-E", "aggregator=,"])
        .args([
            "-e",
            "smpp.command_id",
            "-e",
            "smpp.data_coding",
            "-e",
            "smpp.destination_addr",
            "-e",
            "gsm_sms.udh.mm.msg_id",
            "-e",
            "gsm_sms.udh.mm.msg_parts",
            "-e",
            "gsm_sms.udh.mm.msg_part",
            "-e",
            "gsm_sms.destination_port",
            "-e",
            "gsm_sms.originator_port",
            "-e",
            "gsm_sms_ud.reassembled.length",
            "-e",
            "wsp.pdu_type",
            "-e",
            "mmse.message_type",
            "-e",
            "mmse.transaction_id",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
    assert_eq!(
        fields,
        [
            "0x00000004,0x00000004",
            "0x04,0x04",
            "4917611111111,4917611111111",
            "7,7",
            "2,2",
            "1,2",
            "2948,2948",
            "9200,9200",
            "176",
            "0x06",
            "0x82",
            "OgQKKB",
            "",
            "",
        ],
        "tshark output: {text}"
    );
}
