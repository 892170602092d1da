//! WSP encoding primitives (WAP-230-WSP §8.4.2.1–§8.4.2.3, §8.1.2 uintvar) used by MMS ENC 1.3 §7.2.
//!
//! Decoding works on a [`Reader`] over a [`Bytes`] buffer so that slices (part bodies, raw values)
//! are zero-copy; encoding appends to a `Vec<u8>`.

use crate::error::DecodeError;
use bytes::Bytes;

/// Quote octet that prefixes a Text-string whose first octet is ≥ 0x80 (WAP-230 §8.4.2.1).
pub(crate) const QUOTE: u8 = 0x7F;
/// Quoted-string start (WAP-230 §8.4.2.1).
pub(crate) const QUOTED_STRING: u8 = 0x22;
/// Length-quote: a uintvar length follows (WAP-230 §8.4.2.2).
pub(crate) const LENGTH_QUOTE: u8 = 0x1F;

/// A cursor over `buf[pos..end]` with absolute offsets.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

impl<'a> Reader<'a> {
    /// A reader over the whole buffer.
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// Absolute offset of the next octet.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Octets left before the end of this reader.
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    /// The unread octets.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    fn short_of(&self, n: usize) -> DecodeError {
        if self.end == self.buf.len() {
            DecodeError::Incomplete {
                at: self.end,
                needed: n - self.remaining(),
            }
        } else {
            DecodeError::Malformed {
                at: self.pos,
                reason: "value runs past its length",
            }
        }
    }

    fn ensure(&self, n: usize) -> Result<()> {
        if self.remaining() < n {
            Err(self.short_of(n))
        } else {
            Ok(())
        }
    }

    pub(crate) fn peek(&self) -> Result<u8> {
        self.ensure(1)?;
        Ok(self.buf[self.pos])
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    /// Takes `n` octets as a zero-copy slice.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes> {
        self.ensure(n)?;
        let s = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(s)
    }

    /// Moves back to an earlier absolute offset of this reader.
    pub(crate) fn rewind_to(&mut self, pos: usize) {
        self.pos = pos.min(self.pos);
    }

    /// The unread octets as a zero-copy slice (the reader does not advance).
    pub(crate) fn all_bytes(&self) -> Bytes {
        self.buf.slice(self.pos..self.end)
    }

    /// Splits off a sub-reader over the next `n` octets and advances past them.
    pub(crate) fn sub(&mut self, n: usize) -> Result<Reader<'a>> {
        self.ensure(n)?;
        let r = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + n,
        };
        self.pos += n;
        Ok(r)
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed {
            at: self.pos,
            reason,
        }
    }

    /// uintvar (WAP-230 §8.1.2): at most 5 octets, value fits in 32 bits.
    pub(crate) fn uintvar(&mut self) -> Result<u32> {
        let start = self.pos;
        let mut v: u64 = 0;
        for _ in 0..5 {
            let b = self.u8()?;
            v = (v << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| DecodeError::Malformed {
                    at: start,
                    reason: "uintvar exceeds 32 bits",
                });
            }
        }
        Err(DecodeError::Malformed {
            at: start,
            reason: "uintvar longer than 5 octets",
        })
    }

    /// Value-length (WAP-230 §8.4.2.2): Short-length (0–30) | Length-quote (31) uintvar.
    pub(crate) fn value_length(&mut self) -> Result<usize> {
        let b = self.u8()?;
        match b {
            0..=30 => Ok(usize::from(b)),
            LENGTH_QUOTE => Ok(self.uintvar()? as usize),
            _ => Err(DecodeError::Malformed {
                at: self.pos - 1,
                reason: "expected a value-length",
            }),
        }
    }

    /// Value-length followed by that many octets, as a sub-reader.
    pub(crate) fn value_length_sub(&mut self) -> Result<Reader<'a>> {
        let n = self.value_length()?;
        self.sub(n)
    }

    /// Short-integer (WAP-230 §8.4.2.1): one octet with the high bit set; returns the 7-bit value.
    pub(crate) fn short_integer(&mut self) -> Result<u8> {
        let b = self.peek()?;
        if b & 0x80 == 0 {
            return Err(self.malformed("expected a short-integer (octet >= 0x80)"));
        }
        self.pos += 1;
        Ok(b & 0x7F)
    }

    /// Long-integer (WAP-230 §8.4.2.1): Short-length (1–30) Multi-octet-integer, value ≤ 2^64-1.
    pub(crate) fn long_integer(&mut self) -> Result<u64> {
        let at = self.pos;
        let len = self.u8()?;
        if len > 30 {
            return Err(DecodeError::Malformed {
                at,
                reason: "expected a long-integer (length 1-30)",
            });
        }
        if len == 0 {
            return Err(DecodeError::Malformed {
                at,
                reason: "long-integer of length 0",
            });
        }
        let bytes = self.take(usize::from(len))?;
        let mut v: u64 = 0;
        for &b in bytes.iter() {
            if v >> 56 != 0 {
                return Err(DecodeError::Malformed {
                    at,
                    reason: "long-integer exceeds 64 bits",
                });
            }
            v = (v << 8) | u64::from(b);
        }
        Ok(v)
    }

    /// Integer-value (WAP-230 §8.4.2.3): Short-integer | Long-integer.
    pub(crate) fn integer_value(&mut self) -> Result<u64> {
        if self.peek()? & 0x80 != 0 {
            Ok(u64::from(self.short_integer()?))
        } else {
            self.long_integer()
        }
    }

    /// Octets up to (not including) the terminating NUL, which is consumed.
    pub(crate) fn nul_terminated(&mut self) -> Result<Bytes> {
        let rest = self.rest();
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                let s = self.take(n)?;
                self.pos += 1;
                Ok(s)
            }
            None => Err(self.short_of(rest.len() + 1)),
        }
    }

    /// Text-string (WAP-230 §8.4.2.1): `[Quote] *TEXT End-of-string`; the quote is dropped.
    pub(crate) fn text_bytes(&mut self) -> Result<Bytes> {
        if self.peek()? == QUOTE {
            self.pos += 1;
        }
        self.nul_terminated()
    }

    /// Text-string decoded as UTF-8 (invalid sequences replaced, as no charset is given).
    pub(crate) fn text(&mut self) -> Result<String> {
        let b = self.text_bytes()?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Skips one field value in its general form (WAP-230 §8.4.1.2): Short-integer, Value-length
    /// data, or a NUL-terminated text; returns the raw value octets as a sub-reader.
    pub(crate) fn raw_value(&mut self) -> Result<Reader<'a>> {
        let start = self.pos;
        let b = self.peek()?;
        let len = match b {
            0x80..=0xFF => 1,
            0..=30 => 1 + usize::from(b),
            LENGTH_QUOTE => {
                let mut probe = self.clone();
                probe.pos += 1;
                let n = probe.uintvar()? as usize;
                (probe.pos - start) + n
            }
            _ => match self.rest().iter().position(|&c| c == 0) {
                Some(n) => n + 1,
                None => return Err(self.short_of(self.remaining() + 1)),
            },
        };
        self.sub(len)
    }
}

