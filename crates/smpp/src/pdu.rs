//! SMPP 3.4 §3.2 (PDU format), §4 (PDU definitions) and §5.3 (optional parameters): typed PDUs,
//! encoding, and a stream decoder that returns `Ok(None)` until a whole PDU is buffered.

use bytes::Bytes;
use thiserror::Error;

use crate::status::CommandStatus;

/// SMPP 3.4 §5.1.2: command_id values.
pub mod command_id {
    /// generic_nack.
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    /// bind_receiver.
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    /// bind_transmitter.
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    /// submit_sm.
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    /// deliver_sm.
    pub const DELIVER_SM: u32 = 0x0000_0005;
    /// unbind.
    pub const UNBIND: u32 = 0x0000_0006;
    /// bind_transceiver.
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    /// enquire_link.
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    /// A response's command_id is the request's with this bit set.
    pub const RESPONSE: u32 = 0x8000_0000;
}

/// SMPP 3.4 §5.3.2: optional parameter tags this crate names.
pub mod tag {
    /// receipted_message_id (§5.3.2.12).
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// source_port (§5.3.2.20).
    pub const SOURCE_PORT: u16 = 0x020A;
    /// destination_port (§5.3.2.21).
    pub const DESTINATION_PORT: u16 = 0x020B;
    /// sar_msg_ref_num (§5.3.2.22).
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    /// sar_total_segments (§5.3.2.23).
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    /// sar_segment_seqnum (§5.3.2.24).
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    /// sc_interface_version (§5.3.2.25).
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    /// message_payload (§5.3.2.32).
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// message_state (§5.3.2.35).
    pub const MESSAGE_STATE: u16 = 0x0427;
}

/// SMPP 3.4 §3.2: the PDU header is four 32-bit fields.
pub const HEADER_LEN: usize = 16;
/// Largest command_length accepted (SMPP sets no limit; a submit_sm with a full message_payload fits).
pub const MAX_PDU_LEN: usize = 65_536;
/// SMPP 3.4 §5.2.12: esm_class bit 6, UDH indicator.
pub const ESM_CLASS_UDHI: u8 = 0x40;
/// SMPP 3.4 §5.2.12: esm_class message type bits 2–5 = 0001, SMSC delivery receipt.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// SMPP 3.4 §5.2.19: data_coding 0x04, 8-bit binary.
pub const DATA_CODING_BINARY: u8 = 0x04;
/// SMPP 3.4 §5.2.4: interface_version 0x34.
pub const INTERFACE_VERSION: u8 = 0x34;

/// One PDU: header fields and typed body (SMPP 3.4 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// sequence_number, echoed by the response.
    pub sequence: u32,
    /// command_status (ESME_ROK in requests).
    pub status: CommandStatus,
    /// The typed body; determines command_id.
    pub body: Body,
}

/// The PDUs this crate speaks (SMPP 3.4 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// bind_transmitter §4.1.1.
    BindTransmitter(Bind),
    /// bind_transmitter_resp §4.1.2.
    BindTransmitterResp(BindResp),
    /// bind_receiver §4.1.3.
    BindReceiver(Bind),
    /// bind_receiver_resp §4.1.4.
    BindReceiverResp(BindResp),
    /// bind_transceiver §4.1.5.
    BindTransceiver(Bind),
    /// bind_transceiver_resp §4.1.6.
    BindTransceiverResp(BindResp),
    /// unbind §4.2.1.
    Unbind,
    /// unbind_resp §4.2.2.
    UnbindResp,
    /// generic_nack §4.3.1.
    GenericNack,
    /// submit_sm §4.4.1.
    SubmitSm(Box<SubmitSm>),
    /// submit_sm_resp §4.4.2.
    SubmitSmResp(SubmitSmResp),
    /// deliver_sm §4.6.1 (same body layout as submit_sm).
    DeliverSm(Box<SubmitSm>),
    /// deliver_sm_resp §4.6.2 (message_id is unused, always NULL).
    DeliverSmResp,
    /// enquire_link §4.11.1.
    EnquireLink,
    /// enquire_link_resp §4.11.2.
    EnquireLinkResp,
}

