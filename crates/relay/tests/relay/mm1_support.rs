//! Harness of the MM1 tests: a relay's MM1 listener (and RADIUS listener) on 127.0.0.1:0 with a
//! SQLite store in a temporary directory, and a small UA over reqwest.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use diameter::sh_client::ShClient;
use mms_pdu::{
    Body, ContentType, EncodedString, FromAddress, MediaType, MmsVersion, Part, Pdu, SendConf,
    SendReq,
};
use mms_store::{
    AcceptOutcome, AnyStore, LeasedItem, MmId, MmMeta, NewMm, NewRecipient, Origin, OutboxKind,
    RecipientEvent, RecipientRecord, RecipientState, RetrievalToken, Store, Timestamp,
};
use relay::config::{Cidr, RadiusClientConfig, RelayConfig};
use relay::identity::{RadiusHandle, spawn_radius};
use relay::mm1::{self, Mm1State};
use tokio_util::sync::CancellationToken;

/// The asserting proxy's address (trusted).
pub const PROXY: &str = "127.0.0.1";
/// An address trusted for nothing.
pub const STRANGER: &str = "127.0.0.2";
/// A WAP gateway's address.
pub const GATEWAY: &str = "127.0.0.4";
/// The RADIUS shared secret of the loopback client.
pub const RADIUS_SECRET: &str = "testing123";

/// Bounds every network wait of a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running relay.
pub struct Relay {
    pub url: String,
    pub store: AnyStore,
    pub radius: Option<RadiusHandle>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The configuration the tests run with: a.example with +4470 numbers, every identity source on.
pub fn test_config() -> RelayConfig {
    let mut c = RelayConfig::default();
    c.relay.mmse_domain = "mms.a.example".into();
    c.relay.sip_domains = vec!["a.example".into()];
    c.relay.number_ranges = vec!["+4470".into()];
    c.relay.default_country_code = Some("44".into());
    c.mm1.listen = "127.0.0.1:0".parse().unwrap();
    c.mm1.max_message_size = 400_000;
    c.mm1.identity.auth_proxy = true;
    c.mm1.identity.trusted_proxies = vec![PROXY.parse::<Cidr>().unwrap()];
    c.mm1.identity.wap_gateway = true;
    c.mm1.identity.wap_gateways = vec![GATEWAY.parse::<Cidr>().unwrap()];
    c.mm1.identity.radius = true;
    c.radius.listen = Some("127.0.0.1:0".parse().unwrap());
    c.radius.clients = vec![RadiusClientConfig {
        cidr: "127.0.0.1/32".parse().unwrap(),
        secret: RADIUS_SECRET.into(),
    }];
    c
}

impl Relay {
    /// Starts MM1 (and RADIUS when configured) with `config`, a fresh store in a temp dir.
    pub async fn start(config: RelayConfig) -> Relay {
        Self::start_with_hss(config, None).await
    }

    /// As [`Relay::start`], with an Sh client for MSISDN -> IMPU lookups.
    pub async fn start_with_hss(mut config: RelayConfig, hss: Option<Arc<ShClient>>) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        config.relay.store = dir.path().display().to_string();
        config.validate().unwrap();
        let store = AnyStore::open(&config.relay.store).await.unwrap();
        let listener = tokio::net::TcpListener::bind(config.mm1.listen)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        config.mm1.public_url = format!("http://{addr}");
        let radius = match config.radius.listen {
            Some(_) => Some(spawn_radius(&config.radius, store.clone()).await.unwrap()),
            None => None,
        };
        let state = Mm1State::from_config(Arc::new(config), store.clone(), hss);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(mm1::serve(listener, state, stop.cancelled_owned()));
        Relay {
            url: format!("http://{addr}"),
            store,
            radius,
            dir,
            shutdown,
            task,
        }
    }

