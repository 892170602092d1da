//! The Sh client against test-peers' HSS: each branch of DESIGN.md §4's terminating resolution.

use std::sync::atomic::Ordering;
use std::time::Duration;

use diameter::sh_client::ShError;
use test_peers::hss::{Behaviour, TestHss};

use crate::{config, connected_client, eventually};

const BOB: &str = "sip:bob@b.example";
const BOB_TEL: &str = "tel:+4917612345678";
const BOB_MSISDN: &str = "4917612345678";

async fn hss(name: &str) -> TestHss {
    let hss = TestHss::start(name).await.expect("bind 127.0.0.1");
    hss.add_subscriber(BOB_MSISDN, &[BOB, BOB_TEL]);
    hss.add_subscriber("4915112345", &["sip:alice@b.example"]);
    hss
}

#[tokio::test]
async fn sip_uri_resolves_to_msisdn_and_the_answer_is_cached() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    assert_eq!(hss.udr_count(), 1, "second lookup must come from the cache");
    assert_eq!(hss.counters().cer.load(Ordering::Relaxed), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn msisdn_resolves_to_every_public_identity_by_tbcd() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    assert_eq!(
        client.public_identities_for("+4917612345678").await,
        Ok(vec![BOB.to_string(), BOB_TEL.to_string()])
    );
    assert_eq!(
        client.public_identities_for("49x").await,
        Err(ShError::InvalidMsisdn)
    );
    client.shutdown().await;
}

#[tokio::test]
async fn unknown_user_is_5001_permanent_and_cached_negatively() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    let err = client.msisdn_for("sip:nobody@b.example").await.unwrap_err();
    assert_eq!(err, ShError::UserUnknown);
    assert!(!err.is_transient());
    assert_eq!(
        client.msisdn_for("sip:nobody@b.example").await,
        Err(ShError::UserUnknown)
    );
    assert_eq!(hss.udr_count(), 1);
    hss.set_behaviour_for(BOB, Behaviour::UserUnknown);
    assert_eq!(client.msisdn_for(BOB).await, Err(ShError::UserUnknown));
    client.shutdown().await;
}

#[tokio::test]
async fn dropped_request_times_out_as_transient_while_others_are_answered() {
    let hss = hss("hss1.example").await;
    let mut cfg = config(&[hss.addr().to_string()]);
    cfg.request_timeout = Duration::from_millis(300);
    let client = connected_client(cfg).await;
    hss.set_behaviour_for(BOB, Behaviour::Drop);
    let err = client.msisdn_for(BOB).await.unwrap_err();
    assert_eq!(err, ShError::Timeout);
    assert!(err.is_transient());
    assert_eq!(
        client.msisdn_for("sip:alice@b.example").await,
        Ok("4915112345".into())
    );
    client.shutdown().await;
}

#[tokio::test]
async fn delayed_answer_within_the_timeout_is_used() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    hss.set_behaviour(Behaviour::Delay(Duration::from_millis(100)));
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    client.shutdown().await;
}

#[tokio::test]
async fn too_busy_3004_is_transient_and_not_cached() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    hss.set_behaviour(Behaviour::ResultCode(3004));
    let err = client.msisdn_for(BOB).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    hss.set_behaviour(Behaviour::Answer);
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    assert_eq!(hss.udr_count(), 2);
    client.shutdown().await;
}

