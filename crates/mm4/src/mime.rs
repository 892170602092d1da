//! The MM's content as MIME (TS 23.140 §8.4.1.1 "Content"; RFC 2045–2047, RFC 2387): MMS ENC
//! content types and WSP multipart bodies to MIME entities and back.
//!
//! * `application/vnd.wap.multipart.{related,mixed,alternative}` at the top are
//!   `multipart/{related,mixed,alternative}`; `type`, `start` and other parameters are kept.
//! * Each part keeps Content-Type with its parameters (charset by MIME name), Content-ID and
//!   Content-Location (as written, brackets and all) and its other `Content-*` and `X-*`
//!   headers (text values).
//! * Text parts that are 7-bit clean CRLF text go as `7bit`, every other part as `base64`, so
//!   the octets (and the part's charset) come back exactly.
//! * A part whose data is already base64 or quoted-printable (a textual
//!   Content-Transfer-Encoding part header, as some relays send on MM1) goes under that
//!   encoding, so the recipient gets the decoded octets.
//! * A part that is itself a WSP multipart travels as an opaque leaf of its WSP type; nested
//!   MIME multiparts received from a peer are flattened into the part list.

use crate::error::Mm4Error;
use crate::text::{decode_utf8, encode_utf8, unfold};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use mail_builder::headers::content_type::ContentType as MimeContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{Encoding, Message, MessagePart, PartType};
use mms_pdu::{
    Body, Charset, ContentType, Header, HeaderName, MediaType, ParamName, ParamValue, Parameter,
    Part,
};

/// WSP well-known parameter codes (WAP-230 Table 38) used when mapping MIME parameters back.
const PARAM_CHARSET: u8 = 0x01;
const PARAM_NAME: u8 = 0x05;
const PARAM_FILENAME: u8 = 0x06;
const PARAM_TYPE: u8 = 0x09;
const PARAM_START: u8 = 0x0A;
const PARAM_START_INFO: u8 = 0x0B;

/// Part headers this module writes itself; others are kept as application headers.
const STRUCTURAL: &[&str] = &[
    "content-type",
    "content-id",
    "content-location",
    "content-transfer-encoding",
    "mime-version",
];

/// The MIME media type for an MMS ENC media type; `top` maps the WSP multiparts to MIME ones.
fn media_name(m: &MediaType, top: bool) -> String {
    let name = m
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_ascii_lowercase();
    match name.strip_prefix("application/vnd.wap.multipart.") {
        Some(sub) if top => format!("multipart/{sub}"),
        _ => name,
    }
}

/// The MIME parameters of an MMS ENC content type: charset by MIME name, `type` by media name.
fn mime_params(ct: &ContentType) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(ct.params.len());
    for p in &ct.params {
        let name = match &p.name {
            ParamName::WellKnown(_) if p.name.as_str() == "unknown" => continue,
            n => n.as_str().to_ascii_lowercase(),
        };
        if name.is_empty()
            || name == "boundary"
            || !name.bytes().all(is_token_char)
            || out.iter().any(|(n, _)| *n == name)
        {
            // A repeated parameter is ambiguous in MIME (RFC 2045 §5.1): the first one counts.
            continue;
        }
        let value = match (&p.value, name.as_str()) {
            (ParamValue::Integer(n), "charset") => u32::try_from(*n)
                .ok()
                .and_then(|c| Charset(c).name())
                .map_or_else(|| n.to_string(), str::to_owned),
            (ParamValue::Integer(n), "type") => u32::try_from(*n)
                .ok()
                .and_then(|c| MediaType::WellKnown(c).as_str().map(str::to_owned))
                .unwrap_or_else(|| n.to_string()),
            (ParamValue::Integer(n), _) => n.to_string(),
            (ParamValue::Text(t) | ParamValue::Quoted(t), _) => t.clone(),
            (ParamValue::None, _) => continue,
        };
        out.push((name, value));
    }
    out
}