impl Body {
    /// SMPP 3.4 §5.1.2: the command_id of this body.
    pub fn command_id(&self) -> u32 {
        use command_id::*;
        match self {
            Body::BindTransmitter(_) => BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => BIND_TRANSMITTER | RESPONSE,
            Body::BindReceiver(_) => BIND_RECEIVER,
            Body::BindReceiverResp(_) => BIND_RECEIVER | RESPONSE,
            Body::BindTransceiver(_) => BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => BIND_TRANSCEIVER | RESPONSE,
            Body::Unbind => UNBIND,
            Body::UnbindResp => UNBIND | RESPONSE,
            Body::GenericNack => GENERIC_NACK,
            Body::SubmitSm(_) => SUBMIT_SM,
            Body::SubmitSmResp(_) => SUBMIT_SM | RESPONSE,
            Body::DeliverSm(_) => DELIVER_SM,
            Body::DeliverSmResp => DELIVER_SM | RESPONSE,
            Body::EnquireLink => ENQUIRE_LINK,
            Body::EnquireLinkResp => ENQUIRE_LINK | RESPONSE,
        }
    }
}

/// bind_transmitter / bind_receiver / bind_transceiver body (SMPP 3.4 §4.1.1).
/// Its `Debug` output leaves the password out, so logging a bind or a session config leaks no secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// system_id, up to 15 characters.
    pub system_id: String,
    /// password, up to 8 characters.
    pub password: String,
    /// system_type, up to 12 characters.
    pub system_type: String,
    /// interface_version (0x34).
    pub interface_version: u8,
    /// addr_ton.
    pub addr_ton: u8,
    /// addr_npi.
    pub addr_npi: u8,
    /// address_range, up to 40 characters.
    pub address_range: String,
}

impl std::fmt::Debug for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bind")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("addr_ton", &self.addr_ton)
            .field("addr_npi", &self.addr_npi)
            .field("address_range", &self.address_range)
            .finish()
    }
}

/// bind_*_resp body (SMPP 3.4 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// The SMSC's system_id, up to 15 characters.
    pub system_id: String,
    /// Optional sc_interface_version TLV.
    pub sc_interface_version: Option<u8>,
}

/// An SME address with type of number and numbering plan (SMPP 3.4 §5.2.5, §5.2.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// TON (1 = international).
    pub ton: u8,
    /// NPI (1 = E.164).
    pub npi: u8,
    /// The digits, up to 20 characters.
    pub address: String,
}

impl Address {
    /// An international E.164 number: TON 1, NPI 1 (digits without '+').
    pub fn international(digits: &str) -> Self {
        Address {
            ton: 1,
            npi: 1,
            address: digits.trim_start_matches('+').to_owned(),
        }
    }
}

/// One optional parameter (SMPP 3.4 §3.2.4, §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Parameter tag.
    pub tag: u16,
    /// Parameter value.
    pub value: Bytes,
}

impl Tlv {
    /// A TLV whose value is one octet (e.g. sar_total_segments).
    pub fn u8(tag: u16, value: u8) -> Self {
        Tlv {
            tag,
            value: Bytes::copy_from_slice(&[value]),
        }
    }

    /// A TLV whose value is a 16-bit integer (e.g. destination_port, sar_msg_ref_num).
    pub fn u16(tag: u16, value: u16) -> Self {
        Tlv {
            tag,
            value: Bytes::copy_from_slice(&value.to_be_bytes()),
        }
    }
}

/// submit_sm body (SMPP 3.4 §4.4.1); deliver_sm (§4.6.1) has the same layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm {
    /// service_type, up to 5 characters.
    pub service_type: String,
    /// Source address.
    pub source: Address,
    /// Destination address.
    pub destination: Address,
    /// esm_class (0x40 = UDHI; 0x04 = delivery receipt in deliver_sm).
    pub esm_class: u8,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time (empty = immediate).
    pub schedule_delivery_time: String,
    /// validity_period (empty = SMSC default).
    pub validity_period: String,
    /// registered_delivery (0x01 = receipt on final outcome).
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present: u8,
    /// data_coding (0x04 = 8-bit binary).
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, up to 254 octets.
    pub short_message: Bytes,
    /// Optional parameters in order.
    pub tlvs: Vec<Tlv>,
}

