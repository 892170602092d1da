//! Fuzz the SMPP 3.4 stream decoder: arbitrary bytes never panic it; every PDU it accepts
//! re-encodes and decodes to the same value (error responses, sent without body, excepted);
//! and the ESME session state machine swallows whatever the decoder yields.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use smpp::session::{Session, SessionConfig};
use smpp::{CommandStatus, decode_frame};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut session = Session::new(SessionConfig::default(), now);
    session.on_timeout(now);
    session.on_connected(now);
    let mut buf = data;
    loop {
        match decode_frame(buf) {
            Ok(Some((pdu, used))) => {
                assert!(used >= 16 && used <= buf.len());
                let bytes = pdu.to_bytes().expect("a decoded PDU re-encodes");
                let (again, n) = decode_frame(&bytes).unwrap().unwrap();
                assert_eq!(n, bytes.len());
                let is_response = pdu.body.command_id() & 0x8000_0000 != 0;
                if !is_response || pdu.status == CommandStatus::Ok {
                    assert_eq!(again, pdu);
                }
                session.on_pdu(pdu, now);
                buf = &buf[used..];
            }
            Ok(None) => break,
            Err(e) => {
                session.on_decode_error(&e, now);
                match e.skip_len() {
                    Some(n) => buf = &buf[n..],
                    None => break,
                }
            }
        }
        while session.poll_action().is_some() {}
    }
});
