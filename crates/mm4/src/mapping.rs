//! MM1 <-> MM4 (TS 23.140 §8.4 with MMS ENC 1.3 §6): the m-send-req a UA submitted becomes the
//! `MM4_forward.REQ` relay A sends; the `MM4_forward.REQ` relay B received becomes the
//! m-notification-ind and m-retrieve-conf it serves; delivery and read reports cross between
//! m-delivery-ind / m-read-rec-ind / m-read-orig-ind and their MM4 requests.
//!
//! Kept across: Message-ID, Date, From (hidden from the recipient when Sender-Visibility is
//! Hide), To, Cc, Subject with its charset, class, priority, expiry, delivery report, read
//! reply, sender visibility, content class, DRM content, adaptation, applic ids, Content-Type
//! with its parameters and every part. Not carried on MM4: Bcc (it is the envelope's RCPT TO),
//! Delivery-Time (relay A holds the MM until then), reply charging, MMBox store and flags.

use crate::MmStatus;
use crate::message::{
    DEFAULT_3GPP_MMS_VERSION, DeliveryReportReq, ForwardReq, Mm4Address, ReadReplyReportReq,
};
use mms_address::{Address, AddressError, Mm4AddressError, ParseOptions};
use mms_pdu::{
    DeliveryInd, EncodedString, FromAddress, MessageClass, MmsVersion, NotificationInd,
    ReadOrigInd, ReadRecInd, RetrieveConf, SendReq, SenderVisibility, Status, TimeSpec,
};

/// Why an m-send-req could not become an `MM4_forward.REQ`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// A To or Cc address of the m-send-req is not an address (DESIGN.md §2).
    #[error("recipient {address:?} is not an address: {source}")]
    Recipient {
        /// The address as the UA wrote it.
        address: String,
        /// Why it is not one.
        source: AddressError,
    },
    /// A recipient cannot be written in MM4 form at its MMSE domain.
    #[error("recipient {address:?} has no MM4 form: {source}")]
    Mm4Address {
        /// The address.
        address: String,
        /// Why (usually an invalid MMSE domain).
        source: Mm4AddressError,
    },
}

/// What relay A adds to an m-send-req to forward it (TS 23.140 §8.4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardParams {
    /// From: the sender's (network-asserted) address in MM4 form.
    pub from: Mm4Address,
    /// X-Mms-Message-ID relay A assigned (the one its m-send-conf returned).
    pub message_id: String,
    /// X-Mms-Transaction-ID of this MM4 transaction.
    pub transaction_id: String,
    /// Date when the UA's m-send-req has none (seconds since the epoch).
    pub date: u64,
    /// The MMSE domain of each To/Cc recipient that resolution found.
    pub recipient_domains: Vec<(Address, String)>,
    /// The MMSE domain for a To/Cc recipient not in `recipient_domains` (e.g. relay A's own).
    pub default_domain: String,
    /// RCPT TO: the recipients this forward is for (Bcc recipients go only here).
    pub rcpt_to: Vec<Mm4Address>,
    /// RFC 5322 Sender: relay A's system address.
    pub sender: Option<String>,
    /// X-Mms-Originator-System: where relay B sends `.RES` and reports.
    pub originator_system: Option<String>,
    /// X-Mms-Ack-Request: Yes when `true`.
    pub ack_request: bool,
    /// X-Mms-Forward-Counter.
    pub forward_counter: Option<u64>,
    /// X-Mms-3GPP-MMS-Version.
    pub version: String,
    /// How To/Cc addresses are read (default country code for local numbers, DESIGN.md §2).
    pub parse_options: ParseOptions,
}

