//! Accounting-Request decode + authenticator check + event extraction, and response encoding:
//! the per-packet work of the accounting listener (RFC 2866 §3).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use radius::{AccountingEvent, Code, Packet, attr, verify_accounting_request};

fn bench(c: &mut Criterion) {
    let mut req = Packet::new(Code::AccountingRequest, 7)
        .with(attr::ACCT_STATUS_TYPE, 1u32.to_be_bytes().to_vec())
        .with(attr::FRAMED_IP_ADDRESS, vec![10, 1, 2, 3])
        .with(attr::CALLING_STATION_ID, b"491701234567".to_vec())
        .with(attr::USER_NAME, b"internet".to_vec())
        .with(attr::ACCT_SESSION_ID, b"0A0B0C0D-00000001".to_vec())
        .with(attr::NAS_IP_ADDRESS, vec![192, 0, 2, 1])
        .with(
            attr::VENDOR_SPECIFIC,
            vec![0, 0, 0x28, 0xaf, 1, 6, 0, 0, 0, 1],
        );
    let raw = req.encode_accounting_request(b"shared-secret").unwrap();
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut g = c.benchmark_group("radius");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_decode_event_respond", |b| {
        b.iter(|| {
            let p = verify_accounting_request(black_box(&raw), b"shared-secret").unwrap();
            let ev = AccountingEvent::from_request(&p, source).unwrap();
            let resp = p.accounting_response(b"shared-secret").unwrap();
            black_box((ev, resp))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
