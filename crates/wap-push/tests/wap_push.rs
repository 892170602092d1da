//! WAP push of real `m-notification-ind` PDUs (ofono-mmsd, sailfish-mms-engine vectors, read in
//! place) through WSP push wrapping (WSP §8.2.4.1), WDP-over-SMS segmentation (WAP-259 Annex A.6,
//! TS 23.040 §9.2.3.24) and back; proptest round trips.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use wap_push::{
    ApplicationId, ConcatReference, Ports, Reassembler, ReassemblyStatus, ReferenceWidth,
    SarSegment, UserData, decode_push, encode_mms_push, segment_sar, segment_udh,
};

fn vector(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/test-vectors/mms")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const NOTIFICATIONS: &[&str] = &[
    "ofono-mmsd/ni-mms-1-3-con-271.mms",
    "ofono-mmsd/ni-mms-1-3-con-272.mms",
    "sailfish-mms-engine/test_mms_codec/m-notification_1.ind",
    "sailfish-mms-engine/test_mms_codec/m-notification_2.ind",
    "sailfish-mms-engine/test_mms_codec/m-notification_3.ind",
    "sailfish-mms-engine/test_mms_codec/m-notification_4.ind",
    "sailfish-mms-engine/test_retrieve/Base64/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/Expired1/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/InvalidSubject/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/NotFound/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/SoonExpired/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/Success2/m-notification.ind",
    "sailfish-mms-engine/test_retrieve/Success3/m-notification.ind",
];

const PUSH_HEADER: [u8; 6] = [0x01, 0x06, 0x03, 0xBE, 0xAF, 0x84];
const PORT_UDH: [u8; 7] = [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];

#[test]
fn short_notification_fits_one_sms_with_port_udh_wdp_annex_a() {
    // InvalidSubject: 97 octets + 6 push header = 103 ≤ 133
    let ni = vector("sailfish-mms-engine/test_retrieve/InvalidSubject/m-notification.ind");
    assert_eq!(ni.len(), 97);
    let push = encode_mms_push(1, &ni);
    let sms = segment_udh(&push, Ports::WAP_PUSH, ConcatReference::Eight(0)).unwrap();
    assert_eq!(sms.len(), 1);
    let mut expected = PORT_UDH.to_vec();
    expected.extend_from_slice(&PUSH_HEADER);
    expected.extend_from_slice(&ni);
    assert_eq!(sms[0].as_ref(), expected.as_slice());
    assert_eq!(sms[0].len(), 110);
}

#[test]
fn ni_272_needs_two_segments_of_128_and_48_octets_with_8_bit_reference() {
    let ni = vector("ofono-mmsd/ni-mms-1-3-con-272.mms");
    assert_eq!(ni.len(), 170);
    let push = encode_mms_push(1, &ni);
    assert_eq!(push.len(), 176);
    let sms = segment_udh(&push, Ports::WAP_PUSH, ConcatReference::Eight(0x07)).unwrap();
    assert_eq!(sms.len(), 2);

    // segment 1: UDH, push header, first 122 octets of the PDU
    let mut first = vec![
        0x0B, 0x00, 0x03, 0x07, 0x02, 0x01, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,
    ];
    first.extend_from_slice(&PUSH_HEADER);
    first.extend_from_slice(&ni[..122]);
    assert_eq!(sms[0].as_ref(), first.as_slice());
    assert_eq!(sms[0].len(), 140);

    // segment 2 written out by hand: UDH then "ghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi.mms\0"
    let mut second = vec![
        0x0B, 0x00, 0x03, 0x07, 0x02, 0x02, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,
    ];
    second.extend_from_slice(b"ghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi.mms\0");
    assert_eq!(sms[1].as_ref(), second.as_slice());
    assert_eq!(&ni[122..], &second[12..]);
}

#[test]
fn not_found_notification_with_16_bit_reference_splits_127_plus_10() {
    // NotFound: 131 + 6 = 137 > 133, so two segments; 16-bit reference leaves 127 per segment
    let ni = vector("sailfish-mms-engine/test_retrieve/NotFound/m-notification.ind");
    let push = encode_mms_push(0x42, &ni);
    let sms = segment_udh(&push, Ports::WAP_PUSH, ConcatReference::Sixteen(0xBEEF)).unwrap();
    assert_eq!(sms.len(), 2);
    let udh = |seq| {
        vec![
            0x0C, 0x08, 0x04, 0xBE, 0xEF, 0x02, seq, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,
        ]
    };
    assert_eq!(&sms[0][..13], udh(1).as_slice());
    assert_eq!(&sms[0][13..19], &[0x42, 0x06, 0x03, 0xBE, 0xAF, 0x84]);
    assert_eq!(&sms[0][19..], &ni[..121]);
    assert_eq!(&sms[1][..13], udh(2).as_slice());
    // the last 10 octets: "...\xd1\x80\0" of the UTF-8 subject tail
    assert_eq!(&sms[1][13..], &ni[121..]);
    assert_eq!(sms[1].len(), 23);
}

