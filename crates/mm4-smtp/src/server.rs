//! Inbound MM4 over SMTP (RFC 5321 §3–§4, TS 23.140 §8.4). One accept loop; one task per
//! connection. Commands are parsed by `smtp-proto`; DATA is dot-unstuffed by its
//! `DataReceiver` (RFC 5321 §4.5.2). A message is answered 250 only after
//! [`DeliveryHandler::deliver`] returned `Ok` (the relay stored it durably). Only configured
//! peer networks are served (others get 554 at the greeting, RFC 5321 §3.1); over the
//! connection limit, or over the limit of connections from its address, a client gets
//! `421 4.7.0` (RFC 5321 §3.8, RFC 3463 §3.8) and the connection is closed. STARTTLS follows
//! RFC 3207.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ipnet::IpNet;
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::limit::PerAddress;
use crate::reply::EnhancedCode;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Our host name in the greeting and EHLO reply (RFC 5321 §4.1.1.1).
    pub hostname: String,
    /// Networks of MM4 peers allowed to connect (DESIGN §6); others get 554.
    pub peers: Vec<IpNet>,
    /// Largest message accepted (RFC 1870 SIZE), in octets of unstuffed DATA.
    pub max_message_size: usize,
    /// Most recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100 should be accepted).
    pub max_recipients: usize,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Most simultaneous connections from one client address (IPv6: one /64), so one host
    /// holding idle connections cannot take every slot of `max_connections`.
    pub max_connections_per_ip: usize,
    /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4: 512).
    pub max_line_length: usize,
    /// Time a client has to send each whole command line, however it trickles in (RFC 5321
    /// §4.5.3.2.7: 5 minutes); a client sending one octet at a time cannot hold a connection.
    pub command_timeout: Duration,
    /// Time to wait for each chunk of DATA (RFC 5321 §4.5.3.2.6: 3 minutes).
    pub data_timeout: Duration,
    /// Time the whole message content (DATA to `<CRLF>.<CRLF>`) may take; slower: 421 and close.
    pub max_data_time: Duration,
    /// Offer STARTTLS with this configuration (RFC 3207).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("hostname", &self.hostname)
            .field("peers", &self.peers)
            .field("max_message_size", &self.max_message_size)
            .field("max_recipients", &self.max_recipients)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("max_line_length", &self.max_line_length)
            .field("command_timeout", &self.command_timeout)
            .field("data_timeout", &self.data_timeout)
            .field("max_data_time", &self.max_data_time)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Defaults from RFC 5321 §4.5.3 for the given host name and peer networks:
    /// 10 MB messages, 100 recipients, 512 connections (32 from one address), 512-octet lines,
    /// 5 min per command, 3 min per DATA chunk and 10 min for a whole message.
    pub fn new(hostname: impl Into<String>, peers: Vec<IpNet>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            peers,
            max_message_size: 10 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 512,
            max_connections_per_ip: 32,
            max_line_length: 512,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            max_data_time: Duration::from_secs(600),
            tls: None,
        }
    }
}

/// The SMTP envelope of a received message (RFC 5321 §2.3.1) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM reverse-path (empty for the null sender `<>`).
    pub mail_from: String,
    /// RCPT TO forward-paths accepted, in order.
    pub rcpt_to: Vec<String>,
    /// The peer's address.
    pub peer_addr: SocketAddr,
    /// The name the peer gave in EHLO/HELO.
    pub helo: String,
    /// Whether the transaction ran over TLS (RFC 3207).
    pub tls: bool,
}

/// A refusal by the relay, sent to the peer as `code enhanced text` (RFC 5321 §4.2, RFC 3463).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 4yz (try again later) or 5yz (permanent).
    pub code: u16,
    /// Enhanced status code.
    pub enhanced: EnhancedCode,
    /// Human-readable text (one line).
    pub text: String,
}

impl Reject {
    /// RFC 3463 §3.3 4.3.0: a transient local failure (e.g. the store is unavailable).
    pub fn transient(text: impl Into<String>) -> Self {
        Reject {
            code: 451,
            enhanced: EnhancedCode::new(4, 3, 0),
            text: text.into(),
        }
    }

