//! Integration tests of the RADIUS accounting codec (proptest round trip) and the UDP listener
//! (RFC 2866 §2–§4), driven by our own client and by FreeRADIUS `radclient`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use radius::server::{
    AccountingHandler, AccountingListener, Client, HandlerError, ListenerConfig, Stats,
};
use radius::{AccountingEvent, Attribute, Code, Packet, attr, verify_response};
use test_peers::external::{radclient_acct, radclient_missing};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

proptest! {
    #[test]
    fn decode_of_encode_is_identity_rfc2865_s3(
        code in any::<u8>(),
        identifier in any::<u8>(),
        authenticator in any::<[u8; 16]>(),
        attrs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..=253)), 0..12),
    ) {
        let packet = Packet {
            code: Code::from_u8(code),
            identifier,
            authenticator,
            attributes: attrs.into_iter().map(|(kind, value)| Attribute { kind, value }).collect(),
        };
        let raw = packet.encode().unwrap();
        prop_assert_eq!(Packet::decode(&raw).unwrap(), packet);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Packet::decode(&raw);
        let _ = radius::verify_accounting_request(&raw, b"secret");
    }
}

/// Records applied events; fails the first `fail_first` calls (a store that is down).
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<AccountingEvent>>,
    fail_first: Mutex<usize>,
}

