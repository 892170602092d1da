//! RADIUS accounting codec (RFC 2865 §3 packet format, §5 attributes; RFC 2866 §3–§5 accounting)
//! and the Accounting-Request / Accounting-Response authenticators (RFC 2866 §3). Sans-IO: the
//! codec takes and returns bytes; with feature `server` the `server` module adds a tokio UDP
//! accounting listener.
#![forbid(unsafe_code)]

mod attributes;
mod event;
mod packet;
#[cfg(feature = "server")]
pub mod server;

pub use attributes::{AcctStatusType, AttributeError, Ipv6Prefix, attr};
pub use event::{AccountingEvent, EventError, SessionInfo};
pub use packet::{
    Attribute, AuthenticatorError, Code, DecodeError, EncodeError, MAX_PACKET_LEN, Packet,
    verify_accounting_request, verify_response,
};
