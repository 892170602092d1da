//! WAP push notification throughput: the SMPP codec on a submit_sm of a real m-notification-ind,
//! and pushes/s through our ESME client (window 64) to the test-peers SMSC sink.
//! Run: cargo bench -p smpp --features client --bench push -- --warm-up-time 1 --measurement-time 3

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smpp::client::{Client, ClientConfig};
use smpp::{Address, Body, Pdu, SubmitSm, decode_frame};
use test_peers::smsc::SmscSink;
use wap_push::{Ports, ReferenceAllocator, ReferenceWidth, encode_mms_push, segment_udh};

fn notification() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/test-vectors/mms/ofono-mmsd/ni-mms-1-3-con-272.mms");
    std::fs::read(path).expect("vector")
}

fn submits(ni: &[u8], refs: &mut ReferenceAllocator, dest: &str) -> Vec<SubmitSm> {
    let push = encode_mms_push(1, ni);
    let reference = refs.next(dest, ReferenceWidth::Eight);
    segment_udh(&push, Ports::WAP_PUSH, reference)
        .unwrap_or_default()
        .into_iter()
        .map(|ud| {
            SubmitSm::binary(
                Address::international("4917600000000"),
                Address::international(dest),
                ud,
                true,
            )
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let ni = notification();
    let mut refs = ReferenceAllocator::new(1024);
    let sm = submits(&ni, &mut refs, "4917611111111").remove(0);
    let pdu = Pdu::request(1, Body::SubmitSm(Box::new(sm)));
    let bytes = pdu.to_bytes().unwrap();
    let mut g = c.benchmark_group("smpp_codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_submit_sm", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            std::hint::black_box(&pdu).encode(&mut out).unwrap();
        })
    });
    g.bench_function("decode_submit_sm", |b| {
        b.iter(|| decode_frame(std::hint::black_box(&bytes)).unwrap())
    });
    g.finish();
}

/// Pushes per iteration of the end-to-end benchmark.
const PUSHES: usize = 2000;

fn through_sink(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ni = notification();
    let (sink, client) = rt.block_on(async {
        let sink = SmscSink::start().await.unwrap();
        let mut config = ClientConfig::new(sink.addr());
        config.session.window = 64;
        config.session.response_timeout = Duration::from_secs(30);
        let (client, _rx) = Client::start(config);
        (sink, client)
    });
    let mut refs = ReferenceAllocator::new(100_000);
    let mut g = c.benchmark_group("smpp_push");
    g.throughput(Throughput::Elements(PUSHES as u64));
    g.sample_size(10);
    g.bench_function("pushes_to_sink_window_64", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let work: Vec<Vec<SubmitSm>> = (0..PUSHES)
                    .map(|i| submits(&ni, &mut refs, &format!("49176{i:08}")))
                    .collect();
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = work
                        .into_iter()
                        .map(|sms| {
                            let c = client.clone();
                            tokio::spawn(async move {
                                for sm in sms {
                                    c.submit(sm).await.unwrap();
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    rt.block_on(client.shutdown());
    drop(sink);
}

criterion_group!(benches, codec, through_sink);
criterion_main!(benches);
