//! Read reports are checked against the MM they name (issue 11): an MM1 `m-read-rec-ind` (MMS
//! ENC §6.7.2) only from a recipient the MM was delivered to here, an `MM4_read_reply_report.REQ`
//! (TS 23.140 §8.4.3) only for an MM this relay forwarded to the report's sender. Forged reports
//! are refused and not passed on.

use std::time::Duration;

use mm4::{Mm4Address, Mm4Message, RequestStatus};
use mms_address::Address;
use mms_pdu::{
    EncodedString, FromAddress, MmsVersion, Pdu, ReadRecInd, ReadStatus, ResponseStatus,
};
use mms_store::{OutboxKind, RecipientState, Store};
use relay::jobs::{Job, Mm4ReadReplyJob, ReadOrigIndJob};

use crate::mm1_support::{PROXY, Relay, mm_of, send_req, test_config};
use crate::work_support::{
    ALICE_AT_A, Mm4Peer, Peers, SmtpSink, TestRelay, accept_mm1, aiosmtpd_missing, forward_at,
    forward_mm1, mm4_at, pushes, secs_now, wait_pushes, wait_state,
};

const ALICE: &str = "sip:alice@a.example";
const BOB: &str = "sip:bob@a.example";
const CAROL: &str = "sip:carol@a.example";
const MALLORY: &str = "sip:mallory@a.example";

/// An `m-read-rec-ind` for `message_id`, To `to`, From `from`.
fn read_rec_from(message_id: &str, to: &str, from: FromAddress) -> Vec<u8> {
    Pdu::from(ReadRecInd {
        version: MmsVersion::V1_2,
        message_id: message_id.into(),
        to: vec![EncodedString::plain(
            Address::parse(to).unwrap().to_mms_enc(),
        )],
        from: Some(from),
        read_status: ReadStatus::READ,
        ..Default::default()
    })
    .encode()
}

/// An `m-read-rec-ind` for `message_id`, To `to`, From insert-address-token.
fn read_rec(message_id: &str, to: &str) -> Vec<u8> {
    read_rec_from(message_id, to, FromAddress::InsertAddressToken)
}

