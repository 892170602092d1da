//! Typed accessors for the accounting attributes the relay reads: RFC 2865 §5.1 User-Name,
//! §5.4 NAS-IP-Address, §5.8 Framed-IP-Address, §5.31 Calling-Station-Id, §5.32 NAS-Identifier;
//! RFC 2866 §5.1 Acct-Status-Type, §5.5 Acct-Session-Id; RFC 3162 §2.3 Framed-IPv6-Prefix,
//! §2.1 NAS-IPv6-Address.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::Packet;

/// Attribute type numbers (RFC 2865 §5, RFC 2866 §5, RFC 3162 §2).
pub mod attr {
    /// RFC 2865 §5.1 User-Name.
    pub const USER_NAME: u8 = 1;
    /// RFC 2865 §5.4 NAS-IP-Address.
    pub const NAS_IP_ADDRESS: u8 = 4;
    /// RFC 2865 §5.8 Framed-IP-Address.
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    /// RFC 2865 §5.26 Vendor-Specific.
    pub const VENDOR_SPECIFIC: u8 = 26;
    /// RFC 2865 §5.31 Calling-Station-Id (the MSISDN on a GGSN/PGW).
    pub const CALLING_STATION_ID: u8 = 31;
    /// RFC 2865 §5.32 NAS-Identifier.
    pub const NAS_IDENTIFIER: u8 = 32;
    /// RFC 2866 §5.1 Acct-Status-Type.
    pub const ACCT_STATUS_TYPE: u8 = 40;
    /// RFC 2866 §5.5 Acct-Session-Id.
    pub const ACCT_SESSION_ID: u8 = 44;
    /// RFC 3162 §2.1 NAS-IPv6-Address.
    pub const NAS_IPV6_ADDRESS: u8 = 95;
    /// RFC 3162 §2.3 Framed-IPv6-Prefix.
    pub const FRAMED_IPV6_PREFIX: u8 = 97;
}

/// RFC 2866 §5.1: Acct-Status-Type values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcctStatusType {
    /// 1 Start.
    Start,
    /// 2 Stop.
    Stop,
    /// 3 Interim-Update (RFC 2869 §2.1).
    InterimUpdate,
    /// 7 Accounting-On.
    AccountingOn,
    /// 8 Accounting-Off.
    AccountingOff,
    /// Any other value (Failed 15, tunnel values ...).
    Other(u32),
}

impl AcctStatusType {
    /// The value for the 32-bit integer on the wire.
    pub fn from_u32(v: u32) -> Self {
        match v {
            1 => Self::Start,
            2 => Self::Stop,
            3 => Self::InterimUpdate,
            7 => Self::AccountingOn,
            8 => Self::AccountingOff,
            other => Self::Other(other),
        }
    }

    /// The 32-bit integer on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Start => 1,
            Self::Stop => 2,
            Self::InterimUpdate => 3,
            Self::AccountingOn => 7,
            Self::AccountingOff => 8,
            Self::Other(v) => v,
        }
    }
}

/// RFC 3162 §2.3: an IPv6 prefix; decoding keeps the prefix octets sent and zeroes the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Prefix {
    /// The prefix address.
    pub addr: Ipv6Addr,
    /// The prefix length, 0..=128.
    pub len: u8,
}

impl Ipv6Prefix {
    /// RFC 3162 §2.3 value: `Reserved(1) Prefix-Length(1) Prefix(ceil(len/8) .. 16 octets)`.
    pub fn to_value(self) -> Vec<u8> {
        let octets = usize::from(self.len).div_ceil(8);
        let mut v = vec![0, self.len];
        v.extend_from_slice(&self.addr.octets()[..octets.min(16)]);
        v
    }
}

/// An attribute whose value does not fit its type (RFC 2865 §5 "attribute format").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// The value has the wrong length for its type.
    #[error("attribute {kind} has {len} octets, expected {expected}")]
    BadLength {
        /// The attribute type.
        kind: u8,
        /// The length found.
        len: usize,
        /// What the type requires.
        expected: &'static str,
    },
    /// A text attribute is not UTF-8 (RFC 2865 §5: text is UTF-8).
    #[error("attribute {0} is not UTF-8 text")]
    NotText(u8),
}

impl Packet {
    fn fixed<const N: usize>(
        &self,
        kind: u8,
        expected: &'static str,
    ) -> Result<Option<[u8; N]>, AttributeError> {
        match self.attribute(kind) {
            None => Ok(None),
            Some(v) => <[u8; N]>::try_from(v)
                .map(Some)
                .map_err(|_| AttributeError::BadLength {
                    kind,
                    len: v.len(),
                    expected,
                }),
        }
    }

    fn text(&self, kind: u8) -> Result<Option<&str>, AttributeError> {
        self.attribute(kind)
            .map(|v| std::str::from_utf8(v).map_err(|_| AttributeError::NotText(kind)))
            .transpose()
    }

    /// RFC 2866 §5.1 Acct-Status-Type (integer, 4 octets).
    pub fn acct_status_type(&self) -> Result<Option<AcctStatusType>, AttributeError> {
        Ok(self
            .fixed::<4>(attr::ACCT_STATUS_TYPE, "4")?
            .map(|b| AcctStatusType::from_u32(u32::from_be_bytes(b))))
    }

    /// RFC 2865 §5.8 Framed-IP-Address (address, 4 octets).
    pub fn framed_ip_address(&self) -> Result<Option<Ipv4Addr>, AttributeError> {
        Ok(self
            .fixed::<4>(attr::FRAMED_IP_ADDRESS, "4")?
            .map(Ipv4Addr::from))
    }

