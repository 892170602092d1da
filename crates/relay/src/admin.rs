//! The admin listener (DESIGN.md §9): `GET /health` (the store answers) and `GET /metrics`
//! (Prometheus text exposition format 0.0.4 of every `metrics` counter, gauge and histogram the
//! relay records).
//!
//! The Prometheus recorder is installed once per process ([`metrics_handle`]); every relay started
//! in the process (the demo runs two) renders the same registry.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use mms_store::Store;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::listener::{HttpLimits, TlsFiles};

/// `[admin]`: the health and metrics listener.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the admin listener at all.
    pub enabled: bool,
    /// Listen address of `/health` and `/metrics` (keep it off public networks).
    pub listen: SocketAddr,
    /// `[admin.tls]`: serve HTTPS with this certificate and key; absent: plain HTTP.
    pub tls: Option<crate::listener::TlsFiles>,
    /// `[admin.limits]`: connections, timeouts and request-head limits.
    pub limits: HttpLimits,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            tls: None,
            limits: HttpLimits {
                max_connections: 64,
                max_connections_per_ip: 16,
                ..HttpLimits::default()
            },
        }
    }
}

/// The process-wide Prometheus recorder, installed on first use. When another recorder was
/// installed first, a detached one is returned (its `/metrics` then shows nothing recorded).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "a metrics recorder is already installed");
                    PrometheusBuilder::new().build_recorder().handle()
                })
        })
        .clone()
}

struct AdminState<S> {
    store: S,
    metrics: PrometheusHandle,
}

impl<S: Clone> Clone for AdminState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The admin routes over `store`.
pub fn router<S: Store>(store: S) -> Router {
    let state = AdminState {
        store,
        metrics: metrics_handle(),
    };
    Router::new()
        .route("/health", get(health::<S>))
        .route("/metrics", get(render_metrics::<S>))
        .with_state(state)
}

/// 200 `ok` when the store answers a read, 503 with the error otherwise.
async fn health<S: Store>(State(state): State<AdminState<S>>) -> Response {
    match state.store.msisdn_for_impu("health-check:").await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")).into_response(),
    }
}

async fn render_metrics<S: Store>(State(state): State<AdminState<S>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Reads the TLS files (when configured), binds `config.listen` and serves the admin routes
/// under `config.limits` until `cancel` fires. Returns the bound address and the server task.
pub async fn spawn<S: Store>(
    config: &AdminConfig,
    store: S,
    cancel: CancellationToken,
) -> std::io::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let tls = config
        .tls
        .as_ref()
        .map(TlsFiles::server_config)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(crate::listener::serve(
        listener,
        router(store),
        config.limits.clone(),
        Vec::new(),
        tls,
        cancel,
    ));
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_config_defaults_to_loopback_9090_and_rejects_unknown_keys() {
        let c: AdminConfig = toml::from_str("").unwrap();
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 9090)));
        assert!(c.enabled);
        assert!(toml::from_str::<AdminConfig>("port = 1").is_err());
    }

    #[test]
    fn recorder_is_installed_once_and_renders_recorded_counters() {
        let a = metrics_handle();
        let b = metrics_handle();
        metrics::counter!("admin_test_total").increment(2);
        let text = b.render();
        assert!(text.contains("admin_test_total 2"), "{text}");
        assert!(a.render().contains("admin_test_total"));
    }
}
