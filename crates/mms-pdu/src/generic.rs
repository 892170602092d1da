//! A PDU as a flat list of named header values (MMS ENC 1.3 §7.3), for tools that show or build
//! PDUs of any type without matching on each struct (the `mmsrelay pdu` command, tests).
//!
//! The list is derived from the wire form, so it always agrees with [`Pdu::encode`]; building a
//! PDU from a list encodes it and decodes the result, so the usual rules (mandatory headers,
//! value encodings) apply.

use crate::Header;
use crate::error::DecodeError;
use crate::header::{HeaderName, next_header};
use crate::pdu::{Content, Pdu};
use crate::values::*;
use crate::wsp::{Reader, Result};
use bytes::Bytes;

/// One header value in typed form, independent of the PDU type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderValue {
    /// Text-string (Transaction-Id, Message-ID, Content-Location, application headers ...).
    Text(String),
    /// Encoded-string-value (To, Cc, Bcc, Subject, *-Text).
    Encoded(EncodedString),
    /// Long-integer or Integer-value (Date, Message-Size, Start, Limit ...).
    Integer(u64),
    /// Yes / No.
    Bool(bool),
    /// An octet-valued field (Priority, Status, Response-Status, ...): the value octet (≥ 0x80).
    Octet(u8),
    /// X-Mms-MMS-Version.
    Version(MmsVersion),
    /// From.
    From(FromAddress),
    /// Expiry, Delivery-Time, Reply-Charging-Deadline.
    Time(TimeSpec),
    /// X-Mms-Message-Class.
    Class(MessageClass),
    /// X-Mms-Previously-Sent-By.
    PreviouslySentBy(PreviouslySentBy),
    /// X-Mms-Previously-Sent-Date.
    PreviouslySentDate(PreviouslySentDate),
    /// X-Mms-MM-Flags.
    MmFlag(MmFlag),
    /// X-Mms-Mbox-Totals / X-Mms-Mbox-Quotas.
    MboxCount(MboxCount),
    /// Any value this crate does not model (or that failed its typed rule), as wire octets.
    Raw(Bytes),
}

/// How an MMS header's value is encoded (MMS ENC 1.3 §7.3), i.e. which [`HeaderValue`]
/// variant it decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// Text-string.
    Text,
    /// Encoded-string-value.
    Encoded,
    /// Long-integer.
    LongInt,
    /// Integer-value.
    IntValue,
    /// Yes / No.
    Bool,
    /// One octet from a value table.
    Octet,
    /// Version-value.
    Version,
    /// From-value.
    From,
    /// Value-length (Absolute | Relative) time.
    Time,
    /// Class-identifier | Token-text.
    Class,
    /// Previously-sent-by-value.
    PreviouslySentBy,
    /// Previously-sent-date-value.
    PreviouslySentDate,
    /// MM-flags-value.
    MmFlag,
    /// Mbox-totals / Mbox-quotas value.
    MboxCount,
    /// Not modelled: raw octets.
    Raw,
}

/// The value encoding of MMS header `code` (7-bit, e.g. 0x17 To → [`ValueKind::Encoded`]).
pub fn value_kind(code: u8) -> ValueKind {
    match code {
        0x03 | 0x0B | 0x18 | 0x1E | 0x37 | 0x38 | 0x39 | 0x3D | 0x3E => ValueKind::Text,
        0x01 | 0x02 | 0x13 | 0x16 | 0x17 | 0x1A | 0x26 | 0x35 | 0x36 => ValueKind::Encoded,
        0x05 | 0x0E | 0x1F => ValueKind::LongInt,
        0x2D | 0x2F | 0x33 => ValueKind::IntValue,
        0x06 | 0x10 | 0x11 | 0x22 | 0x27 | 0x29 | 0x2B | 0x31 | 0x3B | 0x3C => ValueKind::Bool,
        0x0C | 0x0F | 0x12 | 0x14 | 0x15 | 0x19 | 0x1B | 0x1C | 0x23 | 0x25 | 0x28 | 0x34
        | 0x3A | 0x3F => ValueKind::Octet,
        0x0D => ValueKind::Version,
        0x09 => ValueKind::From,
        0x07 | 0x08 | 0x1D => ValueKind::Time,
        0x0A => ValueKind::Class,
        0x20 => ValueKind::PreviouslySentBy,
        0x21 => ValueKind::PreviouslySentDate,
        0x24 => ValueKind::MmFlag,
        0x2A | 0x2C => ValueKind::MboxCount,
        _ => ValueKind::Raw,
    }
}

