//! Header text values (RFC 5322 §2.2 unstructured, RFC 2047 encoded words): what this crate
//! writes for Subject, X-Mms-Status-Text and identifier headers, and how it reads them back.
//!
//! A value of printable US-ASCII without leading, trailing or doubled spaces and without `=?` is
//! written as it is; anything else (non-ASCII, control characters, a charset to keep) as `B`
//! encoded words of at most 75 characters, so the exact octets and the charset of an MMS
//! Encoded-string-value survive. The one normalisation: an Encoded-string-value without
//! charset that cannot be written as it is comes back with charset UTF-8 (the MMS convention
//! for text without charset), its octets unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mms_pdu::{Charset, EncodedString};

/// Longest value written without encoding (then RFC 5322 folding is at single spaces only).
const MAX_PLAIN_LEN: usize = 900;
/// Octets per encoded word: 45 octets are 60 base64 characters, inside RFC 2047's 75.
const WORD_OCTETS: usize = 45;

/// Whether `b` can be written as the header value itself and read back unchanged: printable
/// US-ASCII without leading, trailing or doubled spaces and without `=?`.
pub(crate) fn is_plain_safe(b: &[u8]) -> bool {
    b.len() <= MAX_PLAIN_LEN
        && b.iter().all(|&c| (0x20..0x7F).contains(&c))
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && !b.windows(2).any(|w| w == b"  " || w == b"=?")
}

/// Writes `bytes` as encoded words of charset `name`, never splitting a character of a
/// multi-octet charset across two words.
fn encoded_words(name: &str, bytes: &[u8], unit: Unit) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 16);
    let mut rest = bytes;
    if rest.is_empty() {
        out.push_str("=?");
        out.push_str(name);
        out.push_str("?B??=");
        return out;
    }
    while !rest.is_empty() {
        let mut n = rest.len().min(WORD_OCTETS);
        if n < rest.len() {
            match unit {
                Unit::Octet => {}
                Unit::Pair => n -= n % 2,
                Unit::Utf8 => {
                    while n > 1 && rest.get(n).is_some_and(|&c| c & 0xC0 == 0x80) {
                        n -= 1;
                    }
                }
            }
        }
        let (word, next) = rest.split_at(n.max(1));
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("=?");
        out.push_str(name);
        out.push_str("?B?");
        B64.encode_string(word, &mut out);
        out.push_str("?=");
        rest = next;
    }
    out
}

#[derive(Clone, Copy)]
enum Unit {
    Octet,
    Pair,
    Utf8,
}

/// The header value for an Encoded-string-value: plain when it has no charset and is safe,
/// else encoded words in its charset (UTF-8 for none or one without a MIME name).
pub(crate) fn encode_string(s: &EncodedString) -> String {
    match s.charset {
        None if is_plain_safe(&s.bytes) => String::from_utf8_lossy(&s.bytes).into_owned(),
        None => encoded_words("utf-8", &s.bytes, Unit::Utf8),
        Some(cs) => match cs.name() {
            Some(name) if cs != Charset::ANY => {
                let unit = match cs.0 {
                    106 => Unit::Utf8,
                    1000 | 1013 | 1014 | 1015 => Unit::Pair,
                    _ => Unit::Octet,
                };
                encoded_words(name, &s.bytes, unit)
            }
            _ => encoded_words("utf-8", s.text().as_bytes(), Unit::Utf8),
        },
    }
}

/// The header value for UTF-8 text (identifiers, Content-Location, Status-Text of our own).
pub(crate) fn encode_utf8(s: &str) -> String {
    if is_plain_safe(s.as_bytes()) && !s.starts_with('"') {
        s.to_owned()
    } else {
        encoded_words("utf-8", s.as_bytes(), Unit::Utf8)
    }
}

/// RFC 5322 §2.2.3 unfolding: CRLF (or a bare LF) followed by white space is removed, the white
/// space kept; the result is trimmed.
pub(crate) fn unfold(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        match c {
            b'\r' | b'\n' => {}
            _ => out.push(c),
        }
        i += 1;
    }
    let s = String::from_utf8_lossy(&out);
    s.trim_matches(|c| c == ' ' || c == '\t').to_owned()
}

enum Segment {
    Plain(String),
    Word { charset: String, bytes: Vec<u8> },
}

/// Splits an unfolded value into plain text and RFC 2047 encoded words.
fn segments(v: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = v;
    while let Some(at) = rest.find("=?") {
        let (before, from) = rest.split_at(at);
        match parse_word(from) {
            Some((charset, bytes, len)) => {
                plain.push_str(before);
                if !plain.is_empty() {
                    out.push(Segment::Plain(std::mem::take(&mut plain)));
                }
                out.push(Segment::Word { charset, bytes });
                rest = from.get(len..).unwrap_or("");
            }
            None => {
                plain.push_str(before);
                plain.push_str("=?");
                rest = from.get(2..).unwrap_or("");
            }
        }
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        out.push(Segment::Plain(plain));
    }
    out
}

/// Parses one encoded word at the start of `s`: charset, decoded octets, length consumed.
fn parse_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, rest) = body.split_once('?')?;
    let (enc, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = rest.get(..end)?;
    if charset.is_empty() || charset.contains([' ', '\t']) || text.contains([' ', '\t']) {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => B64
            .decode(text.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
            })
            .ok()?,
        "Q" | "q" => q_decode(text.as_bytes())?,
        _ => return None,
    };
    // RFC 2231 §5: a language may follow the charset after '*'.
    let charset = charset.split('*').next().unwrap_or(charset).to_owned();
    let len = 2 + body.len() - rest.len() + end + 2;
    Some((charset, bytes, len))
}

