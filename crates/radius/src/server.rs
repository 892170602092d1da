//! RFC 2866 §2–§4: a UDP accounting server. Each Accounting-Request from a configured client is
//! checked against that client's shared secret, turned into an [`AccountingEvent`], applied by
//! the caller's [`AccountingHandler`], and only then answered with an Accounting-Response
//! (RFC 2866 §2: "the server MUST NOT transmit any Accounting-Response reply if it fails to
//! record the accounting packet"). Unknown clients, malformed packets and bad authenticators
//! are dropped silently and counted (RFC 2865 §3). Retransmissions — same client, Identifier and
//! Request Authenticator within a window (RFC 2865 §3 "Identifier") — are answered again
//! without applying the event twice.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::net::UdpSocket;

use crate::{AccountingEvent, EventError, verify_accounting_request};

/// A RADIUS client (NAS, GGSN, PGW) allowed to send accounting, by source network, with its
/// shared secret (RFC 2865 §3 "Shared secret").
#[derive(Clone)]
pub struct Client {
    /// Source addresses of this client.
    pub net: IpNet,
    /// The shared secret.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("net", &self.net)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Listener configuration.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Allowed clients; the most specific network containing the source address wins.
    pub clients: Vec<Client>,
    /// How long a request is remembered to recognise its retransmissions.
    pub duplicate_window: Duration,
    /// Most requests being applied at once; more are dropped (the client retransmits).
    pub max_in_flight: usize,
}

impl ListenerConfig {
    /// A configuration with the given clients, a 30 s duplicate window and 1024 requests in
    /// flight.
    pub fn new(clients: Vec<Client>) -> Self {
        ListenerConfig {
            clients,
            duplicate_window: Duration::from_secs(30),
            max_in_flight: 1024,
        }
    }

    fn secret_for(&self, addr: SocketAddr) -> Option<&[u8]> {
        self.clients
            .iter()
            .filter(|c| c.net.contains(&addr.ip()))
            .max_by_key(|c| c.net.prefix_len())
            .map(|c| c.secret.as_slice())
    }
}

/// The handler failed to apply (store) an event: the request is not answered, so the client
/// retransmits (RFC 2866 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("accounting event not applied: {0}")]
pub struct HandlerError(pub String);

