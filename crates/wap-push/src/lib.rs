//! WAP Push over SMS (WAP-230 WSP §8.2.4, WAP-259 WDP Annex A): push PDU, UDH port addressing,
//! concatenation and reassembly. Sans-IO: bytes in, bytes out, time passed in as an argument.
//!
//! Sending a notification: [`encode_mms_push`] wraps an `m-notification-ind` in a connectionless
//! WSP push, then [`segment_udh`] (UDH mode, 3GPP TS 23.040 §9.2.3.24) or [`segment_sar`]
//! (SMPP 3.4 SAR TLV mode) cuts it into SMS user data. Receiving: [`Reassembler`] puts segments
//! back together and [`decode_push`] parses the push.
#![forbid(unsafe_code)]

mod push;
mod reassemble;
mod reference;
mod segment;
mod udh;
mod uintvar;

pub use push::{
    ApplicationId, ContentType, Header, HeaderName, MMS_CONTENT_TYPE, Push, PushDecodeError,
    decode_push, encode_mms_push,
};
pub use reassemble::{
    Expired, Message, Reassembler, ReassemblyError, ReassemblyStatus, SegmentReference,
};
pub use reference::ReferenceAllocator;
pub use segment::{
    MAX_USER_DATA, SarInfo, SarSegment, SegmentError, segment_count, segment_sar, segment_udh,
};
pub use udh::{ConcatReference, InformationElement, Ports, ReferenceWidth, UdhError, UserData};
