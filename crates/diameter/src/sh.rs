//! The Sh application (3GPP TS 29.328/29.329, application 16777217, vendor 10415): User-Data-Request and
//! User-Data-Answer (command 306, TS 29.329 §6.1.1–§6.1.2), User-Identity (§6.3.1), Data-Reference (§6.3.4),
//! and the Sh-Data XML carried in User-Data (TS 29.328 Annex D), reduced to PublicIdentifiers.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::avp::{self, Avp};
use crate::base::{
    Identity, ParseError, VendorSpecificApplicationId, expect_command, optional_utf8, required_utf8,
};
use crate::codes::*;
use crate::message::Message;
use crate::result::AnswerResult;
use crate::tbcd;

/// User-Identity (TS 29.329 §6.3.1): exactly one of Public-Identity or MSISDN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserIdentity {
    /// Public-Identity 601: a SIP or tel URI (IMPU).
    PublicIdentity(String),
    /// MSISDN 701: E.164 digits without `+`, TBCD on the wire.
    Msisdn(String),
}

impl UserIdentity {
    /// The Grouped AVP 700 (V and M set, vendor 3GPP). MSISDN digits that are not TBCD are an error.
    pub fn to_avp(&self) -> Result<Avp, tbcd::TbcdError> {
        let inner = match self {
            UserIdentity::PublicIdentity(uri) => Avp::utf8(AVP_PUBLIC_IDENTITY, uri),
            UserIdentity::Msisdn(digits) => Avp::octets(AVP_MSISDN, &tbcd::encode(digits)?),
        };
        Ok(
            Avp::grouped(AVP_USER_IDENTITY, &[inner.vendor(VENDOR_3GPP).mandatory()])
                .vendor(VENDOR_3GPP)
                .mandatory(),
        )
    }

    /// Reads the Grouped AVP 700.
    pub fn from_avp(avp: &Avp) -> Result<Self, ParseError> {
        let group = avp.as_grouped()?;
        if let Some(p) = avp::find(&group, AVP_PUBLIC_IDENTITY, Some(VENDOR_3GPP)) {
            return Ok(UserIdentity::PublicIdentity(p.as_utf8()?.to_owned()));
        }
        let m = avp::find(&group, AVP_MSISDN, Some(VENDOR_3GPP))
            .ok_or(ParseError::MissingAvp(AVP_PUBLIC_IDENTITY))?;
        Ok(UserIdentity::Msisdn(
            tbcd::decode(m.as_octets()).map_err(|_| ParseError::InvalidTbcd)?,
        ))
    }
}

/// Data-Reference values (TS 29.329 §6.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataReference {
    /// IMSPublicIdentity (10).
    ImsPublicIdentity,
    /// IMSUserState (11).
    ImsUserState,
    /// MSISDN (17).
    Msisdn,
    /// Any other value.
    Other(u32),
}

impl DataReference {
    /// The Enumerated value.
    pub fn code(self) -> u32 {
        match self {
            DataReference::ImsPublicIdentity => 10,
            DataReference::ImsUserState => 11,
            DataReference::Msisdn => 17,
            DataReference::Other(v) => v,
        }
    }

    /// From the Enumerated value.
    pub fn from_code(code: u32) -> Self {
        match code {
            10 => DataReference::ImsPublicIdentity,
            11 => DataReference::ImsUserState,
            17 => DataReference::Msisdn,
            v => DataReference::Other(v),
        }
    }
}

/// A User-Data-Request (TS 29.329 §6.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDataRequest {
    /// Session-Id (RFC 6733 §8.8).
    pub session_id: String,
    /// Origin-Host/Origin-Realm of the requester (the Application Server).
    pub origin: Identity,
    /// Destination-Host, when a particular HSS is addressed.
    pub destination_host: Option<String>,
    /// Destination-Realm.
    pub destination_realm: String,
    /// Whose data.
    pub user_identity: UserIdentity,
    /// Which data (one or more).
    pub data_references: Vec<DataReference>,
}

