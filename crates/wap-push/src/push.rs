//! WAP-230 WSP §8.2.4.1: the connectionless Push PDU (TID, PDU type 0x06, uintvar headers length,
//! content type, headers, data) and the WSP header encoding it carries (§8.4.1, §8.4.2).

use bytes::Bytes;
use thiserror::Error;

use crate::uintvar::{self, Uintvar};

/// WSP §8.2.1 Table 34: PDU type Push.
const PDU_TYPE_PUSH: u8 = 0x06;
/// WSP §8.2.1 Table 34: PDU type ConfirmedPush.
const PDU_TYPE_CONFIRMED_PUSH: u8 = 0x07;
/// WSP Table 39: header field X-Wap-Application-Id (0x2F) as a short integer.
const FIELD_X_WAP_APPLICATION_ID: u8 = 0xAF;
/// WSP Table 40 / OMNA: `application/vnd.wap.mms-message` is well-known media 0x3E.
pub const MMS_CONTENT_TYPE: u32 = 0x3E;

/// WSP §8.4.2.24: a push's content type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentType {
    /// A well-known media type code from the WSP content type assignments (0x3E = MMS).
    WellKnown(u32),
    /// An extension media type written as text (`application/vnd.wap.mms-message`).
    Text(String),
}

impl ContentType {
    /// True for `application/vnd.wap.mms-message` in either form (MMS ENC §6, WSP Table 40).
    pub fn is_mms(&self) -> bool {
        match self {
            ContentType::WellKnown(code) => *code == MMS_CONTENT_TYPE,
            ContentType::Text(t) => t.eq_ignore_ascii_case("application/vnd.wap.mms-message"),
        }
    }
}

/// WSP §8.4.2.54 X-Wap-Application-Id value: an assigned code or a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplicationId {
    /// App-assigned-code (OMNA push application ids; 4 = `x-wap-application:mms.ua`).
    Code(u32),
    /// Uri-value.
    Uri(String),
}

impl ApplicationId {
    /// OMNA push application id 0x04: `x-wap-application:mms.ua`.
    pub const MMS_UA: ApplicationId = ApplicationId::Code(4);
}

/// WSP §8.4.1.1: a header field name, well-known (code without the 0x80 bit) or token text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderName {
    /// Well-known field name code (WSP Table 39), e.g. 0x2F for X-Wap-Application-Id.
    WellKnown(u8),
    /// Application-header token text.
    Text(String),
}

/// WSP §8.4.1: one header of the push, with its value as encoded octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name.
    pub name: HeaderName,
    /// The encoded field value (short integer octet, NUL-terminated text, or length-prefixed data).
    pub value: Bytes,
}

/// A decoded WSP Push PDU (WSP §8.2.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Transaction identifier (first octet of a connectionless PDU, WSP §8.2.1).
    pub transaction_id: u8,
    /// The content type of the body.
    pub content_type: ContentType,
    /// The X-Wap-Application-Id header, if present.
    pub application_id: Option<ApplicationId>,
    /// Every header after the content type, in order (including X-Wap-Application-Id).
    pub headers: Vec<Header>,
    /// The pushed data (for MMS: the `m-notification-ind`).
    pub body: Bytes,
}

/// Why a push could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PushDecodeError {
    /// The data ends before the PDU does.
    #[error("push PDU truncated")]
    Incomplete,
    /// The PDU type is not Push (0x06) or ConfirmedPush (0x07).
    #[error("WSP PDU type {0:#04x} is not a push")]
    NotAPush(u8),
    /// A uintvar longer than 5 octets or above 2^32-1 (WSP §8.1.2).
    #[error("invalid uintvar")]
    InvalidUintvar,
    /// The content type value does not follow WSP §8.4.2.24.
    #[error("invalid content type")]
    InvalidContentType,
    /// A header does not follow WSP §8.4.1 (or switches code page, which we do not support).
    #[error("invalid header at offset {0} of the headers")]
    InvalidHeader(usize),
}

