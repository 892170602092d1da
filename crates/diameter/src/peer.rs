//! Feature `peer`: Diameter over TCP with tokio (RFC 6733 §2.1, port 3868; no SCTP here). One task per
//! configured peer connects, reconnects with backoff (RFC 3539 §3.4.1), and moves bytes for a sans-IO
//! [`Connection`]; a [`PeerPool`] sends each request to the first open peer in configured order and, when
//! that connection is lost before the answer, retransmits it to the next with the T flag (RFC 6733 §5.5.4).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::base::{CapabilitiesExchange, Identity};
use crate::connection::{
    Action, Backoff, Connection, ConnectionConfig, EndToEndIds, RequestFailure, State,
};
use crate::message::{Message, decode_frame};

/// Default Diameter port (RFC 6733 §2.1).
pub const DEFAULT_PORT: u16 = 3868;

/// Settings shared by every peer of a pool.
#[derive(Clone, Debug)]
pub struct PeerSettings {
    /// Our Origin-Host/Origin-Realm.
    pub identity: Identity,
    /// Product-Name in the CER.
    pub product_name: String,
    /// Application the peer must advertise in its CEA.
    pub required_application: Option<u32>,
    /// Tw (RFC 3539 §3.4.1).
    pub watchdog_interval: Duration,
    /// Time a request may wait for its answer, failover included.
    pub request_timeout: Duration,
    /// TCP connect timeout, and the CEA / DPA wait.
    pub connect_timeout: Duration,
    /// First reconnect delay; doubles up to `reconnect_max`.
    pub reconnect_initial: Duration,
    /// Largest reconnect delay.
    pub reconnect_max: Duration,
}

/// A request through the pool failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    Timeout,
    /// No peer connection was open within the request timeout.
    #[error("no Diameter peer is connected")]
    NoPeer,
}

/// Most queued requests taken into one write.
const MAX_BATCH: usize = 64;

const DOWN: u8 = 0;
const OPEN: u8 = 1;
const SUSPECT: u8 = 2;

enum Command {
    Request {
        message: Message,
        reply: oneshot::Sender<Result<Message, RequestFailure>>,
    },
    Shutdown,
}

struct PeerHandle {
    address: String,
    commands: mpsc::Sender<Command>,
    state: Arc<AtomicU8>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct PoolInner {
    peers: Vec<PeerHandle>,
    changed: Arc<Notify>,
    request_timeout: Duration,
    end_to_end: Mutex<EndToEndIds>,
}

/// Connections to the configured peers, in priority order (see the module doc). Cheap to clone.
#[derive(Clone)]
pub struct PeerPool {
    inner: Arc<PoolInner>,
}

/// Appends the default port when `address` has none (`host`, `1.2.3.4`; IPv6 needs `[addr]:port`).
pub fn with_default_port(address: &str) -> String {
    match address.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => address.to_owned(),
        _ => format!("{address}:{DEFAULT_PORT}"),
    }
}

fn unix_seconds() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

impl PeerPool {
    /// Starts one task per address (must run inside a tokio runtime). Connections come up in the background.
    pub fn start(addresses: &[String], settings: PeerSettings) -> Self {
        let changed = Arc::new(Notify::new());
        let peers = addresses
            .iter()
            .enumerate()
            .map(|(index, address)| {
                let address = with_default_port(address);
                let (tx, rx) = mpsc::channel(1024);
                let state = Arc::new(AtomicU8::new(DOWN));
                let task = tokio::spawn(run_peer(
                    address.clone(),
                    settings.clone(),
                    rx,
                    state.clone(),
                    changed.clone(),
                    unix_seconds().wrapping_add(index as u32 * 7919),
                ));
                PeerHandle {
                    address,
                    commands: tx,
                    state,
                    task: Mutex::new(Some(task)),
                }
            })
            .collect();
        Self {
            inner: Arc::new(PoolInner {
                peers,
                changed,
                request_timeout: settings.request_timeout,
                end_to_end: Mutex::new(EndToEndIds::new(unix_seconds())),
            }),
        }
    }

    /// Addresses of the peers whose connection is open (CEA received, watchdog happy).
    pub fn open_peers(&self) -> Vec<String> {
        self.inner
            .peers
            .iter()
            .filter(|p| p.state.load(Ordering::Acquire) == OPEN)
            .map(|p| p.address.clone())
            .collect()
    }

