//! Peers used only by tests and the demo: an authoritative DNS zone, an HSS answering Sh, an SMSC sink.
#![forbid(unsafe_code)]
