//! Peers used only by tests and the demo: an authoritative DNS zone, an HSS answering Sh, an SMSC sink,
//! a TCP proxy that can be cut (a database outage for one relay), a small disk that fills up, and the external peer programs the
//! tests run (aiosmtpd, radclient).
//!
//! Each peer sits behind its own feature so a crate's tests build only the peer they meet.
#![forbid(unsafe_code)]

pub mod hostile;

#[cfg(feature = "disk")]
pub mod disk;
#[cfg(feature = "dns")]
pub mod dns;
#[cfg(feature = "external")]
pub mod external;
#[cfg(feature = "hss")]
pub mod hss;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "smsc")]
pub mod smsc;
