//! Helpers of the routing / notifier / MM4 tests: SQLite stores in tempdirs, relays started from
//! their parts on 127.0.0.1, MMs accepted as the MM1 server stores them, pushes reassembled from
//! what the SMSC sink received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mm4::Mm4Message;
use mm4_smtp::{ClientConfig, Host, OutboundEnvelope, SendError, SendOutcome, SmtpClient};
use mms_address::Address;
use mms_pdu::{
    Body, ContentType, EncodedString, FromAddress, MediaType, MmsVersion, Part, Pdu, SendReq,
    TimeSpec,
};
use mms_resolver::{DnsResolver, PeerConfig, ResolverConfig, dns_resolver};
use mms_store::{
    MmId, MmMeta, NewMm, NewRecipient, Origin, RecipientRecord, RecipientState, RetrievalToken,
    SqliteStore, Store, Timestamp,
};
use relay::jobs::{Job, ResolveJob};
use relay::mm4::{Mm4Config, Mm4Identity};
use relay::notifier::{NotifierConfig, PushMode, SmscConfig};
use relay::routing::{QueueTuning, RoutingConfig};
use relay::worker::Wake;
use test_peers::dns::{DnsServer, DnsZone};
use test_peers::smsc::{Answer, SmscSink};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wap_push::{Ports, Reassembler, ReassemblyStatus, SarInfo};

/// Upper bound of every wait.
pub const LIMIT: Duration = Duration::from_secs(15);

/// The MM1 public URL of the test relays.
pub const PUBLIC_URL: &str = "http://mms.test.example/mms";

/// Fast polling and retries, so retried items come back within the test.
pub fn fast_queue() -> QueueTuning {
    QueueTuning {
        concurrency: 8,
        poll_interval_ms: 50,
        retry_base_ms: 100,
        retry_cap_ms: 400,
        ..QueueTuning::default()
    }
}

/// A fresh SQLite store in a tempdir.
pub async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    (dir, store)
}

/// An `m-send-req` from `from` to `to` (MMS ENC addresses), as the MM1 server stores it.
pub fn send_req(from: &Address, to: &[&Address], subject: &str, text: &str) -> SendReq {
    SendReq {
        transaction_id: "t-1".into(),
        version: MmsVersion::V1_2,
        date: Some(1_800_000_000),
        from: FromAddress::Present(EncodedString::plain(from.to_mms_enc())),
        to: to
            .iter()
            .map(|a| EncodedString::plain(a.to_mms_enc()))
            .collect(),
        subject: Some(EncodedString::utf8(subject)),
        expiry: Some(TimeSpec::Absolute(secs_now() + 3600)),
        delivery_report: Some(true),
        content_type: ContentType::new(MediaType::MULTIPART_MIXED),
        body: Body::Multipart(vec![Part::new(
            ContentType::new(MediaType::TEXT_PLAIN),
            Bytes::from(text.to_owned()),
        )]),
        ..Default::default()
    }
}

/// Seconds since the epoch now.
pub fn secs_now() -> u64 {
    u64::try_from(Timestamp::now().as_millis() / 1000).unwrap()
}

/// Stores an MM1 `m-send-req` the way the MM1 server does (one ResolveJob with the retrieval
/// token per recipient); returns its id and each recipient's token.
pub async fn accept_mm1(
    store: &SqliteStore,
    from: &str,
    to: &[&str],
    subject: &str,
) -> (MmId, Vec<(String, RetrievalToken)>) {
    accept_mm1_expiring(store, from, to, subject, Duration::from_secs(3600)).await
}

