//! SMTP transport for MM4 (3GPP TS 23.140 §8.4 carries MM4 over SMTP, RFC 5321): an inbound
//! [`server`] that acknowledges a message only after the relay stored it, and an outbound
//! [`client`] with failover, connection reuse, PIPELINING (RFC 2920) and STARTTLS (RFC 3207).
//! The crate moves raw RFC 5322 bytes and an envelope; MM4 header mapping is the `mm4` crate's.
#![forbid(unsafe_code)]

pub mod client;
mod dialogue;
pub mod limit;
mod reply;
pub mod server;
mod tls;

pub use client::{
    ClientConfig, Host, OutboundEnvelope, RecipientRejection, SendError, SendOutcome, SmtpClient,
    Stage,
};
pub use reply::{EnhancedCode, Reply, ReplyError};
pub use server::{DeliveryHandler, Envelope, Reject, ServerConfig, SmtpServer};
pub use tls::server_config_from_pem;
