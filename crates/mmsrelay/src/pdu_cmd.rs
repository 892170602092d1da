//! `mmsrelay pdu`: decode an MMS PDU (MMS ENC 1.3) to JSON, or encode JSON to a PDU.
//!
//! JSON shape: `{"message_type": "m-send-req", "headers": {"X-Mms-Transaction-Id": "...",
//! "To": ["..."], ...}, "content_type": {"media": "...", "params": {...}}, "parts": [{...}]}`
//! (or `"body": {...}` for a non-multipart body). Header names are the MMS names of
//! MMS ENC 1.3 Table 12; octet values use the spec's names (`"High"`, `"Ok"`); Yes/No are
//! `"Yes"`/`"No"`; an encoded string with a charset is `{"charset": "utf-8", "text": "..."}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use mms_pdu::{
    Body, Charset, ContentType, EncodedString, FromAddress, Header, HeaderList, HeaderName,
    HeaderValue, MboxCount, MediaType, MessageClass, MessageType, MmFlag, MmsVersion, ParamName,
    ParamValue, Parameter, Part, Pdu, PreviouslySentBy, PreviouslySentDate, TimeSpec, ValueKind,
};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `mmsrelay pdu`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PduCommand,
}

#[derive(clap::Subcommand)]
enum PduCommand {
    /// Decode a binary PDU and print it as JSON.
    Decode {
        /// The PDU file, or `-` for standard input.
        input: String,
        /// The input is hex text (whitespace ignored) instead of binary.
        #[arg(long)]
        hex: bool,
        /// Include each body as `body_base64` (needed to encode the JSON back).
        #[arg(long)]
        bodies: bool,
    },
    /// Encode a JSON description (as printed by `decode --bodies`) into a binary PDU.
    Encode {
        /// The JSON file, or `-` for standard input. `body_file` paths are relative to it.
        json: String,
        /// Output file, or `-` for standard output.
        #[arg(short, long)]
        output: String,
        /// Write hex text instead of binary.
        #[arg(long)]
        hex: bool,
    },
}

/// Runs `mmsrelay pdu`.
pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        PduCommand::Decode { input, hex, bodies } => decode_cmd(&input, hex, bodies),
        PduCommand::Encode { json, output, hex } => encode_cmd(&json, &output, hex),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmsrelay pdu: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_input(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(v)
    } else {
        std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))
    }
}

