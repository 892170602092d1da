//! Outbound MM4 over SMTP (RFC 5321 §3–§4): a message goes to the first host of a route that
//! accepts a connection (RFC 5321 §5.1 tries the MX hosts in order), over a connection reused
//! per host, with PIPELINING when offered (RFC 2920) and STARTTLS when offered and configured
//! (RFC 3207). The dialogue of one transaction is the sans-IO `dialogue::Transaction`;
//! this module moves its bytes and applies the timeouts of RFC 5321 §4.5.3.2.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::dialogue::{Capabilities, Step, Transaction, dot_stuff};
use crate::reply::{Reply, ReplyError, parse_reply};

/// One host of a route: the address to connect to and the name to present TLS for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host {
    /// Host name (or IP literal) used for the TLS server name and in logs.
    pub name: String,
    /// The address to connect to.
    pub addr: SocketAddr,
}

/// The envelope of an outgoing message (RFC 5321 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEnvelope {
    /// Reverse-path (`""` for the null sender).
    pub mail_from: String,
    /// Forward-paths.
    pub rcpt_to: Vec<String>,
}

/// A recipient refused at RCPT (RFC 5321 §4.1.1.3), with the server's reply for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRejection {
    /// The forward-path refused.
    pub recipient: String,
    /// The server's reply (4yz: try again later, 5yz: permanent).
    pub reply: Reply,
}

/// A message accepted by the server for `accepted`; `rejected` recipients were refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendOutcome {
    /// Recipients the message was accepted for.
    pub accepted: Vec<String>,
    /// Recipients refused at RCPT.
    pub rejected: Vec<RecipientRejection>,
}

/// The point of the dialogue an error happened at (RFC 5321 §4.5.3.2 names the timeouts so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// TCP connect.
    Connect,
    /// 220 greeting.
    Greeting,
    /// EHLO / HELO.
    Ehlo,
    /// STARTTLS and the handshake.
    StartTls,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA command.
    Data,
    /// The message content and its final reply.
    Message,
}

/// Why a message was not sent (to any recipient).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The route has no host.
    #[error("no host to send to")]
    NoRoute,
    /// An envelope address that cannot be written into a command (RFC 5321 §4.1.2: no CR, LF,
    /// `<`, `>`, space or other control characters outside a quoted local part).
    #[error("envelope address not sendable: {0:?}")]
    InvalidAddress(String),
    /// The connection failed (the error of the last host tried when all failed).
    #[error("{host}: {stage:?}: {source}")]
    Io {
        /// The host.
        host: String,
        /// Where it failed.
        stage: Stage,
        /// The IO error.
        source: Arc<io::Error>,
    },
    /// A stage took longer than its timeout.
    #[error("{host}: timeout at {stage:?}")]
    Timeout {
        /// The host.
        host: String,
        /// The stage.
        stage: Stage,
    },
    /// The server closed the connection.
    #[error("{host}: connection closed at {stage:?}")]
    Closed {
        /// The host.
        host: String,
        /// The stage.
        stage: Stage,
    },
    /// The server answered with something that is not an SMTP reply.
    #[error("{host}: bad reply: {source}")]
    Protocol {
        /// The host.
        host: String,
        /// The parse error.
        source: ReplyError,
    },
    /// The TLS handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// TLS is required but the server does not offer STARTTLS (RFC 3207 §4).
    #[error("{0}: STARTTLS required but not offered")]
    TlsRequired(String),
    /// The server refused at a stage (greeting, EHLO, MAIL, DATA or the message).
    #[error("refused at {stage:?}: {reply}")]
    Rejected {
        /// The stage.
        stage: Stage,
        /// The server's reply.
        reply: Reply,
    },
    /// Every recipient was refused at RCPT.
    #[error("all recipients refused")]
    RecipientsRejected {
        /// Each recipient with its reply.
        rejected: Vec<RecipientRejection>,
    },
    /// The message is larger than the server's SIZE (RFC 1870 §4).
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    MessageTooBig {
        /// The message size.
        size: usize,
        /// The server's SIZE.
        limit: usize,
    },
}