    /// Waits until at least one peer is open, or `timeout`; returns whether one is.
    pub async fn wait_open(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.open_peers().is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn pick(&self) -> Option<&PeerHandle> {
        let peers = &self.inner.peers;
        peers
            .iter()
            .find(|p| p.state.load(Ordering::Acquire) == OPEN)
            .or_else(|| {
                peers
                    .iter()
                    .find(|p| p.state.load(Ordering::Acquire) == SUSPECT)
            })
    }

    /// Sends a request and waits for its answer (any Result-Code; checking it is the caller's job).
    /// Hop-by-Hop is set per connection; End-to-End is set once here and kept across failover.
    pub async fn request(&self, mut message: Message) -> Result<Message, PoolError> {
        let deadline = Instant::now() + self.inner.request_timeout;
        if message.end_to_end == 0 {
            message.end_to_end = self
                .inner
                .end_to_end
                .lock()
                .map_or(1, |mut ids| ids.next_id());
        }
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let Some(peer) = self.pick() else {
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return Err(PoolError::NoPeer);
                }
                continue;
            };
            let (reply, answer) = oneshot::channel();
            let command = Command::Request {
                message: message.clone(),
                reply,
            };
            if peer.commands.send(command).await.is_err() {
                return Err(PoolError::NoPeer);
            }
            match tokio::time::timeout_at(deadline, answer).await {
                Err(_) | Ok(Ok(Err(RequestFailure::Timeout))) => return Err(PoolError::Timeout),
                Ok(Ok(Ok(answer))) => return Ok(answer),
                Ok(Ok(Err(RequestFailure::ConnectionLost))) | Ok(Err(_)) => {
                    // RFC 6733 §5.5.4: the request may have reached the peer; flag the retransmission.
                    message.flags.retransmitted = true;
                }
                Ok(Ok(Err(_))) => tokio::task::yield_now().await,
            }
            if Instant::now() >= deadline {
                return Err(PoolError::Timeout);
            }
        }
    }

    /// Sends DPR on every open connection, waits for the DPAs (bounded by the connect timeout), ends the tasks.
    pub async fn shutdown(&self) {
        for peer in &self.inner.peers {
            let _ = peer.commands.send(Command::Shutdown).await;
        }
        for peer in &self.inner.peers {
            let task = peer.task.lock().ok().and_then(|mut t| t.take());
            if let Some(task) = task {
                let _ = task.await;
            }
        }
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        for peer in &self.peers {
            if let Some(task) = peer.task.lock().ok().and_then(|mut t| t.take()) {
                task.abort();
            }
        }
    }
}

/// How a connection ended.
enum Ended {
    Shutdown,
    Lost { was_open: bool },
}

async fn run_peer(
    address: String,
    settings: PeerSettings,
    mut commands: mpsc::Receiver<Command>,
    state: Arc<AtomicU8>,
    changed: Arc<Notify>,
    seed: u32,
) {
    let mut backoff = Backoff::new(settings.reconnect_initial, settings.reconnect_max);
    let mut seed = seed;
    loop {
        let connect = tokio::time::timeout(settings.connect_timeout, TcpStream::connect(&address));
        tokio::pin!(connect);
        let stream = loop {
            tokio::select! {
                result = &mut connect => break result.ok().and_then(Result::ok),
                command = commands.recv() => if !refuse(command) { return },
            }
        };
        if let Some(stream) = stream {
            let _ = stream.set_nodelay(true);
            seed = seed.wrapping_add(1);
            match run_connection(
                stream,
                &address,
                &settings,
                &mut commands,
                &state,
                &changed,
                seed,
            )
            .await
            {
                Ended::Shutdown => return,
                Ended::Lost { was_open } => {
                    if was_open {
                        backoff.reset();
                    }
                }
            }
        }
        let pause = tokio::time::sleep(backoff.next_delay());
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                command = commands.recv() => if !refuse(command) { return },
            }
        }
    }
}

/// Answers a request that arrives while not connected; false when the pool asks to stop.
fn refuse(command: Option<Command>) -> bool {
    match command {
        Some(Command::Request { reply, .. }) => {
            let _ = reply.send(Err(RequestFailure::NotOpen));
            true
        }
        Some(Command::Shutdown) | None => false,
    }
}

