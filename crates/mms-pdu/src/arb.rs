//! proptest strategies for every value type (tests only).

use crate::content::{Body, ContentType, MediaType, ParamName, ParamValue, Parameter, Part};
use crate::header::Header;
use crate::pdu::Content;
use crate::values::*;
use bytes::Bytes;
use proptest::prelude::*;

/// A strategy for one field type.
pub(crate) trait Arb: Sized {
    fn arb() -> BoxedStrategy<Self>;
}

fn text() -> impl Strategy<Value = String> {
    "[^\\x00]{0,12}"
}

fn non_nul_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 0..16).prop_map(Bytes::from)
}

impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        text().boxed()
    }
}

impl Arb for u64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<u64>().boxed()
    }
}

impl Arb for u8 {
    fn arb() -> BoxedStrategy<Self> {
        (0x80u8..=0xFF).boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

macro_rules! arb_octet {
    ($($t:ident),*) => {$(
        impl Arb for $t {
            fn arb() -> BoxedStrategy<Self> {
                (0x80u8..=0xFF).prop_map($t).boxed()
            }
        }
    )*};
}

arb_octet!(
    Priority,
    ResponseStatus,
    RetrieveStatus,
    Status,
    ReadStatus,
    SenderVisibility,
    ReplyCharging,
    MmState,
    StoreStatus,
    RetrievalMode,
    ContentClass,
    CancelStatus
);

impl Arb for MmsVersion {
    fn arb() -> BoxedStrategy<Self> {
        (0u8..=7, 0u8..=15)
            .prop_map(|(major, minor)| MmsVersion { major, minor })
            .boxed()
    }
}

impl Arb for EncodedString {
    fn arb() -> BoxedStrategy<Self> {
        let charset = prop_oneof![
            Just(None),
            Just(Some(Charset::UTF_8)),
            Just(Some(Charset::US_ASCII)),
            Just(Some(Charset::ISO_8859_1)),
            Just(Some(Charset::UTF_16)),
            (0u32..100_000).prop_map(|c| Some(Charset(c))),
        ];
        (charset, non_nul_bytes())
            .prop_map(|(charset, bytes)| EncodedString { charset, bytes })
            .boxed()
    }
}

impl Arb for FromAddress {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(FromAddress::InsertAddressToken),
            EncodedString::arb().prop_map(FromAddress::Present)
        ]
        .boxed()
    }
}

impl Arb for TimeSpec {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            any::<u64>().prop_map(TimeSpec::Absolute),
            any::<u64>().prop_map(TimeSpec::Relative)
        ]
        .boxed()
    }
}

impl Arb for MessageClass {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(MessageClass::Personal),
            Just(MessageClass::Advertisement),
            Just(MessageClass::Informational),
            Just(MessageClass::Auto),
            text().prop_map(MessageClass::Token),
        ]
        .boxed()
    }
}

impl Arb for PreviouslySentBy {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u64>(), EncodedString::arb())
            .prop_map(|(counter, address)| PreviouslySentBy { counter, address })
            .boxed()
    }
}

impl Arb for PreviouslySentDate {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u64>(), any::<u64>())
            .prop_map(|(counter, date)| PreviouslySentDate { counter, date })
            .boxed()
    }
}

impl Arb for MmFlag {
    fn arb() -> BoxedStrategy<Self> {
        (0x80u8..=0xFF, EncodedString::arb())
            .prop_map(|(token, flag)| MmFlag { token, flag })
            .boxed()
    }
}

impl Arb for MboxCount {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            any::<u64>().prop_map(MboxCount::Messages),
            any::<u64>().prop_map(MboxCount::Bytes)
        ]
        .boxed()
    }
}

/// Raw values in each general form (WAP-230 §8.4.1.2).
fn raw_value_bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        (0x80u8..=0xFF).prop_map(|b| Bytes::from(vec![b])),
        "[a-z][^\\x00]{0,8}".prop_map(|t| {
            let mut v = t.into_bytes();
            v.push(0);
            Bytes::from(v)
        }),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|d| {
            let mut v = Vec::new();
            crate::wsp::put_value_length(&mut v, d.len());
            v.extend_from_slice(&d);
            Bytes::from(v)
        }),
    ]
}

