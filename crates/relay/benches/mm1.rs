//! MM1 intake benchmark (DESIGN.md §11): m-send-req accepted durably (SQLite, group commit) per
//! second, with p50/p99 latency, from 64 concurrent HTTP/1.1 connections on loopback. The load
//! client runs in the same process (its own runtime) as the relay, on the same cores.
//!
//! `cargo bench -p relay --bench mm1 -- [--seconds N] [--connections N] [--sizes 1024,30720]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_pdu::{
    Body, ContentType, EncodedString, FromAddress, MediaType, MmsVersion, Part, Pdu, SendReq,
};
use mms_store::AnyStore;
use relay::config::{Cidr, RelayConfig};
use relay::mm1::{self, Mm1State};

#[path = "support/args.rs"]
mod args;

struct Options {
    seconds: u64,
    connections: usize,
    sizes: Vec<usize>,
}

fn options() -> Options {
    Options {
        seconds: args::arg("--seconds", 5),
        connections: args::arg("--connections", 64),
        sizes: args::sizes(),
    }
}

/// An m-send-req of about `size` octets (insert-address From, one SIP recipient, one part).
fn request(size: usize) -> Vec<u8> {
    let make = |n: usize| {
        Pdu::SendReq(SendReq {
            transaction_id: "bench-0001".into(),
            version: MmsVersion::V1_2,
            from: FromAddress::InsertAddressToken,
            to: vec![EncodedString::plain("sip%3Abob%40b.example/TYPE=SIP")],
            subject: Some(EncodedString::utf8("benchmark")),
            content_type: ContentType::new(MediaType::MULTIPART_MIXED),
            body: Body::Multipart(vec![Part::new(
                ContentType::new(MediaType::from_name("image/jpeg")),
                Bytes::from(vec![0x5Au8; n]),
            )]),
            ..Default::default()
        })
        .encode()
    };
    let overhead = make(0).len();
    make(size.saturating_sub(overhead + 2))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn main() {
    let o = options();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (url, _store) = server_rt.block_on(async {
        let mut config = RelayConfig::default();
        config.relay.mmse_domain = "mms.a.example".into();
        config.relay.store = dir.path().display().to_string();
        config.mm1.identity.trusted_proxies = vec!["127.0.0.1".parse::<Cidr>().unwrap()];
        let store = AnyStore::open(&config.relay.store).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state = Mm1State::from_config(Arc::new(config), store.clone(), None);
        tokio::spawn(mm1::serve(listener, state, std::future::pending()));
        (url, store)
    });

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "MM1 m-send-req intake, durable on SQLite, {} connections, {} s per size (load client in-process)",
        o.connections, o.seconds
    );
    for &size in &o.sizes {
        let body = Bytes::from(request(size));
        let (count, errors, mut latencies, elapsed) =
            client_rt.block_on(run_load(&url, body.clone(), &o));
        latencies.sort();
        println!(
            "size {:>6} B (PDU {} B): {:>7} accepted in {:.2} s = {:>8.0}/s, p50 {:>6.2} ms, p99 {:>6.2} ms, errors {}",
            size,
            body.len(),
            count,
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            errors
        );
    }
}

async fn run_load(url: &str, body: Bytes, o: &Options) -> (u64, u64, Vec<Duration>, Duration) {
    // Warm-up: one second, not counted.
    let warm = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let url = url.to_owned();
        let body = body.clone();
        let (warm, stop) = (warm.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 14);
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", mm1::MMS_CONTENT_TYPE)
                    .header("x-3gpp-asserted-identity", "\"sip:alice@a.example\"")
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match resp {
                    Ok(r) => match r.bytes().await {
                        Ok(b) => matches!(Pdu::decode(&b), Ok(Pdu::SendConf(c)) if c.response_status.is_ok()),
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if warm.load(Ordering::Relaxed) {
                    continue;
                }
                if ok {
                    lat.push(t0.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    warm.store(false, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    (all.len() as u64, errors, all, elapsed)
}
