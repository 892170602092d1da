//! TBCD strings (3GPP TS 29.002 §17.7.8, used by the Sh MSISDN AVP, TS 29.329 §6.3.2): two digits per
//! octet, the first in the low nibble, an odd count padded with filler 0xF in the last high nibble.

/// A string is not TBCD-encodable, or octets are not valid TBCD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid TBCD digit")]
pub struct TbcdError;

fn nibble(c: char) -> Result<u8, TbcdError> {
    Ok(match c {
        '0'..='9' => c as u8 - b'0',
        '*' => 0xa,
        '#' => 0xb,
        'a' | 'A' => 0xc,
        'b' | 'B' => 0xd,
        'c' | 'C' => 0xe,
        _ => return Err(TbcdError),
    })
}

fn digit(n: u8) -> Result<char, TbcdError> {
    Ok(match n {
        0..=9 => char::from(b'0' + n),
        0xa => '*',
        0xb => '#',
        0xc => 'a',
        0xd => 'b',
        0xe => 'c',
        _ => return Err(TbcdError),
    })
}

/// Encodes digits (0–9, `*`, `#`, `a`–`c`) as TBCD.
pub fn encode(digits: &str) -> Result<Vec<u8>, TbcdError> {
    let nibbles = digits.chars().map(nibble).collect::<Result<Vec<u8>, _>>()?;
    Ok(nibbles
        .chunks(2)
        .map(|pair| match pair {
            [lo, hi] => lo | (hi << 4),
            [lo] => lo | 0xf0,
            _ => 0xff,
        })
        .collect())
}

/// Decodes TBCD; a filler 0xF is accepted only as the last high nibble.
pub fn decode(octets: &[u8]) -> Result<String, TbcdError> {
    let mut out = String::with_capacity(octets.len() * 2);
    for (i, &octet) in octets.iter().enumerate() {
        out.push(digit(octet & 0x0f)?);
        let hi = octet >> 4;
        if hi == 0xf {
            if i + 1 != octets.len() {
                return Err(TbcdError);
            }
        } else {
            out.push(digit(hi)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_msisdn_is_padded_with_filler_ts29002_17_7_8() {
        assert_eq!(
            encode("4917612345678").unwrap(),
            vec![0x94, 0x71, 0x16, 0x32, 0x54, 0x76, 0xf8]
        );
        assert_eq!(
            decode(&[0x94, 0x71, 0x16, 0x32, 0x54, 0x76, 0xf8]).unwrap(),
            "4917612345678"
        );
    }

    #[test]
    fn filler_before_the_end_is_rejected() {
        assert_eq!(decode(&[0xf1, 0x21]), Err(TbcdError));
        assert_eq!(encode("+49"), Err(TbcdError));
    }
}
