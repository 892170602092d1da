//! Diameter base protocol (RFC 6733) and the Sh application (3GPP TS 29.328/29.329) as a sans-IO codec:
//! messages and AVPs ([`message`], [`avp`]), base peer messages ([`base`]), Sh User-Data ([`sh`]) and
//! Result-Code meanings ([`result`]); [`connection`] is the peer state machine (CER/CEA, watchdog per
//! RFC 3539, DPR, pending requests) driven by events and `now`. With feature `peer`, `peer` moves its
//! bytes over TCP with tokio and `sh_client` answers "which MSISDN has this IMPU" with a TTL cache.
//!
//! ```
//! use diameter::base::Identity;
//! use diameter::sh::{DataReference, UserDataRequest, UserIdentity};
//! use diameter::Message;
//!
//! let udr = UserDataRequest {
//!     session_id: "relay.example;1;1".into(),
//!     origin: Identity { host: "relay.example".into(), realm: "example".into() },
//!     destination_host: None,
//!     destination_realm: "hss.example".into(),
//!     user_identity: UserIdentity::PublicIdentity("sip:bob@b.example".into()),
//!     data_references: vec![DataReference::Msisdn],
//! };
//! let bytes = udr.to_message().unwrap().to_bytes();
//! let (message, used) = Message::decode(&bytes).unwrap();
//! assert_eq!(used, bytes.len());
//! assert_eq!(UserDataRequest::from_message(&message).unwrap(), udr);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
