//! Decodes every PDU under `../shared/test-vectors/mms/` in place (never copied), checks the
//! known-bad files give their exact error, and that re-encoding keeps the PDU.

use bytes::Bytes;
use mms_pdu::{DecodeError, Pdu};
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors/mms")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().and_then(|n| n.to_str()) != Some("PROVENANCE.md") {
            out.push(p);
        }
    }
}

/// Files that are not PDUs, with the error they must give.
fn expected_failure(rel: &str) -> Option<DecodeError> {
    match rel {
        // ASCII sentences used as negative tests by sailfish mms-engine ("This is not ...").
        "sailfish-mms-engine/test_retrieve/GarbagePush/garbage"
        | "sailfish-mms-engine/test_retrieve/GarbageRetrieve/garbage"
        | "sailfish-mms-engine/test_send/UnparsableResp/m-send.conf" => {
            Some(DecodeError::NotMmsPdu { found: b'T' })
        }
        _ => None,
    }
}

#[test]
fn every_corpus_pdu_decodes_and_round_trips() {
    let dir = vectors_dir();
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    if files.is_empty() {
        panic!("no test vectors under {}", dir.display());
    }
    let mut failures = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = Bytes::from(std::fs::read(path).unwrap());
        let decoded = Pdu::decode(&bytes);
        match (decoded, expected_failure(&rel)) {
            (Err(e), Some(want)) => assert_eq!(e, want, "{rel}"),
            (Ok(_), Some(want)) => failures.push(format!("{rel}: decoded, expected {want}")),
            (Err(e), None) => failures.push(format!("{rel}: {e}")),
            (Ok(pdu), None) => {
                let again = Pdu::decode(&Bytes::from(pdu.encode()));
                match again {
                    Ok(p) if p == pdu => {}
                    Ok(p) => {
                        failures.push(format!("{rel}: re-encoded PDU differs:\n{pdu:?}\n{p:?}"))
                    }
                    Err(e) => failures.push(format!("{rel}: re-encoded PDU fails: {e}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
