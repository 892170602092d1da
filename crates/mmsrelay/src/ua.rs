//! A scripted MMS user agent (MMS ENC 1.3 §6 over HTTP, WAP-209 §7): sends `m-send-req`,
//! receives WAP pushes from the SMS an SMSC got (WDP reassembly, WSP push decoding), fetches the
//! MM from the notification's Content-Location and acknowledges it. Identity comes from the
//! trusted-proxy header (`X-3GPP-Asserted-Identity`, TS 24.109), as an authentication proxy on
//! loopback would add it. Used by `mmsrelay demo` and by the end-to-end tests.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_address::Address;
use mms_pdu::{
    AcknowledgeInd, Body, Charset, ContentType, EncodedString, FromAddress, MediaType, MmsVersion,
    ParamName, ParamValue, Part, Pdu, RetrieveConf, SendConf, SendReq,
};
use reqwest::StatusCode;
use wap_push::{Reassembler, ReassemblyStatus};

/// One SMS as an SMSC received it.
#[derive(Clone, Debug)]
pub struct Sms {
    /// destination_addr.
    pub destination: String,
    /// The short message (UDH included when esm_class has UDHI).
    pub user_data: Vec<u8>,
}

/// A user agent with its network-asserted identities.
pub struct Ua {
    /// Name in the journey printout.
    pub name: String,
    /// Asserted identities, preferred first (`sip:…`, `tel:+…`).
    pub identities: Vec<String>,
    /// The handset's MSISDN (digits, no `+`): where its pushes go.
    pub msisdn: String,
    http: reqwest::Client,
    reassembler: Reassembler,
    seen: HashSet<usize>,
}

/// A received push: the decoded PDU and how many SMS carried it.
pub struct Received {
    /// The MMS PDU inside the WSP push.
    pub pdu: Pdu,
    /// SMS segments it came in.
    pub segments: usize,
}

impl Ua {
    /// A UA named `name` owning `identities`, reachable by SMS at `msisdn`.
    pub fn new(name: &str, identities: &[&str], msisdn: &str) -> Self {
        Self {
            name: name.to_owned(),
            identities: identities.iter().map(|s| (*s).to_owned()).collect(),
            msisdn: msisdn.trim_start_matches('+').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            reassembler: Reassembler::new(Duration::from_secs(60), 64),
            seen: HashSet::new(),
        }
    }

