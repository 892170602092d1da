//! RFC 2865 §3: packet layout `Code(1) Identifier(1) Length(2) Authenticator(16) Attributes`,
//! attributes `Type(1) Length(1) Value(Length-2)`; RFC 2866 §3 accounting authenticators.

use md5::{Digest, Md5};

/// RFC 2865 §3: the largest packet a RADIUS implementation must accept (4096 octets).
pub const MAX_PACKET_LEN: usize = 4096;
/// RFC 2865 §3: the smallest valid packet (the header alone).
const HEADER_LEN: usize = 20;

/// RFC 2865 §3 / RFC 2866 §3: the packet Code field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// RFC 2866 §4.1: Accounting-Request (4).
    AccountingRequest,
    /// RFC 2866 §4.2: Accounting-Response (5).
    AccountingResponse,
    /// Any other code (Access-Request 1, ...), kept as its number.
    Other(u8),
}

impl Code {
    /// The code octet on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            Code::AccountingRequest => 4,
            Code::AccountingResponse => 5,
            Code::Other(c) => c,
        }
    }

    /// The code for an octet on the wire.
    pub fn from_u8(c: u8) -> Self {
        match c {
            4 => Code::AccountingRequest,
            5 => Code::AccountingResponse,
            other => Code::Other(other),
        }
    }
}

/// RFC 2865 §5: one attribute, its value kept raw (Vendor-Specific 26 included, RFC 2865 §5.26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The Type octet.
    pub kind: u8,
    /// The Value octets (0..=253 of them).
    pub value: Vec<u8>,
}

/// RFC 2865 §3: a decoded RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The Code field.
    pub code: Code,
    /// The Identifier field, matching requests and replies.
    pub identifier: u8,
    /// The Authenticator field as received (or to be sent).
    pub authenticator: [u8; 16],
    /// The attributes in wire order.
    pub attributes: Vec<Attribute>,
}

/// Why bytes are not (yet) a RADIUS packet (RFC 2865 §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer octets than the header or the Length field announce; read more.
    #[error("incomplete packet: {needed} more octets needed")]
    Incomplete {
        /// How many more octets are needed at least.
        needed: usize,
    },
    /// The Length field is below 20 or above 4096 (RFC 2865 §3: silently discard).
    #[error("length field {0} out of range 20..=4096")]
    BadLength(u16),
    /// An attribute's Length is below 2 or runs past the packet's end.
    #[error("attribute at offset {offset} has a bad length")]
    BadAttributeLength {
        /// Offset of the attribute in the packet.
        offset: usize,
    },
}

/// Why a packet cannot be encoded (RFC 2865 §3, §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An attribute value longer than 253 octets.
    #[error("attribute {kind} value of {len} octets exceeds 253")]
    AttributeTooLong {
        /// The attribute type.
        kind: u8,
        /// The value length.
        len: usize,
    },
    /// The whole packet would exceed 4096 octets.
    #[error("packet of {0} octets exceeds 4096")]
    PacketTooLong(usize),
}

/// Why an authenticator check failed (RFC 2866 §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticatorError {
    /// The bytes are not a packet.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The packet is well formed but its authenticator does not match the shared secret.
    #[error("authenticator does not match the shared secret")]
    Mismatch,
}

impl Packet {
    /// A packet with a zero authenticator and no attributes.
    pub fn new(code: Code, identifier: u8) -> Self {
        Packet {
            code,
            identifier,
            authenticator: [0; 16],
            attributes: Vec::new(),
        }
    }

    /// Appends an attribute (builder style).
    pub fn with(mut self, kind: u8, value: impl Into<Vec<u8>>) -> Self {
        self.attributes.push(Attribute {
            kind,
            value: value.into(),
        });
        self
    }