fn decode_cmd(input: &str, hex_input: bool, bodies: bool) -> Result<(), String> {
    let raw = read_input(input)?;
    let bytes = if hex_input {
        let text: String = String::from_utf8_lossy(&raw)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        hex::decode(text).map_err(|e| format!("bad hex input: {e}"))?
    } else {
        raw
    };
    let pdu = Pdu::decode(&Bytes::from(bytes)).map_err(|e| format!("not a valid MMS PDU: {e}"))?;
    let json = pdu_to_json(&pdu, bodies);
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn encode_cmd(json_path: &str, output: &str, hex_output: bool) -> Result<(), String> {
    let raw = read_input(json_path)?;
    let value: Value = serde_json::from_slice(&raw).map_err(|e| format!("bad JSON: {e}"))?;
    let base = if json_path == "-" {
        PathBuf::from(".")
    } else {
        Path::new(json_path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let pdu = json_to_pdu(&value, &base)?;
    let mut wire = pdu.encode();
    if hex_output {
        wire = format!("{}\n", hex::encode(&wire)).into_bytes();
    }
    if output == "-" {
        std::io::stdout()
            .write_all(&wire)
            .map_err(|e| format!("writing standard output: {e}"))
    } else {
        std::fs::write(output, &wire).map_err(|e| format!("writing {output}: {e}"))
    }
}

// ---------------------------------------------------------------- PDU -> JSON

fn header_key(name: &HeaderName) -> String {
    match name {
        HeaderName::WellKnown(c) => mms_pdu::mms_header_name(*c)
            .map(str::to_owned)
            .unwrap_or(format!("0x{:02X}", c | 0x80)),
        HeaderName::Text(t) => t.clone(),
    }
}

/// Headers that may repeat, always shown as arrays.
fn is_list_header(code: u8) -> bool {
    matches!(
        code,
        0x01 | 0x02 | 0x17 | 0x20 | 0x21 | 0x24 | 0x28 | 0x2A | 0x2C
    )
}

fn pdu_to_json(pdu: &Pdu, bodies: bool) -> Value {
    let list = pdu.to_header_list();
    let mut headers = Map::new();
    for (name, value) in &list.headers {
        let key = header_key(name);
        let v = value_to_json(name, value);
        let list_header = matches!(name, HeaderName::WellKnown(c) if is_list_header(*c));
        match headers.get_mut(&key) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                headers.insert(
                    key,
                    if list_header {
                        Value::Array(vec![v])
                    } else {
                        v
                    },
                );
            }
        }
    }
    let mut out = Map::new();
    out.insert(
        "message_type".into(),
        json!(list.message_type.name().unwrap_or("unknown")),
    );
    out.insert("headers".into(), Value::Object(headers));
    if let Some(content) = &list.content {
        out.insert(
            "content_type".into(),
            content_type_to_json(&content.content_type),
        );
        match &content.body {
            Body::Multipart(parts) => {
                out.insert(
                    "parts".into(),
                    Value::Array(parts.iter().map(|p| part_to_json(p, bodies)).collect()),
                );
            }
            Body::Single(data) => {
                let mut b = Map::new();
                b.insert("size".into(), json!(data.len()));
                if bodies {
                    b.insert("body_base64".into(), json!(BASE64.encode(data)));
                }
                out.insert("body".into(), Value::Object(b));
            }
        }
    }
    Value::Object(out)
}

fn encoded_to_json(e: &EncodedString) -> Value {
    let utf8 = std::str::from_utf8(&e.bytes).ok();
    match (e.charset, utf8) {
        (None, Some(t)) => json!(t),
        (None, None) => json!({ "hex": hex::encode(&e.bytes) }),
        (Some(cs), Some(t)) if matches!(cs, Charset::UTF_8 | Charset::US_ASCII) => {
            json!({ "charset": charset_to_json(cs), "text": t })
        }
        (Some(Charset::ISO_8859_1), _) => json!({ "charset": "iso-8859-1", "text": e.text() }),
        (Some(cs), _) => {
            let mut m = Map::new();
            m.insert("charset".into(), charset_to_json(cs));
            if let Some(t) = cs.decode(&e.bytes) {
                m.insert("text".into(), json!(t));
            }
            m.insert("hex".into(), json!(hex::encode(&e.bytes)));
            Value::Object(m)
        }
    }
}

fn charset_to_json(cs: Charset) -> Value {
    match cs.name() {
        Some(n) => json!(n),
        None => json!(cs.0),
    }
}

fn value_to_json(name: &HeaderName, value: &HeaderValue) -> Value {
    let code = match name {
        HeaderName::WellKnown(c) => *c,
        HeaderName::Text(_) => 0,
    };
    match value {
        HeaderValue::Text(t) => json!(t),
        HeaderValue::Encoded(e) => encoded_to_json(e),
        HeaderValue::Integer(n) => json!(n),
        HeaderValue::Bool(b) => json!(if *b { "Yes" } else { "No" }),
        HeaderValue::Octet(o) => match mms_pdu::octet_value_name(code, *o) {
            Some(n) => json!(n),
            None => json!(o),
        },
        HeaderValue::Version(v) => json!(v.to_string()),
        HeaderValue::From(FromAddress::InsertAddressToken) => json!("insert-address-token"),
        HeaderValue::From(FromAddress::Present(e)) => encoded_to_json(e),
        HeaderValue::Time(TimeSpec::Absolute(t)) => json!({ "absolute": t }),
        HeaderValue::Time(TimeSpec::Relative(t)) => json!({ "relative": t }),
        HeaderValue::Class(c) => json!(c.as_str()),
        HeaderValue::PreviouslySentBy(p) => {
            json!({ "counter": p.counter, "address": encoded_to_json(&p.address) })
        }
        HeaderValue::PreviouslySentDate(p) => json!({ "counter": p.counter, "date": p.date }),
        HeaderValue::MmFlag(f) => {
            let token = match f.token {
                0x80 => json!("add"),
                0x81 => json!("remove"),
                0x82 => json!("filter"),
                t => json!(t),
            };
            json!({ "token": token, "flag": encoded_to_json(&f.flag) })
        }
        HeaderValue::MboxCount(MboxCount::Messages(n)) => json!({ "messages": n }),
        HeaderValue::MboxCount(MboxCount::Bytes(n)) => json!({ "bytes": n }),
        HeaderValue::Raw(b) => json!({ "raw_hex": hex::encode(b) }),
        _ => json!(null),
    }
}

fn media_to_json(m: &MediaType) -> Value {
    match (m, m.as_str()) {
        (_, Some(s)) => json!(s),
        (MediaType::WellKnown(c), None) => json!(c),
        (MediaType::Text(t), None) => json!(t),
    }
}

fn params_to_json(params: &[Parameter]) -> Value {
    let mut m = Map::new();
    for p in params {
        let v = match &p.value {
            ParamValue::Integer(n) if p.name.is("charset") => {
                match u32::try_from(*n).ok().and_then(|c| Charset(c).name()) {
                    Some(name) => json!(name),
                    None => json!(n),
                }
            }
            ParamValue::Integer(n) => json!(n),
            ParamValue::Text(t) | ParamValue::Quoted(t) => json!(t),
            ParamValue::None => Value::Null,
        };
        m.insert(p.name.as_str().to_owned(), v);
    }
    Value::Object(m)
}

fn content_type_to_json(ct: &ContentType) -> Value {
    json!({ "media": media_to_json(&ct.media), "params": params_to_json(&ct.params) })
}

fn part_to_json(p: &Part, bodies: bool) -> Value {
    let mut m = Map::new();
    m.insert("content_type".into(), media_to_json(&p.content_type.media));
    if !p.content_type.params.is_empty() {
        m.insert("params".into(), params_to_json(&p.content_type.params));
    }
    m.insert("size".into(), json!(p.data.len()));
    if let Some(n) = p.name() {
        m.insert("name".into(), json!(n));
    }
    if let Some(id) = &p.content_id {
        m.insert("content_id".into(), json!(id));
    }
    if let Some(loc) = &p.content_location {
        m.insert("content_location".into(), json!(loc));
    }
    if !p.headers.is_empty() {
        let mut h = Map::new();
        for header in &p.headers {
            match &header.name {
                HeaderName::Text(n) => {
                    let v = header
                        .value_text()
                        .map(Value::String)
                        .unwrap_or_else(|| json!({ "raw_hex": hex::encode(&header.value) }));
                    h.insert(n.clone(), v);
                }
                HeaderName::WellKnown(c) => {
                    let key = mms_pdu::wsp_header_name(*c)
                        .map(str::to_owned)
                        .unwrap_or(format!("0x{:02X}", c | 0x80));
                    h.insert(
                        key,
                        json!({ "code": c, "raw_hex": hex::encode(&header.value) }),
                    );
                }
            }
        }
        m.insert("headers".into(), Value::Object(h));
    }
    if bodies {
        m.insert("body_base64".into(), json!(BASE64.encode(&p.data)));
    }
    Value::Object(m)
}

// ---------------------------------------------------------------- JSON -> PDU

fn json_to_pdu(v: &Value, base: &Path) -> Result<Pdu, String> {
    let obj = v.as_object().ok_or("the JSON must be an object")?;
    let mt_name = obj
        .get("message_type")
        .and_then(Value::as_str)
        .ok_or("missing \"message_type\"")?;
    let message_type =
        MessageType::from_name(mt_name).ok_or(format!("unknown message_type {mt_name:?}"))?;
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        let h = h.as_object().ok_or("\"headers\" must be an object")?;
        for (key, value) in h {
            let values: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for v in values {
                if let Some(pair) = header_from_json(key, v)? {
                    headers.push(pair);
                }
            }
        }
    }
    let content = match obj.get("content_type") {
        None => None,
        Some(ct) => {
            let content_type = content_type_from_json(ct)?;
            let body = if let Some(parts) = obj.get("parts") {
                let parts = parts.as_array().ok_or("\"parts\" must be an array")?;
                Body::Multipart(
                    parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| part_from_json(i, p, base))
                        .collect::<Result<_, _>>()?,
                )
            } else if let Some(b) = obj.get("body") {
                Body::Single(body_from_json("body", b, base)?)
            } else if content_type.media.is_multipart() {
                Body::Multipart(Vec::new())
            } else {
                Body::Single(Bytes::new())
            };
            Some(mms_pdu::Content { content_type, body })
        }
    };
    let list = HeaderList {
        message_type,
        headers,
        content,
    };
    Pdu::from_header_list(&list).map_err(|e| format!("the JSON does not make a valid PDU: {e}"))
}

