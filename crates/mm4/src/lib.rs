//! MM4 (3GPP TS 23.140 §8.4) messages <-> RFC 5322 message and SMTP envelope, and the
//! MM1 <-> MM4 field mapping. Sans-IO: values in, bytes out, and back.
//!
//! * [`Mm4Message`]: the six MM4 messages (`MM4_forward.REQ/.RES`,
//!   `MM4_delivery_report.REQ/.RES`, `MM4_read_reply_report.REQ/.RES`) as typed structs with
//!   the information elements of TS 23.140 §8.4; unknown `X-Mms-*` headers are kept.
//! * [`encode`] writes a message as its [`Envelope`] (MAIL FROM, RCPT TO) and RFC 5322 bytes
//!   (mail-builder); [`decode`] reads it back (mail-parser). [`Mm4Error::request_status`] is the
//!   one place a refusal becomes the X-Mms-Request-Status-Code of the `.RES`.
//! * Addresses are [`Mm4Address`]es, `+49…/TYPE=PLMN@mms.mnc…gprs` and
//!   `sip%3Abob%40b.example/TYPE=SIP@mms.b.example` (DESIGN.md §2), through `mms-address`.
//! * The MM's content is MIME: multipart/related (with `type`/`start`), mixed or alternative;
//!   each part keeps Content-ID, Content-Location, its charset and its exact octets.
//! * [`forward_req_from_send_req`] and [`retrieve_conf_from_forward_req`] map MM1 to MM4 and
//!   back; [`delivery_ind_from_report`], [`read_orig_ind_from_report`] and
//!   [`read_reply_req_from_read_rec_ind`] map the reports; [`RequestStatus`] and [`MmStatus`]
//!   map to the MMS ENC numeric values in one place each.
//!
//! ```
//! use mm4::{decode, encode, Envelope, ForwardParams, Mm4Address, Mm4Message, RequestStatus};
//! use mms_address::Address;
//! use mms_pdu::{ContentType, Body, EncodedString, MediaType, Part, SendReq};
//!
//! // An m-send-req from alice's phone, as relay A accepted it on MM1.
//! let send_req = SendReq {
//!     transaction_id: "T1".into(),
//!     to: vec![EncodedString::plain("sip%3Abob%40b.example/TYPE=SIP")],
//!     subject: Some(EncodedString::utf8("Grüße")),
//!     content_type: ContentType::new(MediaType::MULTIPART_MIXED),
//!     body: Body::Multipart(vec![Part::new(ContentType::new(MediaType::TEXT_PLAIN), "hi".into())]),
//!     ..Default::default()
//! };
//! let bob = Mm4Address::parse("sip%3Abob%40b.example/TYPE=SIP@mms.b.example").unwrap();
//! let alice = Mm4Address::new(Address::parse("+441234567890/TYPE=PLMN").unwrap(), "mms.a.example").unwrap();
//! let params = ForwardParams {
//!     recipient_domains: vec![(bob.address().clone(), bob.domain().to_owned())],
//!     rcpt_to: vec![bob.clone()],
//!     originator_system: Some("system@mms.a.example".into()),
//!     ack_request: true,
//!     ..ForwardParams::new(alice, "mm-1@a.example", "tx-1", 1_700_000_000, "mms.a.example")
//! };
//! let fwd = mm4::forward_req_from_send_req(&send_req, &params).unwrap();
//! let (envelope, bytes) = encode(&Mm4Message::from(fwd.clone()));
//! assert_eq!(envelope.rcpt_to, ["sip%3Abob%40b.example/TYPE=SIP@mms.b.example"]);
//!
//! // Relay B reads it, answers, and serves it to bob's phone as m-retrieve-conf.
//! let msg = decode(&envelope, &bytes).unwrap();
//! assert_eq!(msg, Mm4Message::from(fwd));
//! let res = msg.response(RequestStatus::Ok, "system@mms.b.example", "system@mms.a.example", 1_700_000_001);
//! assert!(res.is_some());
//! let Mm4Message::ForwardReq(req) = msg else { unreachable!() };
//! let conf = mm4::retrieve_conf_from_forward_req(&req, &mm4::RetrieveParams::default());
//! assert_eq!(conf.subject.unwrap().text(), "Grüße");
//! assert_eq!(conf.body.parts()[0].data.as_ref(), b"hi");
//! ```
#![forbid(unsafe_code)]

mod codec;
mod error;
mod mapping;
mod message;
mod mime;
mod status;
mod text;

pub use codec::{decode, encode};
pub use error::Mm4Error;
pub use mapping::{
    ForwardParams, MappingError, ReadReplyParams, RetrieveParams, delivery_ind_from_report,
    delivery_report_req, forward_req_from_send_req, notification_ind_from_forward_req,
    read_orig_ind_from_report, read_reply_req_from_read_rec_ind, retrieve_conf_from_forward_req,
};
pub use message::{
    DEFAULT_3GPP_MMS_VERSION, DeliveryReportReq, Envelope, ForwardReq, Mm4Address, Mm4Message,
    ReadReplyReportReq, Response,
};
pub use status::{MmStatus, RequestStatus};