impl Arb for RawValue {
    fn arb() -> BoxedStrategy<Self> {
        raw_value_bytes().prop_map(RawValue).boxed()
    }
}

/// Extra PDU-level headers: application headers and unassigned well-known codes (0x40–0x7F),
/// which no PDU type claims as a field.
pub(crate) fn extra() -> BoxedStrategy<Vec<Header>> {
    let header = prop_oneof![
        ("[^\\x00]{0,8}", text()).prop_map(|(n, v)| Header::text(&n, &v)),
        (0x40u8..=0x7F, raw_value_bytes()).prop_map(|(c, v)| Header::well_known(c, v)),
    ];
    proptest::collection::vec(header, 0..3).boxed()
}

fn param() -> impl Strategy<Value = Parameter> {
    let name = prop_oneof![
        (1u8..=0x7F).prop_map(ParamName::WellKnown),
        text().prop_map(ParamName::Token)
    ];
    let value = prop_oneof![
        any::<u64>().prop_map(ParamValue::Integer),
        text().prop_map(ParamValue::Text),
        text().prop_map(ParamValue::Quoted),
        Just(ParamValue::None),
    ];
    let q = (0u64..16384).prop_map(|q| Parameter {
        name: ParamName::WellKnown(0),
        value: ParamValue::Integer(q),
    });
    prop_oneof![9 => (name, value).prop_map(|(name, value)| Parameter { name, value }), 1 => q]
}

fn media(multipart: bool) -> BoxedStrategy<MediaType> {
    if multipart {
        prop_oneof![
            prop::sample::select(vec![0x22u32, 0x23, 0x24, 0x25, 0x26, 0x33])
                .prop_map(MediaType::WellKnown),
            "application/vnd\\.wap\\.multipart\\.[a-z]{1,8}".prop_map(MediaType::Text),
        ]
        .boxed()
    } else {
        prop_oneof![
            (0u32..=0x21).prop_map(MediaType::WellKnown),
            (0x27u32..=0x32).prop_map(MediaType::WellKnown),
            (0x34u32..=0x52).prop_map(MediaType::WellKnown),
            (0x0201u32..=0x0210).prop_map(MediaType::WellKnown),
            "(image|text|audio|video)/[a-z0-9.+-]{1,10}".prop_map(MediaType::Text),
        ]
        .boxed()
    }
}

fn content_type(multipart: bool) -> impl Strategy<Value = ContentType> {
    (media(multipart), proptest::collection::vec(param(), 0..3))
        .prop_map(|(media, params)| ContentType { media, params })
}

fn part() -> impl Strategy<Value = Part> {
    let header = prop_oneof![
        ("[^\\x00]{0,8}", text()).prop_map(|(n, v)| Header::text(&n, &v)),
        (0u8..=0x7F)
            .prop_filter("Content-ID and Content-Location are fields", |c| *c != 0x0E
                && *c != 0x40)
            .prop_flat_map(|c| raw_value_bytes().prop_map(move |v| Header::well_known(c, v))),
    ];
    (
        prop_oneof![content_type(false), content_type(true)],
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(header, 0..3),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(content_type, content_id, content_location, headers, data)| Part {
                content_type,
                content_id,
                content_location,
                headers,
                data: Bytes::from(data),
            },
        )
}

/// A Content-Type with a body that fits it (parts for multipart types, else a single body).
pub(crate) fn content() -> BoxedStrategy<Content> {
    prop_oneof![
        (content_type(true), proptest::collection::vec(part(), 0..4)).prop_map(
            |(content_type, parts)| Content {
                content_type,
                body: Body::Multipart(parts)
            }
        ),
        (
            content_type(false),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(content_type, b)| Content {
                content_type,
                body: Body::Single(Bytes::from(b))
            }),
    ]
    .boxed()
}