/// [`accept_mm1`] with an MM that expires after `lifetime`.
pub async fn accept_mm1_expiring(
    store: &SqliteStore,
    from: &str,
    to: &[&str],
    subject: &str,
    lifetime: Duration,
) -> (MmId, Vec<(String, RetrievalToken)>) {
    let sender = Address::parse(from).unwrap();
    let recipients: Vec<Address> = to.iter().map(|a| Address::parse(a).unwrap()).collect();
    let req = send_req(
        &sender,
        &recipients.iter().collect::<Vec<_>>(),
        subject,
        "hello bob",
    );
    let (headers, body) = relay::mm1::encode_for_store(&req);
    let now = Timestamp::now();
    let message_id = format!("{:032x}@mms.a.example", rand::random::<u128>());
    let meta = MmMeta {
        message_id: message_id.clone(),
        transaction_id: req.transaction_id.clone(),
        from: sender.to_string(),
        mms_version: "1.2".into(),
        content_type: "application/vnd.wap.multipart.mixed".into(),
        subject: Some(subject.into()),
        size: (headers.len() + body.len()) as u64,
        date: Timestamp::from_millis(1_800_000_000_000),
        expiry: now.plus(lifetime),
        delivery_report: true,
        read_report: false,
        origin: Origin::Mm1 {
            identity: sender.to_string(),
        },
    };
    let mut new = Vec::new();
    let mut outbox = Vec::new();
    let mut tokens = Vec::new();
    for r in &recipients {
        let address = r.to_string();
        let token = RetrievalToken::generate();
        outbox.push(
            ResolveJob {
                retrieval_token: Some(token.as_str().to_owned()),
            }
            .item(
                format!("resolve:{message_id}:{address}"),
                None,
                Some(address.clone()),
                now,
            ),
        );
        new.push(NewRecipient {
            address: address.clone(),
            state: RecipientState::Resolving,
            retrieval_token: Some(token.clone()),
        });
        tokens.push((address, token));
    }
    let outcome = store
        .accept_mm(
            NewMm {
                meta,
                headers,
                body,
            },
            new,
            outbox,
            now,
        )
        .await
        .unwrap();
    let mm_stored = match outcome {
        mms_store::AcceptOutcome::Stored { id, .. } => id,
        other => panic!("not stored: {other:?}"),
    };
    (mm_stored, tokens)
}

/// The record of one recipient.
pub async fn record(store: &SqliteStore, mm: &MmId, address: &str) -> RecipientRecord {
    store
        .recipients(mm)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.address == address)
        .expect("recipient stored")
}