/// Wraps an MMS PDU (e.g. `m-notification-ind`) in a connectionless WSP Push PDU (WSP §8.2.4.1)
/// with content type `application/vnd.wap.mms-message` (0xBE) and
/// `X-Wap-Application-Id: x-wap-application:mms.ua` (0xAF 0x84), as MMS CTR / DESIGN §5 step 2.
pub fn encode_mms_push(transaction_id: u8, mms_pdu: &[u8]) -> Vec<u8> {
    const HEADERS: [u8; 3] = [
        0x80 | MMS_CONTENT_TYPE as u8,
        FIELD_X_WAP_APPLICATION_ID,
        0x84,
    ];
    let mut out = Vec::with_capacity(mms_pdu.len() + 8);
    out.push(transaction_id);
    out.push(PDU_TYPE_PUSH);
    uintvar::encode(HEADERS.len() as u32, &mut out);
    out.extend_from_slice(&HEADERS);
    out.extend_from_slice(mms_pdu);
    out
}

fn take_uintvar(data: &[u8]) -> Result<(u32, usize), PushDecodeError> {
    match uintvar::decode(data) {
        Uintvar::Value(v, n) => Ok((v, n)),
        Uintvar::Incomplete => Err(PushDecodeError::Incomplete),
        Uintvar::Invalid => Err(PushDecodeError::InvalidUintvar),
    }
}