impl ForwardParams {
    /// Parameters with the mandatory values; the rest empty (no ack, no counter).
    pub fn new(
        from: Mm4Address,
        message_id: &str,
        transaction_id: &str,
        date: u64,
        default_domain: &str,
    ) -> Self {
        ForwardParams {
            from,
            message_id: message_id.to_owned(),
            transaction_id: transaction_id.to_owned(),
            date,
            recipient_domains: Vec::new(),
            default_domain: default_domain.to_owned(),
            rcpt_to: Vec::new(),
            sender: None,
            originator_system: None,
            ack_request: false,
            forward_counter: None,
            version: DEFAULT_3GPP_MMS_VERSION.to_owned(),
            parse_options: ParseOptions::default(),
        }
    }

    fn mm4(&self, written: &EncodedString) -> Result<Mm4Address, MappingError> {
        let text = written.text();
        let address = Address::parse_with(&text, &self.parse_options).map_err(|source| {
            MappingError::Recipient {
                address: text.clone(),
                source,
            }
        })?;
        let domain = self
            .recipient_domains
            .iter()
            .find(|(a, _)| *a == address)
            .map_or(self.default_domain.as_str(), |(_, d)| d.as_str());
        Mm4Address::new(address, domain).map_err(|source| MappingError::Mm4Address {
            address: text,
            source,
        })
    }
}

/// The `MM4_forward.REQ` for an m-send-req (TS 23.140 §8.4.1.1 from MMS ENC 1.3 §6.1.1).
pub fn forward_req_from_send_req(
    req: &SendReq,
    params: &ForwardParams,
) -> Result<ForwardReq, MappingError> {
    let to = req
        .to
        .iter()
        .map(|a| params.mm4(a))
        .collect::<Result<Vec<_>, _>>()?;
    let cc = req
        .cc
        .iter()
        .map(|a| params.mm4(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ForwardReq {
        version: params.version.clone(),
        transaction_id: params.transaction_id.clone(),
        message_id: params.message_id.clone(),
        rfc5322_message_id: None,
        from: params.from.clone(),
        sender: params.sender.clone(),
        to,
        cc,
        rcpt_to: params.rcpt_to.clone(),
        date: req.date.unwrap_or(params.date),
        message_class: req.message_class.clone(),
        expiry: req.expiry,
        delivery_report: req.delivery_report,
        originator_rs_delivery_report: None,
        priority: req.priority,
        sender_visibility: req.sender_visibility,
        read_reply: req.read_report,
        subject: req.subject.clone(),
        ack_request: params.ack_request.then_some(true),
        forward_counter: params.forward_counter,
        previously_sent_by: Vec::new(),
        previously_sent_date: Vec::new(),
        originator_system: params.originator_system.clone(),
        applic_id: req.applic_id.clone(),
        reply_applic_id: req.reply_applic_id.clone(),
        aux_applic_info: req.aux_applic_info.clone(),
        content_class: req.content_class,
        drm_content: req.drm_content,
        adaptation_allowed: req.adaptation_allowed,
        extra: Vec::new(),
        content_type: req.content_type.clone(),
        body: req.body.clone(),
    })
}

/// How relay B answers a retrieval (MMS ENC 1.3 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetrieveParams {
    /// X-Mms-Transaction-Id, when answering a retrieval that carried one.
    pub transaction_id: Option<String>,
    /// X-Mms-MMS-Version to write.
    pub version: MmsVersion,
}

/// An MM4 address as MM1 writes it (MMS ENC 1.3 §8: `+49…/TYPE=PLMN`, `sip%3A…/TYPE=SIP`).
fn mms_enc(a: &Mm4Address) -> EncodedString {
    EncodedString::plain(a.address().to_mms_enc())
}

/// The sender as the recipient may see it: absent when the originator asked to hide it.
fn visible_from(fwd: &ForwardReq) -> Option<FromAddress> {
    (fwd.sender_visibility != Some(SenderVisibility::HIDE))
        .then(|| FromAddress::Present(mms_enc(&fwd.from)))
}

