//! 3GPP TS 23.040 §9.2.3.24: the SMS User Data Header and the information elements WDP over SMS
//! uses (WAP-259 WDP Annex A.6): concatenation (IEI 0x00 8-bit and 0x08 16-bit reference) and
//! application port addressing (IEI 0x04 8-bit, 0x05 16-bit ports).

use bytes::Bytes;
use thiserror::Error;

/// TS 23.040 §9.2.3.24.1: concatenated short messages, 8-bit reference.
pub(crate) const IEI_CONCAT_8: u8 = 0x00;
/// TS 23.040 §9.2.3.24.3: application port addressing, 8-bit ports.
pub(crate) const IEI_PORTS_8: u8 = 0x04;
/// TS 23.040 §9.2.3.24.4: application port addressing, 16-bit ports.
pub(crate) const IEI_PORTS_16: u8 = 0x05;
/// TS 23.040 §9.2.3.24.8: concatenated short messages, 16-bit reference.
pub(crate) const IEI_CONCAT_16: u8 = 0x08;

/// Application ports of a WDP datagram (TS 23.040 §9.2.3.24.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port.
    pub destination: u16,
    /// Originator port.
    pub source: u16,
}

impl Ports {
    /// WAP-259 / OMNA: connectionless WSP push, destination 2948 (0x0B84), source 9200 (0x23F0).
    pub const WAP_PUSH: Ports = Ports {
        destination: 2948,
        source: 9200,
    };
}

/// Width of the concatenation reference number (TS 23.040 §9.2.3.24.1 / §9.2.3.24.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceWidth {
    /// IEI 0x00, reference 0..=255.
    Eight,
    /// IEI 0x08, reference 0..=65535.
    Sixteen,
}

/// A concatenation reference number together with its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcatReference {
    /// 8-bit reference (IEI 0x00).
    Eight(u8),
    /// 16-bit reference (IEI 0x08).
    Sixteen(u16),
}

impl ConcatReference {
    /// The width of this reference.
    pub fn width(self) -> ReferenceWidth {
        match self {
            ConcatReference::Eight(_) => ReferenceWidth::Eight,
            ConcatReference::Sixteen(_) => ReferenceWidth::Sixteen,
        }
    }
}

/// One information element of a User Data Header (TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InformationElement {
    /// Concatenation (IEI 0x00 or 0x08): reference, total number of segments, this segment's number (1-based).
    Concat {
        /// Reference number shared by all segments of one message.
        reference: ConcatReference,
        /// Total segments.
        total: u8,
        /// This segment, 1..=total.
        sequence: u8,
    },
    /// Application port addressing with 16-bit ports (IEI 0x05).
    Ports16(Ports),
    /// Application port addressing with 8-bit ports (IEI 0x04).
    Ports8 {
        /// Destination port.
        destination: u8,
        /// Originator port.
        source: u8,
    },
    /// Any other element, kept as its IEI and data.
    Other {
        /// Information element identifier.
        iei: u8,
        /// Element data.
        data: Bytes,
    },
}

impl InformationElement {
    /// Encoded length including IEI and length octet.
    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            InformationElement::Concat {
                reference: ConcatReference::Eight(_),
                ..
            } => 5,
            InformationElement::Concat {
                reference: ConcatReference::Sixteen(_),
                ..
            } => 6,
            InformationElement::Ports16(_) => 6,
            InformationElement::Ports8 { .. } => 4,
            InformationElement::Other { data, .. } => 2 + data.len(),
        }
    }

    /// Appends IEI, length and data.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            InformationElement::Concat {
                reference,
                total,
                sequence,
            } => match reference {
                ConcatReference::Eight(r) => {
                    out.extend_from_slice(&[IEI_CONCAT_8, 3, *r, *total, *sequence])
                }
                ConcatReference::Sixteen(r) => {
                    let [hi, lo] = r.to_be_bytes();
                    out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, *total, *sequence])
                }
            },
            InformationElement::Ports16(p) => {
                out.extend_from_slice(&[IEI_PORTS_16, 4]);
                out.extend_from_slice(&p.destination.to_be_bytes());
                out.extend_from_slice(&p.source.to_be_bytes());
            }
            InformationElement::Ports8 {
                destination,
                source,
            } => out.extend_from_slice(&[IEI_PORTS_8, 2, *destination, *source]),
            InformationElement::Other { iei, data } => {
                out.push(*iei);
                // callers build Other only from parsed data (< 256 octets)
                out.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(data);
            }
        }
    }

    fn decode(iei: u8, data: &[u8]) -> Result<Self, UdhError> {
        let invalid = UdhError::InvalidElement { iei };
        Ok(match iei {
            IEI_CONCAT_8 => match *data {
                [r, total, sequence] => InformationElement::Concat {
                    reference: ConcatReference::Eight(r),
                    total,
                    sequence,
                },
                _ => return Err(invalid),
            },
            IEI_CONCAT_16 => match *data {
                [hi, lo, total, sequence] => InformationElement::Concat {
                    reference: ConcatReference::Sixteen(u16::from_be_bytes([hi, lo])),
                    total,
                    sequence,
                },
                _ => return Err(invalid),
            },
            IEI_PORTS_16 => match *data {
                [d1, d2, s1, s2] => InformationElement::Ports16(Ports {
                    destination: u16::from_be_bytes([d1, d2]),
                    source: u16::from_be_bytes([s1, s2]),
                }),
                _ => return Err(invalid),
            },
            IEI_PORTS_8 => match *data {
                [destination, source] => InformationElement::Ports8 {
                    destination,
                    source,
                },
                _ => return Err(invalid),
            },
            _ => InformationElement::Other {
                iei,
                data: Bytes::copy_from_slice(data),
            },
        })
    }
}