/// Decodes a connectionless WSP Push or ConfirmedPush PDU (WSP §8.2.4.1).
pub fn decode_push(data: &[u8]) -> Result<Push, PushDecodeError> {
    let [transaction_id, pdu_type, rest @ ..] = data else {
        return Err(PushDecodeError::Incomplete);
    };
    if *pdu_type != PDU_TYPE_PUSH && *pdu_type != PDU_TYPE_CONFIRMED_PUSH {
        return Err(PushDecodeError::NotAPush(*pdu_type));
    }
    let (headers_len, n) = take_uintvar(rest)?;
    let rest = rest.get(n..).ok_or(PushDecodeError::Incomplete)?;
    let headers_len = usize::try_from(headers_len).map_err(|_| PushDecodeError::Incomplete)?;
    let headers_block = rest.get(..headers_len).ok_or(PushDecodeError::Incomplete)?;
    let body = rest.get(headers_len..).ok_or(PushDecodeError::Incomplete)?;

    let (content_type, used) = decode_content_type(headers_block)?;
    let mut headers = Vec::new();
    let mut application_id = None;
    let mut pos = used;
    while pos < headers_block.len() {
        let tail = headers_block.get(pos..).unwrap_or_default();
        let (header, n) = decode_header(tail).map_err(|e| match e {
            FieldError::Invalid => PushDecodeError::InvalidHeader(pos),
            // the headers length said the block was complete: a field running past it is invalid
            FieldError::Incomplete => PushDecodeError::InvalidHeader(pos),
        })?;
        if header.name == HeaderName::WellKnown(FIELD_X_WAP_APPLICATION_ID & 0x7F) {
            application_id = Some(
                decode_application_id(&header.value).ok_or(PushDecodeError::InvalidHeader(pos))?,
            );
        }
        headers.push(header);
        pos += n;
    }
    Ok(Push {
        transaction_id: *transaction_id,
        content_type,
        application_id,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

enum FieldError {
    Incomplete,
    Invalid,
}

/// Length of a NUL-terminated text string at the start of `data`, including the NUL.
fn text_len(data: &[u8]) -> Result<usize, FieldError> {
    data.iter()
        .position(|&b| b == 0)
        .map(|p| p + 1)
        .ok_or(FieldError::Incomplete)
}

/// WSP §8.4.1.2: the length in octets of the field value at the start of `data`.
fn value_len(data: &[u8]) -> Result<usize, FieldError> {
    let first = *data.first().ok_or(FieldError::Incomplete)?;
    match first {
        0..=30 => {
            let n = 1 + usize::from(first);
            if data.len() < n {
                Err(FieldError::Incomplete)
            } else {
                Ok(n)
            }
        }
        31 => {
            let (len, used) = match uintvar::decode(data.get(1..).unwrap_or_default()) {
                Uintvar::Value(v, n) => (v, n),
                Uintvar::Incomplete => return Err(FieldError::Incomplete),
                Uintvar::Invalid => return Err(FieldError::Invalid),
            };
            let n = usize::try_from(len)
                .ok()
                .and_then(|l| l.checked_add(1 + used))
                .ok_or(FieldError::Invalid)?;
            if data.len() < n {
                Err(FieldError::Incomplete)
            } else {
                Ok(n)
            }
        }
        32..=127 => text_len(data),
        128..=255 => Ok(1),
    }
}

fn decode_header(data: &[u8]) -> Result<(Header, usize), FieldError> {
    let first = *data.first().ok_or(FieldError::Incomplete)?;
    let (name, name_len) = match first {
        0x80..=0xFF => (HeaderName::WellKnown(first & 0x7F), 1),
        // 0x7F shift-delimiter and 0x01..=0x1F short-cut shifts: other code pages, unsupported
        0x00..=0x1F | 0x7F => return Err(FieldError::Invalid),
        _ => {
            let n = text_len(data)?;
            let text = data.get(..n - 1).ok_or(FieldError::Incomplete)?;
            let text = std::str::from_utf8(text).map_err(|_| FieldError::Invalid)?;
            (HeaderName::Text(text.to_owned()), n)
        }
    };
    let rest = data.get(name_len..).ok_or(FieldError::Incomplete)?;
    let n = value_len(rest)?;
    let value = rest.get(..n).ok_or(FieldError::Incomplete)?;
    Ok((
        Header {
            name,
            value: Bytes::copy_from_slice(value),
        },
        name_len + n,
    ))
}

/// WSP §8.4.2.1 Integer-value: short integer, or long integer (Short-length Multi-octet-integer).
fn decode_integer(data: &[u8]) -> Option<(u32, usize)> {
    let first = *data.first()?;
    match first {
        0x80..=0xFF => Some((u32::from(first & 0x7F), 1)),
        1..=4 => {
            let n = usize::from(first);
            let octets = data.get(1..1 + n)?;
            let v = octets
                .iter()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            Some((v, 1 + n))
        }
        _ => None,
    }
}

fn decode_text(data: &[u8]) -> Option<String> {
    let end = data.iter().position(|&b| b == 0)?;
    let mut text = data.get(..end)?;
    // WSP §8.4.2.1: a text starting with an octet >= 0x80 is preceded by a quote 0x7F
    if text.first() == Some(&0x7F) {
        text = text.get(1..)?;
    }
    std::str::from_utf8(text).ok().map(str::to_owned)
}

fn decode_application_id(value: &[u8]) -> Option<ApplicationId> {
    match value.first()? {
        0x20..=0x7F => decode_text(value).map(ApplicationId::Uri),
        _ => decode_integer(value).map(|(v, _)| ApplicationId::Code(v)),
    }
}

/// WSP §8.4.2.24: Content-type-value at the start of the headers block, and its length.
fn decode_content_type(data: &[u8]) -> Result<(ContentType, usize), PushDecodeError> {
    let first = *data.first().ok_or(PushDecodeError::InvalidContentType)?;
    match first {
        0x80..=0xFF => Ok((ContentType::WellKnown(u32::from(first & 0x7F)), 1)),
        0x20..=0x7F => {
            let t = decode_text(data).ok_or(PushDecodeError::InvalidContentType)?;
            let n = text_len(data).map_err(|_| PushDecodeError::InvalidContentType)?;
            Ok((ContentType::Text(t), n))
        }
        _ => {
            // Content-general-form: Value-length Media-type (parameters skipped)
            let total = value_len(data).map_err(|_| PushDecodeError::InvalidContentType)?;
            let header_len = if first == 31 {
                match uintvar::decode(data.get(1..).unwrap_or_default()) {
                    Uintvar::Value(_, n) => 1 + n,
                    _ => return Err(PushDecodeError::InvalidContentType),
                }
            } else {
                1
            };
            let media = data
                .get(header_len..total)
                .ok_or(PushDecodeError::InvalidContentType)?;
            let ct = match media.first() {
                Some(0x20..=0x7F) => ContentType::Text(
                    decode_text(media).ok_or(PushDecodeError::InvalidContentType)?,
                ),
                _ => ContentType::WellKnown(
                    decode_integer(media)
                        .ok_or(PushDecodeError::InvalidContentType)?
                        .0,
                ),
            };
            Ok((ct, total))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mms_push_header_is_wsp_8_2_4_1_layout() {
        let pdu = [0x8C, 0x82, 0x98, b'x', 0];
        let push = encode_mms_push(0x01, &pdu);
        assert_eq!(
            push,
            [
                0x01, 0x06, 0x03, 0xBE, 0xAF, 0x84, 0x8C, 0x82, 0x98, b'x', 0
            ]
        );
        let decoded = decode_push(&push).unwrap();
        assert_eq!(decoded.transaction_id, 1);
        assert!(decoded.content_type.is_mms());
        assert_eq!(decoded.application_id, Some(ApplicationId::MMS_UA));
        assert_eq!(decoded.headers.len(), 1);
        assert_eq!(decoded.body.as_ref(), &pdu);
    }

    #[test]
    fn push_with_text_content_type_and_uri_app_id_decodes() {
        let mut push = vec![0x05, 0x06];
        let mut headers = b"application/vnd.wap.mms-message\0".to_vec();
        headers.push(0xAF);
        headers.extend_from_slice(b"x-wap-application:mms.ua\0");
        headers.extend_from_slice(b"X-Foo\0bar\0");
        push.push(headers.len() as u8);
        push.extend_from_slice(&headers);
        push.extend_from_slice(b"BODY");
        let d = decode_push(&push).unwrap();
        assert!(d.content_type.is_mms());
        assert_eq!(
            d.application_id,
            Some(ApplicationId::Uri("x-wap-application:mms.ua".into()))
        );
        assert_eq!(d.headers[1].name, HeaderName::Text("X-Foo".into()));
        assert_eq!(d.body.as_ref(), b"BODY");
    }

    #[test]
    fn general_form_content_type_with_parameters_decodes() {
        // Value-length 3, media 0xBE, parameter charset (0x81) utf-8 (0xEA)
        let push = [0x00, 0x06, 0x04, 0x03, 0xBE, 0x81, 0xEA, 0xAA];
        let d = decode_push(&push).unwrap();
        assert_eq!(d.content_type, ContentType::WellKnown(MMS_CONTENT_TYPE));
        assert_eq!(d.body.as_ref(), &[0xAA]);
    }

    #[test]
    fn long_integer_app_id_decodes() {
        let push = [0x00, 0x06, 0x05, 0xBE, 0xAF, 0x02, 0x90, 0x02];
        let d = decode_push(&push).unwrap();
        assert_eq!(d.application_id, Some(ApplicationId::Code(0x9002)));
    }

    #[test]
    fn truncated_push_is_incomplete_not_invalid() {
        let push = encode_mms_push(1, b"abc");
        for cut in 0..6 {
            assert_eq!(
                decode_push(&push[..cut]),
                Err(PushDecodeError::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn non_push_pdu_type_is_rejected() {
        assert_eq!(
            decode_push(&[0x01, 0x04, 0x00]),
            Err(PushDecodeError::NotAPush(0x04))
        );
    }

    #[test]
    fn header_running_past_headers_length_is_invalid() {
        // headers length 2 but X-Wap-Application-Id long integer needs more octets
        let push = [0x00, 0x06, 0x02, 0xBE, 0xAF];
        assert_eq!(decode_push(&push), Err(PushDecodeError::InvalidHeader(1)));
    }
}
