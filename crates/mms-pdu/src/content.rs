//! Content-Type values and the WSP multipart body (WAP-230 §8.4.2.24, §8.5; MMS ENC 1.3 §7.2.14).

use crate::error::DecodeError;
use crate::header::{Header, HeaderName};
use crate::wsp::{self, Reader, Result};
use bytes::Bytes;

/// Well-known content types (WAP-230 Appendix A, Table 40 and the OMNA registry).
const MEDIA_TYPES: &[(u32, &str)] = &[
    (0x00, "*/*"),
    (0x01, "text/*"),
    (0x02, "text/html"),
    (0x03, "text/plain"),
    (0x04, "text/x-hdml"),
    (0x05, "text/x-ttml"),
    (0x06, "text/x-vCalendar"),
    (0x07, "text/x-vCard"),
    (0x08, "text/vnd.wap.wml"),
    (0x09, "text/vnd.wap.wmlscript"),
    (0x0A, "text/vnd.wap.wta-event"),
    (0x0B, "multipart/*"),
    (0x0C, "multipart/mixed"),
    (0x0D, "multipart/form-data"),
    (0x0E, "multipart/byterantes"),
    (0x0F, "multipart/alternative"),
    (0x10, "application/*"),
    (0x11, "application/java-vm"),
    (0x12, "application/x-www-form-urlencoded"),
    (0x13, "application/x-hdmlc"),
    (0x14, "application/vnd.wap.wmlc"),
    (0x15, "application/vnd.wap.wmlscriptc"),
    (0x16, "application/vnd.wap.wta-eventc"),
    (0x17, "application/vnd.wap.uaprof"),
    (0x18, "application/vnd.wap.wtls-ca-certificate"),
    (0x19, "application/vnd.wap.wtls-user-certificate"),
    (0x1A, "application/x-x509-ca-cert"),
    (0x1B, "application/x-x509-user-cert"),
    (0x1C, "image/*"),
    (0x1D, "image/gif"),
    (0x1E, "image/jpeg"),
    (0x1F, "image/tiff"),
    (0x20, "image/png"),
    (0x21, "image/vnd.wap.wbmp"),
    (0x22, "application/vnd.wap.multipart.*"),
    (0x23, "application/vnd.wap.multipart.mixed"),
    (0x24, "application/vnd.wap.multipart.form-data"),
    (0x25, "application/vnd.wap.multipart.byteranges"),
    (0x26, "application/vnd.wap.multipart.alternative"),
    (0x27, "application/xml"),
    (0x28, "text/xml"),
    (0x29, "application/vnd.wap.wbxml"),
    (0x2A, "application/x-x968-cross-cert"),
    (0x2B, "application/x-x968-ca-cert"),
    (0x2C, "application/x-x968-user-cert"),
    (0x2D, "text/vnd.wap.si"),
    (0x2E, "application/vnd.wap.sic"),
    (0x2F, "text/vnd.wap.sl"),
    (0x30, "application/vnd.wap.slc"),
    (0x31, "text/vnd.wap.co"),
    (0x32, "application/vnd.wap.coc"),
    (0x33, "application/vnd.wap.multipart.related"),
    (0x34, "application/vnd.wap.sia"),
    (0x35, "text/vnd.wap.connectivity-xml"),
    (0x36, "application/vnd.wap.connectivity-wbxml"),
    (0x37, "application/pkcs7-mime"),
    (0x38, "application/vnd.wap.hashed-certificate"),
    (0x39, "application/vnd.wap.signed-certificate"),
    (0x3A, "application/vnd.wap.cert-response"),
    (0x3B, "application/xhtml+xml"),
    (0x3C, "application/wml+xml"),
    (0x3D, "text/css"),
    (0x3E, "application/vnd.wap.mms-message"),
    (0x3F, "application/vnd.wap.rollover-certificate"),
    (0x40, "application/vnd.wap.locc+wbxml"),
    (0x41, "application/vnd.wap.loc+xml"),
    (0x42, "application/vnd.syncml.dm+wbxml"),
    (0x43, "application/vnd.syncml.dm+xml"),
    (0x44, "application/vnd.syncml.notification"),
    (0x45, "application/vnd.wap.xhtml+xml"),
    (0x46, "application/vnd.wv.csp.cir"),
    (0x47, "application/vnd.oma.dd+xml"),
    (0x48, "application/vnd.oma.drm.message"),
    (0x49, "application/vnd.oma.drm.content"),
    (0x4A, "application/vnd.oma.drm.rights+xml"),
    (0x4B, "application/vnd.oma.drm.rights+wbxml"),
    (0x4C, "application/vnd.wv.csp+xml"),
    (0x4D, "application/vnd.wv.csp+wbxml"),
    (0x4E, "application/vnd.syncml.ds.notification"),
    (0x4F, "audio/*"),
    (0x50, "video/*"),
    (0x51, "application/vnd.oma.dd2+xml"),
    (0x52, "application/mikey"),
];

