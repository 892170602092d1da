//! mm4-smtp over real sockets on 127.0.0.1: our client against our server (RFC 5321, RFC 2920
//! PIPELINING, RFC 3207 STARTTLS, RFC 1870 SIZE), our client against aiosmtpd, and swaks
//! against our server. Every wait is bounded; every child process is killed on drop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mm4_smtp::{
    ClientConfig, DeliveryHandler, EnhancedCode, Envelope, Host, OutboundEnvelope, Reject,
    SendError, ServerConfig, SmtpClient, SmtpServer, Stage,
};
use test_peers::external::{SmtpSink, aiosmtpd_missing, peer_missing, runs};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

#[path = "smtp/hostile.rs"]
mod hostile;

/// Records delivered messages; refuses recipients starting with `unknown` (550) or `busy`
/// (450) and messages whose body contains `STORE-DOWN` (451).
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<(Envelope, Bytes)>>,
}

impl DeliveryHandler for Recorder {
    async fn check_recipient(&self, rcpt: &str, _peer: SocketAddr) -> Result<(), Reject> {
        if rcpt.starts_with("unknown") {
            Err(Reject::unknown_recipient("No such user"))
        } else if rcpt.starts_with("busy") {
            Err(Reject {
                code: 450,
                enhanced: EnhancedCode::new(4, 2, 1),
                text: "Mailbox busy".into(),
            })
        } else {
            Ok(())
        }
    }

    async fn deliver(&self, envelope: Envelope, data: Bytes) -> Result<(), Reject> {
        if data.windows(10).any(|w| w == b"STORE-DOWN") {
            return Err(Reject::transient("Store unavailable"));
        }
        self.delivered.lock().unwrap().push((envelope, data));
        Ok(())
    }
}

struct Server {
    addr: SocketAddr,
    handler: Arc<Recorder>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn loopback_config() -> ServerConfig {
    ServerConfig::new("mms.b.example", vec!["127.0.0.0/8".parse().unwrap()])
}

async fn start(config: ServerConfig) -> Server {
    let server = SmtpServer::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handler = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(server.run(handler.clone(), stop.clone()));
    Server {
        addr,
        handler,
        stop,
        task: Some(task),
    }
}

fn host(addr: SocketAddr) -> Host {
    Host {
        name: "127.0.0.1".into(),
        addr,
    }
}

fn envelope(rcpts: &[&str]) -> OutboundEnvelope {
    OutboundEnvelope {
        mail_from: "+4917600000001/TYPE=PLMN@mms.a.example".into(),
        rcpt_to: rcpts.iter().map(|s| s.to_string()).collect(),
    }
}

fn message(subject: &str, body_len: usize) -> Vec<u8> {
    let mut m = format!(
        "From: +4917600000001/TYPE=PLMN@mms.a.example\r\nTo: +4917600000002/TYPE=PLMN@mms.b.example\r\n\
         Subject: {subject}\r\nX-Mms-Message-Type: MM4_forward.REQ\r\n\r\n.leading dot line\r\n"
    )
    .into_bytes();
    while m.len() < body_len {
        m.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n",
        );
    }
    m
}

