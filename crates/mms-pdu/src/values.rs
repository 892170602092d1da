//! Typed MMS header values (MMS ENC 1.3 §7.3) and their wire codecs.

use crate::error::DecodeError;
use crate::wsp::{self, Reader, Result};
use bytes::Bytes;

/// A character set by its IANA MIBenum (WAP-230 §8.4.2.8, Well-known-charset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Charset(pub u32);

impl Charset {
    /// Any-charset (WAP-230: octet 128, i.e. value 0).
    pub const ANY: Charset = Charset(0);
    /// US-ASCII (MIBenum 3).
    pub const US_ASCII: Charset = Charset(3);
    /// ISO-8859-1 (MIBenum 4).
    pub const ISO_8859_1: Charset = Charset(4);
    /// UTF-8 (MIBenum 106, DESIGN.md §10).
    pub const UTF_8: Charset = Charset(106);
    /// ISO-10646-UCS-2 (MIBenum 1000).
    pub const UCS_2: Charset = Charset(1000);
    /// UTF-16 with byte-order mark (MIBenum 1015).
    pub const UTF_16: Charset = Charset(1015);
    /// UTF-16BE (MIBenum 1013).
    pub const UTF_16BE: Charset = Charset(1013);
    /// UTF-16LE (MIBenum 1014).
    pub const UTF_16LE: Charset = Charset(1014);

    /// The preferred MIME name of the well-known charsets, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "*",
            3 => "us-ascii",
            4 => "iso-8859-1",
            106 => "utf-8",
            1000 => "iso-10646-ucs-2",
            1013 => "utf-16be",
            1014 => "utf-16le",
            1015 => "utf-16",
            _ => return None,
        })
    }

    /// Looks a charset up by MIME name (case-insensitive), for the well-known ones.
    pub fn from_name(name: &str) -> Option<Charset> {
        let n = name.to_ascii_lowercase();
        Some(Charset(match n.as_str() {
            "*" => 0,
            "us-ascii" | "ascii" => 3,
            "iso-8859-1" | "latin1" => 4,
            "utf-8" | "utf8" => 106,
            "iso-10646-ucs-2" | "ucs-2" => 1000,
            "utf-16be" => 1013,
            "utf-16le" => 1014,
            "utf-16" => 1015,
            _ => return None,
        }))
    }

    /// Decodes `bytes` in this charset: UTF-8, US-ASCII, ISO-8859-1, UTF-16/UCS-2 (BOM honoured,
    /// big-endian without one). Returns `None` for a charset this crate cannot decode.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self.0 {
            0 | 3 | 106 => Some(String::from_utf8_lossy(strip_utf8_bom(bytes)).into_owned()),
            4 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            1000 | 1013 | 1014 | 1015 => Some(decode_utf16(bytes, self.0 == 1014)),
            _ => None,
        }
    }
}

fn strip_utf8_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b)
}

