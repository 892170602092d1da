//! The two MM4 status vocabularies (TS 23.140 §8.4.1.2 X-Mms-Request-Status-Code, §8.4.2.1
//! X-Mms-MM-Status-Code) and their one mapping each to the MMS ENC 1.3 numeric values
//! (X-Mms-Response-Status §7.3.48, X-Mms-Status §7.3.54).

use mms_pdu::{ResponseStatus, Status};

/// X-Mms-Request-Status-Code (TS 23.140 §8.4.1.2, §8.4.2.2, §8.4.3.2): the outcome a `.RES`
/// reports for the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestStatus {
    /// `Ok`.
    Ok,
    /// `Error-unspecified`.
    ErrorUnspecified,
    /// `Error-service-denied`.
    ErrorServiceDenied,
    /// `Error-message-format-corrupt`.
    ErrorMessageFormatCorrupt,
    /// `Error-sending-address-unresolved`.
    ErrorSendingAddressUnresolved,
    /// `Error-message-not-found`.
    ErrorMessageNotFound,
    /// `Error-network-problem`.
    ErrorNetworkProblem,
    /// `Error-content-not-accepted`.
    ErrorContentNotAccepted,
    /// `Error-unsupported-message`.
    ErrorUnsupportedMessage,
}

/// The text form of every [`RequestStatus`] (TS 23.140 §8.4.1.2).
const REQUEST_STATUS_NAMES: &[(RequestStatus, &str)] = &[
    (RequestStatus::Ok, "Ok"),
    (RequestStatus::ErrorUnspecified, "Error-unspecified"),
    (RequestStatus::ErrorServiceDenied, "Error-service-denied"),
    (
        RequestStatus::ErrorMessageFormatCorrupt,
        "Error-message-format-corrupt",
    ),
    (
        RequestStatus::ErrorSendingAddressUnresolved,
        "Error-sending-address-unresolved",
    ),
    (
        RequestStatus::ErrorMessageNotFound,
        "Error-message-not-found",
    ),
    (RequestStatus::ErrorNetworkProblem, "Error-network-problem"),
    (
        RequestStatus::ErrorContentNotAccepted,
        "Error-content-not-accepted",
    ),
    (
        RequestStatus::ErrorUnsupportedMessage,
        "Error-unsupported-message",
    ),
];

impl RequestStatus {
    /// Every value, in the order of TS 23.140.
    pub const ALL: [RequestStatus; 9] = [
        RequestStatus::Ok,
        RequestStatus::ErrorUnspecified,
        RequestStatus::ErrorServiceDenied,
        RequestStatus::ErrorMessageFormatCorrupt,
        RequestStatus::ErrorSendingAddressUnresolved,
        RequestStatus::ErrorMessageNotFound,
        RequestStatus::ErrorNetworkProblem,
        RequestStatus::ErrorContentNotAccepted,
        RequestStatus::ErrorUnsupportedMessage,
    ];

