//! The PDUs of MMS ENC 1.3 §6 (m-send-req 0x80 … m-cancel-conf 0x97): one typed struct each.
//!
//! Every struct lists its headers (MMS ENC 1.3 §6, Tables 1–26) as typed fields: a mandatory
//! header is a plain field, an optional one an `Option`, a repeatable one a `Vec`. Headers a PDU
//! does not define, unknown codes, application headers and repeats of single-valued headers go
//! to `extra` and are re-encoded. On encode X-Mms-Message-Type comes first, then the fields in
//! declaration order (Transaction-Id and MMS-Version lead), then `extra`, and Content-Type last,
//! followed by the body.

use crate::content::{Body, ContentType};
use crate::error::DecodeError;
use crate::header::{Header, HeaderName, name_of, next_header};
use crate::values::{
    CancelStatus, ContentClass, EncodedString, FromAddress, MboxCount, MessageClass, MessageType,
    MmFlag, MmState, MmsVersion, PreviouslySentBy, PreviouslySentDate, Priority, RawValue,
    ReadStatus, ReplyCharging, ResponseStatus, RetrievalMode, RetrieveStatus, SenderVisibility,
    Status, StoreStatus, TimeSpec, int_value, long_int, octet, text, yes_no,
};
use crate::wsp::{Reader, Result};
use bytes::Bytes;

/// Content-Type header code (MMS ENC 1.3 Table 12): always the last header, the body follows.
const CONTENT_TYPE: u8 = 0x04;
/// X-Mms-Message-Type header code.
const MESSAGE_TYPE: u8 = 0x0C;

/// A Content-Type with the body that follows it, for PDU types whose body is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    /// The Content-Type header.
    pub content_type: ContentType,
    /// The body.
    pub body: Body,
}

/// Decoded headers of one PDU before typing: name, raw value reader.
type RawHeaders<'a> = Vec<(HeaderName, Reader<'a>)>;

trait Slot<T> {
    fn is_full(&self) -> bool;
    fn put(&mut self, v: T);
}

impl<T> Slot<T> for Option<T> {
    fn is_full(&self) -> bool {
        self.is_some()
    }
    fn put(&mut self, v: T) {
        *self = Some(v);
    }
}

impl<T> Slot<T> for Vec<T> {
    fn is_full(&self) -> bool {
        false
    }
    fn put(&mut self, v: T) {
        self.push(v);
    }
}

fn raw_header(name: HeaderName, v: &Reader) -> Header {
    Header {
        name,
        value: v.all_bytes(),
    }
}

macro_rules! slot_ty {
    (one $t:ty) => { $t };
    (opt $t:ty) => { Option<$t> };
    (many $t:ty) => { Vec<$t> };
}

macro_rules! slot_tmp {
    (one $t:ty) => { Option<$t> };
    (opt $t:ty) => { Option<$t> };
    (many $t:ty) => { Vec<$t> };
}

macro_rules! slot_finish {
    (one $f:ident $code:literal $label:literal) => {
        $f.ok_or(DecodeError::MissingHeader {
            message_type: $label,
            header: name_of($code),
        })?
    };
    (opt $f:ident $code:literal $label:literal) => {
        $f
    };
    (many $f:ident $code:literal $label:literal) => {
        $f
    };
}

macro_rules! slot_encode {
    (one $v:expr, $code:literal, $codec:ident, $out:ident) => {{
        $out.push(0x80 | $code);
        $codec::encode($v, $out);
    }};
    (opt $v:expr, $code:literal, $codec:ident, $out:ident) => {
        if let Some(v) = $v {
            $out.push(0x80 | $code);
            $codec::encode(v, $out);
        }
    };
    (many $v:expr, $code:literal, $codec:ident, $out:ident) => {
        for v in $v {
            $out.push(0x80 | $code);
            $codec::encode(v, $out);
        }
    };
}

#[cfg(test)]
macro_rules! arb_slot {
    (one $t:ty) => {
        <$t as Arb>::arb()
    };
    (opt $t:ty) => {
        proptest::option::of(<$t as Arb>::arb())
    };
    (many $t:ty) => {
        proptest::collection::vec(<$t as Arb>::arb(), 0..3)
    };
}

#[cfg(test)]
macro_rules! body_arb {
    (none, $s:ident) => {
        $s
    };
    (required, $s:ident) => {
        ($s, crate::arb::content())
            .prop_map(|(mut p, c)| {
                p.content_type = c.content_type;
                p.body = c.body;
                p
            })
            .boxed()
    };
    (optional, $s:ident) => {
        ($s, proptest::option::of(crate::arb::content()))
            .prop_map(|(mut p, c)| {
                p.content = c;
                p
            })
            .boxed()
    };
}

