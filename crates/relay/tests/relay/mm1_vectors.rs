//! Every real-world m-send-req in ../shared/test-vectors/mms (read in place) submitted over MM1
//! through a trusted proxy that asserts the vector's own sender, and stored.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use mms_address::{Address, ParseOptions};
use mms_pdu::{FromAddress, Pdu, ResponseStatus};
use mms_store::{OutboxKind, Store};

use crate::mm1_support::{PROXY, Relay, test_config};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors/mms")
}

fn send_reqs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            send_reqs(&p, out);
        } else if std::fs::read(&p).is_ok_and(|b| b.starts_with(&[0x8C, 0x80])) {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn every_send_req_vector_is_accepted_and_stored_mms_enc_6_1() {
    let mut files = Vec::new();
    send_reqs(&vectors_dir(), &mut files);
    files.sort();
    if files.is_empty() {
        assert!(
            std::env::var_os("MMSRELAY_REQUIRE_PEERS").is_none(),
            "test vectors missing at {}",
            vectors_dir().display()
        );
        eprintln!(
            "notice: no test vectors at {}; skipping",
            vectors_dir().display()
        );
        return;
    }
    let relay = Relay::start(test_config()).await;
    let opts = ParseOptions::with_country_code("44");
    let mut stored = 0;
    let mut refused = 0;
    for file in &files {
        let raw = Bytes::from(std::fs::read(file).unwrap());
        let Pdu::SendReq(req) =
            Pdu::decode(&raw).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        else {
            panic!("{} is not m-send-req", file.display())
        };
        // The proxy asserts the sender the vector names (or a subscriber of ours for insert-address).
        let identity = match &req.from {
            FromAddress::Present(text) => match Address::parse_with(&text.text(), &opts) {
                Ok(a @ (Address::Sip(_) | Address::Tel(_))) => a,
                other => panic!(
                    "{}: From {:?} is no SIP/tel identity: {other:?}",
                    file.display(),
                    text.text()
                ),
            },
            FromAddress::InsertAddressToken => Address::parse("sip:alice@a.example").unwrap(),
        };
        let ua = relay.ua(PROXY).asserted(&identity.to_string());
        let (status, body) = ua.post(raw.to_vec()).await;
        assert_eq!(status, 200, "{}", file.display());
        let Pdu::SendConf(conf) = Pdu::decode(&body).unwrap() else {
            panic!()
        };
        assert_eq!(conf.transaction_id, req.transaction_id);
        // SIP, tel, e-mail and short-code recipients are kept (DESIGN.md §2); a vector with none
        // (python-messaging's gallery2test.mms is addressed to `Jg`) is refused as a whole.
        let routable = req
            .to
            .iter()
            .chain(&req.cc)
            .chain(&req.bcc)
            .filter(|t| {
                matches!(
                    Address::parse_with(&t.text(), &opts),
                    Ok(Address::Sip(_)
                        | Address::Tel(_)
                        | Address::Email(_)
                        | Address::ShortCode(_))
                )
            })
            .count();
        if routable == 0 {
            assert_eq!(
                conf.response_status,
                ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED,
                "{}",
                file.display()
            );
            assert!(relay.items(OutboxKind::Resolve).await.is_empty());
            refused += 1;
            continue;
        }
        assert_eq!(
            conf.response_status,
            ResponseStatus::OK,
            "{}: {:?}",
            file.display(),
            conf.response_text
        );
        let items = relay.items(OutboxKind::Resolve).await;
        assert!(!items.is_empty(), "{}: no resolve job", file.display());
        let mm_id = items[0].mm_id.clone().unwrap();
        let mm = relay.store.mm(&mm_id).await.unwrap().unwrap();
        assert_eq!(Some(&mm.meta.message_id), conf.message_id.as_ref());
        assert_eq!(mm.meta.from, identity.to_string());
        assert_eq!(mm.meta.size, raw.len() as u64);
        // The stored body is the vector's body, part for part.
        match relay::mm1::stored_pdu(&mm).unwrap() {
            Pdu::SendReq(s) => assert_eq!(s.body, req.body, "{}", file.display()),
            other => panic!("{other:?}"),
        }
        stored += 1;
    }
    assert_eq!(stored + refused, files.len());
    assert!(
        stored >= files.len() - 1,
        "only the vector addressed to `Jg` may be refused"
    );
    eprintln!(
        "{stored} m-send-req vectors accepted and stored, {refused} without a routable recipient refused"
    );
    relay.stop().await;
}