#[tokio::test]
async fn peer_down_is_transient_and_the_client_reconnects_when_it_is_back() {
    let first = hss("hss1.example").await;
    let addr = first.addr();
    let client = connected_client(config(&[addr.to_string()])).await;
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    first.stop().await;
    assert!(eventually(|| client.pool().open_peers().is_empty()).await);
    let err = client.msisdn_for("sip:alice@b.example").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let again = TestHss::start_on(addr, "hss1.example")
        .await
        .expect("rebind");
    again.add_subscriber("4915112345", &["sip:alice@b.example"]);
    assert!(client.pool().wait_open(Duration::from_secs(5)).await);
    assert_eq!(
        client.msisdn_for("sip:alice@b.example").await,
        Ok("4915112345".into())
    );
    assert_eq!(again.counters().cer.load(Ordering::Relaxed), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn idle_client_sends_dwr_every_tw_rfc3539() {
    let hss = hss("hss1.example").await;
    let mut cfg = config(&[hss.addr().to_string()]);
    cfg.watchdog_interval = Duration::from_millis(100);
    let client = connected_client(cfg).await;
    assert!(eventually(|| hss.counters().dwr.load(Ordering::Relaxed) >= 2).await);
    assert_eq!(client.pool().open_peers().len(), 1);
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    client.shutdown().await;
}

#[tokio::test]
async fn client_answers_the_hss_dwr_rfc6733_5_5() {
    let hss = hss("hss1.example").await;
    hss.set_send_watchdog(Some(Duration::from_millis(50)));
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    assert!(eventually(|| hss.counters().dwa.load(Ordering::Relaxed) >= 2).await);
    client.shutdown().await;
}

#[tokio::test]
async fn lookups_fail_over_to_the_second_hss_when_the_first_is_down() {
    let first = hss("hss1.example").await;
    let second = hss("hss2.example").await;
    let client = connected_client(config(&[
        first.addr().to_string(),
        second.addr().to_string(),
    ]))
    .await;
    assert!(eventually(|| client.pool().open_peers().len() == 2).await);
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    assert_eq!(
        (first.udr_count(), second.udr_count()),
        (1, 0),
        "first peer has priority"
    );
    first.stop().await;
    assert_eq!(
        client.msisdn_for("sip:alice@b.example").await,
        Ok("4915112345".into())
    );
    assert_eq!(second.udr_count(), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn silent_peer_is_failed_over_by_the_watchdog_with_the_t_flag_rfc3539_3_4() {
    let first = hss("hss1.example").await;
    let second = hss("hss2.example").await;
    let mut cfg = config(&[first.addr().to_string(), second.addr().to_string()]);
    // Tw well above the time from "both open" to the request, so the first peer is still Open (not
    // Suspect) when the UDR is sent; the failover then takes 2 Tw, well inside the request timeout.
    cfg.watchdog_interval = Duration::from_secs(1);
    cfg.request_timeout = Duration::from_secs(6);
    let client = connected_client(cfg).await;
    assert!(eventually(|| client.pool().open_peers().len() == 2).await);
    // The first HSS hangs: it neither answers UDRs nor DWRs.
    first.set_behaviour(Behaviour::Drop);
    first.set_answer_watchdog(false);
    assert_eq!(client.msisdn_for(BOB).await, Ok(BOB_MSISDN.to_string()));
    assert_eq!(first.udr_count(), 1);
    assert_eq!(second.udr_count(), 1);
    assert_eq!(
        second.counters().udr_retransmitted.load(Ordering::Relaxed),
        1,
        "the failed-over UDR carries the T flag"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn shutdown_sends_dpr_rfc6733_5_4() {
    let hss = hss("hss1.example").await;
    let client = connected_client(config(&[hss.addr().to_string()])).await;
    client.shutdown().await;
    assert!(eventually(|| hss.counters().dpr.load(Ordering::Relaxed) == 1).await);
}

#[tokio::test]
async fn no_reachable_peer_is_peer_down_after_the_timeout() {
    // A port with nothing listening: bind, note it, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe port");
    let mut cfg = config(&[addr.to_string()]);
    cfg.request_timeout = Duration::from_millis(200);
    let client = diameter::sh_client::ShClient::start(cfg);
    let err = client.msisdn_for(BOB).await.unwrap_err();
    assert_eq!(err, ShError::PeerDown);
    assert!(err.is_transient());
    client.shutdown().await;
}

#[tokio::test]
async fn concurrent_lookups_of_one_identity_share_one_udr() {
    let hss = hss("hss1.example").await;
    let client = std::sync::Arc::new(connected_client(config(&[hss.addr().to_string()])).await);
    hss.set_behaviour(Behaviour::Delay(Duration::from_millis(50)));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        set.spawn(async move { client.msisdn_for(BOB).await });
    }
    while let Some(result) = set.join_next().await {
        assert_eq!(result.expect("task"), Ok(BOB_MSISDN.to_string()));
    }
    assert_eq!(hss.udr_count(), 1);
    client.shutdown().await;
}