fn decode_utf16(bytes: &[u8], default_le: bool) -> String {
    let (le, body) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        _ => (default_le, bytes),
    };
    let units = body.chunks_exact(2).map(|c| {
        let pair = [c[0], c[1]];
        if le {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Encoded-string-value (MMS ENC 1.3 §7.2.9, WAP-230 §8.4.2.1): text with an optional charset.
///
/// The octets are kept exactly as received (so a charset this crate cannot decode survives a
/// re-encode); [`EncodedString::text`] decodes them. On the wire the text is NUL-terminated, so
/// octets from an embedded NUL on are not carried.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EncodedString {
    /// The charset, or `None` for a plain Text-string (US-ASCII / UTF-8 by convention).
    pub charset: Option<Charset>,
    /// The text octets, without Quote and terminating NUL.
    pub bytes: Bytes,
}

impl EncodedString {
    /// A plain Text-string without charset.
    pub fn plain(text: impl Into<String>) -> Self {
        EncodedString {
            charset: None,
            bytes: Bytes::from(text.into().into_bytes()),
        }
    }

    /// A UTF-8 (106) encoded string.
    pub fn utf8(text: impl Into<String>) -> Self {
        EncodedString {
            charset: Some(Charset::UTF_8),
            bytes: Bytes::from(text.into().into_bytes()),
        }
    }

    /// The text decoded per its charset; undecodable charsets fall back to lossy UTF-8.
    pub fn text(&self) -> String {
        self.charset
            .unwrap_or(Charset::UTF_8)
            .decode(&self.bytes)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.bytes).into_owned())
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let b = r.peek()?;
        if b <= wsp::LENGTH_QUOTE {
            let mut v = r.value_length_sub()?;
            if v.is_empty() {
                // Value-length 0: no charset and no text (seen from real relays).
                return Ok(EncodedString {
                    charset: None,
                    bytes: Bytes::new(),
                });
            }
            let charset = Charset(
                u32::try_from(v.integer_value()?).map_err(|_| v.malformed("charset too large"))?,
            );
            let bytes = if v.is_empty() {
                Bytes::new()
            } else {
                v.text_bytes()?
            };
            Ok(EncodedString {
                charset: Some(charset),
                bytes,
            })
        } else {
            Ok(EncodedString {
                charset: None,
                bytes: r.text_bytes()?,
            })
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self.charset {
            None => wsp::put_text(out, &self.bytes),
            Some(cs) => wsp::put_with_length(out, |o| {
                wsp::put_integer_value(o, u64::from(cs.0));
                wsp::put_text(o, &self.bytes);
            }),
        }
    }
}

/// From-value (MMS ENC 1.3 §7.3.21): Value-length (Address-present-token Encoded-string-value |
/// Insert-address-token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FromAddress {
    /// The sender's address as written (token 0x80).
    Present(EncodedString),
    /// The relay is asked to insert the sender's address (token 0x81).
    InsertAddressToken,
}

impl Default for FromAddress {
    /// Insert-address-token: the relay fills in the sender.
    fn default() -> Self {
        FromAddress::InsertAddressToken
    }
}

impl FromAddress {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        match v.u8()? {
            0x80 => Ok(FromAddress::Present(EncodedString::decode(&mut v)?)),
            0x81 => Ok(FromAddress::InsertAddressToken),
            _ => Err(DecodeError::Malformed {
                at: v.pos() - 1,
                reason: "expected address-present (0x80) or insert-address (0x81) token",
            }),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| match self {
            FromAddress::Present(s) => {
                o.push(0x80);
                s.encode(o);
            }
            FromAddress::InsertAddressToken => o.push(0x81),
        });
    }
}

/// Expiry / Delivery-Time / Reply-Charging-Deadline value (MMS ENC 1.3 §7.3.20, §7.3.12):
/// Value-length (Absolute-token Date-value | Relative-token Delta-seconds-value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeSpec {
    /// Seconds since 1970-01-01T00:00:00Z (token 0x80).
    Absolute(u64),
    /// Seconds from now (token 0x81).
    Relative(u64),
}

impl Default for TimeSpec {
    /// Relative, zero seconds.
    fn default() -> Self {
        TimeSpec::Relative(0)
    }
}

impl TimeSpec {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        match v.u8()? {
            0x80 => Ok(TimeSpec::Absolute(v.long_integer()?)),
            0x81 => Ok(TimeSpec::Relative(v.integer_value()?)),
            _ => Err(DecodeError::Malformed {
                at: v.pos() - 1,
                reason: "expected absolute (0x80) or relative (0x81) token",
            }),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| match *self {
            TimeSpec::Absolute(t) => {
                o.push(0x80);
                wsp::put_long_integer(o, t);
            }
            TimeSpec::Relative(s) => {
                o.push(0x81);
                wsp::put_integer_value(o, s);
            }
        });
    }
}

/// X-Mms-Message-Class (MMS ENC 1.3 §7.3.27): Class-identifier | Token-text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageClass {
    /// Personal (128).
    Personal,
    /// Advertisement (129).
    Advertisement,
    /// Informational (130).
    Informational,
    /// Auto (131).
    Auto,
    /// A class given as token text.
    Token(String),
}

impl Default for MessageClass {
    /// Personal.
    fn default() -> Self {
        MessageClass::Personal
    }
}