    /// The header value as TS 23.140 writes it (`Error-message-format-corrupt`).
    pub fn as_str(self) -> &'static str {
        REQUEST_STATUS_NAMES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("Error-unspecified", |(_, n)| n)
    }

    /// Parses the header value (case-insensitive); `None` for a value TS 23.140 does not define.
    pub fn from_name(s: &str) -> Option<RequestStatus> {
        REQUEST_STATUS_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(s, _)| *s)
    }

    /// Whether the request succeeded.
    pub fn is_ok(self) -> bool {
        self == RequestStatus::Ok
    }

    /// Whether the sender may retry later (only `Error-network-problem`).
    pub fn is_transient(self) -> bool {
        self == RequestStatus::ErrorNetworkProblem
    }

    /// The MMS ENC 1.3 X-Mms-Response-Status (§7.3.48) an MM1 answer carries for this outcome:
    /// the 1.3 permanent codes (224–229), `Error-network-problem` as transient 195, and
    /// `Error-unsupported-message` as itself (136, 0x88: the one code below 192 that 1.3 does not
    /// mark obsolete, and the one `mms_pdu` answers an unknown PDU type with).
    pub fn to_response_status(self) -> ResponseStatus {
        match self {
            RequestStatus::Ok => ResponseStatus::OK,
            RequestStatus::ErrorUnspecified => ResponseStatus::ERROR_PERMANENT_FAILURE,
            RequestStatus::ErrorServiceDenied => ResponseStatus::ERROR_PERMANENT_SERVICE_DENIED,
            RequestStatus::ErrorMessageFormatCorrupt => {
                ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
            }
            RequestStatus::ErrorSendingAddressUnresolved => {
                ResponseStatus::ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED
            }
            RequestStatus::ErrorMessageNotFound => {
                ResponseStatus::ERROR_PERMANENT_MESSAGE_NOT_FOUND
            }
            RequestStatus::ErrorNetworkProblem => ResponseStatus::ERROR_TRANSIENT_NETWORK_PROBLEM,
            RequestStatus::ErrorContentNotAccepted => {
                ResponseStatus::ERROR_PERMANENT_CONTENT_NOT_ACCEPTED
            }
            RequestStatus::ErrorUnsupportedMessage => ResponseStatus::ERROR_UNSUPPORTED_MESSAGE,
        }
    }

    /// The MM4 outcome for an MMS ENC X-Mms-Response-Status: the 1.0 codes 129–136 map by name, the 1.3 transient (192–223) and permanent (224–255) codes by meaning, and
    /// any other failure to `Error-unspecified`.
    pub fn from_response_status(status: ResponseStatus) -> RequestStatus {
        match status.0 {
            128 => RequestStatus::Ok,
            130 | 225 => RequestStatus::ErrorServiceDenied,
            131 | 226 => RequestStatus::ErrorMessageFormatCorrupt,
            132 | 193 | 227 => RequestStatus::ErrorSendingAddressUnresolved,
            133 | 194 | 228 => RequestStatus::ErrorMessageNotFound,
            134 | 195 => RequestStatus::ErrorNetworkProblem,
            135 | 229 => RequestStatus::ErrorContentNotAccepted,
            136 => RequestStatus::ErrorUnsupportedMessage,
            _ => RequestStatus::ErrorUnspecified,
        }
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// X-Mms-MM-Status-Code (TS 23.140 §8.4.2.1): what happened to the MM at the recipient, in an
/// `MM4_delivery_report.REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MmStatus {
    /// `Expired`: the MM expired before it was retrieved.
    Expired,
    /// `Retrieved`: the recipient's UA retrieved the MM.
    Retrieved,
    /// `Rejected`: the recipient rejected the MM.
    Rejected,
    /// `Deferred`: the recipient deferred retrieval.
    Deferred,
    /// `Indeterminate`: the outcome is not known.
    Indeterminate,
    /// `Forwarded`: the recipient forwarded the MM without retrieving it.
    Forwarded,
    /// `Unrecognised`: the MM was not recognised.
    Unrecognised,
    /// `Unreachable`: the recipient could not be reached. Not among the X-Mms-MM-Status-Code
    /// values this crate sends (see [`MmStatus::from_mms_status`]); accepted when received,
    /// because relays that copy the MMS ENC X-Mms-Status name (135, §7.3.54) onto MM4 send it.
    Unreachable,
}

/// The text form and the MMS ENC X-Mms-Status (§7.3.54) of every [`MmStatus`].
const MM_STATUS_TABLE: &[(MmStatus, &str, Status)] = &[
    (MmStatus::Expired, "Expired", Status::EXPIRED),
    (MmStatus::Retrieved, "Retrieved", Status::RETRIEVED),
    (MmStatus::Rejected, "Rejected", Status::REJECTED),
    (MmStatus::Deferred, "Deferred", Status::DEFERRED),
    (
        MmStatus::Indeterminate,
        "Indeterminate",
        Status::INDETERMINATE,
    ),
    (MmStatus::Forwarded, "Forwarded", Status::FORWARDED),
    (MmStatus::Unrecognised, "Unrecognised", Status::UNRECOGNISED),
    (MmStatus::Unreachable, "Unreachable", Status::UNREACHABLE),
];

impl MmStatus {
    /// Every value.
    pub const ALL: [MmStatus; 8] = [
        MmStatus::Expired,
        MmStatus::Retrieved,
        MmStatus::Rejected,
        MmStatus::Deferred,
        MmStatus::Indeterminate,
        MmStatus::Forwarded,
        MmStatus::Unrecognised,
        MmStatus::Unreachable,
    ];