/// `type/subtype` of RFC 2045 tokens; anything else is carried as `application/octet-stream`.
fn is_media_name(n: &str) -> bool {
    match n.split_once('/') {
        Some((t, s)) => {
            !t.is_empty() && !s.is_empty() && t.bytes().chain(s.bytes()).all(is_token_char)
        }
        None => false,
    }
}

/// An RFC 5322 §2.2 field name: printable US-ASCII except `:`.
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_graphic() && c != b':')
}

/// Part headers carried besides the structural ones: `Content-*` (Disposition, Description,
/// Language ...) and `X-*` application headers (RFC 2045 §9). Others (Date, From ...) have no
/// meaning on a body part and are dropped.
fn is_kept_part_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    is_header_name(name)
        && (lower.starts_with("content-") || lower.starts_with("x-"))
        && !STRUCTURAL.contains(&lower.as_str())
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// The MMS ENC content type of a MIME type and its parameters (boundary dropped).
fn wsp_content_type(media: &str, params: &[(String, String)]) -> ContentType {
    let media = if is_media_name(media) {
        media.to_ascii_lowercase()
    } else {
        "application/octet-stream".to_owned()
    };
    let media = match media.strip_prefix("multipart/") {
        Some("related") => MediaType::MULTIPART_RELATED,
        Some("mixed") => MediaType::MULTIPART_MIXED,
        Some(sub) => MediaType::from_name(&format!("application/vnd.wap.multipart.{sub}")),
        None => MediaType::from_name(&media),
    };
    let mut ct = ContentType::new(media);
    for (name, value) in params {
        let lower = name.to_ascii_lowercase();
        if lower.is_empty()
            || !lower.bytes().all(is_token_char)
            || params
                .iter()
                .take_while(|(n, _)| !std::ptr::eq(n, name))
                .any(|(n, _)| n.eq_ignore_ascii_case(&lower))
        {
            // Not a MIME token: this crate never writes such a name, so it does not read one.
            continue;
        }
        let (name, value) = match lower.as_str() {
            "boundary" => continue,
            "charset" => (
                ParamName::WellKnown(PARAM_CHARSET),
                match Charset::from_name(value) {
                    Some(c) => ParamValue::Integer(u64::from(c.0)),
                    None => ParamValue::Text(value.clone()),
                },
            ),
            "type" => (
                ParamName::WellKnown(PARAM_TYPE),
                ParamValue::Text(value.clone()),
            ),
            "start" => (
                ParamName::WellKnown(PARAM_START),
                ParamValue::Text(value.clone()),
            ),
            "start-info" => (
                ParamName::WellKnown(PARAM_START_INFO),
                ParamValue::Text(value.clone()),
            ),
            "name" => (
                ParamName::WellKnown(PARAM_NAME),
                ParamValue::Text(value.clone()),
            ),
            "filename" => (
                ParamName::WellKnown(PARAM_FILENAME),
                ParamValue::Text(value.clone()),
            ),
            _ => (
                ParamName::Token(lower.clone()),
                ParamValue::Text(value.clone()),
            ),
        };
        ct.params.push(Parameter { name, value });
    }
    ct
}

fn builder_content_type(media: String, params: Vec<(String, String)>) -> MimeContentType<'static> {
    let mut ct = MimeContentType::new(media);
    for (k, v) in params {
        ct = ct.attribute(k, v);
    }
    ct
}

/// Whether a text body can travel as `7bit` unchanged (RFC 5322 §2.3: CRLF lines of at most
/// 998 octets, no NUL, no bare CR or LF).
fn is_7bit_text(data: &[u8]) -> bool {
    let mut line = 0usize;
    let mut prev = 0u8;
    for (i, &c) in data.iter().enumerate() {
        match c {
            b'\r' => {
                if data.get(i + 1) != Some(&b'\n') {
                    return false;
                }
            }
            b'\n' => {
                if prev != b'\r' {
                    return false;
                }
                line = 0;
                prev = c;
                continue;
            }
            b'\t' | 0x20..=0x7E => {}
            _ => return false,
        }
        line += 1;
        if line > 998 {
            return false;
        }
        prev = c;
    }
    true
}