/// Appends a uintvar (WAP-230 §8.1.2).
pub(crate) fn put_uintvar(out: &mut Vec<u8>, v: u32) {
    let mut buf = [0u8; 5];
    let mut i = 4;
    let mut x = v;
    buf[i] = (x & 0x7F) as u8;
    x >>= 7;
    while x != 0 {
        i -= 1;
        buf[i] = ((x & 0x7F) as u8) | 0x80;
        x >>= 7;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a Value-length (WAP-230 §8.4.2.2), the short form when under 31.
pub(crate) fn put_value_length(out: &mut Vec<u8>, len: usize) {
    if len <= 30 {
        out.push(len as u8);
    } else {
        out.push(LENGTH_QUOTE);
        put_uintvar(out, u32::try_from(len).unwrap_or(u32::MAX));
    }
}

/// Appends `Value-length` + the value written by `f`, without a temporary buffer: one length
/// octet is reserved and patched (widened in place for the rare value over 30 octets).
pub(crate) fn put_with_length(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.push(0);
    f(out);
    let len = out.len() - at - 1;
    if len <= 30 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(6);
        put_value_length(&mut prefix, len);
        out.splice(at..at + 1, prefix);
    }
}

/// Appends a Long-integer (WAP-230 §8.4.2.1) in its minimal length.
pub(crate) fn put_long_integer(out: &mut Vec<u8>, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8).min(7) as usize;
    out.push((8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends an Integer-value (WAP-230 §8.4.2.3): short form when under 128.
pub(crate) fn put_integer_value(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(0x80 | v as u8)
    } else {
        put_long_integer(out, v)
    }
}

/// Appends a Text-string (WAP-230 §8.4.2.1). Octets after an embedded NUL cannot be carried and
/// are dropped; a leading octet that would be misread (≥ 0x80, < 0x20, or the quote) gets a Quote.
pub(crate) fn put_text(out: &mut Vec<u8>, text: &[u8]) {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let text = &text[..end];
    // An empty text is written quoted so that it is not read as a zero Value-length.
    match text.first() {
        None => out.push(QUOTE),
        Some(&first) if !(0x20..0x7F).contains(&first) => out.push(QUOTE),
        Some(_) => {}
    }
    out.extend_from_slice(text);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(b: &'static [u8]) -> Bytes {
        Bytes::from_static(b)
    }

    #[test]
    fn uintvar_round_trips_boundaries_wap230_8_1_2() {
        for v in [0u32, 1, 127, 128, 16383, 16384, 0x0FFF_FFFF, u32::MAX] {
            let mut out = Vec::new();
            put_uintvar(&mut out, v);
            let b = Bytes::from(out);
            let mut r = Reader::new(&b);
            assert_eq!(r.uintvar().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn uintvar_of_six_octets_is_malformed() {
        let b = reader(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x01]);
        assert_eq!(
            Reader::new(&b).uintvar(),
            Err(DecodeError::Malformed {
                at: 0,
                reason: "uintvar longer than 5 octets"
            })
        );
    }

    #[test]
    fn truncated_uintvar_is_incomplete_not_invalid() {
        let b = reader(&[0x81]);
        assert_eq!(
            Reader::new(&b).uintvar(),
            Err(DecodeError::Incomplete { at: 1, needed: 1 })
        );
    }

    #[test]
    fn value_length_accepts_overlong_length_quote_form() {
        // 0x1F + uintvar 5: a length under 31 in the long form, as some phones send.
        let b = reader(&[0x1F, 0x05]);
        assert_eq!(Reader::new(&b).value_length().unwrap(), 5);
        let b = reader(&[0x1E]);
        assert_eq!(Reader::new(&b).value_length().unwrap(), 30);
    }

    #[test]
    fn long_integer_round_trips_and_rejects_zero_length() {
        for v in [0u64, 1, 255, 256, 0x1234_5678, u64::MAX] {
            let mut out = Vec::new();
            put_long_integer(&mut out, v);
            let b = Bytes::from(out);
            assert_eq!(Reader::new(&b).long_integer().unwrap(), v);
        }
        let b = reader(&[0x00]);
        assert!(matches!(
            Reader::new(&b).long_integer(),
            Err(DecodeError::Malformed { .. })
        ));
        // Nine octets with a non-zero top octet overflow 64 bits.
        let b = reader(&[9, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            Reader::new(&b).long_integer(),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn integer_value_takes_short_or_long_form() {
        let b = reader(&[0x85]);
        assert_eq!(Reader::new(&b).integer_value().unwrap(), 5);
        let b = reader(&[0x02, 0x03, 0xF7]);
        assert_eq!(Reader::new(&b).integer_value().unwrap(), 1015);
        let mut out = Vec::new();
        put_integer_value(&mut out, 127);
        put_integer_value(&mut out, 128);
        assert_eq!(out, [0xFF, 0x01, 0x80]);
    }

    #[test]
    fn text_string_drops_quote_and_needs_terminator() {
        let b = reader(&[0x7F, 0xC3, 0xA9, 0x00]);
        assert_eq!(Reader::new(&b).text().unwrap(), "é");
        let b = reader(b"abc");
        assert_eq!(
            Reader::new(&b).text(),
            Err(DecodeError::Incomplete { at: 3, needed: 1 })
        );
        let mut out = Vec::new();
        put_text(&mut out, "é".as_bytes());
        assert_eq!(out, [0x7F, 0xC3, 0xA9, 0x00]);
    }

    #[test]
    fn raw_value_skips_each_general_form_wap230_8_4_1_2() {
        let b = reader(&[0x81, 0x02, 0xAA, 0xBB, b'x', 0x00, 0x1F, 0x01, 0xCC, 0xEE]);
        let mut r = Reader::new(&b);
        assert_eq!(r.raw_value().unwrap().rest(), [0x81]);
        assert_eq!(r.raw_value().unwrap().rest(), [0x02, 0xAA, 0xBB]);
        assert_eq!(r.raw_value().unwrap().rest(), [b'x', 0x00]);
        assert_eq!(r.raw_value().unwrap().rest(), [0x1F, 0x01, 0xCC]);
        assert_eq!(r.raw_value().unwrap().rest(), [0xEE]);
    }

    #[test]
    fn value_length_prefix_is_widened_for_long_values() {
        for n in [0usize, 30, 31, 200, 20_000] {
            let mut out = vec![0xAA];
            put_with_length(&mut out, |o| o.extend(std::iter::repeat_n(7u8, n)));
            let b = Bytes::from(out);
            let mut r = Reader::new(&b);
            assert_eq!(r.u8().unwrap(), 0xAA);
            assert_eq!(r.value_length().unwrap(), n);
            assert_eq!(r.remaining(), n);
        }
    }

    #[test]
    fn sub_reader_overrun_is_malformed_not_incomplete() {
        let b = reader(&[0x01, 0x05, 0xFF]);
        let mut r = Reader::new(&b);
        let mut v = r.value_length_sub().unwrap();
        assert!(matches!(
            v.long_integer(),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