    /// RFC 5321 §4.2.3 452 with RFC 3463 §3.4 4.3.1 ("mail system full"): the server cannot
    /// store the message now (its store is out of space); the sender keeps it and retries.
    pub fn storage_full(text: impl Into<String>) -> Self {
        Reject {
            code: 452,
            enhanced: EnhancedCode::new(4, 3, 1),
            text: text.into(),
        }
    }

    /// RFC 3463 §3.2 5.1.1: the mailbox (recipient) does not exist.
    pub fn unknown_recipient(text: impl Into<String>) -> Self {
        Reject {
            code: 550,
            enhanced: EnhancedCode::new(5, 1, 1),
            text: text.into(),
        }
    }
}

/// The relay's side of the server.
pub trait DeliveryHandler: Send + Sync + 'static {
    /// RCPT TO check (RFC 5321 §4.1.1.3): `Err` answers the recipient with the reject.
    fn check_recipient(
        &self,
        _rcpt: &str,
        _peer: SocketAddr,
    ) -> impl Future<Output = Result<(), Reject>> + Send {
        async { Ok(()) }
    }

    /// Stores one message durably; `Ok` is answered 250, `Err` with the reject (RFC 5321 §4.1.1.4).
    fn deliver(
        &self,
        envelope: Envelope,
        data: Bytes,
    ) -> impl Future<Output = Result<(), Reject>> + Send;
}

/// A bound SMTP server.
pub struct SmtpServer {
    listener: TcpListener,
    config: Arc<ServerConfig>,
}