impl MessageClass {
    /// The class as MMS writes it in text form (`Personal`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            MessageClass::Personal => "Personal",
            MessageClass::Advertisement => "Advertisement",
            MessageClass::Informational => "Informational",
            MessageClass::Auto => "Auto",
            MessageClass::Token(t) => t,
        }
    }

    /// Parses the text form; the four class identifiers map to their codes.
    pub fn from_text(s: &str) -> MessageClass {
        match s.to_ascii_lowercase().as_str() {
            "personal" => MessageClass::Personal,
            "advertisement" => MessageClass::Advertisement,
            "informational" => MessageClass::Informational,
            "auto" => MessageClass::Auto,
            _ => MessageClass::Token(s.to_owned()),
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        if r.peek()? & 0x80 != 0 {
            let at = r.pos();
            match r.u8()? {
                0x80 => Ok(MessageClass::Personal),
                0x81 => Ok(MessageClass::Advertisement),
                0x82 => Ok(MessageClass::Informational),
                0x83 => Ok(MessageClass::Auto),
                _ => Err(DecodeError::Malformed {
                    at,
                    reason: "unknown class identifier",
                }),
            }
        } else {
            Ok(MessageClass::Token(r.text()?))
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MessageClass::Personal => out.push(0x80),
            MessageClass::Advertisement => out.push(0x81),
            MessageClass::Informational => out.push(0x82),
            MessageClass::Auto => out.push(0x83),
            MessageClass::Token(t) => wsp::put_text(out, t.as_bytes()),
        }
    }
}

/// X-Mms-MMS-Version (MMS ENC 1.3 §7.3.34): major in bits 6–4, minor in bits 3–0 (15 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MmsVersion {
    /// Major version (0–7).
    pub major: u8,
    /// Minor version (0–14; 15 means "unspecified").
    pub minor: u8,
}

impl Default for MmsVersion {
    /// MMS 1.2, the version nearly every deployed phone understands.
    fn default() -> Self {
        MmsVersion::V1_2
    }
}

impl MmsVersion {
    /// MMS 1.0 (0x90).
    pub const V1_0: MmsVersion = MmsVersion { major: 1, minor: 0 };
    /// MMS 1.1 (0x91).
    pub const V1_1: MmsVersion = MmsVersion { major: 1, minor: 1 };
    /// MMS 1.2 (0x92).
    pub const V1_2: MmsVersion = MmsVersion { major: 1, minor: 2 };
    /// MMS 1.3 (0x93).
    pub const V1_3: MmsVersion = MmsVersion { major: 1, minor: 3 };

    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        if r.peek()? & 0x80 != 0 {
            let v = r.short_integer()?;
            return Ok(MmsVersion {
                major: (v >> 4) & 0x07,
                minor: v & 0x0F,
            });
        }
        // Version-value text form ("1.2"), WAP-230 §8.4.2.3.
        let at = r.pos();
        let t = r.text()?;
        let mut it = t.splitn(2, '.');
        let major = it
            .next()
            .and_then(|m| m.trim().parse::<u8>().ok())
            .filter(|m| *m <= 7);
        let minor = match it.next() {
            Some(m) => m.trim().parse::<u8>().ok().filter(|m| *m <= 14),
            None => Some(15),
        };
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(MmsVersion { major, minor }),
            _ => Err(DecodeError::Malformed {
                at,
                reason: "version text is not major.minor",
            }),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x80 | ((self.major & 0x07) << 4) | (self.minor & 0x0F));
    }
}

impl std::fmt::Display for MmsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.minor == 15 {
            write!(f, "{}", self.major)
        } else {
            write!(f, "{}.{}", self.major, self.minor)
        }
    }
}

macro_rules! octet_value {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:literal => $s:literal),* $(,)? }) => {
        $(#[$m])*
        ///
        /// A newtype over the value octet (≥ 0x80) so values a later spec adds survive decoding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$cm])* #[doc = concat!("`", $s, "` (", stringify!($v), ").")] pub const $c: $name = $name($v);)*

            /// The value's name as the spec writes it, if this crate knows it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some($s),)* _ => None }
            }

            /// Looks a value up by its spec name (case-insensitive).
            pub fn from_name(s: &str) -> Option<$name> {
                $(if s.eq_ignore_ascii_case($s) { return Some($name($v)); })*
                None
            }

            #[allow(dead_code)]
            pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
                Ok($name(r.short_integer()? | 0x80))
            }

            #[allow(dead_code)]
            pub(crate) fn encode(&self, out: &mut Vec<u8>) {
                out.push(self.0 | 0x80);
            }
        }

        impl Default for $name {
            /// The first assigned value (128).
            fn default() -> Self {
                $name(0x80)
            }
        }
    };
}

