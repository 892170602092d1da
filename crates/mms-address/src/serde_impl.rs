//! Serde support: every address type (de)serializes as its canonical text, so configuration
//! files and JSON carry `"sip:bob@b.example"`, `"+4917612345678"`, `"4917612345678"`.

use crate::{Address, E164, Msisdn};
use serde::de::{Deserialize, Deserializer, Error};
use serde::ser::{Serialize, Serializer};

macro_rules! via_text {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                <$ty>::parse(&text).map_err(D::Error::custom)
            }
        }
    };
}

via_text!(Address);
via_text!(E164);
via_text!(Msisdn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_serialize_as_canonical_text() {
        let a = Address::parse("<sip:Bob@B.example;transport=tcp>").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"sip:Bob@b.example\"");
        assert_eq!(
            serde_json::from_str::<Address>("\"tel:+49-176\"").unwrap(),
            Address::parse("tel:+49176").unwrap()
        );
        assert!(serde_json::from_str::<E164>("\"4917\"").is_err());
        assert_eq!(
            serde_json::to_string(&Msisdn::parse("4917").unwrap()).unwrap(),
            "\"4917\""
        );
    }
}
