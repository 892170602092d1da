//! Both relays on PostgreSQL (own schema each), relay B as two nodes sharing one schema behind
//! two MX records (`mx.mms.b.example` 127.0.0.1 preference 10, `mx2.mms.b.example` 127.0.0.2
//! preference 20, same MM4 port). Node B1 is killed (SIGKILL) between two batches: relay A fails
//! over to B2, B2 serves the shared store, nothing is lost and nothing is pushed twice.
//!
//! Needs MMSRELAY_TEST_DATABASE_URL (and `psql` to create the schemas); without it the test prints
//! a notice and passes, unless MMSRELAY_REQUIRE_POSTGRES is set.

use std::time::Duration;

use mms_pdu::{Pdu, Status};
use test_peers::hss::TestHss;

use super::harness::pg::*;
use super::harness::*;

/// Bob's handset behind a "load balancer": fetches and acknowledges at whichever node is up.
async fn receive_at_any(bob: &mut Ua, smsc: &Smsc, nodes: &[String], text: &str) -> String {
    let got = bob.next_push(|| smsc.sms(), STEP).await.unwrap();
    let Pdu::NotificationInd(note) = got.pdu else {
        panic!(
            "expected m-notification-ind, got {:?}",
            got.pdu.message_type()
        );
    };
    let path = note
        .content_location
        .find("/m/")
        .map(|i| note.content_location[i..].to_owned())
        .expect("retrieval URL has the /m/ path");
    for base in nodes {
        let Ok((http, conf)) = bob.retrieve(&format!("{base}{path}")).await else {
            continue; // that node is down
        };
        assert_eq!(http, 200);
        assert_eq!(text_of(&conf).as_deref(), Some(text));
        let ack = bob
            .acknowledge(&format!("{base}/"), &note.transaction_id)
            .await
            .unwrap();
        assert!((200..300).contains(&ack), "acknowledge: HTTP {ack}");
        return note.transaction_id;
    }
    panic!("no relay B node answered the retrieval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_relays_on_postgres_and_relay_b_survives_losing_one_of_two_nodes() {
    if !peers_available() {
        return;
    }
    let Some(url) = pg_url() else { return };
    let Some(schemas) = Schemas::create(&url, &["e2e_a", "e2e_b"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_udp_tcp_port();
    let _dns = start_dnsmasq(
        dns_port,
        &[
            "--mx-host=mms.b.example,mx2.mms.b.example,20".into(),
            "--host-record=mx2.mms.b.example,127.0.0.2".into(),
        ],
    );
    let hss = TestHss::start("hss.example").await.unwrap();
    hss.add_subscriber("4917612345678", &[BOB_SIP, BOB_TEL]);
    let smsc_a = Smsc::start(dir.path(), "a");
    let smsc_b = Smsc::start(dir.path(), "b");
    let (mm1_a, mm1_b1, mm1_b2, mm4_a, mm4_b) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let spec_a = RelaySpec {
        name: "a",
        number_range: "+4477009",
        store: schemas.location(0),
        mm1: mm1_a,
        mm4_listen: format!("127.0.0.1:{mm4_a}"),
        peer_mm4: mm4_b,
        dns: dns_port,
        smsc: smsc_a.port,
        hss: None,
        tuning: Tuning::default(),
    };
    let config_a = dir.path().join("a.toml");
    std::fs::write(&config_a, relay_toml(&spec_a)).unwrap();
    let config_b = |mm1: u16, ip: &str| {
        relay_toml(&RelaySpec {
            name: "b",
            number_range: "+49176",
            store: schemas.location(1),
            mm1,
            mm4_listen: format!("{ip}:{mm4_b}"),
            peer_mm4: mm4_a,
            smsc: smsc_b.port,
            hss: Some(hss.addr()),
            ..spec_a.clone()
        })
    };
    let (config_b1, config_b2) = (dir.path().join("b1.toml"), dir.path().join("b2.toml"));
    std::fs::write(&config_b1, config_b(mm1_b1, "127.0.0.1")).unwrap();
    std::fs::write(&config_b2, config_b(mm1_b2, "127.0.0.2")).unwrap();
    for c in [&config_a, &config_b1, &config_b2] {
        let text = std::fs::read_to_string(c).unwrap();
        assert!(text.contains("search_path%3De2e_"), "{text}");
    }
    for impu in [ALICE_SIP, ALICE_TEL] {
        add_subscriber(&config_a, impu, ALICE_MSISDN);
    }
    let _relay_a = RelayProc::start(&config_a, &dir.path().join("a.log"));
    let mut b1 = Some(RelayProc::start(&config_b1, &dir.path().join("b1.log")));
    let _b2 = RelayProc::start(&config_b2, &dir.path().join("b2.log"));
    let nodes = vec![
        format!("http://127.0.0.1:{mm1_b1}"),
        format!("http://127.0.0.1:{mm1_b2}"),
    ];

    let mut alice = alice();
    let mut bob = bob();
    let a = format!("http://127.0.0.1:{mm1_a}/");
    let mut tids = std::collections::HashSet::new();
    for i in 0..6 {
        if i == 3 {
            // Node B1 (the preferred MX) dies without a word; its peer carries on.
            drop(b1.take());
        }
        let text = format!("pg {i}");
        let id = send_ok(&alice, &a, ALICE_SIP, BOB_SIP, &text).await;
        let tid = receive_at_any(&mut bob, &smsc_b, &nodes, &text).await;
        assert!(tids.insert(tid), "message {i} was pushed twice");
        let got = alice.next_push(|| smsc_a.sms(), STEP).await.unwrap();
        let Pdu::DeliveryInd(ind) = got.pdu else {
            panic!("expected m-delivery-ind");
        };
        assert_eq!(
            (ind.message_id, ind.status),
            (id, Status::RETRIEVED),
            "message {i}"
        );
    }
    // Nothing pushed twice: no further notification reaches Bob.
    assert!(
        bob.next_push(|| smsc_b.sms(), Duration::from_millis(1500))
            .await
            .is_err(),
        "a notification was pushed again"
    );
}
