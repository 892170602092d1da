//! Network-asserted identity on MM1 (DESIGN.md §6): spoofing attempts refused, WAP gateway
//! enrichment, and RADIUS accounting bindings driven by FreeRADIUS `radclient`.

use mms_pdu::{EncodedString, FromAddress, Pdu, ResponseStatus, RetrieveStatus};
use mms_store::{OutboxKind, Store};
use test_peers::external::{radclient_acct, radclient_missing};

use crate::mm1_support::{
    GATEWAY, PROXY, RADIUS_SECRET, Relay, STRANGER, WAIT, mm_of, send_req, test_config,
};

const ALICE: &str = "sip:alice@a.example";
const BOB: &str = "sip:bob@a.example";

#[tokio::test]
async fn from_that_is_not_an_asserted_identity_is_refused_with_227() {
    let relay = Relay::start(test_config()).await;
    let ua = relay.ua(PROXY).asserted(ALICE);
    let mut req = send_req(&[BOB], "spoof");
    req.from = FromAddress::Present(EncodedString::plain("sip:mallory@a.example"));
    let c = ua.send(req.into()).await;
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED
    );
    // The sender's own identity, written in another form, is accepted.
    let mut req = send_req(&[BOB], "mine");
    req.from = FromAddress::Present(EncodedString::plain("sip%3Aalice%40A.EXAMPLE/TYPE=SIP"));
    assert_eq!(
        ua.send(req.into()).await.response_status,
        ResponseStatus::OK
    );
    relay.stop().await;
}

