//! One running relay (DESIGN.md §1, §9): [`Relay::start`] opens the store and starts every
//! listener (MM1 HTTP, MM4 SMTP, RADIUS, admin) and every worker (routing, MM4 out, notifier,
//! expiry sweeper) of a [`RelayConfig`]; [`RunningRelay::shutdown`] stops them gracefully.
//!
//! The workers share one [`Wake`] (work queued on this node wakes the loop of its kind at once)
//! and one [`CancellationToken`]. Shutdown order: stop accepting (listeners end their graceful
//! shutdown, in-flight requests finish), let each worker settle the items it holds (items it did
//! not start stay queued, their leases expire for another node), unbind from the SMSC, send DPR
//! to the HSS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use diameter::sh_client::ShClient;
use mms_store::{AnyStore, OpenError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, RelayConfig};
use crate::identity::{RadiusHandle, RadiusStartError, spawn_radius};
use crate::mm1::{self, Mm1State};
use crate::mm4::{self, Mm4Identity};
use crate::worker::Wake;
use crate::{admin, notifier, routing, worker};

/// How often the expiry sweeper looks for expired recipients (MMS ENC X-Mms-Expiry).
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How long shutdown waits for one task before leaving it behind.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Why a relay did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] OpenError),
    /// The DNS resolver could not be built.
    #[error("resolver: {0}")]
    Resolver(#[from] mms_resolver::LookupSetupError),
    /// The MM1 listener could not bind.
    #[error("MM1 listener {addr}: {source}")]
    Mm1Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The MM4 listener could not start.
    #[error("MM4 listener: {0}")]
    Mm4(#[from] mm4::StartError),
    /// The RADIUS listener could not start.
    #[error("RADIUS listener: {0}")]
    Radius(#[from] RadiusStartError),
    /// The notifier could not start (SMSC address).
    #[error("notifier: {0}")]
    Notifier(#[from] notifier::StartError),
    /// The admin listener could not bind.
    #[error("admin listener {addr}: {source}")]
    AdminBind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The addresses a running relay actually bound (a configured port 0 becomes the real port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundAddresses {
    /// MM1 HTTP.
    pub mm1: SocketAddr,
    /// MM4 SMTP.
    pub mm4: SocketAddr,
    /// RADIUS accounting (UDP), when configured.
    pub radius: Option<SocketAddr>,
    /// `/health` and `/metrics`, when enabled.
    pub admin: Option<SocketAddr>,
}

/// The entry point: starts relays.
#[derive(Debug)]
pub struct Relay;

/// A started relay; stop it with [`RunningRelay::shutdown`].
pub struct RunningRelay {
    /// Where it listens.
    pub addresses: BoundAddresses,
    store: AnyStore,
    cancel: CancellationToken,
    wake: Wake,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    radius: Option<RadiusHandle>,
    sh: Option<Arc<ShClient>>,
}

impl std::fmt::Debug for RunningRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningRelay")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// Turns a task returning an IO result into one that logs its error.
fn logged(
    name: &'static str,
    task: JoinHandle<std::io::Result<()>>,
) -> (&'static str, JoinHandle<()>) {
    (
        name,
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "listener failed"),
                Err(e) => tracing::error!(task = name, error = %e, "listener panicked"),
            }
        }),
    )
}

impl Relay {
    /// Starts everything `config` names. A listener configured on port 0 gets a free port (see
    /// [`RunningRelay::addresses`]). Needs a multi-threaded tokio runtime.
    pub async fn start(config: RelayConfig) -> Result<RunningRelay, StartError> {
        // Two enabled rustls providers panic at first use: pick ring once (DESIGN.md §12).
        let _ = rustls::crypto::ring::default_provider().install_default();
        config.validate()?;
        let config = Arc::new(config);
        let store =
            AnyStore::open_with(&config.relay.store, config.relay.store_pool_options()).await?;
        tracing::info!(store = %redact(&config.relay.store), "store open");
        let resolver_config = config.resolver_config();
        let resolver = Arc::new(mms_resolver::dns_resolver(resolver_config.clone())?);
        let sh = config.hss.clone().map(|c| Arc::new(ShClient::start(c)));
        let wake = Wake::new();
        let cancel = CancellationToken::new();
        let mut running = RunningRelay {
            addresses: BoundAddresses {
                mm1: config.mm1.listen,
                mm4: config.mm4.listen,
                radius: None,
                admin: None,
            },
            store: store.clone(),
            cancel: cancel.clone(),
            wake: wake.clone(),
            tasks: Vec::new(),
            radius: None,
            sh: sh.clone(),
        };
        // On any error below, stop what already runs.
        match running
            .start_parts(&config, resolver, resolver_config)
            .await
        {
            Ok(()) => Ok(running),
            Err(e) => {
                running.shutdown().await;
                Err(e)
            }
        }
    }
}

impl RunningRelay {
    async fn start_parts(
        &mut self,
        config: &Arc<RelayConfig>,
        resolver: Arc<mms_resolver::DnsResolver>,
        resolver_config: mms_resolver::ResolverConfig,
    ) -> Result<(), StartError> {
        let (store, wake, cancel, sh) = (
            self.store.clone(),
            self.wake.clone(),
            self.cancel.clone(),
            self.sh.clone(),
        );
        if config.radius.listen.is_some() {
            let handle = spawn_radius(&config.radius, store.clone()).await?;
            self.addresses.radius = Some(handle.local_addr);
            self.radius = Some(handle);
        }

        let me = Arc::new(Mm4Identity::new(
            &config.relay.mmse_domain,
            &resolver_config,
            &config.mm4,
        ));
        let (mm4_addr, mm4_task) = mm4::spawn_server(
            &config.mm4,
            me.clone(),
            store.clone(),
            wake.clone(),
            cancel.clone(),
        )
        .await?;
        self.addresses.mm4 = mm4_addr;
        self.tasks.push(logged("mm4-server", mm4_task));
        tracing::info!(addr = %mm4_addr, mmse_domain = %me.mmse_domain, "MM4 listener started");

        self.tasks.push((
            "mm4-out",
            mm4::spawn_workers(
                &config.mm4,
                me,
                store.clone(),
                resolver.clone(),
                wake.clone(),
                cancel.clone(),
            )?,
        ));
        self.tasks.push((
            "routing",
            routing::spawn(
                &config.routing,
                store.clone(),
                resolver,
                sh.clone(),
                wake.clone(),
                cancel.clone(),
            ),
        ));
        match &config.smsc {
            Some(smsc) => {
                let task = notifier::spawn(
                    &config.notifier,
                    smsc,
                    &config.mm1.public_url,
                    store.clone(),
                    sh.clone(),
                    wake.clone(),
                    cancel.clone(),
                )
                .await?;
                self.tasks.push(("notifier", task));
                tracing::info!(smsc = %format!("{}:{}", smsc.host, smsc.port), "notifier started");
            }
            None => tracing::warn!("no [smsc] configured: WAP pushes wait in the queue"),
        }
        self.tasks.push((
            "expiry",
            worker::spawn_expiry_sweeper(
                store.clone(),
                EXPIRY_SWEEP_INTERVAL,
                wake.clone(),
                cancel.clone(),
            ),
        ));

        if config.admin.enabled {
            let (addr, task) = admin::spawn(&config.admin, store.clone(), cancel.clone())
                .await
                .map_err(|source| StartError::AdminBind {
                    addr: config.admin.listen,
                    source,
                })?;
            self.addresses.admin = Some(addr);
            self.tasks.push(logged("admin", task));
            tracing::info!(%addr, "admin listener started (/health, /metrics)");
        }

        // MM1 last: phones are accepted only once everything behind it runs.
        let listener = tokio::net::TcpListener::bind(config.mm1.listen)
            .await
            .map_err(|source| StartError::Mm1Bind {
                addr: config.mm1.listen,
                source,
            })?;
        let mm1_addr = listener
            .local_addr()
            .map_err(|source| StartError::Mm1Bind {
                addr: config.mm1.listen,
                source,
            })?;
        self.addresses.mm1 = mm1_addr;
        let state = Mm1State::from_config(config.clone(), store, sh).with_wake(self.wake.clone());
        let stop = cancel.clone();
        self.tasks.push(logged(
            "mm1",
            tokio::spawn(mm1::serve(listener, state, stop.cancelled_owned())),
        ));
        tracing::info!(addr = %mm1_addr, public_url = %config.mm1.public_url, "MM1 listener started");
        Ok(())
    }

    /// The store this relay runs on.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// Wakes every worker loop (e.g. after queueing work from outside the relay).
    pub fn wake(&self) {
        self.wake.all();
    }

    /// Stops gracefully: listeners stop accepting and finish in-flight requests, workers settle
    /// the items in hand, the SMPP session unbinds and the HSS gets DPR. Each task gets
    /// [`SHUTDOWN_GRACE`]; one that overruns is left behind with a warning.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for (name, task) in self.tasks.drain(..) {
            match tokio::time::timeout(SHUTDOWN_GRACE, task).await {
                Ok(_) => tracing::debug!(task = name, "stopped"),
                Err(_) => tracing::warn!(task = name, "did not stop in time"),
            }
        }
        if let Some(radius) = self.radius.take()
            && let Err(e) = radius.shutdown().await
        {
            tracing::warn!(error = %e, "RADIUS listener stopped with an error");
        }
        if let Some(sh) = self.sh.take() {
            sh.shutdown().await;
        }
        tracing::info!("relay stopped");
    }
}