/// A media type: a well-known code (WAP-230 Table 40) or its text (Extension-media).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// A well-known media code (Integer-value), e.g. 0x33 multipart.related.
    WellKnown(u32),
    /// A media type in text form, e.g. `image/jpeg` when sent as text.
    Text(String),
}

impl MediaType {
    /// `application/vnd.wap.multipart.related` (0x33).
    pub const MULTIPART_RELATED: MediaType = MediaType::WellKnown(0x33);
    /// `application/vnd.wap.multipart.mixed` (0x23).
    pub const MULTIPART_MIXED: MediaType = MediaType::WellKnown(0x23);
    /// `application/vnd.wap.mms-message` (0x3E).
    pub const MMS_MESSAGE: MediaType = MediaType::WellKnown(0x3E);
    /// `text/plain` (0x03).
    pub const TEXT_PLAIN: MediaType = MediaType::WellKnown(0x03);

    /// The text form; `None` for an unassigned well-known code.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MediaType::WellKnown(c) => MEDIA_TYPES.iter().find(|(k, _)| k == c).map(|(_, s)| *s),
            MediaType::Text(t) => Some(t),
        }
    }

    /// The well-known code for a text media type if there is one, else the text form.
    pub fn from_name(name: &str) -> MediaType {
        match MEDIA_TYPES
            .iter()
            .find(|(_, s)| s.eq_ignore_ascii_case(name))
        {
            Some((c, _)) => MediaType::WellKnown(*c),
            None => MediaType::Text(name.to_owned()),
        }
    }

    /// Whether this is one of the WSP multipart types (a body of parts follows, WAP-230 §8.5).
    pub fn is_multipart(&self) -> bool {
        match self {
            MediaType::WellKnown(c) => matches!(c, 0x22..=0x26 | 0x33),
            MediaType::Text(t) => t
                .to_ascii_lowercase()
                .starts_with("application/vnd.wap.multipart."),
        }
    }
}

/// Well-known parameter names (WAP-230 Table 38) by code; used for names and value typing.
const PARAM_NAMES: &[(u8, &str)] = &[
    (0x00, "q"),
    (0x01, "charset"),
    (0x02, "level"),
    (0x03, "type"),
    (0x05, "name"),
    (0x06, "filename"),
    (0x07, "differences"),
    (0x08, "padding"),
    (0x09, "type"),
    (0x0A, "start"),
    (0x0B, "start-info"),
    (0x0C, "comment"),
    (0x0D, "domain"),
    (0x0E, "max-age"),
    (0x0F, "path"),
    (0x10, "secure"),
    (0x11, "sec"),
    (0x12, "mac"),
    (0x13, "creation-date"),
    (0x14, "modification-date"),
    (0x15, "read-date"),
    (0x16, "size"),
    (0x17, "name"),
    (0x18, "filename"),
    (0x19, "start"),
    (0x1A, "start-info"),
    (0x1B, "comment"),
    (0x1C, "domain"),
    (0x1D, "path"),
];

/// A parameter name: well-known (WAP-230 Table 38) or Token-text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamName {
    /// A well-known parameter code (0x01 charset, 0x05/0x17 name, 0x09 type, 0x0A/0x19 start ...).
    WellKnown(u8),
    /// An untyped parameter name.
    Token(String),
}

impl ParamName {
    /// The parameter name in text form.
    pub fn as_str(&self) -> &str {
        match self {
            ParamName::WellKnown(c) => PARAM_NAMES
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, s)| *s)
                .unwrap_or("unknown"),
            ParamName::Token(t) => t,
        }
    }

    /// Whether this names the given text parameter (`"name"` matches 0x05, 0x17 and `name`).
    pub fn is(&self, name: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(name)
    }
}

