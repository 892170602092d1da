//! Criterion benchmarks of the PDU codec (DESIGN.md §11: decode ≥ 1 GB/s of m-send-req).

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mms_pdu::{
    Body, ContentType, EncodedString, FromAddress, MediaType, MessageClass, NotificationInd,
    ParamName, ParamValue, Part, Pdu, Priority, SendReq, TimeSpec,
};
use std::hint::black_box;

/// An m-send-req of about 300 KB: SMIL, text and a ~298 KB image (3 parts).
fn send_req_300k() -> Vec<u8> {
    let smil = Part {
        content_id: Some("<smil>".into()),
        content_location: Some("smil.xml".into()),
        ..Part::new(
            ContentType::new(MediaType::from_name("application/smil")),
            Bytes::from(vec![b'<'; 600]),
        )
    };
    let text = Part {
        content_id: Some("<text>".into()),
        content_location: Some("text.txt".into()),
        ..Part::new(
            ContentType::new(MediaType::TEXT_PLAIN)
                .with_param(ParamName::WellKnown(0x01), ParamValue::Integer(106)),
            Bytes::from(vec![b'a'; 1400]),
        )
    };
    let image = Part {
        content_id: Some("<image>".into()),
        content_location: Some("image.jpg".into()),
        ..Part::new(
            ContentType::new(MediaType::from_name("image/jpeg")),
            Bytes::from(vec![0xA5; 298_000]),
        )
    };
    let req = SendReq {
        transaction_id: "T0123456789abcdef".into(),
        date: Some(1_700_000_000),
        from: FromAddress::InsertAddressToken,
        to: vec![
            EncodedString::plain("sip:bob@b.example/TYPE=SIP"),
            EncodedString::plain("+4917612345678/TYPE=PLMN"),
        ],
        subject: Some(EncodedString::utf8("Holiday pictures")),
        message_class: Some(MessageClass::Personal),
        priority: Some(Priority::NORMAL),
        delivery_report: Some(true),
        content_type: ContentType::new(MediaType::MULTIPART_RELATED)
            .with_param(
                ParamName::WellKnown(0x0A),
                ParamValue::Text("<smil>".into()),
            )
            .with_param(
                ParamName::WellKnown(0x09),
                ParamValue::Text("application/smil".into()),
            ),
        body: Body::Multipart(vec![smil, text, image]),
        ..Default::default()
    };
    Pdu::from(req).encode()
}

fn notification() -> Pdu {
    Pdu::from(NotificationInd {
        transaction_id: "4f2a9c1e0b7d".into(),
        from: Some(FromAddress::Present(EncodedString::plain(
            "+441234567890/TYPE=PLMN",
        ))),
        subject: Some(EncodedString::utf8("Holiday pictures")),
        message_class: MessageClass::Personal,
        message_size: 301_234,
        expiry: TimeSpec::Relative(604_800),
        content_location: "http://mms.b.example/m/6b1f0c2e9a8d4c7f91e3a5b2d4f6e8a0".into(),
        ..Default::default()
    })
}

fn bench(c: &mut Criterion) {
    let wire = Bytes::from(send_req_300k());
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("m-send-req 300KB 3 parts", |b| {
        b.iter(|| Pdu::decode(black_box(&wire)).unwrap())
    });
    g.finish();

    let n = notification();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(256);
    g.bench_function("m-notification-ind", |b| {
        b.iter(|| {
            out.clear();
            black_box(&n).encode_into(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