octet_value! {
    /// X-Mms-Message-Type (MMS ENC 1.3 §7.3.30).
    MessageType {
        SEND_REQ = 0x80 => "m-send-req",
        SEND_CONF = 0x81 => "m-send-conf",
        NOTIFICATION_IND = 0x82 => "m-notification-ind",
        NOTIFYRESP_IND = 0x83 => "m-notifyresp-ind",
        RETRIEVE_CONF = 0x84 => "m-retrieve-conf",
        ACKNOWLEDGE_IND = 0x85 => "m-acknowledge-ind",
        DELIVERY_IND = 0x86 => "m-delivery-ind",
        READ_REC_IND = 0x87 => "m-read-rec-ind",
        READ_ORIG_IND = 0x88 => "m-read-orig-ind",
        FORWARD_REQ = 0x89 => "m-forward-req",
        FORWARD_CONF = 0x8A => "m-forward-conf",
        MBOX_STORE_REQ = 0x8B => "m-mbox-store-req",
        MBOX_STORE_CONF = 0x8C => "m-mbox-store-conf",
        MBOX_VIEW_REQ = 0x8D => "m-mbox-view-req",
        MBOX_VIEW_CONF = 0x8E => "m-mbox-view-conf",
        MBOX_UPLOAD_REQ = 0x8F => "m-mbox-upload-req",
        MBOX_UPLOAD_CONF = 0x90 => "m-mbox-upload-conf",
        MBOX_DELETE_REQ = 0x91 => "m-mbox-delete-req",
        MBOX_DELETE_CONF = 0x92 => "m-mbox-delete-conf",
        MBOX_DESCR = 0x93 => "m-mbox-descr",
        DELETE_REQ = 0x94 => "m-delete-req",
        DELETE_CONF = 0x95 => "m-delete-conf",
        CANCEL_REQ = 0x96 => "m-cancel-req",
        CANCEL_CONF = 0x97 => "m-cancel-conf",
    }
}

octet_value! {
    /// X-Mms-Priority (MMS ENC 1.3 §7.3.40).
    Priority { LOW = 128 => "Low", NORMAL = 129 => "Normal", HIGH = 130 => "High" }
}

octet_value! {
    /// X-Mms-Response-Status (MMS ENC 1.3 §7.3.48): 128 Ok, 192–223 transient, 224–255 permanent.
    ResponseStatus {
        OK = 128 => "Ok",
        ERROR_UNSPECIFIED = 129 => "Error-unspecified",
        ERROR_SERVICE_DENIED = 130 => "Error-service-denied",
        ERROR_MESSAGE_FORMAT_CORRUPT = 131 => "Error-message-format-corrupt",
        ERROR_SENDING_ADDRESS_UNRESOLVED = 132 => "Error-sending-address-unresolved",
        ERROR_MESSAGE_NOT_FOUND = 133 => "Error-message-not-found",
        ERROR_NETWORK_PROBLEM = 134 => "Error-network-problem",
        ERROR_CONTENT_NOT_ACCEPTED = 135 => "Error-content-not-accepted",
        ERROR_UNSUPPORTED_MESSAGE = 136 => "Error-unsupported-message",
        ERROR_TRANSIENT_FAILURE = 192 => "Error-transient-failure",
        ERROR_TRANSIENT_SENDING_ADDRESS_UNRESOLVED = 193 => "Error-transient-sending-address-unresolved",
        ERROR_TRANSIENT_MESSAGE_NOT_FOUND = 194 => "Error-transient-message-not-found",
        ERROR_TRANSIENT_NETWORK_PROBLEM = 195 => "Error-transient-network-problem",
        ERROR_TRANSIENT_PARTIAL_SUCCESS = 196 => "Error-transient-partial-success",
        ERROR_PERMANENT_FAILURE = 224 => "Error-permanent-failure",
        ERROR_PERMANENT_SERVICE_DENIED = 225 => "Error-permanent-service-denied",
        ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT = 226 => "Error-permanent-message-format-corrupt",
        ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED = 227 => "Error-permanent-sending-address-unresolved",
        ERROR_PERMANENT_MESSAGE_NOT_FOUND = 228 => "Error-permanent-message-not-found",
        ERROR_PERMANENT_CONTENT_NOT_ACCEPTED = 229 => "Error-permanent-content-not-accepted",
        ERROR_PERMANENT_REPLY_CHARGING_LIMITATIONS_NOT_MET = 230 => "Error-permanent-reply-charging-limitations-not-met",
        ERROR_PERMANENT_REPLY_CHARGING_REQUEST_NOT_ACCEPTED = 231 => "Error-permanent-reply-charging-request-not-accepted",
        ERROR_PERMANENT_REPLY_CHARGING_FORWARDING_DENIED = 232 => "Error-permanent-reply-charging-forwarding-denied",
        ERROR_PERMANENT_REPLY_CHARGING_NOT_SUPPORTED = 233 => "Error-permanent-reply-charging-not-supported",
        ERROR_PERMANENT_ADDRESS_HIDING_NOT_SUPPORTED = 234 => "Error-permanent-address-hiding-not-supported",
        ERROR_PERMANENT_LACK_OF_PREPAID = 235 => "Error-permanent-lack-of-prepaid",
    }
}