    /// RFC 2865 §5.4 NAS-IP-Address (address, 4 octets).
    pub fn nas_ip_address(&self) -> Result<Option<Ipv4Addr>, AttributeError> {
        Ok(self
            .fixed::<4>(attr::NAS_IP_ADDRESS, "4")?
            .map(Ipv4Addr::from))
    }

    /// RFC 3162 §2.1 NAS-IPv6-Address (address, 16 octets).
    pub fn nas_ipv6_address(&self) -> Result<Option<Ipv6Addr>, AttributeError> {
        Ok(self
            .fixed::<16>(attr::NAS_IPV6_ADDRESS, "16")?
            .map(Ipv6Addr::from))
    }

    /// RFC 2865 §5.32 NAS-Identifier (string; the RFC recommends a FQDN, read here as UTF-8).
    pub fn nas_identifier(&self) -> Result<Option<&str>, AttributeError> {
        self.text(attr::NAS_IDENTIFIER)
    }

    /// RFC 3162 §2.3 Framed-IPv6-Prefix: Reserved, Prefix-Length (0..=128), then the prefix
    /// octets (at least enough for Prefix-Length, at most 16).
    pub fn framed_ipv6_prefix(&self) -> Result<Option<Ipv6Prefix>, AttributeError> {
        let kind = attr::FRAMED_IPV6_PREFIX;
        let Some(v) = self.attribute(kind) else {
            return Ok(None);
        };
        let bad = AttributeError::BadLength {
            kind,
            len: v.len(),
            expected: "2..=18 covering Prefix-Length",
        };
        let (&len, prefix) = match v {
            [_reserved, len, prefix @ ..] => (len, prefix),
            _ => return Err(bad),
        };
        if len > 128 || prefix.len() > 16 || prefix.len() < usize::from(len).div_ceil(8) {
            return Err(bad);
        }
        let mut octets = [0u8; 16];
        octets[..prefix.len()].copy_from_slice(prefix);
        Ok(Some(Ipv6Prefix {
            addr: Ipv6Addr::from(octets),
            len,
        }))
    }

    /// RFC 2865 §5.31 Calling-Station-Id (text): on a GGSN/PGW the MSISDN (TS 29.061 §16.4.7).
    pub fn calling_station_id(&self) -> Result<Option<&str>, AttributeError> {
        self.text(attr::CALLING_STATION_ID)
    }

    /// RFC 2865 §5.1 User-Name (text).
    pub fn user_name(&self) -> Result<Option<&str>, AttributeError> {
        self.text(attr::USER_NAME)
    }

    /// RFC 2866 §5.5 Acct-Session-Id (text).
    pub fn acct_session_id(&self) -> Result<Option<&str>, AttributeError> {
        self.text(attr::ACCT_SESSION_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn acct_status_type_values_rfc2866_s5_1() {
        for (v, t) in [
            (1, AcctStatusType::Start),
            (2, AcctStatusType::Stop),
            (3, AcctStatusType::InterimUpdate),
            (7, AcctStatusType::AccountingOn),
            (8, AcctStatusType::AccountingOff),
            (15, AcctStatusType::Other(15)),
        ] {
            let p = Packet::new(Code::AccountingRequest, 0).with(40, u32::to_be_bytes(v).to_vec());
            assert_eq!(p.acct_status_type(), Ok(Some(t)));
            assert_eq!(t.to_u32(), v);
        }
    }

    #[test]
    fn acct_status_type_of_three_octets_is_malformed_rfc2866_s5_1() {
        let p = Packet::new(Code::AccountingRequest, 0).with(40, vec![0, 0, 1]);
        assert!(matches!(
            p.acct_status_type(),
            Err(AttributeError::BadLength {
                kind: 40,
                len: 3,
                ..
            })
        ));
    }

    #[test]
    fn framed_ip_and_nas_ip_are_four_octet_addresses_rfc2865_s5_4_s5_8() {
        let p = Packet::new(Code::AccountingRequest, 0)
            .with(8, vec![10, 1, 2, 3])
            .with(4, vec![192, 0, 2, 1]);
        assert_eq!(p.framed_ip_address(), Ok(Some(Ipv4Addr::new(10, 1, 2, 3))));
        assert_eq!(p.nas_ip_address(), Ok(Some(Ipv4Addr::new(192, 0, 2, 1))));
        let q = Packet::new(Code::AccountingRequest, 0).with(8, vec![10, 1, 2]);
        assert!(q.framed_ip_address().is_err());
    }

    #[test]
    fn framed_ipv6_prefix_may_carry_only_the_prefix_octets_rfc3162_s2_3() {
        let p = Packet::new(Code::AccountingRequest, 0)
            .with(97, vec![0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]);
        let want = Ipv6Prefix {
            addr: "2001:db8:1:2::".parse().unwrap(),
            len: 64,
        };
        assert_eq!(p.framed_ipv6_prefix(), Ok(Some(want)));
        assert_eq!(
            want.to_value(),
            vec![0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]
        );
        let short = Packet::new(Code::AccountingRequest, 0).with(97, vec![0, 64, 0x20, 0x01]);
        assert!(short.framed_ipv6_prefix().is_err());
        let too_long = Packet::new(Code::AccountingRequest, 0).with(97, vec![0, 129]);
        assert!(too_long.framed_ipv6_prefix().is_err());
    }

    #[test]
    fn text_attributes_must_be_utf8_rfc2865_s5() {
        let p = Packet::new(Code::AccountingRequest, 0)
            .with(31, b"491701234567".to_vec())
            .with(1, vec![0xff])
            .with(44, b"sess-1".to_vec());
        assert_eq!(p.calling_station_id(), Ok(Some("491701234567")));
        assert_eq!(p.user_name(), Err(AttributeError::NotText(1)));
        assert_eq!(p.acct_session_id(), Ok(Some("sess-1")));
    }
}
