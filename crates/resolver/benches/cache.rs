//! Cached lookups per second on one core (DESIGN.md §11: ≥ 2 M/s): the answer cache alone, and
//! a whole `sip:` resolution (pattern, MX, A, AAAA) answered from the cache.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mms_address::Address;
use mms_resolver::{
    Answer, CacheConfig, CachingLookup, DnsLookup, Lookup, MxRecord, RecordKind, Records, Resolver,
    ResolverConfig,
};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// A fixed zone: every name has one MX and one A record, no AAAA.
struct Fixed;

impl DnsLookup for Fixed {
    async fn lookup(&self, name: &str, kind: RecordKind) -> Lookup {
        let records = match kind {
            RecordKind::Mx => Records::Mx(vec![MxRecord {
                preference: 10,
                exchange: format!("mx.{name}"),
            }]),
            RecordKind::A => Records::Ip(vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))]),
            _ => {
                return Lookup {
                    result: Err(mms_resolver::LookupError::NoData {
                        negative_ttl: Some(3600),
                    }),
                    source: Arc::from("fixed"),
                    cached: false,
                };
            }
        };
        Lookup {
            result: Ok(Arc::new(Answer { records, ttl: 3600 })),
            source: Arc::from("fixed"),
            cached: false,
        }
    }
}

const BATCH: usize = 1000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = CachingLookup::new(Fixed, CacheConfig::default());
    let names: Vec<String> = (0..BATCH)
        .map(|i| format!("mx{i}.mms.peer{}.example", i % 37))
        .collect();
    rt.block_on(async {
        for n in &names {
            cache.lookup(n, RecordKind::A).await;
        }
    });
    let mut group = c.benchmark_group("resolver");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("cache_hit_lookup", |b| {
        b.iter(|| {
            rt.block_on(async {
                for n in &names {
                    black_box(cache.lookup(black_box(n), RecordKind::A).await);
                }
            })
        })
    });

    let resolver = Resolver::new(
        ResolverConfig::default(),
        CachingLookup::new(Fixed, CacheConfig::default()),
    );
    let bob = Address::parse("sip:bob@b.example").unwrap();
    rt.block_on(resolver.resolve(&bob));
    group.throughput(Throughput::Elements(1));
    group.bench_function("cached_sip_resolution", |b| {
        b.iter(|| rt.block_on(resolver.resolve(black_box(&bob))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
