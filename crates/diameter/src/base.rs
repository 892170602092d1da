//! RFC 6733 base-protocol messages between peers: Capabilities-Exchange (§5.3), Device-Watchdog (§5.5) and
//! Disconnect-Peer (§5.4), built from and read into plain structs.

use std::net::IpAddr;

use crate::avp::{self, Avp, AvpDataError};
use crate::codes::*;
use crate::message::{DecodeError, Message};
use crate::result::AnswerResult;

/// A received message lacks something the command requires (RFC 6733 §7.1.5); each variant has one Result-Code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The message is not the command (or direction) expected.
    #[error("unexpected command {code} (request: {request})")]
    UnexpectedCommand {
        /// Command-Code found.
        code: u32,
        /// R flag found.
        request: bool,
    },
    /// A required AVP is absent.
    #[error("missing AVP {0}")]
    MissingAvp(u32),
    /// An AVP's data does not fit its type.
    #[error(transparent)]
    InvalidAvp(#[from] AvpDataError),
    /// A Grouped AVP's content is malformed.
    #[error(transparent)]
    MalformedGroup(#[from] DecodeError),
    /// User-Data is not Sh-Data XML as TS 29.328 Annex D describes.
    #[error("invalid Sh-Data: {0}")]
    InvalidShData(String),
    /// MSISDN is not valid TBCD.
    #[error("invalid TBCD in MSISDN")]
    InvalidTbcd,
}

impl ParseError {
    /// The Result-Code to answer a request that failed to parse with (RFC 6733 §7.1.5).
    pub fn result_code(&self) -> u32 {
        match self {
            ParseError::UnexpectedCommand { .. } => DIAMETER_UNABLE_TO_COMPLY,
            ParseError::MissingAvp(_) => DIAMETER_MISSING_AVP,
            ParseError::InvalidAvp(_) | ParseError::InvalidTbcd | ParseError::InvalidShData(_) => {
                5004
            }
            ParseError::MalformedGroup(e) => e.result_code(),
        }
    }
}

/// Checks command code and R flag.
pub(crate) fn expect_command(
    message: &Message,
    code: u32,
    request: bool,
) -> Result<(), ParseError> {
    if message.command_code == code && message.flags.request == request {
        Ok(())
    } else {
        Err(ParseError::UnexpectedCommand {
            code: message.command_code,
            request: message.flags.request,
        })
    }
}

/// A required base AVP as UTF-8.
pub(crate) fn required_utf8(message: &Message, code: u32) -> Result<String, ParseError> {
    Ok(message
        .avp(code)
        .ok_or(ParseError::MissingAvp(code))?
        .as_utf8()?
        .to_owned())
}

/// An optional base AVP as UTF-8.
pub(crate) fn optional_utf8(message: &Message, code: u32) -> Result<Option<String>, ParseError> {
    message
        .avp(code)
        .map(|a| a.as_utf8().map(str::to_owned))
        .transpose()
        .map_err(Into::into)
}

/// Origin-Host and Origin-Realm of a node (RFC 6733 §6.3–§6.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Origin-Host (DiameterIdentity, FQDN).
    pub host: String,
    /// Origin-Realm.
    pub realm: String,
}

impl Identity {
    /// The two AVPs, M flag set.
    pub fn avps(&self) -> [Avp; 2] {
        [
            Avp::utf8(AVP_ORIGIN_HOST, &self.host).mandatory(),
            Avp::utf8(AVP_ORIGIN_REALM, &self.realm).mandatory(),
        ]
    }

    /// Reads Origin-Host and Origin-Realm.
    pub fn of(message: &Message) -> Result<Self, ParseError> {
        Ok(Identity {
            host: required_utf8(message, AVP_ORIGIN_HOST)?,
            realm: required_utf8(message, AVP_ORIGIN_REALM)?,
        })
    }
}

/// Vendor-Specific-Application-Id {Vendor-Id, Auth-Application-Id} (RFC 6733 §6.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VendorSpecificApplicationId {
    /// Vendor-Id.
    pub vendor_id: u32,
    /// Auth-Application-Id.
    pub auth_application_id: u32,
}

impl VendorSpecificApplicationId {
    /// Sh: vendor 10415, application 16777217 (TS 29.329 §6.1).
    pub const SH: Self = Self {
        vendor_id: VENDOR_3GPP,
        auth_application_id: APP_SH,
    };

    /// The Grouped AVP 260.
    pub fn to_avp(self) -> Avp {
        Avp::grouped(
            AVP_VENDOR_SPECIFIC_APPLICATION_ID,
            &[
                Avp::unsigned32(AVP_VENDOR_ID, self.vendor_id).mandatory(),
                Avp::unsigned32(AVP_AUTH_APPLICATION_ID, self.auth_application_id).mandatory(),
            ],
        )
        .mandatory()
    }

