//! RFC 6733 §7.1 Result-Code and §7.6 Experimental-Result, and the Sh result codes of TS 29.329 §6.2,
//! mapped in one place to typed errors that say whether a retry can help.

use crate::avp::{self, Avp};
use crate::codes::*;
use crate::message::Message;

/// The outcome an answer carries: a base Result-Code or a vendor's Experimental-Result (RFC 6733 §7.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerResult {
    /// Result-Code AVP 268.
    ResultCode(u32),
    /// Experimental-Result AVP 297 {Vendor-Id, Experimental-Result-Code}.
    Experimental {
        /// Vendor-Id inside the group.
        vendor_id: u32,
        /// Experimental-Result-Code.
        code: u32,
    },
}

/// An answer that did not succeed, by meaning (RFC 6733 §7.1, TS 29.329 §6.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// 5001 DIAMETER_ERROR_USER_UNKNOWN (TS 29.329 §6.2.2.1): the identity is not known to the HSS.
    #[error("DIAMETER_ERROR_USER_UNKNOWN (5001)")]
    UserUnknown,
    /// 4100 DIAMETER_USER_DATA_NOT_AVAILABLE (TS 29.329 §6.2.3.1): try later.
    #[error("DIAMETER_USER_DATA_NOT_AVAILABLE (4100)")]
    UserDataNotAvailable,
    /// 5100–5108 (TS 29.329 §6.2.2): the request cannot be served as made.
    #[error("Sh permanent failure {0}")]
    ShPermanent(u32),
    /// 3xxx protocol errors (RFC 6733 §7.1.3, e.g. 3002 unable to deliver, 3004 too busy) and 4xxx
    /// transient failures: another attempt, possibly through another peer, can succeed.
    #[error("transient failure, Result-Code {0}")]
    Transient(u32),
    /// Any other 5xxx permanent failure (RFC 6733 §7.1.5) or an unknown class.
    #[error("permanent failure, Result-Code {0}")]
    Permanent(u32),
    /// The answer carried neither Result-Code nor Experimental-Result.
    #[error("answer without Result-Code or Experimental-Result")]
    Missing,
}

impl ResultError {
    /// True when a later attempt can succeed (peer busy, routing failed, data temporarily unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ResultError::UserDataNotAvailable | ResultError::Transient(_) | ResultError::Missing
        )
    }
}

impl AnswerResult {
    /// Reads Result-Code, else Experimental-Result, from an answer.
    pub fn of(message: &Message) -> Option<AnswerResult> {
        if let Some(code) = message
            .avp(AVP_RESULT_CODE)
            .and_then(|a| a.as_unsigned32().ok())
        {
            return Some(AnswerResult::ResultCode(code));
        }
        let group = message.avp(AVP_EXPERIMENTAL_RESULT)?.as_grouped().ok()?;
        let vendor_id = avp::find(&group, AVP_VENDOR_ID, None)?
            .as_unsigned32()
            .ok()?;
        let code = avp::find(&group, AVP_EXPERIMENTAL_RESULT_CODE, None)?
            .as_unsigned32()
            .ok()?;
        Some(AnswerResult::Experimental { vendor_id, code })
    }

    /// The AVP that carries this result in an answer.
    pub fn to_avp(self) -> Avp {
        match self {
            AnswerResult::ResultCode(code) => Avp::unsigned32(AVP_RESULT_CODE, code).mandatory(),
            AnswerResult::Experimental { vendor_id, code } => Avp::grouped(
                AVP_EXPERIMENTAL_RESULT,
                &[
                    Avp::unsigned32(AVP_VENDOR_ID, vendor_id).mandatory(),
                    Avp::unsigned32(AVP_EXPERIMENTAL_RESULT_CODE, code).mandatory(),
                ],
            )
            .mandatory(),
        }
    }

    /// The numeric code, whichever AVP carried it.
    pub fn code(self) -> u32 {
        match self {
            AnswerResult::ResultCode(code) | AnswerResult::Experimental { code, .. } => code,
        }
    }

    /// Success (2xxx) or the typed error: the single mapping from codes to meanings.
    pub fn check(self) -> Result<(), ResultError> {
        let code = self.code();
        match code {
            2000..=2999 => Ok(()),
            DIAMETER_ERROR_USER_UNKNOWN if matches!(self, AnswerResult::Experimental { .. }) => {
                Err(ResultError::UserUnknown)
            }
            DIAMETER_USER_DATA_NOT_AVAILABLE
                if matches!(self, AnswerResult::Experimental { .. }) =>
            {
                Err(ResultError::UserDataNotAvailable)
            }
            5100..=5108 if matches!(self, AnswerResult::Experimental { .. }) => {
                Err(ResultError::ShPermanent(code))
            }
            3000..=4999 => Err(ResultError::Transient(code)),
            _ => Err(ResultError::Permanent(code)),
        }
    }
}

/// Checks an answer's result: `Ok` on 2xxx, else the typed error (missing result → [`ResultError::Missing`]).
pub fn check_answer(message: &Message) -> Result<(), ResultError> {
    AnswerResult::of(message)
        .ok_or(ResultError::Missing)?
        .check()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(code: u32) -> AnswerResult {
        AnswerResult::Experimental {
            vendor_id: VENDOR_3GPP,
            code,
        }
    }

    #[test]
    fn user_unknown_5001_is_permanent_ts29329_6_2_2_1() {
        let err = exp(5001).check().unwrap_err();
        assert_eq!(err, ResultError::UserUnknown);
        assert!(!err.is_transient());
    }

    #[test]
    fn user_data_not_available_4100_is_transient_ts29329_6_2_3_1() {
        assert!(exp(4100).check().unwrap_err().is_transient());
    }

    #[test]
    fn sh_5100_to_5108_are_permanent_ts29329_6_2_2() {
        for code in 5100..=5108 {
            let err = exp(code).check().unwrap_err();
            assert_eq!(err, ResultError::ShPermanent(code));
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn unable_to_deliver_and_too_busy_are_transient_rfc6733_7_1_3() {
        for code in [3002, 3004, 4001] {
            assert!(
                AnswerResult::ResultCode(code)
                    .check()
                    .unwrap_err()
                    .is_transient()
            );
        }
        assert_eq!(
            AnswerResult::ResultCode(5012).check(),
            Err(ResultError::Permanent(5012))
        );
        assert_eq!(AnswerResult::ResultCode(2001).check(), Ok(()));
    }

    #[test]
    fn experimental_result_round_trips_through_its_avp_rfc6733_7_6() {
        let answer = Message::request(306, APP_SH, true).with(exp(5001).to_avp());
        assert_eq!(AnswerResult::of(&answer), Some(exp(5001)));
        assert_eq!(check_answer(&answer), Err(ResultError::UserUnknown));
        assert_eq!(
            check_answer(&Message::request(306, APP_SH, true)),
            Err(ResultError::Missing)
        );
    }
}
