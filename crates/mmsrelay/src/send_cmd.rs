//! `mmsrelay send`: acts as an MMS user agent on MM1 (MMS ENC 1.3 §6.1): builds an `m-send-req`
//! with a multipart/mixed body (the text and each attachment), POSTs it to the relay and prints
//! the `m-send-conf`.
//!
//! Exit codes: 0 X-Mms-Response-Status Ok, 1 any other status, 2 bad input or no answer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use mms_address::{Address, ParseOptions};
use mms_pdu::{
    Body, Charset, ContentType, EncodedString, FromAddress, MediaType, MmsVersion, ParamName,
    ParamValue, Part, Pdu, SendConf, SendReq,
};

use crate::ua;

/// Arguments of `mmsrelay send`.
#[derive(clap::Args)]
pub struct Args {
    /// The relay's MM1 URL, e.g. `http://127.0.0.1:8080/`.
    #[arg(long, value_name = "URL")]
    relay: String,
    /// The sender: an address, or `insert` for the insert-address token (the relay fills in the
    /// network-asserted identity).
    #[arg(long, value_name = "ADDR|insert", default_value = "insert")]
    from: String,
    /// A recipient (repeatable): `sip:bob@b.example`, `tel:+4917612345678`, `+4917612345678/TYPE=PLMN`.
    #[arg(long = "to", value_name = "ADDR", required = true)]
    to: Vec<String>,
    /// The subject.
    #[arg(long)]
    subject: Option<String>,
    /// A text part (text/plain; charset=utf-8).
    #[arg(long)]
    text: Option<String>,
    /// A file to attach (repeatable); its media type is guessed from the extension.
    #[arg(long = "attach", value_name = "FILE")]
    attachments: Vec<PathBuf>,
    /// An extra HTTP header `Name: value` (repeatable), e.g. `X-3GPP-Asserted-Identity: "sip:alice@a.example"`.
    #[arg(long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// Ask for a delivery report (X-Mms-Delivery-Report: Yes).
    #[arg(long)]
    delivery_report: bool,
    /// Country code for local numbers in --from/--to (e.g. 44).
    #[arg(long, value_name = "DIGITS")]
    country_code: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// Runs `mmsrelay send`.
pub fn run(args: Args) -> ExitCode {
    let req = match build(&args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("mmsrelay send: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match crate::runtime("send", crate::Threads::One) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(post(&args, Pdu::SendReq(req).encode())) {
        Ok(conf) => {
            print_conf(&conf);
            if conf.response_status.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("mmsrelay send: {message}");
            ExitCode::from(2)
        }
    }
}

fn options(args: &Args) -> ParseOptions {
    match &args.country_code {
        Some(cc) => ParseOptions::with_country_code(cc),
        None => ParseOptions::default(),
    }
}

/// The MMS ENC form of an address the user typed; sent as written when it does not parse
/// (the relay is the judge).
fn enc_address(text: &str, opts: &ParseOptions) -> EncodedString {
    match Address::parse_with(text, opts) {
        Ok(a) => EncodedString::plain(a.to_mms_enc()),
        Err(e) => {
            eprintln!("warning: {text:?} is not an address ({e}); sent as written");
            EncodedString::utf8(text)
        }
    }
}

/// The media type of an attachment by its extension.
fn media_type_of(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "txt" => "text/plain",
        "smil" | "smi" => "application/smil",
        "vcf" => "text/x-vcard",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "3gp" => "video/3gpp",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn build(args: &Args) -> Result<SendReq, String> {
    let opts = options(args);
    let from = if args.from.eq_ignore_ascii_case("insert") {
        FromAddress::InsertAddressToken
    } else {
        FromAddress::Present(enc_address(&args.from, &opts))
    };
    let mut parts = Vec::new();
    if let Some(text) = &args.text {
        let ct = ContentType::new(MediaType::TEXT_PLAIN).with_param(
            ParamName::WellKnown(0x01),
            ParamValue::Integer(u64::from(Charset::UTF_8.0)),
        );
        let mut part = Part::new(ct, Bytes::from(text.clone().into_bytes()));
        part.content_location = Some("text.txt".into());
        parts.push(part);
    }
    for path in &args.attachments {
        let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("attachment")
            .to_owned();
        let ct = ContentType::new(MediaType::from_name(media_type_of(path)))
            .with_param(ParamName::WellKnown(0x05), ParamValue::Text(name.clone()));
        let mut part = Part::new(ct, Bytes::from(data));
        part.content_location = Some(name);
        parts.push(part);
    }
    if parts.is_empty() {
        return Err("nothing to send: give --text and/or --attach".into());
    }
    Ok(SendReq {
        transaction_id: format!("mmsrelay-{:016x}", rand_u64()),
        version: MmsVersion::V1_2,
        from,
        to: args.to.iter().map(|t| enc_address(t, &opts)).collect(),
        subject: args
            .subject
            .as_ref()
            .map(|s| EncodedString::utf8(s.clone())),
        delivery_report: args.delivery_report.then_some(true),
        content_type: ContentType::new(MediaType::MULTIPART_MIXED),
        body: Body::Multipart(parts),
        ..Default::default()
    })
}

/// A transaction-id nonce from the clock and the process id (no cryptographic need).
fn rand_u64() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

async fn post(args: &Args, body: Vec<u8>) -> Result<SendConf, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(name, value)| (name.trim(), value.trim()))
                .ok_or_else(|| format!("--header {h:?} is not Name: value"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (status, answer) = ua::post_pdu(&client, &args.relay, body, &headers).await?;
    ua::send_conf_of(status, &answer)
}

fn print_conf(conf: &SendConf) {
    let status = conf.response_status;
    println!("m-send-conf");
    println!("  X-Mms-Transaction-ID: {}", conf.transaction_id);
    println!(
        "  X-Mms-Response-Status: {} ({})",
        status.name().unwrap_or("unknown"),
        status.0
    );
    if let Some(text) = &conf.response_text {
        println!("  X-Mms-Response-Text: {}", text.text());
    }
    if let Some(id) = &conf.message_id {
        println!("  Message-ID: {id}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn builds_multipart_send_req_with_text_and_insert_address_mms_enc_6_1() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pic.PNG");
        std::fs::write(&file, b"\x89PNG").unwrap();
        let cli = Cli::parse_from([
            "x",
            "--relay",
            "http://127.0.0.1:1/",
            "--to",
            "sip:bob@b.example",
            "--to",
            "tel:+447000000002",
            "--subject",
            "hi",
            "--text",
            "hello",
            "--attach",
            file.to_str().unwrap(),
        ]);
        let req = build(&cli.args).unwrap();
        assert_eq!(req.from, FromAddress::InsertAddressToken);
        let to: Vec<String> = req.to.iter().map(EncodedString::text).collect();
        assert_eq!(
            to,
            vec!["sip%3Abob%40b.example/TYPE=SIP", "+447000000002/TYPE=PLMN"]
        );
        let parts = req.body.parts();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, Bytes::from_static(b"hello"));
        assert_eq!(parts[1].content_type.media.as_str(), Some("image/png"));
        // It survives the codec.
        let pdu = Pdu::SendReq(req.clone());
        assert_eq!(Pdu::decode_slice(&pdu.encode()).unwrap(), pdu);
    }

    #[tokio::test]
    async fn posts_to_a_relay_and_reads_its_m_send_conf() {
        use relay::mm1::{self, Mm1State};
        let dir = tempfile::tempdir().unwrap();
        let mut config = relay::config::RelayConfig::default();
        config.relay.store = dir.path().display().to_string();
        let store = mms_store::AnyStore::open(&config.relay.store)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state = Mm1State::from_config(std::sync::Arc::new(config), store, None);
        let server = tokio::spawn(mm1::serve(listener, state, std::future::pending()));

        /// `mmsrelay send --relay URL --to sip:bob@b.example --text hi EXTRA…` and its answer.
        async fn send_hi(url: &str, extra: &[&str]) -> SendConf {
            let mut line = vec![
                "x",
                "--relay",
                url,
                "--to",
                "sip:bob@b.example",
                "--text",
                "hi",
            ];
            line.extend_from_slice(extra);
            let cli = Cli::parse_from(line);
            let body = Pdu::SendReq(build(&cli.args).unwrap()).encode();
            post(&cli.args, body).await.unwrap()
        }
        let asserted = "X-3GPP-Asserted-Identity: \"sip:alice@a.example\"";
        let conf = send_hi(&url, &["--header", asserted]).await;
        assert!(conf.response_status.is_ok(), "{conf:?}");
        assert!(conf.message_id.is_some());

        // Without an identity the relay refuses: Error-permanent-service-denied.
        let conf = send_hi(&url, &[]).await;
        assert_eq!(conf.response_status.0, 225);
        server.abort();
    }

    #[test]
    fn nothing_to_send_is_bad_input() {
        let cli = Cli::parse_from(["x", "--relay", "http://x/", "--to", "sip:bob@b.example"]);
        assert!(build(&cli.args).is_err());
    }
}
