//! `mmsrelay pdu` (being written).

use std::process::ExitCode;

/// Arguments of `mmsrelay pdu`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mmsrelay pdu`.
pub fn run(_args: Args) -> ExitCode {
    ExitCode::FAILURE
}
