//! Async ESME (feature `client`): a tokio task that moves bytes between a TCP connection and the
//! sans-IO [`Session`]. Every protocol decision lives in the session; this module only connects,
//! reads, writes, sleeps until the session's next timeout and routes results to callers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::pdu::{SubmitSm, decode_frame};
use crate::session::{Action, MessageId, Session, SessionConfig, SubmitError, SubmitId};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The SMSC's address.
    pub smsc: SocketAddr,
    /// Protocol parameters (bind credentials, window, throttle, timers).
    pub session: SessionConfig,
    /// Bound on one TCP connect attempt.
    pub connect_timeout: Duration,
    /// Capacity of the channel of received deliver_sm; when full, further ones are dropped
    /// (they were already acknowledged to the SMSC).
    pub deliver_capacity: usize,
}

impl ClientConfig {
    /// Defaults for everything but the address.
    pub fn new(smsc: SocketAddr) -> Self {
        ClientConfig {
            smsc,
            session: SessionConfig::default(),
            connect_timeout: Duration::from_secs(5),
            deliver_capacity: 1024,
        }
    }
}

enum Command {
    Submit(SubmitSm, oneshot::Sender<Result<MessageId, SubmitError>>),
    Shutdown(oneshot::Sender<()>),
}

/// Handle on a running ESME session; cheap to clone. Dropping every handle shuts it down.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
}

impl Client {
    /// Spawns the session task (connects, binds, reconnects as needed) and returns the handle
    /// plus the channel on which received deliver_sm (e.g. delivery receipts) arrive.
    pub fn start(config: ClientConfig) -> (Client, mpsc::Receiver<SubmitSm>) {
        let (commands, rx) = mpsc::channel(1024);
        let (deliver_tx, deliver_rx) = mpsc::channel(config.deliver_capacity.max(1));
        tokio::spawn(run(config, rx, deliver_tx));
        (Client { commands }, deliver_rx)
    }

    /// Sends one submit_sm and waits for its own submit_sm_resp (SMPP 3.4 §4.4).
    pub async fn submit(&self, sm: SubmitSm) -> Result<MessageId, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Submit(sm, tx))
            .await
            .map_err(|_| SubmitError::Shutdown)?;
        rx.await.unwrap_or(Err(SubmitError::Shutdown))
    }

    /// Graceful shutdown: outstanding submits are answered, then unbind (§4.2) and close.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn read_some(conn: &mut Option<TcpStream>, buf: &mut BytesMut) -> std::io::Result<usize> {
    match conn {
        Some(c) => c.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn run(
    config: ClientConfig,
    mut commands: mpsc::Receiver<Command>,
    deliver: mpsc::Sender<SubmitSm>,
) {
    let mut session = Session::new(config.session.clone(), now());
    let mut conn: Option<TcpStream> = None;
    let mut rbuf = BytesMut::with_capacity(8192);
    let mut wbuf: Vec<u8> = Vec::with_capacity(8192);
    let mut waiting: HashMap<u64, oneshot::Sender<Result<MessageId, SubmitError>>> = HashMap::new();
    let mut shutdown_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut next_id: u64 = 0;
    let mut commands_open = true;

    loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Connect => {
                    let attempt = tokio::time::timeout(
                        config.connect_timeout,
                        TcpStream::connect(config.smsc),
                    )
                    .await;
                    match attempt {
                        Ok(Ok(stream)) => {
                            let _ = stream.set_nodelay(true);
                            conn = Some(stream);
                            rbuf.clear();
                            session.on_connected(now());
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(smsc = %config.smsc, error = %e, "SMPP connect failed");
                            session.on_connect_failed(now());
                        }
                        Err(_) => {
                            tracing::warn!(smsc = %config.smsc, "SMPP connect timed out");
                            session.on_connect_failed(now());
                        }
                    }
                }
                Action::Send(pdu) => {
                    if let Err(e) = pdu.encode(&mut wbuf) {
                        tracing::error!(error = %e, "SMPP PDU not encodable");
                    }
                }
                Action::Disconnect => {
                    if let Some(mut c) = conn.take() {
                        let _ = c.write_all(&wbuf).await;
                        let _ = c.shutdown().await;
                    }
                    wbuf.clear();
                    rbuf.clear();
                }
                Action::SubmitDone { id, result } => {
                    if let Some(tx) = waiting.remove(&id.0) {
                        let _ = tx.send(result);
                    }
                }
                Action::Deliver(sm) => {
                    let passed = deliver.try_send(*sm);
                    if passed.is_err() {
                        tracing::warn!("deliver_sm dropped: receiver full or gone");
                    }
                }
                Action::BindRejected(status) => {
                    tracing::warn!(smsc = %config.smsc, %status, "SMPP bind rejected");
                }
                Action::Closed => {
                    for w in shutdown_waiters.drain(..) {
                        let _ = w.send(());
                    }
                    return;
                }
            }
        }
        if !wbuf.is_empty() {
            if let Some(c) = conn.as_mut()
                && let Err(e) = c.write_all(&wbuf).await
            {
                tracing::warn!(error = %e, "SMPP write failed");
                conn = None;
                session.on_disconnected(now());
            }
            wbuf.clear();
            continue;
        }

        let deadline = session.poll_timeout();
        tokio::select! {
            cmd = commands.recv(), if commands_open => match cmd {
                Some(Command::Submit(sm, tx)) => {
                    next_id += 1;
                    waiting.insert(next_id, tx);
                    session.submit(SubmitId(next_id), sm, now());
                }
                Some(Command::Shutdown(tx)) => {
                    shutdown_waiters.push(tx);
                    session.shutdown(now());
                }
                None => {
                    commands_open = false;
                    session.shutdown(now());
                }
            },
            read = read_some(&mut conn, &mut rbuf) => match read {
                Ok(0) | Err(_) => {
                    conn = None;
                    rbuf.clear();
                    session.on_disconnected(now());
                }
                Ok(_) => loop {
                    match decode_frame(&rbuf) {
                        Ok(Some((pdu, used))) => {
                            rbuf.advance(used);
                            session.on_pdu(pdu, now());
                        }
                        Ok(None) => break,
                        Err(e) => {
                            session.on_decode_error(&e, now());
                            match e.skip_len() {
                                Some(n) => rbuf.advance(n.min(rbuf.len())),
                                None => break,
                            }
                        }
                    }
                },
            },
            () = sleep_until(deadline) => session.on_timeout(now()),
        }
    }
}
