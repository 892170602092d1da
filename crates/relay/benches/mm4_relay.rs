//! MM4 and push throughput (DESIGN.md §11), on loopback, load generator in the same process:
//!
//! * `relay->relay`: N MMs accepted at relay A (SQLite) are routed (peering table), built as
//!   `MM4_forward.REQ`, sent over reused SMTP connections to relay B, stored durably there
//!   (`accept_mm` + ResolveJob) and marked `Forwarded` at A. Timed from starting A's workers
//!   until every recipient is `Forwarded`.
//! * `mm4-in`: pre-encoded `MM4_forward.REQ` sent straight to relay B's listener by C concurrent
//!   senders over one pooled SMTP client (B decodes, stores, answers 250).
//! * `push`: `m-notification-ind` WAP pushes (2 SMS each) through the SMPP client (window 64) to
//!   the SMSC sink, C at once.
//!
//! `cargo bench -p relay --bench mm4_relay -- [--count N] [--concurrency C] [--sizes 1024,30720]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mm4::{ForwardParams, Mm4Address, Mm4Message};
use mm4_smtp::{ClientConfig, Host, OutboundEnvelope, SmtpClient};
use mms_address::Address;
use mms_pdu::{
    Body, ContentType, EncodedString, FromAddress, MediaType, MmsVersion, NotificationInd, Part,
    Pdu, SendReq, TimeSpec,
};
use mms_resolver::{PeerConfig, ResolverConfig};
use mms_store::{
    MmMeta, NewMm, NewRecipient, Origin, RecipientState, RetrievalToken, SqliteStore, Store,
    Timestamp,
};
use relay::jobs::{Job, ResolveJob};
use relay::mm4::{Mm4Config, Mm4Identity};
use relay::notifier::{NotifierConfig, PushSender, SmscConfig};
use relay::routing::{QueueTuning, RoutingConfig};
use relay::worker::Wake;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

#[path = "support/args.rs"]
mod args;

struct Options {
    count: usize,
    concurrency: usize,
    sizes: Vec<usize>,
}

fn options() -> Options {
    Options {
        count: args::arg("--count", 3000),
        concurrency: args::arg("--concurrency", 32),
        sizes: args::sizes(),
    }
}

fn send_req(size: usize) -> SendReq {
    let alice = Address::parse("sip:alice@a.example").unwrap();
    let bob = Address::parse("sip:bob@b.example").unwrap();
    SendReq {
        transaction_id: "t".into(),
        version: MmsVersion::V1_2,
        date: Some(1_800_000_000),
        from: FromAddress::Present(EncodedString::plain(alice.to_mms_enc())),
        to: vec![EncodedString::plain(bob.to_mms_enc())],
        subject: Some(EncodedString::utf8("bench")),
        expiry: Some(TimeSpec::Absolute(4_000_000_000)),
        content_type: ContentType::new(MediaType::MULTIPART_MIXED),
        body: Body::Multipart(vec![Part::new(
            ContentType::new(MediaType::TEXT_PLAIN),
            Bytes::from(vec![b'x'; size]),
        )]),
        ..Default::default()
    }
}

fn quick_queue(concurrency: usize) -> QueueTuning {
    QueueTuning {
        concurrency,
        poll_interval_ms: 20,
        retry_base_ms: 200,
        retry_cap_ms: 1000,
        ..QueueTuning::default()
    }
}

struct Relay {
    store: SqliteStore,
    me: Arc<Mm4Identity>,
    mm4: Mm4Config,
    addr: std::net::SocketAddr,
    wake: Wake,
    _dir: tempfile::TempDir,
}

async fn relay(domain: &str, cancel: &CancellationToken, concurrency: usize) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    let mm4 = Mm4Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        connections_per_peer: 16,
        ack_request: false,
        queue: quick_queue(concurrency),
        ..Mm4Config::default()
    };
    let resolver = ResolverConfig {
        own_sip_domains: vec![domain.into()],
        ..ResolverConfig::default()
    };
    let me = Arc::new(Mm4Identity::new(&format!("mms.{domain}"), &resolver, &mm4));
    let wake = Wake::new();
    let (addr, _server) = relay::mm4::spawn_server(
        &mm4,
        me.clone(),
        store.clone(),
        wake.clone(),
        cancel.clone(),
    )
    .await
    .unwrap();
    Relay {
        store,
        me,
        mm4,
        addr,
        wake,
        _dir: dir,
    }
}

