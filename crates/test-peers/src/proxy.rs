//! A TCP proxy on 127.0.0.1 that a test can cut and restore: the way to make a shared server (the
//! PostgreSQL every test uses) go away for one relay without stopping it for everyone.
//!
//! [`TcpProxy::cut`] closes every proxied connection (both sides) and closes the listening
//! socket, so new connections are refused (`ECONNREFUSED`), as when the server's host is up and
//! the server is down. [`TcpProxy::restore`] listens again on the same address.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Counters of a proxy, shared with its tasks.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicUsize,
    open: AtomicUsize,
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

/// Copies both ways between `client` and a new connection to `upstream` until either side ends.
async fn pipe(mut client: TcpStream, upstream: SocketAddr, _guard: OpenGuard) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