macro_rules! pdu_struct {
    (none; $(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty ),* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: slot_ty!($kind $ty), )*
            /// Headers kept verbatim: not defined for this PDU type, unknown, or repeated. Headers
            /// that have a typed field here belong in that field (a decoder would move them there).
            pub extra: Vec<Header>,
        }
    };
    (required; $(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty ),* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: slot_ty!($kind $ty), )*
            /// Headers kept verbatim: not defined for this PDU type, unknown, or repeated. Headers
            /// that have a typed field here belong in that field (a decoder would move them there).
            pub extra: Vec<Header>,
            /// Content-Type (MMS ENC 1.3 §7.3.11), always the last header.
            pub content_type: ContentType,
            /// The message body: the parts of a multipart type, else a single body.
            pub body: Body,
        }
    };
    (optional; $(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty ),* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: slot_ty!($kind $ty), )*
            /// Headers kept verbatim: not defined for this PDU type, unknown, or repeated. Headers
            /// that have a typed field here belong in that field (a decoder would move them there).
            pub extra: Vec<Header>,
            /// Content-Type and body, when present.
            pub content: Option<Content>,
        }
    };
}

macro_rules! body_assign {
    (none, $pdu:ident, $content:ident, $label:literal) => {
        if let Some((at, _)) = $content {
            return Err(DecodeError::InvalidHeader {
                header: "Content-Type",
                at,
                reason: "this PDU type has no body",
            });
        }
    };
    (required, $pdu:ident, $content:ident, $label:literal) => {
        match $content {
            Some((_, c)) => {
                $pdu.content_type = c.content_type;
                $pdu.body = c.body;
            }
            None => {
                return Err(DecodeError::MissingHeader {
                    message_type: $label,
                    header: "Content-Type",
                })
            }
        }
    };
    (optional, $pdu:ident, $content:ident, $label:literal) => {
        $pdu.content = $content.map(|(_, c)| c);
    };
}

macro_rules! body_encode {
    (none, $pdu:ident, $out:ident) => {};
    (required, $pdu:ident, $out:ident) => {{
        $out.push(0x80 | CONTENT_TYPE);
        $pdu.content_type.encode($out);
        $pdu.body.encode($out);
    }};
    (optional, $pdu:ident, $out:ident) => {
        if let Some(c) = &$pdu.content {
            $out.push(0x80 | CONTENT_TYPE);
            c.content_type.encode($out);
            c.body.encode($out);
        }
    };
}

