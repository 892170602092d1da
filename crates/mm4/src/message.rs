//! The six MM4 messages of TS 23.140 §8.4 as typed values, and the MM4 address.

use crate::{MmStatus, RequestStatus};
use mms_address::{Address, Mm4AddressError};
use mms_pdu::{
    Body, ContentClass, ContentType, EncodedString, MessageClass, PreviouslySentBy,
    PreviouslySentDate, Priority, ReadStatus, SenderVisibility, TimeSpec,
};
use std::fmt;

/// The X-Mms-3GPP-MMS-Version this crate writes by default (TS 23.140 V6.16.0, Release 6).
pub const DEFAULT_3GPP_MMS_VERSION: &str = "6.16.0";

/// An address on MM4: `<local>@<MMSE domain>` (TS 23.140 §8.4.1, DESIGN.md §2), e.g.
/// `+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs` or
/// `sip%3Abob%40b.example/TYPE=SIP@mms.b.example`. An e-mail mailbox is its own MM4 address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mm4Address {
    text: String,
    address: Address,
    domain: String,
}

impl Mm4Address {
    /// `address` at the MMSE domain `mmse_domain` (ignored for an e-mail mailbox, whose own
    /// domain is its MMSE domain).
    pub fn new(address: Address, mmse_domain: &str) -> Result<Self, Mm4AddressError> {
        Self::parse(&address.to_mm4(mmse_domain)?)
    }

    /// Parses the MM4 form (an optional `<…>` is accepted); the exact inverse of `Display`.
    /// An address whose canonical form would be longer than
    /// [`mms_address::MAX_ADDRESS_LEN`] is refused, so every `Mm4Address` parses back.
    pub fn parse(s: &str) -> Result<Self, Mm4AddressError> {
        let (address, domain) = Address::from_mm4(s)?;
        let text = address.to_mm4(&domain)?;
        if text.len() > mms_address::MAX_ADDRESS_LEN {
            return Err(Mm4AddressError::LocalPart(
                mms_address::AddressError::TooLong,
            ));
        }
        Ok(Mm4Address {
            text,
            address,
            domain,
        })
    }

    /// The address in its internal form.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The MMSE domain (lower case).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The MM4 form, as written in headers and the SMTP envelope.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Mm4Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Mm4Address {
    type Err = Mm4AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The SMTP envelope (RFC 5321 §3.3) an MM4 message travels in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Envelope {
    /// MAIL FROM reverse-path (without `<>`).
    pub mail_from: String,
    /// RCPT TO forward-paths (without `<>`), one per recipient.
    pub rcpt_to: Vec<String>,
}

/// `MM4_forward.REQ` (TS 23.140 §8.4.1.1, Table 8.4.1.1): an MM from the originator relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardReq {
    /// X-Mms-3GPP-MMS-Version.
    pub version: String,
    /// X-Mms-Transaction-ID: pairs the `.RES` with this request.
    pub transaction_id: String,
    /// X-Mms-Message-ID: the MM's identity, kept end to end.
    pub message_id: String,
    /// RFC 5322 Message-ID (without `<>`); `None` writes one derived from the transaction.
    pub rfc5322_message_id: Option<String>,
    /// From: the originator of the MM.
    pub from: Mm4Address,
    /// RFC 5322 Sender: the originator relay's system address, if written.
    pub sender: Option<String>,
    /// To.
    pub to: Vec<Mm4Address>,
    /// Cc.
    pub cc: Vec<Mm4Address>,
    /// The SMTP RCPT TO recipients this copy is for; Bcc recipients appear only here.
    pub rcpt_to: Vec<Mm4Address>,
    /// Date (seconds since the epoch).
    pub date: u64,
    /// X-Mms-Message-Class.
    pub message_class: Option<MessageClass>,
    /// X-Mms-Expiry: an RFC 5322 date (absolute) or delta seconds (relative).
    pub expiry: Option<TimeSpec>,
    /// X-Mms-Delivery-Report.
    pub delivery_report: Option<bool>,
    /// X-Mms-Originator-R/S-Delivery-Report.
    pub originator_rs_delivery_report: Option<bool>,
    /// X-Mms-Priority.
    pub priority: Option<Priority>,
    /// X-Mms-Sender-Visibility.
    pub sender_visibility: Option<SenderVisibility>,
    /// X-Mms-Read-Reply.
    pub read_reply: Option<bool>,
    /// Subject, with its charset (RFC 2047 encoded words on the wire).
    pub subject: Option<EncodedString>,
    /// X-Mms-Ack-Request: the originator wants an `MM4_forward.RES`.
    pub ack_request: Option<bool>,
    /// X-Mms-Forward-Counter.
    pub forward_counter: Option<u64>,
    /// X-Mms-Previously-sent-by, one per earlier hop (`<counter>, <address>` on the wire).
    pub previously_sent_by: Vec<PreviouslySentBy>,
    /// X-Mms-Previously-sent-date-and-time, one per earlier hop (`<counter>, <RFC 5322 date>`).
    pub previously_sent_date: Vec<PreviouslySentDate>,
    /// X-Mms-Originator-System: where `.RES` and reports go.
    pub originator_system: Option<String>,
    /// X-Mms-Applic-ID.
    pub applic_id: Option<String>,
    /// X-Mms-Reply-Applic-ID.
    pub reply_applic_id: Option<String>,
    /// X-Mms-Aux-Applic-Info.
    pub aux_applic_info: Option<String>,
    /// X-Mms-Content-Class.
    pub content_class: Option<ContentClass>,
    /// X-Mms-DRM-Content.
    pub drm_content: Option<bool>,
    /// X-Mms-Adaptation-Allowed.
    pub adaptation_allowed: Option<bool>,
    /// Other X-Mms-* headers, kept in order (name, unfolded value).
    pub extra: Vec<(String, String)>,
    /// Content-Type of the MM (MMS ENC form; `multipart/related` is WSP multipart.related).
    pub content_type: ContentType,
    /// The MM's content: the parts of a multipart, else the single body.
    pub body: Body,
}

