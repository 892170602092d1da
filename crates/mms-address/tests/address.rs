//! Property tests of the address codec (DESIGN.md §2): canonical `Display` parses back to the
//! same value, and the MM4 encoding (TS 23.140 §8.4.1) is exactly inverted by `from_mm4`.

use mms_address::{Address, E164, NaptrRegexp, SipUri, UserDefinedAddress};
use proptest::prelude::*;

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4).prop_map(|l| l.join(".")),
        1 => any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        1 => any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    let sip = ("\\PC{1,16}", host(), any::<bool>())
        .prop_map(|(user, host, secure)| Address::Sip(SipUri::new(&user, &host, secure).unwrap()));
    let tel = "[1-9][0-9]{0,14}".prop_map(|d| Address::Tel(E164::from_digits(&d).unwrap()));
    let dot_atom = proptest::collection::vec("[a-zA-Z0-9!#$%&'*+=?^_`{|}~-]{1,6}", 1..4)
        .prop_map(|a| a.join("."));
    let quoted = "[a-zA-Z0-9 @.,]{1,10}".prop_map(|q| format!("\"{q}\""));
    let email = (prop_oneof![3 => dot_atom, 1 => quoted], host())
        .prop_map(|(local, host)| Address::parse(&format!("{local}@{host}")).unwrap());
    let v4 = any::<[u8; 4]>().prop_map(|o| Address::Ipv4(o.into()));
    let v6 = any::<[u16; 8]>().prop_map(|s| Address::Ipv6(s.into()));
    let short = "[0-9]{1,6}".prop_map(|d| Address::parse(&format!("{d}/TYPE=PLMN")).unwrap());
    let user_defined =
        ("[A-Za-z0-9_]{1,8}", "\\PC{1,16}").prop_filter_map("interpreted type", |(t, v)| {
            UserDefinedAddress::new(&t, &v)
                .ok()
                .map(Address::UserDefined)
        });
    prop_oneof![sip, tel, email, v4, v6, short, user_defined]
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_address(a in address()) {
        let text = a.to_string();
        prop_assert_eq!(Address::parse(&text).unwrap(), a, "{}", text);
    }

    #[test]
    fn mms_enc_form_parses_back_to_the_same_address(a in address()) {
        let text = a.to_mms_enc();
        prop_assert_eq!(Address::parse(&text).unwrap(), a, "{}", text);
    }

    #[test]
    fn mm4_encoding_round_trips_ts23140_8_4_1(a in address(), domain in host().prop_filter("domain", |h| !h.starts_with('['))) {
        let mm4 = a.to_mm4(&domain).unwrap();
        let local = mm4.rsplit_once('@').unwrap().0;
        if !matches!(a, Address::Email(_)) {
            // a dot-atom local part (RFC 5322 §3.2.3)
            prop_assert!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."), "{}", mm4);
            prop_assert!(local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)), "{}", mm4);
        }
        let (back, back_domain) = Address::from_mm4(&mm4).unwrap();
        let expected_domain = match &a {
            Address::Email(e) => e.domain().to_owned(),
            _ => domain.to_ascii_lowercase(),
        };
        prop_assert_eq!(back, a);
        prop_assert_eq!(back_domain, expected_domain);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in "\\PC{0,64}") {
        let _ = Address::parse(&s);
        let _ = Address::from_mm4(&s);
        let _ = NaptrRegexp::parse(&s).map(|r| r.apply("+4917612345678"));
    }

    #[test]
    fn enum_domain_has_one_label_per_digit(d in "[1-9][0-9]{0,14}") {
        let n = E164::from_digits(&d).unwrap();
        let name = n.enum_domain("e164.arpa");
        let labels: Vec<&str> = name.split('.').collect();
        prop_assert_eq!(labels.len(), d.len() + 2);
        let reversed: String = labels[..d.len()].iter().rev().copied().collect();
        prop_assert_eq!(reversed, d);
    }
}
