//! `mmsrelay serve`: runs one relay (DESIGN.md §9) from a TOML file until SIGTERM or SIGINT, then
//! shuts it down gracefully. No file (or an empty one) serves with every default: MM1 on
//! 127.0.0.1:8080, MM4 on 127.0.0.1:2525, admin on 127.0.0.1:9090, SQLite in `./data`.
//!
//! Once every listener is bound it prints one line on stdout,
//! `READY mm1=ADDR mm4=ADDR admin=ADDR|- radius=ADDR|-`, so scripts and tests can use port 0.
//!
//! Exit codes: 0 stopped by a signal, 2 bad configuration or start failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use relay::config::RelayConfig;
use relay::service::{BoundAddresses, Relay};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Human,
    /// One JSON object per event.
    Json,
}

/// Arguments of `mmsrelay serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The TOML configuration (see `mmsrelay config example`); none: every default.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format on stderr; the level comes from RUST_LOG (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

/// Installs the tracing subscriber on stderr (RUST_LOG, default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Reads the configuration: the file when given, else every default.
pub fn load_config(path: Option<&PathBuf>) -> Result<RelayConfig, String> {
    match path {
        Some(p) => RelayConfig::load(p).map_err(|e| e.to_string()),
        None => Ok(RelayConfig::default()),
    }
}

/// The `READY …` line.
pub fn ready_line(a: &BoundAddresses) -> String {
    let opt = |x: Option<std::net::SocketAddr>| x.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!(
        "READY mm1={} mm4={} admin={} radius={}",
        a.mm1,
        a.mm4,
        opt(a.admin),
        opt(a.radius)
    )
}

/// Runs `mmsrelay serve`.
pub fn run(args: Args) -> ExitCode {
    init_logging(args.log_format);
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mmsrelay serve: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match crate::runtime("serve", crate::Threads::Multi) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let relay = match Relay::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mmsrelay serve: {e}");
                return ExitCode::from(2);
            }
        };
        println!("{}", ready_line(&relay.addresses));
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        tracing::info!("signal received, shutting down");
        relay.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
