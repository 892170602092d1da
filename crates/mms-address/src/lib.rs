//! Address grammar for MMS as IMS deferred messaging (DESIGN.md §2): SIP/SIPS URIs (RFC 3261
//! §19.1), tel URIs (RFC 3966), MMS ENC 1.3 addresses (§8 `/TYPE=` device addresses, e-mail),
//! E.164 numbers and MSISDNs, ENUM domain names (RFC 6116), NAPTR regexp rewriting (RFC 3402
//! §3.2), and the MM4 address encoding (TS 23.140 §8.4.1). Sans-IO: strings in, values out.
//!
//! Every form a user agent writes normalises to one [`Address`]; its `Display` is canonical and
//! parses back to the same value.
//!
//! ```
//! use mms_address::Address;
//!
//! let bob = Address::parse("\"Bob\" <sip:bob@B.example;transport=tcp>").unwrap();
//! assert_eq!(bob.to_string(), "sip:bob@b.example");
//! assert_eq!(bob.to_mm4("mms.b.example").unwrap(), "sip%3Abob%40b.example/TYPE=SIP@mms.b.example");
//!
//! let tel = Address::parse("tel:+49-176-1234-5678").unwrap();
//! assert_eq!(tel.to_mm4("mms.mnc002.mcc262.gprs").unwrap(), "+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs");
//! assert_eq!(tel.as_e164().unwrap().enum_domain("e164.arpa"), "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa");
//! assert_eq!(Address::from_mm4("+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs").unwrap().0, tel);
//! ```
#![forbid(unsafe_code)]

mod escape;
mod naptr;
mod number;
mod serde_impl;

pub use naptr::{NAPTR_REGEXP_MAX_OCTETS, NaptrError, NaptrRegexp};
pub use number::{E164, E164_MAX_DIGITS, Msisdn, NumberError};

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Longest address accepted, in bytes; longer input is refused before any parsing.
pub const MAX_ADDRESS_LEN: usize = 2048;

/// Why a string is not an address (DESIGN.md §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing but whitespace.
    #[error("the address is empty")]
    Empty,
    /// Longer than [`MAX_ADDRESS_LEN`].
    #[error("the address is longer than {MAX_ADDRESS_LEN} bytes")]
    TooLong,
    /// Not any form of DESIGN.md §2.
    #[error("{0:?} is not a SIP, tel, e-mail or MMS ENC address")]
    Unrecognised(String),
    /// A URI scheme other than sip, sips, tel, mailto.
    #[error("unsupported URI scheme {0:?}")]
    UnsupportedScheme(String),
    /// `<` without its `>`, or text after `>` that is not a parameter.
    #[error("malformed name-addr: {0}")]
    NameAddr(&'static str),
    /// A display name's quoted string has no closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// A SIP URI without a user part (`sip:b.example`): no one to deliver to.
    #[error("the SIP URI has no user part")]
    MissingUser,
    /// A host that is not a domain name, IPv4 address or bracketed IPv6 reference.
    #[error("invalid host {0:?}")]
    BadHost(String),
    /// A port that is not a number up to 65535.
    #[error("invalid port")]
    BadPort,
    /// `%` not followed by two hex digits.
    #[error("invalid percent-escape")]
    BadEscape,
    /// Percent-escapes that decode to bytes that are not UTF-8.
    #[error("escaped value is not UTF-8")]
    NotUtf8,
    /// A character that has no place in a telephone number (RFC 3966 §3).
    #[error("{0:?} is not allowed in a telephone number")]
    BadPhoneChar(char),
    /// The digits do not form an E.164 number.
    #[error("not an E.164 number: {0}")]
    Number(#[from] NumberError),
    /// A local number with neither a numeric `phone-context` nor a configured country code.
    #[error("local number {0:?} has no phone-context and no default country code is configured")]
    LocalNumberWithoutContext(String),
    /// An e-mail local part that is neither a dot-atom nor a quoted string (RFC 5322 §3.4.1).
    #[error("invalid e-mail local part {0:?}")]
    BadLocalPart(String),
    /// `/TYPE=IPv4` with a value that is not an IPv4 address.
    #[error("invalid IPv4 address {0:?}")]
    BadIpv4(String),
    /// `/TYPE=IPv6` with a value that is not an IPv6 address.
    #[error("invalid IPv6 address {0:?}")]
    BadIpv6(String),
    /// An address type that is not letters, digits and `_`, or one this crate interprets.
    #[error("invalid user-defined address type {0:?}")]
    BadTypeName(String),
    /// An MMS ENC address with an empty value before `/TYPE=`.
    #[error("empty value before /TYPE=")]
    EmptyValue,
}

/// Why a string is not an MM4 address (`<local>@<MMSE domain>`, TS 23.140 §8.4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mm4AddressError {
    /// No `@` separating the local part from the domain.
    #[error("MM4 address has no '@domain'")]
    MissingDomain,
    /// The domain is not a valid host name.
    #[error("invalid MMSE domain: {0}")]
    Domain(AddressError),
    /// The local part is not a valid address.
    #[error("invalid MM4 local part: {0}")]
    LocalPart(AddressError),
}