    /// Reads the Grouped AVP 260; `None` when it names no Auth-Application-Id (e.g. accounting only).
    pub fn from_avp(avp: &Avp) -> Result<Option<Self>, ParseError> {
        let group = avp.as_grouped()?;
        let vendor_id = avp::find(&group, AVP_VENDOR_ID, None)
            .ok_or(ParseError::MissingAvp(AVP_VENDOR_ID))?
            .as_unsigned32()?;
        let Some(app) = avp::find(&group, AVP_AUTH_APPLICATION_ID, None) else {
            return Ok(None);
        };
        Ok(Some(Self {
            vendor_id,
            auth_application_id: app.as_unsigned32()?,
        }))
    }
}

/// The content of a CER or CEA (RFC 6733 §5.3.1–§5.3.2); `result` is set only in an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilitiesExchange {
    /// Origin-Host/Origin-Realm.
    pub identity: Identity,
    /// Host-IP-Address (at least one).
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id of the implementation.
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: String,
    /// Origin-State-Id, if advertised.
    pub origin_state_id: Option<u32>,
    /// Supported-Vendor-Id values.
    pub supported_vendor_ids: Vec<u32>,
    /// Plain Auth-Application-Id values.
    pub auth_application_ids: Vec<u32>,
    /// Vendor-Specific-Application-Id values.
    pub vendor_specific_application_ids: Vec<VendorSpecificApplicationId>,
    /// Result-Code of a CEA.
    pub result_code: Option<u32>,
}

impl CapabilitiesExchange {
    /// A client of Sh: advertises 3GPP as supported vendor and Sh as vendor-specific application.
    pub fn sh_client(identity: Identity, host_ip: IpAddr, product_name: &str) -> Self {
        Self {
            identity,
            host_ip_addresses: vec![host_ip],
            vendor_id: 0,
            product_name: product_name.to_owned(),
            origin_state_id: None,
            supported_vendor_ids: vec![VENDOR_3GPP],
            auth_application_ids: Vec::new(),
            vendor_specific_application_ids: vec![VendorSpecificApplicationId::SH],
            result_code: None,
        }
    }

    /// True when the peer advertises `application_id` (plainly, vendor-specifically, or relay 0xffffffff).
    pub fn supports_application(&self, application_id: u32) -> bool {
        self.auth_application_ids
            .iter()
            .chain(
                self.vendor_specific_application_ids
                    .iter()
                    .map(|v| &v.auth_application_id),
            )
            .any(|&a| a == application_id || a == 0xffff_ffff)
    }

    fn fill(&self, mut m: Message) -> Message {
        if let Some(code) = self.result_code {
            m.avps.push(AnswerResult::ResultCode(code).to_avp());
        }
        m.avps.extend(self.identity.avps());
        for ip in &self.host_ip_addresses {
            m.avps
                .push(Avp::address(AVP_HOST_IP_ADDRESS, *ip).mandatory());
        }
        m.avps
            .push(Avp::unsigned32(AVP_VENDOR_ID, self.vendor_id).mandatory());
        m.avps.push(Avp::utf8(AVP_PRODUCT_NAME, &self.product_name));
        if let Some(state) = self.origin_state_id {
            m.avps
                .push(Avp::unsigned32(AVP_ORIGIN_STATE_ID, state).mandatory());
        }
        for v in &self.supported_vendor_ids {
            m.avps
                .push(Avp::unsigned32(AVP_SUPPORTED_VENDOR_ID, *v).mandatory());
        }
        for a in &self.auth_application_ids {
            m.avps
                .push(Avp::unsigned32(AVP_AUTH_APPLICATION_ID, *a).mandatory());
        }
        for v in &self.vendor_specific_application_ids {
            m.avps.push(v.to_avp());
        }
        m
    }

    /// The CER (RFC 6733 §5.3.1); identifiers are set by the sender.
    pub fn to_request(&self) -> Message {
        self.fill(Message::request(CMD_CAPABILITIES_EXCHANGE, APP_BASE, false))
    }

    /// The CEA answering `request` (RFC 6733 §5.3.2); `self.result_code` should be set.
    pub fn to_answer(&self, request: &Message) -> Message {
        self.fill(request.answer_to())
    }