/// `MM4_delivery_report.REQ` (TS 23.140 §8.4.2.1): the recipient relay reports what became of
/// the MM at one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReportReq {
    /// X-Mms-3GPP-MMS-Version.
    pub version: String,
    /// X-Mms-Transaction-ID.
    pub transaction_id: String,
    /// X-Mms-Message-ID of the reported MM.
    pub message_id: String,
    /// RFC 5322 Message-ID (without `<>`); `None` writes one derived from the transaction.
    pub rfc5322_message_id: Option<String>,
    /// From: the recipient of the original MM.
    pub from: Mm4Address,
    /// To: the originator of the original MM.
    pub to: Mm4Address,
    /// RFC 5322 Sender: the reporting relay's system address, if written.
    pub sender: Option<String>,
    /// Date (seconds since the epoch) of the event reported.
    pub date: u64,
    /// X-Mms-Ack-Request.
    pub ack_request: Option<bool>,
    /// X-Mms-MM-Status-Code.
    pub mm_status: MmStatus,
    /// X-Mms-Status-Text.
    pub status_text: Option<EncodedString>,
    /// X-Mms-Applic-ID.
    pub applic_id: Option<String>,
    /// X-Mms-Reply-Applic-ID.
    pub reply_applic_id: Option<String>,
    /// X-Mms-Aux-Applic-Info.
    pub aux_applic_info: Option<String>,
    /// Other X-Mms-* headers.
    pub extra: Vec<(String, String)>,
}

/// `MM4_read_reply_report.REQ` (TS 23.140 §8.4.3.1): the recipient read (or deleted) the MM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReplyReportReq {
    /// X-Mms-3GPP-MMS-Version.
    pub version: String,
    /// X-Mms-Transaction-ID.
    pub transaction_id: String,
    /// X-Mms-Message-ID of the MM read.
    pub message_id: String,
    /// RFC 5322 Message-ID (without `<>`); `None` writes one derived from the transaction.
    pub rfc5322_message_id: Option<String>,
    /// From: the recipient (reader) of the original MM.
    pub from: Mm4Address,
    /// To: the originator of the original MM.
    pub to: Mm4Address,
    /// RFC 5322 Sender: the reporting relay's system address, if written.
    pub sender: Option<String>,
    /// Date (seconds since the epoch).
    pub date: u64,
    /// X-Mms-Ack-Request.
    pub ack_request: Option<bool>,
    /// X-Mms-Read-Status (`Read`, `Deleted without being read`).
    pub read_status: ReadStatus,
    /// X-Mms-Status-Text.
    pub status_text: Option<EncodedString>,
    /// X-Mms-Applic-ID.
    pub applic_id: Option<String>,
    /// X-Mms-Reply-Applic-ID.
    pub reply_applic_id: Option<String>,
    /// X-Mms-Aux-Applic-Info.
    pub aux_applic_info: Option<String>,
    /// Other X-Mms-* headers.
    pub extra: Vec<(String, String)>,
}

/// A `.RES` (TS 23.140 §8.4.1.2, §8.4.2.2, §8.4.3.2): the answer to a request, sent to the
/// request's X-Mms-Originator-System when it asked with X-Mms-Ack-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// X-Mms-3GPP-MMS-Version.
    pub version: String,
    /// X-Mms-Transaction-ID of the request answered.
    pub transaction_id: String,
    /// X-Mms-Message-ID of the request answered.
    pub message_id: String,
    /// RFC 5322 Message-ID (without `<>`); `None` writes one derived from the transaction.
    pub rfc5322_message_id: Option<String>,
    /// From: the answering relay's system address.
    pub from: String,
    /// To: the requester's X-Mms-Originator-System.
    pub to: String,
    /// Date (seconds since the epoch).
    pub date: u64,
    /// X-Mms-Request-Status-Code.
    pub request_status: RequestStatus,
    /// X-Mms-Status-Text.
    pub status_text: Option<EncodedString>,
    /// Other X-Mms-* headers.
    pub extra: Vec<(String, String)>,
}