async fn run_connection(
    stream: TcpStream,
    address: &str,
    settings: &PeerSettings,
    commands: &mut mpsc::Receiver<Command>,
    shared_state: &AtomicU8,
    changed: &Notify,
    seed: u32,
) -> Ended {
    let local_ip = stream
        .local_addr()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
    let mut capabilities = CapabilitiesExchange::sh_client(
        settings.identity.clone(),
        local_ip,
        &settings.product_name,
    );
    capabilities.origin_state_id = Some(seed);
    let config = ConnectionConfig {
        capabilities,
        required_application: settings.required_application,
        watchdog_interval: settings.watchdog_interval,
        request_timeout: settings.request_timeout,
        handshake_timeout: settings.connect_timeout,
    };
    let mut conn = Connection::new(config, Instant::now().into_std(), seed);
    let (mut reader, mut writer) = stream.into_split();
    let mut inbox = BytesMut::with_capacity(16 * 1024);
    let mut outbox = BytesMut::with_capacity(16 * 1024);
    let mut replies: HashMap<u64, oneshot::Sender<Result<Message, RequestFailure>>> =
        HashMap::new();
    let mut next_token: u64 = 0;
    let mut shutting_down = false;
    let mut was_open = false;
    loop {
        let mut down = false;
        while let Some(action) = conn.poll_action() {
            match action {
                Action::Send(m) => m.encode(&mut outbox),
                Action::Answer { token, message } => {
                    if let Some(reply) = replies.remove(&token) {
                        let _ = reply.send(Ok(message));
                    }
                }
                Action::Failed { token, reason } => {
                    if let Some(reply) = replies.remove(&token) {
                        let _ = reply.send(Err(reason));
                    }
                }
                Action::Up(peer) => {
                    tracing::info!(
                        peer = address,
                        origin_host = %peer.identity.host,
                        product = %peer.product_name,
                        "Diameter peer open"
                    );
                    was_open = true;
                }
                Action::Down(reason) => {
                    tracing::warn!(peer = address, ?reason, "Diameter peer down");
                    down = true;
                }
            }
        }
        let new_state = match conn.state() {
            State::Open => OPEN,
            State::Suspect => SUSPECT,
            _ => DOWN,
        };
        if shared_state.swap(new_state, Ordering::AcqRel) != new_state {
            changed.notify_waiters();
        }
        if !outbox.is_empty() {
            if writer.write_all(&outbox).await.is_err() {
                conn.transport_lost();
                outbox.clear();
                continue;
            }
            outbox.clear();
        }
        if down {
            let _ = writer.shutdown().await;
            return if shutting_down {
                Ended::Shutdown
            } else {
                Ended::Lost { was_open }
            };
        }
        let wake = conn.poll_timeout().map(Instant::from_std);
        tokio::select! {
            read = reader.read_buf(&mut inbox) => match read {
                Ok(0) | Err(_) => conn.transport_lost(),
                Ok(_) => loop {
                    match decode_frame(&mut inbox) {
                        Ok(Some(message)) => conn.handle_message(message, Instant::now().into_std()),
                        Ok(None) => break,
                        Err(_) => {
                            conn.transport_lost();
                            break;
                        }
                    }
                },
            },
            command = commands.recv(), if !shutting_down => {
                // Take what else is queued too, so a burst of requests goes out in one write.
                let mut command = command;
                for _ in 0..MAX_BATCH {
                    let now = Instant::now().into_std();
                    match command {
                        Some(Command::Request { message, reply }) => {
                            next_token += 1;
                            match conn.send_request(message, next_token, now) {
                                Ok(()) => {
                                    replies.insert(next_token, reply);
                                }
                                Err(e) => {
                                    let _ = reply.send(Err(e));
                                }
                            }
                        }
                        Some(Command::Shutdown) | None => {
                            shutting_down = true;
                            conn.close(now);
                            break;
                        }
                    }
                    match commands.try_recv() {
                        Ok(next) => command = Some(next),
                        Err(_) => break,
                    }
                }
            }
            () = sleep_until(wake) => conn.handle_timeout(Instant::now().into_std()),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_3868_rfc6733_2_1() {
        assert_eq!(with_default_port("hss.example"), "hss.example:3868");
        assert_eq!(with_default_port("127.0.0.1:3870"), "127.0.0.1:3870");
        assert_eq!(with_default_port("[::1]:1"), "[::1]:1");
        assert_eq!(with_default_port("[::1]"), "[::1]:3868");
    }
}
