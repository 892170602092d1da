//! MM4 message <-> RFC 5322 message and SMTP envelope (TS 23.140 §8.4, RFC 5321/5322), with
//! mail-builder writing and mail-parser reading.

use crate::error::Mm4Error;
use crate::message::{
    DeliveryReportReq, Envelope, ForwardReq, Mm4Address, Mm4Message, ReadReplyReportReq, Response,
};
use crate::mime::{build_body, parse_body};
use crate::text::{decode_id, decode_string, decode_utf8, encode_string, encode_utf8, unfold};
use crate::{MmStatus, RequestStatus};
use mail_builder::MessageBuilder;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_parser::{DateTime, HeaderValue, Message, MessageParser};
use mms_pdu::{
    ContentClass, EncodedString, MessageClass, PreviouslySentBy, PreviouslySentDate, Priority,
    ReadStatus, SenderVisibility, TimeSpec,
};

/// Header names of TS 23.140 §8.4 (the spelling this crate writes; reading ignores case).
pub(crate) mod h {
    pub const VERSION: &str = "X-Mms-3GPP-MMS-Version";
    pub const MESSAGE_TYPE: &str = "X-Mms-Message-Type";
    pub const TRANSACTION_ID: &str = "X-Mms-Transaction-ID";
    pub const MESSAGE_ID: &str = "X-Mms-Message-ID";
    pub const MESSAGE_CLASS: &str = "X-Mms-Message-Class";
    pub const EXPIRY: &str = "X-Mms-Expiry";
    pub const DELIVERY_REPORT: &str = "X-Mms-Delivery-Report";
    pub const ORIGINATOR_RS_DELIVERY_REPORT: &str = "X-Mms-Originator-R/S-Delivery-Report";
    pub const PRIORITY: &str = "X-Mms-Priority";
    pub const SENDER_VISIBILITY: &str = "X-Mms-Sender-Visibility";
    pub const READ_REPLY: &str = "X-Mms-Read-Reply";
    pub const ACK_REQUEST: &str = "X-Mms-Ack-Request";
    pub const FORWARD_COUNTER: &str = "X-Mms-Forward-Counter";
    pub const PREVIOUSLY_SENT_BY: &str = "X-Mms-Previously-sent-by";
    pub const PREVIOUSLY_SENT_DATE: &str = "X-Mms-Previously-sent-date-and-time";
    pub const ORIGINATOR_SYSTEM: &str = "X-Mms-Originator-System";
    pub const APPLIC_ID: &str = "X-Mms-Applic-ID";
    pub const REPLY_APPLIC_ID: &str = "X-Mms-Reply-Applic-ID";
    pub const AUX_APPLIC_INFO: &str = "X-Mms-Aux-Applic-Info";
    pub const CONTENT_CLASS: &str = "X-Mms-Content-Class";
    pub const DRM_CONTENT: &str = "X-Mms-DRM-Content";
    pub const ADAPTATION_ALLOWED: &str = "X-Mms-Adaptation-Allowed";
    pub const MM_STATUS_CODE: &str = "X-Mms-MM-Status-Code";
    pub const READ_STATUS: &str = "X-Mms-Read-Status";
    pub const REQUEST_STATUS_CODE: &str = "X-Mms-Request-Status-Code";
    pub const STATUS_TEXT: &str = "X-Mms-Status-Text";
}

// ---------------------------------------------------------------- encode

/// Removes what could end a header line early (CR, LF, other controls) from a value this crate
/// does not otherwise encode.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn yes_no(v: bool) -> &'static str {
    if v { "Yes" } else { "No" }
}

/// The last second of year 3000, the latest date mail-parser accepts: later times are written
/// as this one.
const MAX_DATE: u64 = 32_535_215_999;

fn rfc5322_date(t: u64) -> String {
    date_header(t).to_rfc822()
}

fn date_header(t: u64) -> Date {
    Date::new(i64::try_from(t.min(MAX_DATE)).unwrap_or(0))
}