impl SmtpServer {
    /// Binds the listening socket.
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> io::Result<Self> {
        Ok(SmtpServer {
            listener: TcpListener::bind(addr).await?,
            config: Arc::new(config),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` is cancelled, then lets each connection finish its
    /// current message (idle ones get 421, RFC 5321 §3.8) and returns when all are closed.
    pub async fn run<H: DeliveryHandler>(
        self,
        handler: Arc<H>,
        shutdown: CancellationToken,
    ) -> io::Result<()> {
        let slots = Arc::new(Semaphore::new(self.config.max_connections));
        let per_address = PerAddress::new(self.config.max_connections_per_ip);
        let mut tasks = JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let (mut stream, peer) = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = shutdown.cancelled() => break,
            };
            let config = self.config.clone();
            if !config.peers.iter().any(|n| n.contains(&peer.ip())) {
                tracing::info!(%peer, "SMTP connection from a non-peer refused");
                tasks.spawn(refuse(stream, "554 5.7.1 Access denied\r\n"));
                continue;
            }
            let Some(own) = per_address.try_acquire(peer.ip()) else {
                tracing::debug!(%peer, "SMTP connection over the per-address limit refused");
                tasks.spawn(refuse(
                    stream,
                    "421 4.7.0 Too many connections from your address, try again later\r\n",
                ));
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tasks.spawn(refuse(
                    stream,
                    "421 4.7.0 Too many connections, try again later\r\n",
                ));
                continue;
            };
            let (handler, shutdown) = (handler.clone(), shutdown.clone());
            tasks.spawn(async move {
                let _permits = (permit, own);
                let _ = stream.set_nodelay(true);
                if let Err(e) =
                    serve_connection(&mut stream, peer, &config, &*handler, &shutdown).await
                {
                    tracing::debug!(%peer, error = %e, "SMTP connection ended with an error");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

async fn refuse(mut stream: TcpStream, line: &'static str) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(line.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// How a session over one stream ended.
enum SessionEnd {
    /// The peer asked for STARTTLS and got 220 (RFC 3207 §4).
    StartTls,
    /// QUIT, timeout, shutdown, EOF or a fatal error: close.
    Close,
}

async fn serve_connection<H: DeliveryHandler>(
    stream: &mut TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    handler: &H,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let greeting = format!("220 {} ESMTP MM4 relay ready\r\n", config.hostname);
    stream.write_all(greeting.as_bytes()).await?;
    let mut session = Session::new(peer, config, false);
    match session.serve(stream, handler, shutdown).await? {
        SessionEnd::Close => Ok(()),
        SessionEnd::StartTls => {
            let Some(tls) = config.tls.clone() else {
                return Ok(());
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let mut tls_stream =
                tokio::time::timeout(config.command_timeout, acceptor.accept(&mut *stream))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                    })??;
            // RFC 3207 §4.2: forget everything learnt before TLS, expect a new EHLO.
            let mut session = Session::new(peer, config, true);
            session.serve(&mut tls_stream, handler, shutdown).await?;
            Ok(())
        }
    }
}

/// Transaction state of one session (RFC 5321 §4.1.4 ordering).
struct Session<'a> {
    peer: SocketAddr,
    config: &'a ServerConfig,
    tls: bool,
    helo: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    input: BytesMut,
    output: Vec<u8>,
}

/// Writes one reply line.
fn reply(out: &mut Vec<u8>, code: u16, enhanced: EnhancedCode, text: &str) {
    out.extend_from_slice(format!("{code} {enhanced} {text}\r\n").as_bytes());
}

const OK: EnhancedCode = EnhancedCode::new(2, 0, 0);
const BAD_SEQUENCE: EnhancedCode = EnhancedCode::new(5, 5, 1);
const SYNTAX: EnhancedCode = EnhancedCode::new(5, 5, 2);
const TOO_BIG: EnhancedCode = EnhancedCode::new(5, 3, 4);

impl<'a> Session<'a> {
    fn new(peer: SocketAddr, config: &'a ServerConfig, tls: bool) -> Self {
        Session {
            peer,
            config,
            tls,
            helo: None,
            mail_from: None,
            rcpt_to: Vec::new(),
            input: BytesMut::with_capacity(8 * 1024),
            output: Vec::with_capacity(512),
        }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn flush<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> io::Result<()> {
        if !self.output.is_empty() {
            stream.write_all(&self.output).await?;
            self.output.clear();
        }
        Ok(())
    }

    /// Reads more input before `deadline`; `Ok(false)` on EOF, timeout or shutdown (after
    /// answering 421).
    async fn fill<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        deadline: Instant,
        shutdown: Option<&CancellationToken>,
    ) -> io::Result<bool> {
        self.flush(stream).await?;
        let cancelled = async {
            match shutdown {
                Some(s) => s.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = tokio::time::timeout_at(deadline, stream.read_buf(&mut self.input)) => match r {
                Ok(Ok(0)) => Ok(false),
                Ok(Ok(_)) => Ok(true),
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    reply(&mut self.output, 421, EnhancedCode::new(4, 4, 2), "Timeout, closing connection");
                    self.flush(stream).await?;
                    Ok(false)
                }
            },
            () = cancelled => {
                reply(&mut self.output, 421, EnhancedCode::new(4, 3, 2), "Service shutting down");
                self.flush(stream).await?;
                Ok(false)
            }
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin, H: DeliveryHandler>(
        &mut self,
        stream: &mut S,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> io::Result<SessionEnd> {
        // When the line being received must be complete (from when we started waiting for it).
        let mut line_deadline: Option<Instant> = None;
        loop {
            // RFC 2920 §3.1: answer every complete command already received, then flush once.
            let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
                if self.input.len() > self.config.max_line_length {
                    reply(
                        &mut self.output,
                        500,
                        EnhancedCode::new(5, 5, 6),
                        "Line too long",
                    );
                    self.flush(stream).await?;
                    return Ok(SessionEnd::Close);
                }
                let deadline = *line_deadline
                    .get_or_insert_with(|| Instant::now() + self.config.command_timeout);
                if !self.fill(stream, deadline, Some(shutdown)).await? {
                    return Ok(SessionEnd::Close);
                }
                continue;
            };
            line_deadline = None;
            let line = self.input.split_to(lf + 1).freeze();
            if line.len() > self.config.max_line_length {
                reply(
                    &mut self.output,
                    500,
                    EnhancedCode::new(5, 5, 6),
                    "Line too long",
                );
                continue;
            }
            let parsed = Request::parse(&mut line.iter()).map(Request::into_owned);
            match parsed {
                Ok(request) => {
                    if let Some(end) = self.on_request(request, stream, handler).await? {
                        self.flush(stream).await?;
                        return Ok(end);
                    }
                }
                Err(e) => self.on_parse_error(e),
            }
        }
    }

    fn on_parse_error(&mut self, e: ProtoError) {
        let out = &mut self.output;
        match e {
            ProtoError::UnknownCommand => {
                reply(out, 500, EnhancedCode::new(5, 5, 1), "Command unrecognized")
            }
            ProtoError::InvalidSenderAddress => reply(
                out,
                501,
                EnhancedCode::new(5, 1, 7),
                "Bad sender address syntax",
            ),
            ProtoError::InvalidRecipientAddress => reply(
                out,
                501,
                EnhancedCode::new(5, 1, 3),
                "Bad recipient address syntax",
            ),
            ProtoError::SyntaxError { syntax } => reply(
                out,
                501,
                EnhancedCode::new(5, 5, 4),
                &format!("Syntax: {syntax}"),
            ),
            ProtoError::InvalidParameter { param } => reply(
                out,
                501,
                EnhancedCode::new(5, 5, 4),
                &format!("Invalid parameter {param}"),
            ),
            ProtoError::UnsupportedParameter { param } => reply(
                out,
                555,
                EnhancedCode::new(5, 5, 4),
                &format!("Unsupported parameter {param}"),
            ),
            _ => reply(out, 500, SYNTAX, "Syntax error"),
        }
    }

    /// Handles one command; `Some(end)` ends the session over this stream.
    async fn on_request<S: AsyncRead + AsyncWrite + Unpin, H: DeliveryHandler>(
        &mut self,
        request: Request<String>,
        stream: &mut S,
        handler: &H,
    ) -> io::Result<Option<SessionEnd>> {
        match request {
            Request::Ehlo { host } => {
                self.reset();
                self.helo = Some(host);
                let mut caps = vec![
                    format!("SIZE {}", self.config.max_message_size),
                    "PIPELINING".to_owned(),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if self.config.tls.is_some() && !self.tls {
                    caps.push("STARTTLS".to_owned());
                }
                let out = &mut self.output;
                out.extend_from_slice(
                    format!("250-{} greets {}\r\n", self.config.hostname, self.peer.ip())
                        .as_bytes(),
                );
                for (i, cap) in caps.iter().enumerate() {
                    let sep = if i + 1 == caps.len() { ' ' } else { '-' };
                    out.extend_from_slice(format!("250{sep}{cap}\r\n").as_bytes());
                }
            }
            Request::Helo { host } => {
                self.reset();
                self.helo = Some(host);
                let text = format!("250 {}\r\n", self.config.hostname);
                self.output.extend_from_slice(text.as_bytes());
            }
            Request::Mail { from } => {
                if self.helo.is_none() {
                    reply(&mut self.output, 503, BAD_SEQUENCE, "Send EHLO first");
                } else if self.mail_from.is_some() {
                    reply(&mut self.output, 503, BAD_SEQUENCE, "Nested MAIL command");
                } else if from.size > self.config.max_message_size {
                    // RFC 1870 §6.1: the declared size exceeds the fixed limit.
                    reply(
                        &mut self.output,
                        552,
                        TOO_BIG,
                        "Message size exceeds fixed maximum message size",
                    );
                } else {
                    self.mail_from = Some(from.address);
                    reply(
                        &mut self.output,
                        250,
                        EnhancedCode::new(2, 1, 0),
                        "Sender OK",
                    );
                }
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    reply(&mut self.output, 503, BAD_SEQUENCE, "Need MAIL before RCPT");
                } else if self.rcpt_to.len() >= self.config.max_recipients {
                    reply(
                        &mut self.output,
                        452,
                        EnhancedCode::new(4, 5, 3),
                        "Too many recipients",
                    );
                } else {
                    match handler.check_recipient(&to.address, self.peer).await {
                        Ok(()) => {
                            self.rcpt_to.push(to.address);
                            reply(
                                &mut self.output,
                                250,
                                EnhancedCode::new(2, 1, 5),
                                "Recipient OK",
                            );
                        }
                        Err(r) => reply(&mut self.output, r.code, r.enhanced, &r.text),
                    }
                }
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    reply(&mut self.output, 503, BAD_SEQUENCE, "Need MAIL before DATA");
                } else if self.rcpt_to.is_empty() {
                    // RFC 2920 §3.1: DATA with no valid recipient is refused, not 354.
                    reply(
                        &mut self.output,
                        554,
                        EnhancedCode::new(5, 5, 1),
                        "No valid recipients",
                    );
                } else {
                    self.output
                        .extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                    return self.receive_data(stream, handler).await;
                }
            }
            Request::Rset => {
                self.reset();
                reply(&mut self.output, 250, OK, "Reset OK");
            }
            Request::Noop { .. } => reply(&mut self.output, 250, OK, "OK"),
            Request::Quit => {
                reply(&mut self.output, 221, OK, "Bye");
                return Ok(Some(SessionEnd::Close));
            }
            Request::StartTls => {
                if self.tls {
                    reply(&mut self.output, 503, BAD_SEQUENCE, "TLS already active");
                } else if self.config.tls.is_none() {
                    reply(
                        &mut self.output,
                        454,
                        EnhancedCode::new(4, 7, 0),
                        "TLS not available",
                    );
                } else {
                    reply(&mut self.output, 220, OK, "Ready to start TLS");
                    return Ok(Some(SessionEnd::StartTls));
                }
            }
            Request::Vrfy { .. } => reply(
                &mut self.output,
                252,
                EnhancedCode::new(2, 5, 0),
                "Cannot VRFY user",
            ),
            _ => reply(
                &mut self.output,
                502,
                EnhancedCode::new(5, 5, 1),
                "Command not implemented",
            ),
        }
        Ok(None)
    }

    /// RFC 5321 §4.1.1.4 / §4.5.2: reads the message up to `<CRLF>.<CRLF>`, unstuffed, within the
    /// size limit (RFC 1870 §6.3: 552 when exceeded), then hands it to the relay.
    async fn receive_data<S: AsyncRead + AsyncWrite + Unpin, H: DeliveryHandler>(
        &mut self,
        stream: &mut S,
        handler: &H,
    ) -> io::Result<Option<SessionEnd>> {
        let limit = self.config.max_message_size;
        let mut receiver = DataReceiver::new();
        let mut discard: Option<DummyDataReceiver> = None;
        let end_by = Instant::now() + self.config.max_data_time;
        let mut data = Vec::with_capacity(
            self.input
                .len()
                .max(1024)
                .min(limit.saturating_add(1).min(1 << 20)),
        );
        loop {
            let (done, used) = {
                let mut iter = self.input.iter();
                let before = iter.len();
                let done = match discard.as_mut() {
                    Some(d) => d.ingest(&mut iter),
                    None => receiver.ingest(&mut iter, &mut data),
                };
                (done, before - iter.len())
            };
            self.input.advance(used);
            if discard.is_none() && data.len() > limit {
                discard = Some(DummyDataReceiver::new_data(&receiver));
                data = Vec::new();
            }
            if done {
                break;
            }
            let deadline = end_by.min(Instant::now() + self.config.data_timeout);
            if !self.fill(stream, deadline, None).await? {
                return Ok(Some(SessionEnd::Close));
            }
        }
        if discard.is_some() {
            reply(
                &mut self.output,
                552,
                TOO_BIG,
                "Message size exceeds fixed maximum message size",
            );
            self.reset();
            return Ok(None);
        }
        let envelope = Envelope {
            mail_from: self.mail_from.take().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            peer_addr: self.peer,
            helo: self.helo.clone().unwrap_or_default(),
            tls: self.tls,
        };
        match handler.deliver(envelope, Bytes::from(data)).await {
            Ok(()) => reply(&mut self.output, 250, OK, "Message accepted"),
            Err(r) => reply(&mut self.output, r.code, r.enhanced, &r.text),
        }
        Ok(None)
    }
}
