//! WAP push segmentation and reassembly throughput on a real m-notification-ind (170 octets,
//! two SMS). Run: cargo bench -p wap-push --bench segment -- --warm-up-time 1 --measurement-time 3

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wap_push::{
    ConcatReference, Ports, Reassembler, ReassemblyStatus, ReferenceAllocator, ReferenceWidth,
    encode_mms_push, segment_sar, segment_udh,
};

fn notification() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/test-vectors/mms/ofono-mmsd/ni-mms-1-3-con-272.mms");
    std::fs::read(path).expect("vector")
}

fn bench(c: &mut Criterion) {
    let ni = notification();
    let mut g = c.benchmark_group("wap_push");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wrap_and_segment_udh_ni_272", |b| {
        let mut refs = ReferenceAllocator::new(10_000);
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 1) % 10_000;
            let dest = i.to_string();
            let push = encode_mms_push(1, std::hint::black_box(&ni));
            let r = refs.next(&dest, ReferenceWidth::Eight);
            segment_udh(&push, Ports::WAP_PUSH, r).unwrap()
        })
    });
    g.bench_function("wrap_and_segment_sar_ni_272", |b| {
        b.iter(|| {
            let push = encode_mms_push(1, std::hint::black_box(&ni));
            segment_sar(&push, 7).unwrap()
        })
    });
    let push = encode_mms_push(1, &ni);
    let sms = segment_udh(&push, Ports::WAP_PUSH, ConcatReference::Eight(7)).unwrap();
    g.bench_function("reassemble_and_decode_ni_272", |b| {
        let mut r = Reassembler::new(Duration::from_secs(60), 1024);
        let now = Instant::now();
        b.iter(|| {
            r.push_user_data("4917611111111", &sms[1], now).unwrap();
            match r.push_user_data("4917611111111", &sms[0], now).unwrap() {
                ReassemblyStatus::Complete(m) => m.push().unwrap(),
                other => panic!("not complete: {other:?}"),
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
