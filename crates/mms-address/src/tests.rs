//! Unit tests of the address grammar, one per form of DESIGN.md §2.

use super::*;

fn parse(s: &str) -> Address {
    Address::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn tel(n: &str) -> Address {
    Address::Tel(E164::parse(n).unwrap())
}

fn sip(user: &str, host: &str) -> Address {
    Address::Sip(SipUri::new(user, host, false).unwrap())
}

#[test]
fn sip_uri_drops_params_port_password_and_lowercases_host_rfc3261_19_1() {
    assert_eq!(parse("sip:bob@b.example"), sip("bob", "b.example"));
    assert_eq!(
        parse("SIP:bob:secret@B.Example:5060;transport=tcp?subject=hi"),
        sip("bob", "b.example")
    );
    assert_eq!(
        parse("sips:bob@b.example").to_string(),
        "sips:bob@b.example"
    );
    assert_eq!(
        parse("sip:bob@[2001:DB8::1]:5061"),
        sip("bob", "[2001:db8::1]")
    );
    assert_eq!(parse("sip:bob@192.0.2.1"), sip("bob", "192.0.2.1"));
}

#[test]
fn name_addr_with_display_name_and_angle_brackets_rfc3261_20_10() {
    assert_eq!(parse("<sip:bob@b.example>"), sip("bob", "b.example"));
    assert_eq!(
        parse("\"Bob \\\"B\\\" <x>\" <sip:bob@b.example>;tag=1"),
        sip("bob", "b.example")
    );
    assert_eq!(
        parse("Bob Smith <sip:bob@b.example>"),
        sip("bob", "b.example")
    );
    assert_eq!(parse("Bob <bob@b.example>").to_string(), "bob@b.example");
    assert_eq!(
        Address::parse("<sip:bob@b.example"),
        Err(AddressError::NameAddr("'<' without '>'"))
    );
    assert_eq!(
        Address::parse("\"Bob <sip:bob@b.example>"),
        Err(AddressError::UnterminatedQuote)
    );
    assert!(matches!(
        Address::parse("<sip:bob@b.example> junk"),
        Err(AddressError::NameAddr(_))
    ));
}

#[test]
fn sip_user_percent_escapes_are_decoded_and_reencoded_rfc3261_19_1_2() {
    let a = parse("sip:b%6Fb%20x@b.example");
    assert_eq!(a, sip("bob x", "b.example"));
    assert_eq!(a.to_string(), "sip:bob%20x@b.example");
    assert_eq!(
        Address::parse("sip:b%zzb@b.example"),
        Err(AddressError::BadEscape)
    );
}

#[test]
fn sip_user_phone_is_a_telephone_number_rfc3261_19_1_6() {
    assert_eq!(
        parse("sip:+4917612345678@b.example;user=phone"),
        tel("+4917612345678")
    );
    assert_eq!(
        parse("sip:+49-176-1234-5678@b.example;USER=Phone"),
        tel("+4917612345678")
    );
    assert_eq!(
        parse("sip:7777;phone-context=+4917@b.example;user=phone"),
        tel("+49177777")
    );
    // without user=phone a number-looking user stays a SIP user (RFC 3261 §19.1.6)
    assert_eq!(
        parse("sip:+4917612345678@b.example"),
        sip("+4917612345678", "b.example")
    );
}

#[test]
fn tel_uri_visual_separators_are_dropped_rfc3966_5_1_1() {
    assert_eq!(parse("tel:+49-176-1234-5678"), tel("+4917612345678"));
    assert_eq!(
        parse("tel:+49.(176).1234 5678;ext=12"),
        tel("+4917612345678")
    );
    assert_eq!(
        parse("TEL:+4917612345678").to_string(),
        "tel:+4917612345678"
    );
}

#[test]
fn tel_local_number_uses_numeric_phone_context_rfc3966_5_1_5() {
    assert_eq!(parse("tel:7777;phone-context=+4917"), tel("+49177777"));
    assert_eq!(parse("tel:77-77;phone-context=+49-17"), tel("+49177777"));
}

#[test]
fn tel_local_number_uses_configured_country_code_else_fails() {
    let opts = ParseOptions::with_country_code("49");
    assert_eq!(
        Address::parse_with("tel:017612345678", &opts).unwrap(),
        tel("+4917612345678")
    );
    assert_eq!(
        Address::parse_with("tel:0176-12345678;phone-context=example.com", &opts).unwrap(),
        tel("+4917612345678")
    );
    assert_eq!(
        Address::parse("tel:017612345678"),
        Err(AddressError::LocalNumberWithoutContext(
            "017612345678".into()
        ))
    );
}

#[test]
fn short_local_number_without_context_is_a_short_code() {
    let a = parse("tel:4444");
    assert!(matches!(&a, Address::ShortCode(c) if c.as_str() == "4444"));
    assert_eq!(a.to_string(), "4444/TYPE=PLMN");
    assert_eq!(parse("4444/TYPE=PLMN"), a);
}

#[test]
fn tel_rejects_what_is_not_a_number_rfc3966_3() {
    assert_eq!(
        Address::parse("tel:+49*12"),
        Err(AddressError::BadPhoneChar('*'))
    );
    assert_eq!(
        Address::parse("tel:+"),
        Err(AddressError::Number(NumberError::NoDigits))
    );
    assert_eq!(
        Address::parse("tel:+1234567890123456"),
        Err(AddressError::Number(NumberError::TooLong(16)))
    );
}

#[test]
fn mms_enc_plmn_ipv4_ipv6_forms_mms_enc_8() {
    assert_eq!(parse("+4917612345678/TYPE=PLMN"), tel("+4917612345678"));
    assert_eq!(parse("+49-176-12345678/type=plmn"), tel("+4917612345678"));
    assert_eq!(
        parse("192.0.2.7/TYPE=IPv4"),
        Address::Ipv4("192.0.2.7".parse().unwrap())
    );
    assert_eq!(
        parse("2001:db8::7/TYPE=IPv6"),
        Address::Ipv6("2001:db8::7".parse().unwrap())
    );
    assert_eq!(parse("fe80::1/TYPE=IPV6").to_string(), "fe80::1/TYPE=IPv6");
    assert_eq!(
        Address::parse("1.2.3/TYPE=IPv4"),
        Err(AddressError::BadIpv4("1.2.3".into()))
    );
    assert_eq!(Address::parse("/TYPE=PLMN"), Err(AddressError::EmptyValue));
}

#[test]
fn mms_enc_escaped_sip_value_is_a_sip_uri() {
    assert_eq!(
        parse("sip%3Abob%40b.example/TYPE=SIP"),
        sip("bob", "b.example")
    );
    assert_eq!(parse("bob%40b.example/TYPE=SIP"), sip("bob", "b.example"));
    assert_eq!(
        parse("sip%3A%2B4917612345678%40b.example%3Buser%3Dphone/TYPE=SIP"),
        tel("+4917612345678")
    );
}

#[test]
fn mms_enc_user_defined_type_is_kept_escaped() {
    let a = parse("x%3Ay%40z/TYPE=IMPI_X");
    let Address::UserDefined(u) = &a else {
        panic!("{a:?}")
    };
    assert_eq!((u.type_name(), u.value()), ("IMPI_X", "x:y@z"));
    assert_eq!(a.to_string(), "x%3Ay%40z/TYPE=IMPI_X");
}

#[test]
fn email_mailbox_and_mailto_rfc5322_3_4_1() {
    let a = parse("Bob.Smith@B.Example");
    assert_eq!(a.to_string(), "Bob.Smith@b.example");
    assert_eq!(parse("mailto:Bob%2ESmith@b.example?subject=hi"), a);
    assert_eq!(
        Address::parse("mailto:bob%40x@b.example"),
        Err(AddressError::BadLocalPart("bob@x".into()))
    );
    assert_eq!(
        parse("\"bob smith\"@b.example").to_string(),
        "\"bob smith\"@b.example"
    );
    assert_eq!(
        Address::parse("bob..x@b.example"),
        Err(AddressError::BadLocalPart("bob..x".into()))
    );
    assert_eq!(
        Address::parse("bob@-b.example"),
        Err(AddressError::BadHost("-b.example".into()))
    );
}

#[test]
fn mailto_with_mm4_plmn_local_part_is_an_email_naming_the_mmse() {
    let a = parse("mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs");
    let Address::Email(e) = &a else {
        panic!("{a:?}")
    };
    assert_eq!(e.domain(), "mms.mnc002.mcc262.gprs");
    let (inner, domain) = Address::from_mm4(&e.to_string()).unwrap();
    assert_eq!(
        (inner, domain.as_str()),
        (tel("+4917612345678"), "mms.mnc002.mcc262.gprs")
    );
}

#[test]
fn unknown_schemes_and_garbage_are_refused() {
    assert_eq!(
        Address::parse("http://b.example/"),
        Err(AddressError::UnsupportedScheme("http".into()))
    );
    assert_eq!(
        Address::parse("im:bob@b.example"),
        Err(AddressError::UnsupportedScheme("im".into()))
    );
    assert_eq!(Address::parse("   "), Err(AddressError::Empty));
    assert_eq!(
        Address::parse("hello"),
        Err(AddressError::Unrecognised("hello".into()))
    );
    assert_eq!(
        Address::parse("sip:b.example"),
        Err(AddressError::MissingUser)
    );
    assert_eq!(
        Address::parse(&"a".repeat(MAX_ADDRESS_LEN + 1)),
        Err(AddressError::TooLong)
    );
}

#[test]
fn mm4_encoding_of_plmn_and_sip_ts23140_8_4_1() {
    assert_eq!(
        tel("+4917612345678")
            .to_mm4("mms.mnc002.mcc262.gprs")
            .unwrap(),
        "+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs"
    );
    assert_eq!(
        sip("bob", "b.example").to_mm4("MMS.b.example").unwrap(),
        "sip%3Abob%40b.example/TYPE=SIP@mms.b.example"
    );
    let (a, d) = Address::from_mm4("<sip%3Abob%40b.example/TYPE=SIP@mms.b.example>").unwrap();
    assert_eq!((a, d.as_str()), (sip("bob", "b.example"), "mms.b.example"));
    assert_eq!(
        Address::from_mm4("bob"),
        Err(Mm4AddressError::MissingDomain)
    );
    assert!(matches!(
        sip("bob", "b.example").to_mm4("bad domain"),
        Err(Mm4AddressError::Domain(_))
    ));
    assert!(matches!(
        Address::from_mm4("%zz/TYPE=SIP@d.example"),
        Err(Mm4AddressError::LocalPart(AddressError::BadEscape))
    ));
}

#[test]
fn mm4_local_part_is_a_dot_atom_even_for_odd_users() {
    let a = sip("a..b.", "b.example");
    let mm4 = a.to_mm4("mms.b.example").unwrap();
    let local = mm4.rsplit_once('@').unwrap().0;
    assert!(!local.contains("..") && !local.starts_with('.'), "{local}");
    assert_eq!(Address::from_mm4(&mm4).unwrap().0, a);
}