/// The m-retrieve-conf relay B serves for a received `MM4_forward.REQ` (MMS ENC 1.3 §6.3).
pub fn retrieve_conf_from_forward_req(fwd: &ForwardReq, params: &RetrieveParams) -> RetrieveConf {
    RetrieveConf {
        transaction_id: params.transaction_id.clone(),
        version: params.version,
        message_id: Some(fwd.message_id.clone()),
        date: Some(fwd.date),
        from: visible_from(fwd),
        previously_sent_by: fwd.previously_sent_by.clone(),
        previously_sent_date: fwd.previously_sent_date.clone(),
        to: fwd.to.iter().map(mms_enc).collect(),
        cc: fwd.cc.iter().map(mms_enc).collect(),
        subject: fwd.subject.clone(),
        message_class: fwd.message_class.clone(),
        priority: fwd.priority,
        delivery_report: fwd.delivery_report,
        read_report: fwd.read_reply,
        applic_id: fwd.applic_id.clone(),
        reply_applic_id: fwd.reply_applic_id.clone(),
        aux_applic_info: fwd.aux_applic_info.clone(),
        content_class: fwd.content_class,
        drm_content: fwd.drm_content,
        content_type: fwd.content_type.clone(),
        body: fwd.body.clone(),
        ..Default::default()
    }
}

/// The m-notification-ind relay B pushes for a received `MM4_forward.REQ` (MMS ENC 1.3 §6.2):
/// `content_location` is where the UA fetches it, `message_size` its size, `default_expiry`
/// used when the forward had no X-Mms-Expiry.
pub fn notification_ind_from_forward_req(
    fwd: &ForwardReq,
    transaction_id: &str,
    content_location: &str,
    message_size: u64,
    default_expiry: TimeSpec,
) -> NotificationInd {
    NotificationInd {
        transaction_id: transaction_id.to_owned(),
        from: visible_from(fwd),
        subject: fwd.subject.clone(),
        delivery_report: fwd.delivery_report,
        message_class: fwd.message_class.clone().unwrap_or(MessageClass::Personal),
        priority: fwd.priority,
        message_size,
        expiry: fwd.expiry.unwrap_or(default_expiry),
        content_location: content_location.to_owned(),
        applic_id: fwd.applic_id.clone(),
        reply_applic_id: fwd.reply_applic_id.clone(),
        aux_applic_info: fwd.aux_applic_info.clone(),
        content_class: fwd.content_class,
        drm_content: fwd.drm_content,
        ..Default::default()
    }
}

/// The `MM4_delivery_report.REQ` relay B sends when the MM `message_id` reached `status` at
/// `recipient` (TS 23.140 §8.4.2.1); `status` is the MMS ENC X-Mms-Status of the event.
pub fn delivery_report_req(
    message_id: &str,
    recipient: Mm4Address,
    originator: Mm4Address,
    status: Status,
    transaction_id: &str,
    date: u64,
) -> DeliveryReportReq {
    DeliveryReportReq {
        version: DEFAULT_3GPP_MMS_VERSION.to_owned(),
        transaction_id: transaction_id.to_owned(),
        message_id: message_id.to_owned(),
        rfc5322_message_id: None,
        from: recipient,
        to: originator,
        sender: None,
        date,
        ack_request: None,
        mm_status: MmStatus::from_mms_status(status),
        status_text: None,
        applic_id: None,
        reply_applic_id: None,
        aux_applic_info: None,
        extra: Vec::new(),
    }
}

/// The m-delivery-ind relay A pushes to the sender for a received `MM4_delivery_report.REQ`
/// (MMS ENC 1.3 §6.6): To is the recipient the report is about.
pub fn delivery_ind_from_report(report: &DeliveryReportReq, version: MmsVersion) -> DeliveryInd {
    DeliveryInd {
        version,
        message_id: report.message_id.clone(),
        to: vec![mms_enc(&report.from)],
        date: Some(report.date),
        status: report.mm_status.to_mms_status(),
        status_text: report.status_text.clone(),
        applic_id: report.applic_id.clone(),
        reply_applic_id: report.reply_applic_id.clone(),
        aux_applic_info: report.aux_applic_info.clone(),
        ..Default::default()
    }
}

