//! RFC 2866 §5.1: what an Accounting-Request means to the relay — a session started, was
//! updated or stopped (binding of a framed IP to an MSISDN, DESIGN §6), or a NAS rebooted.

use std::net::{IpAddr, Ipv4Addr};

use crate::{AcctStatusType, AttributeError, Code, Packet};

/// The session attributes of a Start / Interim-Update / Stop (RFC 2866 §5, RFC 2865 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Framed-IP-Address (RFC 2865 §5.8).
    pub ip: Option<Ipv4Addr>,
    /// Framed-IPv6-Prefix (RFC 3162 §2.3).
    pub ipv6_prefix: Option<crate::Ipv6Prefix>,
    /// Calling-Station-Id (RFC 2865 §5.31), the MSISDN.
    pub msisdn: Option<String>,
    /// Acct-Session-Id (RFC 2866 §5.5).
    pub session_id: Option<String>,
    /// User-Name (RFC 2865 §5.1).
    pub user_name: Option<String>,
    /// NAS-IP-Address (RFC 2865 §5.4), else NAS-IPv6-Address (RFC 3162 §2.1), else the
    /// packet's source address.
    pub nas: IpAddr,
    /// NAS-Identifier (RFC 2865 §5.32).
    pub nas_identifier: Option<String>,
}

/// An accounting event (RFC 2866 §5.1 Acct-Status-Type).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountingEvent {
    /// Start (1): bind the session's address to its MSISDN.
    Start(SessionInfo),
    /// Interim-Update (3): refresh the binding.
    Interim(SessionInfo),
    /// Stop (2): remove the binding.
    Stop(SessionInfo),
    /// Accounting-On (7): the NAS restarted; every binding it held is gone.
    AccountingOn {
        /// NAS-IP-Address, else NAS-IPv6-Address, else the source address.
        nas: IpAddr,
        /// NAS-Identifier (RFC 2865 §5.32).
        nas_identifier: Option<String>,
    },
    /// Accounting-Off (8): the NAS is going down; every binding it held is gone.
    AccountingOff {
        /// NAS-IP-Address, else NAS-IPv6-Address, else the source address.
        nas: IpAddr,
        /// NAS-Identifier (RFC 2865 §5.32).
        nas_identifier: Option<String>,
    },
}

/// Why an Accounting-Request carries no event the relay can apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The packet is not an Accounting-Request (code 4).
    #[error("not an Accounting-Request")]
    NotAccountingRequest,
    /// RFC 2866 §5.1: Acct-Status-Type is mandatory.
    #[error("Acct-Status-Type missing")]
    MissingStatusType,
    /// An Acct-Status-Type value the relay does not act on.
    #[error("Acct-Status-Type {0} not handled")]
    UnhandledStatusType(u32),
    /// An attribute with an invalid value.
    #[error(transparent)]
    Attribute(#[from] AttributeError),
}

