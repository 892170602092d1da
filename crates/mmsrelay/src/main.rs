//! `mmsrelay`: the command line of the MMS Relay/Server.
//!
//! Each subcommand lives in its own module with an `Args` struct (clap) and a `run` function
//! returning the process exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench_cmd;
mod config_cmd;
mod demo_cmd;
mod pdu_cmd;
mod relay_toml;
mod resolve_cmd;
mod send_cmd;
mod serve_cmd;
mod subscriber_cmd;
mod ua;

#[derive(Parser)]
#[command(
    name = "mmsrelay",
    version,
    about = "MMS Relay/Server for SIP and tel addresses"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode or encode MMS PDUs (MMS ENC 1.3) as JSON.
    Pdu(pdu_cmd::Args),
    /// Resolve a recipient address to the route of its MMS Relay/Server (DESIGN.md §3).
    Resolve(resolve_cmd::Args),
    /// Send an MM as a user agent over MM1 (m-send-req) and print the m-send-conf.
    Send(send_cmd::Args),
    /// Run the relay (MM1, MM4, notifier, workers, admin) until SIGTERM/SIGINT.
    Serve(serve_cmd::Args),
    /// Print an example configuration or check one.
    Config(config_cmd::Args),
    /// Manage the local subscriber table (IMPU <-> MSISDN).
    Subscriber(subscriber_cmd::Args),
    /// Run two relays, DNS, HSS, SMSC and user agents on loopback and send MMs end to end.
    Demo(demo_cmd::Args),
    /// Load-test the whole chain on loopback (MM1 -> MM4 -> Sh -> SMPP) and report MM/s and latency.
    Bench(bench_cmd::Args),
}

/// Whether a subcommand's runtime has worker threads or runs on the calling one.
#[derive(Clone, Copy)]
enum Threads {
    Multi,
    One,
}

/// The tokio runtime of subcommand `name`; exit code 2 (with the reason on stderr) when it
/// cannot start.
fn runtime(name: &str, threads: Threads) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = match threads {
        Threads::Multi => tokio::runtime::Builder::new_multi_thread(),
        Threads::One => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("mmsrelay {name}: cannot start the async runtime: {e}");
        ExitCode::from(2)
    })
}

/// Logs to stderr at `filter` (RUST_LOG syntax) when given; nothing when `None`.
fn log_to_stderr(filter: Option<&str>) {
    if let Some(filter) = filter {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// A fresh directory path under the system's temporary directory for subcommand `name`
/// (`mmsrelay-<name>-<pid>-<millis>`; not created).
fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "mmsrelay-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Pdu(args) => pdu_cmd::run(args),
        Command::Resolve(args) => resolve_cmd::run(args),
        Command::Send(args) => send_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Config(args) => config_cmd::run(args),
        Command::Subscriber(args) => subscriber_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
    }
}
