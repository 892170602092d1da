//! `mmsrelay pdu decode|encode` (MMS ENC 1.3 PDUs as JSON), run as the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mmsrelay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmsrelay"))
        .args(args)
        .output()
        .expect("run mmsrelay")
}

fn vector(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/test-vectors/mms")
        .join(rel)
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("decode prints JSON")
}

/// `mmsrelay pdu encode JSON -o OUT`.
fn encode(json: &Path, out: &Path) -> Output {
    mmsrelay(&[
        "pdu",
        "encode",
        json.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
}

#[test]
fn pdu_decode_prints_mms_header_names_and_parts() {
    let file = vector("ofono-mmsd/sr-mms-related-multi-to.mms");
    let json = json_of(&mmsrelay(&["pdu", "decode", file.to_str().unwrap()]));
    assert_eq!(json["message_type"], "m-send-req");
    assert_eq!(json["headers"]["X-Mms-Transaction-Id"], "000000000002");
    assert_eq!(json["headers"]["From"], "insert-address-token");
    assert_eq!(json["headers"]["To"][1], "+33612345679/TYPE=PLMN");
    assert_eq!(json["parts"][0]["content_type"], "application/smil");
    assert_eq!(json["parts"][0]["content_id"], "<SMIL>");
    assert_eq!(json["parts"][1]["size"], 15);
}

#[test]
fn pdu_decode_reads_hex_text() {
    // m-send-conf: Transaction-Id "1", version 1.1, Response-Status Error-permanent-failure.
    let dir = tempfile::tempdir().unwrap();
    let hex = dir.path().join("conf.hex");
    std::fs::write(&hex, "8c 81 98 31 00 8d 91\n92 e0\n").unwrap();
    let json = json_of(&mmsrelay(&[
        "pdu",
        "decode",
        "--hex",
        hex.to_str().unwrap(),
    ]));
    assert_eq!(json["message_type"], "m-send-conf");
    assert_eq!(
        json["headers"]["X-Mms-Response-Status"],
        "Error-permanent-failure"
    );
}

#[test]
fn pdu_decode_rejects_garbage_with_one_line_and_exit_1() {
    let file = vector("sailfish-mms-engine/test_retrieve/GarbagePush/garbage");
    let out = mmsrelay(&["pdu", "decode", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("not an MMS PDU"), "{err}");
}

#[test]
fn pdu_decode_encode_decode_keeps_the_meaning() {
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "ofono-mmsd/rc-mms-1-3-con-214.mms",
        "sailfish-mms-engine/test_mms_codec/m-delivery_2.ind",
        "sailfish-mms-engine/test_retrieve/Base64/m-retrieve.conf",
        "sailfish-mms-engine/test_mms_codec/m-retrieve_5.conf",
        "python-messaging/iPhone.mms",
    ] {
        let file = vector(rel);
        let first = mmsrelay(&["pdu", "decode", "--bodies", file.to_str().unwrap()]);
        let json_path = dir.path().join("pdu.json");
        std::fs::write(&json_path, &first.stdout).unwrap();
        let out_path = dir.path().join("pdu.mms");
        let enc = encode(&json_path, &out_path);
        assert!(
            enc.status.success(),
            "{rel}: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let second = mmsrelay(&["pdu", "decode", "--bodies", out_path.to_str().unwrap()]);
        assert_eq!(json_of(&first), json_of(&second), "{rel}");
    }
}

#[test]
fn pdu_encode_takes_body_file_and_reports_missing_mandatory_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    let json = r#"{
        "message_type": "m-send-req",
        "headers": {"X-Mms-Transaction-Id": "t1", "X-Mms-MMS-Version": "1.3",
                    "From": "insert-address-token", "To": "sip:bob@b.example/TYPE=SIP",
                    "Subject": {"charset": "utf-8", "text": "Grüße"}},
        "content_type": {"media": "application/vnd.wap.multipart.mixed"},
        "parts": [{"content_type": "text/plain", "params": {"charset": "utf-8"}, "name": "hello.txt",
                   "body_file": "hello.txt"}]
    }"#;
    let json_path = dir.path().join("req.json");
    std::fs::write(&json_path, json).unwrap();
    let out_path = dir.path().join("req.mms");
    let enc = encode(&json_path, &out_path);
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let back = json_of(&mmsrelay(&[
        "pdu",
        "decode",
        "--bodies",
        out_path.to_str().unwrap(),
    ]));
    assert_eq!(back["headers"]["Subject"]["text"], "Grüße");
    assert_eq!(back["headers"]["To"][0], "sip:bob@b.example/TYPE=SIP");
    assert_eq!(back["parts"][0]["name"], "hello.txt");
    assert_eq!(back["parts"][0]["body_base64"], "aGVsbG8=");

    std::fs::write(
        &json_path,
        r#"{"message_type": "m-notifyresp-ind", "headers": {"X-Mms-Transaction-Id": "t"}}"#,
    )
    .unwrap();
    let bad = encode(&json_path, &out_path);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("X-Mms-MMS-Version"));
}