/// Waits until `check` holds for the recipient's record; panics with the record after LIMIT.
pub async fn wait_record(
    store: &SqliteStore,
    mm: &MmId,
    address: &str,
    check: impl Fn(&RecipientRecord) -> bool,
) -> RecipientRecord {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let r = record(store, mm, address).await;
        if check(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recipient never reached the expected state: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a recipient state.
pub async fn wait_state(
    store: &SqliteStore,
    mm: &MmId,
    address: &str,
    state: RecipientState,
) -> RecipientRecord {
    wait_record(store, mm, address, |r| r.state == state).await
}

/// Stores an MM1 MM from `from` to `to` ([`accept_mm1`]) and waits until the relay has forwarded
/// it over MM4; its id and the recipient's record then.
pub async fn forward_mm1(
    store: &SqliteStore,
    from: &str,
    to: &str,
    subject: &str,
) -> (MmId, RecipientRecord) {
    let (mm, _) = accept_mm1(store, from, &[to], subject).await;
    let record = wait_state(store, &mm, to, RecipientState::Forwarded).await;
    (mm, record)
}

/// Every complete push the sink accepted, reassembled (UDH or SAR) and decoded: (destination,
/// MMS PDU).
pub fn pushes(sink: &SmscSink) -> Vec<(String, Pdu)> {
    let mut reassembler = Reassembler::new(Duration::from_secs(60), 10_000);
    let now = std::time::Instant::now();
    let mut out = Vec::new();
    for rec in sink
        .submits()
        .into_iter()
        .filter(|r| r.answer == Answer::Accept)
    {
        let sm = &rec.submit;
        let dest = sm.destination.address.clone();
        let status = if sm.esm_class & 0x40 != 0 {
            reassembler.push_user_data(&dest, &sm.short_message, now)
        } else {
            let sar = sm.sar().map(|(reference, total, sequence)| SarInfo {
                reference,
                total,
                sequence,
            });
            reassembler.push_sar(&dest, Some(Ports::WAP_PUSH), sar, &sm.short_message, now)
        }
        .expect("segment reassembles");
        if let ReassemblyStatus::Complete(m) = status {
            assert_eq!(
                m.ports,
                Some(Ports::WAP_PUSH),
                "WAP push ports 9200 -> 2948"
            );
            let push = m.push().expect("WSP push decodes");
            assert!(
                push.content_type.is_mms(),
                "application/vnd.wap.mms-message"
            );
            out.push((dest, Pdu::decode(&push.body).expect("MMS PDU decodes")));
        }
    }
    out
}

/// Waits until the sink holds `n` complete pushes and returns them.
pub async fn wait_pushes(sink: &SmscSink, n: usize) -> Vec<(String, Pdu)> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let p = pushes(sink);
        if p.len() >= n {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} pushes arrived",
            p.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `[smsc]` for the sink.
pub fn smsc_config(sink: &SmscSink) -> SmscConfig {
    SmscConfig {
        host: "127.0.0.1".into(),
        port: sink.addr().port(),
        response_timeout_ms: 2000,
        reconnect_max_ms: 200,
        ..SmscConfig::default()
    }
}

/// `[notifier]` with fast queues.
pub fn notifier_config(mode: PushMode) -> NotifierConfig {
    NotifierConfig {
        mode,
        queue: fast_queue(),
        ..NotifierConfig::default()
    }
}

/// A DNS zone with nothing in it but the origins (so no test query leaves the machine).
pub async fn empty_zone() -> DnsServer {
    DnsZone::new(["example", "e164.arpa"])
        .serve()
        .await
        .unwrap()
}

/// A resolver asking `dns` only.
pub fn resolver(dns: &DnsServer, config: ResolverConfig) -> Arc<DnsResolver> {
    Arc::new(
        dns_resolver(ResolverConfig {
            nameservers: vec![dns.addr()],
            lookup_timeout_ms: 500,
            ..config
        })
        .unwrap(),
    )
}

/// A relay of the test: store, MM4 listener, and the workers once started.
pub struct TestRelay {
    pub store: SqliteStore,
    pub wake: Wake,
    pub cancel: CancellationToken,
    pub me: Arc<Mm4Identity>,
    pub mm4_addr: SocketAddr,
    pub mm4: Mm4Config,
    pub resolver_config: ResolverConfig,
    handles: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestRelay {
    /// Opens the store and starts the MM4 listener of the relay serving `sip_domain`
    /// (MMSE domain `mms.<sip_domain>`), on `listen` (port 0: any).
    pub async fn start(sip_domain: &str, listen: SocketAddr, peers: Vec<String>) -> Self {
        Self::start_with(sip_domain, Self::mm4_config(listen, peers)).await
    }

    /// The `[mm4]` of [`TestRelay::start`]: 1 s connect timeout, fast queue.
    pub fn mm4_config(listen: SocketAddr, peers: Vec<String>) -> Mm4Config {
        Mm4Config {
            listen,
            peers,
            connect_timeout_ms: 1000,
            queue: fast_queue(),
            ..Mm4Config::default()
        }
    }

    /// The `[mm4]` of a relay on any loopback port taking MM4 from loopback only.
    pub fn loopback_mm4() -> Mm4Config {
        Self::mm4_config(any_port(), loopback())
    }

    /// As [`TestRelay::start`] with a whole `[mm4]` (e.g. with TLS).
    pub async fn start_with(sip_domain: &str, mm4: Mm4Config) -> Self {
        let (dir, store) = store().await;
        let resolver_config = ResolverConfig {
            own_sip_domains: vec![sip_domain.into()],
            ..ResolverConfig::default()
        };
        let me = Arc::new(Mm4Identity::new(
            &format!("mms.{sip_domain}"),
            &resolver_config,
            &mm4,
        ));
        let wake = Wake::new();
        let cancel = CancellationToken::new();
        let (mm4_addr, server) = relay::mm4::spawn_server(
            &mm4,
            me.clone(),
            store.clone(),
            wake.clone(),
            cancel.clone(),
        )
        .await
        .unwrap();
        Self {
            store,
            wake,
            cancel,
            me,
            mm4_addr,
            mm4,
            resolver_config,
            handles: vec![tokio::spawn(async move {
                let _ = server.await;
            })],
            _dir: dir,
        }
    }

    /// Starts routing, the notifier (to `sink`) and MM4 out, with `peers` in the peering table.
    pub async fn start_workers(
        &mut self,
        dns: &DnsServer,
        peers: Vec<PeerConfig>,
        sink: &SmscSink,
    ) {
        let resolver = resolver(
            dns,
            ResolverConfig {
                peers,
                ..self.resolver_config.clone()
            },
        );
        let routing = RoutingConfig {
            queue: fast_queue(),
        };
        self.handles.push(relay::routing::spawn(
            &routing,
            self.store.clone(),
            resolver.clone(),
            None,
            self.wake.clone(),
            self.cancel.clone(),
        ));
        self.handles.push(
            relay::notifier::spawn(
                &notifier_config(PushMode::Udh),
                &smsc_config(sink),
                PUBLIC_URL,
                self.store.clone(),
                None,
                self.wake.clone(),
                self.cancel.clone(),
            )
            .await
            .unwrap(),
        );
        self.handles.push(
            relay::mm4::spawn_workers(
                &self.mm4,
                self.me.clone(),
                self.store.clone(),
                resolver,
                self.wake.clone(),
                self.cancel.clone(),
            )
            .unwrap(),
        );
    }

    /// Puts `(IMPU, MSISDN)` into the subscriber table.
    pub async fn subscribe(&self, (impu, msisdn): (&str, &str)) {
        self.store.put_subscriber(impu, msisdn).await.unwrap();
    }

    /// Stops every task of the relay.
    pub async fn stop(self) {
        self.cancel.cancel();
        for h in self.handles {
            let _ = tokio::time::timeout(LIMIT, h).await;
        }
    }
}

/// Any free port on 127.0.0.1.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The MM4 peer networks of the test relays: loopback.
pub fn loopback() -> Vec<String> {
    vec!["127.0.0.0/8".into()]
}

/// Alice, relay A's subscriber: IMPU and MSISDN.
pub const ALICE_AT_A: (&str, &str) = ("sip:alice@a.example", "441000000001");
/// Bob, relay B's subscriber: IMPU and MSISDN.
pub const BOB_AT_B: (&str, &str) = ("sip:bob@b.example", "4917612345678");

/// What every relay of these tests meets: an empty DNS zone and one SMSC sink.
pub struct Peers {
    pub dns: DnsServer,
    pub sink: SmscSink,
}

impl Peers {
    /// Starts both on 127.0.0.1.
    pub async fn start() -> Self {
        Self {
            dns: empty_zone().await,
            sink: SmscSink::start().await.unwrap(),
        }
    }

    /// A relay serving `sip_domain` on any loopback port (MM4 from loopback only) with all its
    /// workers, sending each `(domain, MM4 address)` of `routes` there, `subscriber` (IMPU,
    /// MSISDN) in its table.
    pub async fn relay(
        &self,
        sip_domain: &str,
        routes: &[(&str, SocketAddr)],
        subscriber: (&str, &str),
    ) -> TestRelay {
        self.relay_with(sip_domain, TestRelay::loopback_mm4(), routes, subscriber)
            .await
    }

    /// [`Peers::relay`] with a whole `[mm4]`.
    pub async fn relay_with(
        &self,
        sip_domain: &str,
        mm4: Mm4Config,
        routes: &[(&str, SocketAddr)],
        subscriber: (&str, &str),
    ) -> TestRelay {
        let mut relay = TestRelay::start_with(sip_domain, mm4).await;
        let peers = routes.iter().map(|(d, addr)| peer(d, *addr)).collect();
        relay.start_workers(&self.dns, peers, &self.sink).await;
        relay.subscribe(subscriber).await;
        relay
    }

    /// [`Peers::pair`] with both relays on any loopback port, taking MM4 from loopback only.
    pub async fn loopback_pair(&self, a_sends: &str) -> (TestRelay, TestRelay) {
        self.pair(
            TestRelay::loopback_mm4(),
            TestRelay::loopback_mm4(),
            a_sends,
        )
        .await
    }

    /// Relay A (a.example, alice) and relay B (b.example, bob) with `[mm4]` `a_mm4` and `b_mm4`
    /// and all their workers: A sends `a_sends` (a domain) to B, B sends a.example to A.
    pub async fn pair(
        &self,
        a_mm4: Mm4Config,
        b_mm4: Mm4Config,
        a_sends: &str,
    ) -> (TestRelay, TestRelay) {
        let mut a = TestRelay::start_with("a.example", a_mm4).await;
        let mut b = TestRelay::start_with("b.example", b_mm4).await;
        a.start_workers(&self.dns, vec![peer(a_sends, b.mm4_addr)], &self.sink)
            .await;
        b.start_workers(&self.dns, vec![peer("a.example", a.mm4_addr)], &self.sink)
            .await;
        a.subscribe(ALICE_AT_A).await;
        b.subscribe(BOB_AT_B).await;
        (a, b)
    }
}

/// The peering-table entry routing `domain` (and its subdomains) to `addr`.
pub fn peer(domain: &str, addr: SocketAddr) -> PeerConfig {
    PeerConfig {
        domain: domain.into(),
        mmse_domain: Some(format!("mms.{domain}")),
        hosts: vec![addr.to_string()],
    }
}

/// A peer relay sending MM4 to one relay's listener with the relay's own SMTP client.
pub struct Mm4Peer {
    client: SmtpClient,
    to: [Host; 1],
}

impl Mm4Peer {
    /// A client greeting as `hostname` (EHLO), sending to `addr`.
    pub fn new(hostname: &str, addr: SocketAddr) -> Self {
        Self {
            client: SmtpClient::new(ClientConfig::new(hostname)),
            to: [Host {
                name: addr.ip().to_string(),
                addr,
            }],
        }
    }

    /// Sends one encoded MM4 message in its envelope.
    pub async fn send(
        &self,
        (envelope, bytes): &(mm4::Envelope, Vec<u8>),
    ) -> Result<SendOutcome, SendError> {
        let envelope = OutboundEnvelope {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
        };
        self.client.send(&self.to, &envelope, bytes).await
    }

    /// Closes the client's idle connections.
    pub async fn close(&self) {
        self.client.close_idle().await;
    }
}

// ---- external peers ----

pub use test_peers::external::{SmtpSink, aiosmtpd_missing, peer_missing, runs};

/// Reads the MM4 message aiosmtpd stored as its `n`th.
pub async fn mm4_at(sink: &SmtpSink, n: usize) -> Mm4Message {
    let (eml, meta) = sink.message(n).await;
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    let envelope = mm4::Envelope {
        mail_from: meta["mail_from"].as_str().unwrap().to_owned(),
        rcpt_to: meta["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    };
    mm4::decode(&envelope, &eml).expect("the stored message is MM4")
}

/// The `MM4_forward.REQ` aiosmtpd stored as its `n`th message.
pub async fn forward_at(sink: &SmtpSink, n: usize) -> mm4::ForwardReq {
    let Mm4Message::ForwardReq(fwd) = mm4_at(sink, n).await else {
        panic!("message {n} is not MM4_forward.REQ");
    };
    *fwd
}
