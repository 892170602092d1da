//! `mmsrelay`: the command line of the MMS Relay/Server.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mmsrelay", version, about = "MMS Relay/Server for SIP and tel addresses")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
