//! MMS ENC 1.3 PDU codec (OMA-TS-MMS_ENC-V1_3): WSP primitives (WAP-230 §8.4), every PDU type of
//! MMS ENC 1.3 §6 (m-send-req 0x80 … m-cancel-conf 0x97), multipart bodies (WAP-230 §8.5).
//! Sans-IO: [`Pdu::decode`] takes [`bytes::Bytes`] and returns typed values whose part bodies are
//! zero-copy slices of the input; [`Pdu::encode`] writes the wire form.
//!
//! ```
//! use mms_pdu::{Pdu, NotificationInd, MessageClass, TimeSpec};
//! let n = NotificationInd {
//!     transaction_id: "T1".into(),
//!     message_class: MessageClass::Personal,
//!     message_size: 1234,
//!     expiry: TimeSpec::Relative(86_400),
//!     content_location: "http://mms.example/m/abc".into(),
//!     ..Default::default()
//! };
//! let bytes = Pdu::from(n.clone()).encode();
//! assert_eq!(Pdu::decode(&bytes.into()).unwrap(), Pdu::NotificationInd(n));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
mod arb;
mod content;
mod error;
mod generic;
mod header;
mod pdu;
mod values;
mod wsp;

pub use content::{Body, ContentType, MediaType, ParamName, ParamValue, Parameter, Part};
pub use error::DecodeError;
pub use generic::{
    HeaderList, HeaderValue, ValueKind, octet_value_from_name, octet_value_name, value_kind,
};
pub use header::{Header, HeaderName, mms_header_code, mms_header_name, wsp_header_name};
pub use pdu::{
    AcknowledgeInd, CancelConf, CancelReq, Content, DeleteConf, DeleteReq, DeliveryInd,
    ForwardConf, ForwardReq, MboxDeleteConf, MboxDeleteReq, MboxDescr, MboxStoreConf, MboxStoreReq,
    MboxUploadConf, MboxUploadReq, MboxViewConf, MboxViewReq, NotificationInd, NotifyRespInd, Pdu,
    ReadOrigInd, ReadRecInd, RetrieveConf, SendConf, SendReq,
};
pub use values::{
    CancelStatus, Charset, ContentClass, EncodedString, FromAddress, MboxCount, MessageClass,
    MessageType, MmFlag, MmState, MmsVersion, PreviouslySentBy, PreviouslySentDate, Priority,
    RawValue, ReadStatus, ReplyCharging, ResponseStatus, RetrievalMode, RetrieveStatus,
    SenderVisibility, Status, StoreStatus, TimeSpec,
};