fn header_from_json(key: &str, v: &Value) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    let code = mms_pdu::mms_header_code(key).or_else(|| {
        key.strip_prefix("0x")
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .map(|c| c & 0x7F)
    });
    let Some(code) = code else {
        // Application header.
        let text = v
            .as_str()
            .ok_or(format!("header {key}: expected a string"))?;
        return Ok(Some((
            HeaderName::Text(key.to_owned()),
            HeaderValue::Text(text.to_owned()),
        )));
    };
    if code == 0x0C || code == 0x04 {
        // X-Mms-Message-Type and Content-Type come from "message_type" / "content_type".
        return Ok(None);
    }
    let err = |what: &str| format!("header {key}: expected {what}, got {v}");
    if let Some(raw) = v.get("raw_hex") {
        let raw = raw.as_str().ok_or_else(|| err("raw_hex as a string"))?;
        let bytes = hex::decode(raw).map_err(|e| format!("header {key}: bad raw_hex: {e}"))?;
        return Ok(Some((
            HeaderName::WellKnown(code),
            HeaderValue::Raw(Bytes::from(bytes)),
        )));
    }
    let value = match mms_pdu::value_kind(code) {
        ValueKind::Text => HeaderValue::Text(v.as_str().ok_or_else(|| err("a string"))?.to_owned()),
        ValueKind::Encoded => HeaderValue::Encoded(encoded_from_json(key, v)?),
        ValueKind::LongInt | ValueKind::IntValue => {
            HeaderValue::Integer(v.as_u64().ok_or_else(|| err("a number"))?)
        }
        ValueKind::Bool => HeaderValue::Bool(match v {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("yes") => true,
            Value::String(s) if s.eq_ignore_ascii_case("no") => false,
            _ => return Err(err("\"Yes\" or \"No\"")),
        }),
        ValueKind::Octet => HeaderValue::Octet(match v {
            Value::String(s) => {
                mms_pdu::octet_value_from_name(code, s).ok_or_else(|| err("a known value name"))?
            }
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| *n >= 0x80)
                .ok_or_else(|| err("a number 128-255"))?,
            _ => return Err(err("a value name or number")),
        }),
        ValueKind::Version => {
            // "1.2", or "1" for a major version without minor (minor 15, MMS ENC 1.3 §7.3.34).
            let s = v.as_str().ok_or_else(|| err("a version like \"1.2\""))?;
            let (major, minor) = s.split_once('.').unwrap_or((s, "15"));
            let major = major.parse::<u8>().ok().filter(|m| *m <= 7);
            let minor = minor.parse::<u8>().ok().filter(|m| *m <= 15);
            match (major, minor) {
                (Some(major), Some(minor)) => HeaderValue::Version(MmsVersion { major, minor }),
                _ => return Err(err("a version like \"1.2\"")),
            }
        }
        ValueKind::From => match v {
            Value::String(s) if s == "insert-address-token" => {
                HeaderValue::From(FromAddress::InsertAddressToken)
            }
            _ => HeaderValue::From(FromAddress::Present(encoded_from_json(key, v)?)),
        },
        ValueKind::Time => {
            if let Some(t) = v.get("absolute").and_then(Value::as_u64) {
                HeaderValue::Time(TimeSpec::Absolute(t))
            } else if let Some(t) = v.get("relative").and_then(Value::as_u64) {
                HeaderValue::Time(TimeSpec::Relative(t))
            } else {
                return Err(err("{\"absolute\": seconds} or {\"relative\": seconds}"));
            }
        }
        ValueKind::Class => HeaderValue::Class(MessageClass::from_text(
            v.as_str().ok_or_else(|| err("a class name"))?,
        )),
        ValueKind::PreviouslySentBy => HeaderValue::PreviouslySentBy(PreviouslySentBy {
            counter: v
                .get("counter")
                .and_then(Value::as_u64)
                .ok_or_else(|| err("{\"counter\", \"address\"}"))?,
            address: encoded_from_json(
                key,
                v.get("address")
                    .ok_or_else(|| err("{\"counter\", \"address\"}"))?,
            )?,
        }),
        ValueKind::PreviouslySentDate => HeaderValue::PreviouslySentDate(PreviouslySentDate {
            counter: v
                .get("counter")
                .and_then(Value::as_u64)
                .ok_or_else(|| err("{\"counter\", \"date\"}"))?,
            date: v
                .get("date")
                .and_then(Value::as_u64)
                .ok_or_else(|| err("{\"counter\", \"date\"}"))?,
        }),
        ValueKind::MmFlag => {
            let token = match v.get("token") {
                Some(Value::String(s)) if s == "add" => 0x80,
                Some(Value::String(s)) if s == "remove" => 0x81,
                Some(Value::String(s)) if s == "filter" => 0x82,
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| err("a token"))?,
                _ => return Err(err("{\"token\": \"add\"|\"remove\"|\"filter\", \"flag\"}")),
            };
            let flag = encoded_from_json(key, v.get("flag").ok_or_else(|| err("a \"flag\""))?)?;
            HeaderValue::MmFlag(MmFlag { token, flag })
        }
        ValueKind::MboxCount => {
            if let Some(n) = v.get("messages").and_then(Value::as_u64) {
                HeaderValue::MboxCount(MboxCount::Messages(n))
            } else if let Some(n) = v.get("bytes").and_then(Value::as_u64) {
                HeaderValue::MboxCount(MboxCount::Bytes(n))
            } else {
                return Err(err("{\"messages\": n} or {\"bytes\": n}"));
            }
        }
        _ => return Err(err("{\"raw_hex\": ...}")),
    };
    Ok(Some((HeaderName::WellKnown(code), value)))
}