impl ResponseStatus {
    /// 128 Ok.
    pub fn is_ok(self) -> bool {
        self.0 == 128
    }
    /// 192–223: the client may retry later (MMS ENC 1.3 §7.3.48).
    pub fn is_transient(self) -> bool {
        (192..=223).contains(&self.0)
    }
    /// 224–255, and the obsolete 129–136 codes: do not retry.
    pub fn is_permanent(self) -> bool {
        self.0 >= 224 || (129..=191).contains(&self.0)
    }
}

octet_value! {
    /// X-Mms-Retrieve-Status (MMS ENC 1.3 §7.3.50).
    RetrieveStatus {
        OK = 128 => "Ok",
        ERROR_TRANSIENT_FAILURE = 192 => "Error-transient-failure",
        ERROR_TRANSIENT_MESSAGE_NOT_FOUND = 193 => "Error-transient-message-not-found",
        ERROR_TRANSIENT_NETWORK_PROBLEM = 194 => "Error-transient-network-problem",
        ERROR_PERMANENT_FAILURE = 224 => "Error-permanent-failure",
        ERROR_PERMANENT_SERVICE_DENIED = 225 => "Error-permanent-service-denied",
        ERROR_PERMANENT_MESSAGE_NOT_FOUND = 226 => "Error-permanent-message-not-found",
        ERROR_PERMANENT_CONTENT_UNSUPPORTED = 227 => "Error-permanent-content-unsupported",
    }
}

octet_value! {
    /// X-Mms-Status (MMS ENC 1.3 §7.3.54), in m-notifyresp-ind and m-delivery-ind.
    Status {
        EXPIRED = 128 => "Expired",
        RETRIEVED = 129 => "Retrieved",
        REJECTED = 130 => "Rejected",
        DEFERRED = 131 => "Deferred",
        UNRECOGNISED = 132 => "Unrecognised",
        INDETERMINATE = 133 => "Indeterminate",
        FORWARDED = 134 => "Forwarded",
        UNREACHABLE = 135 => "Unreachable",
    }
}

octet_value! {
    /// X-Mms-Read-Status (MMS ENC 1.3 §7.3.46).
    ReadStatus { READ = 128 => "Read", DELETED_WITHOUT_BEING_READ = 129 => "Deleted without being read" }
}

octet_value! {
    /// X-Mms-Sender-Visibility (MMS ENC 1.3 §7.3.52).
    SenderVisibility { HIDE = 128 => "Hide", SHOW = 129 => "Show" }
}

octet_value! {
    /// X-Mms-Reply-Charging (MMS ENC 1.3 §7.3.43).
    ReplyCharging {
        REQUESTED = 128 => "Requested",
        REQUESTED_TEXT_ONLY = 129 => "Requested text only",
        ACCEPTED = 130 => "Accepted",
        ACCEPTED_TEXT_ONLY = 131 => "Accepted text only",
    }
}

octet_value! {
    /// X-Mms-MM-State (MMS ENC 1.3 §7.3.33).
    MmState { DRAFT = 128 => "Draft", SENT = 129 => "Sent", NEW = 130 => "New", RETRIEVED = 131 => "Retrieved", FORWARDED = 132 => "Forwarded" }
}

