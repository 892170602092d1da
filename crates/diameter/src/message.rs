//! RFC 6733 §3: the Diameter header (version 1, 24-bit length, flags R/P/E/T, 24-bit command code,
//! Application-ID, Hop-by-Hop and End-to-End identifiers) followed by AVPs, and stream framing over TCP.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::avp::{self, Avp};

/// Header length in octets (RFC 6733 §3).
pub const HEADER_LEN: usize = 20;

/// Command flags (RFC 6733 §3): R request, P proxiable, E error, T potentially retransmitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandFlags {
    /// R: the message is a request.
    pub request: bool,
    /// P: the message may be proxied, relayed or redirected.
    pub proxiable: bool,
    /// E: the answer carries a protocol error (3xxx Result-Code).
    pub error: bool,
    /// T: the request may be a retransmission after failover.
    pub retransmitted: bool,
}

impl CommandFlags {
    fn to_byte(self) -> u8 {
        (u8::from(self.request) << 7)
            | (u8::from(self.proxiable) << 6)
            | (u8::from(self.error) << 5)
            | (u8::from(self.retransmitted) << 4)
    }

    fn from_byte(b: u8) -> Self {
        Self {
            request: b & 0x80 != 0,
            proxiable: b & 0x40 != 0,
            error: b & 0x20 != 0,
            retransmitted: b & 0x10 != 0,
        }
    }
}

/// One Diameter message (RFC 6733 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// R/P/E/T flags.
    pub flags: CommandFlags,
    /// 24-bit Command-Code.
    pub command_code: u32,
    /// Application-ID (0 for the base protocol).
    pub application_id: u32,
    /// Hop-by-Hop Identifier: matches an answer to the request on this connection.
    pub hop_by_hop: u32,
    /// End-to-End Identifier: detects duplicates end to end.
    pub end_to_end: u32,
    /// The AVPs in order.
    pub avps: Vec<Avp>,
}

/// A message could not be decoded (RFC 6733 §3, §4.1, §7.1.5). `Incomplete` means "read more", not "invalid".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// More octets are needed: at least `needed` in total from the start of the message.
    #[error("incomplete message: {needed} octets needed")]
    Incomplete {
        /// Total octets needed to make progress.
        needed: usize,
    },
    /// Version other than 1.
    #[error("unsupported Diameter version {0}")]
    UnsupportedVersion(u8),
    /// Message Length below the header size or not a multiple of 4.
    #[error("invalid message length {0}")]
    InvalidMessageLength(usize),
    /// An AVP Length shorter than its header or running past its container.
    #[error("AVP {code}: invalid length {length}")]
    InvalidAvpLength {
        /// AVP code.
        code: u32,
        /// Length found.
        length: usize,
    },
    /// An AVP header cut by the end of its container.
    #[error("truncated AVP header (code {code:?})")]
    TruncatedAvp {
        /// AVP code when at least that much was present.
        code: Option<u32>,
    },
}

impl DecodeError {
    /// The Result-Code a peer answers with for this error (RFC 6733 §7.1): the one mapping in this crate.
    pub fn result_code(&self) -> u32 {
        match self {
            // An incomplete message never reaches the point of answering; the closest code if forced.
            DecodeError::Incomplete { .. } | DecodeError::InvalidMessageLength(_) => {
                crate::codes::DIAMETER_INVALID_MESSAGE_LENGTH
            }
            DecodeError::UnsupportedVersion(_) => crate::codes::DIAMETER_UNSUPPORTED_VERSION,
            DecodeError::InvalidAvpLength { .. } | DecodeError::TruncatedAvp { .. } => {
                crate::codes::DIAMETER_INVALID_AVP_LENGTH
            }
        }
    }
}

/// Reads the header's Message Length once at least 4 octets are present; checks version and bounds.
fn message_length(buf: &[u8]) -> Result<usize, DecodeError> {
    let head = buf
        .get(..4)
        .ok_or(DecodeError::Incomplete { needed: HEADER_LEN })?;
    if head[0] != 1 {
        return Err(DecodeError::UnsupportedVersion(head[0]));
    }
    let length = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
    if length < HEADER_LEN || length % 4 != 0 {
        return Err(DecodeError::InvalidMessageLength(length));
    }
    Ok(length)
}

