//! Header fields: MMS ENC 1.3 §7.3 field codes and names, and headers kept verbatim
//! (unknown well-known codes, application headers `X-...`, WSP part headers of WAP-230 §8.4.2.6).

use crate::wsp::{self, Reader, Result};
use bytes::Bytes;

/// MMS header field codes (MMS ENC 1.3 Table 12; the wire octet is `code | 0x80`) and names.
pub(crate) const MMS_HEADERS: &[(u8, &str)] = &[
    (0x01, "Bcc"),
    (0x02, "Cc"),
    (0x03, "X-Mms-Content-Location"),
    (0x04, "Content-Type"),
    (0x05, "Date"),
    (0x06, "X-Mms-Delivery-Report"),
    (0x07, "X-Mms-Delivery-Time"),
    (0x08, "X-Mms-Expiry"),
    (0x09, "From"),
    (0x0A, "X-Mms-Message-Class"),
    (0x0B, "Message-ID"),
    (0x0C, "X-Mms-Message-Type"),
    (0x0D, "X-Mms-MMS-Version"),
    (0x0E, "X-Mms-Message-Size"),
    (0x0F, "X-Mms-Priority"),
    (0x10, "X-Mms-Read-Report"),
    (0x11, "X-Mms-Report-Allowed"),
    (0x12, "X-Mms-Response-Status"),
    (0x13, "X-Mms-Response-Text"),
    (0x14, "X-Mms-Sender-Visibility"),
    (0x15, "X-Mms-Status"),
    (0x16, "Subject"),
    (0x17, "To"),
    (0x18, "X-Mms-Transaction-Id"),
    (0x19, "X-Mms-Retrieve-Status"),
    (0x1A, "X-Mms-Retrieve-Text"),
    (0x1B, "X-Mms-Read-Status"),
    (0x1C, "X-Mms-Reply-Charging"),
    (0x1D, "X-Mms-Reply-Charging-Deadline"),
    (0x1E, "X-Mms-Reply-Charging-ID"),
    (0x1F, "X-Mms-Reply-Charging-Size"),
    (0x20, "X-Mms-Previously-Sent-By"),
    (0x21, "X-Mms-Previously-Sent-Date"),
    (0x22, "X-Mms-Store"),
    (0x23, "X-Mms-MM-State"),
    (0x24, "X-Mms-MM-Flags"),
    (0x25, "X-Mms-Store-Status"),
    (0x26, "X-Mms-Store-Status-Text"),
    (0x27, "X-Mms-Stored"),
    (0x28, "X-Mms-Attributes"),
    (0x29, "X-Mms-Totals"),
    (0x2A, "X-Mms-Mbox-Totals"),
    (0x2B, "X-Mms-Quotas"),
    (0x2C, "X-Mms-Mbox-Quotas"),
    (0x2D, "X-Mms-Message-Count"),
    (0x2E, "Content"),
    (0x2F, "X-Mms-Start"),
    (0x30, "Additional-headers"),
    (0x31, "X-Mms-Distribution-Indicator"),
    (0x32, "X-Mms-Element-Descriptor"),
    (0x33, "X-Mms-Limit"),
    (0x34, "X-Mms-Recommended-Retrieval-Mode"),
    (0x35, "X-Mms-Recommended-Retrieval-Mode-Text"),
    (0x36, "X-Mms-Status-Text"),
    (0x37, "X-Mms-Applic-ID"),
    (0x38, "X-Mms-Reply-Applic-ID"),
    (0x39, "X-Mms-Aux-Applic-Info"),
    (0x3A, "X-Mms-Content-Class"),
    (0x3B, "X-Mms-DRM-Content"),
    (0x3C, "X-Mms-Adaptation-Allowed"),
    (0x3D, "X-Mms-Replace-ID"),
    (0x3E, "X-Mms-Cancel-ID"),
    (0x3F, "X-Mms-Cancel-Status"),
];

/// The MMS name of a header field code (MMS ENC 1.3 Table 12), e.g. `0x18` → `X-Mms-Transaction-Id`.
pub fn mms_header_name(code: u8) -> Option<&'static str> {
    MMS_HEADERS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// The code of an MMS header field name (case-insensitive), e.g. `To` → `0x17`.