octet_value! {
    /// X-Mms-Store-Status (MMS ENC 1.3 §7.3.58).
    StoreStatus {
        SUCCESS = 128 => "Success",
        ERROR_TRANSIENT_FAILURE = 192 => "Error-transient-failure",
        ERROR_TRANSIENT_NETWORK_PROBLEM = 193 => "Error-transient-network-problem",
        ERROR_PERMANENT_FAILURE = 224 => "Error-permanent-failure",
        ERROR_PERMANENT_SERVICE_DENIED = 225 => "Error-permanent-service-denied",
        ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT = 226 => "Error-permanent-message-format-corrupt",
        ERROR_PERMANENT_MESSAGE_NOT_FOUND = 227 => "Error-permanent-message-not-found",
        ERROR_PERMANENT_MMBOX_FULL = 228 => "Error-permanent-mmbox-full",
    }
}

octet_value! {
    /// X-Mms-Recommended-Retrieval-Mode (MMS ENC 1.3 §7.3.47).
    RetrievalMode { MANUAL = 128 => "Manual" }
}

octet_value! {
    /// X-Mms-Content-Class (MMS ENC 1.3 §7.3.9).
    ContentClass {
        TEXT = 128 => "text",
        IMAGE_BASIC = 129 => "image-basic",
        IMAGE_RICH = 130 => "image-rich",
        VIDEO_BASIC = 131 => "video-basic",
        VIDEO_RICH = 132 => "video-rich",
        MEGAPIXEL = 133 => "megapixel",
        CONTENT_BASIC = 134 => "content-basic",
        CONTENT_RICH = 135 => "content-rich",
    }
}

octet_value! {
    /// X-Mms-Cancel-Status (MMS ENC 1.3 §7.3.7).
    CancelStatus { RECEIVED = 128 => "Cancel Request Successfully received", CORRUPTED = 129 => "Cancel Request corrupted" }
}

/// Yes (128) / No (129) (MMS ENC 1.3 §7.3.13 and others) as a `bool`.
pub(crate) mod yes_no {
    use super::*;

    pub(crate) fn decode(r: &mut Reader) -> Result<bool> {
        let at = r.pos();
        match r.u8()? {
            0x80 => Ok(true),
            0x81 => Ok(false),
            _ => Err(DecodeError::Malformed {
                at,
                reason: "expected Yes (0x80) or No (0x81)",
            }),
        }
    }

    pub(crate) fn encode(v: &bool, out: &mut Vec<u8>) {
        out.push(if *v { 0x80 } else { 0x81 });
    }
}

/// X-Mms-Previously-Sent-By (MMS ENC 1.3 §7.3.39): Value-length Forward-counter Encoded-string-value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PreviouslySentBy {
    /// Forward counter (Integer-value).
    pub counter: u64,
    /// The address that forwarded the message.
    pub address: EncodedString,
}

impl PreviouslySentBy {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        Ok(PreviouslySentBy {
            counter: v.integer_value()?,
            address: EncodedString::decode(&mut v)?,
        })
    }
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| {
            wsp::put_integer_value(o, self.counter);
            self.address.encode(o);
        });
    }
}

/// X-Mms-Previously-Sent-Date (MMS ENC 1.3 §7.3.40): Value-length Forward-counter Date-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PreviouslySentDate {
    /// Forward counter (Integer-value).
    pub counter: u64,
    /// Seconds since the epoch.
    pub date: u64,
}

impl PreviouslySentDate {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        Ok(PreviouslySentDate {
            counter: v.integer_value()?,
            date: v.long_integer()?,
        })
    }
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| {
            wsp::put_integer_value(o, self.counter);
            wsp::put_long_integer(o, self.date);
        });
    }
}

/// X-Mms-MM-Flags (MMS ENC 1.3 §7.3.32): Value-length (Add 128 | Remove 129 | Filter 130) flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MmFlag {
    /// The token octet: 128 add, 129 remove, 130 filter.
    pub token: u8,
    /// The keyword.
    pub flag: EncodedString,
}

impl MmFlag {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        Ok(MmFlag {
            token: v.short_integer()? | 0x80,
            flag: EncodedString::decode(&mut v)?,
        })
    }
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| {
            o.push(self.token | 0x80);
            self.flag.encode(o);
        });
    }
}

/// X-Mms-Mbox-Totals / X-Mms-Mbox-Quotas (MMS ENC 1.3 §7.3.25–26):
/// Value-length (Message-total-token 128 | Size-total-token 129) Integer-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MboxCount {
    /// Number of messages (token 128).
    Messages(u64),
    /// Octets (token 129).
    Bytes(u64),
}

