//! Hostile input at the MM1, admin and RADIUS listeners over real sockets on 127.0.0.1
//! (RELIABILITY.md §4): oversized and slow requests, header bombs, deep and huge multiparts,
//! connection floods, RADIUS floods. Each attack checks the answer, that nothing panics, and
//! that a legitimate client is served while it runs. Memory (VmRSS / VmHWM of the test process,
//! which is the relay) and the legitimate client's latency ratio are printed, not asserted:
//! `cargo nextest run -p relay --test relay hostile --no-capture`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_pdu::{Body, ContentType, MediaType, Part, Pdu, ResponseStatus, SendConf};
use relay::admin::{self, AdminConfig};
use relay::config::RelayConfig;
use relay::listener::{HttpLimits, TlsFiles};
use test_peers::hostile::{Flood, connect_from, median, mem, ratio, report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use crate::mm1_support::{PROXY, RADIUS_SECRET, Relay, send_req, test_config};

const ALICE: &str = "sip:alice@a.example";
/// Upper bound of any single attack step.
const CAP: Duration = Duration::from_secs(15);

/// The limits the attacks run against: short timeouts so each attack ends in seconds.
fn limits() -> HttpLimits {
    HttpLimits {
        max_connections: 32,
        max_connections_per_ip: 32,
        // The attacks come from loopback, a trusted proxy: only `max_connections` holds them
        // (the shared-address limit has its own test).
        max_connections_per_shared_ip: 1024,
        header_timeout_ms: 1_000,
        body_timeout_ms: 2_000,
        max_headers: 64,
        max_head_bytes: 16 * 1024,
    }
}

fn config() -> RelayConfig {
    let mut c = test_config();
    c.mm1.limits = limits();
    c
}

fn addr_of(relay: &Relay) -> SocketAddr {
    relay
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("relay URL is http://ip:port")
}

/// A legitimate UA behind the trusted proxy, one connection per request (no keep-alive pool,
/// so each request also measures connection setup under the attack).
struct Ua {
    client: reqwest::Client,
    url: String,
}

fn legit_ua(relay: &Relay) -> Ua {
    Ua {
        client: reqwest::Client::builder()
            .local_address(PROXY.parse::<std::net::IpAddr>().unwrap())
            .pool_max_idle_per_host(0)
            .timeout(CAP)
            .build()
            .unwrap(),
        url: relay.url.clone(),
    }
}

impl Ua {
    /// POSTs an m-send-req from Alice; the HTTP status and body (`(0, _)` on a transport error).
    async fn post(&self, body: Vec<u8>) -> (u16, Bytes) {
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", relay::mm1::MMS_CONTENT_TYPE)
            .header("x-3gpp-asserted-identity", format!("\"{ALICE}\""))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.bytes().await.unwrap_or_default())
            }
            Err(_) => (0, Bytes::new()),
        }
    }
}

fn send_conf_status(body: &Bytes) -> ResponseStatus {
    match Pdu::decode(body).expect("an m-send-conf") {
        Pdu::SendConf(c) => c.response_status,
        other => panic!("expected m-send-conf, got {other:?}"),
    }
}

/// One legitimate m-send-req; its latency (it must succeed).
async fn legit_send(ua: &Ua) -> Duration {
    let started = Instant::now();
    let (status, body) = ua
        .post(
            Pdu::from(send_req(&["sip:bob@a.example"], "hi"))
                .encode()
                .to_vec(),
        )
        .await;
    assert_eq!(status, 200, "legitimate m-send-req");
    assert_eq!(send_conf_status(&body), ResponseStatus::OK);
    started.elapsed()
}

/// Writes `head` then `body` on a fresh connection (the body from a separate task, errors
/// ignored: the server may stop reading) and returns what the server answered.
async fn raw_exchange(addr: SocketAddr, head: Vec<u8>, body: Vec<u8>) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&head).await;
        for chunk in body.chunks(16 * 1024) {
            if wr.write_all(chunk).await.is_err() {
                break;
            }
        }
        wr
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(CAP, rd.read_to_end(&mut answer)).await;
    writer.abort();
    answer
}