/// Options for the forms whose meaning depends on the relay's network (RFC 3966 §5.1.5 local
/// numbers, MMS ENC PLMN numbers without `+`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Country code (digits, e.g. `49`) for local numbers without a `phone-context`.
    pub default_country_code: Option<String>,
    /// National trunk prefix stripped from local numbers before the country code is added.
    pub national_prefix: String,
    /// Local numbers without context of at most this many digits are short codes.
    pub short_code_max_digits: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            default_country_code: None,
            national_prefix: "0".into(),
            short_code_max_digits: 6,
        }
    }
}

impl ParseOptions {
    /// Options with `cc` (digits, optional `+`) as the default country code.
    pub fn with_country_code(cc: &str) -> Self {
        Self {
            default_country_code: Some(cc.trim_start_matches('+').to_owned()),
            ..Self::default()
        }
    }
}

/// A SIP or SIPS URI reduced to what identifies a user (RFC 3261 §19.1.1): user (unescaped),
/// host (lower-case), and whether the scheme is `sips`. Password, port, parameters and
/// headers are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SipUri {
    user: String,
    host: String,
    secure: bool,
}

impl SipUri {
    /// Builds a URI from an unescaped user and a host (validated and lower-cased).
    pub fn new(user: &str, host: &str, secure: bool) -> Result<Self, AddressError> {
        if user.is_empty() {
            return Err(AddressError::MissingUser);
        }
        Ok(Self {
            user: user.to_owned(),
            host: parse_host(host)?,
            secure,
        })
    }

    /// Parses a `sip:`/`sips:` URI that is not a telephone number (see [`Address::parse`] for
    /// `user=phone` and name-addr forms).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        match Address::parse(s)? {
            Address::Sip(uri) => Ok(uri),
            _ => Err(AddressError::Unrecognised(s.to_owned())),
        }
    }

    /// The user part, unescaped.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host, lower-case (a domain, an IPv4 address or a bracketed IPv6 reference).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the scheme is `sips` (RFC 3261 §19.1).
    pub fn is_secure(&self) -> bool {
        self.secure
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut user = String::with_capacity(self.user.len());
        escape::escape_with(&self.user, escape::is_sip_user_char, &mut user);
        let scheme = if self.secure { "sips" } else { "sip" };
        write!(f, "{scheme}:{user}@{}", self.host)
    }
}

/// An RFC 5322 §3.4.1 addr-spec: local part as written (dot-atom or quoted string), domain
/// lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: String,
}