impl SendError {
    /// Whether sending again later may succeed: connection failures, timeouts and 4yz replies
    /// are transient; 5yz replies, a too-big message and a missing STARTTLS are permanent
    /// (RFC 5321 §4.2.1, §4.5.4.1). For refused recipients, transient when any reply was 4yz.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Io { .. }
            | SendError::Timeout { .. }
            | SendError::Closed { .. }
            | SendError::Protocol { .. } => true,
            SendError::Tls(_) => true,
            SendError::NoRoute
            | SendError::InvalidAddress(_)
            | SendError::TlsRequired(_)
            | SendError::MessageTooBig { .. } => false,
            SendError::Rejected { reply, .. } => reply.is_transient(),
            SendError::RecipientsRejected { rejected } => {
                rejected.iter().any(|r| r.reply.is_transient())
            }
        }
    }

    /// The server's reply behind the error, for the delivery report.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            SendError::Rejected { reply, .. } => Some(reply),
            SendError::RecipientsRejected { rejected } => rejected.first().map(|r| &r.reply),
            _ => None,
        }
    }

    /// True when the server refused in protocol (the connection is still in sync).
    fn leaves_connection_usable(&self) -> bool {
        match self {
            // RFC 5321 §3.8: 421 means the server is closing the channel.
            SendError::Rejected { reply, .. } => reply.code != 421,
            SendError::RecipientsRejected { .. } | SendError::MessageTooBig { .. } => true,
            _ => false,
        }
    }

    /// True when a reused connection turned out dead before the transaction reached the server.
    fn is_stale_connection(&self) -> bool {
        match self {
            SendError::Io {
                stage: Stage::Mail, ..
            }
            | SendError::Closed {
                stage: Stage::Mail, ..
            } => true,
            SendError::Rejected {
                stage: Stage::Mail,
                reply,
            } => reply.code == 421,
            _ => false,
        }
    }
}

