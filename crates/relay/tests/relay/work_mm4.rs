//! MM4 between two relays in one process (two stores, two SMTP listeners on 127.0.0.1), and
//! against aiosmtpd (receiving peer) and swaks (sending peer). TS 23.140 §8.4.

use std::time::Duration;

use mm4::{ForwardParams, Mm4Address, Mm4Message, RequestStatus};
use mms_address::Address;
use mms_pdu::{FromAddress, Pdu, Status};
use mms_store::{
    Origin, OutboxEffects, RecipientEvent, RecipientState, RetrievalToken, Store, Timestamp,
};
use relay::jobs::Job;

use crate::work_support::*;

/// The token of a notification's content location.
fn token_of(content_location: &str) -> RetrievalToken {
    let t = content_location.rsplit('/').next().unwrap();
    RetrievalToken::from_string(t.to_owned())
}

#[tokio::test]
async fn mm_crosses_mm4_to_relay_b_bob_is_notified_and_the_delivery_report_returns_to_alice() {
    let peers = Peers::start().await;
    let (a, b) = peers.loopback_pair("b.example").await;

    let (mm, rec) = forward_mm1(
        &a.store,
        "sip:alice@a.example",
        "sip:bob@b.example",
        "hello from a",
    )
    .await;
    assert_eq!(rec.detail.as_deref(), Some("mms.b.example"));

    // Relay B notified bob; the notification leads to the MM B stored.
    let pushes = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::NotificationInd(ni)) = &pushes[0] else {
        panic!("not a notification: {pushes:?}");
    };
    assert_eq!(dest, "4917612345678");
    assert_eq!(ni.subject.as_ref().unwrap().text(), "hello from a");
    let token = token_of(&ni.content_location);
    let (b_mm, recipient) = b
        .store
        .retrieval_target(&token)
        .await
        .unwrap()
        .expect("token issued by B");
    assert_eq!(recipient, "sip:bob@b.example");
    let stored = b.store.mm(&b_mm).await.unwrap().unwrap();
    let a_meta = a.store.mm(&mm).await.unwrap().unwrap().meta;
    assert_eq!(
        stored.meta.message_id, a_meta.message_id,
        "X-Mms-Message-ID kept end to end"
    );
    assert_eq!(
        stored.meta.origin,
        Origin::Mm4 {
            originator_system: "system-user@mms.a.example".into()
        }
    );
    // The MM1 server of B serves it from the stored shape.
    let conf = relay::mm1::retrieve_conf_of(&stored, Some(ni.transaction_id.clone())).unwrap();
    assert_eq!(conf.subject.unwrap().text(), "hello from a");
    assert_eq!(
        conf.from,
        Some(FromAddress::Present(mms_pdu::EncodedString::plain(
            "sip%3Aalice%40a.example/TYPE=SIP"
        )))
    );
    assert_eq!(conf.body.parts()[0].data.as_ref(), b"hello bob");

    // Bob fetches it: B's MM1 side marks it Retrieved and queues the MM4 delivery report.
    let now = Timestamp::now();
    let report = relay::reports::delivery_report_item(
        &stored.id,
        &stored.meta,
        &recipient,
        Status::RETRIEVED,
        None,
        now,
    )
    .expect("alice asked for a delivery report");
    b.store
        .update_recipient(
            &b_mm,
            &recipient,
            RecipientEvent::Retrieved,
            OutboxEffects {
                complete: None,
                enqueue: vec![report],
            },
            now,
        )
        .await
        .unwrap();
    b.wake.all();

    // Relay A pushes m-delivery-ind to alice.
    let pushes = wait_pushes(&peers.sink, 2).await;
    let (dest, Pdu::DeliveryInd(ind)) = &pushes[1] else {
        panic!("not a delivery report: {pushes:?}");
    };
    assert_eq!(dest, "441000000001");
    assert_eq!(ind.status, Status::RETRIEVED);
    assert_eq!(ind.message_id, a_meta.message_id);
    assert_eq!(ind.to[0].text(), "sip%3Abob%40b.example/TYPE=SIP");

    // Bob reads it: B's MM1 side queues the read report for MM4 (MMS ENC §6.7.2, TS 23.140
    // §8.4.3); relay A pushes m-read-orig-ind to alice.
    let read = relay::jobs::Mm4ReadReplyJob(relay::jobs::ReadReportJob {
        message_id: a_meta.message_id.clone(),
        sender: "sip:alice@a.example".into(),
        recipient: "sip:bob@b.example".into(),
        read_status: 128,
        date: secs_now(),
        originator_system: None,
    });
    b.store
        .enqueue(
            vec![read.item("mm4-read-reply:test".into(), None, None, Timestamp::now())],
            Timestamp::now(),
        )
        .await
        .unwrap();
    b.wake.all();
    let pushes = wait_pushes(&peers.sink, 3).await;
    let (dest, Pdu::ReadOrigInd(ind)) = &pushes[2] else {
        panic!("not a read report: {pushes:?}");
    };
    assert_eq!(dest, "441000000001");
    assert_eq!(ind.read_status, mms_pdu::ReadStatus::READ);
    assert_eq!(ind.message_id, a_meta.message_id);
    assert_eq!(
        ind.from,
        Some(FromAddress::Present(mms_pdu::EncodedString::plain(
            "sip%3Abob%40b.example/TYPE=SIP"
        )))
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn unreachable_peer_is_retried_until_it_comes_back() {
    let peers = Peers::start().await;
    let reserved = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let a = peers
        .relay("a.example", &[("b.example", reserved)], ALICE_AT_A)
        .await;
    let (mm, _) = accept_mm1(
        &a.store,
        "sip:alice@a.example",
        &["sip:bob@b.example"],
        "later",
    )
    .await;
    let rec = wait_record(&a.store, &mm, "sip:bob@b.example", |r| {
        r.last_error.is_some()
    })
    .await;
    assert_eq!(
        rec.state,
        RecipientState::Forwarding,
        "a refused connection is transient"
    );

    let b = peers
        .relay_with(
            "b.example",
            TestRelay::mm4_config(reserved, loopback()),
            &[("a.example", a.mm4_addr)],
            BOB_AT_B,
        )
        .await;
    wait_state(
        &a.store,
        &mm,
        "sip:bob@b.example",
        RecipientState::Forwarded,
    )
    .await;
    let pushes = wait_pushes(&peers.sink, 1).await;
    assert_eq!(pushes[0].0, "4917612345678");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn aiosmtpd_receives_the_forward_and_its_550_fails_the_recipient_with_a_report() {
    if aiosmtpd_missing() {
        return;
    }
    let gone = "sip%3Agone%40b.example/TYPE=SIP@mms.b.example";
    let peer_sink = SmtpSink::start(&["--fail550", gone]).await;
    let peers = Peers::start().await;
    let a = peers
        .relay("a.example", &[("b.example", peer_sink.addr)], ALICE_AT_A)
        .await;
    let (mm, _) = accept_mm1(
        &a.store,
        "sip:alice@a.example",
        &["sip:bob@b.example", "sip:gone@b.example"],
        "to aiosmtpd",
    )
    .await;
    wait_state(
        &a.store,
        &mm,
        "sip:bob@b.example",
        RecipientState::Forwarded,
    )
    .await;
    let failed = wait_state(&a.store, &mm, "sip:gone@b.example", RecipientState::Failed).await;
    assert!(failed.last_error.unwrap().contains("550"));

    let fwd = forward_at(&peer_sink, 1).await;
    let meta = a.store.mm(&mm).await.unwrap().unwrap().meta;
    assert_eq!(fwd.message_id, meta.message_id);
    assert_eq!(
        fwd.rcpt_to[0].as_str(),
        "sip%3Abob%40b.example/TYPE=SIP@mms.b.example"
    );
    assert_eq!(
        fwd.from.as_str(),
        "sip%3Aalice%40a.example/TYPE=SIP@mms.a.example"
    );
    assert_eq!(
        fwd.originator_system.as_deref(),
        Some("system-user@mms.a.example")
    );
    assert_eq!(fwd.ack_request, Some(true));
    assert_eq!(fwd.subject.unwrap().text(), "to aiosmtpd");
    assert_eq!(fwd.body.parts()[0].data.as_ref(), b"hello bob");

    let pushes = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::DeliveryInd(ind)) = &pushes[0] else {
        panic!("not a delivery report: {pushes:?}");
    };
    assert_eq!(dest, "441000000001");
    assert_eq!(ind.status, Status::UNREACHABLE);
    assert_eq!(ind.to[0].text(), "sip%3Agone%40b.example/TYPE=SIP");
    a.stop().await;
}

/// An MM4_forward.REQ from relay A's system to bob at B.
fn forward_to_bob(message_id: &str) -> (mm4::Envelope, Vec<u8>) {
    let alice = Address::parse("sip:alice@a.example").unwrap();
    let bob = Address::parse("sip:bob@b.example").unwrap();
    let req = send_req(&alice, &[&bob], "twice", "once only");
    let mut params = ForwardParams::new(
        Mm4Address::new(alice, "mms.a.example").unwrap(),
        message_id,
        "tx-dup-1",
        secs_now(),
        "mms.a.example",
    );
    let bob4 = Mm4Address::new(bob.clone(), "mms.b.example").unwrap();
    params.recipient_domains = vec![(bob, "mms.b.example".into())];
    params.rcpt_to = vec![bob4];
    params.originator_system = Some("system-user@mms.a.example".into());
    params.ack_request = true;
    let fwd = mm4::forward_req_from_send_req(&req, &params).unwrap();
    mm4::encode(&Mm4Message::from(fwd))
}

#[tokio::test]
async fn duplicate_forward_is_answered_twice_but_delivered_once() {
    if aiosmtpd_missing() {
        return;
    }
    let res_sink = SmtpSink::start(&[]).await;
    let peers = Peers::start().await;
    let b = peers
        .relay("b.example", &[("a.example", res_sink.addr)], BOB_AT_B)
        .await;

    let forward = forward_to_bob("dup-1@mms.a.example");
    let a = Mm4Peer::new("mms.a.example", b.mm4_addr);
    a.send(&forward).await.unwrap();
    wait_pushes(&peers.sink, 1).await;
    a.send(&forward).await.unwrap();

    for n in 1..=2 {
        let Mm4Message::ForwardRes(res) = mm4_at(&res_sink, n).await else {
            panic!("not MM4_forward.RES");
        };
        assert_eq!(res.request_status, RequestStatus::Ok);
        assert_eq!(res.transaction_id, "tx-dup-1");
        assert_eq!(res.message_id, "dup-1@mms.a.example");
    }
    // The second .RES was queued after the duplicate was recognised; any second delivery would
    // have been queued with it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pushes(&peers.sink).len(), 1, "bob was notified once");
    a.close().await;
    b.stop().await;
}

#[tokio::test]
async fn connection_from_outside_the_peer_networks_is_refused() {
    let b = TestRelay::start("b.example", any_port(), vec!["10.0.0.0/8".into()]).await;
    let err = Mm4Peer::new("mms.a.example", b.mm4_addr)
        .send(&forward_to_bob("refused@mms.a.example"))
        .await
        .unwrap_err();
    assert_eq!(err.reply().map(|r| r.code), Some(554), "{err}");
    assert!(!err.is_transient());
    b.stop().await;
}

async fn swaks(port: u16, from: &str, to: &str, body: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mm4.eml");
    std::fs::write(&file, body).unwrap();
    let out = tokio::time::timeout(
        LIMIT,
        tokio::process::Command::new("swaks")
            .env("POSIXLY_CORRECT", "1")
            .args(["--server", "127.0.0.1", "--port", &port.to_string()])
            .args(["--helo", "mms.a.example", "--timeout", "10"])
            .args(["--from", from, "--to", to])
            .arg("--data")
            .arg(format!("@{}", file.display()))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("swaks finished")
    .unwrap();
    assert!(
        out.status.success(),
        "swaks failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn swaks_hand_written_forward_is_delivered_and_a_malformed_one_answered_format_corrupt() {
    if peer_missing("swaks", runs("swaks", &["--version"])) || aiosmtpd_missing() {
        return;
    }
    let res_sink = SmtpSink::start(&[]).await;
    let peers = Peers::start().await;
    let b = peers
        .relay("b.example", &[("a.example", res_sink.addr)], BOB_AT_B)
        .await;

    let from = "sip%3Aalice%40a.example/TYPE=SIP@mms.a.example";
    let to = "sip%3Abob%40b.example/TYPE=SIP@mms.b.example";
    let head = format!(
        "From: {from}\r\nTo: {to}\r\nDate: Sat, 28 Nov 2026 00:00:00 +0000\r\nSubject: via swaks\r\n\
         Message-ID: <sw-1@mms.a.example>\r\nX-Mms-3GPP-MMS-Version: 6.10.0\r\n\
         X-Mms-Message-Type: MM4_forward.REQ\r\nX-Mms-Transaction-ID: sw-1\r\n\
         X-Mms-Message-ID: sw-msg-1@mms.a.example\r\nX-Mms-Ack-Request: Yes\r\n\
         X-Mms-Originator-System: system-user@mms.a.example\r\n"
    );
    let good = format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\nhello from swaks\r\n");
    swaks(b.mm4_addr.port(), from, to, &good).await;
    let pushes = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::NotificationInd(ni)) = &pushes[0] else {
        panic!("not a notification: {pushes:?}");
    };
    assert_eq!(dest, "4917612345678");
    assert_eq!(ni.subject.as_ref().unwrap().text(), "via swaks");
    let Mm4Message::ForwardRes(res) = mm4_at(&res_sink, 1).await else {
        panic!("not MM4_forward.RES");
    };
    assert_eq!(
        (res.request_status, res.transaction_id.as_str()),
        (RequestStatus::Ok, "sw-1")
    );

    let bad = head
        .replace("sw-1", "sw-2")
        .replace("X-Mms-3GPP-MMS-Version: 6.10.0\r\n", "")
        + "\r\nno version header\r\n";
    swaks(b.mm4_addr.port(), from, to, &bad).await;
    let Mm4Message::ForwardRes(res) = mm4_at(&res_sink, 2).await else {
        panic!("not MM4_forward.RES");
    };
    assert_eq!(res.transaction_id, "sw-2");
    assert_eq!(res.request_status, RequestStatus::ErrorMessageFormatCorrupt);
    b.stop().await;
}

#[tokio::test]
async fn forward_res_with_an_error_status_turns_into_a_failure_report_to_alice() {
    let peers = Peers::start().await;
    // A believes c.example is served by B; B serves only mms.b.example.
    let (a, b) = peers.loopback_pair("c.example").await;
    // SMTP 250 handed responsibility over (TS 23.140 §8.4.1) ...
    forward_mm1(
        &a.store,
        "sip:alice@a.example",
        "sip:carol@c.example",
        "lost",
    )
    .await;
    // ... and B's MM4_forward.RES Error-sending-address-unresolved reaches alice as a report.
    let pushes = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::DeliveryInd(ind)) = &pushes[0] else {
        panic!("not a delivery report: {pushes:?}");
    };
    assert_eq!(dest, "441000000001");
    assert_eq!(ind.status, Status::UNREACHABLE);
    assert!(
        ind.status_text
            .as_ref()
            .unwrap()
            .text()
            .contains("Error-sending-address-unresolved")
    );
    a.stop().await;
    b.stop().await;
}