    /// The header value as TS 23.140 writes it.
    pub fn as_str(self) -> &'static str {
        MM_STATUS_TABLE
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("Indeterminate", |(_, n, _)| n)
    }

    /// Parses the header value (case-insensitive; `Unrecognized` accepted too).
    pub fn from_name(s: &str) -> Option<MmStatus> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("Unrecognized") {
            return Some(MmStatus::Unrecognised);
        }
        MM_STATUS_TABLE
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(s))
            .map(|(s, _, _)| *s)
    }

    /// The MMS ENC 1.3 X-Mms-Status value (128–135) of an m-delivery-ind.
    pub fn to_mms_status(self) -> Status {
        MM_STATUS_TABLE
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or(Status::INDETERMINATE, |(_, _, v)| *v)
    }

    /// The MM4 value to send for an MMS ENC X-Mms-Status. `Unreachable` (135) and unassigned
    /// values become `Indeterminate`: the X-Mms-MM-Status-Code lists of TS 23.140 §8.4.2 that
    /// could be checked (see RELIABILITY.md §4, "Forged reports and stale bindings") have no
    /// `Unreachable`, and `Indeterminate` is in every one, so any peer accepts it.
    pub fn from_mms_status(status: Status) -> MmStatus {
        if status == Status::UNREACHABLE {
            return MmStatus::Indeterminate;
        }
        MM_STATUS_TABLE
            .iter()
            .find(|(_, _, v)| *v == status)
            .map_or(MmStatus::Indeterminate, |(s, _, _)| *s)
    }
}

impl std::fmt::Display for MmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_status_names_round_trip_ts23140_8_4_1_2() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::from_name(s.as_str()), Some(s));
        }
        assert_eq!(
            RequestStatus::from_name("error-NETWORK-problem"),
            Some(RequestStatus::ErrorNetworkProblem)
        );
        assert_eq!(RequestStatus::from_name("Bogus"), None);
    }

    #[test]
    fn request_status_to_mms_response_status_and_back_mms_enc_7_3_48() {
        for s in RequestStatus::ALL {
            let back = RequestStatus::from_response_status(s.to_response_status());
            assert_eq!(back, s, "{s}");
        }
        // Error-unsupported-message is 136 (0x88) in MMS ENC 1.3 too, as mms_pdu answers an
        // unknown PDU type; not the generic Error-permanent-failure (224).
        assert_eq!(
            RequestStatus::ErrorUnsupportedMessage.to_response_status(),
            ResponseStatus::ERROR_UNSUPPORTED_MESSAGE
        );
        assert_eq!(
            RequestStatus::ErrorUnsupportedMessage
                .to_response_status()
                .name(),
            Some("Error-unsupported-message")
        );
        assert_eq!(RequestStatus::Ok.to_response_status().0, 128);
        assert_eq!(
            RequestStatus::ErrorMessageFormatCorrupt
                .to_response_status()
                .0,
            226
        );
        assert_eq!(
            RequestStatus::ErrorNetworkProblem.to_response_status().0,
            195
        );
        assert_eq!(
            RequestStatus::from_response_status(ResponseStatus(136)),
            RequestStatus::ErrorUnsupportedMessage
        );
        assert_eq!(
            RequestStatus::from_response_status(ResponseStatus(234)),
            RequestStatus::ErrorUnspecified
        );
    }

    #[test]
    fn mm_status_maps_to_x_mms_status_128_to_135_mms_enc_7_3_54() {
        let codes: Vec<u8> = MmStatus::ALL.iter().map(|s| s.to_mms_status().0).collect();
        assert_eq!(codes, [128, 129, 130, 131, 133, 134, 132, 135]);
        for s in MmStatus::ALL {
            assert_eq!(MmStatus::from_name(s.as_str()), Some(s));
            if s != MmStatus::Unreachable {
                assert_eq!(MmStatus::from_mms_status(s.to_mms_status()), s);
            }
        }
        // Received "Unreachable" reaches the MM1 sender as 135; 135 is sent as Indeterminate.
        assert_eq!(
            MmStatus::from_name("unreachable").map(MmStatus::to_mms_status),
            Some(Status::UNREACHABLE)
        );
        assert_eq!(
            MmStatus::from_mms_status(Status::UNREACHABLE),
            MmStatus::Indeterminate
        );
        assert_eq!(
            MmStatus::from_name("unrecognized"),
            Some(MmStatus::Unrecognised)
        );
    }
}