impl UserDataRequest {
    /// The message (P flag set; identifiers left 0 for the sender to fill). Fails only on MSISDN digits
    /// that TBCD cannot carry.
    pub fn to_message(&self) -> Result<Message, tbcd::TbcdError> {
        let mut m = Message::request(CMD_USER_DATA, APP_SH, true)
            .with(Avp::utf8(AVP_SESSION_ID, &self.session_id).mandatory())
            .with(VendorSpecificApplicationId::SH.to_avp())
            .with(Avp::unsigned32(AVP_AUTH_SESSION_STATE, NO_STATE_MAINTAINED).mandatory());
        m.avps.extend(self.origin.avps());
        if let Some(host) = &self.destination_host {
            m.avps
                .push(Avp::utf8(AVP_DESTINATION_HOST, host).mandatory());
        }
        m.avps
            .push(Avp::utf8(AVP_DESTINATION_REALM, &self.destination_realm).mandatory());
        m.avps.push(self.user_identity.to_avp()?);
        for r in &self.data_references {
            m.avps.push(
                Avp::unsigned32(AVP_DATA_REFERENCE, r.code())
                    .vendor(VENDOR_3GPP)
                    .mandatory(),
            );
        }
        Ok(m)
    }

    /// Reads a UDR.
    pub fn from_message(message: &Message) -> Result<Self, ParseError> {
        expect_command(message, CMD_USER_DATA, true)?;
        let user_identity = UserIdentity::from_avp(
            message
                .vendor_avp(AVP_USER_IDENTITY, VENDOR_3GPP)
                .ok_or(ParseError::MissingAvp(AVP_USER_IDENTITY))?,
        )?;
        let data_references = message
            .avps
            .iter()
            .filter(|a| a.code == AVP_DATA_REFERENCE && a.vendor_id == Some(VENDOR_3GPP))
            .map(|a| a.as_unsigned32().map(DataReference::from_code))
            .collect::<Result<Vec<_>, _>>()?;
        if data_references.is_empty() {
            return Err(ParseError::MissingAvp(AVP_DATA_REFERENCE));
        }
        Ok(Self {
            session_id: required_utf8(message, AVP_SESSION_ID)?,
            origin: Identity::of(message)?,
            destination_host: optional_utf8(message, AVP_DESTINATION_HOST)?,
            destination_realm: required_utf8(message, AVP_DESTINATION_REALM)?,
            user_identity,
            data_references,
        })
    }
}

/// A User-Data-Answer (TS 29.329 §6.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDataAnswer {
    /// Session-Id, as in the request.
    pub session_id: String,
    /// Origin-Host/Origin-Realm of the HSS.
    pub origin: Identity,
    /// Result-Code or Experimental-Result.
    pub result: AnswerResult,
    /// Sh-Data, present on success.
    pub user_data: Option<ShData>,
}

impl UserDataAnswer {
    /// The answer to `request` (identifiers copied).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut m = request
            .answer_to()
            .with(Avp::utf8(AVP_SESSION_ID, &self.session_id).mandatory())
            .with(VendorSpecificApplicationId::SH.to_avp())
            .with(self.result.to_avp())
            .with(Avp::unsigned32(AVP_AUTH_SESSION_STATE, NO_STATE_MAINTAINED).mandatory());
        m.avps.extend(self.origin.avps());
        if let Some(data) = &self.user_data {
            m.avps.push(
                Avp::octets(AVP_USER_DATA, data.to_xml().as_bytes())
                    .vendor(VENDOR_3GPP)
                    .mandatory(),
            );
        }
        m
    }

    /// Reads a UDA, parsing the Sh-Data XML when present.
    pub fn from_message(message: &Message) -> Result<Self, ParseError> {
        expect_command(message, CMD_USER_DATA, false)?;
        let result = AnswerResult::of(message).ok_or(ParseError::MissingAvp(AVP_RESULT_CODE))?;
        let user_data = message
            .vendor_avp(AVP_USER_DATA, VENDOR_3GPP)
            .map(|a| ShData::parse(a.as_octets()))
            .transpose()?;
        Ok(Self {
            session_id: required_utf8(message, AVP_SESSION_ID)?,
            origin: Identity::of(message)?,
            result,
            user_data,
        })
    }
}

/// The part of Sh-Data (TS 29.328 Annex D, `tShData`/`tPublicIdentity`) this relay reads:
/// `<Sh-Data><PublicIdentifiers><IMSPublicIdentity>…</IMSPublicIdentity><MSISDN>…</MSISDN></PublicIdentifiers></Sh-Data>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShData {
    /// IMSPublicIdentity elements, in document order.
    pub public_identities: Vec<String>,
    /// MSISDN elements (digits), in document order.
    pub msisdns: Vec<String>,
}