async fn forwarded(store: &SqliteStore) -> i64 {
    let url = format!("sqlite://{}?mode=ro", store.path().display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("SELECT count(*) AS n FROM recipient WHERE state = 'forwarded'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get::<i64, _>("n")
}

async fn relay_to_relay(size: usize, o: &Options) {
    let cancel = CancellationToken::new();
    let a = relay("a.example", &cancel, o.concurrency).await;
    let b = relay("b.example", &cancel, o.concurrency).await;
    let req = send_req(size);
    let (headers, body) = relay::mm1::encode_for_store(&req);
    let now = Timestamp::now();
    for _ in 0..o.count {
        let message_id = format!("{:032x}@mms.a.example", rand::random::<u128>());
        let meta = MmMeta {
            message_id: message_id.clone(),
            transaction_id: "t".into(),
            from: "sip:alice@a.example".into(),
            mms_version: "1.2".into(),
            content_type: "application/vnd.wap.multipart.mixed".into(),
            subject: None,
            size: (headers.len() + body.len()) as u64,
            date: now,
            expiry: now.plus(Duration::from_secs(3600)),
            delivery_report: false,
            read_report: false,
            origin: Origin::Mm1 {
                identity: "sip:alice@a.example".into(),
            },
        };
        let rcpt = "sip:bob@b.example".to_owned();
        let item = ResolveJob::default().item(
            format!("resolve:{message_id}:{rcpt}"),
            None,
            Some(rcpt.clone()),
            now,
        );
        a.store
            .accept_mm(
                NewMm {
                    meta,
                    headers: headers.clone(),
                    body: body.clone(),
                },
                vec![NewRecipient {
                    address: rcpt,
                    state: RecipientState::Resolving,
                    retrieval_token: Some(RetrievalToken::generate()),
                }],
                vec![item],
                now,
            )
            .await
            .unwrap();
    }
    let resolver = Arc::new(
        mms_resolver::dns_resolver(ResolverConfig {
            own_sip_domains: vec!["a.example".into()],
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            peers: vec![PeerConfig {
                domain: "b.example".into(),
                mmse_domain: Some("mms.b.example".into()),
                hosts: vec![b.addr.to_string()],
            }],
            ..ResolverConfig::default()
        })
        .unwrap(),
    );
    let start = Instant::now();
    relay::routing::spawn(
        &RoutingConfig {
            queue: quick_queue(o.concurrency),
        },
        a.store.clone(),
        resolver.clone(),
        None,
        a.wake.clone(),
        cancel.clone(),
    );
    relay::mm4::spawn_workers(
        &a.mm4,
        a.me.clone(),
        a.store.clone(),
        resolver,
        a.wake.clone(),
        cancel.clone(),
    )
    .unwrap();
    let total = o.count as i64;
    loop {
        if forwarded(&a.store).await >= total {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "stuck");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "relay->relay  {:>6} B  {:>6} MMs in {:>6.2} s = {:>7.0} MM/s (routing + MM4 out at A, MM4 in at B, both SQLite)",
        size,
        o.count,
        secs,
        o.count as f64 / secs
    );
    cancel.cancel();
    drop(b.store);
}

async fn mm4_in(size: usize, o: &Options) {
    let cancel = CancellationToken::new();
    let b = relay("b.example", &cancel, o.concurrency).await;
    let req = send_req(size);
    let alice = Address::parse("sip:alice@a.example").unwrap();
    let bob = Address::parse("sip:bob@b.example").unwrap();
    let messages: Vec<(OutboundEnvelope, Vec<u8>)> = (0..o.count)
        .map(|i| {
            let mut p = ForwardParams::new(
                Mm4Address::new(alice.clone(), "mms.a.example").unwrap(),
                &format!("m{i}@mms.a.example"),
                &format!("t{i}"),
                1_800_000_000,
                "mms.a.example",
            );
            p.rcpt_to = vec![Mm4Address::new(bob.clone(), "mms.b.example").unwrap()];
            p.recipient_domains = vec![(bob.clone(), "mms.b.example".into())];
            let fwd = mm4::forward_req_from_send_req(&req, &p).unwrap();
            let (env, bytes) = mm4::encode(&Mm4Message::from(fwd));
            (
                OutboundEnvelope {
                    mail_from: env.mail_from,
                    rcpt_to: env.rcpt_to,
                },
                bytes,
            )
        })
        .collect();
    let mut config = ClientConfig::new("mms.a.example");
    config.max_connections_per_host = o.concurrency;
    let client = Arc::new(SmtpClient::new(config));
    let host = Arc::new(vec![Host {
        name: "b".into(),
        addr: b.addr,
    }]);
    let messages = Arc::new(messages);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let (client, host, messages, next) =
                (client.clone(), host.clone(), messages.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((env, bytes)) = messages.get(i) else {
                        break;
                    };
                    client.send(&host, env, bytes).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "mm4-in        {:>6} B  {:>6} MM4_forward.REQ in {:>6.2} s = {:>7.0} /s ({} senders, pooled connections)",
        size,
        o.count,
        secs,
        o.count as f64 / secs,
        o.concurrency
    );
    cancel.cancel();
}

async fn pushes(o: &Options) {
    let sink = test_peers::smsc::SmscSink::start().await.unwrap();
    let smsc = SmscConfig {
        port: sink.addr().port(),
        window: 64,
        ..SmscConfig::default()
    };
    let addr = sink.addr();
    let (client, _receipts) =
        smpp::client::Client::start(relay::notifier::client_config(&smsc, addr));
    let sender = Arc::new(PushSender::new(
        client.clone(),
        &smsc,
        &NotifierConfig::default(),
    ));
    let ni = NotificationInd {
        transaction_id: "00112233445566778899aabbccddeeff".into(),
        from: Some(FromAddress::Present(EncodedString::plain(
            "sip%3Aalice%40a.example/TYPE=SIP",
        ))),
        subject: Some(EncodedString::utf8("a subject of some length")),
        message_size: 30_000,
        expiry: TimeSpec::Absolute(4_000_000_000),
        content_location: "http://mms.b.example/mms/m/00112233445566778899aabbccddeeff".into(),
        ..Default::default()
    };
    let pdu = Arc::new(Pdu::from(ni).encode());
    let segments = sender.submits("4917612345678", &pdu).unwrap().len();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (sender, pdu, next) = (sender.clone(), pdu.clone(), next.clone());
            let count = o.count;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    sender
                        .send(&format!("49176{:08}", i % 1000), &pdu)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "push          {:>6} pushes ({} SMS each) in {:>6.2} s = {:>7.0} pushes/s ({:.0} submit_sm/s, window 64)",
        o.count,
        segments,
        secs,
        o.count as f64 / secs,
        (o.count * segments) as f64 / secs
    );
    client.shutdown().await;
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for &size in &o.sizes {
            relay_to_relay(size, &o).await;
        }
        for &size in &o.sizes {
            mm4_in(size, &o).await;
        }
        pushes(&o).await;
    });
}