/// A raw SMTP conversation for server-side checks.
struct Raw {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Self::of(TcpStream::connect(addr).await.unwrap())
    }

    /// Connects from `source` (any of 127.0.0.0/8 is loopback on Linux).
    async fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> Raw {
        Self::of(test_peers::hostile::connect_from(source, addr).await)
    }

    fn of(stream: TcpStream) -> Raw {
        let (r, w) = stream.into_split();
        Raw {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// Reads one (multi-line) reply and returns its lines.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(LIMIT, self.reader.read_line(&mut line))
                .await
                .expect("reply in time")
                .unwrap();
            assert!(n > 0, "connection closed; got {lines:?}");
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    async fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).await.unwrap();
    }

    /// Writes `s` where the server is expected to refuse it and close before reading all of it:
    /// the rest of the write then meets a reset, which is not an error here.
    async fn send_refused(&mut self, s: &str) {
        let _ = self.writer.write_all(s.as_bytes()).await;
    }

    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(LIMIT, self.reader.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

#[tokio::test]
async fn client_delivers_over_one_reused_pipelined_connection_rfc2920() {
    let srv = start(loopback_config()).await;
    let client = SmtpClient::new(ClientConfig::new("mms.a.example"));
    let env = envelope(&[
        "+4917600000002/TYPE=PLMN@mms.b.example",
        "bob@mms.b.example",
    ]);
    for i in 0..3 {
        let msg = message(&format!("m{i}"), 300);
        let out = client.send(&[host(srv.addr)], &env, &msg).await.unwrap();
        assert_eq!(out.accepted, env.rcpt_to);
        assert!(out.rejected.is_empty());
    }
    assert_eq!(client.idle_connections(srv.addr), 1);
    let delivered = srv.handler.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 3);
    for (i, (e, data)) in delivered.iter().enumerate() {
        assert_eq!(e.mail_from, env.mail_from);
        assert_eq!(e.rcpt_to, env.rcpt_to);
        assert_eq!(e.helo, "mms.a.example");
        assert!(!e.tls);
        // Dot-stuffed by the client, unstuffed by the server: the bytes arrive unchanged.
        assert_eq!(data.as_ref(), message(&format!("m{i}"), 300).as_slice());
    }
    // Same connection: the same client port for all three.
    assert!(
        delivered
            .iter()
            .all(|(e, _)| e.peer_addr == delivered[0].0.peer_addr)
    );
}

#[tokio::test]
async fn concurrent_sends_share_the_bounded_connections_of_a_host() {
    let srv = start(loopback_config()).await;
    let mut config = ClientConfig::new("a");
    config.max_connections_per_host = 2;
    let client = Arc::new(SmtpClient::new(config));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = client.clone();
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let body = format!("message {i}\r\n");
            client
                .send(&[host(addr)], &envelope(&["b@b.example"]), body.as_bytes())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        tokio::time::timeout(LIMIT, t).await.unwrap().unwrap();
    }
    let delivered = srv.handler.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 12);
    let mut ports: Vec<u16> = delivered.iter().map(|(e, _)| e.peer_addr.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert!(
        ports.len() <= 2,
        "more connections than the limit: {ports:?}"
    );
    assert!(client.idle_connections(srv.addr) <= 2);
}

#[tokio::test]
async fn server_answers_pipelined_commands_in_order_rfc2920_s3_1() {
    let srv = start(loopback_config()).await;
    let mut raw = Raw::connect(srv.addr).await;
    assert!(raw.reply().await[0].starts_with("220 "));
    raw.send("EHLO peer.example\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<unknown@b.example>\r\nRCPT TO:<ok@b.example>\r\nDATA\r\n").await;
    let ehlo = raw.reply().await;
    for cap in [
        "SIZE 10485760",
        "PIPELINING",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(
            ehlo.iter().any(|l| l.ends_with(cap)),
            "{cap} missing from {ehlo:?}"
        );
    }
    assert!(
        !ehlo.iter().any(|l| l.contains("STARTTLS")),
        "STARTTLS offered without TLS config"
    );
    assert_eq!(raw.reply().await, vec!["250 2.1.0 Sender OK"]);
    assert_eq!(raw.reply().await, vec!["550 5.1.1 No such user"]);
    assert_eq!(raw.reply().await, vec!["250 2.1.5 Recipient OK"]);
    assert!(raw.reply().await[0].starts_with("354"));
    raw.send("Subject: x\r\n\r\n..dotted\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n")
        .await;
    assert_eq!(raw.reply().await, vec!["250 2.0.0 Message accepted"]);
    assert_eq!(raw.reply().await, vec!["250 2.0.0 OK"]);
    assert_eq!(raw.reply().await, vec!["250 2.0.0 Reset OK"]);
    assert_eq!(raw.reply().await, vec!["221 2.0.0 Bye"]);
    assert!(raw.closed().await);
    let delivered = srv.handler.delivered.lock().unwrap().clone();
    assert_eq!(delivered[0].0.rcpt_to, vec!["ok@b.example"]);
    assert_eq!(delivered[0].1.as_ref(), b"Subject: x\r\n\r\n.dotted\r\n");
}

