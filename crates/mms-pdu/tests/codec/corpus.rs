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

fn decode(rel: &str) -> Pdu {
    let bytes = Bytes::from(std::fs::read(vectors_dir().join(rel)).unwrap());
    Pdu::decode(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn empty_bcc_and_stray_nul_after_last_header_are_tolerated() {
    // `81 00 00`: Bcc with Value-length 0, then a stray NUL (README "Things worth knowing").
    let Pdu::NotificationInd(n) =
        decode("sailfish-mms-engine/test_retrieve/Success2/m-notification.ind")
    else {
        panic!("not a notification")
    };
    assert_eq!(
        n.extra,
        vec![mms_pdu::Header::well_known(
            0x01,
            Bytes::from_static(&[0x00])
        )]
    );
    assert_eq!(n.message_size, 66070);
    assert_eq!(
        n.content_location,
        "http://mmsc62:10021/mmsc/6_2?AaamMbG2tpp5lj4Ra"
    );
}

#[test]
fn utf16_part_with_bom_and_long_integer_charset_1015() {
    let Pdu::RetrieveConf(r) = decode("ofono-mmsd/rc-mms-1-3-con-214.mms") else {
        panic!("not a retrieve-conf")
    };
    assert_eq!(r.version, mms_pdu::MmsVersion::V1_3);
    let part = &r.body.parts()[0];
    let charset = part.content_type.charset().unwrap();
    assert_eq!(charset, mms_pdu::Charset::UTF_16);
    assert!(
        charset
            .decode(&part.data)
            .unwrap()
            .starts_with("French ê has a roof")
    );
}

#[test]
fn utf8_subject_with_bom_and_overlong_length_form() {
    let Pdu::RetrieveConf(r) = decode("ofono-mmsd/rc-mms-1-3-con-211.mms") else {
        panic!("not a retrieve-conf")
    };
    assert_eq!(r.subject.unwrap().text(), "Shõrt Téxt - ¥üëäÿ");
    assert_eq!(r.content_type.start().as_deref(), Some("<SMIL>"));
}

#[test]
fn error_retrieve_conf_carries_a_single_text_body() {
    let Pdu::RetrieveConf(r) = decode("sailfish-mms-engine/test_mms_codec/m-retrieve_5.conf")
    else {
        panic!("not a retrieve-conf")
    };
    assert_eq!(r.retrieve_status, Some(mms_pdu::RetrieveStatus(0xE2)));
    assert!(matches!(r.body, mms_pdu::Body::Single(ref b) if !b.is_empty()));
}

#[test]
fn send_conf_statuses_and_empty_message_id() {
    let Pdu::SendConf(c) = decode("sailfish-mms-engine/test_send/ServiceDenied/m-send.conf") else {
        panic!()
    };
    assert_eq!(
        c.response_status,
        mms_pdu::ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    assert!(c.response_status.is_permanent());
    let Pdu::SendConf(c) = decode("sailfish-mms-engine/test_send/EmptyMessageID/m-send.conf")
    else {
        panic!()
    };
    assert_eq!(c.message_id.as_deref(), Some(""));
    assert!(c.response_status.is_ok());
}

#[test]
fn application_headers_are_kept_and_re_encoded() {
    let Pdu::DeliveryInd(d) = decode("sailfish-mms-engine/test_mms_codec/m-delivery_2.ind") else {
        panic!()
    };
    let names: Vec<_> = d.extra.iter().map(|h| h.name.clone()).collect();
    assert!(names.contains(&mms_pdu::HeaderName::Text("X-Scanned-By".into())));
    assert_eq!(d.status, mms_pdu::Status::RETRIEVED);
    let again = Pdu::decode(&Bytes::from(Pdu::DeliveryInd(d.clone()).encode())).unwrap();
    assert_eq!(again, Pdu::DeliveryInd(d));
}

#[test]
fn large_send_req_parts_are_zero_copy_slices() {
    let bytes = Bytes::from(
        std::fs::read(vectors_dir().join("sailfish-mms-engine/test_mms_codec/m-send_2.req"))
            .unwrap(),
    );
    let Ok(Pdu::SendReq(req)) = Pdu::decode(&bytes) else {
        panic!("not a send-req")
    };
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    for part in req.body.parts() {
        assert!(part.data.is_empty() || range.contains(&(part.data.as_ptr() as usize)));
    }
    assert_eq!(req.body.parts().len(), 2);
}
