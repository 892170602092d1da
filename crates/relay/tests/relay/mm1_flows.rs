//! Every MM1 PDU flow over HTTP (MMS ENC 1.3 §6): send, retrieve, notify-response, acknowledge
//! (read reports: reports_auth.rs), and the m-send-conf status of each refusal.

use bytes::Bytes;
use mms_pdu::{
    AcknowledgeInd, EncodedString, ForwardReq, FromAddress, MmsVersion, NotifyRespInd, Pdu,
    ResponseStatus, RetrieveStatus, Status,
};
use mms_store::{MmId, OutboxKind, RecipientState, Store};
use relay::jobs::{DeliveryIndJob, Job, Mm4DeliveryReportJob, ResolveJob};
use relay::mm1;

use crate::mm1_support::{PROXY, Relay, mm_of, send_req, test_config};

const ALICE: &str = "sip:alice@a.example";
const BOB: &str = "sip:bob@a.example";

#[tokio::test]
async fn send_req_is_stored_with_one_resolve_job_per_recipient_and_confirmed_ok_mms_enc_6_1() {
    let relay = Relay::start(test_config()).await;
    let ua = relay.ua(PROXY).asserted(ALICE);
    let req = send_req(
        &[
            "sip:bob@a.example",
            "+447000000003/TYPE=PLMN",
            "sip:carol@b.example",
        ],
        "hi",
    );
    let conf = ua.send(req.clone().into()).await;
    assert_eq!(conf.response_status, ResponseStatus::OK);
    assert_eq!(conf.transaction_id, req.transaction_id);
    let message_id = conf.message_id.expect("Message-ID in m-send-conf");
    assert!(message_id.ends_with("@mms.a.example"), "{message_id}");

    let items = relay.items(OutboxKind::Resolve).await;
    let mut recipients: Vec<_> = items.iter().filter_map(|i| i.recipient.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            "sip:bob@a.example",
            "sip:carol@b.example",
            "tel:+447000000003"
        ]
    );
    let mm_id = items[0].mm_id.clone().unwrap();
    assert!(items.iter().all(|i| i.mm_id.as_ref() == Some(&mm_id)));
    let mm = relay.store.mm(&mm_id).await.unwrap().unwrap();
    assert_eq!(mm.meta.message_id, message_id);
    assert_eq!(
        mm.meta.from, ALICE,
        "insert-address-token filled with the asserted identity"
    );
    assert_eq!(mm.meta.subject.as_deref(), Some("hello"));
    assert!(
        relay
            .recipients(&mm_id)
            .await
            .iter()
            .all(|r| r.state == RecipientState::Resolving)
    );
    // Each Resolve item hands the recipient's stored retrieval token on (for the push).
    for item in &items {
        let job = ResolveJob::from_payload(&item.payload).unwrap();
        let recipient = item.recipient.as_deref().unwrap();
        assert_eq!(
            job.retrieval_token,
            Some(relay.token_for(recipient).await),
            "{recipient}"
        );
    }
    // The stored PDU names the authenticated sender.
    match mm1::stored_pdu(&mm).unwrap() {
        Pdu::SendReq(s) => assert_eq!(
            s.from,
            FromAddress::Present(EncodedString::plain("sip%3Aalice%40a.example/TYPE=SIP"))
        ),
        other => panic!("{other:?}"),
    }
    relay.stop().await;
}

#[tokio::test]
async fn bad_recipients_fail_alone_and_only_no_valid_recipient_fails_the_request() {
    let relay = Relay::start(test_config()).await;
    let ua = relay.ua(PROXY).asserted(ALICE);
    let conf = ua
        .send(
            send_req(
                &["sip:bob@a.example", "not an address", "1.2.3.4/TYPE=IPv4"],
                "x",
            )
            .into(),
        )
        .await;
    assert_eq!(conf.response_status, ResponseStatus::OK);
    assert_eq!(relay.items(OutboxKind::Resolve).await.len(), 1);
    let conf = ua
        .send(send_req(&["???", "1.2.3.4/TYPE=IPv4"], "x").into())
        .await;
    assert_eq!(
        conf.response_status,
        ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED
    );
    relay.stop().await;
}

/// Sends one MM from alice to bob (local) and moves bob to Notifying as routing would.
async fn delivered_to_bob(relay: &Relay, delivery_report: bool) -> (MmId, String) {
    let ua = relay.ua(PROXY).asserted(ALICE);
    let mut req = send_req(&[BOB], "for bob");
    req.delivery_report = Some(delivery_report);
    let conf = ua.send(req.into()).await;
    assert_eq!(conf.response_status, ResponseStatus::OK);
    let mm_id = mm_of(relay, BOB).await;
    relay.resolve_local(&mm_id, BOB).await;
    let token = relay.token_for(BOB).await;
    (mm_id, token)
}