#[tokio::test]
async fn commands_out_of_sequence_and_unknown_are_refused_rfc5321_s4_1_4() {
    let srv = start(loopback_config()).await;
    let mut raw = Raw::connect(srv.addr).await;
    raw.reply().await;
    raw.send("MAIL FROM:<a@a.example>\r\nHELO peer\r\nRCPT TO:<b@b.example>\r\nDATA\r\nFOO\r\nMAIL FROM:<a@a.example>\r\nMAIL FROM:<a@a.example>\r\nDATA\r\n").await;
    assert_eq!(raw.reply().await, vec!["503 5.5.1 Send EHLO first"]);
    assert_eq!(raw.reply().await, vec!["250 mms.b.example"]);
    assert_eq!(raw.reply().await, vec!["503 5.5.1 Need MAIL before RCPT"]);
    assert_eq!(raw.reply().await, vec!["503 5.5.1 Need MAIL before DATA"]);
    assert_eq!(raw.reply().await, vec!["500 5.5.1 Command unrecognized"]);
    assert_eq!(raw.reply().await, vec!["250 2.1.0 Sender OK"]);
    assert_eq!(raw.reply().await, vec!["503 5.5.1 Nested MAIL command"]);
    assert_eq!(raw.reply().await, vec!["554 5.5.1 No valid recipients"]);
}

