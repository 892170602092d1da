//! `mmsrelay resolve` (being written).

use std::process::ExitCode;

/// Arguments of `mmsrelay resolve`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mmsrelay resolve`.
pub fn run(_args: Args) -> ExitCode {
    ExitCode::FAILURE
}