#[tokio::test]
async fn retrieve_with_token_returns_the_message_mms_enc_6_3() {
    let relay = Relay::start(test_config()).await;
    let (_, token) = delivered_to_bob(&relay, false).await;
    assert_eq!(token.len(), 32, "128-bit token");
    let url = format!("{}/m/{token}", relay.url);
    let (status, pdu) = relay.ua(PROXY).asserted(BOB).get(&url).await;
    assert_eq!(status, 200);
    let Pdu::RetrieveConf(conf) = pdu else {
        panic!("{pdu:?}")
    };
    assert_eq!(conf.retrieve_status, None);
    assert_eq!(conf.transaction_id.as_deref(), Some(token.as_str()));
    assert_eq!(
        conf.from,
        Some(FromAddress::Present(EncodedString::plain(
            "sip%3Aalice%40a.example/TYPE=SIP"
        )))
    );
    assert_eq!(conf.body.parts()[0].data, Bytes::from_static(b"for bob"));
    // Without any identity the token alone is the credential.
    let (_, pdu) = relay.ua("127.0.0.9").get(&url).await;
    assert!(matches!(pdu, Pdu::RetrieveConf(c) if c.retrieve_status.is_none()));
    relay.stop().await;
}

#[tokio::test]
async fn message_not_yet_resolved_local_is_not_retrievable() {
    let relay = Relay::start(test_config()).await;
    let ua = relay.ua(PROXY).asserted(ALICE);
    ua.send(send_req(&[BOB], "x").into()).await;
    let token = relay.token_for(BOB).await;
    let (_, pdu) = relay
        .ua(PROXY)
        .asserted(BOB)
        .get(&format!("{}/m/{token}", relay.url))
        .await;
    let Pdu::RetrieveConf(c) = pdu else { panic!() };
    assert_eq!(
        c.retrieve_status,
        Some(RetrieveStatus::ERROR_PERMANENT_MESSAGE_NOT_FOUND)
    );
    relay.stop().await;
}

#[tokio::test]
async fn notifyresp_retrieved_updates_state_and_queues_delivery_ind_mms_enc_6_2() {
    let relay = Relay::start(test_config()).await;
    let (mm_id, token) = delivered_to_bob(&relay, true).await;
    let ind = NotifyRespInd {
        transaction_id: token,
        version: MmsVersion::V1_2,
        status: Status::RETRIEVED,
        ..Default::default()
    };
    let (status, body) = relay
        .ua(PROXY)
        .asserted(BOB)
        .post(Pdu::from(ind).encode())
        .await;
    assert_eq!(status, 204);
    assert!(body.is_empty());
    assert_eq!(
        relay.recipients(&mm_id).await[0].state,
        RecipientState::Retrieved
    );
    let items = relay.items(OutboxKind::DeliveryInd).await;
    assert_eq!(items.len(), 1);
    let job = DeliveryIndJob::from_payload(&items[0].payload).unwrap().0;
    assert_eq!(
        (job.sender.as_str(), job.recipient.as_str(), job.status),
        (ALICE, BOB, 129)
    );
    assert_eq!(job.originator_system, None);
    relay.stop().await;
}