    /// The value of the first attribute of this type (RFC 2865 §5).
    pub fn attribute(&self, kind: u8) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| a.value.as_slice())
    }

    /// RFC 2865 §3: decodes one packet from `buf`. Octets past the Length field are ignored
    /// (RFC 2865 §3: "Octets outside the range of the Length field MUST be treated as padding").
    pub fn decode(buf: &[u8]) -> Result<Packet, DecodeError> {
        let header = buf.get(..HEADER_LEN).ok_or(DecodeError::Incomplete {
            needed: HEADER_LEN.saturating_sub(buf.len()),
        })?;
        let length = u16::from_be_bytes([header[2], header[3]]);
        let len = usize::from(length);
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&len) {
            return Err(DecodeError::BadLength(length));
        }
        let packet = buf.get(..len).ok_or(DecodeError::Incomplete {
            needed: len.saturating_sub(buf.len()),
        })?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&header[4..HEADER_LEN]);
        let mut attributes = Vec::new();
        let mut offset = HEADER_LEN;
        while offset < len {
            let bad = DecodeError::BadAttributeLength { offset };
            let (&kind, &alen) = match (packet.get(offset), packet.get(offset + 1)) {
                (Some(k), Some(l)) => (k, l),
                _ => return Err(bad),
            };
            let alen = usize::from(alen);
            if alen < 2 {
                return Err(bad);
            }
            let value = packet.get(offset + 2..offset + alen).ok_or(bad)?;
            attributes.push(Attribute {
                kind,
                value: value.to_vec(),
            });
            offset += alen;
        }
        Ok(Packet {
            code: Code::from_u8(header[0]),
            identifier: header[1],
            authenticator,
            attributes,
        })
    }

    /// RFC 2865 §3: encodes the packet with its `authenticator` field as is.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.attributes.len() * 16);
        out.push(self.code.to_u8());
        out.push(self.identifier);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.authenticator);
        for a in &self.attributes {
            let len = a.value.len();
            if len > 253 {
                return Err(EncodeError::AttributeTooLong { kind: a.kind, len });
            }
            out.push(a.kind);
            out.push(len as u8 + 2);
            out.extend_from_slice(&a.value);
        }
        let total = out.len();
        if total > MAX_PACKET_LEN {
            return Err(EncodeError::PacketTooLong(total));
        }
        out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        Ok(out)
    }

    /// RFC 2866 §3: encodes an Accounting-Request, setting the Request Authenticator to
    /// MD5(Code | Identifier | Length | 16 zero octets | Attributes | secret).
    pub fn encode_accounting_request(&mut self, secret: &[u8]) -> Result<Vec<u8>, EncodeError> {
        self.authenticator = [0; 16];
        let mut out = self.encode()?;
        let auth = md5_of(&out, secret);
        out[4..HEADER_LEN].copy_from_slice(&auth);
        self.authenticator = auth;
        Ok(out)
    }

    /// RFC 2866 §3: encodes a reply (Accounting-Response) to a request whose authenticator is
    /// `request_authenticator`: Response Authenticator = MD5(Code | ID | Length |
    /// RequestAuthenticator | Attributes | secret).
    pub fn encode_response(
        &mut self,
        request_authenticator: &[u8; 16],
        secret: &[u8],
    ) -> Result<Vec<u8>, EncodeError> {
        self.authenticator = *request_authenticator;
        let mut out = self.encode()?;
        let auth = md5_of(&out, secret);
        out[4..HEADER_LEN].copy_from_slice(&auth);
        self.authenticator = auth;
        Ok(out)
    }

    /// RFC 2866 §3: the Accounting-Response (code 5) to this request, no attributes, same
    /// identifier, with its Response Authenticator computed from this request's authenticator.
    pub fn accounting_response(&self, secret: &[u8]) -> Result<Vec<u8>, EncodeError> {
        Packet::new(Code::AccountingResponse, self.identifier)
            .encode_response(&self.authenticator, secret)
    }
}

/// RFC 2866 §3: checks the Request Authenticator of the Accounting-Request in `raw` against
/// `secret` and returns the decoded packet when it matches.
pub fn verify_accounting_request(raw: &[u8], secret: &[u8]) -> Result<Packet, AuthenticatorError> {
    let packet = Packet::decode(raw)?;
    // `decode` checked the Length field, so this slice exists.
    let len = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
    let mut zeroed = raw
        .get(..len)
        .ok_or(DecodeError::Incomplete { needed: len })?
        .to_vec();
    zeroed[4..HEADER_LEN].fill(0);
    if md5_of(&zeroed, secret) == packet.authenticator {
        Ok(packet)
    } else {
        Err(AuthenticatorError::Mismatch)
    }
}

