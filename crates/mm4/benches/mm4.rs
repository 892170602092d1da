//! Encode and decode of a 30 KB `MM4_forward.REQ` (TS 23.140 §8.4.1.1): SMIL, text and a 28 KB
//! JPEG-like binary part in multipart/related, as relay A sends it and relay B reads it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mm4::{ForwardParams, Mm4Address, Mm4Message, decode, encode, forward_req_from_send_req};
use mms_pdu::{Body, ContentType, EncodedString, MediaType, ParamName, ParamValue, Part, SendReq};
use std::hint::black_box;

fn forward_30k() -> Mm4Message {
    let mut image = Vec::with_capacity(28 * 1024);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..28 * 1024 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image.push((x >> 24) as u8);
    }
    let smil = b"<smil><head><layout><root-layout/><region id=\"Image\"/><region id=\"Text\"/></layout></head>\r\n<body><par dur=\"5000ms\"><img src=\"cid:img\" region=\"Image\"/><text src=\"cid:txt\" region=\"Text\"/></par></body></smil>".to_vec();
    let text = "Gr\u{fc}\u{df}e aus M\u{fc}nchen! ".repeat(40).into_bytes();
    let part = |ct: ContentType, id: &str, loc: &str, data: Vec<u8>| Part {
        content_type: ct,
        content_id: Some(format!("<{id}>")),
        content_location: Some(loc.into()),
        headers: vec![],
        data: data.into(),
    };
    let req = SendReq {
        to: vec![EncodedString::plain("sip%3Abob%40b.example/TYPE=SIP")],
        subject: Some(EncodedString::utf8("Urlaubsfoto aus München")),
        content_type: ContentType::new(MediaType::MULTIPART_RELATED)
            .with_param(
                ParamName::WellKnown(0x09),
                ParamValue::Text("application/smil".into()),
            )
            .with_param(
                ParamName::WellKnown(0x0A),
                ParamValue::Text("<smil>".into()),
            ),
        body: Body::Multipart(vec![
            part(
                ContentType::new(MediaType::from_name("application/smil")),
                "smil",
                "smil.xml",
                smil,
            ),
            part(
                ContentType::new(MediaType::TEXT_PLAIN)
                    .with_param(ParamName::WellKnown(1), ParamValue::Integer(106)),
                "txt",
                "text.txt",
                text,
            ),
            part(
                ContentType::new(MediaType::from_name("image/jpeg")),
                "img",
                "photo.jpg",
                image,
            ),
        ]),
        ..Default::default()
    };
    let bob = Mm4Address::parse("sip%3Abob%40b.example/TYPE=SIP@mms.b.example").unwrap();
    let alice = Mm4Address::parse("+441234567890/TYPE=PLMN@mms.a.example").unwrap();
    let mut p = ForwardParams::new(
        alice,
        "msg-1@mms.a.example",
        "tx-1",
        1_700_000_000,
        "mms.a.example",
    );
    p.recipient_domains = vec![(bob.address().clone(), bob.domain().to_owned())];
    p.rcpt_to = vec![bob];
    p.ack_request = true;
    p.originator_system = Some("system@mms.a.example".into());
    Mm4Message::from(forward_req_from_send_req(&req, &p).unwrap())
}

fn bench(c: &mut Criterion) {
    let msg = forward_30k();
    let (env, bytes) = encode(&msg);
    assert_eq!(decode(&env, &bytes).unwrap(), msg);
    let mut g = c.benchmark_group("mm4_forward_req_30k");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode", |b| b.iter(|| encode(black_box(&msg))));
    g.bench_function("decode", |b| {
        b.iter(|| decode(black_box(&env), black_box(&bytes)).unwrap())
    });
    // Baseline: mail-parser alone on the same bytes (what any decode on top of it pays).
    g.bench_function("mail_parser_parse_only", |b| {
        b.iter(|| {
            mail_parser::MessageParser::new()
                .parse(black_box(&bytes[..]))
                .map(|m| m.parts.len())
        })
    });
    g.finish();
    eprintln!("MM4_forward.REQ wire size: {} bytes", bytes.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