impl MboxCount {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let mut v = r.value_length_sub()?;
        let at = v.pos();
        match v.u8()? {
            0x80 => Ok(MboxCount::Messages(v.integer_value()?)),
            0x81 => Ok(MboxCount::Bytes(v.integer_value()?)),
            _ => Err(DecodeError::Malformed {
                at,
                reason: "expected message-total (0x80) or size-total (0x81) token",
            }),
        }
    }
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        wsp::put_with_length(out, |o| match *self {
            MboxCount::Messages(n) => {
                o.push(0x80);
                wsp::put_integer_value(o, n);
            }
            MboxCount::Bytes(n) => {
                o.push(0x81);
                wsp::put_integer_value(o, n);
            }
        });
    }
}

/// Text-string header values (Transaction-Id, Message-ID, Content-Location, ...).
pub(crate) mod text {
    use super::*;
    pub(crate) fn decode(r: &mut Reader) -> Result<String> {
        r.text()
    }
    pub(crate) fn encode(v: &str, out: &mut Vec<u8>) {
        wsp::put_text(out, v.as_bytes());
    }
}

/// Long-integer header values (Date, Message-Size, Reply-Charging-Size).
pub(crate) mod long_int {
    use super::*;
    pub(crate) fn decode(r: &mut Reader) -> Result<u64> {
        r.long_integer()
    }
    pub(crate) fn encode(v: &u64, out: &mut Vec<u8>) {
        wsp::put_long_integer(out, *v);
    }
}

/// Integer-value header values (Message-Count, Start, Limit).
pub(crate) mod int_value {
    use super::*;
    pub(crate) fn decode(r: &mut Reader) -> Result<u64> {
        r.integer_value()
    }
    pub(crate) fn encode(v: &u64, out: &mut Vec<u8>) {
        wsp::put_integer_value(out, *v);
    }
}

/// Short-integer header values kept as the full octet (X-Mms-Attributes: a header code).
pub(crate) mod octet {
    use super::*;
    pub(crate) fn decode(r: &mut Reader) -> Result<u8> {
        Ok(r.short_integer()? | 0x80)
    }
    pub(crate) fn encode(v: &u8, out: &mut Vec<u8>) {
        out.push(*v | 0x80);
    }
}

/// A header value kept as its raw wire octets (general form, WAP-230 §8.4.1.2) for headers whose
/// structure this crate does not model (Element-Descriptor, indexed mbox-delete values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawValue(pub Bytes);

impl Default for RawValue {
    /// An empty Value-length value.
    fn default() -> Self {
        RawValue(Bytes::from_static(&[0]))
    }
}