fn encoded_from_json(key: &str, v: &Value) -> Result<EncodedString, String> {
    match v {
        Value::String(s) => Ok(EncodedString::plain(s.clone())),
        Value::Object(m) => {
            let charset = match m.get("charset") {
                None => None,
                Some(Value::String(s)) => Some(
                    Charset::from_name(s).ok_or(format!("header {key}: unknown charset {s:?}"))?,
                ),
                Some(Value::Number(n)) => Some(Charset(
                    n.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or(format!("header {key}: bad charset"))?,
                )),
                Some(other) => return Err(format!("header {key}: bad charset {other}")),
            };
            let bytes = if let Some(h) = m.get("hex").and_then(Value::as_str) {
                hex::decode(h).map_err(|e| format!("header {key}: bad hex: {e}"))?
            } else {
                let text = m
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or(format!("header {key}: expected \"text\" or \"hex\""))?;
                encode_text(text, charset).ok_or(format!(
                    "header {key}: text cannot be written in that charset"
                ))?
            };
            Ok(EncodedString {
                charset,
                bytes: Bytes::from(bytes),
            })
        }
        other => Err(format!(
            "header {key}: expected a string or {{\"charset\", \"text\"}}, got {other}"
        )),
    }
}

fn encode_text(text: &str, charset: Option<Charset>) -> Option<Vec<u8>> {
    match charset {
        Some(Charset::ISO_8859_1) => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect(),
        Some(Charset::UTF_16 | Charset::UTF_16BE | Charset::UCS_2) => {
            let mut v = if charset == Some(Charset::UTF_16) {
                vec![0xFE, 0xFF]
            } else {
                Vec::new()
            };
            text.encode_utf16()
                .for_each(|u| v.extend_from_slice(&u.to_be_bytes()));
            Some(v)
        }
        Some(Charset::UTF_16LE) => Some(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        _ => Some(text.as_bytes().to_vec()),
    }
}

fn media_from_json(v: &Value) -> Result<MediaType, String> {
    match v {
        Value::String(s) => Ok(MediaType::from_name(s)),
        Value::Number(n) => Ok(MediaType::WellKnown(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("bad media code")?,
        )),
        other => Err(format!(
            "content type: expected a media type string, got {other}"
        )),
    }
}

fn params_from_json(v: Option<&Value>) -> Result<Vec<Parameter>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let m = v.as_object().ok_or("\"params\" must be an object")?;
    let mut params = Vec::new();
    for (name, value) in m {
        let lower = name.to_ascii_lowercase();
        let (pname, pvalue) = match (lower.as_str(), value) {
            ("charset", Value::String(s)) => match Charset::from_name(s) {
                Some(cs) => (
                    ParamName::WellKnown(0x01),
                    ParamValue::Integer(u64::from(cs.0)),
                ),
                None => (ParamName::Token(name.clone()), ParamValue::Text(s.clone())),
            },
            ("charset", Value::Number(n)) => (
                ParamName::WellKnown(0x01),
                ParamValue::Integer(n.as_u64().ok_or("bad charset")?),
            ),
            ("type", Value::String(s)) => (ParamName::WellKnown(0x09), ParamValue::Text(s.clone())),
            ("type", Value::Number(n)) => (
                ParamName::WellKnown(0x03),
                ParamValue::Integer(n.as_u64().ok_or("bad type")?),
            ),
            ("start", Value::String(s)) => {
                (ParamName::WellKnown(0x0A), ParamValue::Text(s.clone()))
            }
            ("start-info", Value::String(s)) => {
                (ParamName::WellKnown(0x0B), ParamValue::Text(s.clone()))
            }
            ("name", Value::String(s)) => (ParamName::WellKnown(0x05), ParamValue::Text(s.clone())),
            ("filename", Value::String(s)) => {
                (ParamName::WellKnown(0x06), ParamValue::Text(s.clone()))
            }
            (_, Value::String(s)) => (ParamName::Token(name.clone()), ParamValue::Text(s.clone())),
            (_, Value::Number(n)) => (
                ParamName::Token(name.clone()),
                ParamValue::Integer(n.as_u64().ok_or("bad number")?),
            ),
            (_, Value::Null) => (ParamName::Token(name.clone()), ParamValue::None),
            (_, other) => return Err(format!("parameter {name}: unsupported value {other}")),
        };
        params.push(Parameter {
            name: pname,
            value: pvalue,
        });
    }
    Ok(params)
}

