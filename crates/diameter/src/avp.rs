//! RFC 6733 §4.1 AVP header and §4.2–§4.3 AVP data formats (OctetString, Integer32, Unsigned32/64,
//! Grouped, Address, Time, UTF8String, DiameterIdentity, Enumerated).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};

use crate::message::DecodeError;

/// AVP flag V (RFC 6733 §4.1): a Vendor-ID field follows the header.
const FLAG_VENDOR: u8 = 0x80;
/// AVP flag M (RFC 6733 §4.1): the receiver must understand the AVP.
const FLAG_MANDATORY: u8 = 0x40;
/// AVP flag P (RFC 6733 §4.1): reserved for end-to-end security.
const FLAG_PROTECTED: u8 = 0x20;

/// One attribute-value pair (RFC 6733 §4.1). `data` holds the unpadded value; typed views decode it on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avp {
    /// AVP Code (with `vendor_id`, identifies the attribute).
    pub code: u32,
    /// Vendor-ID when the V flag is set (10415 for 3GPP).
    pub vendor_id: Option<u32>,
    /// M flag: the receiver must reject the message if it does not understand the AVP.
    pub mandatory: bool,
    /// P flag (RFC 6733 §4.1), kept for compatibility.
    pub protected: bool,
    /// The value without padding.
    pub data: Bytes,
}

/// A typed view of an AVP did not fit its data (RFC 6733 §4.2–§4.3; answer with 5014 DIAMETER_INVALID_AVP_LENGTH
/// or 5004 DIAMETER_INVALID_AVP_VALUE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AvpDataError {
    /// Fixed-size type with the wrong number of octets.
    #[error("AVP {code}: {found} octets where {expected} are required")]
    WrongLength {
        /// AVP code.
        code: u32,
        /// Octets required by the type.
        expected: usize,
        /// Octets present.
        found: usize,
    },
    /// UTF8String/DiameterIdentity that is not UTF-8.
    #[error("AVP {code}: not valid UTF-8")]
    NotUtf8 {
        /// AVP code.
        code: u32,
    },
    /// Address with an address family other than IPv4 (1) or IPv6 (2).
    #[error("AVP {code}: unsupported address family {family}")]
    AddressFamily {
        /// AVP code.
        code: u32,
        /// IANA address family number found.
        family: u16,
    },
}

