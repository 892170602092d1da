//! Percent-escapes (RFC 3986 §2.1) as used by SIP URIs (RFC 3261 §19.1.2) and MMS ENC escaped-value.

use crate::AddressError;

/// Decodes `%HH` escapes; the result must be UTF-8.
pub(crate) fn unescape(s: &str) -> Result<String, AddressError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(AddressError::BadEscape)?;
            let hi = hex_val(hex.first().copied()).ok_or(AddressError::BadEscape)?;
            let lo = hex_val(hex.get(1).copied()).ok_or(AddressError::BadEscape)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| AddressError::NotUtf8)
}

fn hex_val(b: Option<u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Escapes every byte for which `keep` is false as `%HH` (upper-case hex).
pub(crate) fn escape_with(s: &str, keep: impl Fn(u8) -> bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// RFC 3261 §25.1 `user`: unreserved / user-unreserved, everything else escaped. `;` and `?`
/// are escaped too so a user never reads as parameters or headers.
pub(crate) fn is_sip_user_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'/'
        )
}

/// MMS ENC escaped-value characters kept literally: those that are also RFC 5322 atext, so the
/// value is a valid MM4 local part (DESIGN.md §2); `.` is kept (callers fix up dot runs).
pub(crate) fn is_enc_value_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_' | b'.')
}

/// Escapes a value for MMS ENC `escaped-value` so it is also a dot-atom (RFC 5322 §3.2.3):
/// a leading dot and any dot following a dot become `%2E`.
pub(crate) fn escape_enc_value(s: &str, out: &mut String) {
    let mut prev_dot = true; // a leading dot counts as "after a dot"
    for ch in s.chars() {
        if ch == '.' {
            if prev_dot {
                out.push_str("%2E");
            } else {
                out.push('.');
            }
            prev_dot = true;
        } else {
            let mut buf = [0u8; 4];
            escape_with(ch.encode_utf8(&mut buf), is_enc_value_char, out);
            prev_dot = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_rejects_truncated_and_non_hex_escapes() {
        assert_eq!(unescape("a%4"), Err(AddressError::BadEscape));
        assert_eq!(unescape("a%zz"), Err(AddressError::BadEscape));
        assert_eq!(unescape("%ff"), Err(AddressError::NotUtf8));
        assert_eq!(
            unescape("sip%3Abob%40b.example").unwrap(),
            "sip:bob@b.example"
        );
    }

    #[test]
    fn enc_value_escape_keeps_a_dot_atom() {
        let mut s = String::new();
        escape_enc_value(".a..b:c", &mut s);
        assert_eq!(s, "%2Ea.%2Eb%3Ac");
        assert_eq!(unescape(&s).unwrap(), ".a..b:c");
    }
}
