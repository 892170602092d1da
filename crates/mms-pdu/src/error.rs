//! Errors of PDU decoding (MMS ENC 1.3 §7, WAP-230 §8.4).

/// Why a byte string is not a valid MMS PDU.
///
/// Offsets are absolute positions in the input given to [`crate::Pdu::decode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends before the PDU does: `needed` more octets were expected at offset `at`.
    #[error("truncated PDU: {needed} more octet(s) needed at offset {at}")]
    Incomplete {
        /// Offset where the missing data should start.
        at: usize,
        /// How many more octets the decoder needed (at least).
        needed: usize,
    },
    /// The PDU does not start with X-Mms-Message-Type (MMS ENC 1.3 §6: it must be first).
    #[error("not an MMS PDU: first octet 0x{found:02X} is not X-Mms-Message-Type (0x8C)")]
    NotMmsPdu {
        /// The first octet found.
        found: u8,
    },
    /// X-Mms-Message-Type carries a value MMS ENC 1.3 §7.3.30 does not define.
    #[error("unknown X-Mms-Message-Type 0x{value:02X}")]
    UnknownMessageType {
        /// The value octet.
        value: u8,
    },
    /// A header the PDU type requires is missing (MMS ENC 1.3 §6).
    #[error("{message_type}: mandatory header {header} is missing")]
    MissingHeader {
        /// The PDU type, e.g. `m-send-req`.
        message_type: &'static str,
        /// The header field name, e.g. `X-Mms-Transaction-Id`.
        header: &'static str,
    },
    /// A header value does not follow its encoding rule.
    #[error("malformed {header} at offset {at}: {reason}")]
    InvalidHeader {
        /// The header field name (MMS form, e.g. `X-Mms-Expiry`; a part header or `Content-Type`).
        header: &'static str,
        /// Offset of the offending octet.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A WSP primitive is malformed outside any named header (header names, multipart framing).
    #[error("malformed PDU at offset {at}: {reason}")]
    Malformed {
        /// Offset of the offending octet.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl DecodeError {
    /// Names the header a primitive-level error occurred in.
    pub(crate) fn in_header(self, header: &'static str) -> Self {
        match self {
            DecodeError::Malformed { at, reason } => {
                DecodeError::InvalidHeader { header, at, reason }
            }
            other => other,
        }
    }
}

impl From<&DecodeError> for crate::ResponseStatus {
    /// The X-Mms-Response-Status a relay answers an undecodable request with (MMS ENC 1.3
    /// §7.3.48): an unknown PDU type is `Error-unsupported-message`, anything else (truncated,
    /// malformed, missing mandatory header) is `Error-permanent-message-format-corrupt`.
    fn from(e: &DecodeError) -> Self {
        match e {
            DecodeError::UnknownMessageType { .. } => {
                crate::ResponseStatus::ERROR_UNSUPPORTED_MESSAGE
            }
            DecodeError::Incomplete { .. }
            | DecodeError::NotMmsPdu { .. }
            | DecodeError::MissingHeader { .. }
            | DecodeError::InvalidHeader { .. }
            | DecodeError::Malformed { .. } => {
                crate::ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseStatus;

    #[test]
    fn decode_errors_map_to_one_response_status_each_mms_enc_7_3_48() {
        let truncated = DecodeError::Incomplete { at: 3, needed: 1 };
        assert_eq!(
            ResponseStatus::from(&truncated),
            ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
        );
        let unknown = DecodeError::UnknownMessageType { value: 0xA0 };
        assert_eq!(
            ResponseStatus::from(&unknown),
            ResponseStatus::ERROR_UNSUPPORTED_MESSAGE
        );
    }
}