/// Base64 with CRLF every 76 characters (RFC 2045 §6.8).
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 57 * 2 + 4);
    for (i, chunk) in data.chunks(57).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let mut buf = [0u8; 76];
        let n = STANDARD.encode_slice(chunk, &mut buf).unwrap_or(0);
        out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
    out
}

/// A leaf MIME part for a body with content type `ct`; `top` when it is the message itself.
/// `encoded` names the transfer encoding the data already has (a WSP part's textual
/// Content-Transfer-Encoding header): such data goes as it is, under that encoding.
fn leaf(
    ct: &ContentType,
    data: &[u8],
    top: bool,
    encoded: Option<&'static str>,
) -> MimePart<'static> {
    let media = media_name(&ct.media, top);
    let text = media.starts_with("text/") && is_7bit_text(data);
    let (body, cte) = match encoded {
        Some(cte) => (data.to_vec(), cte),
        None if text => (data.to_vec(), "7bit"),
        None => (base64_lines(data), "base64"),
    };
    MimePart::new(
        builder_content_type(media, mime_params(ct)),
        BodyPart::Binary(body.into()),
    )
    .transfer_encoding(cte)
}

/// The transfer encoding a WSP part's data already has, from a textual
/// Content-Transfer-Encoding part header (seen from real relays), if it is base64 or QP.
fn existing_encoding(p: &Part) -> Option<&'static str> {
    let v = p.headers.iter().find_map(|h| match &h.name {
        HeaderName::Text(n) if n.eq_ignore_ascii_case("Content-Transfer-Encoding") => {
            h.value_text()
        }
        _ => None,
    })?;
    match v.trim().to_ascii_lowercase().as_str() {
        "base64"
            if p.data
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"+/=\r\n \t".contains(c)) =>
        {
            Some("base64")
        }
        "quoted-printable" if is_7bit_text(&p.data) => Some("quoted-printable"),
        _ => None,
    }
}

/// The MIME entity for an MM's content type and body (the message's top-level body).
pub(crate) fn build_body(ct: &ContentType, body: &Body) -> MimePart<'static> {
    match body {
        Body::Single(data) => leaf_top(ct, data),
        Body::Multipart(parts) => {
            let children = parts.iter().map(build_part).collect::<Vec<_>>();
            let media = media_name(&ct.media, true);
            let media = if media.starts_with("multipart/") {
                media
            } else {
                "multipart/mixed".to_owned()
            };
            MimePart::new(
                builder_content_type(media, mime_params(ct)),
                BodyPart::Multipart(children),
            )
        }
    }
}

fn leaf_top(ct: &ContentType, data: &[u8]) -> MimePart<'static> {
    leaf(ct, data, true, None)
}

fn build_part(p: &Part) -> MimePart<'static> {
    let mut m = leaf(&p.content_type, &p.data, false, existing_encoding(p));
    if let Some(id) = &p.content_id {
        m = m.header("Content-ID", Raw::new(encode_utf8(id)));
    }
    if let Some(loc) = &p.content_location {
        m = m.header("Content-Location", Raw::new(encode_utf8(loc)));
    }
    for h in &p.headers {
        if let (HeaderName::Text(name), Some(value)) = (&h.name, h.value_text())
            && is_kept_part_header(name)
        {
            m = m.header(name.clone(), Raw::new(encode_utf8(&value)));
        }
    }
    m
}

/// The unfolded raw value of header `name` of a parsed part.
fn raw_header<'a>(raw: &'a [u8], part: &MessagePart, name: &str) -> Option<String> {
    let h = part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let bytes: &'a [u8] = raw.get(h.offset_start as usize..h.offset_end as usize)?;
    Some(unfold(bytes))
}

/// The content type of a parsed part (`text/plain; charset=us-ascii` when absent, RFC 2045 §5.2).
fn part_content_type(part: &MessagePart) -> (String, Vec<(String, String)>) {
    match mime_content_type(part) {
        Some(ct) => {
            let media = match &ct.c_subtype {
                Some(sub) => format!("{}/{}", ct.c_type, sub),
                None => ct.c_type.to_string(),
            };
            let params = ct
                .attributes
                .iter()
                .flatten()
                .map(|a| (a.name.to_string(), a.value.replace(['\r', '\n'], "")))
                .collect();
            (media.to_ascii_lowercase(), params)
        }
        None => ("text/plain".to_owned(), Vec::new()),
    }
}