/// What relay B adds to a reader's m-read-rec-ind to send it as `MM4_read_reply_report.REQ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReplyParams {
    /// From: the reader (the MM's recipient) in MM4 form.
    pub reader: Mm4Address,
    /// To: the MM's originator in MM4 form.
    pub originator: Mm4Address,
    /// X-Mms-Transaction-ID.
    pub transaction_id: String,
    /// Date when the m-read-rec-ind has none.
    pub date: u64,
    /// X-Mms-Ack-Request: Yes when `true`.
    pub ack_request: bool,
}

/// The `MM4_read_reply_report.REQ` for a reader's m-read-rec-ind (TS 23.140 §8.4.3.1 from
/// MMS ENC 1.3 §6.7.2).
pub fn read_reply_req_from_read_rec_ind(
    ind: &ReadRecInd,
    params: &ReadReplyParams,
) -> ReadReplyReportReq {
    ReadReplyReportReq {
        version: DEFAULT_3GPP_MMS_VERSION.to_owned(),
        transaction_id: params.transaction_id.clone(),
        message_id: ind.message_id.clone(),
        rfc5322_message_id: None,
        from: params.reader.clone(),
        to: params.originator.clone(),
        sender: None,
        date: ind.date.unwrap_or(params.date),
        ack_request: params.ack_request.then_some(true),
        read_status: ind.read_status,
        status_text: None,
        applic_id: ind.applic_id.clone(),
        reply_applic_id: ind.reply_applic_id.clone(),
        aux_applic_info: ind.aux_applic_info.clone(),
        extra: Vec::new(),
    }
}