#[tokio::test]
async fn declared_or_actual_size_over_limit_gets_552_rfc1870_s6() {
    let mut config = loopback_config();
    config.max_message_size = 1000;
    let srv = start(config).await;
    let mut raw = Raw::connect(srv.addr).await;
    raw.reply().await;
    raw.send("EHLO p\r\n").await;
    assert!(raw.reply().await.iter().any(|l| l == "250-SIZE 1000"));
    raw.send("MAIL FROM:<a@a.example> SIZE=1001\r\n").await;
    assert_eq!(
        raw.reply().await[0],
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    raw.send("MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n")
        .await;
    raw.reply().await;
    raw.reply().await;
    raw.reply().await;
    let big = "x".repeat(100) + "\r\n";
    raw.send(&big.repeat(20)).await;
    raw.send(".\r\nNOOP\r\n").await;
    assert_eq!(
        raw.reply().await[0],
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(raw.reply().await[0], "250 2.0.0 OK");
    assert!(srv.handler.delivered.lock().unwrap().is_empty());

    // The client checks SIZE before sending and reports a permanent failure.
    let client = SmtpClient::new(ClientConfig::new("a"));
    let err = client
        .send(
            &[host(srv.addr)],
            &envelope(&["b@b.example"]),
            &message("big", 2000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::MessageTooBig { limit: 1000, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn line_too_long_and_too_many_recipients_are_refused_rfc5321_s4_5_3_1() {
    let mut config = loopback_config();
    config.max_recipients = 2;
    let srv = start(config).await;
    let mut raw = Raw::connect(srv.addr).await;
    raw.reply().await;
    raw.send(&format!("NOOP {}\r\n", "x".repeat(600))).await;
    assert_eq!(raw.reply().await[0], "500 5.5.6 Line too long");
    raw.send("EHLO p\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<b1@b.example>\r\nRCPT TO:<b2@b.example>\r\nRCPT TO:<b3@b.example>\r\n").await;
    raw.reply().await;
    raw.reply().await;
    raw.reply().await;
    raw.reply().await;
    assert_eq!(raw.reply().await[0], "452 4.5.3 Too many recipients");
}

#[tokio::test]
async fn recipient_and_delivery_refusals_are_classified_rfc5321_s4_2_1() {
    let srv = start(loopback_config()).await;
    let client = SmtpClient::new(ClientConfig::new("a"));
    let route = [host(srv.addr)];

    let out = client
        .send(
            &route,
            &envelope(&["ok@b.example", "unknown@b.example", "busy@b.example"]),
            b"Subject: a\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    assert_eq!(out.accepted, vec!["ok@b.example"]);
    let codes: Vec<u16> = out.rejected.iter().map(|r| r.reply.code).collect();
    assert_eq!(codes, vec![550, 450]);
    assert!(!out.rejected[0].reply.is_transient() && out.rejected[1].reply.is_transient());

    let err = client
        .send(&route, &envelope(&["unknown@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(matches!(&err, SendError::RecipientsRejected { rejected } if rejected.len() == 1));
    assert!(!err.is_transient());
    assert_eq!(err.reply().map(|r| r.code), Some(550));

    let err = client
        .send(&route, &envelope(&["ok@b.example"]), b"STORE-DOWN\r\n")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { stage: Stage::Message, reply } if reply.code == 451),
        "{err:?}"
    );
    assert!(err.is_transient());

    // The connection survived the refusals (RSET) and is reused for the next message.
    client
        .send(&route, &envelope(&["ok@b.example"]), b"fine\r\n")
        .await
        .unwrap();
    let peers: Vec<SocketAddr> = srv
        .handler
        .delivered
        .lock()
        .unwrap()
        .iter()
        .map(|(e, _)| e.peer_addr)
        .collect();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0], peers[1]);
}

#[tokio::test]
async fn non_peer_gets_554_at_greeting_and_is_closed_rfc5321_s3_1() {
    let config = ServerConfig::new("mms.b.example", vec!["192.0.2.0/24".parse().unwrap()]);
    let srv = start(config).await;
    let mut raw = Raw::connect(srv.addr).await;
    assert_eq!(raw.reply().await, vec!["554 5.7.1 Access denied"]);
    assert!(raw.closed().await);
    let client = SmtpClient::new(ClientConfig::new("a"));
    let err = client
        .send(&[host(srv.addr)], &envelope(&["b@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { stage: Stage::Greeting, reply } if reply.code == 554),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn connection_over_the_limit_gets_421_rfc5321_s3_8() {
    let mut config = loopback_config();
    config.max_connections = 1;
    let srv = start(config).await;
    let mut first = Raw::connect(srv.addr).await;
    assert!(first.reply().await[0].starts_with("220"));
    let mut second = Raw::connect(srv.addr).await;
    assert_eq!(
        second.reply().await[0],
        "421 4.7.0 Too many connections, try again later"
    );
    assert!(second.closed().await);
    first.send("QUIT\r\n").await;
    first.reply().await;
    assert!(first.closed().await);
    // The slot is free again (the permit is returned when the first task ends).
    let mut third = None;
    for _ in 0..100 {
        let mut c = Raw::connect(srv.addr).await;
        if c.reply().await[0].starts_with("220") {
            third = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(third.is_some());
}

#[tokio::test]
async fn idle_peer_is_timed_out_with_421_rfc5321_s4_5_3_2() {
    let mut config = loopback_config();
    config.command_timeout = Duration::from_millis(200);
    let srv = start(config).await;
    let mut raw = Raw::connect(srv.addr).await;
    raw.reply().await;
    assert_eq!(
        raw.reply().await[0],
        "421 4.4.2 Timeout, closing connection"
    );
    assert!(raw.closed().await);
}

#[tokio::test]
async fn client_times_out_on_a_silent_server_and_calls_it_transient_rfc5321_s4_5_3_2() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut config = ClientConfig::new("a");
    config.command_timeout = Duration::from_millis(200);
    let client = SmtpClient::new(config);
    let err = client
        .send(&[host(addr)], &envelope(&["b@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Timeout {
                stage: Stage::Greeting,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    keep.abort();
}

#[tokio::test]
async fn client_fails_over_to_the_next_host_on_connect_error_rfc5321_s5_1() {
    let srv = start(loopback_config()).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = SmtpClient::new(ClientConfig::new("a"));
    let out = client
        .send(
            &[host(dead), host(srv.addr)],
            &envelope(&["b@b.example"]),
            b"x\r\n",
        )
        .await
        .unwrap();
    assert_eq!(out.accepted, vec!["b@b.example"]);
    let err = client
        .send(&[host(dead)], &envelope(&["b@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Io {
                stage: Stage::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(matches!(
        client
            .send(&[], &envelope(&["b@b.example"]), b"x\r\n")
            .await,
        Err(SendError::NoRoute)
    ));
}

#[tokio::test]
async fn envelope_address_with_crlf_is_refused_before_any_command_rfc5321_s4_1_2() {
    let srv = start(loopback_config()).await;
    let client = SmtpClient::new(ClientConfig::new("a"));
    let injected = envelope(&["b@b.example>\r\nRCPT TO:<evil@c.example"]);
    let err = client
        .send(&[host(srv.addr)], &injected, b"x\r\n")
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::InvalidAddress(_)), "{err:?}");
    assert!(!err.is_transient());
    assert!(srv.handler.delivered.lock().unwrap().is_empty());
}

#[tokio::test]
async fn pooled_connection_closed_by_its_server_is_not_reused_rfc5321_s3_8() {
    let mut first = start(loopback_config()).await;
    let second = start(loopback_config()).await;
    let route = [host(first.addr), host(second.addr)];
    let client = SmtpClient::new(ClientConfig::new("a"));
    client
        .send(&route, &envelope(&["b@b.example"]), b"one\r\n")
        .await
        .unwrap();
    assert_eq!(client.idle_connections(first.addr), 1);
    // The first server shuts down: its idle connection gets 421 and is closed, and the server
    // stops listening (awaited, so the test does not depend on timing).
    first.stop.cancel();
    let task = first.task.take().unwrap();
    tokio::time::timeout(LIMIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The stale pooled connection is noticed, reconnecting to the first host fails, and the
    // message goes to the second host.
    client
        .send(&route, &envelope(&["b@b.example"]), b"two\r\n")
        .await
        .unwrap();
    assert_eq!(first.handler.delivered.lock().unwrap().len(), 1);
    assert_eq!(
        second.handler.delivered.lock().unwrap()[0].1.as_ref(),
        b"two\r\n"
    );
}

#[tokio::test]
async fn pooled_connection_timed_out_by_the_server_is_replaced() {
    let mut config = loopback_config();
    config.command_timeout = Duration::from_millis(100);
    let srv = start(config).await;
    let client = SmtpClient::new(ClientConfig::new("a"));
    client
        .send(&[host(srv.addr)], &envelope(&["b@b.example"]), b"one\r\n")
        .await
        .unwrap();
    // Whether or not the server's idle timeout has fired yet, the next send succeeds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .send(&[host(srv.addr)], &envelope(&["b@b.example"]), b"two\r\n")
        .await
        .unwrap();
    assert_eq!(srv.handler.delivered.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn shutdown_tells_idle_peers_421_and_run_returns_rfc5321_s3_8() {
    let mut srv = start(loopback_config()).await;
    let mut raw = Raw::connect(srv.addr).await;
    raw.reply().await;
    raw.send("EHLO p\r\n").await;
    raw.reply().await;
    srv.stop.cancel();
    assert_eq!(raw.reply().await[0], "421 4.3.2 Service shutting down");
    assert!(raw.closed().await);
    let task = srv.task.take().unwrap();
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("run returned")
        .unwrap()
        .unwrap();
}

// ---- STARTTLS (RFC 3207) with an rcgen self-signed certificate ----

fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server = mm4_smtp::server_config_from_pem(
        ck.cert.pem().as_bytes(),
        ck.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, Arc::new(client))
}

#[tokio::test]
async fn starttls_upgrades_and_delivers_over_tls_rfc3207() {
    let (server_tls, client_tls) = tls_pair();
    let mut config = loopback_config();
    config.tls = Some(server_tls);
    let srv = start(config).await;
    let mut cc = ClientConfig::new("mms.a.example");
    cc.tls = Some(client_tls);
    cc.require_tls = true;
    let client = SmtpClient::new(cc);
    let route = [Host {
        name: "localhost".into(),
        addr: srv.addr,
    }];
    client
        .send(&route, &envelope(&["b@b.example"]), &message("tls", 2000))
        .await
        .unwrap();
    client
        .send(&route, &envelope(&["b@b.example"]), b"again\r\n")
        .await
        .unwrap();
    let delivered = srv.handler.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 2);
    assert!(delivered.iter().all(|(e, _)| e.tls));
    assert_eq!(delivered[0].1.as_ref(), message("tls", 2000).as_slice());

    // Without TLS configured on the server, a client that requires TLS refuses to send.
    let plain = start(loopback_config()).await;
    let route = [Host {
        name: "localhost".into(),
        addr: plain.addr,
    }];
    let err = client
        .send(&route, &envelope(&["b@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::TlsRequired(_)), "{err:?}");
}

#[tokio::test]
async fn starttls_discards_commands_pipelined_before_the_handshake_rfc3207_s4_2() {
    let (server_tls, client_tls) = tls_pair();
    let mut config = loopback_config();
    config.tls = Some(server_tls);
    let srv = start(config).await;
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    // Greeting, then EHLO (STARTTLS offered), then STARTTLS with a NOOP smuggled behind it.
    tcp.write_all(b"EHLO p\r\n").await.unwrap();
    while !String::from_utf8_lossy(&seen).contains("250 STARTTLS\r\n") {
        let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    tcp.write_all(b"STARTTLS\r\nNOOP\r\n").await.unwrap();
    let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"220 2.0.0 Ready to start TLS\r\n");
    let connector = tokio_rustls::TlsConnector::from(client_tls);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(LIMIT, connector.connect(name, tcp))
        .await
        .unwrap()
        .expect("handshake");
    tls.write_all(b"EHLO p\r\n").await.unwrap();
    let n = tokio::time::timeout(LIMIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    // The smuggled NOOP was dropped: the first reply over TLS answers EHLO, without STARTTLS.
    assert!(first.starts_with("250-mms.b.example"), "{first}");
    assert!(!first.contains("STARTTLS"), "{first}");
}

// ---- aiosmtpd (PyPI) as the receiving MM4 peer ----

/// The `n`th message the sink kept and its envelope.
async fn stored(sink: &SmtpSink, n: usize) -> (Vec<u8>, serde_json::Value) {
    let (eml, meta) = sink.message(n).await;
    (eml, serde_json::from_slice(&meta).unwrap())
}

#[tokio::test]
async fn aiosmtpd_receives_our_message_byte_for_byte() {
    if aiosmtpd_missing() {
        return;
    }
    let sink = SmtpSink::start(&[]).await;
    let addr = sink.addr;
    let client = SmtpClient::new(ClientConfig::new("mms.a.example"));
    let env = envelope(&["+4917600000002/TYPE=PLMN@mms.b.example"]);
    let msg = message("to aiosmtpd", 30 * 1024);
    client.send(&[host(addr)], &env, &msg).await.unwrap();
    client
        .send(&[host(addr)], &env, &message("second", 100))
        .await
        .unwrap();
    let (eml, meta) = stored(&sink, 1).await;
    assert_eq!(eml, msg);
    assert_eq!(meta["mail_from"], env.mail_from);
    assert_eq!(meta["rcpt_tos"], serde_json::json!(env.rcpt_to));
    let (_, meta2) = stored(&sink, 2).await;
    assert_eq!(
        meta2["peer"], meta["peer"],
        "second message reused the connection"
    );
    // An independent MIME parser (Python's email package) reads the stored message.
    let subject = std::process::Command::new("python3")
        .args(["-c", "import email,sys; print(email.message_from_binary_file(open(sys.argv[1],'rb'))['Subject'])"])
        .arg(sink.dir.path().join("msg-1.eml"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&subject.stdout).trim(),
        "to aiosmtpd"
    );
    client.close_idle().await;
}

#[tokio::test]
async fn aiosmtpd_451_and_550_recipients_are_reported_per_recipient() {
    if aiosmtpd_missing() {
        return;
    }
    let sink = SmtpSink::start(&[
        "--fail451",
        "later@b.example",
        "--fail550",
        "gone@b.example",
    ])
    .await;
    let addr = sink.addr;
    let client = SmtpClient::new(ClientConfig::new("a"));
    let out = client
        .send(
            &[host(addr)],
            &envelope(&["ok@b.example", "later@b.example", "gone@b.example"]),
            b"Subject: s\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    assert_eq!(out.accepted, vec!["ok@b.example"]);
    let rejected: Vec<(&str, u16, bool)> = out
        .rejected
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code, r.reply.is_transient()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            ("later@b.example", 451, true),
            ("gone@b.example", 550, false)
        ]
    );
    let (_, meta) = stored(&sink, 1).await;
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["ok@b.example"]));

    let err = client
        .send(&[host(addr)], &envelope(&["gone@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.reply().map(|r| r.code), Some(550));
    let err = client
        .send(&[host(addr)], &envelope(&["later@b.example"]), b"x\r\n")
        .await
        .unwrap_err();
    assert!(err.is_transient());
}

// ---- swaks (Debian) as the sending MM4 peer ----

#[tokio::test]
async fn swaks_delivers_a_hand_written_mm4_message_to_our_server() {
    if peer_missing("swaks", runs("swaks", &["--version"])) {
        return;
    }
    let srv = start(loopback_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "From: +4917600000001/TYPE=PLMN@mms.a.example\r\nTo: +4917600000002/TYPE=PLMN@mms.b.example\r\n\
                Subject: swaks\r\nX-Mms-3GPP-MMS-Version: 6.10.0\r\nX-Mms-Message-Type: MM4_forward.REQ\r\n\
                X-Mms-Transaction-ID: t-1\r\nX-Mms-Message-ID: m-1\r\n\r\n.starts with a dot\r\nhello\r\n";
    let file = dir.path().join("mm4.eml");
    std::fs::write(&file, body).unwrap();
    let out = tokio::time::timeout(
        LIMIT,
        tokio::process::Command::new("swaks")
            .env("POSIXLY_CORRECT", "1")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &srv.addr.port().to_string(),
            ])
            .args(["--helo", "mms.a.example", "--pipeline", "--timeout", "10"])
            .args(["--from", "+4917600000001/TYPE=PLMN@mms.a.example"])
            .args(["--to", "+4917600000002/TYPE=PLMN@mms.b.example"])
            .arg("--data")
            .arg(format!("@{}", file.display()))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("swaks finished")
    .unwrap();
    assert!(
        out.status.success(),
        "swaks failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let delivered = srv.handler.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    let (env, data) = &delivered[0];
    assert_eq!(env.mail_from, "+4917600000001/TYPE=PLMN@mms.a.example");
    assert_eq!(env.rcpt_to, vec!["+4917600000002/TYPE=PLMN@mms.b.example"]);
    assert_eq!(env.helo, "mms.a.example");
    assert!(
        data.starts_with(body.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(data)
    );
}