fn q_decode(t: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while let Some(&c) = t.get(i) {
        match c {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = t.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// Text of octets in the named charset: the charsets MMS knows first, then mail-parser's.
fn charset_text(name: &str, bytes: &[u8]) -> String {
    if let Some(t) = Charset::from_name(name).and_then(|c| c.decode(bytes)) {
        return t;
    }
    match mail_parser::decoders::charsets::map::charset_decoder(name.as_bytes()) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Reads a header value back into an Encoded-string-value: encoded words of one charset MMS
/// knows keep their octets and charset; other charsets and mixed values become UTF-8 text;
/// a value without encoded words is plain text without charset.
pub(crate) fn decode_string(raw: &str) -> EncodedString {
    let segs = segments(raw);
    let words: Vec<&Segment> = segs
        .iter()
        .filter(|s| !matches!(s, Segment::Plain(p) if p.trim().is_empty()))
        .collect();
    if words.iter().all(|s| matches!(s, Segment::Plain(_))) {
        // Text that this crate would not write plain (8-bit, `=?` ...) is UTF-8 text.
        let charset = (!is_plain_safe(raw.as_bytes())).then_some(Charset::UTF_8);
        return EncodedString {
            charset,
            bytes: raw.as_bytes().to_vec().into(),
        };
    }
    let first = match words.first() {
        Some(Segment::Word { charset, .. }) => Some(charset.as_str()),
        _ => None,
    };
    let one_charset = first.filter(|cs| {
        words
            .iter()
            .all(|s| matches!(s, Segment::Word { charset, .. } if charset.eq_ignore_ascii_case(cs)))
    });
    if let Some(cs) = one_charset {
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|s| match s {
                Segment::Word { bytes, .. } => bytes.as_slice(),
                Segment::Plain(_) => &[],
            })
            .copied()
            .collect();
        if let Some(charset) = Charset::from_name(cs).filter(|c| c.decode(&bytes).is_some()) {
            return EncodedString {
                charset: Some(charset),
                bytes: bytes.into(),
            };
        }
        return EncodedString::utf8(charset_text(cs, &bytes));
    }
    // Mixed plain text and words (RFC 2047 §6.2: white space between words is dropped).
    let mut text = String::new();
    let mut prev_word = false;
    for (i, s) in segs.iter().enumerate() {
        match s {
            Segment::Plain(p) => {
                let next_word = matches!(segs.get(i + 1), Some(Segment::Word { .. }));
                if !(prev_word && next_word && p.trim().is_empty()) {
                    text.push_str(p);
                }
                prev_word = false;
            }
            Segment::Word { charset, bytes } => {
                text.push_str(&charset_text(charset, bytes));
                prev_word = true;
            }
        }
    }
    EncodedString::utf8(text)
}

/// Reads a header value back as UTF-8 text (encoded words decoded).
pub(crate) fn decode_utf8(raw: &str) -> String {
    let s = decode_string(raw);
    match s.charset {
        None => String::from_utf8_lossy(&s.bytes).into_owned(),
        Some(_) => s.text(),
    }
}

/// An identifier value (X-Mms-Message-ID, X-Mms-Transaction-ID): decoded, one pair of
/// surrounding double quotes removed (some relays quote them).
pub(crate) fn decode_id(raw: &str) -> String {
    let t = decode_utf8(raw);
    match t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if raw.trim_start().starts_with('"') => inner.to_owned(),
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_written_as_is_rfc5322_2_2() {
        assert_eq!(
            encode_string(&EncodedString::plain("Hello there")),
            "Hello there"
        );
        assert_eq!(
            decode_string("Hello there"),
            EncodedString::plain("Hello there")
        );
    }

    #[test]
    fn charset_and_octets_survive_as_encoded_words_rfc2047() {
        let latin = EncodedString {
            charset: Some(Charset::ISO_8859_1),
            bytes: vec![b'G', 0xFC, b'n', b't', b'e', b'r'].into(),
        };
        let v = encode_string(&latin);
        assert_eq!(v, "=?iso-8859-1?B?R/xudGVy?=");
        assert_eq!(decode_string(&v), latin);
        let utf8 = EncodedString::utf8("Grüße aus München — 你好 ".repeat(5));
        let v = encode_string(&utf8);
        assert!(v.split(' ').all(|w| w.len() <= 75), "{v}");
        assert_eq!(decode_string(&v), utf8);
        let ascii_with_charset = EncodedString::utf8("Hi");
        assert_eq!(
            decode_string(&encode_string(&ascii_with_charset)),
            ascii_with_charset
        );
    }

    #[test]
    fn q_words_and_foreign_charsets_decode_to_text_rfc2047_4_2() {
        assert_eq!(
            decode_string("=?ISO-8859-1?Q?Caf=E9_au_lait?=").text(),
            "Café au lait"
        );
        assert_eq!(decode_string("=?windows-1252?Q?=80uro?=").text(), "€uro");
        assert_eq!(decode_string("Re: =?utf-8?B?w6k=?= x").text(), "Re: é x");
        assert_eq!(decode_string("=?utf-8?Q?a?= =?utf-8?Q?b?=").text(), "ab");
        assert_eq!(decode_utf8("=?bogus"), "=?bogus");
    }

    #[test]
    fn quoted_identifiers_lose_their_quotes() {
        assert_eq!(decode_id("\"abc@x\""), "abc@x");
        assert_eq!(decode_id(&encode_utf8("\"q\"")), "\"q\"");
        assert_eq!(unfold(b" a\r\n b \r\n"), "a b");
    }
}