pub fn mms_header_code(name: &str) -> Option<u8> {
    MMS_HEADERS
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

pub(crate) fn name_of(code: u8) -> &'static str {
    mms_header_name(code).unwrap_or("unassigned header")
}

/// WSP well-known part header names (WAP-230 Table 39) that MMS parts use.
const WSP_HEADERS: &[(u8, &str)] = &[
    (0x0B, "Content-Encoding"),
    (0x0C, "Content-Language"),
    (0x0D, "Content-Length"),
    (0x0E, "Content-Location"),
    (0x11, "Content-Type"),
    (0x12, "Date"),
    (0x2E, "Content-Disposition"),
    (0x40, "Content-ID"),
    (0x45, "Content-Disposition"),
];

/// The name of a WSP well-known header code (WAP-230 Table 39) used in MMS parts.
pub fn wsp_header_name(code: u8) -> Option<&'static str> {
    WSP_HEADERS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// A header name: a well-known 7-bit code or text (WAP-230 §8.4.2.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeaderName {
    /// Well-known field code without the high bit (MMS Table 12 at PDU level, WSP Table 39 in parts).
    WellKnown(u8),
    /// Application header name (Token-text), e.g. `X-Scanned-By`.
    Text(String),
}

/// A header kept verbatim: its name and its value as raw wire octets.
///
/// For a [`HeaderName::WellKnown`] header the value is in WSP general form (WAP-230 §8.4.1.2);
/// for a [`HeaderName::Text`] header it is a NUL-terminated Text-string. Build text headers with
/// [`Header::text`] so the value is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The header name.
    pub name: HeaderName,
    /// The value's wire octets.
    pub value: Bytes,
}

impl Header {
    /// An application header `name: value` (Application-header, WAP-230 §8.4.2.6).
    pub fn text(name: &str, value: &str) -> Self {
        let mut v = Vec::with_capacity(value.len() + 1);
        wsp::put_text(&mut v, value.as_bytes());
        Header {
            name: HeaderName::Text(name.to_owned()),
            value: Bytes::from(v),
        }
    }

    /// A well-known header with a raw general-form value.
    pub fn well_known(code: u8, value: Bytes) -> Self {
        Header {
            name: HeaderName::WellKnown(code & 0x7F),
            value,
        }
    }

    /// The value as text when it is a Text-string (application headers, text-valued fields).
    pub fn value_text(&self) -> Option<String> {
        let mut r = Reader::new(&self.value);
        match r.peek().ok()? {
            0x20..=0x7F => r.text().ok(),
            _ => None,
        }
    }

    /// Decodes one header at PDU or part level. Shift sequences (code pages), which MMS does not
    /// use, are malformed here.
    pub(crate) fn decode_wsp(r: &mut Reader) -> Result<Header> {
        let (name, v) = next_header(r)?;
        Ok(Header {
            name,
            value: v.all_bytes(),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match &self.name {
            HeaderName::WellKnown(c) => out.push(0x80 | c),
            HeaderName::Text(t) => wsp::put_text(out, t.as_bytes()),
        }
        out.extend_from_slice(&self.value);
    }
}

/// Reads one header name and its raw value (general form for well-known names, a Text-string
/// for application headers), WAP-230 §8.4.2.6.
pub(crate) fn next_header<'a>(r: &mut Reader<'a>) -> Result<(HeaderName, Reader<'a>)> {
    let at = r.pos();
    let b = r.peek()?;
    if b >= 0x80 {
        r.u8()?;
        Ok((HeaderName::WellKnown(b & 0x7F), r.raw_value()?))
    } else if (0x20..=0x7F).contains(&b) {
        let name = r.text()?;
        let start = r.pos();
        r.nul_terminated()?;
        let len = r.pos() - start;
        let mut back = r.clone();
        back.rewind_to(start);
        Ok((HeaderName::Text(name), back.sub(len)?))
    } else {
        Err(crate::DecodeError::Malformed {
            at,
            reason: "expected a header name (short-integer or token text)",
        })
    }
}