/// RFC 2866 §3: checks the Response Authenticator of a reply in `raw` to the request whose
/// authenticator was `request_authenticator`.
pub fn verify_response(
    raw: &[u8],
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Packet, AuthenticatorError> {
    let packet = Packet::decode(raw)?;
    let len = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
    let mut with_request = raw
        .get(..len)
        .ok_or(DecodeError::Incomplete { needed: len })?
        .to_vec();
    with_request[4..HEADER_LEN].copy_from_slice(request_authenticator);
    if md5_of(&with_request, secret) == packet.authenticator {
        Ok(packet)
    } else {
        Err(AuthenticatorError::Mismatch)
    }
}

fn md5_of(packet: &[u8], secret: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(packet);
    h.update(secret);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn header_shorter_than_20_octets_is_incomplete_rfc2865_s3() {
        assert_eq!(
            Packet::decode(&[4, 1, 0]),
            Err(DecodeError::Incomplete { needed: 17 })
        );
    }

    #[test]
    fn body_shorter_than_length_field_is_incomplete_rfc2865_s3() {
        let mut raw = vec![4, 1, 0, 26];
        raw.extend_from_slice(&[0; 16]);
        raw.extend_from_slice(&[1, 6, b'a']);
        assert_eq!(
            Packet::decode(&raw),
            Err(DecodeError::Incomplete { needed: 3 })
        );
    }

    #[test]
    fn length_field_out_of_range_is_malformed_rfc2865_s3() {
        let mut raw = vec![4, 1, 0, 19];
        raw.extend_from_slice(&[0; 16]);
        assert_eq!(Packet::decode(&raw), Err(DecodeError::BadLength(19)));
        raw[2..4].copy_from_slice(&4097u16.to_be_bytes());
        assert_eq!(Packet::decode(&raw), Err(DecodeError::BadLength(4097)));
    }

    #[test]
    fn attribute_length_below_two_or_past_end_is_malformed_rfc2865_s5() {
        let mut raw = vec![4, 1, 0, 22];
        raw.extend_from_slice(&[0; 16]);
        raw.extend_from_slice(&[1, 1]);
        assert_eq!(
            Packet::decode(&raw),
            Err(DecodeError::BadAttributeLength { offset: 20 })
        );
        raw[21] = 3;
        assert_eq!(
            Packet::decode(&raw),
            Err(DecodeError::BadAttributeLength { offset: 20 })
        );
        let mut raw = vec![4, 1, 0, 21];
        raw.extend_from_slice(&[0; 16]);
        raw.push(1);
        assert_eq!(
            Packet::decode(&raw),
            Err(DecodeError::BadAttributeLength { offset: 20 })
        );
    }

    #[test]
    fn octets_past_length_field_are_padding_rfc2865_s3() {
        let p = Packet::new(Code::AccountingRequest, 9).with(1, b"bob".to_vec());
        let mut raw = p.encode().unwrap();
        raw.extend_from_slice(b"junk");
        assert_eq!(Packet::decode(&raw).unwrap(), p);
    }

    /// Hand-computed: MD5 over 04 07 00 1a | 16 x 00 | 01 06 "user" | "secret".
    #[test]
    fn request_authenticator_is_md5_of_packet_with_zero_authenticator_and_secret_rfc2866_s3() {
        let mut p = Packet::new(Code::AccountingRequest, 7).with(1, b"user".to_vec());
        let raw = p.encode_accounting_request(b"secret").unwrap();
        let mut input = hex("04 07 00 1a 00000000000000000000000000000000 01 06 75 73 65 72");
        input.extend_from_slice(b"secret");
        let expected: [u8; 16] = Md5::digest(&input).into();
        assert_eq!(&raw[4..20], &expected);
        assert_eq!(verify_accounting_request(&raw, b"secret").unwrap(), p);
        assert_eq!(
            verify_accounting_request(&raw, b"Secret"),
            Err(AuthenticatorError::Mismatch)
        );
    }

    /// A fixed vector (computed once with Python hashlib, independent of this code):
    /// md5(bytes.fromhex('0407001a' + '00'*16 + '010675736572') + b'secret').
    #[test]
    fn request_authenticator_matches_independent_vector_rfc2866_s3() {
        let mut p = Packet::new(Code::AccountingRequest, 7).with(1, b"user".to_vec());
        let raw = p.encode_accounting_request(b"secret").unwrap();
        assert_eq!(raw[4..20].to_vec(), hex(INDEPENDENT_VECTOR));
    }
    const INDEPENDENT_VECTOR: &str = include_str!("../tests/vectors/acct_request_user_secret.hex");

    /// RFC 2865 §7.1 example: Access-Request from NAS 192.168.1.16 for user "nemo" and its
    /// Access-Accept, shared secret "xyzzy5461". The Response Authenticator formula is the one
    /// RFC 2866 §3 uses for Accounting-Response.
    #[test]
    fn rfc2865_s7_1_example_decodes_and_its_response_authenticator_verifies() {
        let request = hex(
            "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12
             0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03",
        );
        let accept = hex(
            "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01
             0f 06 00 00 00 00 0e 06 c0 a8 01 03",
        );
        let req = Packet::decode(&request).unwrap();
        assert_eq!(
            (req.code, req.identifier, req.attributes.len()),
            (Code::Other(1), 0, 4)
        );
        assert_eq!(req.user_name(), Ok(Some("nemo")));
        assert_eq!(
            req.nas_ip_address(),
            Ok(Some(std::net::Ipv4Addr::new(192, 168, 1, 16)))
        );
        let resp = verify_response(&accept, &req.authenticator, b"xyzzy5461").unwrap();
        assert_eq!(resp.attributes.len(), 3);
        assert_eq!(
            verify_response(&accept, &req.authenticator, b"xyzzy5462"),
            Err(AuthenticatorError::Mismatch)
        );
    }

    #[test]
    fn tampered_attribute_fails_authenticator_check_rfc2866_s3() {
        let mut p = Packet::new(Code::AccountingRequest, 7).with(31, b"491701234567".to_vec());
        let mut raw = p.encode_accounting_request(b"s3").unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            verify_accounting_request(&raw, b"s3"),
            Err(AuthenticatorError::Mismatch)
        );
    }

    #[test]
    fn response_authenticator_covers_request_authenticator_rfc2866_s3() {
        let mut req = Packet::new(Code::AccountingRequest, 42).with(40, vec![0, 0, 0, 1]);
        req.encode_accounting_request(b"k").unwrap();
        let resp = req.accounting_response(b"k").unwrap();
        assert_eq!(resp[0], 5);
        assert_eq!(resp[1], 42);
        assert_eq!(&resp[2..4], &[0, 20]);
        let mut input = resp.clone();
        input[4..20].copy_from_slice(&req.authenticator);
        input.extend_from_slice(b"k");
        let expected: [u8; 16] = Md5::digest(&input).into();
        assert_eq!(&resp[4..20], &expected);
        assert!(verify_response(&resp, &req.authenticator, b"k").is_ok());
        assert_eq!(
            verify_response(&resp, &[0; 16], b"k"),
            Err(AuthenticatorError::Mismatch)
        );
    }

    #[test]
    fn vendor_specific_attribute_is_kept_raw_rfc2865_s5_26() {
        let vsa = hex("000028af 01 06 31323334");
        let p = Packet::new(Code::AccountingRequest, 1).with(26, vsa.clone());
        let back = Packet::decode(&p.encode().unwrap()).unwrap();
        assert_eq!(back.attribute(26), Some(vsa.as_slice()));
    }

    #[test]
    fn value_over_253_octets_is_refused_rfc2865_s5() {
        let p = Packet::new(Code::AccountingRequest, 1).with(1, vec![0; 254]);
        assert_eq!(
            p.encode(),
            Err(EncodeError::AttributeTooLong { kind: 1, len: 254 })
        );
    }

    #[test]
    fn packet_over_4096_octets_is_refused_rfc2865_s3() {
        let mut p = Packet::new(Code::AccountingRequest, 1);
        for _ in 0..17 {
            p = p.with(26, vec![0; 253]);
        }
        assert_eq!(p.encode(), Err(EncodeError::PacketTooLong(20 + 17 * 255)));
    }
}