impl SubmitSm {
    /// A binary message as WAP push over SMS needs it (DESIGN §5): TON/NPI 1/1, data_coding 0x04,
    /// esm_class 0x40 when `udhi` (the user data starts with a UDH).
    pub fn binary(source: Address, destination: Address, short_message: Bytes, udhi: bool) -> Self {
        SubmitSm {
            source,
            destination,
            esm_class: if udhi { ESM_CLASS_UDHI } else { 0 },
            data_coding: DATA_CODING_BINARY,
            short_message,
            ..SubmitSm::default()
        }
    }

    /// Adds source_port / destination_port TLVs (SMPP 3.4 §5.3.2.20–21), as WAP push in SAR
    /// TLV mode needs (9200 / 2948).
    pub fn with_ports(mut self, source: u16, destination: u16) -> Self {
        self.tlvs.push(Tlv::u16(tag::SOURCE_PORT, source));
        self.tlvs.push(Tlv::u16(tag::DESTINATION_PORT, destination));
        self
    }

    /// Adds sar_msg_ref_num, sar_total_segments, sar_segment_seqnum (SMPP 3.4 §5.3.2.22–24).
    pub fn with_sar(mut self, reference: u16, total: u8, sequence: u8) -> Self {
        self.tlvs.push(Tlv::u16(tag::SAR_MSG_REF_NUM, reference));
        self.tlvs.push(Tlv::u8(tag::SAR_TOTAL_SEGMENTS, total));
        self.tlvs.push(Tlv::u8(tag::SAR_SEGMENT_SEQNUM, sequence));
        self
    }

    /// The SAR TLV values (reference, total, sequence), when all three are present.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        let total = u8::try_from(self.tlv_u16(tag::SAR_TOTAL_SEGMENTS)?).ok()?;
        let sequence = u8::try_from(self.tlv_u16(tag::SAR_SEGMENT_SEQNUM)?).ok()?;
        Some((self.tlv_u16(tag::SAR_MSG_REF_NUM)?, total, sequence))
    }

    /// The port TLVs (source, destination), when both are present.
    pub fn ports(&self) -> Option<(u16, u16)> {
        Some((
            self.tlv_u16(tag::SOURCE_PORT)?,
            self.tlv_u16(tag::DESTINATION_PORT)?,
        ))
    }

    /// The value of the first TLV with `tag`.
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.tag == tag)
            .map(|t| t.value.as_ref())
    }

    /// A TLV's value as a 16-bit integer (1- or 2-octet values).
    pub fn tlv_u16(&self, tag: u16) -> Option<u16> {
        match *self.tlv(tag)? {
            [a] => Some(u16::from(a)),
            [a, b] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// SMPP 3.4 §5.2.12: esm_class says this deliver_sm is an SMSC delivery receipt.
    pub fn is_delivery_receipt(&self) -> bool {
        self.esm_class & 0x3C == ESM_CLASS_DELIVERY_RECEIPT
    }
}

/// submit_sm_resp body (SMPP 3.4 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSmResp {
    /// The SMSC's message id, up to 64 characters (empty in error responses).
    pub message_id: String,
}

/// Why a PDU could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A C-Octet String or short_message is longer than SMPP 3.4 §4 allows, or holds a NUL.
    #[error("field {0} is too long or holds a NUL")]
    FieldTooLong(&'static str),
    /// The PDU would exceed [`MAX_PDU_LEN`].
    #[error("PDU longer than {MAX_PDU_LEN} octets")]
    TooLarge,
}

/// Why bytes could not be decoded into a PDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// command_length below 16 or above [`MAX_PDU_LEN`]: the stream cannot be resynchronised.
    #[error("command_length {0} out of range")]
    InvalidCommandLength(u32),
    /// A command_id this crate does not know; the frame can be skipped.
    #[error("unknown command_id {command_id:#010x}")]
    UnknownCommand {
        /// The command_id.
        command_id: u32,
        /// The sequence_number, for a generic_nack.
        sequence: u32,
        /// Octets to discard to reach the next PDU.
        frame_len: usize,
    },
    /// A body field does not fit the frame or breaks its limits; the frame can be skipped.
    #[error("malformed {field} in command {command_id:#010x}")]
    Malformed {
        /// The command_id.
        command_id: u32,
        /// The sequence_number, for a generic_nack.
        sequence: u32,
        /// Octets to discard to reach the next PDU.
        frame_len: usize,
        /// The field that failed.
        field: &'static str,
    },
}