macro_rules! pdus {
    ($(
        $(#[$m:meta])*
        $name:ident = $mt:ident, $label:literal, body $body:ident {
            $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty = $code:literal via $codec:ident ),* $(,)?
        }
    )*) => {
        $(
            pdu_struct!($body; $(#[$m])* $name { $( $(#[$fm])* $field : $kind $ty ),* });

            impl $name {
                /// The X-Mms-Message-Type of this PDU.
                pub const MESSAGE_TYPE: MessageType = MessageType::$mt;

                #[allow(clippy::needless_update, unused_mut, unused_variables)]
                fn from_raw(headers: RawHeaders<'_>, content: Option<(usize, Content)>) -> Result<Self> {
                    $( let mut $field: slot_tmp!($kind $ty) = Default::default(); )*
                    let mut extra = Vec::new();
                    for (name, v) in headers {
                        let code = match name {
                            HeaderName::WellKnown(c) => c,
                            HeaderName::Text(_) => {
                                extra.push(raw_header(name, &v));
                                continue;
                            }
                        };
                        match code {
                            $( $code => {
                                if $field.is_full() {
                                    extra.push(raw_header(name, &v));
                                } else {
                                    let mut r = v.clone();
                                    $field.put($codec::decode(&mut r).map_err(|e| e.in_header(name_of($code)))?);
                                }
                            } )*
                            _ => extra.push(raw_header(name, &v)),
                        }
                    }
                    let mut pdu = $name {
                        $( $field: slot_finish!($kind $field $code $label), )*
                        extra,
                        ..Default::default()
                    };
                    body_assign!($body, pdu, content, $label);
                    Ok(pdu)
                }

                fn encode_fields(&self, out: &mut Vec<u8>) {
                    $( slot_encode!($kind &self.$field, $code, $codec, out); )*
                    for h in &self.extra {
                        h.encode(out);
                    }
                    body_encode!($body, self, out);
                }
            }

            #[cfg(test)]
            impl $name {
                /// A proptest strategy over every field of this PDU type.
                pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                    use proptest::prelude::*;
                    #[allow(unused_imports)]
                    use crate::arb::Arb;
                    let s = Just(Self::default()).boxed();
                    $( let s = (s, arb_slot!($kind $ty)).prop_map(|(mut p, v)| { p.$field = v; p }).boxed(); )*
                    let s = (s, crate::arb::extra()).prop_map(|(mut p, e)| { p.extra = e; p }).boxed();
                    body_arb!($body, s)
                }
            }

            impl From<$name> for Pdu {
                fn from(p: $name) -> Pdu {
                    Pdu::$name(p)
                }
            }
        )*

        /// An MMS PDU of any type (MMS ENC 1.3 §6).
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Pdu {
            $( $(#[$m])* $name($name), )*
        }

        impl Pdu {
            /// The X-Mms-Message-Type.
            pub fn message_type(&self) -> MessageType {
                match self { $( Pdu::$name(_) => MessageType::$mt, )* }
            }

            /// A proptest strategy over every PDU type.
            #[cfg(test)]
            pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Pdu> {
                use proptest::prelude::*;
                proptest::strategy::Union::new(vec![ $( $name::arb().prop_map(Pdu::$name).boxed() ),* ]).boxed()
            }

            fn encode_fields(&self, out: &mut Vec<u8>) {
                match self { $( Pdu::$name(p) => p.encode_fields(out), )* }
            }

            fn from_raw(mt: MessageType, headers: RawHeaders<'_>, content: Option<(usize, Content)>) -> Result<Pdu> {
                $( if mt == MessageType::$mt { return $name::from_raw(headers, content).map(Pdu::$name); } )*
                Err(DecodeError::UnknownMessageType { value: mt.0 })
            }
        }
    };
}

pdus! {
    /// m-send-req (0x80, MMS ENC 1.3 §6.1.1, Table 1): a UA submits a message.
    SendReq = SEND_REQ, "m-send-req", body required {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Date (seconds since the epoch).
        date: opt u64 = 0x05 via long_int,
        /// From (mandatory; usually the insert-address token).
        from: one FromAddress = 0x09 via FromAddress,
        /// To.
        to: many EncodedString = 0x17 via EncodedString,
        /// Cc.
        cc: many EncodedString = 0x02 via EncodedString,
        /// Bcc.
        bcc: many EncodedString = 0x01 via EncodedString,
        /// Subject.
        subject: opt EncodedString = 0x16 via EncodedString,
        /// X-Mms-Message-Class.
        message_class: opt MessageClass = 0x0A via MessageClass,
        /// X-Mms-Expiry.
        expiry: opt TimeSpec = 0x08 via TimeSpec,
        /// X-Mms-Delivery-Time.
        delivery_time: opt TimeSpec = 0x07 via TimeSpec,
        /// X-Mms-Priority.
        priority: opt Priority = 0x0F via Priority,
        /// X-Mms-Sender-Visibility.
        sender_visibility: opt SenderVisibility = 0x14 via SenderVisibility,
        /// X-Mms-Delivery-Report.
        delivery_report: opt bool = 0x06 via yes_no,
        /// X-Mms-Read-Report.
        read_report: opt bool = 0x10 via yes_no,
        /// X-Mms-Reply-Charging.
        reply_charging: opt ReplyCharging = 0x1C via ReplyCharging,
        /// X-Mms-Reply-Charging-Deadline.
        reply_charging_deadline: opt TimeSpec = 0x1D via TimeSpec,
        /// X-Mms-Reply-Charging-Size.
        reply_charging_size: opt u64 = 0x1F via long_int,
        /// X-Mms-Reply-Charging-ID.
        reply_charging_id: opt String = 0x1E via text,
        /// X-Mms-Store.
        store: opt bool = 0x22 via yes_no,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// X-Mms-Content-Class.
        content_class: opt ContentClass = 0x3A via ContentClass,
        /// X-Mms-DRM-Content.
        drm_content: opt bool = 0x3B via yes_no,
        /// X-Mms-Adaptation-Allowed.
        adaptation_allowed: opt bool = 0x3C via yes_no,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-send-conf (0x81, MMS ENC 1.3 §6.1.2, Table 2): the relay's answer to m-send-req.
    SendConf = SEND_CONF, "m-send-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Response-Status.
        response_status: one ResponseStatus = 0x12 via ResponseStatus,
        /// X-Mms-Response-Text.
        response_text: opt EncodedString = 0x13 via EncodedString,
        /// Message-ID.
        message_id: opt String = 0x0B via text,
        /// X-Mms-Content-Location (MMBox).
        content_location: opt String = 0x03 via text,
        /// X-Mms-Store-Status.
        store_status: opt StoreStatus = 0x25 via StoreStatus,
        /// X-Mms-Store-Status-Text.
        store_status_text: opt EncodedString = 0x26 via EncodedString,
    }

    /// m-notification-ind (0x82, MMS ENC 1.3 §6.2, Table 3): tells a UA a message waits.
    NotificationInd = NOTIFICATION_IND, "m-notification-ind", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// From.
        from: opt FromAddress = 0x09 via FromAddress,
        /// Subject.
        subject: opt EncodedString = 0x16 via EncodedString,
        /// X-Mms-Delivery-Report.
        delivery_report: opt bool = 0x06 via yes_no,
        /// X-Mms-Stored.
        stored: opt bool = 0x27 via yes_no,
        /// X-Mms-Message-Class.
        message_class: one MessageClass = 0x0A via MessageClass,
        /// X-Mms-Priority.
        priority: opt Priority = 0x0F via Priority,
        /// X-Mms-Message-Size.
        message_size: one u64 = 0x0E via long_int,
        /// X-Mms-Expiry.
        expiry: one TimeSpec = 0x08 via TimeSpec,
        /// X-Mms-Reply-Charging.
        reply_charging: opt ReplyCharging = 0x1C via ReplyCharging,
        /// X-Mms-Reply-Charging-Deadline.
        reply_charging_deadline: opt TimeSpec = 0x1D via TimeSpec,
        /// X-Mms-Reply-Charging-Size.
        reply_charging_size: opt u64 = 0x1F via long_int,
        /// X-Mms-Reply-Charging-ID.
        reply_charging_id: opt String = 0x1E via text,
        /// X-Mms-Content-Location: where the UA fetches the message.
        content_location: one String = 0x03 via text,
        /// X-Mms-Distribution-Indicator.
        distribution_indicator: opt bool = 0x31 via yes_no,
        /// X-Mms-Element-Descriptor (kept raw).
        element_descriptor: opt RawValue = 0x32 via RawValue,
        /// X-Mms-Recommended-Retrieval-Mode.
        recommended_retrieval_mode: opt RetrievalMode = 0x34 via RetrievalMode,
        /// X-Mms-Recommended-Retrieval-Mode-Text.
        recommended_retrieval_mode_text: opt EncodedString = 0x35 via EncodedString,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
        /// X-Mms-Content-Class.
        content_class: opt ContentClass = 0x3A via ContentClass,
        /// X-Mms-DRM-Content.
        drm_content: opt bool = 0x3B via yes_no,
        /// X-Mms-Replace-ID.
        replace_id: opt String = 0x3D via text,
    }

    /// m-notifyresp-ind (0x83, MMS ENC 1.3 §6.2, Table 4): the UA's answer to a notification.
    NotifyRespInd = NOTIFYRESP_IND, "m-notifyresp-ind", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Status.
        status: one Status = 0x15 via Status,
        /// X-Mms-Report-Allowed.
        report_allowed: opt bool = 0x11 via yes_no,
    }

    /// m-retrieve-conf (0x84, MMS ENC 1.3 §6.3, Table 5): the message a UA fetched.
    RetrieveConf = RETRIEVE_CONF, "m-retrieve-conf", body required {
        /// X-Mms-Transaction-Id (only when answering a retrieval with a transaction).
        transaction_id: opt String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Message-ID.
        message_id: opt String = 0x0B via text,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// From.
        from: opt FromAddress = 0x09 via FromAddress,
        /// X-Mms-Previously-Sent-By.
        previously_sent_by: many PreviouslySentBy = 0x20 via PreviouslySentBy,
        /// X-Mms-Previously-Sent-Date.
        previously_sent_date: many PreviouslySentDate = 0x21 via PreviouslySentDate,
        /// To.
        to: many EncodedString = 0x17 via EncodedString,
        /// Cc.
        cc: many EncodedString = 0x02 via EncodedString,
        /// Subject.
        subject: opt EncodedString = 0x16 via EncodedString,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// X-Mms-Message-Class.
        message_class: opt MessageClass = 0x0A via MessageClass,
        /// X-Mms-Priority.
        priority: opt Priority = 0x0F via Priority,
        /// X-Mms-Delivery-Report.
        delivery_report: opt bool = 0x06 via yes_no,
        /// X-Mms-Read-Report.
        read_report: opt bool = 0x10 via yes_no,
        /// X-Mms-Reply-Charging.
        reply_charging: opt ReplyCharging = 0x1C via ReplyCharging,
        /// X-Mms-Reply-Charging-Deadline.
        reply_charging_deadline: opt TimeSpec = 0x1D via TimeSpec,
        /// X-Mms-Reply-Charging-Size.
        reply_charging_size: opt u64 = 0x1F via long_int,
        /// X-Mms-Reply-Charging-ID.
        reply_charging_id: opt String = 0x1E via text,
        /// X-Mms-Retrieve-Status.
        retrieve_status: opt RetrieveStatus = 0x19 via RetrieveStatus,
        /// X-Mms-Retrieve-Text.
        retrieve_text: opt EncodedString = 0x1A via EncodedString,
        /// X-Mms-Distribution-Indicator.
        distribution_indicator: opt bool = 0x31 via yes_no,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
        /// X-Mms-Content-Class.
        content_class: opt ContentClass = 0x3A via ContentClass,
        /// X-Mms-DRM-Content.
        drm_content: opt bool = 0x3B via yes_no,
        /// X-Mms-Replace-ID.
        replace_id: opt String = 0x3D via text,
    }

    /// m-acknowledge-ind (0x85, MMS ENC 1.3 §6.4, Table 6): the UA confirms a retrieval.
    AcknowledgeInd = ACKNOWLEDGE_IND, "m-acknowledge-ind", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Report-Allowed.
        report_allowed: opt bool = 0x11 via yes_no,
    }

    /// m-delivery-ind (0x86, MMS ENC 1.3 §6.6, Table 7): a delivery report to the sender.
    DeliveryInd = DELIVERY_IND, "m-delivery-ind", body none {
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Message-ID of the reported message.
        message_id: one String = 0x0B via text,
        /// To: the recipient the report is about.
        to: many EncodedString = 0x17 via EncodedString,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// X-Mms-Status.
        status: one Status = 0x15 via Status,
        /// X-Mms-Status-Text.
        status_text: opt EncodedString = 0x36 via EncodedString,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-read-rec-ind (0x87, MMS ENC 1.3 §6.7.2, Table 8): the recipient's UA reports a read.
    ReadRecInd = READ_REC_IND, "m-read-rec-ind", body none {
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Message-ID.
        message_id: one String = 0x0B via text,
        /// To: the original sender.
        to: many EncodedString = 0x17 via EncodedString,
        /// From: the reader.
        from: opt FromAddress = 0x09 via FromAddress,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// X-Mms-Read-Status.
        read_status: one ReadStatus = 0x1B via ReadStatus,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-read-orig-ind (0x88, MMS ENC 1.3 §6.7.2, Table 9): the relay relays a read report.
    ReadOrigInd = READ_ORIG_IND, "m-read-orig-ind", body none {
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Message-ID.
        message_id: one String = 0x0B via text,
        /// To: the original sender.
        to: many EncodedString = 0x17 via EncodedString,
        /// From: the reader.
        from: opt FromAddress = 0x09 via FromAddress,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// X-Mms-Read-Status.
        read_status: one ReadStatus = 0x1B via ReadStatus,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-forward-req (0x89, MMS ENC 1.3 §6.5.1, Table 10): forward a stored message.
    ForwardReq = FORWARD_REQ, "m-forward-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// From.
        from: one FromAddress = 0x09 via FromAddress,
        /// To.
        to: many EncodedString = 0x17 via EncodedString,
        /// Cc.
        cc: many EncodedString = 0x02 via EncodedString,
        /// Bcc.
        bcc: many EncodedString = 0x01 via EncodedString,
        /// X-Mms-Expiry.
        expiry: opt TimeSpec = 0x08 via TimeSpec,
        /// X-Mms-Delivery-Time.
        delivery_time: opt TimeSpec = 0x07 via TimeSpec,
        /// X-Mms-Report-Allowed.
        report_allowed: opt bool = 0x11 via yes_no,
        /// X-Mms-Delivery-Report.
        delivery_report: opt bool = 0x06 via yes_no,
        /// X-Mms-Read-Report.
        read_report: opt bool = 0x10 via yes_no,
        /// X-Mms-Store.
        store: opt bool = 0x22 via yes_no,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// X-Mms-Content-Location of the message to forward.
        content_location: one String = 0x03 via text,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-forward-conf (0x8A, MMS ENC 1.3 §6.5.2, Table 11).
    ForwardConf = FORWARD_CONF, "m-forward-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Response-Status.
        response_status: one ResponseStatus = 0x12 via ResponseStatus,
        /// X-Mms-Response-Text.
        response_text: opt EncodedString = 0x13 via EncodedString,
        /// Message-ID.
        message_id: opt String = 0x0B via text,
        /// X-Mms-Content-Location.
        content_location: opt String = 0x03 via text,
        /// X-Mms-Store-Status.
        store_status: opt StoreStatus = 0x25 via StoreStatus,
        /// X-Mms-Store-Status-Text.
        store_status_text: opt EncodedString = 0x26 via EncodedString,
    }

    /// m-mbox-store-req (0x8B, MMS ENC 1.3 §6.8).
    MboxStoreReq = MBOX_STORE_REQ, "m-mbox-store-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location.
        content_location: one String = 0x03 via text,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
    }

    /// m-mbox-store-conf (0x8C, MMS ENC 1.3 §6.8).
    MboxStoreConf = MBOX_STORE_CONF, "m-mbox-store-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location.
        content_location: opt String = 0x03 via text,
        /// X-Mms-Store-Status.
        store_status: one StoreStatus = 0x25 via StoreStatus,
        /// X-Mms-Store-Status-Text.
        store_status_text: opt EncodedString = 0x26 via EncodedString,
    }

    /// m-mbox-view-req (0x8D, MMS ENC 1.3 §6.9).
    MboxViewReq = MBOX_VIEW_REQ, "m-mbox-view-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location (messages to view).
        content_location: many String = 0x03 via text,
        /// X-Mms-MM-State (selection).
        mm_state: many MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags (selection).
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// X-Mms-Start.
        start: opt u64 = 0x2F via int_value,
        /// X-Mms-Limit.
        limit: opt u64 = 0x33 via int_value,
        /// X-Mms-Attributes: header codes (with the high bit) to return.
        attributes: many u8 = 0x28 via octet,
        /// X-Mms-Totals.
        totals: opt bool = 0x29 via yes_no,
        /// X-Mms-Quotas.
        quotas: opt bool = 0x2B via yes_no,
    }

    /// m-mbox-view-conf (0x8E, MMS ENC 1.3 §6.9): a multipart body of m-mbox-descr PDUs.
    MboxViewConf = MBOX_VIEW_CONF, "m-mbox-view-conf", body optional {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Response-Status.
        response_status: one ResponseStatus = 0x12 via ResponseStatus,
        /// X-Mms-Response-Text.
        response_text: opt EncodedString = 0x13 via EncodedString,
        /// X-Mms-Content-Location.
        content_location: many String = 0x03 via text,
        /// X-Mms-MM-State.
        mm_state: many MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// X-Mms-Start.
        start: opt u64 = 0x2F via int_value,
        /// X-Mms-Limit.
        limit: opt u64 = 0x33 via int_value,
        /// X-Mms-Attributes.
        attributes: many u8 = 0x28 via octet,
        /// X-Mms-Message-Count.
        message_count: opt u64 = 0x2D via int_value,
        /// X-Mms-Mbox-Totals.
        mbox_totals: many MboxCount = 0x2A via MboxCount,
        /// X-Mms-Mbox-Quotas.
        mbox_quotas: many MboxCount = 0x2C via MboxCount,
    }

    /// m-mbox-upload-req (0x8F, MMS ENC 1.3 §6.10): store a message in the MMBox.
    MboxUploadReq = MBOX_UPLOAD_REQ, "m-mbox-upload-req", body required {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
    }

    /// m-mbox-upload-conf (0x90, MMS ENC 1.3 §6.10).
    MboxUploadConf = MBOX_UPLOAD_CONF, "m-mbox-upload-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location.
        content_location: opt String = 0x03 via text,
        /// X-Mms-Store-Status.
        store_status: one StoreStatus = 0x25 via StoreStatus,
        /// X-Mms-Store-Status-Text.
        store_status_text: opt EncodedString = 0x26 via EncodedString,
    }

    /// m-mbox-delete-req (0x91, MMS ENC 1.3 §6.11).
    MboxDeleteReq = MBOX_DELETE_REQ, "m-mbox-delete-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location (messages to delete).
        content_location: many String = 0x03 via text,
    }

    /// m-mbox-delete-conf (0x92, MMS ENC 1.3 §6.11): values may carry an index, so kept raw.
    MboxDeleteConf = MBOX_DELETE_CONF, "m-mbox-delete-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location values (optionally indexed; raw).
        content_location: many RawValue = 0x03 via RawValue,
        /// X-Mms-Response-Status values (optionally indexed; raw).
        response_status: many RawValue = 0x12 via RawValue,
        /// X-Mms-Response-Text values (optionally indexed; raw).
        response_text: many RawValue = 0x13 via RawValue,
    }

    /// m-mbox-descr (0x93, MMS ENC 1.3 §6.9): one MMBox entry inside m-mbox-view-conf.
    MboxDescr = MBOX_DESCR, "m-mbox-descr", body optional {
        /// X-Mms-Transaction-Id.
        transaction_id: opt String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: opt MmsVersion = 0x0D via MmsVersion,
        /// Message-ID.
        message_id: opt String = 0x0B via text,
        /// X-Mms-Content-Location.
        content_location: opt String = 0x03 via text,
        /// X-Mms-MM-State.
        mm_state: opt MmState = 0x23 via MmState,
        /// X-Mms-MM-Flags.
        mm_flags: many MmFlag = 0x24 via MmFlag,
        /// Date.
        date: opt u64 = 0x05 via long_int,
        /// From.
        from: opt FromAddress = 0x09 via FromAddress,
        /// To.
        to: many EncodedString = 0x17 via EncodedString,
        /// Cc.
        cc: many EncodedString = 0x02 via EncodedString,
        /// Bcc.
        bcc: many EncodedString = 0x01 via EncodedString,
        /// X-Mms-Message-Class.
        message_class: opt MessageClass = 0x0A via MessageClass,
        /// Subject.
        subject: opt EncodedString = 0x16 via EncodedString,
        /// X-Mms-Priority.
        priority: opt Priority = 0x0F via Priority,
        /// X-Mms-Delivery-Time.
        delivery_time: opt TimeSpec = 0x07 via TimeSpec,
        /// X-Mms-Expiry.
        expiry: opt TimeSpec = 0x08 via TimeSpec,
        /// X-Mms-Delivery-Report.
        delivery_report: opt bool = 0x06 via yes_no,
        /// X-Mms-Read-Report.
        read_report: opt bool = 0x10 via yes_no,
        /// X-Mms-Message-Size.
        message_size: opt u64 = 0x0E via long_int,
        /// X-Mms-Reply-Charging.
        reply_charging: opt ReplyCharging = 0x1C via ReplyCharging,
        /// X-Mms-Reply-Charging-Deadline.
        reply_charging_deadline: opt TimeSpec = 0x1D via TimeSpec,
        /// X-Mms-Reply-Charging-Size.
        reply_charging_size: opt u64 = 0x1F via long_int,
        /// X-Mms-Reply-Charging-ID.
        reply_charging_id: opt String = 0x1E via text,
        /// X-Mms-Previously-Sent-By.
        previously_sent_by: many PreviouslySentBy = 0x20 via PreviouslySentBy,
        /// X-Mms-Previously-Sent-Date.
        previously_sent_date: many PreviouslySentDate = 0x21 via PreviouslySentDate,
        /// X-Mms-Content-Class.
        content_class: opt ContentClass = 0x3A via ContentClass,
        /// X-Mms-DRM-Content.
        drm_content: opt bool = 0x3B via yes_no,
        /// X-Mms-Applic-ID.
        applic_id: opt String = 0x37 via text,
        /// X-Mms-Reply-Applic-ID.
        reply_applic_id: opt String = 0x38 via text,
        /// X-Mms-Aux-Applic-Info.
        aux_applic_info: opt String = 0x39 via text,
    }

    /// m-delete-req (0x94, MMS ENC 1.3 §6.12): delete messages from the relay.
    DeleteReq = DELETE_REQ, "m-delete-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location (messages to delete).
        content_location: many String = 0x03 via text,
    }

    /// m-delete-conf (0x95, MMS ENC 1.3 §6.12): values may carry an index, so kept raw.
    DeleteConf = DELETE_CONF, "m-delete-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Content-Location values (optionally indexed; raw).
        content_location: many RawValue = 0x03 via RawValue,
        /// X-Mms-Response-Status values (optionally indexed; raw).
        response_status: many RawValue = 0x12 via RawValue,
        /// X-Mms-Response-Text values (optionally indexed; raw).
        response_text: many RawValue = 0x13 via RawValue,
    }

    /// m-cancel-req (0x96, MMS ENC 1.3 §6.13): the relay cancels a pending message.
    CancelReq = CANCEL_REQ, "m-cancel-req", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Cancel-ID: the Message-ID being cancelled.
        cancel_id: one String = 0x3E via text,
    }

    /// m-cancel-conf (0x97, MMS ENC 1.3 §6.13).
    CancelConf = CANCEL_CONF, "m-cancel-conf", body none {
        /// X-Mms-Transaction-Id.
        transaction_id: one String = 0x18 via text,
        /// X-Mms-MMS-Version.
        version: one MmsVersion = 0x0D via MmsVersion,
        /// X-Mms-Cancel-Status.
        cancel_status: opt CancelStatus = 0x3F via CancelStatus,
    }
}