fn content_type_from_json(v: &Value) -> Result<ContentType, String> {
    match v {
        Value::Object(m) => Ok(ContentType {
            media: media_from_json(m.get("media").ok_or("content_type: missing \"media\"")?)?,
            params: params_from_json(m.get("params"))?,
        }),
        other => Ok(ContentType::new(media_from_json(other)?)),
    }
}

fn body_from_json(what: &str, v: &Value, base: &Path) -> Result<Bytes, String> {
    if let Some(b) = v.get("body_base64") {
        let s = b
            .as_str()
            .ok_or(format!("{what}: body_base64 must be a string"))?;
        return BASE64
            .decode(s)
            .map(Bytes::from)
            .map_err(|e| format!("{what}: bad body_base64: {e}"));
    }
    if let Some(f) = v.get("body_file") {
        let f = f
            .as_str()
            .ok_or(format!("{what}: body_file must be a string"))?;
        let path = base.join(f);
        return std::fs::read(&path)
            .map(Bytes::from)
            .map_err(|e| format!("{what}: reading {}: {e}", path.display()));
    }
    match v.get("size").and_then(Value::as_u64) {
        None | Some(0) => Ok(Bytes::new()),
        Some(_) => Err(format!(
            "{what}: no body_base64 or body_file (decode with --bodies)"
        )),
    }
}