impl EmailAddress {
    /// The local part as written.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, lower-case.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// A short code (digits dialled within one network, not E.164), kept but not routable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortCode(String);

impl ShortCode {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An MMS ENC device address of a user-defined type (MMS ENC 1.3 §8: `escaped-value
/// "/TYPE=" address-type`), value unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserDefinedAddress {
    type_name: String,
    value: String,
}

impl UserDefinedAddress {
    /// Builds a user-defined address; `type_name` is letters, digits and `_`, and not one of
    /// the types this crate interprets (PLMN, IPv4, IPv6, SIP, SIPS, TEL, EMAIL).
    pub fn new(type_name: &str, value: &str) -> Result<Self, AddressError> {
        let valid = !type_name.is_empty()
            && type_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid || is_interpreted_type(type_name) {
            return Err(AddressError::BadTypeName(type_name.to_owned()));
        }
        if value.is_empty() {
            return Err(AddressError::EmptyValue);
        }
        Ok(Self {
            type_name: type_name.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The address type as written (letters, digits, `_`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The value, unescaped.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A recipient or originator address in its internal form (DESIGN.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Address {
    /// A SIP/SIPS URI naming a user (RFC 3261).
    Sip(SipUri),
    /// A telephone number: tel URI, `user=phone` SIP URI, or `/TYPE=PLMN` with `+`.
    Tel(E164),
    /// An RFC 5322 mailbox.
    Email(EmailAddress),
    /// `a.b.c.d/TYPE=IPv4`.
    Ipv4(Ipv4Addr),
    /// `x:y::z/TYPE=IPv6`.
    Ipv6(Ipv6Addr),
    /// A short code (local digits without context, at most
    /// [`ParseOptions::short_code_max_digits`]).
    ShortCode(ShortCode),
    /// `escaped-value/TYPE=<user-defined type>`.
    UserDefined(UserDefinedAddress),
}

impl Address {
    /// Parses any form of DESIGN.md §2 with default [`ParseOptions`].
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        Self::parse_with(s, &ParseOptions::default())
    }

    /// Parses any form of DESIGN.md §2: SIP/SIPS/tel/mailto URIs, optionally as name-addr
    /// (`"Bob" <sip:bob@b.example>`), MMS ENC `/TYPE=` addresses, bare mailboxes and numbers.
    pub fn parse_with(s: &str, opts: &ParseOptions) -> Result<Self, AddressError> {
        if s.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong);
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(inner) = name_addr_inner(s)? {
            return Self::parse_bare(inner.trim(), opts);
        }
        Self::parse_bare(s, opts)
    }

    fn parse_bare(s: &str, opts: &ParseOptions) -> Result<Self, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let scheme = split_scheme(s).map(|(scheme, rest)| (scheme.to_ascii_lowercase(), rest));
        if let Some((scheme, rest)) = &scheme
            && matches!(scheme.as_str(), "sip" | "sips" | "tel" | "mailto")
        {
            let rest = *rest;
            return match scheme.as_str() {
                "sip" => parse_sip(rest, false, opts),
                "sips" => parse_sip(rest, true, opts),
                "tel" => parse_telephone_subscriber(rest, opts),
                // mailto (RFC 6068): the addr-spec, escapes decoded, headers dropped
                _ => parse_email(&escape::unescape(
                    rest.split_once('?').map_or(rest, |(a, _)| a),
                )?),
            };
        }
        if let Some((value, type_name)) = split_device(s) {
            return parse_device(value, type_name, opts);
        }
        if let Some((scheme, _)) = scheme {
            return Err(AddressError::UnsupportedScheme(scheme));
        }
        if s.contains('@') {
            return parse_email(s);
        }
        if s.starts_with('+') || s.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return parse_telephone_subscriber(s, opts);
        }
        Err(AddressError::Unrecognised(s.to_owned()))
    }

    /// The MMS ENC 1.3 form for an Encoded-string-value address field: `+49…/TYPE=PLMN`,
    /// `sip%3Abob%40b.example/TYPE=SIP`, `a.b.c.d/TYPE=IPv4`, or the mailbox.
    pub fn to_mms_enc(&self) -> String {
        match self {
            Address::Tel(n) => format!("{n}/TYPE=PLMN"),
            Address::Sip(uri) => {
                let mut out = String::new();
                escape::escape_enc_value(&uri.to_string(), &mut out);
                out.push_str("/TYPE=SIP");
                out
            }
            Address::Ipv6(ip) => {
                let mut out = String::new();
                escape::escape_enc_value(&ip.to_string(), &mut out);
                out.push_str("/TYPE=IPv6");
                out
            }
            other => other.to_string(),
        }
    }

    /// The MM4 form of this address at `mmse_domain` (TS 23.140 §8.4.1, DESIGN.md §2):
    /// `+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs`, `sip%3Abob%40b.example/TYPE=SIP@mms.b.example`.
    /// The local part is a dot-atom. A mailbox is already an MM4 address and is returned as is.
    pub fn to_mm4(&self, mmse_domain: &str) -> Result<String, Mm4AddressError> {
        if let Address::Email(e) = self {
            return Ok(e.to_string());
        }
        let domain = parse_host(mmse_domain).map_err(Mm4AddressError::Domain)?;
        Ok(format!("{}@{domain}", self.to_mms_enc()))
    }

    /// The exact inverse of [`Address::to_mm4`]: the address and the (lower-case) domain. An
    /// optional `<…>` around the address is accepted.
    pub fn from_mm4(s: &str) -> Result<(Address, String), Mm4AddressError> {
        if s.len() > MAX_ADDRESS_LEN {
            return Err(Mm4AddressError::LocalPart(AddressError::TooLong));
        }
        let s = s.trim();
        let s = s
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(s);
        let (local, domain) = s.rsplit_once('@').ok_or(Mm4AddressError::MissingDomain)?;
        let domain = parse_host(domain).map_err(Mm4AddressError::Domain)?;
        let address = match split_device(local) {
            Some((value, type_name)) => parse_device(value, type_name, &ParseOptions::default()),
            None => parse_email(s),
        }
        .map_err(Mm4AddressError::LocalPart)?;
        Ok((address, domain))
    }

    /// The telephone number, if this is one.
    pub fn as_e164(&self) -> Option<&E164> {
        match self {
            Address::Tel(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Sip(uri) => uri.fmt(f),
            Address::Tel(n) => write!(f, "tel:{n}"),
            Address::Email(e) => e.fmt(f),
            Address::Ipv4(ip) => write!(f, "{ip}/TYPE=IPv4"),
            Address::Ipv6(ip) => write!(f, "{ip}/TYPE=IPv6"),
            Address::ShortCode(c) => write!(f, "{}/TYPE=PLMN", c.0),
            Address::UserDefined(u) => {
                let mut value = String::new();
                escape::escape_enc_value(&u.value, &mut value);
                write!(f, "{value}/TYPE={}", u.type_name)
            }
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `scheme:rest` when `s` starts with an RFC 3986 scheme followed by `:`.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let first_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let ok =
        first_alpha && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some((scheme, rest))
}

/// `(value, type)` when `s` ends in `/TYPE=<address-type>` (MMS ENC 1.3 §8; type of letters,
/// digits and `_`, matched case-insensitively).
fn split_device(s: &str) -> Option<(&str, &str)> {
    let slash = s.rfind('/')?;
    let tail = s.get(slash + 1..)?;
    let type_name = tail
        .get(..5)
        .filter(|t| t.eq_ignore_ascii_case("TYPE="))
        .and(tail.get(5..))?;
    let valid = !type_name.is_empty()
        && type_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then(|| (s.get(..slash).unwrap_or_default(), type_name))
}

/// The URI inside a name-addr (`display-name <uri>`, RFC 3261 §25.1), if `s` is one.
fn name_addr_inner(s: &str) -> Result<Option<&str>, AddressError> {
    let rest = if let Some(quoted) = s.strip_prefix('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in quoted.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or(AddressError::UnterminatedQuote)?;
        let rest = quoted.get(end + 1..).unwrap_or_default().trim_start();
        if !rest.starts_with('<') {
            if rest.contains('<') {
                return Err(AddressError::NameAddr(
                    "a quoted display name must be followed by <uri>",
                ));
            }
            return Ok(None); // a quoted local part, `"bob smith"@b.example`
        }
        rest
    } else {
        match s.find('<') {
            Some(i) => s.get(i..).unwrap_or_default(),
            None => {
                if s.contains('>') {
                    return Err(AddressError::NameAddr("'>' without '<'"));
                }
                return Ok(None);
            }
        }
    };
    let inner_and_tail = rest.get(1..).unwrap_or_default();
    let close = inner_and_tail
        .find('>')
        .ok_or(AddressError::NameAddr("'<' without '>'"))?;
    let inner = inner_and_tail.get(..close).unwrap_or_default();
    let tail = inner_and_tail.get(close + 1..).unwrap_or_default().trim();
    if !tail.is_empty() && !tail.starts_with(';') {
        return Err(AddressError::NameAddr(
            "text after '>' that is not a parameter",
        ));
    }
    Ok(Some(inner))
}

/// RFC 3261 §19.1.1: `[user[:password]@]host[:port][;params][?headers]`.
fn parse_sip(rest: &str, secure: bool, opts: &ParseOptions) -> Result<Address, AddressError> {
    let (userinfo, hostpart) = rest.rsplit_once('@').ok_or(AddressError::MissingUser)?;
    let hostpart = hostpart.split_once('?').map_or(hostpart, |(h, _)| h);
    let mut params = hostpart.split(';');
    let hostport = params.next().unwrap_or_default();
    let user_phone = params.any(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("user") && v.trim().eq_ignore_ascii_case("phone")
        })
    });
    let host = parse_hostport(hostport)?;
    let user = userinfo
        .split_once(':')
        .map_or(userinfo, |(u, _password)| u);
    if user.is_empty() {
        return Err(AddressError::MissingUser);
    }
    if user_phone {
        // RFC 3261 §19.1.1: with user=phone the user part is a telephone-subscriber (RFC 3966).
        return parse_telephone_subscriber(&escape::unescape(user)?, opts);
    }
    let user = escape::unescape(user)?;
    Ok(Address::Sip(SipUri { user, host, secure }))
}

/// `host[:port]`; the port is checked and dropped.
fn parse_hostport(s: &str) -> Result<String, AddressError> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => (
                s.get(..=i).unwrap_or_default(),
                s.get(i + 1..).unwrap_or_default(),
            ),
            None => return Err(AddressError::BadHost(s.to_owned())),
        }
    } else {
        match s.find(':') {
            Some(i) => (
                s.get(..i).unwrap_or_default(),
                s.get(i..).unwrap_or_default(),
            ),
            None => (s, ""),
        }
    };
    if !port.is_empty() {
        let digits = port
            .strip_prefix(':')
            .ok_or_else(|| AddressError::BadHost(s.to_owned()))?;
        digits.parse::<u16>().map_err(|_| AddressError::BadPort)?;
    }
    parse_host(host)
}

/// A host (RFC 3261 §25.1 `host`): domain name, IPv4 address or `[IPv6]`, lower-cased, with a
/// trailing root dot removed.
fn parse_host(s: &str) -> Result<String, AddressError> {
    let bad = || AddressError::BadHost(s.to_owned());
    if let Some(v6) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad())?;
        return Ok(format!("[{ip}]"));
    }
    let host = s.strip_suffix('.').unwrap_or(s);
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(host.to_ascii_lowercase())
}