#[tokio::test]
async fn notifyresp_deferred_keeps_state_and_rejected_without_report_request_queues_nothing() {
    let relay = Relay::start(test_config()).await;
    let (mm_id, token) = delivered_to_bob(&relay, false).await;
    let ua = relay.ua(PROXY).asserted(BOB);
    for (status, state) in [
        (Status::DEFERRED, RecipientState::Notifying),
        (Status::REJECTED, RecipientState::Rejected),
    ] {
        let ind = NotifyRespInd {
            transaction_id: token.clone(),
            version: MmsVersion::V1_2,
            status,
            ..Default::default()
        };
        assert_eq!(ua.post(Pdu::from(ind).encode()).await.0, 204);
        assert_eq!(relay.recipients(&mm_id).await[0].state, state);
    }
    assert!(relay.items(OutboxKind::DeliveryInd).await.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn acknowledge_queues_one_delivery_report_even_when_repeated_mms_enc_6_4() {
    let relay = Relay::start(test_config()).await;
    let (mm_id, token) = delivered_to_bob(&relay, true).await;
    let ack = AcknowledgeInd {
        transaction_id: token,
        version: MmsVersion::V1_2,
        report_allowed: Some(true),
        ..Default::default()
    };
    let ua = relay.ua(PROXY).asserted(BOB);
    assert_eq!(ua.post(Pdu::from(ack.clone()).encode()).await.0, 204);
    assert_eq!(ua.post(Pdu::from(ack).encode()).await.0, 204);
    assert_eq!(
        relay.recipients(&mm_id).await[0].state,
        RecipientState::Retrieved
    );
    assert_eq!(relay.items(OutboxKind::DeliveryInd).await.len(), 1);
    relay.stop().await;
}

#[tokio::test]
async fn acknowledge_with_report_not_allowed_queues_no_report_mms_enc_7_3_47() {
    let relay = Relay::start(test_config()).await;
    let (_, token) = delivered_to_bob(&relay, true).await;
    let ack = AcknowledgeInd {
        transaction_id: token,
        version: MmsVersion::V1_2,
        report_allowed: Some(false),
        ..Default::default()
    };
    assert_eq!(
        relay
            .ua(PROXY)
            .asserted(BOB)
            .post(Pdu::from(ack).encode())
            .await
            .0,
        204
    );
    assert!(relay.items(OutboxKind::DeliveryInd).await.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn acknowledge_of_mm4_message_queues_mm4_delivery_report_ts_23_140_8_4_2() {
    let relay = Relay::start(test_config()).await;
    let token = relay
        .accept_from_peer("peer-1@mms.b.example", "sip:dave@b.example", BOB)
        .await;
    let url = mm1::content_location(&relay.url, &token);
    let (_, pdu) = relay.ua(PROXY).asserted(BOB).get(&url).await;
    let Pdu::RetrieveConf(conf) = pdu else {
        panic!()
    };
    assert_eq!(conf.message_id.as_deref(), Some("peer-1@mms.b.example"));
    let ack = AcknowledgeInd {
        transaction_id: conf.transaction_id.unwrap(),
        version: MmsVersion::V1_2,
        ..Default::default()
    };
    assert_eq!(
        relay
            .ua(PROXY)
            .asserted(BOB)
            .post(Pdu::from(ack).encode())
            .await
            .0,
        204
    );
    let items = relay.items(OutboxKind::Mm4DeliveryReport).await;
    assert_eq!(items.len(), 1);
    let job = Mm4DeliveryReportJob::from_payload(&items[0].payload)
        .unwrap()
        .0;
    assert_eq!(
        job.originator_system.as_deref(),
        Some("system-user@mms.b.example")
    );
    assert_eq!(job.message_id, "peer-1@mms.b.example");
    assert!(relay.items(OutboxKind::DeliveryInd).await.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn refusals_are_m_send_conf_with_the_mms_enc_7_3_48_status() {
    let mut config = test_config();
    config.mm1.max_message_size = 2_000;
    let relay = Relay::start(config).await;
    let ua = relay.ua(PROXY).asserted(ALICE);

    // Too large: Error-permanent-content-not-accepted, transaction id kept.
    let big = send_req(&[BOB], &"x".repeat(5_000));
    let tid = big.transaction_id.clone();
    let (status, body) = ua.post(Pdu::from(big).encode()).await;
    assert_eq!(status, 200);
    let Pdu::SendConf(c) = Pdu::decode(&body).unwrap() else {
        panic!()
    };
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_CONTENT_NOT_ACCEPTED
    );
    assert_eq!(c.transaction_id, tid);

    // Malformed: Error-permanent-message-format-corrupt.
    let mut truncated = Pdu::from(send_req(&[BOB], "abc")).encode();
    truncated.truncate(truncated.len() - 2);
    let (_, body) = ua.post(truncated).await;
    let Pdu::SendConf(c) = Pdu::decode(&body).unwrap() else {
        panic!()
    };
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
    );
    let (_, body) = ua.post(b"GET / HTTP/1.0 nonsense".to_vec()).await;
    let Pdu::SendConf(c) = Pdu::decode(&body).unwrap() else {
        panic!()
    };
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
    );

    // Major version 2: Error-unsupported-message.
    let mut v2 = send_req(&[BOB], "x");
    v2.version = MmsVersion { major: 2, minor: 0 };
    let c = ua.send(v2.into()).await;
    assert_eq!(c.response_status, ResponseStatus::ERROR_UNSUPPORTED_MESSAGE);

    // A request type MM1 here does not serve: Error-unsupported-message.
    let fwd = ForwardReq {
        transaction_id: "F1".into(),
        to: vec![EncodedString::plain(BOB)],
        content_location: "http://x/y".into(),
        ..Default::default()
    };
    let c = ua.send(fwd.into()).await;
    assert_eq!(c.response_status, ResponseStatus::ERROR_UNSUPPORTED_MESSAGE);
    assert_eq!(c.transaction_id, "F1");

    assert!(
        relay.items(OutboxKind::Resolve).await.is_empty(),
        "nothing refused was stored"
    );
    relay.stop().await;
}