impl Pdu {
    /// Decodes one PDU (MMS ENC 1.3 §7). Part bodies and raw values are zero-copy slices of
    /// `bytes`. Trailing NUL octets after the last header of a body-less PDU are ignored (sent
    /// by some real phones). Never panics.
    pub fn decode(bytes: &Bytes) -> std::result::Result<Pdu, DecodeError> {
        let mut r = Reader::new(bytes);
        let first = r.u8()?;
        if first != 0x80 | MESSAGE_TYPE {
            return Err(DecodeError::NotMmsPdu { found: first });
        }
        let at = r.pos();
        let mt = r.u8()?;
        if mt < 0x80 {
            return Err(DecodeError::InvalidHeader {
                header: "X-Mms-Message-Type",
                at,
                reason: "expected a short-integer",
            });
        }
        let mt = MessageType(mt);
        if mt.name().is_none() {
            return Err(DecodeError::UnknownMessageType { value: mt.0 });
        }
        let mut headers: RawHeaders = Vec::with_capacity(16);
        let mut content = None;
        while !r.is_empty() {
            let b = r.peek()?;
            if b == 0x80 | CONTENT_TYPE {
                let at = r.pos();
                r.u8()?;
                let content_type =
                    ContentType::decode(&mut r).map_err(|e| e.in_header("Content-Type"))?;
                let body = Body::decode(&mut r, &content_type)?;
                content = Some((at, Content { content_type, body }));
                break;
            }
            if b == 0 && r.rest().iter().all(|&x| x == 0) {
                break;
            }
            headers.push(next_header(&mut r)?);
        }
        Pdu::from_raw(mt, headers, content)
    }

