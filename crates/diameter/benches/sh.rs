//! Sh benchmarks: UDR/UDA encode and decode (codec only), and lookups through the Sh client against the
//! test HSS on 127.0.0.1, cached and uncached, one at a time and 64 in flight.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use diameter::Message;
use diameter::base::Identity;
use diameter::result::AnswerResult;
use diameter::sh::{DataReference, ShData, UserDataAnswer, UserDataRequest, UserIdentity};
use diameter::sh_client::{ShClient, ShConfig};
use test_peers::hss::TestHss;

fn udr() -> UserDataRequest {
    UserDataRequest {
        session_id: "relay.example;1795800000;42".into(),
        origin: Identity {
            host: "relay.example".into(),
            realm: "example".into(),
        },
        destination_host: None,
        destination_realm: "hss.example".into(),
        user_identity: UserIdentity::PublicIdentity("sip:bob@b.example".into()),
        data_references: vec![DataReference::Msisdn],
    }
}

fn codec(c: &mut Criterion) {
    let request = udr().to_message().expect("valid UDR");
    let udr_bytes = request.to_bytes();
    let answer = UserDataAnswer {
        session_id: "relay.example;1795800000;42".into(),
        origin: Identity {
            host: "hss.example".into(),
            realm: "hss.example".into(),
        },
        result: AnswerResult::ResultCode(2001),
        user_data: Some(ShData {
            public_identities: vec![],
            msisdns: vec!["4917612345678".into()],
        }),
    };
    let uda_bytes = answer.to_message(&request).to_bytes();

    let mut g = c.benchmark_group("sh_codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("udr_encode", |b| {
        b.iter(|| black_box(udr().to_message().expect("valid").to_bytes()))
    });
    g.bench_function("udr_decode", |b| {
        b.iter(|| {
            let (m, _) = Message::decode(black_box(&udr_bytes)).expect("decodes");
            black_box(UserDataRequest::from_message(&m).expect("parses"))
        })
    });
    g.bench_function("uda_encode", |b| {
        b.iter(|| black_box(answer.to_message(&request).to_bytes()))
    });
    g.bench_function("uda_decode_with_sh_data_xml", |b| {
        b.iter(|| {
            let (m, _) = Message::decode(black_box(&uda_bytes)).expect("decodes");
            black_box(UserDataAnswer::from_message(&m).expect("parses"))
        })
    });
    g.finish();
}

/// Distinct identities looked up at once (same-identity lookups would share one UDR).
const IN_FLIGHT: u64 = 64;

fn lookups(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (hss, client) = rt.block_on(async {
        let hss = TestHss::start("hss.bench.example").await.expect("bind");
        hss.add_subscriber("4917612345678", &["sip:bob@b.example"]);
        for i in 0..IN_FLIGHT {
            hss.add_subscriber(
                &format!("49170000{i:04}"),
                &[&format!("sip:user{i}@b.example")],
            );
        }
        let client = ShClient::start(ShConfig {
            peers: vec![hss.addr().to_string()],
            origin_host: "relay.bench.example".into(),
            request_timeout: Duration::from_secs(5),
            ..ShConfig::default()
        });
        assert!(client.pool().wait_open(Duration::from_secs(5)).await);
        (hss, Arc::new(client))
    });

    let mut g = c.benchmark_group("sh_lookup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("cached", |b| {
        b.iter(|| {
            rt.block_on(client.msisdn_for("sip:bob@b.example"))
                .expect("found")
        })
    });
    g.bench_function("uncached_sequential", |b| {
        b.iter(|| {
            client.clear_cache();
            rt.block_on(client.msisdn_for("sip:bob@b.example"))
                .expect("found")
        })
    });
    g.throughput(Throughput::Elements(IN_FLIGHT));
    g.bench_function("uncached_64_in_flight", |b| {
        b.iter(|| {
            client.clear_cache();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..IN_FLIGHT {
                    let client = client.clone();
                    set.spawn(
                        async move { client.msisdn_for(&format!("sip:user{i}@b.example")).await },
                    );
                }
                while let Some(r) = set.join_next().await {
                    r.expect("task").expect("found");
                }
            })
        })
    });
    g.finish();
    rt.block_on(async {
        client.shutdown().await;
        hss.stop().await;
    });
}

criterion_group!(benches, codec, lookups);
criterion_main!(benches);