/// Why SMS user data could not be split into header and payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UdhError {
    /// The UDH length or an element length runs past the end of the user data.
    #[error("user data header truncated")]
    Incomplete,
    /// A known element has the wrong length (TS 23.040 §9.2.3.24.1, .4, .8).
    #[error("information element {iei:#04x} has an invalid length")]
    InvalidElement {
        /// The element's identifier.
        iei: u8,
    },
}

/// SMS user data split into header elements and payload (TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData<'a> {
    /// Header elements in order (empty when the UDHI flag was not set).
    pub elements: Vec<InformationElement>,
    /// The octets after the header.
    pub payload: &'a [u8],
}

impl<'a> UserData<'a> {
    /// Parses user data whose first octet is the UDH length (the UDHI / esm_class 0x40 case).
    pub fn parse_with_header(user_data: &'a [u8]) -> Result<Self, UdhError> {
        let (&udhl, rest) = user_data.split_first().ok_or(UdhError::Incomplete)?;
        let mut header = rest.get(..usize::from(udhl)).ok_or(UdhError::Incomplete)?;
        let payload = rest.get(usize::from(udhl)..).ok_or(UdhError::Incomplete)?;
        let mut elements = Vec::new();
        while let [iei, len, tail @ ..] = header {
            let data = tail.get(..usize::from(*len)).ok_or(UdhError::Incomplete)?;
            elements.push(InformationElement::decode(*iei, data)?);
            header = tail.get(usize::from(*len)..).ok_or(UdhError::Incomplete)?;
        }
        if !header.is_empty() {
            return Err(UdhError::Incomplete);
        }
        Ok(UserData { elements, payload })
    }

    /// The concatenation element, if any: (reference, total, sequence).
    pub fn concat(&self) -> Option<(ConcatReference, u8, u8)> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::Concat {
                reference,
                total,
                sequence,
            } => Some((*reference, *total, *sequence)),
            _ => None,
        })
    }

    /// The application ports, if any (8-bit ports widened).
    pub fn ports(&self) -> Option<Ports> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::Ports16(p) => Some(*p),
            InformationElement::Ports8 {
                destination,
                source,
            } => Some(Ports {
                destination: u16::from(*destination),
                source: u16::from(*source),
            }),
            _ => None,
        })
    }

    /// Encodes UDH length, elements and payload back into user data.
    pub fn encode(&self) -> Vec<u8> {
        let udhl: usize = self
            .elements
            .iter()
            .map(InformationElement::encoded_len)
            .sum();
        let mut out = Vec::with_capacity(1 + udhl + self.payload.len());
        out.push(u8::try_from(udhl).unwrap_or(u8::MAX));
        for e in &self.elements {
            e.encode(&mut out);
        }
        out.extend_from_slice(self.payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_concat8_and_ports16_of_wdp_annex_a() {
        let ud = [
            0x0B, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0xAA,
        ];
        let u = UserData::parse_with_header(&ud).unwrap();
        assert_eq!(u.concat(), Some((ConcatReference::Eight(0x2A), 2, 1)));
        assert_eq!(u.ports(), Some(Ports::WAP_PUSH));
        assert_eq!(u.payload, &[0xAA]);
        assert_eq!(u.encode(), ud);
    }

    #[test]
    fn element_running_past_udh_is_incomplete() {
        assert_eq!(
            UserData::parse_with_header(&[0x03, 0x00, 0x03, 0x01]),
            Err(UdhError::Incomplete)
        );
        assert_eq!(
            UserData::parse_with_header(&[0x05, 0x00]),
            Err(UdhError::Incomplete)
        );
        assert_eq!(UserData::parse_with_header(&[]), Err(UdhError::Incomplete));
        assert_eq!(
            UserData::parse_with_header(&[0x01, 0x00]),
            Err(UdhError::Incomplete)
        );
    }

    #[test]
    fn concat_with_wrong_length_is_invalid_element() {
        assert_eq!(
            UserData::parse_with_header(&[0x04, 0x00, 0x02, 0x01, 0x01]),
            Err(UdhError::InvalidElement { iei: 0 })
        );
    }

    #[test]
    fn unknown_elements_are_kept() {
        let ud = [0x03, 0x24, 0x01, 0x07, b'x'];
        let u = UserData::parse_with_header(&ud).unwrap();
        assert_eq!(
            u.elements,
            vec![InformationElement::Other {
                iei: 0x24,
                data: Bytes::from_static(&[7])
            }]
        );
        assert_eq!(u.encode(), ud);
    }
}