/// The exact octets of a leaf part: binary parts as mail-parser decoded them, text parts from
/// the raw transfer-encoded octets (mail-parser would convert their charset to UTF-8).
fn leaf_bytes(raw: &[u8], part: &MessagePart) -> Vec<u8> {
    match &part.body {
        PartType::Text(_) | PartType::Html(_) => {
            let body = raw
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or(&[]);
            match part.encoding {
                Encoding::Base64 => {
                    let clean: Vec<u8> = body
                        .iter()
                        .copied()
                        .filter(|c| !c.is_ascii_whitespace())
                        .collect();
                    STANDARD
                        .decode(&clean)
                        .ok()
                        .or_else(|| mail_parser::decoders::base64::base64_decode(&clean))
                        .unwrap_or_else(|| part.contents().to_vec())
                }
                Encoding::QuotedPrintable => {
                    mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
                        .unwrap_or_else(|| part.contents().to_vec())
                }
                Encoding::None => body.to_vec(),
            }
        }
        _ => part.contents().to_vec(),
    }
}

/// The parsed Content-Type header of a part.
fn mime_content_type<'a>(part: &'a MessagePart<'_>) -> Option<&'a mail_parser::ContentType<'a>> {
    part.headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case("Content-Type"))
        .and_then(|h| h.value.as_content_type())
}

fn collect_parts(
    msg: &Message,
    id: u32,
    depth: usize,
    out: &mut Vec<Part>,
) -> Result<(), Mm4Error> {
    if depth > 16 {
        return Err(Mm4Error::InvalidBody(
            "multipart nested deeper than 16 levels",
        ));
    }
    let part = msg.parts.get(id as usize).ok_or(Mm4Error::InvalidBody(
        "a part the multipart names is missing",
    ))?;
    if let Some(children) = part.sub_parts() {
        for &c in children {
            collect_parts(msg, c, depth + 1, out)?;
        }
        return Ok(());
    }
    let raw = msg.raw_message();
    let (media, params) = part_content_type(part);
    let mut p = Part::new(
        wsp_content_type(&media, &params),
        Bytes::from(leaf_bytes(raw, part)),
    );
    p.content_id = raw_header(raw, part, "Content-ID").map(|v| decode_utf8(&v));
    p.content_location = raw_header(raw, part, "Content-Location").map(|v| decode_utf8(&v));
    for h in &part.headers {
        let name = h.name.as_str();
        if !is_kept_part_header(name) {
            continue;
        }
        if let Some(bytes) = raw.get(h.offset_start as usize..h.offset_end as usize) {
            p.headers
                .push(Header::text(name, &decode_utf8(&unfold(bytes))));
        }
    }
    out.push(p);
    Ok(())
}

/// The MM's content type and body from a parsed message.
pub(crate) fn parse_body(msg: &Message) -> Result<(ContentType, Body), Mm4Error> {
    let root = msg.parts.first().ok_or(Mm4Error::NotRfc5322)?;
    let (media, params) = part_content_type(root);
    let mut ct = wsp_content_type(&media, &params);
    match root.sub_parts() {
        Some(children) => {
            if let Some(boundary) = params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v)
            {
                let close = format!("--{boundary}--");
                let raw = msg.raw_message();
                if !raw
                    .windows(close.len())
                    .rev()
                    .any(|w| w == close.as_bytes())
                {
                    return Err(Mm4Error::Incomplete);
                }
            }
            if !ct.media.is_multipart() {
                ct.media = MediaType::MULTIPART_MIXED;
            }
            let mut parts = Vec::with_capacity(children.len());
            for &c in children {
                collect_parts(msg, c, 1, &mut parts)?;
            }
            Ok((ct, Body::Multipart(parts)))
        }
        None => Ok((
            ct,
            Body::Single(Bytes::from(leaf_bytes(msg.raw_message(), root))),
        )),
    }
}