#[tokio::test]
async fn identity_headers_from_untrusted_address_are_ignored_and_service_denied_225() {
    let relay = Relay::start(test_config()).await;
    let forged = relay
        .ua(STRANGER)
        .asserted(ALICE)
        .with("X-MSISDN", "447000000001")
        .with("X-Forwarded-For", "127.0.0.1");
    let c = forged.send(send_req(&[BOB], "forged").into()).await;
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    // No identity at all.
    let c = relay.ua(PROXY).send(send_req(&[BOB], "anon").into()).await;
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    assert!(relay.items(OutboxKind::Resolve).await.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn wap_gateway_msisdn_maps_to_subscriber_impu_for_insert_address() {
    let relay = Relay::start(test_config()).await;
    relay
        .store
        .put_subscriber(ALICE, "447000000001")
        .await
        .unwrap();
    let ua = relay
        .ua(GATEWAY)
        .with("X-WAP-Network-Client-MSISDN", "+447000000001");
    assert_eq!(
        ua.send(send_req(&[BOB], "gw").into()).await.response_status,
        ResponseStatus::OK
    );
    let mm_id = mm_of(&relay, BOB).await;
    assert_eq!(
        relay.store.mm(&mm_id).await.unwrap().unwrap().meta.from,
        ALICE
    );
    // The MSISDN's tel URI is an identity too.
    let mut req = send_req(&[BOB], "gw tel");
    req.from = FromAddress::Present(EncodedString::plain("+447000000001/TYPE=PLMN"));
    assert_eq!(
        ua.send(req.into()).await.response_status,
        ResponseStatus::OK
    );
    relay.stop().await;
}

#[tokio::test]
async fn another_users_retrieval_url_and_guessed_tokens_find_nothing() {
    let relay = Relay::start(test_config()).await;
    relay
        .ua(PROXY)
        .asserted(ALICE)
        .send(send_req(&[BOB], "private").into())
        .await;
    let mm_id = mm_of(&relay, BOB).await;
    relay.resolve_local(&mm_id, BOB).await;
    let token = relay.token_for(BOB).await;
    let not_found = |pdu: Pdu| match pdu {
        Pdu::RetrieveConf(c) => {
            c.retrieve_status == Some(RetrieveStatus::ERROR_PERMANENT_MESSAGE_NOT_FOUND)
        }
        _ => false,
    };
    // Carol holds Bob's URL.
    let carol = relay.ua(PROXY).asserted("sip:carol@a.example");
    let (status, pdu) = carol.get(&format!("{}/m/{token}", relay.url)).await;
    assert_eq!(status, 200);
    assert!(not_found(pdu));
    // Guessed and malformed tokens.
    let bob = relay.ua(PROXY).asserted(BOB);
    for guess in ["00000000000000000000000000000000", "../../mmsrelay.db", ""] {
        let (_, pdu) = bob.get(&format!("{}/m/{guess}", relay.url)).await;
        assert!(not_found(pdu), "{guess}");
    }
    // Carol cannot acknowledge Bob's message either.
    let ack = mms_pdu::AcknowledgeInd {
        transaction_id: token.clone(),
        ..Default::default()
    };
    assert_eq!(carol.post(Pdu::from(ack).encode()).await.0, 403);
    // Bob can.
    let (_, pdu) = bob.get(&format!("{}/m/{token}", relay.url)).await;
    assert!(matches!(pdu, Pdu::RetrieveConf(c) if c.retrieve_status.is_none()));
    relay.stop().await;
}

#[tokio::test]
async fn gateway_msisdn_identities_come_from_the_hss_over_sh_ts_29_328() {
    use diameter::sh_client::{ShClient, ShConfig};
    use std::sync::Arc;
    let hss = test_peers::hss::TestHss::start("hss.a.example")
        .await
        .expect("bind HSS");
    hss.add_subscriber("447000000007", &["sip:erin@a.example", "tel:+447000000007"]);
    let sh = ShClient::start(ShConfig {
        peers: vec![hss.addr().to_string()],
        origin_host: "mms.a.example".into(),
        origin_realm: "a.example".into(),
        destination_realm: "a.example".into(),
        request_timeout: std::time::Duration::from_secs(3),
        connect_timeout: std::time::Duration::from_secs(2),
        ..ShConfig::default()
    });
    assert!(sh.pool().wait_open(WAIT).await, "no HSS connection");
    let relay = Relay::start_with_hss(test_config(), Some(Arc::new(sh))).await;
    let ua = relay.ua(GATEWAY).with("X-Nokia-MSISDN", "447000000007");
    assert_eq!(
        ua.send(send_req(&[BOB], "sh").into()).await.response_status,
        ResponseStatus::OK
    );
    let mm_id = mm_of(&relay, BOB).await;
    assert_eq!(
        relay.store.mm(&mm_id).await.unwrap().unwrap().meta.from,
        "sip:erin@a.example"
    );
    assert_eq!(hss.udr_count(), 1);
    // An identity the HSS does not list for the MSISDN is refused.
    let mut req = send_req(&[BOB], "not erin's");
    req.from = FromAddress::Present(EncodedString::plain("sip:frank@a.example"));
    assert_eq!(
        ua.send(req.into()).await.response_status,
        ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED
    );
    relay.stop().await;
    hss.stop().await;
}

// ---- RADIUS accounting by FreeRADIUS radclient, then MM1 from the bound address ----

fn acct(status: &str, ip: &str, msisdn: &str, session: &str) -> String {
    format!(
        "Acct-Status-Type = {status}\nFramed-IP-Address = {ip}\nCalling-Station-Id = \"{msisdn}\"\nAcct-Session-Id = \"{session}\"\n"
    )
}

#[tokio::test]
async fn radclient_binding_authenticates_mm1_from_bound_ip_until_stop_rfc2866() {
    if radclient_missing() {
        return;
    }
    let relay = Relay::start(test_config()).await;
    let radius = relay.radius.as_ref().unwrap().local_addr;
    relay
        .store
        .put_subscriber(ALICE, "447000000001")
        .await
        .unwrap();

    assert!(
        radclient_acct(
            radius,
            RADIUS_SECRET,
            &acct("Start", "127.0.0.3", "+447000000001", "s1")
        )
        .await
    );
    let binding = relay
        .store
        .radius_binding("127.0.0.3")
        .await
        .unwrap()
        .expect("binding stored before the answer");
    assert_eq!(binding.msisdn, "447000000001");

    let ua = relay.ua("127.0.0.3");
    assert_eq!(
        ua.send(send_req(&[BOB], "via radius").into())
            .await
            .response_status,
        ResponseStatus::OK
    );
    let mm_id = mm_of(&relay, BOB).await;
    assert_eq!(
        relay.store.mm(&mm_id).await.unwrap().unwrap().meta.from,
        ALICE
    );

    // A forged authenticator (wrong secret) binds nothing and gets no answer.
    assert!(
        !radclient_acct(
            radius,
            "not-the-secret",
            &acct("Start", "127.0.0.5", "447000000009", "s9")
        )
        .await
    );
    assert!(
        relay
            .store
            .radius_binding("127.0.0.5")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        relay
            .radius
            .as_ref()
            .unwrap()
            .stats
            .snapshot()
            .bad_authenticator,
        1
    );
    let c = relay
        .ua("127.0.0.5")
        .send(send_req(&[BOB], "x").into())
        .await;
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );

    // Stop ends the binding.
    assert!(
        radclient_acct(
            radius,
            RADIUS_SECRET,
            &acct("Stop", "127.0.0.3", "+447000000001", "s1")
        )
        .await
    );
    assert!(
        relay
            .store
            .radius_binding("127.0.0.3")
            .await
            .unwrap()
            .is_none()
    );
    let c = ua.send(send_req(&[BOB], "after stop").into()).await;
    assert_eq!(
        c.response_status,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    relay.stop().await;
}

#[tokio::test]
async fn radclient_accounting_on_clears_that_nas_bindings_so_its_old_ips_send_as_nobody_rfc2866() {
    if radclient_missing() {
        return;
    }
    let relay = Relay::start(test_config()).await;
    let radius = relay.radius.as_ref().unwrap().local_addr;
    let store = &relay.store;
    store.put_subscriber(ALICE, "447000000001").await.unwrap();
    store
        .put_subscriber("sip:carol@a.example", "447000000002")
        .await
        .unwrap();
    let via = |nas: &str, attributes: String| format!("{attributes}NAS-IP-Address = {nas}\n");
    // Alice's session on NAS 192.0.2.9, carol's on NAS 192.0.2.10 (both through the one client).
    for (nas, ip, msisdn, session) in [
        ("192.0.2.9", "127.0.0.3", "447000000001", "a1"),
        ("192.0.2.10", "127.0.0.6", "447000000002", "c1"),
    ] {
        assert!(
            radclient_acct(
                radius,
                RADIUS_SECRET,
                &via(nas, acct("Start", ip, msisdn, session))
            )
            .await
        );
    }
    let send_from = |ip: &'static str| {
        let ua = relay.ua(ip);
        async move { ua.send(send_req(&[BOB], "x").into()).await.response_status }
    };
    assert_eq!(send_from("127.0.0.3").await, ResponseStatus::OK);

    // NAS 192.0.2.9 reboots (Accounting-On): whoever gets 127.0.0.3 next is not alice.
    assert!(
        radclient_acct(
            radius,
            RADIUS_SECRET,
            "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 192.0.2.9\n"
        )
        .await
    );
    assert!(store.radius_binding("127.0.0.3").await.unwrap().is_none());
    assert_eq!(
        send_from("127.0.0.3").await,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    // The other NAS's subscriber is untouched until that NAS goes down (Accounting-Off).
    assert_eq!(send_from("127.0.0.6").await, ResponseStatus::OK);
    assert!(
        radclient_acct(
            radius,
            RADIUS_SECRET,
            "Acct-Status-Type = Accounting-Off\nNAS-IP-Address = 192.0.2.10\n"
        )
        .await
    );
    assert_eq!(
        send_from("127.0.0.6").await,
        ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED
    );
    relay.stop().await;
}