impl RawValue {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.remaining();
        Ok(RawValue(r.take(n)?))
    }
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_over(b: &'static [u8]) -> Bytes {
        Bytes::from_static(b)
    }

    #[test]
    fn encoded_string_with_long_integer_charset_wap230_8_4_2_1() {
        // Value-length 6, charset 1015 as Long-integer (02 03 F7), text "ab".
        let b = reader_over(&[0x06, 0x02, 0x03, 0xF7, b'a', b'b', 0x00]);
        let e = EncodedString::decode(&mut Reader::new(&b)).unwrap();
        assert_eq!(e.charset, Some(Charset::UTF_16));
        assert_eq!(&e.bytes[..], b"ab");
        let mut out = Vec::new();
        e.encode(&mut out);
        assert_eq!(out, [0x06, 0x02, 0x03, 0xF7, b'a', b'b', 0x00]);
    }

    #[test]
    fn encoded_string_plain_text_and_short_charset() {
        let b = reader_over(b"+4917612345678/TYPE=PLMN\0");
        let e = EncodedString::decode(&mut Reader::new(&b)).unwrap();
        assert_eq!(
            (e.charset, e.text()),
            (None, "+4917612345678/TYPE=PLMN".to_owned())
        );
        let b = reader_over(&[0x04, 0xEA, 0xC3, 0xA9, 0x00]);
        assert_eq!(
            EncodedString::decode(&mut Reader::new(&b)).unwrap().text(),
            "é"
        );
    }

    #[test]
    fn charsets_decode_latin1_and_utf16_by_bom() {
        assert_eq!(Charset::ISO_8859_1.decode(&[0x47, 0xE5]).unwrap(), "Gå");
        assert_eq!(
            Charset::UTF_16.decode(&[0xFF, 0xFE, 0x41, 0x00]).unwrap(),
            "A"
        );
        assert_eq!(
            Charset::UTF_16.decode(&[0xFE, 0xFF, 0x00, 0x41]).unwrap(),
            "A"
        );
        assert_eq!(Charset::UTF_16.decode(&[0x00, 0x41]).unwrap(), "A");
        assert_eq!(
            Charset::UTF_8.decode(&[0xEF, 0xBB, 0xBF, b'x']).unwrap(),
            "x"
        );
        assert_eq!(Charset(2026).decode(b"x"), None);
        let unknown = EncodedString {
            charset: Some(Charset(2026)),
            bytes: Bytes::from_static(b"raw"),
        };
        assert_eq!(unknown.text(), "raw");
    }

    #[test]
    fn from_value_tokens_mms_enc_7_3_21() {
        let b = reader_over(&[0x01, 0x81]);
        assert_eq!(
            FromAddress::decode(&mut Reader::new(&b)).unwrap(),
            FromAddress::InsertAddressToken
        );
        let b = reader_over(&[0x04, 0x80, b'a', b'b', 0x00]);
        assert_eq!(
            FromAddress::decode(&mut Reader::new(&b)).unwrap(),
            FromAddress::Present(EncodedString::plain("ab"))
        );
        let b = reader_over(&[0x01, 0x82]);
        assert!(matches!(
            FromAddress::decode(&mut Reader::new(&b)),
            Err(DecodeError::Malformed { at: 1, .. })
        ));
    }

    #[test]
    fn time_spec_absolute_and_relative_mms_enc_7_3_20() {
        let b = reader_over(&[0x03, 0x81, 0x01, 0x80]);
        assert_eq!(
            TimeSpec::decode(&mut Reader::new(&b)).unwrap(),
            TimeSpec::Relative(128)
        );
        let b = reader_over(&[0x02, 0x81, 0x83]);
        assert_eq!(
            TimeSpec::decode(&mut Reader::new(&b)).unwrap(),
            TimeSpec::Relative(3)
        );
        let mut out = Vec::new();
        TimeSpec::Absolute(0x5E00_0000).encode(&mut out);
        assert_eq!(out, [0x06, 0x80, 0x04, 0x5E, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn version_short_integer_and_text_forms_mms_enc_7_3_34() {
        let b = reader_over(&[0x92]);
        assert_eq!(
            MmsVersion::decode(&mut Reader::new(&b)).unwrap(),
            MmsVersion::V1_2
        );
        let b = reader_over(b"1.3\0");
        assert_eq!(
            MmsVersion::decode(&mut Reader::new(&b)).unwrap(),
            MmsVersion::V1_3
        );
        assert_eq!(
            MmsVersion {
                major: 1,
                minor: 15
            }
            .to_string(),
            "1"
        );
    }

    #[test]
    fn message_class_identifier_or_token_mms_enc_7_3_27() {
        let b = reader_over(&[0x83]);
        assert_eq!(
            MessageClass::decode(&mut Reader::new(&b)).unwrap(),
            MessageClass::Auto
        );
        let b = reader_over(b"Premium\0");
        assert_eq!(
            MessageClass::decode(&mut Reader::new(&b)).unwrap(),
            MessageClass::Token("Premium".into())
        );
        let b = reader_over(&[0x84]);
        assert!(MessageClass::decode(&mut Reader::new(&b)).is_err());
    }

    #[test]
    fn response_status_classes_mms_enc_7_3_48() {
        assert!(ResponseStatus::OK.is_ok());
        assert!(ResponseStatus::ERROR_TRANSIENT_NETWORK_PROBLEM.is_transient());
        assert_eq!(ResponseStatus::ERROR_TRANSIENT_NETWORK_PROBLEM.0, 195);
        assert!(ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED.is_permanent());
        assert_eq!(
            ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED.0,
            227
        );
        assert_eq!(
            ResponseStatus(0xE3).name(),
            Some("Error-permanent-sending-address-unresolved")
        );
        assert_eq!(Status::from_name("retrieved"), Some(Status::RETRIEVED));
    }
}