/// The name of an octet value of header `code` (e.g. Priority 0x82 → `High`), if known.
pub fn octet_value_name(code: u8, value: u8) -> Option<&'static str> {
    match code {
        0x0C => MessageType(value).name(),
        0x0F => Priority(value).name(),
        0x12 => ResponseStatus(value).name(),
        0x14 => SenderVisibility(value).name(),
        0x15 => Status(value).name(),
        0x19 => RetrieveStatus(value).name(),
        0x1B => ReadStatus(value).name(),
        0x1C => ReplyCharging(value).name(),
        0x23 => MmState(value).name(),
        0x25 => StoreStatus(value).name(),
        0x28 => crate::header::mms_header_name(value & 0x7F),
        0x34 => RetrievalMode(value).name(),
        0x3A => ContentClass(value).name(),
        0x3F => CancelStatus(value).name(),
        _ => None,
    }
}

/// The octet value of header `code` named `name` (inverse of [`octet_value_name`]).
pub fn octet_value_from_name(code: u8, name: &str) -> Option<u8> {
    Some(match code {
        0x0C => MessageType::from_name(name)?.0,
        0x0F => Priority::from_name(name)?.0,
        0x12 => ResponseStatus::from_name(name)?.0,
        0x14 => SenderVisibility::from_name(name)?.0,
        0x15 => Status::from_name(name)?.0,
        0x19 => RetrieveStatus::from_name(name)?.0,
        0x1B => ReadStatus::from_name(name)?.0,
        0x1C => ReplyCharging::from_name(name)?.0,
        0x23 => MmState::from_name(name)?.0,
        0x25 => StoreStatus::from_name(name)?.0,
        0x28 => crate::header::mms_header_code(name)? | 0x80,
        0x34 => RetrievalMode::from_name(name)?.0,
        0x3A => ContentClass::from_name(name)?.0,
        0x3F => CancelStatus::from_name(name)?.0,
        _ => return None,
    })
}

impl HeaderValue {
    fn decode(code: u8, v: &Reader) -> HeaderValue {
        let mut r = v.clone();
        let typed: Result<HeaderValue> = match value_kind(code) {
            ValueKind::Text => r.text().map(HeaderValue::Text),
            ValueKind::Encoded => EncodedString::decode(&mut r).map(HeaderValue::Encoded),
            ValueKind::LongInt => r.long_integer().map(HeaderValue::Integer),
            ValueKind::IntValue => r.integer_value().map(HeaderValue::Integer),
            ValueKind::Bool => yes_no::decode(&mut r).map(HeaderValue::Bool),
            ValueKind::Octet => r.short_integer().map(|b| HeaderValue::Octet(b | 0x80)),
            ValueKind::Version => MmsVersion::decode(&mut r).map(HeaderValue::Version),
            ValueKind::From => FromAddress::decode(&mut r).map(HeaderValue::From),
            ValueKind::Time => TimeSpec::decode(&mut r).map(HeaderValue::Time),
            ValueKind::Class => MessageClass::decode(&mut r).map(HeaderValue::Class),
            ValueKind::PreviouslySentBy => {
                PreviouslySentBy::decode(&mut r).map(HeaderValue::PreviouslySentBy)
            }
            ValueKind::PreviouslySentDate => {
                PreviouslySentDate::decode(&mut r).map(HeaderValue::PreviouslySentDate)
            }
            ValueKind::MmFlag => MmFlag::decode(&mut r).map(HeaderValue::MmFlag),
            ValueKind::MboxCount => MboxCount::decode(&mut r).map(HeaderValue::MboxCount),
            ValueKind::Raw => Err(DecodeError::Malformed {
                at: 0,
                reason: "raw",
            }),
        };
        // Keep the raw octets when the typed form would not re-encode to them exactly (a
        // non-minimal encoding, or a value that is raw in this PDU type).
        match typed {
            Ok(value) => {
                let mut again = Vec::new();
                value.encode_for(code, &mut again);
                if again[..] == v.all_bytes()[..] {
                    value
                } else {
                    HeaderValue::Raw(v.all_bytes())
                }
            }
            Err(_) => HeaderValue::Raw(v.all_bytes()),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            HeaderValue::Text(t) => text::encode(t, out),
            HeaderValue::Encoded(e) => e.encode(out),
            HeaderValue::Integer(n) => long_int::encode(n, out),
            HeaderValue::Bool(b) => yes_no::encode(b, out),
            HeaderValue::Octet(o) => octet::encode(o, out),
            HeaderValue::Version(v) => v.encode(out),
            HeaderValue::From(f) => f.encode(out),
            HeaderValue::Time(t) => t.encode(out),
            HeaderValue::Class(c) => c.encode(out),
            HeaderValue::PreviouslySentBy(p) => p.encode(out),
            HeaderValue::PreviouslySentDate(p) => p.encode(out),
            HeaderValue::MmFlag(f) => f.encode(out),
            HeaderValue::MboxCount(m) => m.encode(out),
            HeaderValue::Raw(b) => out.extend_from_slice(b),
        }
    }

