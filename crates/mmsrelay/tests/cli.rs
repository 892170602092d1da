//! Integration tests of the `mmsrelay` command line, one module per subcommand.

#[path = "cli/resolve.rs"]
mod resolve;

#[path = "cli/pdu.rs"]
mod pdu;

#[path = "cli/harness.rs"]
mod harness;

#[path = "cli/e2e.rs"]
mod e2e;

#[path = "cli/e2e_pg.rs"]
mod e2e_pg;

#[path = "cli/bench.rs"]
mod bench;

#[path = "cli/soak.rs"]
mod soak;

#[path = "cli/outage.rs"]
mod outage;
