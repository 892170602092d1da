//! Fuzz the address grammar (DESIGN.md §2) against its own model: anything that parses must
//! print canonically and parse back to the same value, in every form (Display, MMS ENC, MM4);
//! MM4 decoding and NAPTR regexps must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mms_address::{Address, NaptrRegexp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(address) = Address::parse(text) {
        let canonical = address.to_string();
        assert_eq!(Address::parse(&canonical).as_ref(), Ok(&address), "display {canonical:?}");
        let enc = address.to_mms_enc();
        assert_eq!(Address::parse(&enc).as_ref(), Ok(&address), "mms enc {enc:?}");
        let mm4 = address.to_mm4("mms.b.example").expect("valid domain");
        let (back, _) = Address::from_mm4(&mm4).expect("own MM4 encoding decodes");
        if !matches!(address, Address::Email(_)) || !mm4.to_ascii_lowercase().contains("/type=") {
            assert_eq!(back, address, "mm4 {mm4:?}");
        }
    }
    let _ = Address::from_mm4(text);
    if let Ok(rule) = NaptrRegexp::parse(text) {
        let _ = rule.apply("+4917612345678");
    }
});