    fn encode_for(&self, code: u8, out: &mut Vec<u8>) {
        // Integer-value fields take the short form when they can.
        match (self, value_kind(code)) {
            (HeaderValue::Integer(n), ValueKind::IntValue) => int_value::encode(n, out),
            _ => self.encode(out),
        }
    }
}

/// A PDU as message type, header list and content (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderList {
    /// X-Mms-Message-Type.
    pub message_type: MessageType,
    /// Headers other than X-Mms-Message-Type and Content-Type, in wire order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Content-Type and body, if the PDU has them.
    pub content: Option<Content>,
}

impl Pdu {
    /// The PDU's headers as a flat list of typed values, in encoding order.
    pub fn to_header_list(&self) -> HeaderList {
        let wire = Bytes::from(self.encode());
        let mut r = Reader::new(&wire);
        let mut headers = Vec::new();
        // Skip X-Mms-Message-Type (two octets, always present in our own encoding).
        let _ = r.take(2);
        while !r.is_empty() {
            if r.peek().ok() == Some(0x84) {
                break;
            }
            let Ok((name, v)) = next_header(&mut r) else {
                break;
            };
            let value = match &name {
                HeaderName::WellKnown(c) => HeaderValue::decode(*c, &v),
                HeaderName::Text(_) => {
                    let mut t = v.clone();
                    t.text()
                        .map(HeaderValue::Text)
                        .unwrap_or_else(|_| HeaderValue::Raw(v.all_bytes()))
                }
            };
            headers.push((name, value));
        }
        let content = match self {
            Pdu::SendReq(p) => Some(Content {
                content_type: p.content_type.clone(),
                body: p.body.clone(),
            }),
            Pdu::RetrieveConf(p) => Some(Content {
                content_type: p.content_type.clone(),
                body: p.body.clone(),
            }),
            Pdu::MboxUploadReq(p) => Some(Content {
                content_type: p.content_type.clone(),
                body: p.body.clone(),
            }),
            Pdu::MboxViewConf(p) => p.content.clone(),
            Pdu::MboxDescr(p) => p.content.clone(),
            _ => None,
        };
        HeaderList {
            message_type: self.message_type(),
            headers,
            content,
        }
    }

    /// Builds a PDU from a header list: encodes it and decodes the result, so a missing
    /// mandatory header or a value of the wrong kind is reported as a [`DecodeError`].
    pub fn from_header_list(list: &HeaderList) -> std::result::Result<Pdu, DecodeError> {
        let mut out = vec![0x8C, list.message_type.0 | 0x80];
        for (name, value) in &list.headers {
            match (name, value) {
                (HeaderName::WellKnown(c), v) => {
                    out.push(0x80 | c);
                    v.encode_for(*c, &mut out);
                }
                (HeaderName::Text(n), HeaderValue::Text(t)) => Header::text(n, t).encode(&mut out),
                (HeaderName::Text(n), v) => {
                    crate::wsp::put_text(&mut out, n.as_bytes());
                    v.encode(&mut out);
                }
            }
        }
        if let Some(c) = &list.content {
            out.push(0x84);
            c.content_type.encode(&mut out);
            c.body.encode(&mut out);
        }
        Pdu::decode(&Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// The header-list view and back gives the same PDU.
        #[test]
        fn header_list_round_trips_every_pdu_type(pdu in Pdu::arb()) {
            let list = pdu.to_header_list();
            prop_assert_eq!(Pdu::from_header_list(&list), Ok(pdu));
        }
    }

    #[test]
    fn octet_names_follow_the_spec_tables() {
        assert_eq!(
            octet_value_name(0x12, 0xE1),
            Some("Error-permanent-service-denied")
        );
        assert_eq!(octet_value_from_name(0x0F, "high"), Some(0x82));
        assert_eq!(octet_value_name(0x0C, 0x82), Some("m-notification-ind"));
    }
}