    /// Stops the listeners.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(WAIT, self.task).await;
        if let Some(r) = self.radius {
            let _ = tokio::time::timeout(WAIT, r.shutdown()).await;
        }
    }

    /// A UA whose requests come from `local` (a loopback address).
    pub fn ua(&self, local: &str) -> Ua {
        let client = reqwest::Client::builder()
            .local_address(local.parse::<IpAddr>().unwrap())
            .timeout(WAIT)
            .build()
            .unwrap();
        Ua {
            client,
            url: self.url.clone(),
            headers: Vec::new(),
        }
    }

    /// The retrieval token stored for `recipient` (read from the SQLite file: the store offers
    /// no lookup by recipient).
    pub async fn token_for(&self, recipient: &str) -> String {
        use sqlx::{Connection, Row};
        let path = self.dir.path().join(mms_store::DB_FILE);
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        let row = sqlx::query("SELECT token FROM retrieval_token WHERE recipient = ?1")
            .bind(recipient)
            .fetch_one(&mut c)
            .await
            .unwrap();
        row.get::<String, _>("token")
    }

    /// Leases every due item of `kind` (test owner).
    pub async fn items(&self, kind: OutboxKind) -> Vec<LeasedItem> {
        self.store
            .lease(
                &[kind],
                1000,
                "test",
                Duration::from_secs(60),
                Timestamp::now().plus(Duration::from_secs(1)),
            )
            .await
            .unwrap()
    }

    /// What the routing worker does for a local recipient: Resolving -> Notifying.
    pub async fn resolve_local(&self, mm_id: &MmId, recipient: &str) {
        self.store
            .update_recipient(
                mm_id,
                recipient,
                RecipientEvent::ResolvedLocal {
                    msisdn: "447000000002".into(),
                },
                Default::default(),
                Timestamp::now(),
            )
            .await
            .unwrap();
    }

    /// Stores an MM as the MM4 handler does for one from peer `mms.b.example` (origin MM4,
    /// delivery report asked), with `recipient` notifying; returns its retrieval token.
    pub async fn accept_from_peer(
        &self,
        message_id: &str,
        from: &str,
        recipient: &str,
    ) -> RetrievalToken {
        let (headers, body) = mm1::encode_for_store(&send_req(&[recipient], "from b"));
        let token = RetrievalToken::generate();
        let now = Timestamp::now();
        let meta = MmMeta {
            message_id: message_id.into(),
            transaction_id: "t".into(),
            from: from.into(),
            mms_version: "1.2".into(),
            content_type: "application/vnd.wap.multipart.mixed".into(),
            subject: None,
            size: 10,
            date: now,
            expiry: now.plus(Duration::from_secs(3600)),
            delivery_report: true,
            read_report: true,
            origin: Origin::Mm4 {
                originator_system: "system-user@mms.b.example".into(),
            },
        };
        let outcome = self
            .store
            .accept_mm(
                NewMm {
                    meta,
                    headers,
                    body,
                },
                vec![NewRecipient {
                    address: recipient.into(),
                    state: RecipientState::Notifying,
                    retrieval_token: Some(token.clone()),
                }],
                vec![],
                now,
            )
            .await
            .unwrap();
        assert!(matches!(outcome, AcceptOutcome::Stored { .. }));
        token
    }

    /// The recipients of an MM.
    pub async fn recipients(&self, mm_id: &MmId) -> Vec<RecipientRecord> {
        self.store.recipients(mm_id).await.unwrap()
    }
}

/// A UA client with fixed extra headers.
pub struct Ua {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
}

impl Ua {
    /// Adds a header to every request.
    pub fn with(mut self, name: &str, value: &str) -> Ua {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Asserted by the trusted proxy as `identity`.
    pub fn asserted(self, identity: &str) -> Ua {
        self.with("X-3GPP-Asserted-Identity", &format!("\"{identity}\""))
    }

    /// POSTs raw bytes; returns the HTTP status and body.
    pub async fn post(&self, body: Vec<u8>) -> (u16, Bytes) {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", mm1::MMS_CONTENT_TYPE)
            .body(body);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap())
    }

    /// POSTs a PDU and decodes the answer as m-send-conf.
    pub async fn send(&self, pdu: Pdu) -> SendConf {
        let (status, body) = self.post(pdu.encode()).await;
        assert_eq!(status, 200);
        match Pdu::decode(&body).unwrap() {
            Pdu::SendConf(c) => c,
            other => panic!("expected m-send-conf, got {other:?}"),
        }
    }

    /// GETs a URL path of the relay; returns status and decoded PDU.
    pub async fn get(&self, url: &str) -> (u16, Pdu) {
        let mut req = self.client.get(url);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        (status, Pdu::decode(&body).unwrap())
    }
}

/// An m-send-req with a text part, From insert-address, to the given recipients.
pub fn send_req(to: &[&str], text: &str) -> SendReq {
    SendReq {
        transaction_id: format!("T{:08x}", rand::random::<u32>()),
        version: MmsVersion::V1_2,
        from: FromAddress::InsertAddressToken,
        to: to.iter().map(|t| EncodedString::plain(*t)).collect(),
        subject: Some(EncodedString::utf8("hello")),
        content_type: ContentType::new(MediaType::MULTIPART_MIXED),
        body: Body::Multipart(vec![Part::new(
            ContentType::new(MediaType::TEXT_PLAIN),
            Bytes::from(text.to_owned()),
        )]),
        ..Default::default()
    }
}

/// The MM id of the only Resolve item of `recipient` (leases all Resolve items).
pub async fn mm_of(relay: &Relay, recipient: &str) -> MmId {
    relay
        .items(OutboxKind::Resolve)
        .await
        .into_iter()
        .find(|i| i.recipient.as_deref() == Some(recipient))
        .and_then(|i| i.mm_id)
        .expect("a resolve item for the recipient")
}