/// RFC 3966 §3 visual separators, which carry no meaning.
fn is_visual_separator(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')' | ' ')
}

fn strip_separators(s: &str) -> Result<String, AddressError> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !is_visual_separator(c) {
            return Err(AddressError::BadPhoneChar(c));
        }
    }
    Ok(out)
}

/// RFC 3966 §3 telephone-subscriber (also the MMS ENC PLMN value): a global number, or a local
/// number resolved by its numeric `phone-context`, else by the configured country code, else a
/// short code when short enough.
fn parse_telephone_subscriber(s: &str, opts: &ParseOptions) -> Result<Address, AddressError> {
    let mut parts = s.split(';');
    let number = parts.next().unwrap_or_default().trim();
    let mut context = None;
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("phone-context")
        {
            context = Some(v.trim());
        }
    }
    if let Some(global) = number.strip_prefix('+') {
        let digits = strip_separators(global)?;
        return Ok(Address::Tel(E164::from_digits(&digits)?));
    }
    let digits = strip_separators(number)?;
    if digits.is_empty() {
        return Err(NumberError::NoDigits.into());
    }
    if let Some(ctx) = context.and_then(|c| c.strip_prefix('+')) {
        let prefix = strip_separators(ctx)?;
        return Ok(Address::Tel(E164::from_digits(&format!(
            "{prefix}{digits}"
        ))?));
    }
    if digits.len() <= opts.short_code_max_digits {
        return Ok(Address::ShortCode(ShortCode(digits)));
    }
    match &opts.default_country_code {
        Some(cc) => {
            let national = digits
                .strip_prefix(opts.national_prefix.as_str())
                .unwrap_or(&digits);
            Ok(Address::Tel(E164::from_digits(&format!("{cc}{national}"))?))
        }
        None => Err(AddressError::LocalNumberWithoutContext(number.to_owned())),
    }
}