/// Client settings.
#[derive(Clone)]
pub struct ClientConfig {
    /// The name we give in EHLO (RFC 5321 §4.1.1.1).
    pub helo_name: String,
    /// Use STARTTLS with this configuration when the server offers it.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Refuse to send in clear (needs `tls`).
    pub require_tls: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each command reply (RFC 5321 §4.5.3.2: 5 min for MAIL/RCPT, 2 min for DATA).
    pub command_timeout: Duration,
    /// Timeout for sending the message and its final reply (RFC 5321 §4.5.3.2.6: 10 min).
    pub data_timeout: Duration,
    /// Most simultaneous connections per host.
    pub max_connections_per_host: usize,
    /// How long an idle connection is kept for reuse.
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("helo_name", &self.helo_name)
            .field("tls", &self.tls.is_some())
            .field("require_tls", &self.require_tls)
            .field("max_connections_per_host", &self.max_connections_per_host)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults: no TLS, 10 s connect, 60 s per command, 5 min for the message, 4 connections
    /// per host kept 30 s when idle.
    pub fn new(helo_name: impl Into<String>) -> Self {
        ClientConfig {
            helo_name: helo_name.into(),
            tls: None,
            require_tls: false,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(300),
            max_connections_per_host: 4,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open SMTP session past EHLO (and STARTTLS), idle between transactions.
struct Connection {
    host: String,
    stream: Box<dyn Io>,
    input: BytesMut,
    caps: Capabilities,
}

impl Connection {
    fn io_error(&self, stage: Stage, e: io::Error) -> SendError {
        SendError::Io {
            host: self.host.clone(),
            stage,
            source: Arc::new(e),
        }
    }

    async fn read_reply(&mut self, stage: Stage, timeout: Duration) -> Result<Reply, SendError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match parse_reply(&self.input) {
                Ok(Some((reply, used))) => {
                    self.input.advance(used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(SendError::Protocol {
                        host: self.host.clone(),
                        source,
                    });
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input)).await {
                Err(_) => {
                    return Err(SendError::Timeout {
                        host: self.host.clone(),
                        stage,
                    });
                }
                Ok(Ok(0)) => {
                    return Err(SendError::Closed {
                        host: self.host.clone(),
                        stage,
                    });
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(self.io_error(stage, e)),
            }
        }
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        stage: Stage,
        timeout: Duration,
    ) -> Result<(), SendError> {
        match tokio::time::timeout(timeout, self.stream.write_all(bytes)).await {
            Err(_) => Err(SendError::Timeout {
                host: self.host.clone(),
                stage,
            }),
            Ok(Err(e)) => Err(self.io_error(stage, e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// A pooled connection is usable when the server has sent nothing since (no 421, no EOF).
    async fn is_idle_and_open(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        // Polls the read exactly once (no timer): pending means nothing arrived, which is what
        // an idle session looks like; data (a 421) or EOF means the server gave up on it.
        let mut probe = [0u8; 512];
        let stream = &mut self.stream;
        let polled = std::future::poll_fn(|cx| {
            let mut buf = tokio::io::ReadBuf::new(&mut probe);
            match std::pin::Pin::new(&mut **stream).poll_read(cx, &mut buf) {
                std::task::Poll::Pending => std::task::Poll::Ready(None),
                std::task::Poll::Ready(r) => {
                    std::task::Poll::Ready(Some(r.map(|()| buf.filled().len())))
                }
            }
        })
        .await;
        polled.is_none()
    }

    async fn command(
        &mut self,
        cmd: &[u8],
        stage: Stage,
        config: &ClientConfig,
    ) -> Result<Reply, SendError> {
        self.write(cmd, stage, config.command_timeout).await?;
        self.read_reply(stage, config.command_timeout).await
    }

    /// Connects, reads the greeting, says EHLO (HELO if EHLO is refused, RFC 5321 §3.2) and
    /// upgrades with STARTTLS when offered and configured.
    async fn open(host: &Host, config: &ClientConfig) -> Result<Connection, SendError> {
        let io_err = |stage, e| SendError::Io {
            host: host.name.clone(),
            stage,
            source: Arc::new(e),
        };
        let tcp = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(host.addr))
            .await
        {
            Err(_) => {
                return Err(SendError::Timeout {
                    host: host.name.clone(),
                    stage: Stage::Connect,
                });
            }
            Ok(Err(e)) => return Err(io_err(Stage::Connect, e)),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        let mut conn = Connection {
            host: host.name.clone(),
            stream: Box::new(tcp),
            input: BytesMut::with_capacity(4096),
            caps: Capabilities::default(),
        };
        let greeting = conn
            .read_reply(Stage::Greeting, config.command_timeout)
            .await?;
        if greeting.code != 220 {
            return Err(SendError::Rejected {
                stage: Stage::Greeting,
                reply: greeting,
            });
        }
        conn.hello(config).await?;
        if conn.caps.starttls
            && let Some(tls) = config.tls.clone()
        {
            let reply = conn
                .command(b"STARTTLS\r\n", Stage::StartTls, config)
                .await?;
            if reply.code != 220 {
                return Err(SendError::Rejected {
                    stage: Stage::StartTls,
                    reply,
                });
            }
            let name = rustls::pki_types::ServerName::try_from(host.name.clone())
                .map_err(|e| SendError::Tls(format!("server name {}: {e}", host.name)))?;
            let Connection { stream, .. } = conn;
            let connector = tokio_rustls::TlsConnector::from(tls);
            let tls_stream =
                match tokio::time::timeout(config.command_timeout, connector.connect(name, stream))
                    .await
                {
                    Err(_) => {
                        return Err(SendError::Timeout {
                            host: host.name.clone(),
                            stage: Stage::StartTls,
                        });
                    }
                    Ok(Err(e)) => return Err(SendError::Tls(e.to_string())),
                    Ok(Ok(s)) => s,
                };
            // RFC 3207 §4.2: discard what was learnt in clear and say EHLO again.
            conn = Connection {
                host: host.name.clone(),
                stream: Box::new(tls_stream),
                input: BytesMut::with_capacity(4096),
                caps: Capabilities::default(),
            };
            conn.hello(config).await?;
        } else if config.require_tls {
            return Err(SendError::TlsRequired(host.name.clone()));
        }
        Ok(conn)
    }

    async fn hello(&mut self, config: &ClientConfig) -> Result<(), SendError> {
        let ehlo = format!("EHLO {}\r\n", config.helo_name);
        let reply = self.command(ehlo.as_bytes(), Stage::Ehlo, config).await?;
        if reply.is_positive() {
            self.caps = Capabilities::from_ehlo(&reply);
            return Ok(());
        }
        let helo = format!("HELO {}\r\n", config.helo_name);
        let reply = self.command(helo.as_bytes(), Stage::Ehlo, config).await?;
        if !reply.is_positive() {
            return Err(SendError::Rejected {
                stage: Stage::Ehlo,
                reply,
            });
        }
        self.caps = Capabilities::default();
        Ok(())
    }

    /// Runs one transaction (RFC 5321 §3.3) driven by the sans-IO [`Transaction`].
    async fn transact(
        &mut self,
        envelope: &OutboundEnvelope,
        data: &[u8],
        config: &ClientConfig,
    ) -> Result<SendOutcome, SendError> {
        if let Some(limit) = self.caps.size.filter(|&l| l > 0 && data.len() > l) {
            return Err(SendError::MessageTooBig {
                size: data.len(),
                limit,
            });
        }
        let mut tx = Transaction::new(envelope, self.caps.pipelining);
        let first = tx.start(&self.caps, data);
        self.write(&first, Stage::Mail, config.command_timeout)
            .await?;
        let mut stage = Stage::Mail;
        let mut rcpts_seen = 0;
        loop {
            let timeout = if stage == Stage::Message {
                config.data_timeout
            } else {
                config.command_timeout
            };
            let reply = self.read_reply(stage, timeout).await?;
            if reply.code == 421 {
                // RFC 5321 §3.8: the server is shutting the channel; nothing more will come.
                return Err(SendError::Rejected { stage, reply });
            }
            match tx.on_reply(reply) {
                Step::Done(result) => return result,
                Step::Await => {}
                Step::Send(bytes) => self.write(&bytes, stage, config.command_timeout).await?,
                Step::SendMessage => {
                    stage = Stage::Message;
                    let stuffed = dot_stuff(data);
                    self.write(&stuffed, Stage::Message, config.data_timeout)
                        .await?;
                    continue;
                }
            }
            // Track the stage for error reports: MAIL, then one reply per RCPT, then DATA.
            stage = match stage {
                Stage::Mail if !envelope.rcpt_to.is_empty() => Stage::Rcpt,
                Stage::Mail => Stage::Data,
                Stage::Rcpt => {
                    rcpts_seen += 1;
                    if rcpts_seen >= envelope.rcpt_to.len() {
                        Stage::Data
                    } else {
                        Stage::Rcpt
                    }
                }
                other => other,
            };
        }
    }
}

/// Idle connections and the connection limit of one host.
struct HostPool {
    idle: Mutex<Vec<(Connection, Instant)>>,
    permits: Arc<Semaphore>,
}

/// An SMTP client with a small connection pool per host; cheap to share (`Arc`).
pub struct SmtpClient {
    config: ClientConfig,
    hosts: Mutex<HashMap<SocketAddr, Arc<HostPool>>>,
}

impl SmtpClient {
    /// A client with the given settings.
    pub fn new(config: ClientConfig) -> Self {
        SmtpClient {
            config,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn pool(&self, addr: SocketAddr) -> Arc<HostPool> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(addr)
            .or_insert_with(|| {
                Arc::new(HostPool {
                    idle: Mutex::new(Vec::new()),
                    permits: Arc::new(Semaphore::new(self.config.max_connections_per_host.max(1))),
                })
            })
            .clone()
    }

    fn take_idle(&self, pool: &HostPool) -> Option<Connection> {
        let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|(_, since)| now.duration_since(*since) < self.config.idle_timeout);
        idle.pop().map(|(c, _)| c)
    }

    /// Number of idle connections kept for `addr` (for tests and metrics).
    pub fn idle_connections(&self, addr: SocketAddr) -> usize {
        self.pool(addr)
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Sends `data` (an RFC 5322 message) to the first host of `route` that can be reached
    /// (RFC 5321 §5.1). Errors before a transaction starts (connect, greeting, EHLO, TLS) move
    /// on to the next host; the last such error is returned when none worked.
    pub async fn send(
        &self,
        route: &[Host],
        envelope: &OutboundEnvelope,
        data: &[u8],
    ) -> Result<SendOutcome, SendError> {
        let unsendable = |a: &str| {
            a.bytes()
                .any(|b| b.is_ascii_control() || matches!(b, b'<' | b'>' | b' '))
        };
        if let Some(bad) = std::iter::once(&envelope.mail_from)
            .chain(&envelope.rcpt_to)
            .find(|a| unsendable(a))
        {
            return Err(SendError::InvalidAddress(bad.clone()));
        }
        if envelope.rcpt_to.iter().any(String::is_empty) {
            return Err(SendError::InvalidAddress(String::new()));
        }
        let mut last = SendError::NoRoute;
        for host in route {
            let pool = self.pool(host.addr);
            let Ok(_permit) = pool.permits.clone().acquire_owned().await else {
                continue;
            };
            if let Some(mut conn) = self.take_idle(&pool)
                && conn.is_idle_and_open().await
            {
                match self.run(&pool, conn, envelope, data).await {
                    Err(e) if e.is_stale_connection() => {
                        tracing::debug!(host = %host.name, error = %e, "pooled SMTP connection was stale; reconnecting");
                    }
                    result => return result,
                }
            }
            match Connection::open(host, &self.config).await {
                Ok(conn) => return self.run(&pool, conn, envelope, data).await,
                Err(e) => {
                    tracing::debug!(host = %host.name, error = %e, "SMTP host failed; trying the next");
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn run(
        &self,
        pool: &HostPool,
        mut conn: Connection,
        envelope: &OutboundEnvelope,
        data: &[u8],
    ) -> Result<SendOutcome, SendError> {
        let result = conn.transact(envelope, data, &self.config).await;
        let reusable = match &result {
            Ok(_) => true,
            // RFC 5321 §4.1.1.5: RSET brings a refused transaction back to the initial state.
            Err(e) if e.leaves_connection_usable() => {
                matches!(conn.command(b"RSET\r\n", Stage::Mail, &self.config).await, Ok(r) if r.is_positive())
            }
            Err(_) => false,
        };
        if reusable {
            pool.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((conn, Instant::now()));
        }
        result
    }

    /// Says QUIT on every idle connection and forgets them (RFC 5321 §4.1.1.10).
    pub async fn close_idle(&self) {
        let pools: Vec<Arc<HostPool>> = self
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for pool in pools {
            let conns: Vec<Connection> = pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
                .map(|(c, _)| c)
                .collect();
            for mut conn in conns {
                let _ = conn.command(b"QUIT\r\n", Stage::Mail, &self.config).await;
            }
        }
    }
}