/// A store location with any password left out, for logs.
fn redact(location: &str) -> String {
    match (location.find("://"), location.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &location[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &location[..scheme + 3], &location[at..])
        }
        _ => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_passwords_stay_out_of_logs() {
        assert_eq!(
            redact("postgres://relay:secret@db:5432/mms"),
            "postgres://relay:***@db:5432/mms"
        );
        assert_eq!(redact("./data"), "./data");
    }

    fn loopback_config(dir: &std::path::Path) -> RelayConfig {
        let mut c = RelayConfig::default();
        c.relay.store = dir.display().to_string();
        c.mm1.listen = "127.0.0.1:0".parse().unwrap();
        c.mm4.listen = "127.0.0.1:0".parse().unwrap();
        c.admin.listen = "127.0.0.1:0".parse().unwrap();
        c.resolver.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starts_on_free_ports_answers_health_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(loopback_config(dir.path())).await.unwrap();
        let a = relay.addresses;
        assert_ne!(a.mm1.port(), 0);
        assert_ne!(a.mm4.port(), 0);
        let admin = a.admin.unwrap();
        let health = reqwest::get(format!("http://{admin}/health"))
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let metrics = reqwest::get(format!("http://{admin}/metrics"))
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
        tokio::time::timeout(Duration::from_secs(20), relay.shutdown())
            .await
            .unwrap();
        // The ports are free again.
        tokio::net::TcpListener::bind(a.mm1).await.unwrap();
        tokio::net::TcpListener::bind(a.mm4).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taken_port_is_a_start_error_naming_the_listener() {
        let dir = tempfile::tempdir().unwrap();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = loopback_config(dir.path());
        c.mm1.listen = taken.local_addr().unwrap();
        let err = Relay::start(c).await.unwrap_err();
        assert!(matches!(err, StartError::Mm1Bind { .. }), "{err}");
    }
}