/// RFC 5322 §3.4.1 addr-spec: dot-atom or quoted-string local part, host domain.
fn parse_email(s: &str) -> Result<Address, AddressError> {
    let (local, domain) = s
        .rsplit_once('@')
        .ok_or_else(|| AddressError::Unrecognised(s.to_owned()))?;
    let domain = parse_host(domain)?;
    let is_atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
    let quoted = local
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .is_some_and(is_quoted_content);
    if !dot_atom && !quoted {
        return Err(AddressError::BadLocalPart(local.to_owned()));
    }
    Ok(Address::Email(EmailAddress {
        local: local.to_owned(),
        domain,
    }))
}

/// RFC 5322 §3.2.4 qcontent: printable characters, `"` and `\\` only as quoted pairs.
fn is_quoted_content(inner: &str) -> bool {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let ok = match c {
            '\\' => chars.next().is_some_and(|q| !q.is_control()),
            '"' => false,
            c => !c.is_control(),
        };
        if !ok {
            return false;
        }
    }
    true
}

fn is_interpreted_type(type_name: &str) -> bool {
    ["PLMN", "IPV4", "IPV6", "SIP", "SIPS", "TEL", "EMAIL"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(type_name))
}

/// MMS ENC 1.3 §8 device address `value/TYPE=type`.
fn parse_device(
    value: &str,
    type_name: &str,
    opts: &ParseOptions,
) -> Result<Address, AddressError> {
    if value.is_empty() {
        return Err(AddressError::EmptyValue);
    }
    let value = escape::unescape(value)?;
    match type_name.to_ascii_uppercase().as_str() {
        "PLMN" => parse_telephone_subscriber(&value, opts),
        "IPV4" => value
            .parse()
            .map(Address::Ipv4)
            .map_err(|_| AddressError::BadIpv4(value)),
        "IPV6" => value
            .parse()
            .map(Address::Ipv6)
            .map_err(|_| AddressError::BadIpv6(value)),
        "SIP" | "SIPS" => match split_scheme(&value) {
            Some(_) => Address::parse_bare(&value, opts),
            None => {
                Address::parse_bare(&format!("{}:{value}", type_name.to_ascii_lowercase()), opts)
            }
        },
        "TEL" => match split_scheme(&value) {
            Some(_) => Address::parse_bare(&value, opts),
            None => parse_telephone_subscriber(&value, opts),
        },
        "EMAIL" => parse_email(&value),
        _ => Ok(Address::UserDefined(UserDefinedAddress {
            type_name: type_name.to_owned(),
            value,
        })),
    }
}

#[cfg(test)]
mod tests;
