//! The ESME client against the test-peers SMSC sink: submit and reassembly, throttling answers,
//! the window, reconnect after the SMSC closes, enquire_link keep-alive, receipts, unbind.

use std::time::{Duration, Instant};

use smpp::client::Client;
use smpp::{CommandStatus, DeliveryReceipt, MessageState, SubmitError};
use test_peers::smsc::{Answer, SmscSink};
use wap_push::{Reassembler, ReassemblyStatus};

use crate::common::{LIMIT, NI_272, client_config, join_all, udh_submits, vector};

async fn timed<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("within the test limit")
}

#[tokio::test]
async fn segmented_push_is_recorded_decoded_and_reassembles() {
    let sink = SmscSink::start().await.unwrap();
    let (client, _rx) = Client::start(client_config(sink.addr()));
    let ni = vector(NI_272);
    let mut ids = Vec::new();
    for sm in udh_submits(&ni, 3) {
        ids.push(timed(client.submit(sm)).await.unwrap());
    }
    let recorded = sink.submits();
    assert_eq!(recorded.len(), 2);
    let mut r = Reassembler::new(Duration::from_secs(60), 4);
    let mut body = None;
    for (rec, id) in recorded.iter().zip(&ids) {
        assert_eq!(rec.message_id, id.0);
        assert_eq!(rec.submit.esm_class, 0x40);
        assert_eq!(rec.submit.data_coding, 0x04);
        assert_eq!(
            (rec.submit.destination.ton, rec.submit.destination.npi),
            (1, 1)
        );
        assert_eq!(rec.submit.registered_delivery, 1);
        if let ReassemblyStatus::Complete(m) = r
            .push_user_data("x", &rec.submit.short_message, Instant::now())
            .unwrap()
        {
            body = Some(m.push().unwrap().body);
        }
    }
    assert_eq!(body.unwrap().as_ref(), ni.as_slice());
    assert_eq!(sink.binds(), 1);
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn throttled_and_queue_full_answers_are_retried_until_accepted() {
    let sink = SmscSink::start().await.unwrap();
    sink.script([
        Answer::Status(CommandStatus::Throttled),
        Answer::Status(CommandStatus::MessageQueueFull),
    ]);
    let (client, _rx) = Client::start(client_config(sink.addr()));
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    let id = timed(client.submit(sm.clone())).await.unwrap();
    let recorded = sink.submits();
    assert_eq!(recorded.len(), 3, "two refusals then acceptance");
    assert!(recorded.iter().all(|r| r.submit == sm));
    assert_eq!(recorded[2].message_id, id.0);
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn persistent_throttling_fails_with_a_transient_error() {
    let sink = SmscSink::start().await.unwrap();
    sink.set_default_answer(Answer::Status(CommandStatus::Throttled));
    let mut config = client_config(sink.addr());
    config.session.max_attempts = 3;
    let (client, _rx) = Client::start(config);
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    let err = timed(client.submit(sm)).await.unwrap_err();
    assert_eq!(err, SubmitError::Rejected(CommandStatus::Throttled));
    assert!(err.is_transient());
    assert_eq!(sink.submits().len(), 3);
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn no_more_than_window_submits_are_outstanding() {
    let sink = SmscSink::start().await.unwrap();
    sink.set_default_answer(Answer::Hold);
    let mut config = client_config(sink.addr());
    config.session.window = 4;
    config.session.throttle_per_second = Some(10_000);
    let (client, _rx) = Client::start(config);
    let sms = udh_submits(&vector(NI_272), 1);
    let submits: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            let sm = sms[0].clone();
            async move { c.submit(sm).await }
        })
        .collect();
    let all = tokio::spawn(join_all(submits));
    assert!(sink.wait_for_submits(4, LIMIT).await);
    // the window is full: nothing more arrives while the SMSC holds its answers
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.submits().len(), 4);
    sink.set_default_answer(Answer::Accept);
    sink.release_held();
    let results = timed(all).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(sink.submits().len(), 10);
    assert_eq!(sink.max_in_flight(), 4);
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn client_reconnects_and_rebinds_after_the_smsc_closes() {
    let sink = SmscSink::start().await.unwrap();
    sink.script([Answer::Close]);
    let (client, _rx) = Client::start(client_config(sink.addr()));
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    let err = timed(client.submit(sm.clone())).await.unwrap_err();
    assert_eq!(err, SubmitError::ConnectionLost);
    assert!(err.is_transient());
    timed(client.submit(sm.clone())).await.unwrap();
    assert_eq!(sink.binds(), 2);
    sink.close_connections();
    assert!(sink.wait_for_binds(3, LIMIT).await);
    timed(client.submit(sm)).await.unwrap();
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn idle_session_sends_enquire_link() {
    let sink = SmscSink::start().await.unwrap();
    let mut config = client_config(sink.addr());
    config.session.enquire_link_interval = Duration::from_millis(30);
    let (client, _rx) = Client::start(config);
    assert!(sink.wait_for_enquire_links(2, LIMIT).await);
    assert_eq!(
        sink.binds(),
        1,
        "answered enquire_link keeps the one session"
    );
    timed(client.shutdown()).await;
}

#[tokio::test]
async fn delivery_receipt_is_acknowledged_and_passed_to_the_caller() {
    let sink = SmscSink::start().await.unwrap();
    let (client, mut deliveries) = Client::start(client_config(sink.addr()));
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    let id = timed(client.submit(sm)).await.unwrap();
    assert_eq!(sink.send_receipt(&id.0, "DELIVRD"), 1);
    let deliver = timed(deliveries.recv()).await.unwrap();
    let receipt = DeliveryReceipt::from_deliver_sm(&deliver).unwrap();
    assert_eq!(receipt.id, id.0);
    assert_eq!(receipt.state, MessageState::Delivered);
    timed(client.shutdown()).await;
    assert_eq!(sink.deliver_sm_resps(), 1);
}

#[tokio::test]
async fn shutdown_unbinds_and_later_submits_fail_with_shutdown() {
    let sink = SmscSink::start().await.unwrap();
    let (client, _rx) = Client::start(client_config(sink.addr()));
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    timed(client.submit(sm.clone())).await.unwrap();
    timed(client.shutdown()).await;
    assert_eq!(
        timed(client.submit(sm)).await.unwrap_err(),
        SubmitError::Shutdown
    );
}

#[tokio::test]
async fn unreachable_smsc_fails_queued_submit_after_queue_timeout() {
    // a port nothing listens on: bind a listener, take its port, drop it
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut config = client_config(addr);
    config.session.queue_timeout = Duration::from_millis(200);
    let (client, _rx) = Client::start(config);
    let sm = udh_submits(&vector(NI_272), 1).remove(0);
    let err = timed(client.submit(sm)).await.unwrap_err();
    assert_eq!(err, SubmitError::Timeout);
    assert!(err.is_transient());
    timed(client.shutdown()).await;
}
