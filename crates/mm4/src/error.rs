//! Why an MM4 message could not be decoded, and the X-Mms-Request-Status-Code (TS 23.140
//! §8.4.1.2) the `.RES` answering it carries — mapped in one place, [`Mm4Error::request_status`].

use crate::RequestStatus;
use mms_address::Mm4AddressError;

/// Why [`crate::decode`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mm4Error {
    /// The bytes are not an RFC 5322 message (no header section could be parsed).
    #[error("not an RFC 5322 message")]
    NotRfc5322,
    /// A header the message type requires is absent (TS 23.140 §8.4 tables, "M").
    #[error("{message_type} lacks the mandatory header {header}")]
    MissingHeader {
        /// The X-Mms-Message-Type.
        message_type: &'static str,
        /// The missing header.
        header: &'static str,
    },
    /// A header is present but its value does not have the form TS 23.140 gives it.
    #[error("header {header} is malformed: {reason}")]
    InvalidHeader {
        /// The header name.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// X-Mms-Message-Type names no MM4 message this relay handles.
    #[error("unsupported MM4 message type {0:?}")]
    UnknownMessageType(String),
    /// The originator address (From, or the envelope MAIL FROM) is not an MM4 address.
    #[error("sender address is not an MM4 address: {0}")]
    InvalidSender(Mm4AddressError),
    /// A recipient address (To, Cc, RCPT TO) is not an MM4 address.
    #[error("recipient address in {header} is not an MM4 address: {source}")]
    InvalidRecipient {
        /// Where the address was.
        header: &'static str,
        /// Why it is not an MM4 address.
        source: Mm4AddressError,
    },
    /// The message ends before its multipart body does (no closing boundary, RFC 2046
    /// §5.1.1): the DATA was cut short.
    #[error("the message is truncated: multipart body without its closing boundary")]
    Incomplete,
    /// The MIME body is malformed (a part without content, a multipart without parts).
    #[error("MIME body is malformed: {0}")]
    InvalidBody(&'static str),
}

impl Mm4Error {
    /// The X-Mms-Request-Status-Code the `.RES` answering the refused request carries
    /// (TS 23.140 §8.4.1.2). The one place this mapping is made.
    pub fn request_status(&self) -> RequestStatus {
        match self {
            Mm4Error::NotRfc5322
            | Mm4Error::MissingHeader { .. }
            | Mm4Error::InvalidHeader { .. }
            | Mm4Error::InvalidRecipient { .. }
            | Mm4Error::Incomplete
            | Mm4Error::InvalidBody(_) => RequestStatus::ErrorMessageFormatCorrupt,
            Mm4Error::UnknownMessageType(_) => RequestStatus::ErrorUnsupportedMessage,
            Mm4Error::InvalidSender(_) => RequestStatus::ErrorSendingAddressUnresolved,
        }
    }
}

impl From<&Mm4Error> for RequestStatus {
    fn from(e: &Mm4Error) -> RequestStatus {
        e.request_status()
    }
}