/// The relay's side: apply an accounting event durably before it is acknowledged.
pub trait AccountingHandler: Send + Sync + 'static {
    /// Applies `event` received from `from`; `Ok` means it is stored and may be acknowledged.
    fn apply(
        &self,
        event: AccountingEvent,
        from: SocketAddr,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Counters of the listener (monotonic).
#[derive(Debug, Default)]
pub struct Stats {
    received: AtomicU64,
    answered: AtomicU64,
    unknown_client: AtomicU64,
    malformed: AtomicU64,
    bad_authenticator: AtomicU64,
    duplicates: AtomicU64,
    handler_failed: AtomicU64,
    ignored: AtomicU64,
    overloaded: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Datagrams received.
    pub received: u64,
    /// Accounting-Responses sent (first answers and answers to retransmissions).
    pub answered: u64,
    /// Dropped: source address of no configured client.
    pub unknown_client: u64,
    /// Dropped: not a well-formed Accounting-Request.
    pub malformed: u64,
    /// Dropped: Request Authenticator does not match the client's secret.
    pub bad_authenticator: u64,
    /// Retransmissions recognised (answered again or dropped while the first is in progress).
    pub duplicates: u64,
    /// Not answered: the handler failed to apply the event.
    pub handler_failed: u64,
    /// Answered without an event: an Acct-Status-Type the relay does not act on.
    pub ignored: u64,
    /// Dropped: `max_in_flight` requests were already being applied.
    pub overloaded: u64,
}

impl Stats {
    /// Reads all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            received: r(&self.received),
            answered: r(&self.answered),
            unknown_client: r(&self.unknown_client),
            malformed: r(&self.malformed),
            bad_authenticator: r(&self.bad_authenticator),
            duplicates: r(&self.duplicates),
            handler_failed: r(&self.handler_failed),
            ignored: r(&self.ignored),
            overloaded: r(&self.overloaded),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

type DupKey = (SocketAddr, u8, [u8; 16]);

struct DupEntry {
    seen: Instant,
    /// `None` while the handler is still applying the first copy.
    response: Option<Arc<Vec<u8>>>,
}

#[derive(Default)]
struct DupCache {
    entries: HashMap<DupKey, DupEntry>,
    last_prune: Option<Instant>,
}

/// A bound accounting listener; [`AccountingListener::run`] serves until shutdown.
pub struct AccountingListener {
    socket: Arc<UdpSocket>,
    config: Arc<ListenerConfig>,
    stats: Arc<Stats>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl AccountingListener {
    /// Binds the UDP socket (RFC 2866 §3: port 1813 in production).
    pub async fn bind(addr: SocketAddr, config: ListenerConfig) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        Ok(AccountingListener {
            socket: Arc::new(socket),
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
            config: Arc::new(config),
            stats: Arc::new(Stats::default()),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The listener's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Receives and answers requests until `shutdown` completes. Handler calls run as
    /// separate tasks, so a slow store does not block other clients.
    pub async fn run<H: AccountingHandler>(
        self,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let dups = Arc::new(Mutex::new(DupCache::default()));
        let mut buf = vec![0u8; crate::MAX_PACKET_LEN];
        tokio::pin!(shutdown);
        loop {
            let (n, from) = tokio::select! {
                r = self.socket.recv_from(&mut buf) => r?,
                () = &mut shutdown => return Ok(()),
            };
            bump(&self.stats.received);
            let Some(raw) = buf.get(..n) else { continue };
            self.on_datagram(raw, from, &handler, &dups).await;
        }
    }

    async fn on_datagram<H: AccountingHandler>(
        &self,
        raw: &[u8],
        from: SocketAddr,
        handler: &Arc<H>,
        dups: &Arc<Mutex<DupCache>>,
    ) {
        let Some(secret) = self.config.secret_for(from) else {
            bump(&self.stats.unknown_client);
            tracing::debug!(%from, "RADIUS packet from unknown client dropped");
            return;
        };
        let packet = match verify_accounting_request(raw, secret) {
            Ok(p) if p.code == crate::Code::AccountingRequest => p,
            Ok(_) | Err(crate::AuthenticatorError::Decode(_)) => {
                bump(&self.stats.malformed);
                return;
            }
            Err(_) => {
                bump(&self.stats.bad_authenticator);
                tracing::warn!(%from, "RADIUS accounting request with bad authenticator dropped");
                return;
            }
        };
        let key = (from, packet.identifier, packet.authenticator);
        let window = self.config.duplicate_window;
        // Decide under the lock, act after it (the guard must not live across an await).
        let repeat: Option<Option<Arc<Vec<u8>>>> = {
            let mut cache = dups.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if cache
                .last_prune
                .is_none_or(|t| now.duration_since(t) >= window / 2)
            {
                cache
                    .entries
                    .retain(|_, e| now.duration_since(e.seen) < window);
                cache.last_prune = Some(now);
            }
            match cache
                .entries
                .get(&key)
                .filter(|e| now.duration_since(e.seen) < window)
            {
                Some(entry) => Some(entry.response.clone()),
                None => {
                    cache.entries.insert(
                        key,
                        DupEntry {
                            seen: now,
                            response: None,
                        },
                    );
                    None
                }
            }
        };
        if let Some(cached) = repeat {
            bump(&self.stats.duplicates);
            // While the first copy is still being applied there is nothing to repeat yet.
            if let Some(resp) = cached
                && self.socket.send_to(&resp, from).await.is_ok()
            {
                bump(&self.stats.answered);
            }
            return;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            bump(&self.stats.overloaded);
            dups.lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .remove(&key);
            return;
        };
        let response = match packet.accounting_response(secret) {
            Ok(r) => Arc::new(r),
            Err(_) => {
                bump(&self.stats.malformed);
                return;
            }
        };
        let event = match AccountingEvent::from_request(&packet, from.ip()) {
            Ok(ev) => Some(ev),
            Err(EventError::UnhandledStatusType(_)) => None,
            Err(_) => {
                bump(&self.stats.malformed);
                dups.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entries
                    .remove(&key);
                return;
            }
        };
        let (socket, stats, handler, dups) = (
            self.socket.clone(),
            self.stats.clone(),
            handler.clone(),
            dups.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            match event {
                None => bump(&stats.ignored),
                Some(event) => {
                    if let Err(e) = handler.apply(event, from).await {
                        bump(&stats.handler_failed);
                        tracing::warn!(%from, error = %e, "accounting event not applied; not answered");
                        dups.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entries
                            .remove(&key);
                        return;
                    }
                }
            }
            if let Some(entry) = dups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .get_mut(&key)
            {
                entry.response = Some(response.clone());
            }
            if socket.send_to(&response, from).await.is_ok() {
                bump(&stats.answered);
            }
        });
    }
}