/// A parameter value (WAP-230 §8.4.2.4: Typed-value | Untyped-value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamValue {
    /// Integer-value (charset, type, padding, size, dates ...).
    Integer(u64),
    /// Text-string / Token-text.
    Text(String),
    /// Quoted-string (sent with the 0x22 marker).
    Quoted(String),
    /// No-value (0x00), e.g. `secure`.
    None,
}

impl ParamValue {
    /// The value as text (integers in decimal, nothing for No-value).
    pub fn as_text(&self) -> Option<String> {
        match self {
            ParamValue::Integer(n) => Some(n.to_string()),
            ParamValue::Text(t) | ParamValue::Quoted(t) => Some(t.clone()),
            ParamValue::None => None,
        }
    }
}

/// One content-type parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Parameter {
    /// The name.
    pub name: ParamName,
    /// The value.
    pub value: ParamValue,
}

/// Content-type-value (WAP-230 §8.4.2.24): a media type with parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType {
    /// The media type.
    pub media: MediaType,
    /// Parameters in wire order.
    pub params: Vec<Parameter>,
}

impl Default for ContentType {
    /// `application/vnd.wap.multipart.mixed` without parameters.
    fn default() -> Self {
        ContentType::new(MediaType::MULTIPART_MIXED)
    }
}

impl ContentType {
    /// A content type without parameters.
    pub fn new(media: MediaType) -> Self {
        ContentType {
            media,
            params: Vec::new(),
        }
    }

    /// Adds a parameter (builder style).
    pub fn with_param(mut self, name: ParamName, value: ParamValue) -> Self {
        self.params.push(Parameter { name, value });
        self
    }

    fn param(&self, name: &str) -> Option<&ParamValue> {
        self.params
            .iter()
            .find(|p| p.name.is(name))
            .map(|p| &p.value)
    }

    /// The `charset` parameter (MIBenum), if present as a number.
    pub fn charset(&self) -> Option<crate::Charset> {
        match self.param("charset")? {
            ParamValue::Integer(n) => u32::try_from(*n).ok().map(crate::Charset),
            ParamValue::Text(t) | ParamValue::Quoted(t) => crate::Charset::from_name(t),
            ParamValue::None => None,
        }
    }

    /// The multipart/related `start` parameter (the root part's Content-ID).
    pub fn start(&self) -> Option<String> {
        self.param("start")?.as_text()
    }

    /// The multipart/related `type` parameter (the root part's media type).
    pub fn type_param(&self) -> Option<String> {
        match self
            .params
            .iter()
            .find(|p| {
                p.name == ParamName::WellKnown(0x09)
                    || p.name == ParamName::WellKnown(0x03)
                    || p.name.is("type")
            })?
            .value
        {
            ParamValue::Integer(n) => u32::try_from(n)
                .ok()
                .and_then(|c| MediaType::WellKnown(c).as_str().map(str::to_owned)),
            ref v => v.as_text(),
        }
    }

    /// The `name` parameter.
    pub fn name(&self) -> Option<String> {
        self.param("name")?.as_text()
    }

    /// The `filename` parameter.
    pub fn filename(&self) -> Option<String> {
        self.param("filename")?.as_text()
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        let b = r.peek()?;
        if b >= 0x80 {
            // Constrained-media: Short-integer.
            return Ok(ContentType::new(MediaType::WellKnown(u32::from(
                r.short_integer()?,
            ))));
        }
        if b >= 0x20 {
            // Constrained-media: Extension-media (text).
            return Ok(ContentType::new(MediaType::Text(r.text()?)));
        }
        // Content-general-form: Value-length Media-type.
        let mut v = r.value_length_sub()?;
        let media = if v.peek()? >= 0x20 && v.peek()? < 0x80 {
            MediaType::Text(v.text()?)
        } else {
            let c = v.integer_value()?;
            MediaType::WellKnown(u32::try_from(c).map_err(|_| v.malformed("media code too large"))?)
        };
        let mut params = Vec::new();
        while !v.is_empty() {
            params.push(decode_param(&mut v)?);
        }
        Ok(ContentType { media, params })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match (&self.media, self.params.is_empty()) {
            (MediaType::WellKnown(c), true) if *c < 0x80 => out.push(0x80 | *c as u8),
            (MediaType::Text(t), true)
                if !t.is_empty() && t.as_bytes()[0] >= 0x20 && t.as_bytes()[0] < 0x7F =>
            {
                wsp::put_text(out, t.as_bytes())
            }
            _ => wsp::put_with_length(out, |o| {
                match &self.media {
                    MediaType::WellKnown(c) => wsp::put_integer_value(o, u64::from(*c)),
                    MediaType::Text(t) => wsp::put_text(o, t.as_bytes()),
                }
                for p in &self.params {
                    encode_param(p, o);
                }
            }),
        }
    }
}