    /// Decodes from a slice (copies it once into a `Bytes`).
    pub fn decode_slice(bytes: &[u8]) -> std::result::Result<Pdu, DecodeError> {
        Pdu::decode(&Bytes::copy_from_slice(bytes))
    }

    /// Encodes the PDU: X-Mms-Message-Type, then the typed headers in field order, the
    /// verbatim `extra` headers, and Content-Type with the body last (MMS ENC 1.3 §7).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded PDU to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(0x80 | MESSAGE_TYPE);
        out.push(self.message_type().0);
        self.encode_fields(out);
    }

    fn encoded_len_hint(&self) -> usize {
        let body = match self {
            Pdu::SendReq(p) => p.body.encoded_len_hint(),
            Pdu::RetrieveConf(p) => p.body.encoded_len_hint(),
            Pdu::MboxUploadReq(p) => p.body.encoded_len_hint(),
            _ => 0,
        };
        256 + body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// MMS ENC 1.3 §7: every PDU type survives encode → decode unchanged.
        #[test]
        fn every_pdu_type_round_trips_through_the_wire_form(pdu in Pdu::arb()) {
            let wire = Bytes::from(pdu.encode());
            let back = Pdu::decode(&wire);
            prop_assert_eq!(back, Ok(pdu));
        }

        /// Whatever decodes, re-encodes to something that decodes to the same PDU; nothing panics.
        #[test]
        fn decodable_bytes_re_encode_to_the_same_pdu(tail in proptest::collection::vec(any::<u8>(), 0..64), mt in 0x80u8..0x98) {
            let mut input = vec![0x8C, mt];
            input.extend_from_slice(&tail);
            if let Ok(pdu) = Pdu::decode(&Bytes::from(input)) {
                let again = Pdu::decode(&Bytes::from(pdu.encode()));
                prop_assert_eq!(again, Ok(pdu));
            }
        }

        /// A strict prefix of a valid body-less PDU with a mandatory last header is incomplete or
        /// misses a header; it never panics.
        #[test]
        fn truncation_never_panics(pdu in Pdu::arb(), cut in any::<prop::sample::Index>()) {
            let wire = pdu.encode();
            let n = cut.index(wire.len());
            let _ = Pdu::decode(&Bytes::copy_from_slice(&wire[..n]));
        }
    }

    #[test]
    fn send_req_missing_from_names_the_header_mms_enc_6_1_1() {
        // 8C 80 | 98 "1" 00 | 8D 92 | 84 A3 (multipart.mixed) | 00 parts
        let b = Bytes::from_static(&[0x8C, 0x80, 0x98, b'1', 0x00, 0x8D, 0x92, 0x84, 0xA3, 0x00]);
        assert_eq!(
            Pdu::decode(&b),
            Err(DecodeError::MissingHeader {
                message_type: "m-send-req",
                header: "From"
            })
        );
    }

    #[test]
    fn first_header_must_be_message_type() {
        assert_eq!(
            Pdu::decode_slice(b"This is not a PDU"),
            Err(DecodeError::NotMmsPdu { found: b'T' })
        );
        assert_eq!(
            Pdu::decode_slice(&[]),
            Err(DecodeError::Incomplete { at: 0, needed: 1 })
        );
        assert_eq!(
            Pdu::decode_slice(&[0x8C, 0xFF]),
            Err(DecodeError::UnknownMessageType { value: 0xFF })
        );
    }

    #[test]
    fn malformed_expiry_names_header_and_offset_mms_enc_7_3_20() {
        // notification with Expiry token 0x82 (neither absolute nor relative) at offset 6.
        let b = Bytes::from_static(&[0x8C, 0x82, 0x98, b'1', 0x00, 0x88, 0x02, 0x82, 0x01]);
        assert_eq!(
            Pdu::decode(&b),
            Err(DecodeError::InvalidHeader {
                header: "X-Mms-Expiry",
                at: 7,
                reason: "expected absolute (0x80) or relative (0x81) token"
            })
        );
    }

    #[test]
    fn truncated_header_value_is_incomplete() {
        let b = Bytes::from_static(&[0x8C, 0x82, 0x98, b'1']);
        assert_eq!(
            Pdu::decode(&b),
            Err(DecodeError::Incomplete { at: 4, needed: 1 })
        );
    }

    #[test]
    fn trailing_nuls_after_last_header_are_ignored() {
        let b = Bytes::from_static(&[0x8C, 0x85, 0x98, b'1', 0x00, 0x8D, 0x91, 0x00, 0x00]);
        let Ok(Pdu::AcknowledgeInd(ack)) = Pdu::decode(&b) else {
            panic!("not an ack")
        };
        assert_eq!(ack.transaction_id, "1");
        assert_eq!(ack.version, MmsVersion::V1_1);
    }

    #[test]
    fn header_order_on_encode_is_type_tid_version_first_content_type_last() {
        let req = SendReq {
            transaction_id: "t".into(),
            to: vec![EncodedString::plain("+491/TYPE=PLMN")],
            extra: vec![Header::text("X-Custom", "v")],
            ..Default::default()
        };
        let wire = Pdu::from(req).encode();
        assert_eq!(&wire[..6], &[0x8C, 0x80, 0x98, b't', 0x00, 0x8D]);
        let ct = wire.iter().rposition(|&b| b == 0x84).unwrap();
        assert_eq!(&wire[ct..], &[0x84, 0xA3, 0x00]);
        assert!(wire.windows(8).any(|w| w == b"X-Custom"));
    }
}
