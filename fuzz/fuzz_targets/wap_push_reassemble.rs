//! Fuzz the WAP push receive path against a model: arbitrary SMS user data never panics the
//! reassembler or the WSP push decoder, and any datagram cut by `segment_udh` / `segment_sar`
//! comes back unchanged whatever order the segments arrive in.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use wap_push::{
    ConcatReference, Ports, Reassembler, ReassemblyStatus, decode_push, segment_sar, segment_udh,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut r = Reassembler::new(Duration::from_secs(30), 8);
    match mode % 3 {
        // arbitrary segments: [len][user data]...
        0 => {
            let mut rest = rest;
            let mut t = now;
            while let Some((&len, tail)) = rest.split_first() {
                let n = usize::from(len).min(tail.len());
                let (ud, next) = tail.split_at(n);
                if let Ok(ReassemblyStatus::Complete(m)) = r.push_user_data("x", ud, t) {
                    let _ = m.push();
                }
                rest = next;
                t += Duration::from_secs(u64::from(len % 16));
                let _ = r.expire(t);
            }
            let _ = decode_push(data);
        }
        // model: UDH segmentation round trip, segments reversed
        1 => {
            let reference = match rest.first() {
                Some(&b) if b & 1 == 1 => ConcatReference::Sixteen(u16::from(b) << 8 | 0x5A),
                Some(&b) => ConcatReference::Eight(b),
                None => ConcatReference::Eight(0),
            };
            let Ok(segments) = segment_udh(rest, Ports::WAP_PUSH, reference) else {
                return;
            };
            let mut out = None;
            for s in segments.iter().rev() {
                assert!(s.len() <= 140);
                if let ReassemblyStatus::Complete(m) = r.push_user_data("x", s, now).unwrap() {
                    out = Some(m.datagram);
                }
            }
            assert_eq!(out.unwrap().as_ref(), rest);
        }
        // model: SAR round trip
        _ => {
            let Ok(segments) = segment_sar(rest, 0x0102) else {
                return;
            };
            let mut out = None;
            for s in segments.iter().rev() {
                if let ReassemblyStatus::Complete(m) =
                    r.push_sar("x", None, s.sar, &s.payload, now).unwrap()
                {
                    out = Some(m.datagram);
                }
            }
            assert_eq!(out.unwrap().as_ref(), rest);
        }
    }
});
