//! MM4 decoding (TS 23.140 §8.4 over RFC 5322) never panics, and whatever decodes re-encodes to
//! the same message: decode(encode(decode(bytes))) == decode(bytes).
//!
//! Input: first octet selects a mode. Mode 0: the rest is the raw message (text before the
//! first NUL, if any, is the RCPT TO list, one address a line). Modes 1–6: a valid header block
//! of that MM4 message type is put in front of the rest, so the fuzzer starts deep inside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mm4::{Envelope, decode, encode};

const TYPES: [&str; 6] = [
    "MM4_forward.REQ",
    "MM4_forward.RES",
    "MM4_delivery_report.REQ",
    "MM4_delivery_report.RES",
    "MM4_read_reply_report.REQ",
    "MM4_read_reply_report.RES",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut envelope = Envelope::default();
    let message: Vec<u8> = match usize::from(mode % 7) {
        0 => {
            let body = match rest.iter().position(|&b| b == 0) {
                Some(at) => {
                    envelope.rcpt_to = String::from_utf8_lossy(&rest[..at])
                        .lines()
                        .map(str::to_owned)
                        .collect();
                    &rest[at + 1..]
                }
                None => rest,
            };
            body.to_vec()
        }
        n => {
            envelope.rcpt_to = vec!["+4917612345678/TYPE=PLMN@mms.b.example".into()];
            let mut m = format!(
                "X-Mms-3GPP-MMS-Version: 6.16.0\r\nX-Mms-Message-Type: {}\r\n\
                 X-Mms-Transaction-ID: t1\r\nX-Mms-Message-ID: m1\r\n\
                 Date: Tue, 10 Jun 2003 10:20:01 +0000\r\n\
                 From: +441234567890/TYPE=PLMN@mms.a.example\r\n\
                 To: sip%3Abob%40b.example/TYPE=SIP@mms.b.example\r\n\
                 X-Mms-MM-Status-Code: Retrieved\r\nX-Mms-Read-Status: Read\r\n\
                 X-Mms-Request-Status-Code: Ok\r\n",
                TYPES[n - 1]
            )
            .into_bytes();
            m.extend_from_slice(rest);
            m
        }
    };
    if let Ok(msg) = decode(&envelope, &message) {
        let (env2, bytes2) = encode(&msg);
        let again = decode(&env2, &bytes2);
        assert_eq!(again.as_ref(), Ok(&msg), "re-encoded:\n{}", String::from_utf8_lossy(&bytes2));
    }
});
