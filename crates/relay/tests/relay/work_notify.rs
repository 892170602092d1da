//! Routing worker and notifier against the embedded DNS zone, the test HSS and the SMSC sink
//! (DESIGN.md §3–§5).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use diameter::sh_client::{ShClient, ShConfig};
use mms_pdu::{FromAddress, Pdu, Status, TimeSpec};
use mms_resolver::ResolverConfig;
use mms_store::{RecipientState, SqliteStore, Store};
use relay::notifier::PushMode;
use relay::routing::RoutingConfig;
use relay::worker::Wake;
use smpp::CommandStatus;
use test_peers::dns::DnsZone;
use test_peers::hss::TestHss;
use test_peers::smsc::{Answer, SmscSink};
use tokio_util::sync::CancellationToken;

use crate::work_support::*;

/// Routing and notifier of one relay serving a.example and +4917…, over `store`.
struct Workers {
    cancel: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    async fn start(
        store: &SqliteStore,
        dns: &test_peers::dns::DnsServer,
        sink: &SmscSink,
        sh: Option<Arc<ShClient>>,
        mode: PushMode,
    ) -> Self {
        let wake = Wake::new();
        let cancel = CancellationToken::new();
        let resolver = resolver(
            dns,
            ResolverConfig {
                own_sip_domains: vec!["a.example".into()],
                own_number_ranges: vec!["+4917".into()],
                enum_suffixes: vec!["e164.arpa".into()],
                ..ResolverConfig::default()
            },
        );
        let routing = relay::routing::spawn(
            &RoutingConfig {
                queue: fast_queue(),
            },
            store.clone(),
            resolver,
            sh.clone(),
            wake.clone(),
            cancel.clone(),
        );
        let notifier = relay::notifier::spawn(
            &notifier_config(mode),
            &smsc_config(sink),
            PUBLIC_URL,
            store.clone(),
            sh,
            wake,
            cancel.clone(),
        )
        .await
        .unwrap();
        Self {
            cancel,
            handles: vec![routing, notifier],
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        for h in self.handles {
            tokio::time::timeout(LIMIT, h)
                .await
                .expect("worker stops")
                .unwrap();
        }
    }
}

/// A fresh store with alice (MSISDN 4917600000001) in the subscriber table.
async fn alice_store() -> (tempfile::TempDir, SqliteStore) {
    let (dir, store) = store().await;
    store
        .put_subscriber("sip:alice@a.example", "4917600000001")
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn local_tel_recipient_gets_m_notification_ind_with_its_token_url_over_udh_sms() {
    let (_dir, store) = store().await;
    let Peers { dns, sink } = Peers::start().await;
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    // A long subject makes the push take more than one SMS (concatenated UDH).
    let subject = "Grüße aus Berlin, ".repeat(8);
    let (mm, tokens) = accept_mm1(
        &store,
        "sip:alice@a.example",
        &["tel:+4917612345678"],
        &subject,
    )
    .await;
    let rec = wait_state(&store, &mm, "tel:+4917612345678", RecipientState::Notified).await;
    assert_eq!(rec.detail.as_deref(), Some("4917612345678"));

    let pushes = wait_pushes(&sink, 1).await;
    let submits = sink.submits();
    assert!(submits.len() >= 2, "segmented into {} SMS", submits.len());
    assert!(
        submits
            .iter()
            .all(|r| r.submit.esm_class == 0x40 && r.submit.data_coding == 0x04)
    );
    let (dest, pdu) = &pushes[0];
    assert_eq!(dest, "4917612345678");
    let Pdu::NotificationInd(ni) = pdu else {
        panic!("not m-notification-ind: {pdu:?}");
    };
    let token = tokens[0].1.as_str();
    assert_eq!(ni.transaction_id, token);
    assert_eq!(ni.content_location, format!("{PUBLIC_URL}/m/{token}"));
    assert_eq!(ni.subject.as_ref().unwrap().text(), subject);
    assert_eq!(
        ni.from,
        Some(FromAddress::Present(mms_pdu::EncodedString::plain(
            "sip%3Aalice%40a.example/TYPE=SIP"
        )))
    );
    let mm_stored = store.mm(&mm).await.unwrap().unwrap();
    assert_eq!(ni.message_size, mm_stored.meta.size);
    assert!(
        matches!(ni.expiry, TimeSpec::Absolute(t) if t == (mm_stored.meta.expiry.as_millis() / 1000) as u64)
    );
    workers.stop().await;
}

#[tokio::test]
async fn sip_recipient_msisdn_comes_from_the_hss_and_the_push_goes_in_sar_tlv_mode() {
    let (_dir, store) = store().await;
    let Peers { dns, sink } = Peers::start().await;
    let hss = TestHss::start("hss.a.example").await.unwrap();
    hss.add_subscriber("4915199999999", &["sip:carol@a.example"]);
    let sh = Arc::new(ShClient::start(ShConfig {
        peers: vec![hss.addr().to_string()],
        origin_host: "relay.a.example".into(),
        origin_realm: "a.example".into(),
        destination_realm: "a.example".into(),
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        reconnect_backoff_max: Duration::from_millis(200),
        ..ShConfig::default()
    }));
    let workers = Workers::start(&store, &dns, &sink, Some(sh), PushMode::Sar).await;
    let (mm, tokens) = accept_mm1(
        &store,
        "tel:+4917600000001",
        &["sip:carol@a.example"],
        &"long subject ".repeat(12),
    )
    .await;
    wait_state(&store, &mm, "sip:carol@a.example", RecipientState::Notified).await;
    assert!(hss.udr_count() >= 1, "the MSISDN came from the HSS");
    let pushes = wait_pushes(&sink, 1).await;
    assert_eq!(pushes[0].0, "4915199999999");
    let submits = sink.submits();
    assert!(submits.len() >= 2);
    for r in &submits {
        assert_eq!(r.submit.esm_class, 0, "no UDH in SAR mode");
        assert!(r.submit.sar().is_some(), "SAR TLVs on every segment");
    }
    let Pdu::NotificationInd(ni) = &pushes[0].1 else {
        panic!("not a notification");
    };
    assert_eq!(
        ni.content_location,
        format!("{PUBLIC_URL}/m/{}", tokens[0].1.as_str())
    );
    workers.stop().await;
}

#[tokio::test]
async fn unknown_local_user_fails_and_the_sender_gets_m_delivery_ind_unreachable() {
    let (_dir, store) = alice_store().await;
    let Peers { dns, sink } = Peers::start().await;
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    let (mm, _) = accept_mm1(
        &store,
        "sip:alice@a.example",
        &["sip:nobody@a.example"],
        "hi",
    )
    .await;
    let rec = wait_state(&store, &mm, "sip:nobody@a.example", RecipientState::Failed).await;
    assert!(rec.last_error.unwrap().contains("unknown"));

    let pushes = wait_pushes(&sink, 1).await;
    let (dest, pdu) = &pushes[0];
    assert_eq!(
        dest, "4917600000001",
        "pushed to alice's MSISDN from the subscriber table"
    );
    let Pdu::DeliveryInd(ind) = pdu else {
        panic!("not m-delivery-ind: {pdu:?}");
    };
    assert_eq!(ind.status, Status::UNREACHABLE);
    assert_eq!(ind.to[0].text(), "sip%3Anobody%40a.example/TYPE=SIP");
    assert_eq!(
        ind.message_id,
        store.mm(&mm).await.unwrap().unwrap().meta.message_id
    );
    workers.stop().await;
}

#[tokio::test]
async fn remote_number_is_routed_by_enum_to_the_peer_mmse_domain() {
    let (_dir, store) = store().await;
    let dns = DnsZone::new(["example", "e164.arpa"])
        .enum_naptr(
            "+4412345678",
            "e164.arpa",
            10,
            10,
            "E2U+mms:mailto",
            "!^.*$!mailto:+4412345678/TYPE=PLMN@mms.b.example!",
        )
        .mx("mms.b.example", 10, "mx.b.example")
        .a("mx.b.example", Ipv4Addr::new(127, 0, 0, 9))
        .serve()
        .await
        .unwrap();
    let sink = SmscSink::start().await.unwrap();
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    let (mm, _) = accept_mm1(&store, "sip:alice@a.example", &["tel:+4412345678"], "hi").await;
    let rec = wait_state(&store, &mm, "tel:+4412345678", RecipientState::Forwarding).await;
    assert_eq!(rec.detail.as_deref(), Some("mms.b.example"));
    workers.stop().await;
    assert!(
        sink.submits().is_empty(),
        "nothing pushed for a remote recipient"
    );
}

#[tokio::test]
async fn dns_that_never_answers_is_retried_until_it_does_not_fail_the_recipient() {
    let (_dir, store) = store().await;
    let dns = DnsZone::new(["example", "e164.arpa"])
        .never_answer()
        .serve()
        .await
        .unwrap();
    let sink = SmscSink::start().await.unwrap();
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    let (mm, _) = accept_mm1(&store, "sip:alice@a.example", &["sip:dave@c.example"], "hi").await;
    let rec = wait_record(&store, &mm, "sip:dave@c.example", |r| r.attempts >= 2).await;
    assert_eq!(rec.state, RecipientState::Resolving);
    assert!(rec.last_error.is_some());
    workers.stop().await;
}

#[tokio::test]
async fn smsc_throttling_is_retried_and_a_permanent_refusal_fails_the_recipient() {
    let (_dir, store) = alice_store().await;
    let Peers { dns, sink } = Peers::start().await;
    // Queue-full refusals for the first recipient: the SMPP client retries them itself up to
    // its attempt limit (5), then the outbox retries the item; a permanent refusal for the second.
    sink.script([Answer::Status(CommandStatus::MessageQueueFull); 6]);
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    let (mm, _) = accept_mm1(&store, "sip:alice@a.example", &["tel:+4917611111111"], "hi").await;
    wait_state(&store, &mm, "tel:+4917611111111", RecipientState::Notified).await;
    let refused = sink
        .submits()
        .iter()
        .filter(|r| r.answer != Answer::Accept)
        .count();
    assert_eq!(
        refused, 6,
        "more refusals than one submit's 5 attempts: the item was retried"
    );

    sink.script([Answer::Status(CommandStatus::InvalidDestinationAddress)]);
    let (mm2, _) = accept_mm1(&store, "sip:alice@a.example", &["tel:+4917622222222"], "hi").await;
    let rec = wait_state(&store, &mm2, "tel:+4917622222222", RecipientState::Failed).await;
    assert!(rec.last_error.unwrap().contains("SMSC"));
    // alice hears about it.
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let reports: Vec<_> = pushes(&sink)
            .into_iter()
            .filter(|(d, p)| d == "4917600000001" && matches!(p, Pdu::DeliveryInd(_)))
            .collect();
        if !reports.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery report");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.stop().await;
}

#[tokio::test]
async fn expired_recipient_report_queued_by_the_store_reaches_the_sender_as_expired() {
    let (_dir, store) = alice_store().await;
    // DNS never answers: the recipient stays Resolving until the MM expires.
    let dns = DnsZone::new(["example", "e164.arpa"])
        .never_answer()
        .serve()
        .await
        .unwrap();
    let sink = SmscSink::start().await.unwrap();
    let workers = Workers::start(&store, &dns, &sink, None, PushMode::Udh).await;
    let (mm, _) = accept_mm1_expiring(
        &store,
        "sip:alice@a.example",
        &["sip:erin@e.example"],
        "hi",
        Duration::from_millis(500),
    )
    .await;
    // The sweeper's step once the MM expired: the store expires the recipient and queues its
    // report with an empty payload; the notifier rebuilds it from the MM and the recipient.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let expired = store
        .expire_due(mms_store::Timestamp::now(), 10)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert!(expired[0].report_queued);
    let pushes = wait_pushes(&sink, 1).await;
    let (dest, Pdu::DeliveryInd(ind)) = &pushes[0] else {
        panic!("not m-delivery-ind: {pushes:?}");
    };
    assert_eq!(dest, "4917600000001");
    assert_eq!(ind.status, Status::EXPIRED);
    assert_eq!(ind.to[0].text(), "sip%3Aerin%40e.example/TYPE=SIP");
    assert_eq!(
        record(&store, &mm, "sip:erin@e.example").await.state,
        RecipientState::Expired
    );
    workers.stop().await;
}
