//! A TCP proxy on 127.0.0.1 that a test can cut and restore: the way to make a shared server (the
//! PostgreSQL every test uses) go away for one relay without stopping it for everyone.
//!
//! [`TcpProxy::cut`] closes every proxied connection (both sides) and closes the listening
//! socket, so new connections are refused (`ECONNREFUSED`), as when the server's host is up and
//! the server is down. [`TcpProxy::restore`] listens again on the same address.
//! [`TcpProxy::lose_answer_after`] loses one answer on purpose: the request reaches the server,
//! the client's connection breaks before the reply comes back.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Counters of a proxy, shared with its tasks, and the armed answer-losing trap.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicUsize,
    open: AtomicUsize,
    /// Bytes whose sight, in what a client sends, breaks that client's connection once the
    /// bytes are forwarded (see [`TcpProxy::lose_answer_after`]); taken by the first match.
    trap: Mutex<Option<Vec<u8>>>,
}

impl Counters {
    /// Whether `chunk` springs the armed trap (disarming it).
    fn springs(&self, chunk: &[u8]) -> bool {
        let mut trap = self.trap.lock().unwrap_or_else(|e| e.into_inner());
        let hit = trap
            .as_deref()
            .is_some_and(|t| !t.is_empty() && chunk.windows(t.len()).any(|w| w == t));
        if hit {
            *trap = None;
        }
        hit
    }
}

/// Decrements the open-connection counter when a proxied connection ends (or is cut).
struct OpenGuard(Arc<Counters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The accept loop while the proxy is up.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A TCP proxy from a local address to `upstream`; stops (closing everything) when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    counters: Arc<Counters>,
    running: Option<Running>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let mut proxy = Self {
            addr: listener.local_addr()?,
            upstream,
            counters: Arc::default(),
            running: None,
        };
        proxy.running = Some(proxy.spawn(listener));
        Ok(proxy)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> usize {
        self.counters.accepted.load(Ordering::Relaxed)
    }

    /// Connections proxied now.
    pub fn open(&self) -> usize {
        self.counters.open.load(Ordering::Relaxed)
    }

    /// Arms a one-shot trap: the next chunk a client sends that contains `pattern` is forwarded
    /// to the server whole, and then that client's connection is closed at once, while the
    /// proxy reads and drops the server's reply and closes its side gracefully (FIN, no RST), so
    /// the server does act on the request. For PostgreSQL, `b"COMMIT"`: the transaction commits
    /// and the client gets a broken connection instead of the answer.
    pub fn lose_answer_after(&self, pattern: &[u8]) {
        *self.counters.trap.lock().unwrap_or_else(|e| e.into_inner()) = Some(pattern.to_vec());
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.running.is_none()
    }

    /// Closes every proxied connection and the listening socket; returns once both are closed.
    pub async fn cut(&mut self) {
        if let Some(Running { stop, task }) = self.running.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    /// Listens again on the same address (retrying for up to 5 s while the port is busy).
    pub async fn restore(&mut self) -> io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.running = Some(self.spawn(listener));
        Ok(())
    }

    fn spawn(&self, listener: TcpListener) -> Running {
        let (stop, mut stopped) = oneshot::channel();
        let (upstream, counters) = (self.upstream, self.counters.clone());
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                while conns.try_join_next().is_some() {}
                let (client, _) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(c) => c,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                    _ = &mut stopped => break,
                };
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                counters.open.fetch_add(1, Ordering::Relaxed);
                let guard = OpenGuard(counters.clone());
                conns.spawn(pipe(client, upstream, guard));
            }
            drop(listener);
            // Aborts every connection task and waits until each has dropped its sockets.
            conns.shutdown().await;
        });
        Running { stop, task }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}

/// Copies both ways between `client` and a new connection to `upstream` until either side ends,
/// or until the client sends what springs the armed trap ([`TcpProxy::lose_answer_after`]).
async fn pipe(client: TcpStream, upstream: SocketAddr, guard: OpenGuard) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let counters = guard.0.clone();
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let sprung = counters.springs(&buf[..n]);
            if to_server.write_all(&buf[..n]).await.is_err() {
                return false;
            }
            if sprung {
                return true;
            }
        }
    };
    let down = tokio::io::copy(&mut from_server, &mut to_client);
    let sprung = tokio::select! {
        sprung = up => sprung,
        _ = down => false,
    };
    if sprung {
        // The client loses its connection now; the server gets a FIN after the request and its
        // answer is read and dropped, so it acts on the request rather than seeing a reset.
        drop((from_client, to_client));
        let _ = to_server.shutdown().await;
        let mut sink = vec![0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(1..) = from_server.read(&mut sink).await {}
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: writes back whatever each connection sends.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 256];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, text: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(text).await?;
        let mut got = vec![0u8; text.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo"))??;
        Ok(got)
    }

    #[tokio::test]
    async fn a_sprung_trap_delivers_the_request_and_loses_the_answer() {
        let proxy = TcpProxy::start(echo().await).await.unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut a, b"BEGIN").await.unwrap(), b"BEGIN");
        proxy.lose_answer_after(b"COMMIT");
        assert!(
            round_trip(&mut a, b"xxCOMMITxx").await.is_err(),
            "the answer came"
        );
        // One-shot: the next connection is proxied as usual.
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut b, b"COMMIT").await.unwrap(), b"COMMIT");
    }

    #[tokio::test]
    async fn cut_closes_connections_and_refuses_new_ones_until_restored() {
        let mut proxy = TcpProxy::start(echo().await).await.unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut a, b"hello").await.unwrap(), b"hello");
        assert_eq!((proxy.accepted(), proxy.open()), (1, 1));

        proxy.cut().await;
        assert!(proxy.is_cut());
        assert_eq!(proxy.open(), 0);
        // The open connection is closed: EOF (or a reset) on the next read.
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), a.read(&mut buf))
            .await
            .expect("the cut connection is closed at once");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        // New connections are refused.
        let refused = TcpStream::connect(proxy.addr()).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

        proxy.restore().await.unwrap();
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut b, b"again").await.unwrap(), b"again");
        assert_eq!(proxy.accepted(), 2);
    }
}