impl ShData {
    /// Renders the XML document.
    pub fn to_xml(&self) -> String {
        use quick_xml::escape::escape;
        let mut xml =
            String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Sh-Data><PublicIdentifiers>");
        for p in &self.public_identities {
            xml.push_str("<IMSPublicIdentity>");
            xml.push_str(&escape(p.as_str()));
            xml.push_str("</IMSPublicIdentity>");
        }
        for m in &self.msisdns {
            xml.push_str("<MSISDN>");
            xml.push_str(&escape(m.as_str()));
            xml.push_str("</MSISDN>");
        }
        xml.push_str("</PublicIdentifiers></Sh-Data>");
        xml
    }

    /// Parses Sh-Data, ignoring elements outside `Sh-Data/PublicIdentifiers/{IMSPublicIdentity,MSISDN}`
    /// and namespace prefixes.
    pub fn parse(xml: &[u8]) -> Result<Self, ParseError> {
        let bad = |e: &dyn std::fmt::Display| ParseError::InvalidShData(e.to_string());
        let mut reader = Reader::from_reader(xml);
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut text = String::new();
        let mut out = ShData::default();
        let mut saw_root = false;
        loop {
            match reader.read_event().map_err(|e| bad(&e))? {
                Event::Start(e) => {
                    if path.is_empty() {
                        if e.local_name().as_ref() != b"Sh-Data" {
                            return Err(ParseError::InvalidShData("root is not Sh-Data".into()));
                        }
                        saw_root = true;
                    }
                    path.push(e.local_name().as_ref().to_vec());
                    text.clear();
                }
                Event::End(_) => {
                    let leaf = matches!(
                        path.as_slice(),
                        [root, p, _] if root == b"Sh-Data" && p == b"PublicIdentifiers"
                    );
                    if leaf {
                        match path.last().map(Vec::as_slice) {
                            Some(b"IMSPublicIdentity") => {
                                out.public_identities.push(text.trim().to_owned())
                            }
                            Some(b"MSISDN") => out.msisdns.push(text.trim().to_owned()),
                            _ => {}
                        }
                    }
                    path.pop();
                    text.clear();
                }
                Event::Empty(e) if path.is_empty() => {
                    if e.local_name().as_ref() != b"Sh-Data" {
                        return Err(ParseError::InvalidShData("root is not Sh-Data".into()));
                    }
                    saw_root = true;
                }
                Event::Text(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
                Event::CData(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
                Event::GeneralRef(r) => {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
                        text.push(c);
                    } else {
                        let name = r.decode().map_err(|e| bad(&e))?;
                        let value = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| bad(&format!("unknown entity &{name};")))?;
                        text.push_str(value);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !saw_root || !path.is_empty() {
            return Err(ParseError::InvalidShData(
                "no complete Sh-Data element".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udr(identity: UserIdentity, reference: DataReference) -> UserDataRequest {
        UserDataRequest {
            session_id: "relay.example;1;2".into(),
            origin: Identity {
                host: "relay.example".into(),
                realm: "example".into(),
            },
            destination_host: None,
            destination_realm: "hss.example".into(),
            user_identity: identity,
            data_references: vec![reference],
        }
    }

    #[test]
    fn udr_by_public_identity_for_msisdn_round_trips_ts29329_6_1_1() {
        let req = udr(
            UserIdentity::PublicIdentity("sip:bob@b.example".into()),
            DataReference::Msisdn,
        );
        let m = req.to_message().unwrap();
        assert!(m.flags.request && m.flags.proxiable);
        assert_eq!((m.command_code, m.application_id), (306, 16_777_217));
        let (decoded, _) = Message::decode(&m.to_bytes()).unwrap();
        assert_eq!(UserDataRequest::from_message(&decoded).unwrap(), req);
    }

    #[test]
    fn udr_by_msisdn_carries_tbcd_ts29329_6_3_2() {
        let req = udr(
            UserIdentity::Msisdn("4917612345678".into()),
            DataReference::ImsPublicIdentity,
        );
        let m = req.to_message().unwrap();
        let ui = m.vendor_avp(AVP_USER_IDENTITY, VENDOR_3GPP).unwrap();
        let inner = ui.as_grouped().unwrap();
        assert_eq!(
            inner[0].as_octets(),
            &[0x94, 0x71, 0x16, 0x32, 0x54, 0x76, 0xf8]
        );
        assert_eq!(UserDataRequest::from_message(&m).unwrap(), req);
    }

    #[test]
    fn udr_without_data_reference_is_missing_avp_5005() {
        let mut req = udr(
            UserIdentity::PublicIdentity("sip:a@b".into()),
            DataReference::Msisdn,
        );
        req.data_references.clear();
        let err = UserDataRequest::from_message(&req.to_message().unwrap()).unwrap_err();
        assert_eq!(err, ParseError::MissingAvp(AVP_DATA_REFERENCE));
        assert_eq!(err.result_code(), 5005);
    }

    #[test]
    fn uda_with_sh_data_round_trips_ts29329_6_1_2() {
        let request = udr(
            UserIdentity::PublicIdentity("sip:bob@b.example".into()),
            DataReference::Msisdn,
        )
        .to_message()
        .unwrap();
        let answer = UserDataAnswer {
            session_id: "relay.example;1;2".into(),
            origin: Identity {
                host: "hss.example".into(),
                realm: "hss.example".into(),
            },
            result: AnswerResult::ResultCode(2001),
            user_data: Some(ShData {
                public_identities: vec![],
                msisdns: vec!["4917612345678".into()],
            }),
        };
        let m = answer.to_message(&request);
        assert!(!m.flags.request);
        assert_eq!(UserDataAnswer::from_message(&m).unwrap(), answer);
    }

    #[test]
    fn sh_data_parses_namespaced_document_with_other_elements_ts29328_annex_d() {
        let xml = br#"<?xml version="1.0"?>
            <sh:Sh-Data xmlns:sh="urn:x">
              <sh:RepositoryData><ServiceIndication>x</ServiceIndication></sh:RepositoryData>
              <sh:PublicIdentifiers>
                <sh:IMSPublicIdentity>sip:a&amp;b@x</sh:IMSPublicIdentity>
                <sh:IMSPublicIdentity><![CDATA[tel:+4917612345678]]></sh:IMSPublicIdentity>
                <sh:MSISDN> 4917612345678 </sh:MSISDN>
              </sh:PublicIdentifiers>
            </sh:Sh-Data>"#;
        let d = ShData::parse(xml).unwrap();
        assert_eq!(
            d.public_identities,
            vec!["sip:a&b@x".to_string(), "tel:+4917612345678".into()]
        );
        assert_eq!(d.msisdns, vec!["4917612345678".to_string()]);
    }

    #[test]
    fn sh_data_rejects_other_roots_and_unclosed_documents() {
        assert!(ShData::parse(b"<Other/>").is_err());
        assert!(ShData::parse(b"<Sh-Data><PublicIdentifiers>").is_err());
        assert!(ShData::parse(b"").is_err());
        assert_eq!(ShData::parse(b"<Sh-Data/>").unwrap(), ShData::default());
    }

    #[test]
    fn sh_data_escapes_on_output() {
        let d = ShData {
            public_identities: vec!["sip:<a>&b@x".into()],
            msisdns: vec![],
        };
        assert_eq!(ShData::parse(d.to_xml().as_bytes()).unwrap(), d);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn udr_round_trips_ts29329_6_1_1(
                session in "[a-z.;0-9]{1,30}",
                uri in "sip:[a-z0-9]{1,12}@[a-z.]{1,12}",
                digits in "[0-9]{1,15}",
                by_msisdn in any::<bool>(),
                host in proptest::option::of("[a-z.]{1,20}"),
                refs in proptest::collection::vec(prop_oneof![Just(10u32), Just(11), Just(17), any::<u32>()], 1..4),
            ) {
                let req = UserDataRequest {
                    session_id: session,
                    origin: Identity { host: "o.example".into(), realm: "example".into() },
                    destination_host: host,
                    destination_realm: "r.example".into(),
                    user_identity: if by_msisdn { UserIdentity::Msisdn(digits) } else { UserIdentity::PublicIdentity(uri) },
                    data_references: refs.into_iter().map(DataReference::from_code).collect(),
                };
                let bytes = req.to_message().unwrap().to_bytes();
                let (m, _) = Message::decode(&bytes).unwrap();
                prop_assert_eq!(UserDataRequest::from_message(&m), Ok(req));
            }

            #[test]
            fn sh_data_round_trips_ts29328_annex_d(
                ids in proptest::collection::vec("[ -~]{0,20}", 0..4),
                msisdns in proptest::collection::vec("[0-9]{1,15}", 0..3),
            ) {
                let d = ShData {
                    public_identities: ids.into_iter().map(|s| s.trim().to_owned()).collect(),
                    msisdns,
                };
                prop_assert_eq!(ShData::parse(d.to_xml().as_bytes()), Ok(d));
            }
        }
    }
}