fn part_from_json(i: usize, v: &Value, base: &Path) -> Result<Part, String> {
    let what = format!("part {i}");
    let m = v.as_object().ok_or(format!("{what}: must be an object"))?;
    let content_type = ContentType {
        media: media_from_json(
            m.get("content_type")
                .ok_or(format!("{what}: missing content_type"))?,
        )?,
        params: params_from_json(m.get("params"))?,
    };
    let mut part = Part::new(content_type, body_from_json(&what, v, base)?);
    part.content_id = m
        .get("content_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    part.content_location = m
        .get("content_location")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(h) = m.get("headers").and_then(Value::as_object) {
        for (name, value) in h {
            let header = match value {
                Value::String(s) => Header::text(name, s),
                Value::Object(o) => {
                    let raw = o
                        .get("raw_hex")
                        .and_then(Value::as_str)
                        .ok_or(format!("{what}: header {name}: missing raw_hex"))?;
                    let raw = Bytes::from(
                        hex::decode(raw).map_err(|e| format!("{what}: header {name}: {e}"))?,
                    );
                    match o
                        .get("code")
                        .and_then(Value::as_u64)
                        .and_then(|c| u8::try_from(c).ok())
                    {
                        Some(code) => Header::well_known(code, raw),
                        None => Header {
                            name: HeaderName::Text(name.clone()),
                            value: raw,
                        },
                    }
                }
                other => return Err(format!("{what}: header {name}: unsupported value {other}")),
            };
            part.headers.push(header);
        }
    }
    if let Some(name) = m.get("name").and_then(Value::as_str)
        && part.name().as_deref() != Some(name)
    {
        part.content_type.params.push(Parameter {
            name: ParamName::WellKnown(0x05),
            value: ParamValue::Text(name.to_owned()),
        });
    }
    Ok(part)
}