/// The m-read-orig-ind relay A pushes to the originator for a received
/// `MM4_read_reply_report.REQ` (MMS ENC 1.3 §6.7.2).
pub fn read_orig_ind_from_report(report: &ReadReplyReportReq, version: MmsVersion) -> ReadOrigInd {
    ReadOrigInd {
        version,
        message_id: report.message_id.clone(),
        to: vec![mms_enc(&report.to)],
        from: Some(FromAddress::Present(mms_enc(&report.from))),
        date: Some(report.date),
        read_status: report.read_status,
        applic_id: report.applic_id.clone(),
        reply_applic_id: report.reply_applic_id.clone(),
        aux_applic_info: report.aux_applic_info.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mms_pdu::{ReadStatus, SendReq};

    fn addr(s: &str) -> Mm4Address {
        Mm4Address::parse(s).unwrap()
    }

    fn forward(visibility: Option<SenderVisibility>) -> ForwardReq {
        let req = SendReq {
            to: vec![EncodedString::plain("sip:bob@b.example")],
            sender_visibility: visibility,
            expiry: Some(TimeSpec::Relative(3600)),
            message_class: Some(MessageClass::Informational),
            ..Default::default()
        };
        let mut p = ForwardParams::new(
            addr("+441234567890/TYPE=PLMN@mms.a.example"),
            "m1",
            "t1",
            7,
            "mms.default.example",
        );
        p.recipient_domains = vec![(
            Address::parse("sip:bob@b.example").unwrap(),
            "mms.b.example".into(),
        )];
        forward_req_from_send_req(&req, &p).unwrap()
    }

    #[test]
    fn recipients_get_their_resolved_mmse_domain_design_2() {
        let f = forward(None);
        assert_eq!(
            f.to[0].as_str(),
            "sip%3Abob%40b.example/TYPE=SIP@mms.b.example"
        );
        assert_eq!(f.date, 7, "Date falls back to the relay's time");
        assert_eq!(f.ack_request, None);
    }

    #[test]
    fn hidden_sender_is_not_shown_to_the_recipient_mms_enc_7_3_52() {
        let conf = retrieve_conf_from_forward_req(
            &forward(Some(SenderVisibility::HIDE)),
            &RetrieveParams::default(),
        );
        assert_eq!(conf.from, None);
        let conf = retrieve_conf_from_forward_req(
            &forward(Some(SenderVisibility::SHOW)),
            &RetrieveParams::default(),
        );
        assert_eq!(
            conf.from,
            Some(FromAddress::Present(EncodedString::plain(
                "+441234567890/TYPE=PLMN"
            )))
        );
    }

    #[test]
    fn notification_carries_class_expiry_and_location_mms_enc_6_2() {
        let n = notification_ind_from_forward_req(
            &forward(None),
            "n1",
            "http://b/m/x",
            1234,
            TimeSpec::Relative(9),
        );
        assert_eq!(n.expiry, TimeSpec::Relative(3600));
        assert_eq!(n.message_class, MessageClass::Informational);
        assert_eq!(n.message_size, 1234);
        assert_eq!(n.content_location, "http://b/m/x");
        let mut f = forward(None);
        f.expiry = None;
        f.message_class = None;
        let n = notification_ind_from_forward_req(&f, "n1", "u", 1, TimeSpec::Relative(9));
        assert_eq!(
            (n.expiry, n.message_class),
            (TimeSpec::Relative(9), MessageClass::Personal)
        );
    }

    #[test]
    fn delivery_report_maps_x_mms_status_both_ways_ts23140_8_4_2() {
        let r = delivery_report_req(
            "m1",
            addr("sip%3Abob%40b.example/TYPE=SIP@mms.b.example"),
            addr("+441234567890/TYPE=PLMN@mms.a.example"),
            Status::REJECTED,
            "t2",
            99,
        );
        assert_eq!(r.mm_status, MmStatus::Rejected);
        let ind = delivery_ind_from_report(&r, MmsVersion::V1_3);
        assert_eq!(ind.status, Status::REJECTED);
        assert_eq!(ind.message_id, "m1");
        assert_eq!(
            ind.to,
            vec![EncodedString::plain("sip%3Abob%40b.example/TYPE=SIP")]
        );
        assert_eq!(ind.date, Some(99));
    }

    #[test]
    fn read_reply_maps_read_rec_ind_to_read_orig_ind_ts23140_8_4_3() {
        let rec = ReadRecInd {
            message_id: "m1".into(),
            read_status: ReadStatus::DELETED_WITHOUT_BEING_READ,
            date: Some(5),
            ..Default::default()
        };
        let params = ReadReplyParams {
            reader: addr("sip%3Abob%40b.example/TYPE=SIP@mms.b.example"),
            originator: addr("+441234567890/TYPE=PLMN@mms.a.example"),
            transaction_id: "t3".into(),
            date: 6,
            ack_request: true,
        };
        let req = read_reply_req_from_read_rec_ind(&rec, &params);
        assert_eq!((req.date, req.ack_request), (5, Some(true)));
        let orig = read_orig_ind_from_report(&req, MmsVersion::V1_2);
        assert_eq!(orig.read_status, ReadStatus::DELETED_WITHOUT_BEING_READ);
        assert_eq!(
            orig.to,
            vec![EncodedString::plain("+441234567890/TYPE=PLMN")]
        );
        assert_eq!(
            orig.from,
            Some(FromAddress::Present(EncodedString::plain(
                "sip%3Abob%40b.example/TYPE=SIP"
            )))
        );
    }

    #[test]
    fn unparsable_recipient_is_refused_not_dropped() {
        let req = SendReq {
            to: vec![EncodedString::plain("Jg")],
            ..Default::default()
        };
        let p = ForwardParams::new(addr("a@a.example"), "m", "t", 0, "mms.a.example");
        assert!(matches!(
            forward_req_from_send_req(&req, &p),
            Err(MappingError::Recipient { .. })
        ));
    }
}