    fn asserted(&self) -> String {
        self.identities
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// POSTs `pdu` to `url` with this UA's asserted identity (and `intended`, the identity it
    /// sends as, in `X-3GPP-Intended-Identity`, TS 24.109).
    async fn post(
        &self,
        url: &str,
        pdu: Pdu,
        intended: Option<&str>,
    ) -> Result<(StatusCode, Bytes), String> {
        let asserted = self.asserted();
        let intended = intended.map(|i| format!("\"{i}\""));
        let mut headers = vec![("x-3gpp-asserted-identity", asserted.as_str())];
        if let Some(i) = &intended {
            headers.push(("x-3gpp-intended-identity", i.as_str()));
        }
        post_pdu(&self.http, url, pdu.encode(), &headers).await
    }

    /// A text m-send-req to `to` with the insert-address token and a delivery report request.
    pub fn text_req(&self, to: &[&str], subject: &str, text: &str) -> SendReq {
        let ct = ContentType::new(MediaType::TEXT_PLAIN).with_param(
            ParamName::WellKnown(0x01),
            ParamValue::Integer(u64::from(Charset::UTF_8.0)),
        );
        let mut part = Part::new(ct, Bytes::from(text.as_bytes().to_vec()));
        part.content_location = Some("text.txt".into());
        SendReq {
            transaction_id: format!("{}-{:x}", self.name, nonce()),
            version: MmsVersion::V1_2,
            from: FromAddress::InsertAddressToken,
            to: to
                .iter()
                .map(|t| match Address::parse(t) {
                    Ok(a) => EncodedString::plain(a.to_mms_enc()),
                    Err(_) => EncodedString::utf8(*t),
                })
                .collect(),
            subject: Some(EncodedString::utf8(subject)),
            delivery_report: Some(true),
            content_type: ContentType::new(MediaType::MULTIPART_MIXED),
            body: Body::Multipart(vec![part]),
            ..Default::default()
        }
    }

    /// Sends a text MM to `to` (as the identity `from`, which must be one of ours; the relay
    /// inserts it) and returns the m-send-conf.
    pub async fn send(
        &self,
        mm1: &str,
        from: &str,
        to: &[&str],
        subject: &str,
        text: &str,
    ) -> Result<SendConf, String> {
        self.send_req(mm1, from, self.text_req(to, subject, text))
            .await
    }

    /// Sends `req` as the identity `from` and returns the m-send-conf.
    pub async fn send_req(&self, mm1: &str, from: &str, req: SendReq) -> Result<SendConf, String> {
        let (status, body) = self.post(mm1, Pdu::SendReq(req), Some(from)).await?;
        send_conf_of(status, &body)
    }

    /// Waits up to `timeout` for the next push to this handset among the SMS `poll` returns
    /// (every SMS the SMSC received so far, in order), reassembling concatenated segments.
    pub async fn next_push(
        &mut self,
        mut poll: impl FnMut() -> Vec<Sms>,
        timeout: Duration,
    ) -> Result<Received, String> {
        let deadline = Instant::now() + timeout;
        let mut segments = 0;
        loop {
            for (i, sms) in poll().into_iter().enumerate() {
                if sms.destination.trim_start_matches('+') != self.msisdn || !self.seen.insert(i) {
                    continue;
                }
                segments += 1;
                match self.reassembler.push_user_data(
                    &sms.destination,
                    &sms.user_data,
                    Instant::now(),
                ) {
                    Ok(ReassemblyStatus::Complete(message)) => {
                        let push = message.push().map_err(|e| format!("WSP push: {e}"))?;
                        let pdu =
                            Pdu::decode(&push.body).map_err(|e| format!("MMS PDU in push: {e}"))?;
                        return Ok(Received { pdu, segments });
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("SMS segment: {e}")),
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no push for {} ({}) within {timeout:?}",
                    self.name, self.msisdn
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fetches the MM at `url` (HTTP GET, WAP-209) and returns the m-retrieve-conf.
    pub async fn retrieve(&self, url: &str) -> Result<(u16, RetrieveConf), String> {
        let resp = self
            .http
            .get(url)
            .header("x-3gpp-asserted-identity", self.asserted())
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        match Pdu::decode(&body) {
            Ok(Pdu::RetrieveConf(c)) => Ok((status, c)),
            Ok(other) => Err(format!(
                "HTTP {status}: got {:?} instead of m-retrieve-conf",
                other.message_type()
            )),
            Err(e) => Err(format!("HTTP {status}: not an MMS PDU: {e}")),
        }
    }

    /// Sends m-acknowledge-ind for `transaction_id` (report allowed) and returns the HTTP status.
    pub async fn acknowledge(&self, mm1: &str, transaction_id: &str) -> Result<u16, String> {
        let ack = AcknowledgeInd {
            transaction_id: transaction_id.to_owned(),
            version: MmsVersion::V1_2,
            report_allowed: Some(true),
            ..Default::default()
        };
        Ok(self
            .post(mm1, Pdu::AcknowledgeInd(ack), None)
            .await?
            .0
            .as_u16())
    }
}

/// POSTs an encoded MMS PDU to the MM1 URL `url` (MMS ENC 1.3 §6: `Content-Type:
/// application/vnd.wap.mms-message`) with the extra `headers`; returns the HTTP status and the
/// answer's body.
pub async fn post_pdu(
    http: &reqwest::Client,
    url: &str,
    pdu: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, Bytes), String> {
    let mut req = http
        .post(url)
        .header("content-type", "application/vnd.wap.mms-message")
        .body(pdu);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("POST {url}: reading the answer: {e}"))?;
    Ok((status, body))
}

/// The m-send-conf (MMS ENC 1.3 §6.1.2) in the body of an MM1 answer with HTTP `status`.
pub fn send_conf_of(status: StatusCode, body: &Bytes) -> Result<SendConf, String> {
    match Pdu::decode(body) {
        Ok(Pdu::SendConf(conf)) => Ok(conf),
        Ok(other) => Err(format!(
            "HTTP {status}: expected m-send-conf, got {}",
            other.message_type().name().unwrap_or("an unknown PDU")
        )),
        Err(e) => Err(format!("HTTP {status}: the answer is not an MMS PDU ({e})")),
    }
}

/// The text of the first text/plain part of a retrieved MM.
pub fn text_of(conf: &RetrieveConf) -> Option<String> {
    match &conf.body {
        Body::Multipart(parts) => parts
            .iter()
            .find(|p| p.content_type.media.as_str() == Some("text/plain"))
            .map(|p| String::from_utf8_lossy(&p.data).into_owned()),
        Body::Single(data) => Some(String::from_utf8_lossy(data).into_owned()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A transaction-id nonce from the clock and a counter (no cryptographic need).
fn nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(48)
}