#[test]
fn every_vector_round_trips_through_udh_segments_in_reverse_order() {
    let t0 = Instant::now();
    let mut reassembler = Reassembler::new(Duration::from_secs(60), 64);
    for (i, name) in NOTIFICATIONS.iter().enumerate() {
        let ni = vector(name);
        for width in [ReferenceWidth::Eight, ReferenceWidth::Sixteen] {
            let push = encode_mms_push(i as u8, &ni);
            let reference = match width {
                ReferenceWidth::Eight => ConcatReference::Eight(i as u8),
                ReferenceWidth::Sixteen => ConcatReference::Sixteen(1000 + i as u16),
            };
            let sms = segment_udh(&push, Ports::WAP_PUSH, reference).unwrap();
            assert!(sms.iter().all(|s| s.len() <= 140), "{name}");
            assert_eq!(sms.len(), if push.len() <= 133 { 1 } else { 2 }, "{name}");
            let mut done = None;
            for s in sms.iter().rev() {
                // every segment carries the port IE
                let ud = UserData::parse_with_header(s).unwrap();
                assert_eq!(ud.ports(), Some(Ports::WAP_PUSH));
                if let ReassemblyStatus::Complete(m) =
                    reassembler.push_user_data("+4917612345678", s, t0).unwrap()
                {
                    done = Some(m);
                }
            }
            let message = done.unwrap_or_else(|| panic!("{name} never completed"));
            assert_eq!(message.datagram.as_ref(), push.as_slice());
            let decoded = message.push().unwrap();
            assert_eq!(decoded.transaction_id, i as u8);
            assert!(decoded.content_type.is_mms());
            assert_eq!(decoded.application_id, Some(ApplicationId::MMS_UA));
            assert_eq!(decoded.body.as_ref(), ni.as_slice(), "{name}");
        }
    }
    assert_eq!(reassembler.pending(), 0);
}

#[test]
fn ni_272_in_sar_mode_is_140_plus_36_without_udh() {
    let ni = vector("ofono-mmsd/ni-mms-1-3-con-272.mms");
    let push = encode_mms_push(1, &ni);
    let segs = segment_sar(&push, 0x0102).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].payload.len(), 140);
    assert_eq!(&segs[0].payload[..6], &PUSH_HEADER);
    assert_eq!(segs[1].payload.as_ref(), &ni[134..]);
    let sar = segs[1].sar.unwrap();
    assert_eq!((sar.reference, sar.total, sar.sequence), (0x0102, 2, 2));

    let mut r = Reassembler::new(Duration::from_secs(60), 4);
    let now = Instant::now();
    r.push_sar(
        "+1",
        Some(Ports::WAP_PUSH),
        segs[1].sar,
        &segs[1].payload,
        now,
    )
    .unwrap();
    let ReassemblyStatus::Complete(m) = r
        .push_sar(
            "+1",
            Some(Ports::WAP_PUSH),
            segs[0].sar,
            &segs[0].payload,
            now,
        )
        .unwrap()
    else {
        panic!("SAR message not complete");
    };
    assert_eq!(m.push().unwrap().body.as_ref(), ni.as_slice());
}

proptest! {
    #[test]
    fn udh_segments_reassemble_in_any_order(
        datagram in proptest::collection::vec(any::<u8>(), 0..3000),
        sixteen in any::<bool>(),
        reference in any::<u16>(),
        seed in any::<u64>(),
    ) {
        let reference = if sixteen {
            ConcatReference::Sixteen(reference)
        } else {
            ConcatReference::Eight(reference as u8)
        };
        let mut sms = segment_udh(&datagram, Ports::WAP_PUSH, reference).unwrap();
        prop_assert!(sms.iter().all(|s| s.len() <= 140));
        // deterministic shuffle from the seed, plus one duplicate when concatenated (a lone
        // SMS has no reference to recognise a duplicate by)
        let n = sms.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize;
            sms.swap(i, j);
        }
        if n > 1 { let first = sms[0].clone(); sms.insert(n / 2, first); }
        let mut r = Reassembler::new(Duration::from_secs(60), 4);
        let now = Instant::now();
        let mut complete = Vec::new();
        for s in &sms {
            if let ReassemblyStatus::Complete(m) = r.push_user_data("x", s, now).unwrap() {
                complete.push(m);
            }
        }
        prop_assert_eq!(complete.len(), 1);
        prop_assert_eq!(complete[0].datagram.as_ref(), datagram.as_slice());
    }

    #[test]
    fn sar_segments_reassemble(
        datagram in proptest::collection::vec(any::<u8>(), 0..3000),
        reference in any::<u16>(),
    ) {
        let segs: Vec<SarSegment> = segment_sar(&datagram, reference).unwrap();
        let mut r = Reassembler::new(Duration::from_secs(60), 4);
        let now = Instant::now();
        let mut out = None;
        for s in segs.iter().rev() {
            if let ReassemblyStatus::Complete(m) = r.push_sar("x", None, s.sar, &s.payload, now).unwrap() {
                out = Some(m);
            }
        }
        let out = out.unwrap();
        prop_assert_eq!(out.datagram.as_ref(), datagram.as_slice());
    }

    #[test]
    fn push_round_trips(tid in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..500)) {
        let p = decode_push(&encode_mms_push(tid, &body)).unwrap();
        prop_assert_eq!(p.transaction_id, tid);
        prop_assert_eq!(p.body.as_ref(), body.as_slice());
        prop_assert_eq!(p.application_id, Some(ApplicationId::MMS_UA));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_push(&data);
        let _ = UserData::parse_with_header(&data);
        let mut r = Reassembler::new(Duration::from_secs(1), 2);
        let _ = r.push_user_data("x", &data, Instant::now());
    }
}