impl DecodeError {
    /// Octets to discard to reach the next PDU; `None` when the connection must be closed.
    pub fn skip_len(&self) -> Option<usize> {
        match self {
            DecodeError::InvalidCommandLength(_) => None,
            DecodeError::UnknownCommand { frame_len, .. }
            | DecodeError::Malformed { frame_len, .. } => Some(*frame_len),
        }
    }

    /// The sequence_number of the failed PDU, when known.
    pub fn sequence(&self) -> Option<u32> {
        match self {
            DecodeError::InvalidCommandLength(_) => None,
            DecodeError::UnknownCommand { sequence, .. }
            | DecodeError::Malformed { sequence, .. } => Some(*sequence),
        }
    }

    /// The command_status a generic_nack (or response) for this error carries (SMPP 3.4 §5.1.3).
    pub fn command_status(&self) -> CommandStatus {
        match self {
            DecodeError::InvalidCommandLength(_) => CommandStatus::InvalidCommandLength,
            DecodeError::UnknownCommand { .. } => CommandStatus::InvalidCommandId,
            DecodeError::Malformed { field, .. } => match *field {
                "source_addr" => CommandStatus::InvalidSourceAddress,
                "destination_addr" => CommandStatus::InvalidDestinationAddress,
                "short_message" => CommandStatus::InvalidMessageLength,
                "tlv" => CommandStatus::InvalidOptionalParameterStream,
                _ => CommandStatus::InvalidCommandLength,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// encoding

fn put_cstr(
    out: &mut Vec<u8>,
    s: &str,
    max: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    // max counts the terminating NUL (SMPP 3.4 §3.1 C-Octet String)
    if s.len() >= max || s.as_bytes().contains(&0) {
        return Err(EncodeError::FieldTooLong(field));
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

fn put_bind(out: &mut Vec<u8>, b: &Bind) -> Result<(), EncodeError> {
    put_cstr(out, &b.system_id, 16, "system_id")?;
    put_cstr(out, &b.password, 9, "password")?;
    put_cstr(out, &b.system_type, 13, "system_type")?;
    out.extend_from_slice(&[b.interface_version, b.addr_ton, b.addr_npi]);
    put_cstr(out, &b.address_range, 41, "address_range")
}

fn put_tlv(out: &mut Vec<u8>, t: &Tlv) -> Result<(), EncodeError> {
    let len = u16::try_from(t.value.len()).map_err(|_| EncodeError::TooLarge)?;
    out.extend_from_slice(&t.tag.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&t.value);
    Ok(())
}

fn put_sm(out: &mut Vec<u8>, s: &SubmitSm) -> Result<(), EncodeError> {
    put_cstr(out, &s.service_type, 6, "service_type")?;
    out.extend_from_slice(&[s.source.ton, s.source.npi]);
    put_cstr(out, &s.source.address, 21, "source_addr")?;
    out.extend_from_slice(&[s.destination.ton, s.destination.npi]);
    put_cstr(out, &s.destination.address, 21, "destination_addr")?;
    out.extend_from_slice(&[s.esm_class, s.protocol_id, s.priority_flag]);
    put_cstr(out, &s.schedule_delivery_time, 17, "schedule_delivery_time")?;
    put_cstr(out, &s.validity_period, 17, "validity_period")?;
    let sm_len = u8::try_from(s.short_message.len())
        .map_err(|_| EncodeError::FieldTooLong("short_message"))?;
    if sm_len == 255 {
        return Err(EncodeError::FieldTooLong("short_message"));
    }
    out.extend_from_slice(&[
        s.registered_delivery,
        s.replace_if_present,
        s.data_coding,
        s.sm_default_msg_id,
        sm_len,
    ]);
    out.extend_from_slice(&s.short_message);
    for t in &s.tlvs {
        put_tlv(out, t)?;
    }
    Ok(())
}

impl Pdu {
    /// A request PDU (command_status ESME_ROK).
    pub fn request(sequence: u32, body: Body) -> Self {
        Pdu {
            sequence,
            status: CommandStatus::Ok,
            body,
        }
    }

    /// Appends the encoded PDU to `out`. A response with a non-zero command_status is sent
    /// without body (SMPP 3.4 §4.4.2: "not returned if the command_status ... is non-zero").
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.body.command_id().to_be_bytes());
        out.extend_from_slice(&self.status.code().to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        let is_error_response =
            self.body.command_id() & command_id::RESPONSE != 0 && self.status != CommandStatus::Ok;
        let body = if is_error_response {
            Ok(())
        } else {
            self.encode_body(out)
        };
        if let Err(e) = body {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start;
        if len > MAX_PDU_LEN {
            out.truncate(start);
            return Err(EncodeError::TooLarge);
        }
        if let Some(slot) = out.get_mut(start..start + 4) {
            slot.copy_from_slice(&(len as u32).to_be_bytes());
        }
        Ok(())
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match &self.body {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                put_bind(out, b)
            }
            Body::BindTransmitterResp(r)
            | Body::BindReceiverResp(r)
            | Body::BindTransceiverResp(r) => {
                put_cstr(out, &r.system_id, 16, "system_id")?;
                if let Some(v) = r.sc_interface_version {
                    put_tlv(out, &Tlv::u8(tag::SC_INTERFACE_VERSION, v))?;
                }
                Ok(())
            }
            Body::SubmitSm(s) | Body::DeliverSm(s) => put_sm(out, s),
            Body::SubmitSmResp(r) => put_cstr(out, &r.message_id, 65, "message_id"),
            Body::DeliverSmResp => {
                out.push(0);
                Ok(())
            }
            Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack
            | Body::EnquireLink
            | Body::EnquireLinkResp => Ok(()),
        }
    }

    /// The encoded PDU as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// decoding

/// A cursor over one frame's body; every read is checked.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.data.get(..n)?;
        self.data = self.data.get(n..)?;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    /// C-Octet String of at most `max` octets including the NUL.
    fn cstr(&mut self, max: usize) -> Option<String> {
        let end = self.data.iter().take(max).position(|&b| b == 0)?;
        let s = std::str::from_utf8(self.data.get(..end)?).ok()?.to_owned();
        self.data = self.data.get(end + 1..)?;
        Some(s)
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let octets: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(octets))
}

/// Decodes one PDU from the start of `buf`.
///
/// `Ok(None)`: fewer octets than the PDU's command_length are buffered (not an error).
/// `Ok(Some((pdu, n)))`: the PDU and the `n` octets it used. Errors other than
/// [`DecodeError::InvalidCommandLength`] tell how many octets to skip.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Pdu, usize)>, DecodeError> {
    let Some(command_length) = read_u32(buf, 0) else {
        return Ok(None);
    };
    let frame_len = command_length as usize;
    if !(HEADER_LEN..=MAX_PDU_LEN).contains(&frame_len) {
        return Err(DecodeError::InvalidCommandLength(command_length));
    }
    let Some(frame) = buf.get(..frame_len) else {
        return Ok(None);
    };
    // frame holds at least HEADER_LEN octets
    let word = |i: usize| read_u32(frame, i).unwrap_or_default();
    let command_id = word(4);
    let status = CommandStatus::from(word(8));
    let sequence = word(12);
    let malformed = |field| DecodeError::Malformed {
        command_id,
        sequence,
        frame_len,
        field,
    };
    let mut r = Reader {
        data: frame.get(HEADER_LEN..).unwrap_or_default(),
    };
    let is_response = command_id & command_id::RESPONSE != 0;
    // error responses may come without body (SMPP 3.4 §4.4.2)
    let bodyless = is_response && r.is_empty();
    use command_id::*;
    let body = match command_id {
        BIND_TRANSMITTER | BIND_RECEIVER | BIND_TRANSCEIVER => {
            let b = decode_bind(&mut r).ok_or_else(|| malformed("bind"))?;
            match command_id {
                BIND_TRANSMITTER => Body::BindTransmitter(b),
                BIND_RECEIVER => Body::BindReceiver(b),
                _ => Body::BindTransceiver(b),
            }
        }
        c if c == BIND_TRANSMITTER | RESPONSE
            || c == BIND_RECEIVER | RESPONSE
            || c == BIND_TRANSCEIVER | RESPONSE =>
        {
            let resp = if bodyless {
                BindResp::default()
            } else {
                decode_bind_resp(&mut r).ok_or_else(|| malformed("system_id"))?
            };
            match c & !RESPONSE {
                BIND_TRANSMITTER => Body::BindTransmitterResp(resp),
                BIND_RECEIVER => Body::BindReceiverResp(resp),
                _ => Body::BindTransceiverResp(resp),
            }
        }
        SUBMIT_SM => Body::SubmitSm(Box::new(decode_sm(&mut r).map_err(malformed)?)),
        DELIVER_SM => Body::DeliverSm(Box::new(decode_sm(&mut r).map_err(malformed)?)),
        c if c == SUBMIT_SM | RESPONSE => {
            let message_id = if bodyless {
                String::new()
            } else {
                r.cstr(65).ok_or_else(|| malformed("message_id"))?
            };
            Body::SubmitSmResp(SubmitSmResp { message_id })
        }
        c if c == DELIVER_SM | RESPONSE => Body::DeliverSmResp,
        UNBIND => Body::Unbind,
        c if c == UNBIND | RESPONSE => Body::UnbindResp,
        ENQUIRE_LINK => Body::EnquireLink,
        c if c == ENQUIRE_LINK | RESPONSE => Body::EnquireLinkResp,
        GENERIC_NACK => Body::GenericNack,
        _ => {
            return Err(DecodeError::UnknownCommand {
                command_id,
                sequence,
                frame_len,
            });
        }
    };
    Ok(Some((
        Pdu {
            sequence,
            status,
            body,
        },
        frame_len,
    )))
}

fn decode_bind(r: &mut Reader<'_>) -> Option<Bind> {
    Some(Bind {
        system_id: r.cstr(16)?,
        password: r.cstr(9)?,
        system_type: r.cstr(13)?,
        interface_version: r.u8()?,
        addr_ton: r.u8()?,
        addr_npi: r.u8()?,
        address_range: r.cstr(41)?,
    })
}

fn decode_bind_resp(r: &mut Reader<'_>) -> Option<BindResp> {
    let system_id = r.cstr(16)?;
    let mut sc_interface_version = None;
    while !r.is_empty() {
        let t = decode_tlv(r)?;
        if t.tag == tag::SC_INTERFACE_VERSION {
            sc_interface_version = t.value.first().copied();
        }
    }
    Some(BindResp {
        system_id,
        sc_interface_version,
    })
}

fn decode_tlv(r: &mut Reader<'_>) -> Option<Tlv> {
    let tag = r.u16()?;
    let len = r.u16()?;
    let value = r.take(usize::from(len))?;
    Some(Tlv {
        tag,
        value: Bytes::copy_from_slice(value),
    })
}

fn decode_sm(r: &mut Reader<'_>) -> Result<SubmitSm, &'static str> {
    let service_type = r.cstr(6).ok_or("service_type")?;
    let source = Address {
        ton: r.u8().ok_or("source_addr")?,
        npi: r.u8().ok_or("source_addr")?,
        address: r.cstr(21).ok_or("source_addr")?,
    };
    let destination = Address {
        ton: r.u8().ok_or("destination_addr")?,
        npi: r.u8().ok_or("destination_addr")?,
        address: r.cstr(21).ok_or("destination_addr")?,
    };
    let esm_class = r.u8().ok_or("esm_class")?;
    let protocol_id = r.u8().ok_or("protocol_id")?;
    let priority_flag = r.u8().ok_or("priority_flag")?;
    let schedule_delivery_time = r.cstr(17).ok_or("schedule_delivery_time")?;
    let validity_period = r.cstr(17).ok_or("validity_period")?;
    let registered_delivery = r.u8().ok_or("registered_delivery")?;
    let replace_if_present = r.u8().ok_or("replace_if_present_flag")?;
    let data_coding = r.u8().ok_or("data_coding")?;
    let sm_default_msg_id = r.u8().ok_or("sm_default_msg_id")?;
    let sm_length = r.u8().ok_or("short_message")?;
    if sm_length == 255 {
        return Err("short_message");
    }
    let short_message =
        Bytes::copy_from_slice(r.take(usize::from(sm_length)).ok_or("short_message")?);
    let mut tlvs = Vec::new();
    while !r.is_empty() {
        tlvs.push(decode_tlv(r).ok_or("tlv")?);
    }
    Ok(SubmitSm {
        service_type,
        source,
        destination,
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time,
        validity_period,
        registered_delivery,
        replace_if_present,
        data_coding,
        sm_default_msg_id,
        short_message,
        tlvs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_debug_leaves_the_password_out() {
        let bind = Bind {
            system_id: "relay".into(),
            password: "s3cret".into(),
            ..Bind::default()
        };
        let shown = format!("{bind:?}");
        assert!(
            shown.contains("relay") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn enquire_link_is_16_octet_header_smpp_4_11_1() {
        let b = Pdu::request(7, Body::EnquireLink).to_bytes().unwrap();
        assert_eq!(b, [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(
            decode_frame(&b).unwrap(),
            Some((Pdu::request(7, Body::EnquireLink), 16))
        );
    }

    #[test]
    fn bind_transceiver_encodes_smpp_4_1_5_fields_in_order() {
        let bind = Bind {
            system_id: "mms".into(),
            password: "pw".into(),
            system_type: "".into(),
            interface_version: INTERFACE_VERSION,
            addr_ton: 1,
            addr_npi: 1,
            address_range: "".into(),
        };
        let b = Pdu::request(1, Body::BindTransceiver(bind))
            .to_bytes()
            .unwrap();
        assert_eq!(&b[4..8], &[0, 0, 0, 9]);
        assert_eq!(&b[16..], b"mms\0pw\0\0\x34\x01\x01\0");
        assert_eq!(b.len(), 16 + 12);
    }

    #[test]
    fn partial_frame_is_none_not_error() {
        let b = Pdu::request(1, Body::SubmitSm(Box::default()))
            .to_bytes()
            .unwrap();
        for cut in 0..b.len() {
            assert_eq!(decode_frame(&b[..cut]), Ok(None), "cut {cut}");
        }
        assert!(decode_frame(&b).unwrap().is_some());
    }

    #[test]
    fn command_length_below_header_is_fatal() {
        assert_eq!(
            decode_frame(&[0, 0, 0, 8, 0, 0, 0, 0]),
            Err(DecodeError::InvalidCommandLength(8))
        );
    }

    #[test]
    fn unknown_command_is_skippable_with_invalid_command_id_status() {
        let frame = [0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 3];
        let e = decode_frame(&frame).unwrap_err();
        assert_eq!(e.skip_len(), Some(16));
        assert_eq!(e.sequence(), Some(3));
        assert_eq!(e.command_status(), CommandStatus::InvalidCommandId);
    }

    #[test]
    fn error_submit_sm_resp_has_no_body_and_decodes() {
        let pdu = Pdu {
            sequence: 5,
            status: CommandStatus::Throttled,
            body: Body::SubmitSmResp(SubmitSmResp::default()),
        };
        let b = pdu.to_bytes().unwrap();
        assert_eq!(b.len(), 16);
        assert_eq!(&b[8..12], &[0, 0, 0, 0x58]);
        assert_eq!(decode_frame(&b).unwrap().unwrap().0, pdu);
    }

    #[test]
    fn submit_sm_short_message_running_past_frame_is_malformed() {
        let sm = SubmitSm {
            short_message: Bytes::from_static(b"abc"),
            ..SubmitSm::default()
        };
        let mut b = Pdu::request(1, Body::SubmitSm(Box::new(sm)))
            .to_bytes()
            .unwrap();
        // shorten the frame by one octet and fix command_length
        b.pop();
        let n = b.len() as u32;
        b[..4].copy_from_slice(&n.to_be_bytes());
        let e = decode_frame(&b).unwrap_err();
        assert_eq!(e.command_status(), CommandStatus::InvalidMessageLength);
    }

    #[test]
    fn overlong_address_is_refused_when_encoding() {
        let sm = SubmitSm {
            destination: Address::international("123456789012345678901"),
            ..SubmitSm::default()
        };
        assert_eq!(
            Pdu::request(1, Body::SubmitSm(Box::new(sm))).to_bytes(),
            Err(EncodeError::FieldTooLong("destination_addr"))
        );
    }
}
