//! Integration tests of the `mmsrelay` command line, one module per subcommand.

#[path = "cli/pdu.rs"]
mod pdu;
