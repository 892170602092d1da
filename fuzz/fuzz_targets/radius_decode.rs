//! RADIUS (RFC 2865 §3) decoder: never panics; whatever decodes re-encodes to the same packet
//! (round trip against the decoded model), and the authenticator check never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = radius::verify_accounting_request(data, b"secret");
    if let Ok(packet) = radius::Packet::decode(data) {
        let raw = packet.encode().expect("a decoded packet re-encodes");
        assert_eq!(radius::Packet::decode(&raw).expect("re-decodes"), packet);
        let _ = packet.acct_status_type();
        let _ = packet.framed_ipv6_prefix();
        let _ = packet.calling_station_id();
        let _ = radius::AccountingEvent::from_request(&packet, std::net::Ipv4Addr::LOCALHOST.into());
    }
});
