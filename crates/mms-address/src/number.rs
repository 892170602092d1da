//! E.164 numbers (ITU-T E.164) and MSISDNs (3GPP TS 23.003 §3.3), and ENUM domain names (RFC 6116 §2.4).

use std::fmt;
use std::str::FromStr;

/// Longest E.164 number: 15 digits (ITU-T E.164 §6.1).
pub const E164_MAX_DIGITS: usize = 15;

/// Why a string is not an E.164 number or an MSISDN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// The number has no digits at all.
    #[error("the number has no digits")]
    NoDigits,
    /// An E.164 number in international form must start with `+` (RFC 3966 §5.1.4).
    #[error("a global number must start with '+'")]
    MissingPlus,
    /// A character other than a digit.
    #[error("{0:?} is not a digit")]
    NotADigit(char),
    /// More than 15 digits (ITU-T E.164 §6.1).
    #[error("{0} digits is longer than the 15 E.164 allows")]
    TooLong(usize),
    /// Country codes never start with 0 (ITU-T E.164 §6.2.1).
    #[error("a country code cannot start with 0")]
    LeadingZero,
}

fn check_digits(digits: &str) -> Result<(), NumberError> {
    if digits.is_empty() {
        return Err(NumberError::NoDigits);
    }
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(NumberError::NotADigit(c));
    }
    if digits.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong(digits.len()));
    }
    if digits.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    Ok(())
}

/// An international E.164 number, stored as `+` followed by 1 to 15 digits, the first not 0
/// (ITU-T E.164 §6; RFC 3966 global-number-digits without visual separators).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// Parses `+` and digits, exactly (no visual separators; use [`crate::Address::parse`] for
    /// the forms a user writes).
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        let digits = s.strip_prefix('+').ok_or(NumberError::MissingPlus)?;
        Self::from_digits(digits)
    }

    /// Builds a number from its digits without `+` (country code first).
    pub fn from_digits(digits: &str) -> Result<Self, NumberError> {
        check_digits(digits)?;
        Ok(Self(format!("+{digits}")))
    }

    /// The number with its leading `+`, e.g. `+4917612345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, e.g. `4917612345678`.
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }

    /// The ENUM domain of this number under `suffix` (RFC 6116 §2.4): the digits reversed,
    /// dot-separated, then the suffix, e.g. `8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa`.
    /// Leading and trailing dots of the suffix are ignored; an empty suffix gives the digits alone.
    pub fn enum_domain(&self, suffix: &str) -> String {
        let suffix = suffix.trim_matches('.');
        let mut out = String::with_capacity(self.digits().len() * 2 + suffix.len());
        for (i, d) in self.digits().chars().rev().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push(d);
        }
        if !suffix.is_empty() {
            out.push('.');
            out.push_str(suffix);
        }
        out
    }

    /// Whether the number starts with the digits of `prefix` (a number range such as `4917`
    /// or `+4917`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.digits().starts_with(prefix.trim_start_matches('+'))
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for E164 {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Msisdn> for E164 {
    fn from(m: Msisdn) -> Self {
        Self(format!("+{}", m.0))
    }
}

/// An MSISDN: the E.164 digits of a subscriber without `+` (3GPP TS 23.003 §3.3), as carried
/// in Sh `<MSISDN>` and SMPP addresses with TON 1 / NPI 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses 1 to 15 digits, the first not 0, with no `+`.
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        check_digits(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The digits, e.g. `4917612345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Msisdn {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<E164> for Msisdn {
    fn from(e: E164) -> Self {
        Self(e.digits().to_owned())
    }
}

impl From<&E164> for Msisdn {
    fn from(e: &E164) -> Self {
        Self(e.digits().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_domain_reverses_digits_rfc6116_2_4() {
        let n = E164::parse("+4917612345678").unwrap();
        assert_eq!(
            n.enum_domain("e164.arpa"),
            "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa"
        );
        assert_eq!(
            n.enum_domain("e164.arpa."),
            "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa"
        );
        assert_eq!(
            n.enum_domain("e164.carrier.example"),
            "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.carrier.example"
        );
    }

    #[test]
    fn e164_rejects_what_itu_e164_forbids() {
        assert_eq!(E164::parse("4917"), Err(NumberError::MissingPlus));
        assert_eq!(E164::parse("+"), Err(NumberError::NoDigits));
        assert_eq!(E164::parse("+0917"), Err(NumberError::LeadingZero));
        assert_eq!(E164::parse("+49a"), Err(NumberError::NotADigit('a')));
        assert_eq!(
            E164::parse("+1234567890123456"),
            Err(NumberError::TooLong(16))
        );
        assert!(E164::parse("+123456789012345").is_ok());
    }

    #[test]
    fn msisdn_is_e164_without_plus_ts23003_3_3() {
        let e = E164::parse("+4917612345678").unwrap();
        let m = Msisdn::from(&e);
        assert_eq!(m.as_str(), "4917612345678");
        assert_eq!(E164::from(m), e);
        assert_eq!(Msisdn::parse("+49"), Err(NumberError::NotADigit('+')));
    }

    #[test]
    fn prefix_match_ignores_plus() {
        let e = E164::parse("+4917612345678").unwrap();
        assert!(e.has_prefix("+4917"));
        assert!(e.has_prefix("4917"));
        assert!(!e.has_prefix("4915"));
    }
}