    /// Reads a CER or CEA.
    pub fn from_message(message: &Message) -> Result<Self, ParseError> {
        if message.command_code != CMD_CAPABILITIES_EXCHANGE {
            return Err(ParseError::UnexpectedCommand {
                code: message.command_code,
                request: message.flags.request,
            });
        }
        let result_code = if message.flags.request {
            None
        } else {
            Some(
                message
                    .avp(AVP_RESULT_CODE)
                    .ok_or(ParseError::MissingAvp(AVP_RESULT_CODE))?
                    .as_unsigned32()?,
            )
        };
        let mut out = Self {
            identity: Identity::of(message)?,
            host_ip_addresses: Vec::new(),
            vendor_id: 0,
            product_name: String::new(),
            origin_state_id: None,
            supported_vendor_ids: Vec::new(),
            auth_application_ids: Vec::new(),
            vendor_specific_application_ids: Vec::new(),
            result_code,
        };
        // A CEA with an error (E flag) may omit most capabilities; read what is there.
        for a in message.avps.iter().filter(|a| a.vendor_id.is_none()) {
            match a.code {
                AVP_HOST_IP_ADDRESS => out.host_ip_addresses.push(a.as_address()?),
                AVP_VENDOR_ID => out.vendor_id = a.as_unsigned32()?,
                AVP_PRODUCT_NAME => out.product_name = a.as_utf8()?.to_owned(),
                AVP_ORIGIN_STATE_ID => out.origin_state_id = Some(a.as_unsigned32()?),
                AVP_SUPPORTED_VENDOR_ID => out.supported_vendor_ids.push(a.as_unsigned32()?),
                AVP_AUTH_APPLICATION_ID => out.auth_application_ids.push(a.as_unsigned32()?),
                AVP_VENDOR_SPECIFIC_APPLICATION_ID => {
                    if let Some(v) = VendorSpecificApplicationId::from_avp(a)? {
                        out.vendor_specific_application_ids.push(v);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// A Device-Watchdog-Request (RFC 6733 §5.5.1).
pub fn watchdog_request(identity: &Identity) -> Message {
    let mut m = Message::request(CMD_DEVICE_WATCHDOG, APP_BASE, false);
    m.avps.extend(identity.avps());
    m
}

/// A Device-Watchdog-Answer with DIAMETER_SUCCESS (RFC 6733 §5.5.2).
pub fn watchdog_answer(request: &Message, identity: &Identity) -> Message {
    let mut m = request
        .answer_to()
        .with(AnswerResult::ResultCode(DIAMETER_SUCCESS).to_avp());
    m.avps.extend(identity.avps());
    m
}

/// Disconnect-Cause values (RFC 6733 §5.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// REBOOTING (0).
    Rebooting,
    /// BUSY (1).
    Busy,
    /// DO_NOT_WANT_TO_TALK_TO_YOU (2).
    DoNotWantToTalkToYou,
}

impl DisconnectCause {
    fn code(self) -> u32 {
        match self {
            DisconnectCause::Rebooting => 0,
            DisconnectCause::Busy => 1,
            DisconnectCause::DoNotWantToTalkToYou => 2,
        }
    }
}

/// A Disconnect-Peer-Request (RFC 6733 §5.4.1).
pub fn disconnect_request(identity: &Identity, cause: DisconnectCause) -> Message {
    let mut m = Message::request(CMD_DISCONNECT_PEER, APP_BASE, false);
    m.avps.extend(identity.avps());
    m.avps
        .push(Avp::unsigned32(AVP_DISCONNECT_CAUSE, cause.code()).mandatory());
    m
}

/// A Disconnect-Peer-Answer with DIAMETER_SUCCESS (RFC 6733 §5.4.2).
pub fn disconnect_answer(request: &Message, identity: &Identity) -> Message {
    let mut m = request
        .answer_to()
        .with(AnswerResult::ResultCode(DIAMETER_SUCCESS).to_avp());
    m.avps.extend(identity.avps());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(host: &str) -> Identity {
        Identity {
            host: host.into(),
            realm: "example".into(),
        }
    }

    #[test]
    fn cer_round_trips_and_advertises_sh_rfc6733_5_3_1() {
        let cer = CapabilitiesExchange::sh_client(
            ident("relay.example"),
            "127.0.0.1".parse().unwrap(),
            "mmsrelay",
        );
        let message = cer.to_request();
        assert!(message.flags.request && !message.flags.proxiable);
        let bytes = message.to_bytes();
        let (decoded, _) = Message::decode(&bytes).unwrap();
        let back = CapabilitiesExchange::from_message(&decoded).unwrap();
        assert_eq!(back, cer);
        assert!(back.supports_application(APP_SH));
        assert!(!back.supports_application(4));
    }

    #[test]
    fn cea_requires_result_code_rfc6733_5_3_2() {
        let cer = CapabilitiesExchange::sh_client(ident("a"), "127.0.0.1".parse().unwrap(), "x");
        let mut answer = cer.to_request();
        answer.flags.request = false;
        assert_eq!(
            CapabilitiesExchange::from_message(&answer),
            Err(ParseError::MissingAvp(AVP_RESULT_CODE))
        );
    }

    #[test]
    fn watchdog_and_disconnect_answers_echo_identifiers_rfc6733_5_4_5_5() {
        let mut dwr = watchdog_request(&ident("a"));
        dwr.hop_by_hop = 7;
        dwr.end_to_end = 9;
        let dwa = watchdog_answer(&dwr, &ident("b"));
        assert_eq!((dwa.hop_by_hop, dwa.end_to_end), (7, 9));
        assert_eq!(crate::result::check_answer(&dwa), Ok(()));
        let dpr = disconnect_request(&ident("a"), DisconnectCause::Rebooting);
        assert_eq!(
            dpr.avp(AVP_DISCONNECT_CAUSE).unwrap().as_unsigned32(),
            Ok(0)
        );
        let dpa = disconnect_answer(&dpr, &ident("b"));
        assert_eq!(Identity::of(&dpa), Ok(ident("b")));
    }
}
