//! Messages per second, our SMTP client -> our SMTP server on 127.0.0.1, with connection reuse
//! and PIPELINING; 1 KB and 30 KB messages; 1 and 8 concurrent senders. The server's handler
//! only counts (the transport alone is measured, not a store).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mm4_smtp::{
    ClientConfig, DeliveryHandler, Envelope, Host, OutboundEnvelope, Reject, ServerConfig,
    SmtpClient, SmtpServer,
};
use tokio_util::sync::CancellationToken;

struct Count(AtomicU64);

impl DeliveryHandler for Count {
    async fn deliver(&self, _envelope: Envelope, data: Bytes) -> Result<(), Reject> {
        self.0.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: +4917600000001/TYPE=PLMN@mms.a.example\r\nTo: +4917600000002/TYPE=PLMN@mms.b.example\r\n\
X-Mms-Message-Type: MM4_forward.REQ\r\nSubject: bench\r\n\r\n"
        .to_vec();
    while m.len() < size {
        m.extend_from_slice(
            b".line starting with a dot, so stuffing runs: abcdefghijklmnopqrstuvwxyz0123\r\n",
        );
    }
    m
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    let addr: SocketAddr = rt.block_on(async {
        let server = SmtpServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            ServerConfig::new("b", vec!["127.0.0.0/8".parse().unwrap()]),
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(server.run(Arc::new(Count(AtomicU64::new(0))), stop.clone()));
        addr
    });
    let mut config = ClientConfig::new("a");
    config.max_connections_per_host = 8;
    let client = Arc::new(SmtpClient::new(config));
    let route = Arc::new(vec![Host {
        name: "127.0.0.1".into(),
        addr,
    }]);
    let envelope = Arc::new(OutboundEnvelope {
        mail_from: "+4917600000001/TYPE=PLMN@mms.a.example".into(),
        rcpt_to: vec!["+4917600000002/TYPE=PLMN@mms.b.example".into()],
    });

    let mut group = c.benchmark_group("smtp_loopback");
    group.throughput(Throughput::Elements(1));
    for size in [1024usize, 30 * 1024] {
        let data = Arc::new(message(size));
        for senders in [1u64, 8] {
            let name = format!("{}KB_{}senders", size / 1024, senders);
            group.bench_function(name, |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (client, route, envelope, data) = (
                        client.clone(),
                        route.clone(),
                        envelope.clone(),
                        data.clone(),
                    );
                    async move {
                        let start = Instant::now();
                        let mut tasks = Vec::new();
                        for s in 0..senders {
                            let n = iters / senders + u64::from(s < iters % senders);
                            let (client, route, envelope, data) = (
                                client.clone(),
                                route.clone(),
                                envelope.clone(),
                                data.clone(),
                            );
                            tasks.push(tokio::spawn(async move {
                                for _ in 0..n {
                                    client.send(&route, &envelope, &data).await.unwrap();
                                }
                            }));
                        }
                        for t in tasks {
                            t.await.unwrap();
                        }
                        start.elapsed()
                    }
                });
            });
        }
    }
    group.finish();
    stop.cancel();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