impl Message {
    /// A request with the R flag (and P, as every Sh and base request here is proxiable except CER/DWR/DPR).
    pub fn request(command_code: u32, application_id: u32, proxiable: bool) -> Self {
        Self {
            flags: CommandFlags {
                request: true,
                proxiable,
                ..CommandFlags::default()
            },
            command_code,
            application_id,
            hop_by_hop: 0,
            end_to_end: 0,
            avps: Vec::new(),
        }
    }

    /// The answer skeleton to `self` (RFC 6733 §6.2): same command, application, identifiers and P flag.
    pub fn answer_to(&self) -> Self {
        Self {
            flags: CommandFlags {
                proxiable: self.flags.proxiable,
                ..CommandFlags::default()
            },
            command_code: self.command_code,
            application_id: self.application_id,
            hop_by_hop: self.hop_by_hop,
            end_to_end: self.end_to_end,
            avps: Vec::new(),
        }
    }

    /// Appends an AVP (builder style).
    #[must_use]
    pub fn with(mut self, avp: Avp) -> Self {
        self.avps.push(avp);
        self
    }

    /// The first base-protocol AVP (no vendor) with this code.
    pub fn avp(&self, code: u32) -> Option<&Avp> {
        avp::find(&self.avps, code, None)
    }

    /// The first AVP with this code and vendor.
    pub fn vendor_avp(&self, code: u32, vendor_id: u32) -> Option<&Avp> {
        avp::find(&self.avps, code, Some(vendor_id))
    }

    /// Octets on the wire.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.avps.iter().map(Avp::encoded_len).sum::<usize>()
    }

    /// Appends the encoded message to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let length = self.encoded_len();
        out.reserve(length);
        out.put_u32((1 << 24) | (length as u32 & 0x00ff_ffff));
        out.put_u32((u32::from(self.flags.to_byte()) << 24) | (self.command_code & 0x00ff_ffff));
        out.put_u32(self.application_id);
        out.put_u32(self.hop_by_hop);
        out.put_u32(self.end_to_end);
        for avp in &self.avps {
            avp.encode(out);
        }
    }

    /// The encoded message.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes one message at the start of `buf`; returns it and the octets it took.
    /// Fewer octets than the header's length gives `Incomplete`.
    pub fn decode(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
        let length = message_length(buf)?;
        let frame = buf
            .get(..length)
            .ok_or(DecodeError::Incomplete { needed: length })?;
        Ok((Self::decode_whole(Bytes::copy_from_slice(frame))?, length))
    }

    /// Decodes a buffer that holds exactly one message (length already checked); AVP data are slices of it.
    fn decode_whole(frame: Bytes) -> Result<Message, DecodeError> {
        let mut header = frame.get(4..HEADER_LEN).unwrap_or_default();
        let flags_code = header.get_u32();
        let application_id = header.get_u32();
        let hop_by_hop = header.get_u32();
        let end_to_end = header.get_u32();
        let avps = avp::decode_avps_shared(&frame.slice(HEADER_LEN.min(frame.len())..))?;
        Ok(Message {
            flags: CommandFlags::from_byte((flags_code >> 24) as u8),
            command_code: flags_code & 0x00ff_ffff,
            application_id,
            hop_by_hop,
            end_to_end,
            avps,
        })
    }
}