fn decode_param(r: &mut Reader) -> Result<Parameter> {
    let b = r.peek()?;
    let name = if b >= 0x80 || b <= 30 {
        let c = r.integer_value()?;
        ParamName::WellKnown(u8::try_from(c).map_err(|_| r.malformed("parameter code too large"))?)
    } else {
        ParamName::Token(r.text()?)
    };
    let value = if name == ParamName::WellKnown(0x00) {
        // Q-value is a 1–2 octet uintvar (WAP-230 §8.4.2.3).
        ParamValue::Integer(u64::from(r.uintvar()?))
    } else {
        decode_param_value(r)?
    };
    Ok(Parameter { name, value })
}

fn decode_param_value(r: &mut Reader) -> Result<ParamValue> {
    let b = r.peek()?;
    match b {
        0x00 => {
            r.u8()?;
            Ok(ParamValue::None)
        }
        0x80..=0xFF | 1..=30 => Ok(ParamValue::Integer(r.integer_value()?)),
        wsp::QUOTED_STRING => {
            r.u8()?;
            let t = r.nul_terminated()?;
            Ok(ParamValue::Quoted(String::from_utf8_lossy(&t).into_owned()))
        }
        _ => Ok(ParamValue::Text(r.text()?)),
    }
}

fn encode_param(p: &Parameter, out: &mut Vec<u8>) {
    match &p.name {
        ParamName::WellKnown(c) => wsp::put_integer_value(out, u64::from(*c)),
        ParamName::Token(t) => put_token(out, t),
    }
    match &p.value {
        ParamValue::Integer(n) if p.name == ParamName::WellKnown(0x00) => {
            wsp::put_uintvar(out, u32::try_from(*n).unwrap_or(u32::MAX))
        }
        ParamValue::Integer(n) => wsp::put_integer_value(out, *n),
        ParamValue::Text(t) => {
            if t.as_bytes().first() == Some(&wsp::QUOTED_STRING) {
                out.push(wsp::QUOTE);
                out.extend_from_slice(t.as_bytes());
                out.push(0);
            } else {
                wsp::put_text(out, t.as_bytes())
            }
        }
        ParamValue::Quoted(t) => {
            out.push(wsp::QUOTED_STRING);
            let b = t.as_bytes();
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            out.extend_from_slice(&b[..end]);
            out.push(0);
        }
        ParamValue::None => out.push(0),
    }
}

/// Token-text: a text that must start in 0x20..0x7E to be read as a token; empty or odd starts
/// are written quoted.
pub(crate) fn put_token(out: &mut Vec<u8>, t: &str) {
    wsp::put_text(out, t.as_bytes())
}

/// The body of a PDU after its Content-Type (MMS ENC 1.3 §7.2.14, WAP-230 §8.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A WSP multipart body: the parts in order.
    Multipart(Vec<Part>),
    /// A single (non-multipart) body, e.g. text/plain in an error m-retrieve-conf.
    Single(Bytes),
}

impl Default for Body {
    /// A multipart body without parts.
    fn default() -> Self {
        Body::Multipart(Vec::new())
    }
}

impl Body {
    /// The parts of a multipart body (empty for a single body).
    pub fn parts(&self) -> &[Part] {
        match self {
            Body::Multipart(p) => p,
            Body::Single(_) => &[],
        }
    }

