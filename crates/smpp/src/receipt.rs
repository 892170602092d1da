//! SMPP 3.4 Appendix B: the SMSC delivery receipt carried in a deliver_sm short_message,
//! `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E Text:...`,
//! with the receipted_message_id TLV (§5.3.2.12) preferred for the id when present.

use thiserror::Error;

use crate::pdu::{SubmitSm, tag};

/// Final state of a message (SMPP 3.4 Appendix B `stat:` and §5.2.28 message_state).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageState {
    /// DELIVRD.
    Delivered,
    /// EXPIRED.
    Expired,
    /// DELETED.
    Deleted,
    /// UNDELIV.
    Undeliverable,
    /// ACCEPTD.
    Accepted,
    /// UNKNOWN.
    Unknown,
    /// REJECTD.
    Rejected,
    /// ENROUTE.
    Enroute,
    /// Any other text.
    Other(String),
}

impl MessageState {
    fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "DELIVRD" => MessageState::Delivered,
            "EXPIRED" => MessageState::Expired,
            "DELETED" => MessageState::Deleted,
            "UNDELIV" => MessageState::Undeliverable,
            "ACCEPTD" => MessageState::Accepted,
            "UNKNOWN" => MessageState::Unknown,
            "REJECTD" => MessageState::Rejected,
            "ENROUTE" => MessageState::Enroute,
            _ => MessageState::Other(s.to_owned()),
        }
    }
}

/// A parsed delivery receipt (SMPP 3.4 Appendix B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The message id the SMSC returned in submit_sm_resp.
    pub id: String,
    /// `sub:` number of short messages originally submitted.
    pub submitted: Option<u32>,
    /// `dlvrd:` number delivered.
    pub delivered: Option<u32>,
    /// `submit date:` YYMMDDhhmm as written.
    pub submit_date: Option<String>,
    /// `done date:` YYMMDDhhmm as written.
    pub done_date: Option<String>,
    /// `stat:` final state.
    pub state: MessageState,
    /// `err:` network specific error code as written.
    pub error: Option<String>,
    /// `Text:` the first characters of the message.
    pub text: Option<String>,
}

/// Why a deliver_sm is not a usable delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// esm_class does not mark it as an SMSC delivery receipt (§5.2.12).
    #[error("deliver_sm is not a delivery receipt")]
    NotAReceipt,
    /// The short_message is not text.
    #[error("receipt text is not UTF-8")]
    NotText,
    /// Neither `id:` nor receipted_message_id is present.
    #[error("receipt has no message id")]
    MissingId,
    /// No `stat:` field.
    #[error("receipt has no state")]
    MissingState,
}

const KEYS: [&str; 8] = [
    "id:",
    "sub:",
    "dlvrd:",
    "submit date:",
    "done date:",
    "stat:",
    "err:",
    "text:",
];

/// Parses the receipt text of Appendix B; fields may appear in any order, keys case-insensitive.
pub fn parse_receipt_text(text: &str) -> Result<DeliveryReceipt, ReceiptError> {
    let lower = text.to_ascii_lowercase();
    // (position of key, index into KEYS)
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (k, key) in KEYS.iter().enumerate() {
        let mut from = 0;
        while let Some(p) = lower.get(from..).and_then(|s| s.find(key)) {
            let pos = from + p;
            let at_boundary = pos == 0 || lower.as_bytes().get(pos - 1) == Some(&b' ');
            // "id:" inside "...id:" of another key is not a key of its own
            if at_boundary && !found.iter().any(|(_, j)| *j == k) {
                found.push((pos, k));
                break;
            }
            from = pos + key.len();
        }
    }
    found.sort_unstable();
    // once Text: starts, everything after it belongs to the text
    if let Some(i) = found.iter().position(|(_, k)| *k == 7) {
        found.truncate(i + 1);
    }
    let mut values: [Option<String>; 8] = Default::default();
    for (i, (pos, k)) in found.iter().enumerate() {
        let start = pos + KEYS[*k].len();
        let end = found.get(i + 1).map_or(text.len(), |(p, _)| *p);
        let value = text.get(start..end).unwrap_or_default();
        values[*k] = Some(if *k == 7 {
            value.to_owned()
        } else {
            value.trim().to_owned()
        });
    }
    let [id, sub, dlvrd, submit_date, done_date, stat, err, body] = values;
    Ok(DeliveryReceipt {
        id: id
            .filter(|s| !s.is_empty())
            .ok_or(ReceiptError::MissingId)?,
        submitted: sub.and_then(|s| s.parse().ok()),
        delivered: dlvrd.and_then(|s| s.parse().ok()),
        submit_date,
        done_date,
        state: stat
            .filter(|s| !s.is_empty())
            .map(|s| MessageState::parse(&s))
            .ok_or(ReceiptError::MissingState)?,
        error: err,
        text: body,
    })
}

