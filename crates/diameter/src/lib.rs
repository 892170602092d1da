//! Diameter base protocol (RFC 6733) and the Sh application (3GPP TS 29.328/29.329) as a sans-IO codec:
//! messages and AVPs ([`message`], [`avp`]), base peer messages ([`base`]), Sh User-Data ([`sh`]) and
//! Result-Code meanings ([`result`]); [`connection`] is the peer state machine (CER/CEA, watchdog per
//! RFC 3539, DPR, pending requests) driven by events and `now`. With feature `peer`, [`peer`] moves its
//! bytes over TCP with tokio and [`sh_client`] answers "which MSISDN has this IMPU" with a TTL cache.
#![forbid(unsafe_code)]

pub mod avp;
pub mod base;
pub mod codes;
pub mod connection;
pub mod message;
pub mod result;
pub mod sh;
pub mod tbcd;

#[cfg(feature = "peer")]
pub mod peer;
#[cfg(feature = "peer")]
pub mod sh_client;

pub use avp::Avp;
pub use message::{CommandFlags, DecodeError, Message, decode_frame};
pub use result::{AnswerResult, ResultError};