    pub(crate) fn decode(r: &mut Reader, content_type: &ContentType) -> Result<Self> {
        if !content_type.media.is_multipart() {
            let n = r.remaining();
            return Ok(Body::Single(r.take(n)?));
        }
        if r.is_empty() {
            // A multipart type with no body at all (seen in minimal PDUs): no parts.
            return Ok(Body::Multipart(Vec::new()));
        }
        let count = r.uintvar()? as usize;
        // Each part needs at least 3 octets; do not trust the count for allocation.
        let mut parts = Vec::with_capacity(count.min(r.remaining() / 3 + 1));
        for _ in 0..count {
            parts.push(Part::decode(r)?);
        }
        Ok(Body::Multipart(parts))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Single(b) => out.extend_from_slice(b),
            Body::Multipart(parts) => {
                wsp::put_uintvar(out, u32::try_from(parts.len()).unwrap_or(u32::MAX));
                let mut headers = Vec::with_capacity(64);
                for p in parts {
                    headers.clear();
                    p.encode_headers(&mut headers);
                    wsp::put_uintvar(out, u32::try_from(headers.len()).unwrap_or(u32::MAX));
                    wsp::put_uintvar(out, u32::try_from(p.data.len()).unwrap_or(u32::MAX));
                    out.extend_from_slice(&headers);
                    out.extend_from_slice(&p.data);
                }
            }
        }
    }

    /// Encoded size of the body in octets.
    pub(crate) fn encoded_len_hint(&self) -> usize {
        match self {
            Body::Single(b) => b.len(),
            Body::Multipart(parts) => parts.iter().map(|p| p.data.len() + 64).sum::<usize>() + 5,
        }
    }
}

/// WSP part header Content-Location (WAP-230 Table 39, 0x0E).
const PART_CONTENT_LOCATION: u8 = 0x0E;
/// WSP part header Content-ID (WAP-230 Table 39, 0x40).
const PART_CONTENT_ID: u8 = 0x40;

/// One part of a multipart body (WAP-230 §8.5.3): headers and zero-copy data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's content type.
    pub content_type: ContentType,
    /// Content-ID (0xC0), without the quoted-string marker; usually `<id>`.
    pub content_id: Option<String>,
    /// Content-Location (0x8E).
    pub content_location: Option<String>,
    /// Other part headers, kept for re-encoding (e.g. a textual `Content-Transfer-Encoding`).
    pub headers: Vec<Header>,
    /// The part's data, a slice of the decoded input.
    pub data: Bytes,
}

impl Part {
    /// A part with only a content type and data.
    pub fn new(content_type: ContentType, data: Bytes) -> Self {
        Part {
            content_type,
            content_id: None,
            content_location: None,
            headers: Vec::new(),
            data,
        }
    }

    /// A name for the part: Content-Type `name`, then `filename`, then the Content-Disposition
    /// filename, then Content-Location.
    pub fn name(&self) -> Option<String> {
        self.content_type
            .name()
            .or_else(|| self.content_type.filename())
            .or_else(|| self.disposition_filename())
            .or_else(|| self.content_location.clone())
    }

    /// The `filename` parameter of a well-known Content-Disposition header (0x2E / 0x45).
    pub fn disposition_filename(&self) -> Option<String> {
        let h = self
            .headers
            .iter()
            .find(|h| matches!(h.name, HeaderName::WellKnown(0x2E | 0x45)))?;
        let b = Bytes::clone(&h.value);
        let mut r = Reader::new(&b);
        let mut v = r.value_length_sub().ok()?;
        // Disposition token (short-integer) or token text, then parameters.
        if v.peek().ok()? >= 0x80 {
            v.short_integer().ok()?;
        } else {
            v.text().ok()?;
        }
        while !v.is_empty() {
            let p = decode_param(&mut v).ok()?;
            if p.name.is("filename") || p.name.is("name") {
                return p.value.as_text();
            }
        }
        None
    }

    fn decode(r: &mut Reader) -> Result<Self> {
        let headers_len = r.uintvar()? as usize;
        let data_len = r.uintvar()? as usize;
        let mut h = r.sub(headers_len)?;
        let content_type =
            ContentType::decode(&mut h).map_err(|e| e.in_header("part Content-Type"))?;
        let mut part = Part::new(content_type, Bytes::new());
        while !h.is_empty() {
            let header = Header::decode_wsp(&mut h)?;
            match header.name {
                HeaderName::WellKnown(PART_CONTENT_ID) if part.content_id.is_none() => {
                    part.content_id = Some(quoted_or_text(&header.value, "part Content-ID")?);
                }
                HeaderName::WellKnown(PART_CONTENT_LOCATION) if part.content_location.is_none() => {
                    part.content_location =
                        Some(quoted_or_text(&header.value, "part Content-Location")?);
                }
                _ => part.headers.push(header),
            }
        }
        part.data = r.take(data_len)?;
        Ok(part)
    }