impl DeliveryReceipt {
    /// Reads the receipt from a deliver_sm (§4.6.1): esm_class must mark a delivery receipt; the
    /// receipted_message_id TLV, when present, wins over the `id:` in the text.
    pub fn from_deliver_sm(sm: &SubmitSm) -> Result<Self, ReceiptError> {
        if !sm.is_delivery_receipt() {
            return Err(ReceiptError::NotAReceipt);
        }
        let tlv_id = sm
            .tlv(tag::RECEIPTED_MESSAGE_ID)
            .map(|v| v.strip_suffix(&[0]).unwrap_or(v))
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let text = std::str::from_utf8(&sm.short_message).map_err(|_| ReceiptError::NotText)?;
        match parse_receipt_text(text) {
            Ok(mut r) => {
                if let Some(id) = tlv_id {
                    r.id = id;
                }
                Ok(r)
            }
            Err(ReceiptError::MissingId) if tlv_id.is_some() => {
                let mut with_id = format!("id:{} ", tlv_id.unwrap_or_default());
                with_id.push_str(text);
                parse_receipt_text(&with_id)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn appendix_b_receipt_parses_every_field() {
        let r = parse_receipt_text(
            "id:0123456789 sub:001 dlvrd:001 submit date:2611271200 done date:2611271201 stat:DELIVRD err:000 Text:hello world",
        )
        .unwrap();
        assert_eq!(r.id, "0123456789");
        assert_eq!(r.submitted, Some(1));
        assert_eq!(r.delivered, Some(1));
        assert_eq!(r.submit_date.as_deref(), Some("2611271200"));
        assert_eq!(r.done_date.as_deref(), Some("2611271201"));
        assert_eq!(r.state, MessageState::Delivered);
        assert_eq!(r.error.as_deref(), Some("000"));
        assert_eq!(r.text.as_deref(), Some("hello world"));
    }

    #[test]
    fn text_holding_key_like_words_does_not_override_fields() {
        let r = parse_receipt_text("id:abc stat:UNDELIV err:001 text:stat:DELIVRD id:zzz").unwrap();
        assert_eq!(r.id, "abc");
        assert_eq!(r.state, MessageState::Undeliverable);
        assert_eq!(r.text.as_deref(), Some("stat:DELIVRD id:zzz"));
    }

    #[test]
    fn receipt_without_stat_is_missing_state() {
        assert_eq!(
            parse_receipt_text("id:1 sub:001"),
            Err(ReceiptError::MissingState)
        );
        assert_eq!(
            parse_receipt_text("stat:DELIVRD"),
            Err(ReceiptError::MissingId)
        );
    }

    #[test]
    fn receipted_message_id_tlv_wins_over_text_id() {
        let sm = SubmitSm {
            esm_class: 0x04,
            short_message: Bytes::from_static(b"id:short stat:EXPIRED"),
            tlvs: vec![crate::pdu::Tlv {
                tag: tag::RECEIPTED_MESSAGE_ID,
                value: Bytes::from_static(b"long-id\0"),
            }],
            ..SubmitSm::default()
        };
        let r = DeliveryReceipt::from_deliver_sm(&sm).unwrap();
        assert_eq!(r.id, "long-id");
        assert_eq!(r.state, MessageState::Expired);
        let mo = SubmitSm::default();
        assert_eq!(
            DeliveryReceipt::from_deliver_sm(&mo),
            Err(ReceiptError::NotAReceipt)
        );
    }
}