impl AccountingEvent {
    /// Reads the event of a verified Accounting-Request received from `source`.
    pub fn from_request(packet: &Packet, source: IpAddr) -> Result<Self, EventError> {
        if packet.code != Code::AccountingRequest {
            return Err(EventError::NotAccountingRequest);
        }
        let status = packet
            .acct_status_type()?
            .ok_or(EventError::MissingStatusType)?;
        let nas = match (packet.nas_ip_address()?, packet.nas_ipv6_address()?) {
            (Some(v4), _) => IpAddr::V4(v4),
            (None, Some(v6)) => IpAddr::V6(v6),
            (None, None) => source,
        };
        let nas_identifier = packet.nas_identifier()?.map(str::to_owned);
        let info = || -> Result<SessionInfo, EventError> {
            Ok(SessionInfo {
                ip: packet.framed_ip_address()?,
                ipv6_prefix: packet.framed_ipv6_prefix()?,
                msisdn: packet.calling_station_id()?.map(str::to_owned),
                session_id: packet.acct_session_id()?.map(str::to_owned),
                user_name: packet.user_name()?.map(str::to_owned),
                nas,
                nas_identifier: nas_identifier.clone(),
            })
        };
        Ok(match status {
            AcctStatusType::Start => Self::Start(info()?),
            AcctStatusType::InterimUpdate => Self::Interim(info()?),
            AcctStatusType::Stop => Self::Stop(info()?),
            AcctStatusType::AccountingOn => Self::AccountingOn {
                nas,
                nas_identifier,
            },
            AcctStatusType::AccountingOff => Self::AccountingOff {
                nas,
                nas_identifier,
            },
            other => return Err(EventError::UnhandledStatusType(other.to_u32())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr;

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

    #[test]
    fn start_carries_framed_ip_and_msisdn_rfc2866_s5_1() {
        let p = Packet::new(Code::AccountingRequest, 1)
            .with(attr::ACCT_STATUS_TYPE, 1u32.to_be_bytes().to_vec())
            .with(attr::FRAMED_IP_ADDRESS, vec![10, 0, 0, 7])
            .with(attr::CALLING_STATION_ID, b"491701234567".to_vec())
            .with(attr::ACCT_SESSION_ID, b"abc".to_vec())
            .with(attr::NAS_IP_ADDRESS, vec![192, 0, 2, 9]);
        let ev = AccountingEvent::from_request(&p, SRC).unwrap();
        assert_eq!(
            ev,
            AccountingEvent::Start(SessionInfo {
                ip: Some(Ipv4Addr::new(10, 0, 0, 7)),
                ipv6_prefix: None,
                msisdn: Some("491701234567".into()),
                session_id: Some("abc".into()),
                user_name: None,
                nas: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
                nas_identifier: None,
            })
        );
    }

    #[test]
    fn accounting_on_without_nas_ip_uses_source_rfc2866_s5_1() {
        let p = Packet::new(Code::AccountingRequest, 1)
            .with(attr::ACCT_STATUS_TYPE, 7u32.to_be_bytes().to_vec());
        assert_eq!(
            AccountingEvent::from_request(&p, SRC),
            Ok(AccountingEvent::AccountingOn {
                nas: SRC,
                nas_identifier: None
            })
        );
    }

    #[test]
    fn accounting_off_names_the_nas_by_ipv6_address_and_identifier_rfc2865_s5_32_rfc3162_s2_1() {
        let v6: std::net::Ipv6Addr = "2001:db8::9".parse().unwrap();
        let p = Packet::new(Code::AccountingRequest, 1)
            .with(attr::ACCT_STATUS_TYPE, 8u32.to_be_bytes().to_vec())
            .with(attr::NAS_IPV6_ADDRESS, v6.octets().to_vec())
            .with(attr::NAS_IDENTIFIER, b"pgw-1.example".to_vec());
        assert_eq!(
            AccountingEvent::from_request(&p, SRC),
            Ok(AccountingEvent::AccountingOff {
                nas: IpAddr::V6(v6),
                nas_identifier: Some("pgw-1.example".into())
            })
        );
        let short = Packet::new(Code::AccountingRequest, 1)
            .with(attr::ACCT_STATUS_TYPE, 8u32.to_be_bytes().to_vec())
            .with(attr::NAS_IPV6_ADDRESS, vec![0; 4]);
        assert!(matches!(
            AccountingEvent::from_request(&short, SRC),
            Err(EventError::Attribute(AttributeError::BadLength {
                kind: 95,
                ..
            }))
        ));
    }

    #[test]
    fn missing_status_type_is_refused_rfc2866_s5_1() {
        let p = Packet::new(Code::AccountingRequest, 1);
        assert_eq!(
            AccountingEvent::from_request(&p, SRC),
            Err(EventError::MissingStatusType)
        );
        let r = Packet::new(Code::AccountingResponse, 1);
        assert_eq!(
            AccountingEvent::from_request(&r, SRC),
            Err(EventError::NotAccountingRequest)
        );
        let f = Packet::new(Code::AccountingRequest, 1)
            .with(attr::ACCT_STATUS_TYPE, 15u32.to_be_bytes().to_vec());
        assert_eq!(
            AccountingEvent::from_request(&f, SRC),
            Err(EventError::UnhandledStatusType(15))
        );
    }
}
