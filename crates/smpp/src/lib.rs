//! SMPP 3.4 codec (sans-IO) and, behind feature `client`, an async ESME session.
//!
//! [`pdu`] encodes and decodes the PDUs an ESME sending WAP push needs (bind, submit_sm,
//! deliver_sm, enquire_link, unbind, generic_nack); [`session`] holds every protocol decision
//! as a state machine driven by events and `now`; `client` (feature `client`) is the thin tokio
//! task that moves bytes for it.
#![forbid(unsafe_code)]

pub mod pdu;
pub mod receipt;
pub mod session;
mod status;

#[cfg(feature = "client")]
pub mod client;

pub use pdu::{
    Address, Bind, BindResp, Body, DecodeError, EncodeError, Pdu, SubmitSm, SubmitSmResp, Tlv,
    decode_frame,
};
pub use receipt::{DeliveryReceipt, MessageState, ReceiptError};
pub use session::{MessageId, SubmitError};
pub use status::CommandStatus;