fn http_status(answer: &[u8]) -> u16 {
    std::str::from_utf8(answer.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn send_conf_of(answer: &[u8]) -> SendConf {
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let mut body = &answer[at + 4..];
    // A chunked answer: skip the chunk-size line.
    if answer[..at]
        .to_ascii_lowercase()
        .windows(7)
        .any(|w| w == b"chunked")
    {
        let nl = body.windows(2).position(|w| w == b"\r\n").unwrap();
        body = &body[nl + 2..];
    }
    match Pdu::decode(&Bytes::copy_from_slice(body)).expect("an m-send-conf") {
        Pdu::SendConf(c) => c,
        other => panic!("expected m-send-conf, got {other:?}"),
    }
}

fn post_head(addr: SocketAddr, framing: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/vnd.wap.mms-message\r\n\
         X-3GPP-Asserted-Identity: \"{ALICE}\"\r\n{framing}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_send_req_declared_or_chunked_is_refused_with_bounded_memory() {
    let relay = Relay::start(config()).await;
    let addr = addr_of(&relay);
    let ua = legit_ua(&relay);
    let base = median(5, || legit_send(&ua)).await;
    let prefix = send_req(&["sip:bob@a.example"], "x").clone();
    let mut pdu = Pdu::from(prefix).encode().to_vec();
    let before = mem();

    // Declared: Content-Length 50 MB, the first 600 kB sent.
    pdu.resize(600_000, b'A');
    let declared = raw_exchange(
        addr,
        post_head(addr, "Content-Length: 50000000\r\n"),
        pdu.clone(),
    );
    // Streamed without a length: chunked, 2 MB in 64 kB chunks.
    let mut chunked = Vec::new();
    let mut sent = 0;
    while sent < 2_000_000 {
        let piece = &pdu[..pdu.len().min(64 * 1024)];
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
        sent += piece.len();
    }
    let streamed = raw_exchange(
        addr,
        post_head(addr, "Transfer-Encoding: chunked\r\n"),
        chunked,
    );
    let (declared, streamed, during) = tokio::join!(declared, streamed, legit_send(&ua));
    let after = mem();
    for answer in [&declared, &streamed] {
        assert_eq!(
            http_status(answer),
            200,
            "{}",
            String::from_utf8_lossy(answer)
        );
        assert_eq!(
            send_conf_of(answer).response_status,
            ResponseStatus::ERROR_PERMANENT_CONTENT_NOT_ACCEPTED
        );
    }
    report(
        "MM1 m-send-req 50 MB declared / 2 MB chunked (limit 400 kB)",
        "200 m-send-conf Error-permanent-content-not-accepted (229), both",
        before,
        after,
        ratio(during, base),
    );
    relay.stop().await;
}

fn put_uintvar(out: &mut Vec<u8>, mut v: usize) {
    let mut tmp = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push(0x80 | (v & 0x7F) as u8);
        v >>= 7;
    }
    out.extend(tmp.iter().rev());
}

/// `levels` WSP multiparts nested in one another (WAP-230 §8.5: count, headers length, data
/// length, Content-Type `application/vnd.wap.multipart.mixed` = 0xA3, data), innermost text.
fn nested_multipart(levels: usize) -> Bytes {
    let mut inner = vec![1, 1, 4, 0x83, b'd', b'e', b'e', b'p'];
    for _ in 0..levels {
        let mut outer = vec![1, 1];
        put_uintvar(&mut outer, inner.len());
        outer.push(0xA3);
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    Bytes::from(inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_and_huge_multiparts_are_answered_without_overflow() {
    let relay = Relay::start(config()).await;
    let ua = legit_ua(&relay);
    let base = median(5, || legit_send(&ua)).await;
    let before = mem();

    // 20 000 levels of multipart inside one part (the decoder keeps nested parts opaque).
    let deep = nested_multipart(20_000);
    let mut req = send_req(&["sip:bob@a.example"], "x");
    req.body = Body::Multipart(vec![Part::new(
        ContentType::new(MediaType::MULTIPART_MIXED),
        deep.clone(),
    )]);
    let (status, answer) = ua.post(Pdu::from(req).encode().to_vec()).await;
    assert_eq!(status, 200);
    let deep_status = send_conf_status(&answer);

    // 80 000 parts of 1 octet in a 400 kB limit.
    let mut req = send_req(&["sip:bob@a.example"], "x");
    req.body = Body::Multipart(
        (0..80_000)
            .map(|_| {
                Part::new(
                    ContentType::new(MediaType::TEXT_PLAIN),
                    Bytes::from_static(b"p"),
                )
            })
            .collect(),
    );
    let encoded = Pdu::from(req).encode().to_vec();
    assert!(encoded.len() < 400_000, "{}", encoded.len());
    // 10 000 recipients.
    let to: Vec<String> = (0..10_000)
        .map(|i| format!("+4470{i:08}/TYPE=PLMN"))
        .collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let crowd = Pdu::from(send_req(&to, "x")).encode().to_vec();
    let attacks = async { (ua.post(encoded).await, ua.post(crowd).await) };
    let ((huge, crowd), during) = tokio::join!(attacks, legit_send(&ua));
    assert_eq!((huge.0, crowd.0), (200, 200));
    let huge_status = send_conf_status(&huge.1);
    let crowd_status = send_conf_status(&crowd.1);
    assert_eq!(deep_status, ResponseStatus::OK);
    assert_eq!(
        huge_status,
        ResponseStatus::ERROR_PERMANENT_CONTENT_NOT_ACCEPTED
    );
    assert_eq!(crowd_status, ResponseStatus::ERROR_PERMANENT_FAILURE);
    let after = mem();
    report(
        &format!(
            "MM1 multipart nested 20 000 deep ({} octets) / 80 000 parts / 10 000 recipients",
            deep.len()
        ),
        &format!(
            "200 m-send-conf {} / {} / {}",
            deep_status.name().unwrap_or("?"),
            huge_status.name().unwrap_or("?"),
            crowd_status.name().unwrap_or("?")
        ),
        before,
        after,
        ratio(during, base),
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_bombs_get_431_and_the_relay_keeps_serving() {
    let relay = Relay::start(config()).await;
    let addr = addr_of(&relay);
    let ua = legit_ua(&relay);
    let base = median(5, || legit_send(&ua)).await;
    let before = mem();
    let mut many = b"GET /x HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..1000 {
        many.extend_from_slice(format!("X-Bomb-{i}: {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut huge = b"GET /x HTTP/1.1\r\nHost: h\r\nX-Bomb: ".to_vec();
    huge.resize(huge.len() + 1_000_000, b'a');
    huge.extend_from_slice(b"\r\n\r\n");
    let bombs = async {
        let mut answers = Vec::new();
        for _ in 0..20 {
            answers.push(raw_exchange(addr, many.clone(), Vec::new()).await);
            answers.push(raw_exchange(addr, huge.clone(), Vec::new()).await);
        }
        answers
    };
    let (answers, during) = tokio::join!(bombs, median(5, || legit_send(&ua)));
    let after = mem();
    for a in &answers {
        assert_eq!(http_status(a), 431, "{}", String::from_utf8_lossy(a));
    }
    report(
        "MM1 header bombs: 1000 headers / one 1 MB header, 20 each",
        "431 Request Header Fields Too Large, connection closed",
        before,
        after,
        ratio(during, base),
    );
    relay.stop().await;
}

/// A client sending `prelude` at once, then trickling `bytes` one octet per second; how long
/// until the server closed the connection (capped at [`CAP`]) and what it answered.
async fn slowloris(addr: SocketAddr, prelude: Vec<u8>, bytes: Vec<u8>) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let _ = wr.write_all(&prelude).await;
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Then hold the connection open without sending anything.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(CAP, rd.read_to_end(&mut answer)).await;
    trickle.abort();
    (started.elapsed(), answer)
}

/// 20 slow clients against `addr`; the slowest close and every answer.
async fn slowloris_swarm(
    addr: SocketAddr,
    prelude: &[u8],
    bytes: &[u8],
) -> (Duration, Vec<Vec<u8>>) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        set.spawn(slowloris(addr, prelude.to_vec(), bytes.to_vec()));
    }
    let mut slowest = Duration::ZERO;
    let mut answers = Vec::new();
    while let Some(r) = set.join_next().await {
        let (t, a) = r.unwrap();
        slowest = slowest.max(t);
        answers.push(a);
    }
    (slowest, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_mm1_headers_and_body_is_cut_off_by_the_timeouts() {
    // Room for the 40 slow clients and the legitimate one (the flood test covers the limit).
    let mut c = config();
    c.mm1.limits.max_connections = 64;
    let relay = Relay::start(c).await;
    let addr = addr_of(&relay);
    let ua = legit_ua(&relay);
    let base = median(5, || legit_send(&ua)).await;
    let before = mem();
    let head =
        b"POST / HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".to_vec();
    let heads = slowloris_swarm(addr, b"", &head);
    // The head arrives whole, then the body one octet a second.
    let body_head = post_head(addr, "Content-Length: 100000\r\n");
    let bodies = slowloris_swarm(addr, &body_head, &[b'A'; 100]);
    let legit = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        median(5, || legit_send(&ua)).await
    };
    let ((head_closed, head_answers), (body_closed, body_answers), during) =
        tokio::join!(heads, bodies, legit);
    let after = mem();
    assert!(head_closed < CAP, "slow heads were never cut off");
    assert!(body_closed < CAP, "slow bodies were never cut off");
    for a in &head_answers {
        // hyper closes a connection whose head is late (with 408 or without an answer).
        assert!(
            a.is_empty() || http_status(a) == 408,
            "{}",
            String::from_utf8_lossy(a)
        );
    }
    for a in &body_answers {
        assert_eq!(http_status(a), 408, "{}", String::from_utf8_lossy(a));
    }
    report(
        &format!(
            "MM1 slowloris, 1 octet/s: 20 on the head (closed after {:.1} s), 20 on the body (after {:.1} s)",
            head_closed.as_secs_f64(),
            body_closed.as_secs_f64()
        ),
        "head: connection closed; body: 408 Request Timeout",
        before,
        after,
        ratio(during, base),
    );
    relay.stop().await;
}

/// Opens `n` connections that send nothing; returns them with what each got in 300 ms.
async fn flood(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, usize) {
    flood_from(PROXY.parse().unwrap(), addr, n).await
}

/// [`flood`] from the source address `source` (any of 127.0.0.0/8 is loopback on Linux).
async fn flood_from(source: IpAddr, addr: SocketAddr, n: usize) -> (Vec<TcpStream>, usize) {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect_from(source, addr).await);
    }
    let mut refused = 0;
    for s in &mut held {
        if refused_at_once(s).await {
            refused += 1;
        }
    }
    (held, refused)
}

/// Whether the server answered an idle connection within 300 ms (which must be a 503).
async fn refused_at_once(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        && n > 0
    {
        assert_eq!(
            http_status(&buf[..n]),
            503,
            "{}",
            String::from_utf8_lossy(&buf)
        );
        return true;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_over_the_mm1_limit_gets_503_and_drains() {
    let mut c = config();
    c.mm1.limits.max_connections = 16;
    c.mm1.limits.header_timeout_ms = 2_000;
    let relay = Relay::start(c).await;
    let addr = addr_of(&relay);
    let ua = legit_ua(&relay);
    let base = median(5, || legit_send(&ua)).await;
    let before = mem();
    let started = Instant::now();
    let (held, refused) = flood(addr, 200).await;
    assert_eq!(
        refused,
        200 - 16,
        "every connection over 16 is refused at once"
    );
    // The legitimate client is refused too until the idle flood times out: retry until served.
    let served_after = loop {
        let try_send = tokio::time::timeout(
            Duration::from_secs(2),
            ua.post(
                Pdu::from(send_req(&["sip:bob@a.example"], "hi"))
                    .encode()
                    .to_vec(),
            ),
        )
        .await;
        if let Ok((200, _)) = try_send {
            break started.elapsed();
        }
        assert!(started.elapsed() < CAP, "never served after the flood");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(held);
    let after = mem();
    report(
        &format!(
            "MM1 flood: 200 idle connections, limit 16, head timeout 2 s (legit served {:.1} s after the flood began)",
            served_after.as_secs_f64()
        ),
        "184 answered 503 at once; the 16 admitted closed after the head timeout",
        before,
        after,
        ratio(served_after, base),
    );
    relay.stop().await;
}

/// A relay for the per-address floods: 64 connections in all, a 5 s head timeout (so admitted
/// idle connections hold their slots through the test), and the limit `set` changes.
async fn flood_target(set: impl FnOnce(&mut HttpLimits)) -> (Relay, SocketAddr) {
    let mut c = config();
    c.mm1.limits.max_connections = 64;
    c.mm1.limits.header_timeout_ms = 5_000;
    set(&mut c.mm1.limits);
    let relay = Relay::start(c).await;
    let addr = addr_of(&relay);
    (relay, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_from_one_address_leaves_the_other_clients_served_at_once() {
    let (relay, addr) = flood_target(|l| l.max_connections_per_ip = 8).await;
    let ua = legit_ua(&relay);
    // 200 idle connections from 127.0.0.2 (neither a trusted proxy nor a WAP gateway). The 8
    // admitted hold their slots until the 5 s head timeout; the other clients are served
    // meanwhile, at the first attempt: the trusted proxy…
    let flooder: IpAddr = "127.0.0.2".parse().unwrap();
    let flood = Flood::from_one_address(
        flooder,
        addr,
        200,
        async |mut s: TcpStream| {
            let refused = refused_at_once(&mut s).await;
            (s, refused)
        },
        || legit_send(&ua),
    )
    .await;
    assert_eq!(
        flood.count(|refused| *refused),
        200 - 8,
        "every connection over 8 from one address is refused at once"
    );
    // …and a client of its own address, which the per-address limit counts separately.
    assert_served_from("127.0.0.3".parse().unwrap(), addr).await;
    let (_more, refused_more) = flood_from(flooder, addr, 1).await;
    assert_eq!(refused_more, 1, "the flooder is still over its limit");
    flood.report(
        "MM1 flood from one address: 200 idle connections from 127.0.0.2, per-address limit 8, total 64, head timeout 5 s",
        "192 answered 503 at once, 8 admitted; the proxy (127.0.0.1) and 127.0.0.3 served at once",
    );
    relay.stop().await;
}

/// A client connecting from `source` is admitted and answered (neither refused nor dropped).
async fn assert_served_from(source: IpAddr, addr: SocketAddr) {
    let (mut other, refused) = flood_from(source, addr, 1).await;
    assert_eq!(refused, 0, "{source} is refused");
    other[0]
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(CAP, other[0].read_to_end(&mut answer)).await;
    assert!(
        !matches!(http_status(&answer), 0 | 503),
        "{source} is not served: {}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_has_its_own_limit_and_cannot_take_every_slot() {
    let (relay, addr) = flood_target(|l| l.max_connections_per_shared_ip = 16).await;
    // 100 idle connections from the trusted proxy (loopback, the default trusted proxy).
    let proxy: IpAddr = "127.0.0.1".parse().unwrap();
    let (held, refused) = flood_from(proxy, addr, 100).await;
    assert_eq!(
        refused,
        100 - 16,
        "a trusted proxy is held to max_connections_per_shared_ip"
    );
    // The other 48 slots stay free for the other clients.
    assert_served_from("127.0.0.3".parse().unwrap(), addr).await;
    drop(held);
    relay.stop().await;
}

// ---- the admin listener ----

struct Admin {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_admin(relay: &Relay, limits: HttpLimits, tls: Option<TlsFiles>) -> Admin {
    let config = AdminConfig {
        enabled: true,
        listen: "127.0.0.1:0".parse().unwrap(),
        tls,
        limits,
    };
    let cancel = CancellationToken::new();
    let (addr, task) = admin::spawn(&config, relay.store.clone(), cancel.clone())
        .await
        .unwrap();
    Admin { addr, cancel, task }
}

impl Admin {
    async fn stop(self) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(CAP, self.task).await;
    }
}

async fn health(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let answer = raw_exchange(
        addr,
        b"GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".to_vec(),
        Vec::new(),
    )
    .await;
    assert_eq!(
        http_status(&answer),
        200,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_slowloris_and_flood_are_cut_off_and_health_still_answers() {
    let relay = Relay::start(config()).await;
    let mut l = limits();
    l.max_connections = 8;
    let admin = start_admin(&relay, l, None).await;
    let base = median(5, || health(admin.addr)).await;
    let before = mem();
    let slow = slowloris_swarm(
        admin.addr,
        b"",
        b"GET /health HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n",
    );
    let legit = async {
        // The 20 slow clients hold the 8 slots until the head timeout (1 s): retry until served.
        let started = Instant::now();
        loop {
            let answer = raw_exchange(
                admin.addr,
                b"GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".to_vec(),
                Vec::new(),
            )
            .await;
            if http_status(&answer) == 200 {
                break started.elapsed();
            }
            assert_eq!(http_status(&answer), 503);
            assert!(started.elapsed() < CAP);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let ((closed, _), during) = tokio::join!(slow, legit);
    assert!(closed < CAP, "slow admin clients were never cut off");
    let (held, refused) = flood(admin.addr, 100).await;
    assert_eq!(refused, 100 - 8);
    drop(held);
    let after = mem();
    report(
        &format!(
            "admin slowloris (20 at 1 octet/s, limit 8, closed after {:.1} s) then flood of 100",
            closed.as_secs_f64()
        ),
        "slow: closed at the head timeout, others 503 meanwhile; flood: 92 answered 503",
        before,
        after,
        ratio(during, base),
    );
    admin.stop().await;
    relay.stop().await;
}

// ---- TLS on the admin listener ----

/// A self-signed CA and a leaf for 127.0.0.1 / localhost signed by it, written as PEM files.
pub struct Pki {
    _dir: tempfile::TempDir,
    /// The leaf's certificate and key files.
    pub files: TlsFiles,
    /// The CA certificate file.
    pub ca_file: std::path::PathBuf,
    /// The CA certificate.
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
    /// The leaf certificate.
    pub leaf_der: rustls::pki_types::CertificateDer<'static>,
}

pub fn make_pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("admin.crt");
    let key = dir.path().join("admin.key");
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki {
        _dir: dir,
        files: TlsFiles { cert, key },
        ca_file,
        ca_der: ca.der().clone(),
        leaf_der: leaf.der().clone(),
    }
}

async fn https_get(
    addr: SocketAddr,
    trust: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> std::io::Result<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(CAP, tls.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_over_tls_serves_health_and_a_client_trusting_another_ca_is_refused() {
    let relay = Relay::start(config()).await;
    let pki = make_pki();
    let admin = start_admin(&relay, limits(), Some(pki.files.clone())).await;
    let answer = https_get(admin.addr, &pki.ca_der, "/health").await.unwrap();
    assert_eq!(
        http_status(&answer),
        200,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(answer.ends_with(b"ok\n"));
    // A client that trusts another CA refuses the certificate.
    let other = make_pki();
    let err = https_get(admin.addr, &other.ca_der, "/health")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = raw_exchange(
        admin.addr,
        b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        Vec::new(),
    )
    .await;
    assert_ne!(http_status(&plain), 200);
    // The key file's content is not in the Debug output of the configuration.
    let key_pem = std::fs::read_to_string(&pki.files.key).unwrap();
    let shown = format!(
        "{:?}",
        AdminConfig {
            tls: Some(pki.files.clone()),
            ..AdminConfig::default()
        }
    );
    assert!(!shown.contains(key_pem.lines().nth(1).unwrap()), "{shown}");
    admin.stop().await;
    relay.stop().await;
}

// ---- RADIUS ----

const ACCT_STATUS_TYPE: u8 = 40;
const FRAMED_IP_ADDRESS: u8 = 8;
const CALLING_STATION_ID: u8 = 31;
const ACCT_SESSION_ID: u8 = 44;

fn acct_start(id: u8, ip: [u8; 4], msisdn: &str, secret: &[u8]) -> Vec<u8> {
    radius::Packet::new(radius::Code::AccountingRequest, id)
        .with(ACCT_STATUS_TYPE, 1u32.to_be_bytes())
        .with(FRAMED_IP_ADDRESS, ip)
        .with(CALLING_STATION_ID, msisdn.as_bytes())
        .with(ACCT_SESSION_ID, format!("s{id}").into_bytes())
        .encode_accounting_request(secret)
        .unwrap()
}

/// Sends one Accounting-Start and waits for its answer; the round trip.
async fn radius_rtt(sock: &UdpSocket, to: SocketAddr, id: u8) -> Duration {
    let started = Instant::now();
    let packet = acct_start(id, [10, 9, 0, id], "447000000001", RADIUS_SECRET.as_bytes());
    let mut buf = [0u8; 4096];
    loop {
        sock.send_to(&packet, to).await.unwrap();
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await
            && n >= 20
            && buf[1] == id
        {
            return started.elapsed();
        }
        assert!(started.elapsed() < CAP, "no Accounting-Response");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radius_flood_of_malformed_and_forged_packets_is_dropped_and_accounting_continues() {
    let relay = Relay::start(config()).await;
    let radius = relay.radius.as_ref().unwrap();
    let to = radius.local_addr;
    let legit = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut next_id = 0u8;
    let base = median(5, || {
        next_id += 1;
        radius_rtt(&legit, to, next_id - 1)
    })
    .await;
    let before_stats = radius.stats.snapshot();
    let before = mem();
    let flood = async {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut sent = 0u64;
        for i in 0..30_000u32 {
            let id = (i % 256) as u8;
            let packet = match i % 3 {
                // Forged: signed with the wrong secret.
                0 => acct_start(id, [10, 8, (i >> 8) as u8, id], "447000000009", b"guess"),
                // Malformed: a length field longer than the datagram.
                1 => vec![4, id, 0x10, 0x00, 1, 2, 3],
                // Oversized: 8 kB of noise.
                _ => vec![4u8; 8192],
            };
            if sock.send_to(&packet, to).await.is_ok() {
                sent += 1;
            }
            if i % 512 == 0 {
                tokio::task::yield_now().await;
            }
        }
        (sent, sock)
    };
    let during = async {
        let mut v = Vec::new();
        for id in 10..15 {
            v.push(radius_rtt(&legit, to, id).await);
        }
        v.sort();
        v[2]
    };
    let ((sent, flood_sock), during) = tokio::join!(flood, during);
    // Nothing forged or malformed is answered (RFC 2865 §3: silently discarded).
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), flood_sock.recv_from(&mut buf))
            .await
            .is_err(),
        "the flood got an answer"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = mem();
    let stats = radius.stats.snapshot();
    let dropped = (stats.malformed - before_stats.malformed)
        + (stats.bad_authenticator - before_stats.bad_authenticator);
    assert!(dropped > 0, "{stats:?}");
    report(
        &format!(
            "RADIUS flood: {sent} datagrams (forged authenticator / bad length / 8 kB), {} counted dropped (the rest lost in the socket buffer)",
            dropped
        ),
        "dropped silently, none answered (RFC 2865 §3)",
        before,
        after,
        ratio(during, base),
    );
    relay.stop().await;
}
