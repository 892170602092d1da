//! The HTTP accept loop of the MM1 and admin listeners: hyper HTTP/1.1 with a connection limit,
//! a header read timeout (slow clients are cut off), limits on the request head, and optional TLS
//! (rustls) for the admin listener.
//!
//! Over `max_connections`, or over `max_connections_per_ip` from one client address, a new
//! connection is answered `503 Service Unavailable` with `Retry-After` (RFC 9110 §15.6.4,
//! §10.2.3) in clear, or closed (TLS), at once: a flood costs one short task per connection and
//! never queues, and a flood from one address leaves the other clients their slots. Addresses
//! that front many clients (the trusted authentication proxies and WAP gateways of MM1) have their
//! own limit, `max_connections_per_shared_ip`. By default it equals `max_connections` (one gateway
//! in front of every phone may use every slot); where several proxies or gateways share the
//! listener, set it lower so that one of them cannot take every slot.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use mm4_smtp::limit::PerAddress;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::{Cidr, in_any};

/// Smallest read buffer hyper accepts (it panics below it).
const MIN_HEAD_BYTES: usize = 8192;

/// Limits of one HTTP listener (`[mm1.limits]`, `[admin.limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Most connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Most connections served at once from one client address (IPv6: one /64); more are
    /// answered 503 and closed. Proxies and gateways the listener is told about have
    /// `max_connections_per_shared_ip` instead.
    pub max_connections_per_ip: usize,
    /// Most connections served at once from one address of a trusted proxy or WAP gateway
    /// (many phones behind one address); more are answered 503 and closed. Default 1024, as
    /// `max_connections`.
    pub max_connections_per_shared_ip: usize,
    /// Milliseconds a client gets to send a complete request head (request line and headers),
    /// counted from the connection (or the previous response); slower clients are disconnected.
    pub header_timeout_ms: u64,
    /// Milliseconds a client gets to send a whole request body (MM1 m-send-req); slower: 408.
    pub body_timeout_ms: u64,
    /// Most header fields in one request; more: 431.
    pub max_headers: usize,
    /// Largest request head in octets (at least 8192); larger: 431.
    pub max_head_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_connections_per_shared_ip: 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 60_000,
            max_headers: 64,
            max_head_bytes: 16 * 1024,
        }
    }
}

impl HttpLimits {
    /// The header read timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// The body read timeout.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    /// `Err(reason)` when a limit cannot work (zero, or a head limit under 8192 octets).
    pub fn check(&self) -> Result<(), &'static str> {
        if self.max_connections == 0
            || self.max_connections_per_ip == 0
            || self.max_connections_per_shared_ip == 0
        {
            return Err(
                "max_connections, max_connections_per_ip and max_connections_per_shared_ip must be positive",
            );
        }
        if self.header_timeout_ms == 0 || self.body_timeout_ms == 0 {
            return Err("timeouts must be positive");
        }
        if self.max_headers == 0 {
            return Err("max_headers must be positive");
        }
        if self.max_head_bytes < MIN_HEAD_BYTES {
            return Err("max_head_bytes must be at least 8192");
        }
        Ok(())
    }
}

/// `tls`: a PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Its content is never logged.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a rustls server configuration offering HTTP/1.1 (ALPN).
    pub fn server_config(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        let cert = std::fs::read(&self.cert)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.cert.display())))?;
        let key = std::fs::read(&self.key)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.key.display())))?;
        let config = mm4_smtp::server_config_from_pem(&cert, &key)?;
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Serves `app` on `listener` under `limits` (over TLS when `tls` is set) until `shutdown` is
/// cancelled; then stops accepting, lets open connections finish their request and returns.
/// Clients in `shared` (proxies, gateways: many users behind one address) are bound by
/// `max_connections_per_shared_ip` instead of `max_connections_per_ip`.
/// Handlers see the client's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shared: Vec<Cidr>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = PerAddress::new(limits.max_connections_per_ip);
    let per_shared_address = PerAddress::new(limits.max_connections_per_shared_ip);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout())
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_head_bytes.max(MIN_HEAD_BYTES));
    let builder = Arc::new(builder);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (addresses, limit) = if in_any(&shared, peer.ip()) {
            (&per_shared_address, "per_shared_ip")
        } else {
            (&per_address, "per_ip")
        };
        let Some(own) = addresses.try_acquire(peer.ip()) else {
            metrics::counter!("http_connections_refused_total", "limit" => limit).increment(1);
            tracing::debug!(%peer, "HTTP connection over the per-address limit refused");
            tasks.spawn(refuse(stream, acceptor.is_none()));
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics::counter!("http_connections_refused_total", "limit" => "total").increment(1);
            tracing::debug!(%peer, "HTTP connection over the limit refused");
            tasks.spawn(refuse(stream, acceptor.is_none()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, builder, shutdown) = (app.clone(), builder.clone(), shutdown.clone());
        let acceptor = acceptor.clone();
        let handshake = limits.header_timeout();
        tasks.spawn(async move {
            let _permits = (permit, own);
            match acceptor {
                None => serve_connection(stream, peer, app, &builder, &shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, peer, app, &builder, &shutdown).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Answers 503 in clear (or just closes a TLS connection) within 5 s.
async fn refuse(mut stream: TcpStream, clear: bool) {
    if clear {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                      Retry-After: 1\r\nConnection: close\r\n\r\n",
                )
                .await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
}

async fn serve_connection<IO>(
    io: IO,
    peer: SocketAddr,
    app: Router,
    builder: &hyper::server::conn::http1::Builder,
    shutdown: &CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            Ok::<_, Infallible>(
                app.oneshot(req.map(axum::body::Body::new))
                    .await
                    .unwrap_or_else(|e| match e {}),
            )
        }
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_check() {
        let l: HttpLimits = toml::from_str("").unwrap();
        assert_eq!(l, HttpLimits::default());
        assert!(l.check().is_ok());
        let small: HttpLimits = toml::from_str("max_head_bytes = 100").unwrap();
        assert!(small.check().is_err());
        let none: HttpLimits = toml::from_str("max_connections = 0").unwrap();
        assert!(none.check().is_err());
        let none: HttpLimits = toml::from_str("max_connections_per_ip = 0").unwrap();
        assert!(none.check().is_err());
        assert!(toml::from_str::<HttpLimits>("max_conns = 1").is_err());
    }
}
