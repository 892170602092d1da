//! MM4 between relays over STARTTLS (RFC 3207) with `[mm4] tls_outbound`, `tls_ca_file` and
//! `tls_pins`, and the refusals of a certificate that does not verify or is not pinned.

use std::net::SocketAddr;

use mm4_smtp::{Host, OutboundEnvelope, SendError, SmtpClient};
use relay::mm4::{Mm4Config, OutboundTls, outbound_tls};

use crate::hostile::make_pki;
use crate::work_support::*;

fn sha256_hex(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// What the relay's outbound client gets from B's listener with `config`'s TLS settings.
async fn try_send(config: &Mm4Config, to: SocketAddr) -> Result<(), SendError> {
    let mut client = mm4_smtp::ClientConfig::new("mms.a.example");
    client.tls = outbound_tls(config).unwrap();
    client.require_tls = true;
    let host = Host {
        name: to.ip().to_string(),
        addr: to,
    };
    let envelope = OutboundEnvelope {
        mail_from: "system-user@mms.a.example".into(),
        rcpt_to: vec!["+4917612345678/TYPE=PLMN@mms.b.example".into()],
    };
    SmtpClient::new(client)
        .send(&[host], &envelope, b"Subject: x\r\n\r\nx\r\n")
        .await
        .map(|_| ())
}

#[tokio::test]
async fn relay_to_relay_mm4_goes_over_starttls_and_a_wrong_certificate_is_refused() {
    let pki = make_pki();
    let peers = Peers::start().await;
    let mut b_mm4 = TestRelay::loopback_mm4();
    b_mm4.tls_cert = Some(pki.files.cert.clone());
    b_mm4.tls_key = Some(pki.files.key.clone());
    let mut a_mm4 = TestRelay::loopback_mm4();
    a_mm4.tls_outbound = OutboundTls::Require;
    a_mm4.tls_ca_file = Some(pki.ca_file.clone());
    a_mm4.tls_pins = vec![sha256_hex(&pki.leaf_der)];
    let (a, b) = peers.pair(a_mm4, b_mm4, "b.example").await;
    // Forwarded means B answered 250, and with `require` only over TLS.
    forward_mm1(&a.store, "sip:alice@a.example", "sip:bob@b.example", "tls").await;

    // The same settings reach B directly; another CA, or another pin, is refused (transient:
    // the MM waits for the peer's certificate to be fixed, it is not failed).
    // (B answers the bare test message at DATA; what matters is that TLS was agreed.)
    match try_send(&a.mm4, b.mm4_addr).await {
        Ok(()) => {}
        Err(e) => assert!(
            !matches!(e, SendError::Tls(_) | SendError::TlsRequired(_)),
            "{e}"
        ),
    }
    let other = make_pki();
    let mut wrong_ca = a.mm4.clone();
    wrong_ca.tls_ca_file = Some(other.ca_file.clone());
    wrong_ca.tls_pins.clear();
    let err = try_send(&wrong_ca, b.mm4_addr).await.unwrap_err();
    assert!(
        matches!(err, SendError::Tls(_)) && err.is_transient(),
        "{err}"
    );
    let mut wrong_pin = a.mm4.clone();
    wrong_pin.tls_pins = vec![sha256_hex(&other.leaf_der)];
    let err = try_send(&wrong_pin, b.mm4_addr).await.unwrap_err();
    assert!(err.to_string().contains("tls_pins"), "{err}");
    // A bad pin or a missing CA file is a start error.
    let mut bad = a.mm4.clone();
    bad.tls_pins = vec!["abcd".into()];
    assert!(outbound_tls(&bad).is_err());
    bad.tls_pins.clear();
    bad.tls_ca_file = None;
    assert!(outbound_tls(&bad).is_err());
    // The MM4 out workers take their TLS settings from the same [mm4] and refuse to start.
    let started = relay::mm4::spawn_workers(
        &bad,
        a.me.clone(),
        a.store.clone(),
        resolver(&peers.dns, a.resolver_config.clone()),
        a.wake.clone(),
        a.cancel.clone(),
    );
    assert!(
        matches!(started, Err(relay::mm4::StartError::NoCaFile)),
        "{:?}",
        started.map(|_| ())
    );
    a.stop().await;
    b.stop().await;
}
