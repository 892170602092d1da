//! SMPP 3.4 codec round trips and stream framing; with feature `client`, the ESME against the
//! test-peers SMSC sink and against the npm `smpp` server (an SMSC no one here wrote).

use bytes::Bytes;
use proptest::prelude::*;
use smpp::pdu::tag;
use smpp::{Address, Body, CommandStatus, Pdu, SubmitSm, SubmitSmResp, Tlv, decode_frame};

#[cfg(feature = "client")]
#[path = "smpp/common.rs"]
mod common;
#[cfg(feature = "client")]
#[path = "smpp/npm_smsc.rs"]
mod npm_smsc;
#[cfg(feature = "client")]
#[path = "smpp/sink.rs"]
mod sink;
#[cfg(feature = "client")]
#[path = "smpp/tshark.rs"]
mod tshark;

fn cstr(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9A-Za-z ]{{0,{}}}", max - 1)).unwrap()
}

fn address() -> impl Strategy<Value = Address> {
    (any::<u8>(), any::<u8>(), cstr(21)).prop_map(|(ton, npi, address)| Address {
        ton,
        npi,
        address,
    })
}

fn submit_sm() -> impl Strategy<Value = SubmitSm> {
    (
        (cstr(6), address(), address(), any::<[u8; 3]>()),
        (cstr(17), cstr(17), any::<[u8; 4]>()),
        proptest::collection::vec(any::<u8>(), 0..=254),
        proptest::collection::vec(
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..20)),
            0..4,
        ),
    )
        .prop_map(
            |(
                (service_type, source, destination, [esm, pid, prio]),
                (sched, valid, f),
                sm,
                tlvs,
            )| {
                SubmitSm {
                    service_type,
                    source,
                    destination,
                    esm_class: esm,
                    protocol_id: pid,
                    priority_flag: prio,
                    schedule_delivery_time: sched,
                    validity_period: valid,
                    registered_delivery: f[0],
                    replace_if_present: f[1],
                    data_coding: f[2],
                    sm_default_msg_id: f[3],
                    short_message: Bytes::from(sm),
                    tlvs: tlvs
                        .into_iter()
                        .map(|(tag, v)| Tlv {
                            tag,
                            value: Bytes::from(v),
                        })
                        .collect(),
                }
            },
        )
}

fn pdu() -> impl Strategy<Value = Pdu> {
    let body = prop_oneof![
        submit_sm().prop_map(|s| Body::SubmitSm(Box::new(s))),
        submit_sm().prop_map(|s| Body::DeliverSm(Box::new(s))),
        cstr(65).prop_map(|message_id| Body::SubmitSmResp(SubmitSmResp { message_id })),
        (cstr(16), cstr(9), cstr(13), any::<[u8; 3]>(), cstr(41)).prop_map(
            |(system_id, password, system_type, [v, ton, npi], address_range)| {
                Body::BindTransceiver(smpp::Bind {
                    system_id,
                    password,
                    system_type,
                    interface_version: v,
                    addr_ton: ton,
                    addr_npi: npi,
                    address_range,
                })
            }
        ),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::DeliverSmResp),
    ];
    (1u32..0x7FFF_FFFF, body).prop_map(|(sequence, body)| Pdu::request(sequence, body))
}

proptest! {
    #[test]
    fn every_pdu_round_trips_smpp_3_4_section_4(p in pdu()) {
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len());
        let (decoded, used) = decode_frame(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decoded, p);
    }

    #[test]
    fn a_stream_split_anywhere_yields_the_same_pdus(
        pdus in proptest::collection::vec(pdu(), 1..5),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        for p in &pdus {
            p.encode(&mut stream).unwrap();
        }
        let cut = cut.index(stream.len() + 1);
        // first only part of the stream is buffered, then the rest arrives
        let mut buf = stream[..cut].to_vec();
        let mut out = Vec::new();
        let mut fed_rest = false;
        loop {
            match decode_frame(&buf).unwrap() {
                Some((p, used)) => {
                    out.push(p);
                    buf.drain(..used);
                }
                None if !fed_rest => {
                    buf.extend_from_slice(&stream[cut..]);
                    fed_rest = true;
                }
                None => break,
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, pdus);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_frame(&data);
        let _ = smpp::receipt::parse_receipt_text(&String::from_utf8_lossy(&data));
    }
}

#[test]
fn wap_push_submit_sm_carries_udhi_binary_coding_and_ton_npi_1_1() {
    let mut sm = SubmitSm::binary(
        Address::international("+4917600000000"),
        Address::international("+4917611111111"),
        Bytes::from_static(&[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]),
        true,
    );
    sm.registered_delivery = 1;
    let bytes = Pdu::request(2, Body::SubmitSm(Box::new(sm)))
        .to_bytes()
        .unwrap();
    let expected_body: &[u8] = b"\0\x01\x014917600000000\0\x01\x014917611111111\0\x40\0\0\0\0\x01\0\x04\0\x07\x06\x05\x04\x0b\x84\x23\xf0";
    assert_eq!(&bytes[16..], expected_body);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 4]);
}

#[test]
fn sar_and_port_tlvs_encode_as_smpp_5_3_2() {
    let sm = SubmitSm {
        tlvs: vec![
            Tlv::u16(tag::SOURCE_PORT, 9200),
            Tlv::u16(tag::DESTINATION_PORT, 2948),
            Tlv::u16(tag::SAR_MSG_REF_NUM, 0x0102),
            Tlv::u8(tag::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(tag::SAR_SEGMENT_SEQNUM, 1),
        ],
        ..SubmitSm::default()
    };
    let bytes = Pdu::request(1, Body::SubmitSm(Box::new(sm.clone())))
        .to_bytes()
        .unwrap();
    let tail = &bytes[bytes.len() - 28..];
    assert_eq!(
        tail,
        &[
            0x02, 0x0A, 0, 2, 0x23, 0xF0, // source_port 9200
            0x02, 0x0B, 0, 2, 0x0B, 0x84, // destination_port 2948
            0x02, 0x0C, 0, 2, 0x01, 0x02, // sar_msg_ref_num
            0x02, 0x0E, 0, 1, 2, // sar_total_segments
            0x02, 0x0F, 0, 1, 1, // sar_segment_seqnum
        ]
    );
    assert_eq!(sm.ports(), Some((9200, 2948)));
    assert_eq!(sm.sar(), Some((0x0102, 2, 1)));
    let built = SubmitSm::default()
        .with_ports(9200, 2948)
        .with_sar(0x0102, 2, 1);
    assert_eq!(built, sm);
}

#[test]
fn command_status_is_typed_on_decode() {
    let pdu = Pdu {
        sequence: 9,
        status: CommandStatus::MessageQueueFull,
        body: Body::SubmitSmResp(SubmitSmResp::default()),
    };
    let (decoded, _) = decode_frame(&pdu.to_bytes().unwrap()).unwrap().unwrap();
    assert_eq!(decoded.status, CommandStatus::MessageQueueFull);
    assert!(decoded.status.is_transient());
}