/// Takes one whole message off the front of a stream buffer (RFC 6733 §3 framing over TCP).
///
/// `Ok(None)` means more octets are needed and leaves `buf` untouched. On error the stream cannot be
/// resynchronised and the connection should be closed.
pub fn decode_frame(buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
    let length = match message_length(buf) {
        Ok(length) if length <= buf.len() => length,
        Ok(_) | Err(DecodeError::Incomplete { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The frame's octets move into the message without a copy.
    Message::decode_whole(buf.split_to(length).freeze()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dwr() -> Message {
        let mut m = Message::request(280, 0, false)
            .with(Avp::utf8(264, "client.example").mandatory())
            .with(Avp::utf8(296, "example").mandatory());
        m.hop_by_hop = 0x0102_0304;
        m.end_to_end = 0x0a0b_0c0d;
        m
    }

    #[test]
    fn header_layout_matches_rfc6733_3() {
        let bytes = dwr().to_bytes();
        assert_eq!(bytes[0], 1);
        assert_eq!(usize::from(bytes[3]), bytes.len());
        assert_eq!(bytes[4], 0x80);
        assert_eq!(&bytes[5..8], &[0, 1, 0x18]);
        assert_eq!(&bytes[12..16], &[1, 2, 3, 4]);
        assert_eq!(&bytes[16..20], &[0x0a, 0x0b, 0x0c, 0x0d]);
    }

    #[test]
    fn every_prefix_is_incomplete_and_the_whole_decodes_rfc6733_3() {
        let bytes = dwr().to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    Message::decode(&bytes[..cut]),
                    Err(DecodeError::Incomplete { .. })
                ),
                "cut at {cut}"
            );
        }
        assert_eq!(Message::decode(&bytes), Ok((dwr(), bytes.len())));
    }

    #[test]
    fn stream_framing_yields_back_to_back_messages_and_waits_for_the_rest() {
        let one = dwr().to_bytes();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&one);
        buf.extend_from_slice(&one[..7]);
        assert_eq!(decode_frame(&mut buf), Ok(Some(dwr())));
        assert_eq!(decode_frame(&mut buf), Ok(None));
        assert_eq!(buf.len(), 7);
        buf.extend_from_slice(&one[7..]);
        assert_eq!(decode_frame(&mut buf), Ok(Some(dwr())));
        assert!(buf.is_empty());
    }

    #[test]
    fn version_other_than_one_is_rejected_with_5011_rfc6733_7_1_5() {
        let mut bytes = dwr().to_bytes().to_vec();
        bytes[0] = 2;
        let err = Message::decode(&bytes).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedVersion(2));
        assert_eq!(err.result_code(), 5011);
    }

    #[test]
    fn message_length_not_a_multiple_of_four_is_rejected_with_5015_rfc6733_3() {
        let err = Message::decode(&[1, 0, 0, 22]).unwrap_err();
        assert_eq!(err, DecodeError::InvalidMessageLength(22));
        assert_eq!(err.result_code(), 5015);
    }

    #[test]
    fn answer_copies_identifiers_and_clears_request_flag_rfc6733_6_2() {
        let a = dwr().answer_to();
        assert!(!a.flags.request);
        assert_eq!(
            (a.hop_by_hop, a.end_to_end, a.command_code),
            (0x0102_0304, 0x0a0b_0c0d, 280)
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn arb_avp() -> impl Strategy<Value = Avp> {
            (
                any::<u32>(),
                proptest::option::of(any::<u32>()),
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..40),
            )
                .prop_map(|(code, vendor_id, mandatory, protected, data)| Avp {
                    code,
                    vendor_id,
                    mandatory,
                    protected,
                    data: data.into(),
                })
        }

        fn arb_message() -> impl Strategy<Value = Message> {
            (
                any::<(bool, bool, bool, bool)>(),
                0u32..0x0100_0000,
                any::<(u32, u32, u32)>(),
                proptest::collection::vec(arb_avp(), 0..8),
            )
                .prop_map(|((r, p, e, t), command_code, (app, hbh, e2e), avps)| {
                    Message {
                        flags: CommandFlags {
                            request: r,
                            proxiable: p,
                            error: e,
                            retransmitted: t,
                        },
                        command_code,
                        application_id: app,
                        hop_by_hop: hbh,
                        end_to_end: e2e,
                        avps,
                    }
                })
        }

        proptest! {
            #[test]
            fn decode_inverts_encode_rfc6733_3(m in arb_message()) {
                let bytes = m.to_bytes();
                prop_assert_eq!(bytes.len() % 4, 0);
                prop_assert_eq!(Message::decode(&bytes), Ok((m, bytes.len())));
            }

            #[test]
            fn grouped_avp_round_trips_rfc6733_4_4(children in proptest::collection::vec(arb_avp(), 0..6)) {
                prop_assert_eq!(Avp::grouped(1, &children).as_grouped(), Ok(children));
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let mut buf = BytesMut::from(&bytes[..]);
                let _ = decode_frame(&mut buf);
                if let Ok((m, _)) = Message::decode(&bytes) {
                    for a in &m.avps {
                        let _ = a.as_grouped();
                        let _ = a.as_address();
                        let _ = a.as_time();
                    }
                }
            }
        }
    }
}