/// Diameter Time (RFC 6733 §4.3.1): seconds since 1900-01-01 00:00 UTC, NTP format, rolling over in 2036.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl Avp {
    /// An AVP with raw data, no vendor, M flag clear.
    pub fn new(code: u32, data: impl Into<Bytes>) -> Self {
        Self {
            code,
            vendor_id: None,
            mandatory: false,
            protected: false,
            data: data.into(),
        }
    }

    /// Sets the M flag (RFC 6733 §4.1).
    #[must_use]
    pub fn mandatory(mut self) -> Self {
        self.mandatory = true;
        self
    }

    /// Sets the V flag and Vendor-ID (RFC 6733 §4.1).
    #[must_use]
    pub fn vendor(mut self, vendor_id: u32) -> Self {
        self.vendor_id = Some(vendor_id);
        self
    }

    /// OctetString (RFC 6733 §4.2).
    pub fn octets(code: u32, value: &[u8]) -> Self {
        Self::new(code, Bytes::copy_from_slice(value))
    }

    /// UTF8String or DiameterIdentity (RFC 6733 §4.3.1).
    pub fn utf8(code: u32, value: &str) -> Self {
        Self::new(code, Bytes::copy_from_slice(value.as_bytes()))
    }

    /// Unsigned32 or Enumerated value ≥ 0 (RFC 6733 §4.2, §4.3.1).
    pub fn unsigned32(code: u32, value: u32) -> Self {
        Self::new(code, Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    /// Unsigned64 (RFC 6733 §4.2).
    pub fn unsigned64(code: u32, value: u64) -> Self {
        Self::new(code, Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    /// Integer32 or Enumerated (RFC 6733 §4.2, §4.3.1).
    pub fn integer32(code: u32, value: i32) -> Self {
        Self::new(code, Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    /// Address (RFC 6733 §4.3.1): 2-octet IANA family (1 IPv4, 2 IPv6) and the address.
    pub fn address(code: u32, value: IpAddr) -> Self {
        let mut data = BytesMut::with_capacity(18);
        match value {
            IpAddr::V4(v4) => {
                data.put_u16(1);
                data.put_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                data.put_u16(2);
                data.put_slice(&v6.octets());
            }
        }
        Self::new(code, data.freeze())
    }

    /// Time (RFC 6733 §4.3.1) from a system time, NTP seconds modulo 2^32.
    pub fn time(code: u32, value: SystemTime) -> Self {
        let unix = value
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Truncation to 32 bits is the NTP era rollover the RFC specifies.
        let ntp = (unix + NTP_UNIX_OFFSET) as u32;
        Self::unsigned32(code, ntp)
    }

    /// Grouped (RFC 6733 §4.4): the encoded child AVPs.
    pub fn grouped(code: u32, children: &[Avp]) -> Self {
        let mut data = BytesMut::with_capacity(children.iter().map(Avp::encoded_len).sum());
        for child in children {
            child.encode(&mut data);
        }
        Self::new(code, data.freeze())
    }

    /// Raw OctetString view.
    pub fn as_octets(&self) -> &[u8] {
        &self.data
    }

    /// UTF8String / DiameterIdentity view.
    pub fn as_utf8(&self) -> Result<&str, AvpDataError> {
        std::str::from_utf8(&self.data).map_err(|_| AvpDataError::NotUtf8 { code: self.code })
    }

    fn fixed<const N: usize>(&self) -> Result<[u8; N], AvpDataError> {
        <[u8; N]>::try_from(&self.data[..]).map_err(|_| AvpDataError::WrongLength {
            code: self.code,
            expected: N,
            found: self.data.len(),
        })
    }

    /// Unsigned32 / Enumerated view.
    pub fn as_unsigned32(&self) -> Result<u32, AvpDataError> {
        self.fixed::<4>().map(u32::from_be_bytes)
    }

    /// Unsigned64 view.
    pub fn as_unsigned64(&self) -> Result<u64, AvpDataError> {
        self.fixed::<8>().map(u64::from_be_bytes)
    }

    /// Integer32 view.
    pub fn as_integer32(&self) -> Result<i32, AvpDataError> {
        self.fixed::<4>().map(i32::from_be_bytes)
    }

    /// Address view (IPv4 and IPv6 families).
    pub fn as_address(&self) -> Result<IpAddr, AvpDataError> {
        let family = self
            .data
            .get(..2)
            .map(|f| u16::from_be_bytes([f[0], f[1]]))
            .ok_or(AvpDataError::WrongLength {
                code: self.code,
                expected: 6,
                found: self.data.len(),
            })?;
        let rest = self.data.get(2..).unwrap_or_default();
        let wrong = |expected| AvpDataError::WrongLength {
            code: self.code,
            expected,
            found: self.data.len(),
        };
        match family {
            1 => <[u8; 4]>::try_from(rest)
                .map(|o| IpAddr::V4(Ipv4Addr::from(o)))
                .map_err(|_| wrong(6)),
            2 => <[u8; 16]>::try_from(rest)
                .map(|o| IpAddr::V6(Ipv6Addr::from(o)))
                .map_err(|_| wrong(18)),
            family => Err(AvpDataError::AddressFamily {
                code: self.code,
                family,
            }),
        }
    }

    /// Time view: NTP seconds, values below 2^31 taken as after the 2036 rollover (RFC 4330 §3).
    pub fn as_time(&self) -> Result<SystemTime, AvpDataError> {
        let ntp = u64::from(self.as_unsigned32()?);
        let ntp = if ntp < 0x8000_0000 {
            ntp + (1 << 32)
        } else {
            ntp
        };
        // Values in 1968–1970 (era 0 before the Unix epoch) lie before UNIX_EPOCH.
        Ok(match ntp.checked_sub(NTP_UNIX_OFFSET) {
            Some(after) => SystemTime::UNIX_EPOCH + Duration::from_secs(after),
            None => SystemTime::UNIX_EPOCH - Duration::from_secs(NTP_UNIX_OFFSET - ntp),
        })
    }

    /// Grouped view: the child AVPs (RFC 6733 §4.4).
    pub fn as_grouped(&self) -> Result<Vec<Avp>, DecodeError> {
        decode_avps_shared(&self.data)
    }

    /// Header length: 8, or 12 with a Vendor-ID.
    fn header_len(&self) -> usize {
        if self.vendor_id.is_some() { 12 } else { 8 }
    }

    /// Octets this AVP takes on the wire, padding included.
    pub fn encoded_len(&self) -> usize {
        (self.header_len() + self.data.len()).next_multiple_of(4)
    }

    /// Appends the AVP, padded to a multiple of 4 octets (RFC 6733 §4.1).
    ///
    /// The AVP Length field is 24 bits; data longer than 16 MiB is not representable and is a caller bug.
    pub fn encode(&self, out: &mut BytesMut) {
        let length = self.header_len() + self.data.len();
        let mut flags = 0;
        if self.vendor_id.is_some() {
            flags |= FLAG_VENDOR;
        }
        if self.mandatory {
            flags |= FLAG_MANDATORY;
        }
        if self.protected {
            flags |= FLAG_PROTECTED;
        }
        out.reserve(self.encoded_len());
        out.put_u32(self.code);
        out.put_u32((u32::from(flags) << 24) | (length as u32 & 0x00ff_ffff));
        if let Some(vendor) = self.vendor_id {
            out.put_u32(vendor);
        }
        out.put_slice(&self.data);
        out.put_bytes(0, length.next_multiple_of(4) - length);
    }
}

/// Decodes a sequence of AVPs that must fill `data` exactly (a message body or a Grouped AVP's value).
///
/// The enclosing length is already known, so a short AVP here is malformed, never `Incomplete`.
/// The final AVP may omit its padding (some peers do; RFC 6733 §4.1 says the padding is not counted in the length).
pub fn decode_avps(data: &[u8]) -> Result<Vec<Avp>, DecodeError> {
    decode_avps_shared(&Bytes::copy_from_slice(data))
}

/// As [`decode_avps`], each AVP's data a slice of `data` (no copy).
pub(crate) fn decode_avps_shared(data: &Bytes) -> Result<Vec<Avp>, DecodeError> {
    let mut avps = Vec::with_capacity(8);
    let mut at = 0;
    while at < data.len() {
        let rest = data.get(at..).unwrap_or_default();
        let head = decode_header(rest)?;
        avps.push(Avp {
            code: head.code,
            vendor_id: head.vendor_id,
            mandatory: head.flags & FLAG_MANDATORY != 0,
            protected: head.flags & FLAG_PROTECTED != 0,
            data: data.slice(at + head.value.start..at + head.value.end),
        });
        at += head.consumed;
    }
    Ok(avps)
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
}

/// An AVP header read at the start of a buffer: where its value lies and how far the next AVP is.
struct AvpHeader {
    code: u32,
    flags: u8,
    vendor_id: Option<u32>,
    value: std::ops::Range<usize>,
    consumed: usize,
}

/// Reads one AVP header at the start of `data` and checks that its value fits (padding may be cut short).
fn decode_header(data: &[u8]) -> Result<AvpHeader, DecodeError> {
    let code = be32(data, 0).ok_or(DecodeError::TruncatedAvp { code: None })?;
    let flags_length = be32(data, 4).ok_or(DecodeError::TruncatedAvp { code: Some(code) })?;
    let flags = (flags_length >> 24) as u8;
    let length = (flags_length & 0x00ff_ffff) as usize;
    let (vendor_id, header) = if flags & FLAG_VENDOR != 0 {
        let vendor = be32(data, 8).ok_or(DecodeError::TruncatedAvp { code: Some(code) })?;
        (Some(vendor), 12)
    } else {
        (None, 8)
    };
    if length < header || length > data.len() {
        return Err(DecodeError::InvalidAvpLength { code, length });
    }
    Ok(AvpHeader {
        code,
        flags,
        vendor_id,
        value: header..length,
        consumed: length.next_multiple_of(4).min(data.len()),
    })
}

/// Finds the first AVP with this code and vendor (None for base-protocol AVPs).
pub fn find(avps: &[Avp], code: u32, vendor_id: Option<u32>) -> Option<&Avp> {
    avps.iter()
        .find(|a| a.code == code && a.vendor_id == vendor_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avp_is_padded_to_four_octets_and_length_excludes_padding_rfc6733_4_1() {
        let mut out = BytesMut::new();
        Avp::utf8(264, "abcde").mandatory().encode(&mut out);
        assert_eq!(out.len(), 16);
        assert_eq!(&out[..8], &[0, 0, 1, 8, 0x40, 0, 0, 13]);
        assert_eq!(&out[13..], &[0, 0, 0]);
    }

    #[test]
    fn vendor_avp_carries_vendor_id_after_header_rfc6733_4_1() {
        let mut out = BytesMut::new();
        Avp::unsigned32(703, 17)
            .vendor(10415)
            .mandatory()
            .encode(&mut out);
        assert_eq!(
            &out[..],
            &[0, 0, 2, 0xbf, 0xc0, 0, 0, 16, 0, 0, 0x28, 0xaf, 0, 0, 0, 17]
        );
        let back = decode_avps(&out).unwrap();
        assert_eq!(back[0].vendor_id, Some(10415));
        assert_eq!(back[0].as_unsigned32(), Ok(17));
    }

    #[test]
    fn avp_length_below_header_is_invalid_rfc6733_4_1() {
        let data = [0, 0, 1, 8, 0x40, 0, 0, 4];
        assert_eq!(
            decode_avps(&data),
            Err(DecodeError::InvalidAvpLength {
                code: 264,
                length: 4
            })
        );
    }

    #[test]
    fn avp_length_past_enclosing_data_is_invalid_rfc6733_4_1() {
        let data = [0, 0, 1, 8, 0x40, 0, 0, 40, 1, 2, 3, 4];
        assert!(matches!(
            decode_avps(&data),
            Err(DecodeError::InvalidAvpLength { code: 264, .. })
        ));
    }

    #[test]
    fn address_round_trips_ipv4_and_ipv6_rfc6733_4_3_1() {
        for ip in ["127.0.0.1", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(Avp::address(257, ip).as_address(), Ok(ip));
        }
        let bad = Avp::octets(257, &[0, 9, 1, 2, 3, 4]);
        assert_eq!(
            bad.as_address(),
            Err(AvpDataError::AddressFamily {
                code: 257,
                family: 9
            })
        );
    }

    #[test]
    fn time_round_trips_to_the_second_rfc6733_4_3_1() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(Avp::time(55, t).as_time(), Ok(t));
        let after_rollover = SystemTime::UNIX_EPOCH + Duration::from_secs(2_200_000_000);
        assert_eq!(Avp::time(55, after_rollover).as_time(), Ok(after_rollover));
    }

    #[test]
    fn time_before_the_unix_epoch_does_not_overflow_rfc6733_4_3_1() {
        let t = Avp::unsigned32(55, 0x8000_0000).as_time().unwrap();
        assert!(t < SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn fixed_size_views_reject_wrong_lengths_rfc6733_4_2() {
        let avp = Avp::octets(268, &[0, 0, 7]);
        assert_eq!(
            avp.as_unsigned32(),
            Err(AvpDataError::WrongLength {
                code: 268,
                expected: 4,
                found: 3
            })
        );
        assert_eq!(Avp::unsigned64(1, u64::MAX).as_unsigned64(), Ok(u64::MAX));
        assert_eq!(Avp::integer32(1, -5).as_integer32(), Ok(-5));
    }

    #[test]
    fn grouped_avp_holds_its_children_rfc6733_4_4() {
        let children = [
            Avp::unsigned32(266, 10415).mandatory(),
            Avp::unsigned32(258, 16_777_217).mandatory(),
        ];
        let group = Avp::grouped(260, &children);
        assert_eq!(group.as_grouped().unwrap(), children.to_vec());
    }
}
