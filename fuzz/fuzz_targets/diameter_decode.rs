//! Diameter decoding never panics, and whatever decodes re-encodes to the same message (RFC 6733 §3–§4):
//! stream framing, every AVP's typed views, grouped AVPs, and the CER/CEA, UDR/UDA and Sh-Data parsers.
#![no_main]

use diameter::Message;
use diameter::base::CapabilitiesExchange;
use diameter::sh::{ShData, UserDataAnswer, UserDataRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((message, used)) = Message::decode(rest) {
        rest = &rest[used..];
        // Model check: encode(decode(bytes)) decodes to the same message.
        let again = Message::decode(&message.to_bytes()).map(|(m, _)| m);
        assert_eq!(again.as_ref(), Ok(&message));
        for avp in &message.avps {
            let _ = avp.as_utf8();
            let _ = avp.as_unsigned32();
            let _ = avp.as_unsigned64();
            let _ = avp.as_address();
            let _ = avp.as_time();
            if let Ok(children) = avp.as_grouped() {
                for child in children {
                    let _ = child.as_grouped();
                }
            }
        }
        let _ = CapabilitiesExchange::from_message(&message);
        if let Ok(udr) = UserDataRequest::from_message(&message)
            && let Ok(rebuilt) = udr.to_message()
        {
            assert_eq!(UserDataRequest::from_message(&rebuilt).as_ref(), Ok(&udr));
        }
        let _ = UserDataAnswer::from_message(&message);
    }
    let _ = ShData::parse(data);
});