/// The RFC 5322 Message-ID written when the message has none: derived from the type and the
/// transaction, so decoding recognises it and gives `None` back.
fn derived_message_id(kind: &str, transaction_id: &str) -> String {
    let mut hex = String::with_capacity(transaction_id.len() * 2);
    for b in transaction_id.bytes().take(64) {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("{kind}.{hex}@mm4.invalid")
}

struct Writer {
    b: MessageBuilder<'static>,
}

impl Writer {
    fn new(message_type: &str, version: &str, transaction_id: &str, message_id: &str) -> Self {
        let b = MessageBuilder::new()
            .header(h::VERSION, Raw::new(encode_utf8(version)))
            .header(h::MESSAGE_TYPE, Raw::new(message_type.to_owned()))
            .header(h::TRANSACTION_ID, Raw::new(encode_utf8(transaction_id)))
            .header(h::MESSAGE_ID, Raw::new(encode_utf8(message_id)));
        Writer { b }
    }

    fn raw(&mut self, name: &str, value: String) {
        let b = std::mem::take(&mut self.b);
        self.b = b.header(name.to_owned(), Raw::new(value));
    }

    fn opt_text(&mut self, name: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.raw(name, encode_utf8(v));
        }
    }

    fn opt_bool(&mut self, name: &str, v: Option<bool>) {
        if let Some(v) = v {
            self.raw(name, yes_no(v).to_owned());
        }
    }

    fn opt_string(&mut self, name: &str, v: &Option<EncodedString>) {
        if let Some(v) = v {
            self.raw(name, encode_string(v));
        }
    }

    fn addresses(&mut self, name: &str, list: &[Mm4Address]) {
        if !list.is_empty() {
            let v = list
                .iter()
                .map(Mm4Address::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            self.raw(name, v);
        }
    }

    fn rfc5322(&mut self, kind: &str, tid: &str, id: &Option<String>, date: u64) {
        let id = id.clone().unwrap_or_else(|| derived_message_id(kind, tid));
        let b = std::mem::take(&mut self.b);
        self.b = b
            .message_id(MessageId::new(clean(&id)))
            .date(date_header(date));
    }

    fn extra(&mut self, extra: &[(String, String)]) {
        for (name, value) in extra {
            if !name.is_empty() && name.bytes().all(|c| c.is_ascii_graphic() && c != b':') {
                self.raw(name, encode_utf8(&clean(value)));
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        self.b.write_to_vec().unwrap_or_default()
    }
}

fn encode_forward_req(m: &ForwardReq) -> (Envelope, Vec<u8>) {
    let mut w = Writer::new(
        "MM4_forward.REQ",
        &m.version,
        &m.transaction_id,
        &m.message_id,
    );
    w.addresses("From", std::slice::from_ref(&m.from));
    if let Some(s) = &m.sender {
        w.raw("Sender", encode_utf8(&clean(s)));
    }
    w.addresses("To", &m.to);
    w.addresses("Cc", &m.cc);
    w.rfc5322("fwd", &m.transaction_id, &m.rfc5322_message_id, m.date);
    if let Some(s) = &m.subject {
        w.raw("Subject", encode_string(s));
    }
    if let Some(c) = &m.message_class {
        w.raw(h::MESSAGE_CLASS, encode_utf8(c.as_str()));
    }
    if let Some(e) = m.expiry {
        w.raw(
            h::EXPIRY,
            match e {
                TimeSpec::Absolute(t) => rfc5322_date(t),
                TimeSpec::Relative(s) => s.to_string(),
            },
        );
    }
    w.opt_bool(h::DELIVERY_REPORT, m.delivery_report);
    w.opt_bool(
        h::ORIGINATOR_RS_DELIVERY_REPORT,
        m.originator_rs_delivery_report,
    );
    if let Some(p) = m.priority {
        w.raw(h::PRIORITY, p.name().unwrap_or("Normal").to_owned());
    }
    if let Some(v) = m.sender_visibility {
        w.raw(h::SENDER_VISIBILITY, v.name().unwrap_or("Show").to_owned());
    }
    w.opt_bool(h::READ_REPLY, m.read_reply);
    w.opt_bool(h::ACK_REQUEST, m.ack_request);
    if let Some(n) = m.forward_counter {
        w.raw(h::FORWARD_COUNTER, n.to_string());
    }
    for p in &m.previously_sent_by {
        w.raw(
            h::PREVIOUSLY_SENT_BY,
            format!("{}, {}", p.counter, encode_string(&p.address)),
        );
    }
    for p in &m.previously_sent_date {
        w.raw(
            h::PREVIOUSLY_SENT_DATE,
            format!("{}, {}", p.counter, rfc5322_date(p.date)),
        );
    }
    if let Some(s) = &m.originator_system {
        w.raw(h::ORIGINATOR_SYSTEM, encode_utf8(&clean(s)));
    }
    w.opt_text(h::APPLIC_ID, &m.applic_id);
    w.opt_text(h::REPLY_APPLIC_ID, &m.reply_applic_id);
    w.opt_text(h::AUX_APPLIC_INFO, &m.aux_applic_info);
    if let Some(name) = m.content_class.and_then(|c| c.name()) {
        w.raw(h::CONTENT_CLASS, name.to_owned());
    }
    w.opt_bool(h::DRM_CONTENT, m.drm_content);
    w.opt_bool(h::ADAPTATION_ALLOWED, m.adaptation_allowed);
    w.extra(&m.extra);
    let b = std::mem::take(&mut w.b);
    w.b = b.body(build_body(&m.content_type, &m.body));
    let env = Envelope {
        mail_from: m.sender.clone().unwrap_or_else(|| m.from.to_string()),
        rcpt_to: m.rcpt_to.iter().map(ToString::to_string).collect(),
    };
    (env, w.finish())
}

/// The fields the two report requests share.
struct ReportView<'a> {
    version: &'a str,
    transaction_id: &'a str,
    message_id: &'a str,
    rfc5322_message_id: &'a Option<String>,
    from: &'a Mm4Address,
    to: &'a Mm4Address,
    sender: &'a Option<String>,
    date: u64,
    ack_request: Option<bool>,
    status_text: &'a Option<EncodedString>,
    applic_id: &'a Option<String>,
    reply_applic_id: &'a Option<String>,
    aux_applic_info: &'a Option<String>,
    extra: &'a [(String, String)],
}

/// The [`ReportView`] of a `DeliveryReportReq` or a `ReadReplyReportReq` (same field names).
macro_rules! report_view {
    ($m:expr) => {
        ReportView {
            version: &$m.version,
            transaction_id: &$m.transaction_id,
            message_id: &$m.message_id,
            rfc5322_message_id: &$m.rfc5322_message_id,
            from: &$m.from,
            to: &$m.to,
            sender: &$m.sender,
            date: $m.date,
            ack_request: $m.ack_request,
            status_text: &$m.status_text,
            applic_id: &$m.applic_id,
            reply_applic_id: &$m.reply_applic_id,
            aux_applic_info: &$m.aux_applic_info,
            extra: &$m.extra,
        }
    };
}

fn encode_report(
    message_type: &str,
    kind: &str,
    r: ReportView<'_>,
    status: (&str, &str),
) -> (Envelope, Vec<u8>) {
    let mut w = Writer::new(message_type, r.version, r.transaction_id, r.message_id);
    w.addresses("From", std::slice::from_ref(r.from));
    if let Some(s) = r.sender {
        w.raw("Sender", encode_utf8(&clean(s)));
    }
    w.addresses("To", std::slice::from_ref(r.to));
    w.rfc5322(kind, r.transaction_id, r.rfc5322_message_id, r.date);
    w.opt_bool(h::ACK_REQUEST, r.ack_request);
    w.raw(status.0, status.1.to_owned());
    w.opt_string(h::STATUS_TEXT, r.status_text);
    w.opt_text(h::APPLIC_ID, r.applic_id);
    w.opt_text(h::REPLY_APPLIC_ID, r.reply_applic_id);
    w.opt_text(h::AUX_APPLIC_INFO, r.aux_applic_info);
    w.extra(r.extra);
    let env = Envelope {
        mail_from: r.sender.clone().unwrap_or_else(|| r.from.to_string()),
        rcpt_to: vec![r.to.to_string()],
    };
    (env, w.finish())
}

fn encode_response(message_type: &str, kind: &str, r: &Response) -> (Envelope, Vec<u8>) {
    let mut w = Writer::new(message_type, &r.version, &r.transaction_id, &r.message_id);
    w.raw("From", encode_utf8(&clean(&r.from)));
    w.raw("To", encode_utf8(&clean(&r.to)));
    w.rfc5322(kind, &r.transaction_id, &r.rfc5322_message_id, r.date);
    w.raw(h::REQUEST_STATUS_CODE, r.request_status.as_str().to_owned());
    w.opt_string(h::STATUS_TEXT, &r.status_text);
    w.extra(&r.extra);
    let env = Envelope {
        mail_from: clean(&r.from),
        rcpt_to: vec![clean(&r.to)],
    };
    (env, w.finish())
}

/// Writes an MM4 message as its SMTP envelope and RFC 5322 bytes (CRLF line ends, ready for
/// DATA before dot-stuffing). Never fails: text a header cannot carry as is goes as RFC 2047
/// encoded words, control characters in system addresses and extra headers become spaces, and
/// dates after the year 3000 are written as its last second.
pub fn encode(msg: &Mm4Message) -> (Envelope, Vec<u8>) {
    match msg {
        Mm4Message::ForwardReq(m) => encode_forward_req(m),
        Mm4Message::DeliveryReportReq(m) => encode_report(
            "MM4_delivery_report.REQ",
            "dr",
            report_view!(m),
            (h::MM_STATUS_CODE, m.mm_status.as_str()),
        ),
        Mm4Message::ReadReplyReportReq(m) => encode_report(
            "MM4_read_reply_report.REQ",
            "rr",
            report_view!(m),
            (h::READ_STATUS, m.read_status.name().unwrap_or("Read")),
        ),
        Mm4Message::ForwardRes(r) => encode_response("MM4_forward.RES", "fwdres", r),
        Mm4Message::DeliveryReportRes(r) => encode_response("MM4_delivery_report.RES", "drres", r),
        Mm4Message::ReadReplyReportRes(r) => {
            encode_response("MM4_read_reply_report.RES", "rrres", r)
        }
    }
}

// ---------------------------------------------------------------- decode

/// The top-level headers of a parsed message, each taken at most once; what no typed field
/// took and is an `X-Mms-*` header ends in `extra`.
struct Headers<'a> {
    msg: &'a Message<'a>,
    /// (name, unfolded raw value, index into the parsed headers, taken)
    items: Vec<(String, String, usize, bool)>,
    message_type: &'static str,
}

impl<'a> Headers<'a> {
    fn new(msg: &'a Message<'a>) -> Self {
        let raw = msg.raw_message();
        let items = msg
            .headers()
            .iter()
            .enumerate()
            .map(|(i, hd)| {
                // Control characters cannot be written back as they are: read them as spaces.
                let v = raw
                    .get(hd.offset_start as usize..hd.offset_end as usize)
                    .map(|b| clean(&unfold(b)))
                    .unwrap_or_default();
                (hd.name.as_str().to_owned(), v, i, false)
            })
            .collect();
        Headers {
            msg,
            items,
            message_type: "MM4 message",
        }
    }

    /// The first untaken value of `name`, taken.
    fn take(&mut self, name: &str) -> Option<String> {
        let item = self
            .items
            .iter_mut()
            .find(|(n, _, _, taken)| !taken && n.eq_ignore_ascii_case(name))?;
        item.3 = true;
        Some(item.1.clone())
    }

    /// Takes the first value of `name` that `parse` accepts; a value it refuses stays for
    /// `extra` (lenient reading of optional headers).
    fn take_parsed<T>(&mut self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let item = self
            .items
            .iter_mut()
            .find(|(n, _, _, taken)| !taken && n.eq_ignore_ascii_case(name))?;
        let v = parse(&item.1)?;
        item.3 = true;
        Some(v)
    }

    fn take_all_parsed<T>(&mut self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        for item in self.items.iter_mut() {
            if !item.3
                && item.0.eq_ignore_ascii_case(name)
                && let Some(v) = parse(&item.1)
            {
                item.3 = true;
                out.push(v);
            }
        }
        out
    }

    fn required(&mut self, name: &'static str) -> Result<String, Mm4Error> {
        self.take(name).ok_or(Mm4Error::MissingHeader {
            message_type: self.message_type,
            header: name,
        })
    }

    fn required_parsed<T>(
        &mut self,
        name: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        reason: &'static str,
    ) -> Result<T, Mm4Error> {
        let v = self.required(name)?;
        parse(&v).ok_or(Mm4Error::InvalidHeader {
            header: name,
            reason,
        })
    }

    /// Every address of the (possibly repeated) address header `name`, all taken.
    fn addresses(&mut self, name: &'static str) -> Result<Vec<String>, Mm4Error> {
        let mut out = Vec::new();
        for item in self.items.iter_mut() {
            if item.3 || !item.0.eq_ignore_ascii_case(name) {
                continue;
            }
            item.3 = true;
            let parsed = self
                .msg
                .headers()
                .get(item.2)
                .and_then(|hd| match &hd.value {
                    HeaderValue::Address(a) => Some(
                        a.iter()
                            .filter_map(|x| x.address.as_ref().map(|s| s.to_string()))
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                });
            // mail-parser reads a quoted-string local part (`"bob smith"@b.example`, RFC 5322
            // §3.4.1) as a display name before an address `@b.example`; such a list is taken
            // from the header text instead, as it is when mail-parser found no address at all.
            match parsed {
                Some(list) if !list.is_empty() && list.iter().all(|a| !a.starts_with('@')) => {
                    out.extend(list)
                }
                _ => out.extend(split_address_list(&item.1)),
            }
        }
        Ok(out)
    }

    fn extra(self) -> Vec<(String, String)> {
        self.items
            .into_iter()
            .filter(|(n, _, _, taken)| {
                !taken
                    && n.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("X-Mms-"))
                    && n.bytes().all(|c| c.is_ascii_graphic() && c != b':')
            })
            .map(|(n, v, _, _)| (n, clean(&decode_utf8(&v))))
            .collect()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_date(v: &str) -> Option<u64> {
    let d = DateTime::parse_rfc822(v.trim())?;
    if !d.is_valid() {
        return None;
    }
    u64::try_from(d.to_timestamp()).ok()
}

fn parse_expiry(v: &str) -> Option<TimeSpec> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        return v.parse().ok().map(TimeSpec::Relative);
    }
    parse_date(v).map(TimeSpec::Absolute)
}

fn parse_counter_pair(v: &str) -> Option<(u64, &str)> {
    let (n, rest) = v.split_once(',')?;
    Some((n.trim().parse().ok()?, rest.trim()))
}

fn parse_text(v: &str) -> Option<String> {
    Some(decode_utf8(v))
}

fn one_address(
    list: Vec<String>,
    header: &'static str,
    sender: bool,
) -> Result<Mm4Address, Mm4Error> {
    let first = list.into_iter().next().ok_or(Mm4Error::MissingHeader {
        message_type: "MM4 message",
        header,
    })?;
    Mm4Address::parse(&first).map_err(|e| {
        if sender {
            Mm4Error::InvalidSender(e)
        } else {
            Mm4Error::InvalidRecipient { header, source: e }
        }
    })
}

/// Splits an RFC 5322 §3.4 address-list at the commas outside quoted strings and `<…>`.
fn split_address_list(text: &str) -> Vec<String> {
    let (mut out, mut start) = (Vec::new(), 0);
    let (mut quoted, mut escaped, mut angle) = (false, false, 0u32);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle += 1,
            '>' if !quoted => angle = angle.saturating_sub(1),
            ',' if !quoted && angle == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn address_list(list: Vec<String>, header: &'static str) -> Result<Vec<Mm4Address>, Mm4Error> {
    list.iter()
        .map(|a| Mm4Address::parse(a).map_err(|e| Mm4Error::InvalidRecipient { header, source: e }))
        .collect()
}

/// The RFC 5322 Message-ID, or `None` when it is the one this crate derives for the message.
fn rfc5322_id(msg: &Message, kind: &str, tid: &str) -> Option<String> {
    let id = clean(msg.message_id()?);
    (!id.is_empty() && id != derived_message_id(kind, tid)).then_some(id)
}

/// A relay's system address as written (Sender, a `.RES`'s From and To): the part inside
/// `<…>` when there is one, else the whole value.
fn system_address(v: &str) -> String {
    let v = &decode_utf8(v);
    let inner = v
        .rfind('<')
        .and_then(|at| v.get(at + 1..))
        .and_then(|rest| rest.split_once('>').map(|(a, _)| a));
    clean(inner.unwrap_or(v))
}

struct Common {
    version: String,
    transaction_id: String,
    message_id: String,
    date: u64,
}

fn common(hd: &mut Headers) -> Result<Common, Mm4Error> {
    let version = decode_utf8(&hd.required(h::VERSION)?);
    let transaction_id = decode_id(&hd.required(h::TRANSACTION_ID)?);
    let message_id = decode_id(&hd.required(h::MESSAGE_ID)?);
    let date = hd.required_parsed("Date", parse_date, "not an RFC 5322 date-time")?;
    Ok(Common {
        version,
        transaction_id,
        message_id,
        date,
    })
}

fn decode_forward_req(
    envelope: &Envelope,
    msg: &Message,
    mut hd: Headers,
) -> Result<ForwardReq, Mm4Error> {
    let c = common(&mut hd)?;
    let from_list = hd.addresses("From")?;
    let from = one_address(from_list, "From", true)?;
    let sender = hd.take("Sender").map(|v| system_address(&v));
    let to = address_list(hd.addresses("To")?, "To")?;
    let cc = address_list(hd.addresses("Cc")?, "Cc")?;
    let rcpt_to = envelope
        .rcpt_to
        .iter()
        .map(|a| {
            Mm4Address::parse(a).map_err(|e| Mm4Error::InvalidRecipient {
                header: "RCPT TO",
                source: e,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let subject = hd.take("Subject").map(|v| decode_string(&v));
    let message_class = hd.take_parsed(h::MESSAGE_CLASS, |v| {
        let t = decode_utf8(v);
        (!t.is_empty()).then(|| MessageClass::from_text(&t))
    });
    let expiry = hd.take_parsed(h::EXPIRY, parse_expiry);
    let delivery_report = hd.take_parsed(h::DELIVERY_REPORT, parse_bool);
    let originator_rs_delivery_report =
        hd.take_parsed(h::ORIGINATOR_RS_DELIVERY_REPORT, parse_bool);
    let priority = hd.take_parsed(h::PRIORITY, |v| Priority::from_name(v.trim()));
    let sender_visibility = hd.take_parsed(h::SENDER_VISIBILITY, |v| {
        SenderVisibility::from_name(v.trim())
    });
    let read_reply = hd.take_parsed(h::READ_REPLY, parse_bool);
    let ack_request = hd.take_parsed(h::ACK_REQUEST, parse_bool);
    let forward_counter = hd.take_parsed(h::FORWARD_COUNTER, |v| v.trim().parse().ok());
    let previously_sent_by = hd.take_all_parsed(h::PREVIOUSLY_SENT_BY, |v| {
        let (counter, rest) = parse_counter_pair(v)?;
        Some(PreviouslySentBy {
            counter,
            address: decode_string(rest),
        })
    });
    let previously_sent_date = hd.take_all_parsed(h::PREVIOUSLY_SENT_DATE, |v| {
        let (counter, rest) = parse_counter_pair(v)?;
        Some(PreviouslySentDate {
            counter,
            date: parse_date(rest)?,
        })
    });
    let originator_system = hd
        .take(h::ORIGINATOR_SYSTEM)
        .map(|v| clean(&decode_utf8(&v)));
    let applic_id = hd.take_parsed(h::APPLIC_ID, parse_text);
    let reply_applic_id = hd.take_parsed(h::REPLY_APPLIC_ID, parse_text);
    let aux_applic_info = hd.take_parsed(h::AUX_APPLIC_INFO, parse_text);
    let content_class = hd.take_parsed(h::CONTENT_CLASS, |v| ContentClass::from_name(v.trim()));
    let drm_content = hd.take_parsed(h::DRM_CONTENT, parse_bool);
    let adaptation_allowed = hd.take_parsed(h::ADAPTATION_ALLOWED, parse_bool);
    let (content_type, body) = parse_body(msg)?;
    Ok(ForwardReq {
        rfc5322_message_id: rfc5322_id(msg, "fwd", &c.transaction_id),
        version: c.version,
        transaction_id: c.transaction_id,
        message_id: c.message_id,
        from,
        sender,
        to,
        cc,
        rcpt_to,
        date: c.date,
        message_class,
        expiry,
        delivery_report,
        originator_rs_delivery_report,
        priority,
        sender_visibility,
        read_reply,
        subject,
        ack_request,
        forward_counter,
        previously_sent_by,
        previously_sent_date,
        originator_system,
        applic_id,
        reply_applic_id,
        aux_applic_info,
        content_class,
        drm_content,
        adaptation_allowed,
        extra: hd.extra(),
        content_type,
        body,
    })
}

/// What the two report requests share, decoded.
struct ReportFields {
    c: Common,
    from: Mm4Address,
    to: Mm4Address,
    sender: Option<String>,
    ack_request: Option<bool>,
    status_text: Option<EncodedString>,
    applic_id: Option<String>,
    reply_applic_id: Option<String>,
    aux_applic_info: Option<String>,
}

fn report_fields(hd: &mut Headers) -> Result<ReportFields, Mm4Error> {
    let c = common(hd)?;
    let from = one_address(hd.addresses("From")?, "From", true)?;
    let to = one_address(hd.addresses("To")?, "To", false)?;
    let sender = hd.take("Sender").map(|v| system_address(&v));
    Ok(ReportFields {
        c,
        from,
        to,
        sender,
        ack_request: hd.take_parsed(h::ACK_REQUEST, parse_bool),
        status_text: hd.take(h::STATUS_TEXT).map(|v| decode_string(&v)),
        applic_id: hd.take_parsed(h::APPLIC_ID, parse_text),
        reply_applic_id: hd.take_parsed(h::REPLY_APPLIC_ID, parse_text),
        aux_applic_info: hd.take_parsed(h::AUX_APPLIC_INFO, parse_text),
    })
}

/// A `DeliveryReportReq` or a `ReadReplyReportReq` (same field names) from the shared
/// `report_fields`, the remaining headers and its own status field.
macro_rules! report_req {
    ($ty:ident, $msg:expr, $kind:literal, $f:ident, $hd:ident, $status:ident) => {
        $ty {
            rfc5322_message_id: rfc5322_id($msg, $kind, &$f.c.transaction_id),
            version: $f.c.version,
            transaction_id: $f.c.transaction_id,
            message_id: $f.c.message_id,
            from: $f.from,
            to: $f.to,
            sender: $f.sender,
            date: $f.c.date,
            ack_request: $f.ack_request,
            $status,
            status_text: $f.status_text,
            applic_id: $f.applic_id,
            reply_applic_id: $f.reply_applic_id,
            aux_applic_info: $f.aux_applic_info,
            extra: $hd.extra(),
        }
    };
}

fn decode_delivery_report(msg: &Message, mut hd: Headers) -> Result<DeliveryReportReq, Mm4Error> {
    let f = report_fields(&mut hd)?;
    let mm_status =
        hd.required_parsed(h::MM_STATUS_CODE, MmStatus::from_name, "not an MM status")?;
    Ok(report_req!(DeliveryReportReq, msg, "dr", f, hd, mm_status))
}

fn decode_read_reply(msg: &Message, mut hd: Headers) -> Result<ReadReplyReportReq, Mm4Error> {
    let f = report_fields(&mut hd)?;
    let read_status = hd.required_parsed(
        h::READ_STATUS,
        |v| ReadStatus::from_name(v.trim()),
        "not Read or Deleted without being read",
    )?;
    Ok(report_req!(
        ReadReplyReportReq,
        msg,
        "rr",
        f,
        hd,
        read_status
    ))
}

fn decode_response(msg: &Message, kind: &str, mut hd: Headers) -> Result<Response, Mm4Error> {
    let c = common(&mut hd)?;
    let from = system_address(&hd.required("From")?);
    let to = system_address(&hd.required("To")?);
    let request_status = hd.required_parsed(
        h::REQUEST_STATUS_CODE,
        RequestStatus::from_name,
        "not a TS 23.140 request status",
    )?;
    let status_text = hd.take(h::STATUS_TEXT).map(|v| decode_string(&v));
    Ok(Response {
        rfc5322_message_id: rfc5322_id(msg, kind, &c.transaction_id),
        version: c.version,
        transaction_id: c.transaction_id,
        message_id: c.message_id,
        from,
        to,
        date: c.date,
        request_status,
        status_text,
        extra: hd.extra(),
    })
}

/// The message types this crate reads, with their short names for derived Message-IDs.
const MESSAGE_TYPES: &[(&str, &str)] = &[
    ("MM4_forward.REQ", "fwd"),
    ("MM4_forward.RES", "fwdres"),
    ("MM4_delivery_report.REQ", "dr"),
    ("MM4_delivery_report.RES", "drres"),
    ("MM4_read_reply_report.REQ", "rr"),
    ("MM4_read_reply_report.RES", "rrres"),
];

/// Reads an MM4 message from its SMTP envelope and RFC 5322 bytes (TS 23.140 §8.4). The
/// envelope's RCPT TO become [`ForwardReq::rcpt_to`]. Never panics; every error maps to the
/// X-Mms-Request-Status-Code of the `.RES` with [`Mm4Error::request_status`].
pub fn decode(envelope: &Envelope, bytes: &[u8]) -> Result<Mm4Message, Mm4Error> {
    let msg = MessageParser::new()
        .parse(bytes)
        .ok_or(Mm4Error::NotRfc5322)?;
    if msg.headers().is_empty() {
        return Err(Mm4Error::NotRfc5322);
    }
    let mut hd = Headers::new(&msg);
    let mt = hd.take(h::MESSAGE_TYPE).ok_or(Mm4Error::MissingHeader {
        message_type: "MM4 message",
        header: h::MESSAGE_TYPE,
    })?;
    let (name, _) = MESSAGE_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(mt.trim()))
        .ok_or_else(|| Mm4Error::UnknownMessageType(mt.clone()))?;
    hd.message_type = name;
    Ok(match *name {
        "MM4_forward.REQ" => {
            Mm4Message::ForwardReq(Box::new(decode_forward_req(envelope, &msg, hd)?))
        }
        "MM4_forward.RES" => Mm4Message::ForwardRes(decode_response(&msg, "fwdres", hd)?),
        "MM4_delivery_report.REQ" => {
            Mm4Message::DeliveryReportReq(decode_delivery_report(&msg, hd)?)
        }
        "MM4_delivery_report.RES" => {
            Mm4Message::DeliveryReportRes(decode_response(&msg, "drres", hd)?)
        }
        "MM4_read_reply_report.REQ" => Mm4Message::ReadReplyReportReq(decode_read_reply(&msg, hd)?),
        _ => Mm4Message::ReadReplyReportRes(decode_response(&msg, "rrres", hd)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mms_pdu::{Body, ContentType, MediaType};

    fn forward() -> ForwardReq {
        let a = Mm4Address::parse("+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs").unwrap();
        ForwardReq {
            version: "6.16.0".into(),
            transaction_id: "t".into(),
            message_id: "m".into(),
            rfc5322_message_id: None,
            from: a.clone(),
            sender: None,
            to: vec![a.clone()],
            cc: vec![],
            rcpt_to: vec![a],
            date: 1_000_000_000,
            message_class: None,
            expiry: None,
            delivery_report: None,
            originator_rs_delivery_report: None,
            priority: None,
            sender_visibility: None,
            read_reply: None,
            subject: None,
            ack_request: None,
            forward_counter: None,
            previously_sent_by: vec![],
            previously_sent_date: vec![],
            originator_system: None,
            applic_id: None,
            reply_applic_id: None,
            aux_applic_info: None,
            content_class: None,
            drm_content: None,
            adaptation_allowed: None,
            extra: vec![],
            content_type: ContentType::new(MediaType::TEXT_PLAIN),
            body: Body::Single("hello".into()),
        }
    }

    fn wire(f: &ForwardReq) -> String {
        String::from_utf8(encode(&Mm4Message::from(f.clone())).1).unwrap()
    }

    fn back(text: &str) -> ForwardReq {
        let env = Envelope::default();
        match decode(&env, text.as_bytes()).unwrap() {
            Mm4Message::ForwardReq(f) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn res_goes_to_originator_system_then_sender_then_from_ts23140_8_4_1_2() {
        let mut f = forward();
        assert_eq!(
            Mm4Message::from(f.clone()).reply_to(),
            Some("+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs")
        );
        f.sender = Some("relay@mms.a.example".into());
        assert_eq!(
            Mm4Message::from(f.clone()).reply_to(),
            Some("relay@mms.a.example")
        );
        f.originator_system = Some("system@mms.a.example".into());
        let m = Mm4Message::from(f);
        assert_eq!(m.reply_to(), Some("system@mms.a.example"));
        let res = m
            .response(RequestStatus::Ok, "b@x.example", "a@y.example", 0)
            .unwrap();
        assert_eq!(res.reply_to(), None);
    }

    #[test]
    fn dates_after_year_3000_are_written_as_its_last_second() {
        let mut f = forward();
        f.date = u64::MAX;
        f.expiry = Some(TimeSpec::Absolute(u64::MAX));
        let b = back(&wire(&f));
        assert_eq!(
            (b.date, b.expiry),
            (MAX_DATE, Some(TimeSpec::Absolute(MAX_DATE)))
        );
    }

    #[test]
    fn expiry_is_a_date_or_delta_seconds_ts23140_8_4_1_1() {
        let mut f = forward();
        f.expiry = Some(TimeSpec::Relative(86_400));
        assert!(wire(&f).contains("\r\nX-Mms-Expiry: 86400\r\n"));
        f.expiry = Some(TimeSpec::Absolute(1_000_086_400));
        let w = wire(&f);
        assert!(
            w.contains("\r\nX-Mms-Expiry: Mon, 10 Sep 2001 01:46:40 +0000\r\n"),
            "{w}"
        );
        assert_eq!(back(&w).expiry, Some(TimeSpec::Absolute(1_000_086_400)));
    }

    #[test]
    fn yes_no_headers_accept_common_spellings() {
        let mut f = forward();
        f.delivery_report = Some(true);
        f.read_reply = Some(false);
        let w = wire(&f);
        assert!(
            w.contains("\r\nX-Mms-Delivery-Report: Yes\r\n")
                && w.contains("\r\nX-Mms-Read-Reply: No\r\n")
        );
        let w = w.replace("X-Mms-Delivery-Report: Yes", "x-mms-delivery-report: 1");
        assert_eq!(back(&w).delivery_report, Some(true));
    }

    #[test]
    fn previously_sent_headers_carry_counter_and_value() {
        let mut f = forward();
        f.previously_sent_by = vec![PreviouslySentBy {
            counter: 1,
            address: EncodedString::plain("+441/TYPE=PLMN"),
        }];
        f.previously_sent_date = vec![PreviouslySentDate {
            counter: 1,
            date: 0,
        }];
        let w = wire(&f);
        assert!(
            w.contains("\r\nX-Mms-Previously-sent-by: 1, +441/TYPE=PLMN\r\n"),
            "{w}"
        );
        assert!(
            w.contains(
                "\r\nX-Mms-Previously-sent-date-and-time: 1, Thu, 1 Jan 1970 00:00:00 +0000\r\n"
            ),
            "{w}"
        );
        f.rcpt_to.clear(); // decoded without an envelope
        assert_eq!(back(&w), f);
    }

    #[test]
    fn unknown_x_mms_headers_are_kept_others_dropped() {
        let w = wire(&forward()).replace(
            "X-Mms-Message-Type:",
            "X-Mms-VAS-ID: vas 1\r\nX-Spam-Score: 3\r\nX-Mms-Priority: Urgent\r\nX-Mms-Message-Type:",
        );
        let f = back(&w);
        assert_eq!(
            f.extra,
            vec![
                ("X-Mms-VAS-ID".into(), "vas 1".into()),
                ("X-Mms-Priority".into(), "Urgent".into())
            ]
        );
        assert_eq!(
            f.priority, None,
            "an unknown priority stays an extra header"
        );
        let again = back(&wire(&f));
        assert_eq!(again, f);
    }

    #[test]
    fn derived_message_id_reads_back_as_none_and_own_ids_are_kept() {
        let mut f = forward();
        let w = wire(&f);
        assert!(w.contains("Message-ID: <fwd.74@mm4.invalid>"), "{w}");
        assert_eq!(back(&w).rfc5322_message_id, None);
        f.rfc5322_message_id = Some("abc@a.example".into());
        assert_eq!(
            back(&wire(&f)).rfc5322_message_id.as_deref(),
            Some("abc@a.example")
        );
    }

    #[test]
    fn single_text_body_travels_7bit_and_binary_as_base64_rfc2045() {
        let mut f = forward();
        let w = wire(&f);
        assert!(
            w.contains("Content-Transfer-Encoding: 7bit\r\n\r\nhello"),
            "{w}"
        );
        f.content_type = ContentType::new(MediaType::from_name("image/png"));
        f.body = Body::Single(vec![0u8, 255, 10].into());
        let w = wire(&f);
        assert!(
            w.contains("Content-Transfer-Encoding: base64\r\n\r\nAP8K"),
            "{w}"
        );
        assert_eq!(back(&w).body, f.body);
    }
}
