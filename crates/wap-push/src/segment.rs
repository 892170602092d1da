//! WDP over SMS segmentation (WAP-259 WDP Annex A.6, TS 23.040 §9.2.3.24): a datagram becomes one
//! SMS with a port-addressing UDH, or several with concatenation + ports, each ≤ 140 octets of
//! user data. SAR mode carries the same cuts without a UDH, for SMPP 3.4 §5.3.2.22–24 TLVs.

use bytes::Bytes;
use thiserror::Error;

use crate::udh::{ConcatReference, InformationElement, Ports, ReferenceWidth};

/// TS 23.040 §9.2.3.16: at most 140 octets of 8-bit user data (UDH included) in one SMS.
pub const MAX_USER_DATA: usize = 140;
/// TS 23.040: the concatenation sequence and total are one octet.
const MAX_SEGMENTS: usize = 255;
/// UDHL octet + port IE (6).
const UDH_PORTS_ONLY: usize = 1 + 6;

/// Why a datagram cannot be segmented.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// More than 255 segments would be needed.
    #[error("{len} octets need more than 255 SMS segments")]
    TooLong {
        /// The datagram length.
        len: usize,
    },
}

fn udh_len(width: ReferenceWidth) -> usize {
    let concat = match width {
        ReferenceWidth::Eight => 5,
        ReferenceWidth::Sixteen => 6,
    };
    1 + concat + 6
}

/// Payload octets per segment of a concatenated datagram: 128 (8-bit ref) or 127 (16-bit ref).
fn payload_per_segment(width: ReferenceWidth) -> usize {
    MAX_USER_DATA - udh_len(width)
}

/// Number of SMS a datagram of `len` octets needs in UDH mode (1 when it fits in 133 octets).
pub fn segment_count(len: usize, width: ReferenceWidth) -> usize {
    if len <= MAX_USER_DATA - UDH_PORTS_ONLY {
        1
    } else {
        len.div_ceil(payload_per_segment(width))
    }
}

/// Cuts a WDP datagram into SMS user data (UDH mode, esm_class UDHI). One segment when it fits
/// (UDH `06 05 04 dst src`, `reference` unused); otherwise every segment carries the concatenation
/// IE first and the port IE second (`0B 00 03 ref tot seq 05 04 dst src` for 8-bit references).
pub fn segment_udh(
    datagram: &[u8],
    ports: Ports,
    reference: ConcatReference,
) -> Result<Vec<Bytes>, SegmentError> {
    let count = segment_count(datagram.len(), reference.width());
    if count > MAX_SEGMENTS {
        return Err(SegmentError::TooLong {
            len: datagram.len(),
        });
    }
    let port_ie = InformationElement::Ports16(ports);
    if count == 1 {
        let mut out = Vec::with_capacity(UDH_PORTS_ONLY + datagram.len());
        out.push((UDH_PORTS_ONLY - 1) as u8);
        port_ie.encode(&mut out);
        out.extend_from_slice(datagram);
        return Ok(vec![Bytes::from(out)]);
    }
    let header = udh_len(reference.width());
    let total = count as u8;
    let segments = datagram
        .chunks(payload_per_segment(reference.width()))
        .zip(1..=u8::MAX)
        .map(|(chunk, sequence)| {
            let mut out = Vec::with_capacity(header + chunk.len());
            out.push((header - 1) as u8);
            InformationElement::Concat {
                reference,
                total,
                sequence,
            }
            .encode(&mut out);
            port_ie.encode(&mut out);
            out.extend_from_slice(chunk);
            Bytes::from(out)
        })
        .collect();
    Ok(segments)
}

/// SMPP 3.4 §5.3.2.22–24: sar_msg_ref_num, sar_total_segments, sar_segment_seqnum of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SarInfo {
    /// sar_msg_ref_num (TLV 0x020C).
    pub reference: u16,
    /// sar_total_segments (TLV 0x020E).
    pub total: u8,
    /// sar_segment_seqnum (TLV 0x020F), 1-based.
    pub sequence: u8,
}

/// One short message of SAR mode: payload without UDH, plus the SAR values when concatenated.
/// Ports go into TLVs 0x020A (source_port) and 0x020B (destination_port) of every segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarSegment {
    /// SAR TLV values; `None` when the datagram fits in one short message.
    pub sar: Option<SarInfo>,
    /// The short_message octets.
    pub payload: Bytes,
}

/// Cuts a WDP datagram for SAR TLV mode: 140 octets per short message, no UDH, no concat IE.
pub fn segment_sar(datagram: &[u8], reference: u16) -> Result<Vec<SarSegment>, SegmentError> {
    if datagram.len() <= MAX_USER_DATA {
        return Ok(vec![SarSegment {
            sar: None,
            payload: Bytes::copy_from_slice(datagram),
        }]);
    }
    let count = datagram.len().div_ceil(MAX_USER_DATA);
    if count > MAX_SEGMENTS {
        return Err(SegmentError::TooLong {
            len: datagram.len(),
        });
    }
    let whole = Bytes::copy_from_slice(datagram);
    Ok((0..count)
        .zip(1..=u8::MAX)
        .map(|(i, sequence)| {
            let start = i * MAX_USER_DATA;
            let end = (start + MAX_USER_DATA).min(whole.len());
            SarSegment {
                sar: Some(SarInfo {
                    reference,
                    total: count as u8,
                    sequence,
                }),
                payload: whole.slice(start..end),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram_of_133_octets_fits_one_sms_with_port_udh() {
        let d = vec![0x55; 133];
        let s = segment_udh(&d, Ports::WAP_PUSH, ConcatReference::Eight(9)).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(&s[0][..7], &[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]);
        assert_eq!(s[0].len(), 140);
    }

    #[test]
    fn datagram_of_134_octets_needs_two_segments_of_128_payload() {
        let d: Vec<u8> = (0..134u8).collect();
        let s = segment_udh(&d, Ports::WAP_PUSH, ConcatReference::Eight(0x2A)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            &s[0][..12],
            &[
                0x0B, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0
            ]
        );
        assert_eq!(s[0].len(), 140);
        assert_eq!(&s[1][..6], &[0x0B, 0x00, 0x03, 0x2A, 0x02, 0x02]);
        assert_eq!(s[1].len(), 12 + 6);
    }

    #[test]
    fn sixteen_bit_reference_leaves_127_octets_per_segment() {
        let d = vec![1u8; 254];
        let s = segment_udh(&d, Ports::WAP_PUSH, ConcatReference::Sixteen(0x1234)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            &s[0][..13],
            &[
                0x0C, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0
            ]
        );
        assert!(s.iter().all(|x| x.len() == 140));
    }

    #[test]
    fn more_than_255_segments_is_too_long() {
        let d = vec![0u8; 128 * 255 + 1];
        assert_eq!(
            segment_udh(&d, Ports::WAP_PUSH, ConcatReference::Eight(0)),
            Err(SegmentError::TooLong { len: d.len() })
        );
        assert!(segment_udh(&d[..128 * 255], Ports::WAP_PUSH, ConcatReference::Eight(0)).is_ok());
        assert!(segment_sar(&vec![0u8; 140 * 255 + 1], 1).is_err());
    }

    #[test]
    fn sar_mode_uses_140_octets_and_no_udh() {
        let d: Vec<u8> = (0..=200u8).collect();
        let s = segment_sar(&d, 7).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].payload.len(), 140);
        assert_eq!(
            s[1].sar,
            Some(SarInfo {
                reference: 7,
                total: 2,
                sequence: 2
            })
        );
        let single = segment_sar(&d[..140], 7).unwrap();
        assert_eq!(single[0].sar, None);
    }
}