#[tokio::test]
async fn mm1_read_rec_ind_is_taken_only_from_a_recipient_it_was_delivered_to_mms_enc_6_7_2() {
    let relay = Relay::start(test_config()).await;
    // Alice sends to bob and carol; bob's copy is delivered (notifying), carol's is not yet.
    let conf = relay
        .ua(PROXY)
        .asserted(ALICE)
        .send(send_req(&[BOB, CAROL], "read me").into())
        .await;
    assert_eq!(conf.response_status, ResponseStatus::OK);
    let message_id = conf.message_id.expect("m-send-conf names the message");
    let mm_id = mm_of(&relay, BOB).await;
    relay.resolve_local(&mm_id, BOB).await;

    // Forged: another subscriber's report on alice's message, a recipient it was not delivered to
    // yet, an unknown message id, a From the reader does not own. Nothing is queued.
    let mallory = relay.ua(PROXY).asserted(MALLORY);
    assert_eq!(mallory.post(read_rec(&message_id, ALICE)).await.0, 404);
    let carol = relay.ua(PROXY).asserted(CAROL);
    assert_eq!(carol.post(read_rec(&message_id, ALICE)).await.0, 404);
    let bob = relay.ua(PROXY).asserted(BOB);
    assert_eq!(
        bob.post(read_rec("no-such-id@mms.a.example", ALICE))
            .await
            .0,
        404
    );
    let as_alice = FromAddress::Present(EncodedString::plain(
        Address::parse(ALICE).unwrap().to_mms_enc(),
    ));
    assert_eq!(
        bob.post(read_rec_from(&message_id, ALICE, as_alice))
            .await
            .0,
        403
    );
    // Unauthenticated: no identity at all.
    assert_eq!(
        relay
            .ua("127.0.0.9")
            .post(read_rec(&message_id, ALICE))
            .await
            .0,
        403
    );
    assert!(relay.items(OutboxKind::ReadOrigInd).await.is_empty());
    assert!(relay.items(OutboxKind::Mm4ReadReply).await.is_empty());

    // Bob's own report goes to the stored sender, whatever its To claims; a repeat adds nothing.
    assert_eq!(bob.post(read_rec(&message_id, MALLORY)).await.0, 204);
    assert_eq!(bob.post(read_rec(&message_id, ALICE)).await.0, 204);
    let items = relay.items(OutboxKind::ReadOrigInd).await;
    assert_eq!(items.len(), 1, "one read report per recipient");
    let job = ReadOrigIndJob::from_payload(&items[0].payload).unwrap().0;
    assert_eq!(
        (
            job.message_id.as_str(),
            job.sender.as_str(),
            job.recipient.as_str(),
            job.read_status
        ),
        (message_id.as_str(), ALICE, BOB, 128)
    );
    assert!(relay.items(OutboxKind::Mm4ReadReply).await.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn mm1_read_rec_ind_on_an_mm4_message_goes_back_to_its_originator_ts_23_140_8_4_3() {
    let relay = Relay::start(test_config()).await;
    // As the MM4 handler stores an MM from a peer; bob is notified.
    relay
        .accept_from_peer("peer-7@mms.b.example", "sip:dave@b.example", BOB)
        .await;
    let bob = relay.ua(PROXY).asserted(BOB);
    assert_eq!(
        bob.post(read_rec("peer-7@mms.b.example", "sip:dave@b.example"))
            .await
            .0,
        204
    );
    let items = relay.items(OutboxKind::Mm4ReadReply).await;
    assert_eq!(items.len(), 1);
    let job = Mm4ReadReplyJob::from_payload(&items[0].payload).unwrap().0;
    assert_eq!(
        (job.sender.as_str(), job.recipient.as_str()),
        ("sip:dave@b.example", BOB)
    );
    assert_eq!(
        job.originator_system.as_deref(),
        Some("system-user@mms.b.example")
    );
    assert!(relay.items(OutboxKind::ReadOrigInd).await.is_empty());
    relay.stop().await;
}

/// An MM4_read_reply_report.REQ from relay B: `reader` read `message_id` sent by alice.
fn read_reply(message_id: &str, reader: &str, ack: bool) -> (mm4::Envelope, Vec<u8>) {
    let req = mm4::ReadReplyReportReq {
        version: mm4::DEFAULT_3GPP_MMS_VERSION.to_owned(),
        transaction_id: format!("rr-{:08x}", rand::random::<u32>()),
        message_id: message_id.to_owned(),
        rfc5322_message_id: None,
        from: Mm4Address::new(Address::parse(reader).unwrap(), "mms.b.example").unwrap(),
        to: Mm4Address::new(Address::parse(ALICE).unwrap(), "mms.a.example").unwrap(),
        sender: Some("system-user@mms.b.example".into()),
        date: secs_now(),
        ack_request: Some(ack),
        read_status: ReadStatus::READ,
        status_text: None,
        applic_id: None,
        reply_applic_id: None,
        aux_applic_info: None,
        extra: Vec::new(),
    };
    mm4::encode(&Mm4Message::from(req))
}

/// An MM4_delivery_report.REQ from relay B: `message_id` sent by alice reached `recipient`.
fn delivery_report(message_id: &str, recipient: &str) -> (mm4::Envelope, Vec<u8>) {
    let mut req = mm4::delivery_report_req(
        message_id,
        Mm4Address::new(Address::parse(recipient).unwrap(), "mms.b.example").unwrap(),
        Mm4Address::new(Address::parse(ALICE).unwrap(), "mms.a.example").unwrap(),
        mms_pdu::Status::RETRIEVED,
        &format!("dr-{:08x}", rand::random::<u32>()),
        secs_now(),
    );
    req.sender = Some("system-user@mms.b.example".into());
    req.ack_request = Some(true);
    mm4::encode(&Mm4Message::from(req))
}

#[tokio::test]
async fn mm4_reports_are_taken_only_for_an_mm_forwarded_to_their_sender_ts_23_140_8_4_2_8_4_3() {
    if aiosmtpd_missing() {
        return;
    }
    // Relay A (alice's) with all its workers; peer B is aiosmtpd, which keeps what A sends it.
    let peer_b = SmtpSink::start(&[]).await;
    let peers = Peers::start().await;
    let a = peers
        .relay("a.example", &[("b.example", peer_b.addr)], ALICE_AT_A)
        .await;
    forward_mm1(&a.store, ALICE, "sip:bob@b.example", "to b").await;
    let message_id = forward_at(&peer_b, 1).await.message_id;

    let b = Mm4Peer::new("mms.b.example", a.mm4_addr);

    // Bob's genuine read reply: alice gets m-read-orig-ind, B gets .RES Ok.
    b.send(&read_reply(&message_id, "sip:bob@b.example", true))
        .await
        .unwrap();
    let p = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::ReadOrigInd(ind)) = &p[0] else {
        panic!("not a read report: {p:?}");
    };
    assert_eq!(dest, "441000000001");
    assert_eq!(ind.message_id, message_id);
    let Mm4Message::ReadReplyReportRes(res) = mm4_at(&peer_b, 2).await else {
        panic!("not MM4_read_reply_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::Ok);

    // Forged by B for someone alice never sent to: refused in the .RES, nothing pushed.
    b.send(&read_reply(&message_id, "sip:mallory@b.example", true))
        .await
        .unwrap();
    let Mm4Message::ReadReplyReportRes(res) = mm4_at(&peer_b, 3).await else {
        panic!("not MM4_read_reply_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::ErrorMessageNotFound);

    // An unknown message id without a .RES asked for: SMTP 550 5.7.1.
    let err = b
        .send(&read_reply(
            "no-such@mms.a.example",
            "sip:bob@b.example",
            false,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reply().map(|r| r.code), Some(550), "{err}");

    // A recipient alice sent to but A never forwarded to (no route: failed): refused.
    let (failed_mm, _) = accept_mm1(&a.store, ALICE, &["sip:erin@c.example"], "nowhere").await;
    wait_state(
        &a.store,
        &failed_mm,
        "sip:erin@c.example",
        RecipientState::Failed,
    )
    .await;
    let failed_id = a
        .store
        .mm(&failed_mm)
        .await
        .unwrap()
        .unwrap()
        .meta
        .message_id;
    let err = b
        .send(&read_reply(&failed_id, "sip:erin@c.example", false))
        .await
        .unwrap_err();
    assert_eq!(err.reply().map(|r| r.code), Some(550), "{err}");

    // Bob's report again: answered, but alice is not told twice.
    b.send(&read_reply(&message_id, "sip:bob@b.example", true))
        .await
        .unwrap();
    let Mm4Message::ReadReplyReportRes(res) = mm4_at(&peer_b, 4).await else {
        panic!("not MM4_read_reply_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::Ok);
    // Delivery reports are held to the same rule (TS 23.140 §8.4.2): bob's reaches alice,
    // one for mallory is refused.
    b.send(&delivery_report(&message_id, "sip:bob@b.example"))
        .await
        .unwrap();
    let Mm4Message::DeliveryReportRes(res) = mm4_at(&peer_b, 5).await else {
        panic!("not MM4_delivery_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::Ok);
    b.send(&delivery_report(&message_id, "sip:mallory@b.example"))
        .await
        .unwrap();
    let Mm4Message::DeliveryReportRes(res) = mm4_at(&peer_b, 6).await else {
        panic!("not MM4_delivery_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::ErrorMessageNotFound);

    // Each .RES was queued with any report it would have passed on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let count = |read: bool| {
        pushes(&peers.sink)
            .into_iter()
            .filter(|(_, pdu)| match pdu {
                Pdu::ReadOrigInd(_) => read,
                Pdu::DeliveryInd(ind) => !read && ind.to[0].text().contains("bob"),
                _ => false,
            })
            .count()
    };
    assert_eq!(count(true), 1, "only the genuine read report reached alice");
    assert_eq!(
        count(false),
        1,
        "only the genuine delivery report reached alice"
    );
    b.close().await;
    a.stop().await;
}

/// One SMTP transaction from the source address `source` (any of 127.0.0.0/8 is loopback on
/// Linux), written by hand because the relay's client does not pick its source address; the
/// reply to the end of DATA.
async fn smtp_from(
    source: std::net::IpAddr,
    to: std::net::SocketAddr,
    (env, bytes): (mm4::Envelope, Vec<u8>),
) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let (r, mut w) = test_peers::hostile::connect_from(source, to)
        .await
        .into_split();
    let mut r = BufReader::new(r);
    // Reads one reply (its last line).
    async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
                .await
                .expect("an SMTP reply in time")
                .unwrap();
            assert!(n > 0, "connection closed");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }
    let mut body = Vec::with_capacity(bytes.len() + 16);
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            body.push(b'.'); // RFC 5321 §4.5.2 dot-stuffing
        }
        body.extend_from_slice(line);
    }
    body.extend_from_slice(b".\r\n");
    let mut commands = vec![
        "EHLO mms.b.example\r\n".to_owned(),
        format!("MAIL FROM:<{}>\r\n", env.mail_from),
    ];
    commands.extend(env.rcpt_to.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
    commands.push("DATA\r\n".to_owned());
    assert!(reply(&mut r).await.starts_with("220"));
    for c in commands {
        w.write_all(c.as_bytes()).await.unwrap();
        let answer = reply(&mut r).await;
        assert!(
            answer.starts_with('2') || answer.starts_with("354"),
            "{c:?}: {answer}"
        );
    }
    w.write_all(&body).await.unwrap();
    reply(&mut r).await
}

#[tokio::test]
async fn mm4_reports_are_taken_only_from_the_report_peers_of_the_domain_the_mm_went_to() {
    if aiosmtpd_missing() {
        return;
    }
    let peer_b = SmtpSink::start(&[]).await;
    let peers = Peers::start().await;
    let mut mm4 = TestRelay::loopback_mm4();
    // Reports on MMs forwarded to mms.b.example come from 127.0.0.5 only.
    mm4.report_peers
        .insert("mms.b.example".into(), vec!["127.0.0.5/32".into()]);
    let a = peers
        .relay_with("a.example", mm4, &[("b.example", peer_b.addr)], ALICE_AT_A)
        .await;
    forward_mm1(&a.store, ALICE, "sip:bob@b.example", "to b").await;
    let message_id = forward_at(&peer_b, 1).await.message_id;

    // Bob's read reply, otherwise genuine, from another peer address: 550 5.7.1, not passed on.
    let other = smtp_from(
        "127.0.0.6".parse().unwrap(),
        a.mm4_addr,
        read_reply(&message_id, "sip:bob@b.example", false),
    )
    .await;
    assert!(other.starts_with("550 5.7.1"), "{other}");
    // The same with a .RES asked for: Error-service-denied in the .RES.
    let asked = smtp_from(
        "127.0.0.6".parse().unwrap(),
        a.mm4_addr,
        read_reply(&message_id, "sip:bob@b.example", true),
    )
    .await;
    assert!(asked.starts_with("250"), "{asked}");
    let Mm4Message::ReadReplyReportRes(res) = mm4_at(&peer_b, 2).await else {
        panic!("not MM4_read_reply_report.RES");
    };
    assert_eq!(res.request_status, RequestStatus::ErrorServiceDenied);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        pushes(&peers.sink).is_empty(),
        "a refused report reached alice"
    );

    // From b.example's report peer: taken, alice gets m-read-orig-ind.
    let genuine = smtp_from(
        "127.0.0.5".parse().unwrap(),
        a.mm4_addr,
        read_reply(&message_id, "sip:bob@b.example", false),
    )
    .await;
    assert!(genuine.starts_with("250"), "{genuine}");
    let p = wait_pushes(&peers.sink, 1).await;
    let (dest, Pdu::ReadOrigInd(ind)) = &p[0] else {
        panic!("not a read report: {p:?}");
    };
    assert_eq!(
        (dest.as_str(), ind.message_id.as_str()),
        ("441000000001", message_id.as_str())
    );
    a.stop().await;
}