impl AccountingHandler for Recorder {
    async fn apply(&self, event: AccountingEvent, _from: SocketAddr) -> Result<(), HandlerError> {
        {
            let mut f = self.fail_first.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(HandlerError("store unavailable".into()));
            }
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

struct Running {
    addr: SocketAddr,
    stats: Arc<Stats>,
    handler: Arc<Recorder>,
    _stop: oneshot::Sender<()>,
}

async fn start(clients: Vec<Client>, handler: Recorder) -> Running {
    let listener =
        AccountingListener::bind("127.0.0.1:0".parse().unwrap(), ListenerConfig::new(clients))
            .await
            .unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = listener.stats();
    let handler = Arc::new(handler);
    let (stop, stopped) = oneshot::channel::<()>();
    let h = handler.clone();
    tokio::spawn(async move {
        listener
            .run(h, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        stats,
        handler,
        _stop: stop,
    }
}

fn loopback(secret: &str) -> Client {
    Client {
        net: "127.0.0.0/8".parse().unwrap(),
        secret: secret.as_bytes().to_vec(),
    }
}

fn start_request(id: u8, ip: [u8; 4], msisdn: &str) -> Packet {
    Packet::new(Code::AccountingRequest, id)
        .with(attr::ACCT_STATUS_TYPE, 1u32.to_be_bytes().to_vec())
        .with(attr::FRAMED_IP_ADDRESS, ip.to_vec())
        .with(attr::CALLING_STATION_ID, msisdn.as_bytes().to_vec())
        .with(attr::ACCT_SESSION_ID, b"s-1".to_vec())
}

/// Sends `raw` and waits up to `wait` for one reply.
async fn exchange(sock: &UdpSocket, to: SocketAddr, raw: &[u8], wait: Duration) -> Option<Vec<u8>> {
    sock.send_to(raw, to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn start_is_applied_then_answered_with_valid_response_authenticator_rfc2866_s3() {
    let srv = start(vec![loopback("sekret")], Recorder::default()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut req = start_request(7, [10, 0, 0, 7], "491701234567");
    let raw = req.encode_accounting_request(b"sekret").unwrap();
    let reply = exchange(&sock, srv.addr, &raw, Duration::from_secs(5))
        .await
        .expect("answer");
    let resp = verify_response(&reply, &req.authenticator, b"sekret").unwrap();
    assert_eq!((resp.code, resp.identifier), (Code::AccountingResponse, 7));
    let events = srv.handler.events.lock().unwrap().clone();
    assert!(matches!(&events[..], [AccountingEvent::Start(s)]
        if s.ip == Some(Ipv4Addr::new(10, 0, 0, 7)) && s.msisdn.as_deref() == Some("491701234567")));
}

#[tokio::test]
async fn retransmission_is_answered_again_without_reapplying_rfc2865_s3() {
    let srv = start(vec![loopback("k")], Recorder::default()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut req = start_request(9, [10, 0, 0, 9], "4917000");
    let raw = req.encode_accounting_request(b"k").unwrap();
    let first = exchange(&sock, srv.addr, &raw, Duration::from_secs(5))
        .await
        .expect("first answer");
    let second = exchange(&sock, srv.addr, &raw, Duration::from_secs(5))
        .await
        .expect("second answer");
    assert_eq!(first, second);
    assert_eq!(srv.handler.events.lock().unwrap().len(), 1);
    assert_eq!(srv.stats.snapshot().duplicates, 1);
}

#[tokio::test]
async fn handler_failure_leaves_request_unanswered_so_client_retries_rfc2866_s2() {
    let rec = Recorder {
        fail_first: Mutex::new(1),
        ..Recorder::default()
    };
    let srv = start(vec![loopback("k")], rec).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut req = start_request(3, [10, 0, 0, 3], "4917003");
    let raw = req.encode_accounting_request(b"k").unwrap();
    assert_eq!(
        exchange(&sock, srv.addr, &raw, Duration::from_millis(500)).await,
        None
    );
    // The retransmission is applied this time (the failed attempt was forgotten).
    assert!(
        exchange(&sock, srv.addr, &raw, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert_eq!(srv.handler.events.lock().unwrap().len(), 1);
    assert_eq!(srv.stats.snapshot().handler_failed, 1);
}

#[tokio::test]
async fn unknown_client_and_bad_authenticator_are_dropped_and_counted_rfc2865_s3() {
    let only_other = Client {
        net: "192.0.2.0/24".parse().unwrap(),
        secret: b"k".to_vec(),
    };
    let srv = start(vec![only_other], Recorder::default()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut req = start_request(1, [10, 0, 0, 1], "1");
    let raw = req.encode_accounting_request(b"k").unwrap();
    assert_eq!(
        exchange(&sock, srv.addr, &raw, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(srv.stats.snapshot().unknown_client, 1);

    let srv = start(vec![loopback("right")], Recorder::default()).await;
    let raw = req.encode_accounting_request(b"wrong").unwrap();
    assert_eq!(
        exchange(&sock, srv.addr, &raw, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(
        exchange(&sock, srv.addr, &[4, 1, 0], Duration::from_millis(300)).await,
        None
    );
    let s = srv.stats.snapshot();
    assert_eq!((s.bad_authenticator, s.malformed, s.answered), (1, 1, 0));
    assert!(srv.handler.events.lock().unwrap().is_empty());
}

// ---- radclient (FreeRADIUS) as an independent accounting client ----

#[tokio::test]
async fn radclient_start_interim_stop_are_applied_and_answered_rfc2866_s5_1() {
    if radclient_missing() {
        return;
    }
    let srv = start(vec![loopback("testing123")], Recorder::default()).await;
    let common = "Framed-IP-Address = 10.20.30.40\nCalling-Station-Id = \"491701112233\"\nUser-Name = \"bob\"\nAcct-Session-Id = \"sess-42\"\nNAS-IP-Address = 192.0.2.1\n";
    for status in ["Start", "Interim-Update", "Stop"] {
        let attrs = format!("Acct-Status-Type = {status}\n{common}");
        assert!(
            radclient_acct(srv.addr, "testing123", &attrs).await,
            "radclient got no answer for {status}"
        );
    }
    let events = srv.handler.events.lock().unwrap().clone();
    assert_eq!(events.len(), 3);
    let info = match &events[0] {
        AccountingEvent::Start(s) => s.clone(),
        other => panic!("expected Start, got {other:?}"),
    };
    assert_eq!(info.ip, Some(Ipv4Addr::new(10, 20, 30, 40)));
    assert_eq!(info.msisdn.as_deref(), Some("491701112233"));
    assert_eq!(info.user_name.as_deref(), Some("bob"));
    assert_eq!(info.session_id.as_deref(), Some("sess-42"));
    assert_eq!(info.nas, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(events[1], AccountingEvent::Interim(info.clone()));
    assert_eq!(events[2], AccountingEvent::Stop(info));
    assert_eq!(srv.stats.snapshot().answered, 3);
}

#[tokio::test]
async fn radclient_with_wrong_secret_gets_no_answer_and_is_counted_rfc2866_s3() {
    if radclient_missing() {
        return;
    }
    let srv = start(vec![loopback("testing123")], Recorder::default()).await;
    let attrs =
        "Acct-Status-Type = Start\nFramed-IP-Address = 10.0.0.1\nCalling-Station-Id = \"4917\"\n";
    assert!(!radclient_acct(srv.addr, "not-the-secret", attrs).await);
    assert_eq!(srv.stats.snapshot().bad_authenticator, 1);
    assert!(srv.handler.events.lock().unwrap().is_empty());
}

/// Holds each event until released, telling the test when it started.
struct Gate {
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    release: Arc<tokio::sync::Notify>,
}

impl AccountingHandler for Gate {
    async fn apply(&self, _event: AccountingEvent, _from: SocketAddr) -> Result<(), HandlerError> {
        let _ = self.entered.send(());
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn requests_beyond_max_in_flight_are_dropped_and_counted() {
    let mut config = ListenerConfig::new(vec![loopback("k")]);
    config.max_in_flight = 1;
    let listener = AccountingListener::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = listener.stats();
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = Arc::new(Gate {
        entered: entered_tx,
        release: release.clone(),
    });
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(listener.run(gate, async {
        let _ = stopped.await;
    }));
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut first = start_request(1, [10, 0, 0, 1], "1");
    sock.send_to(&first.encode_accounting_request(b"k").unwrap(), addr)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), entered.recv())
        .await
        .unwrap()
        .unwrap();
    let mut second = start_request(2, [10, 0, 0, 2], "2");
    let raw = second.encode_accounting_request(b"k").unwrap();
    assert_eq!(
        exchange(&sock, addr, &raw, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(stats.snapshot().overloaded, 1);
    release.notify_one();
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verify_response(&buf[..n], &first.authenticator, b"k")
            .unwrap()
            .identifier,
        1
    );
}