/// One MM4 message (TS 23.140 §8.4), by its X-Mms-Message-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mm4Message {
    /// `MM4_forward.REQ`.
    ForwardReq(Box<ForwardReq>),
    /// `MM4_forward.RES`.
    ForwardRes(Response),
    /// `MM4_delivery_report.REQ`.
    DeliveryReportReq(DeliveryReportReq),
    /// `MM4_delivery_report.RES`.
    DeliveryReportRes(Response),
    /// `MM4_read_reply_report.REQ`.
    ReadReplyReportReq(ReadReplyReportReq),
    /// `MM4_read_reply_report.RES`.
    ReadReplyReportRes(Response),
}

impl Mm4Message {
    /// The X-Mms-Message-Type value (`MM4_forward.REQ`, ...).
    pub fn message_type(&self) -> &'static str {
        match self {
            Mm4Message::ForwardReq(_) => "MM4_forward.REQ",
            Mm4Message::ForwardRes(_) => "MM4_forward.RES",
            Mm4Message::DeliveryReportReq(_) => "MM4_delivery_report.REQ",
            Mm4Message::DeliveryReportRes(_) => "MM4_delivery_report.RES",
            Mm4Message::ReadReplyReportReq(_) => "MM4_read_reply_report.REQ",
            Mm4Message::ReadReplyReportRes(_) => "MM4_read_reply_report.RES",
        }
    }

    /// X-Mms-Transaction-ID.
    pub fn transaction_id(&self) -> &str {
        match self {
            Mm4Message::ForwardReq(m) => &m.transaction_id,
            Mm4Message::DeliveryReportReq(m) => &m.transaction_id,
            Mm4Message::ReadReplyReportReq(m) => &m.transaction_id,
            Mm4Message::ForwardRes(r)
            | Mm4Message::DeliveryReportRes(r)
            | Mm4Message::ReadReplyReportRes(r) => &r.transaction_id,
        }
    }

    /// X-Mms-Message-ID.
    pub fn message_id(&self) -> &str {
        match self {
            Mm4Message::ForwardReq(m) => &m.message_id,
            Mm4Message::DeliveryReportReq(m) => &m.message_id,
            Mm4Message::ReadReplyReportReq(m) => &m.message_id,
            Mm4Message::ForwardRes(r)
            | Mm4Message::DeliveryReportRes(r)
            | Mm4Message::ReadReplyReportRes(r) => &r.message_id,
        }
    }

    /// Whether this is a request (`.REQ`) that wants a `.RES` (X-Mms-Ack-Request: Yes).
    pub fn wants_response(&self) -> bool {
        match self {
            Mm4Message::ForwardReq(m) => m.ack_request == Some(true),
            Mm4Message::DeliveryReportReq(m) => m.ack_request == Some(true),
            Mm4Message::ReadReplyReportReq(m) => m.ack_request == Some(true),
            _ => false,
        }
    }

    /// Where the `.RES` to this request goes (TS 23.140 §8.4.1.2): X-Mms-Originator-System,
    /// else the RFC 5322 Sender, else From. `None` for a `.RES`.
    pub fn reply_to(&self) -> Option<&str> {
        let (system, sender, from) = match self {
            Mm4Message::ForwardReq(m) => (&m.originator_system, &m.sender, &m.from),
            Mm4Message::DeliveryReportReq(m) => (&None, &m.sender, &m.from),
            Mm4Message::ReadReplyReportReq(m) => (&None, &m.sender, &m.from),
            _ => return None,
        };
        Some(
            system
                .as_deref()
                .or(sender.as_deref())
                .unwrap_or_else(|| from.as_str()),
        )
    }

    /// The `.RES` answering this request with `status` (TS 23.140 §8.4.1.2), from the
    /// answering relay's system address `from` to `to` (the request's X-Mms-Originator-System,
    /// else its Sender or From). `None` for a `.RES`.
    pub fn response(
        &self,
        status: RequestStatus,
        from: &str,
        to: &str,
        date: u64,
    ) -> Option<Mm4Message> {
        let r = Response {
            version: DEFAULT_3GPP_MMS_VERSION.to_owned(),
            transaction_id: self.transaction_id().to_owned(),
            message_id: self.message_id().to_owned(),
            rfc5322_message_id: None,
            from: from.to_owned(),
            to: to.to_owned(),
            date,
            request_status: status,
            status_text: None,
            extra: Vec::new(),
        };
        match self {
            Mm4Message::ForwardReq(_) => Some(Mm4Message::ForwardRes(r)),
            Mm4Message::DeliveryReportReq(_) => Some(Mm4Message::DeliveryReportRes(r)),
            Mm4Message::ReadReplyReportReq(_) => Some(Mm4Message::ReadReplyReportRes(r)),
            _ => None,
        }
    }
}

impl From<ForwardReq> for Mm4Message {
    fn from(m: ForwardReq) -> Self {
        Mm4Message::ForwardReq(Box::new(m))
    }
}

impl From<DeliveryReportReq> for Mm4Message {
    fn from(m: DeliveryReportReq) -> Self {
        Mm4Message::DeliveryReportReq(m)
    }
}

impl From<ReadReplyReportReq> for Mm4Message {
    fn from(m: ReadReplyReportReq) -> Self {
        Mm4Message::ReadReplyReportReq(m)
    }
}
