//! Fuzz target: MMS PDU decoding never panics, and whatever decodes round-trips
//! (decode → encode → decode gives the same PDU).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mms_pdu::Pdu;

fuzz_target!(|data: &[u8]| {
    if let Ok(pdu) = Pdu::decode_slice(data) {
        let again = Pdu::decode_slice(&pdu.encode()).expect("re-encoded PDU must decode");
        assert_eq!(again, pdu, "round trip changed the PDU");
    }
});
