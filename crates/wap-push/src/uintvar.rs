//! WAP-230 WSP §8.1.2: variable-length unsigned integer (7 bits per octet, high bit = continue).

/// Appends `value` as a uintvar (at most 5 octets for a u32).
pub(crate) fn encode(value: u32, out: &mut Vec<u8>) {
    let mut groups = [0u8; 5];
    let mut n = 0;
    let mut v = value;
    loop {
        groups[n] = (v & 0x7F) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let cont = if i == 0 { 0 } else { 0x80 };
        out.push(groups[i] | cont);
    }
}

/// Result of reading a uintvar.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Uintvar {
    /// The value and the number of octets it took.
    Value(u32, usize),
    /// The input ended inside the uintvar.
    Incomplete,
    /// More than 5 octets, or a value above u32::MAX.
    Invalid,
}

/// Reads a uintvar from the start of `data`.
pub(crate) fn decode(data: &[u8]) -> Uintvar {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().enumerate() {
        if i >= 5 {
            return Uintvar::Invalid;
        }
        value = (value << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return match u32::try_from(value) {
                Ok(v) => Uintvar::Value(v, i + 1),
                Err(_) => Uintvar::Invalid,
            };
        }
    }
    if data.len() >= 5 {
        Uintvar::Invalid
    } else {
        Uintvar::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uintvar_encodes_wsp_8_1_2_examples() {
        let mut out = Vec::new();
        encode(0x7F, &mut out);
        assert_eq!(out, [0x7F]);
        out.clear();
        encode(0x80, &mut out);
        assert_eq!(out, [0x81, 0x00]);
        out.clear();
        encode(u32::MAX, &mut out);
        assert_eq!(out, [0x8F, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(decode(&out), Uintvar::Value(u32::MAX, 5));
    }

    #[test]
    fn uintvar_truncated_is_incomplete_and_overlong_is_invalid() {
        assert_eq!(decode(&[0x81]), Uintvar::Incomplete);
        assert_eq!(decode(&[]), Uintvar::Incomplete);
        assert_eq!(
            decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Uintvar::Invalid
        );
        assert_eq!(decode(&[0x9F, 0xFF, 0xFF, 0xFF, 0x7F]), Uintvar::Invalid);
    }
}