    fn encode_headers(&self, out: &mut Vec<u8>) {
        self.content_type.encode(out);
        if let Some(id) = &self.content_id {
            out.push(0x80 | PART_CONTENT_ID);
            out.push(wsp::QUOTED_STRING);
            let b = id.as_bytes();
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            out.extend_from_slice(&b[..end]);
            out.push(0);
        }
        if let Some(loc) = &self.content_location {
            out.push(0x80 | PART_CONTENT_LOCATION);
            if loc.starts_with('"') {
                // Not a Quoted-string: quote it so the marker is read as text.
                out.push(wsp::QUOTE);
            }
            wsp::put_text(out, loc.as_bytes());
        }
        for h in &self.headers {
            h.encode(out);
        }
    }
}

/// Decodes a raw header value that is a Quoted-string or Text-string.
fn quoted_or_text(raw: &Bytes, header: &'static str) -> Result<String> {
    let mut r = Reader::new(raw);
    if r.peek().map_err(|e| e.in_header(header))? == wsp::QUOTED_STRING {
        r.u8()?;
        let t = r.nul_terminated().map_err(|e| e.in_header(header))?;
        return Ok(String::from_utf8_lossy(&t).into_owned());
    }
    r.text().map_err(|_| DecodeError::InvalidHeader {
        header,
        at: 0,
        reason: "expected a quoted or text string",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ct(b: &'static [u8]) -> ContentType {
        let b = Bytes::from_static(b);
        ContentType::decode(&mut Reader::new(&b)).unwrap()
    }

    #[test]
    fn constrained_media_short_integer_wap230_8_4_2_24() {
        assert_eq!(decode_ct(&[0x83]), ContentType::new(MediaType::TEXT_PLAIN));
        assert_eq!(
            decode_ct(b"image/jpeg\0").media,
            MediaType::Text("image/jpeg".into())
        );
    }

    #[test]
    fn general_form_with_typed_and_untyped_params() {
        // multipart.related; type=application/smil; start=<0000>; charset=utf-8; foo="bar"
        let ct = decode_ct(b"\x1f\x26\xb3\x89application/smil\0\x8a<0000>\0\x81\xeafoo\0\x22bar\0");
        assert_eq!(ct.media, MediaType::MULTIPART_RELATED);
        assert_eq!(ct.type_param().as_deref(), Some("application/smil"));
        assert_eq!(ct.start().as_deref(), Some("<0000>"));
        assert_eq!(ct.charset(), Some(crate::Charset::UTF_8));
        assert_eq!(ct.params[3].value, ParamValue::Quoted("bar".into()));
        let mut out = Vec::new();
        ct.encode(&mut out);
        let b = Bytes::from(out);
        assert_eq!(ContentType::decode(&mut Reader::new(&b)).unwrap(), ct);
    }

    #[test]
    fn multipart_body_parts_are_slices_of_input() {
        let part = Part {
            content_type: ContentType::new(MediaType::TEXT_PLAIN),
            content_id: Some("<t>".into()),
            content_location: Some("t.txt".into()),
            headers: vec![Header::text("Content-Transfer-Encoding", "base64")],
            data: Bytes::from_static(b"hello"),
        };
        let body = Body::Multipart(vec![part.clone()]);
        let mut out = Vec::new();
        body.encode(&mut out);
        let b = Bytes::from(out);
        let decoded = Body::decode(
            &mut Reader::new(&b),
            &ContentType::new(MediaType::MULTIPART_MIXED),
        )
        .unwrap();
        assert_eq!(decoded, body);
        let data = &decoded.parts()[0].data;
        assert_eq!(data.as_ptr(), b[b.len() - 5..].as_ptr());
    }

    #[test]
    fn huge_part_count_does_not_preallocate_or_panic() {
        let b = Bytes::from_static(&[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]);
        let e = Body::decode(
            &mut Reader::new(&b),
            &ContentType::new(MediaType::MULTIPART_MIXED),
        )
        .unwrap_err();
        assert!(matches!(e, DecodeError::Incomplete { .. }));
    }
}
