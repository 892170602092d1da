//! NAPTR substitution expressions (RFC 3402 §3.2, as used by ENUM, RFC 6116 §3.2):
//! `delim ere delim repl delim flags`, the ERE applied to the application unique string
//! (for ENUM the E.164 number with `+`), `\1`..`\9` back-references in the replacement.

use regex::{Regex, RegexBuilder};

/// Compiled size limit of one NAPTR regexp, so a hostile record cannot make the relay build a
/// huge automaton.
const REGEX_SIZE_LIMIT: usize = 64 * 1024;

/// Longest regexp field: NAPTR REGEXP is one DNS `<character-string>` (RFC 3403 §4.1), at most
/// 255 octets (RFC 1035 §3.3), so a longer field cannot have come from DNS.
pub const NAPTR_REGEXP_MAX_OCTETS: usize = 255;

/// Why a NAPTR regexp field cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NaptrError {
    /// Longer than one DNS `<character-string>` ([`NAPTR_REGEXP_MAX_OCTETS`]).
    #[error("NAPTR regexp field is longer than 255 octets")]
    TooLong,
    /// Empty field or a delimiter that RFC 3402 §3.2 forbids (digit, flag, `\`).
    #[error("invalid NAPTR regexp delimiter")]
    BadDelimiter,
    /// Not three delimiters (`!ere!repl!flags`).
    #[error("NAPTR regexp is not of the form !ere!replacement!flags")]
    Malformed,
    /// A flag other than `i` (RFC 3402 §3.2).
    #[error("unknown NAPTR regexp flag {0:?}")]
    BadFlag(char),
    /// The ERE does not compile or exceeds the size limit.
    #[error("NAPTR ERE does not compile: {0}")]
    BadPattern(String),
    /// `\N` names a group the ERE does not have.
    #[error("back-reference \\{0} names no group of the ERE")]
    BadBackReference(u8),
    /// The ERE does not match the application unique string.
    #[error("NAPTR ERE does not match {0:?}")]
    NoMatch(String),
}

/// One replacement piece: literal text or a back-reference.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// A parsed NAPTR `regexp` field (RFC 3402 §3.2).
#[derive(Debug, Clone)]
pub struct NaptrRegexp {
    regex: Regex,
    replacement: Vec<Piece>,
}

impl NaptrRegexp {
    /// Parses `delim ere delim repl delim [i]`; `\delim` inside the ERE or replacement stands
    /// for the delimiter itself.
    pub fn parse(field: &str) -> Result<Self, NaptrError> {
        if field.len() > NAPTR_REGEXP_MAX_OCTETS {
            return Err(NaptrError::TooLong);
        }
        let delim = field.chars().next().ok_or(NaptrError::BadDelimiter)?;
        if delim.is_ascii_digit() || delim == '\\' || delim == 'i' || delim.is_whitespace() {
            return Err(NaptrError::BadDelimiter);
        }
        let body = field.get(delim.len_utf8()..).unwrap_or_default();
        let (ere, rest) = split_unescaped(body, delim).ok_or(NaptrError::Malformed)?;
        let (repl, flags) = split_unescaped(rest, delim).ok_or(NaptrError::Malformed)?;
        let mut case_insensitive = false;
        for f in flags.chars() {
            match f {
                'i' => case_insensitive = true,
                other => return Err(NaptrError::BadFlag(other)),
            }
        }
        let ere = unescape_delim(&ere, delim);
        let regex = RegexBuilder::new(&ere)
            .case_insensitive(case_insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| NaptrError::BadPattern(e.to_string()))?;
        let replacement = parse_replacement(&repl);
        let groups = regex.captures_len().saturating_sub(1);
        for piece in &replacement {
            if let Piece::Group(n) = piece
                && *n > groups
            {
                return Err(NaptrError::BadBackReference(
                    u8::try_from(*n).unwrap_or(u8::MAX),
                ));
            }
        }
        Ok(Self { regex, replacement })
    }

    /// Applies the rule to the application unique string: the replacement with back-references
    /// filled in (a group that did not take part in the match is empty).
    pub fn apply(&self, input: &str) -> Result<String, NaptrError> {
        let caps = self
            .regex
            .captures(input)
            .ok_or_else(|| NaptrError::NoMatch(input.to_owned()))?;
        let mut out = String::new();
        for piece in &self.replacement {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
            }
        }
        Ok(out)
    }
}

/// Splits at the first `delim` not preceded by a backslash; the head keeps its escapes.
fn split_unescaped(s: &str, delim: char) -> Option<(String, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            return Some((s.get(..i)?.to_owned(), s.get(i + c.len_utf8()..)?));
        }
    }
    None
}

/// Turns `\delim` into `delim` in the ERE, leaving every other escape for the regex engine.
fn unescape_delim(ere: &str, delim: char) -> String {
    let mut out = String::with_capacity(ere.len());
    let mut chars = ere.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&delim) {
            continue;
        }
        out.push(c);
    }
    out
}

/// RFC 3402 §3.2 repl: `\1`..`\9` back-references, `\x` for any other `x` is `x`.
fn parse_replacement(repl: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = repl.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            literal.push(c);
            continue;
        }
        match chars.next() {
            Some(d @ '1'..='9') => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Group(usize::from(d as u8 - b'0')));
            }
            Some(other) => literal.push(other),
            None => literal.push('\\'),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_mailto_rule_rewrites_whole_number_rfc6116() {
        let r = NaptrRegexp::parse("!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs!")
            .unwrap();
        assert_eq!(
            r.apply("+4917612345678").unwrap(),
            "mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs"
        );
    }

    #[test]
    fn back_references_fill_groups_rfc3402_3_2() {
        let r = NaptrRegexp::parse("!^\\+49(.*)$!sip:\\1@b.example!").unwrap();
        assert_eq!(
            r.apply("+4917612345678").unwrap(),
            "sip:17612345678@b.example"
        );
        let r = NaptrRegexp::parse("/^\\+(4)(9)(.*)$/tel:+\\2\\1\\3/").unwrap();
        assert_eq!(r.apply("+4917").unwrap(), "tel:+9417");
    }

    #[test]
    fn escaped_delimiter_is_literal_rfc3402_3_2() {
        let r = NaptrRegexp::parse("!^(.*)$!mailto:a\\!b@\\1.example!").unwrap();
        assert_eq!(r.apply("x").unwrap(), "mailto:a!b@x.example");
    }

    #[test]
    fn case_insensitive_flag_i() {
        let r = NaptrRegexp::parse("!^ABC$!x!i").unwrap();
        assert_eq!(r.apply("abc").unwrap(), "x");
        assert_eq!(
            NaptrRegexp::parse("!a!b!x").unwrap_err(),
            NaptrError::BadFlag('x')
        );
    }

    #[test]
    fn malformed_fields_are_refused() {
        assert_eq!(
            NaptrRegexp::parse("").unwrap_err(),
            NaptrError::BadDelimiter
        );
        assert_eq!(
            NaptrRegexp::parse("1a1b1").unwrap_err(),
            NaptrError::BadDelimiter
        );
        assert_eq!(
            NaptrRegexp::parse("!abc!def").unwrap_err(),
            NaptrError::Malformed
        );
        assert!(matches!(
            NaptrRegexp::parse("!(!x!").unwrap_err(),
            NaptrError::BadPattern(_)
        ));
        assert_eq!(
            NaptrRegexp::parse("!^(.)$!\\2!").unwrap_err(),
            NaptrError::BadBackReference(2)
        );
        assert!(matches!(
            NaptrRegexp::parse("!^a$!x!").unwrap().apply("b"),
            Err(NaptrError::NoMatch(_))
        ));
    }

    #[test]
    fn field_longer_than_a_dns_character_string_is_refused_rfc1035_3_3() {
        let ok = format!(
            "!^(.*)$!sip:\\1@{}!",
            "b".repeat(NAPTR_REGEXP_MAX_OCTETS - 16)
        );
        assert_eq!(ok.len(), NAPTR_REGEXP_MAX_OCTETS);
        assert!(NaptrRegexp::parse(&ok).is_ok());
        let long = format!(
            "!^(.*)$!sip:\\1@{}!",
            "b".repeat(NAPTR_REGEXP_MAX_OCTETS - 15)
        );
        assert_eq!(NaptrRegexp::parse(&long).unwrap_err(), NaptrError::TooLong);
    }

    #[test]
    fn oversized_pattern_is_refused_by_size_limit() {
        let field = format!("!{}!x!", "(a{1,100}){1,100}".repeat(4));
        assert!(matches!(
            NaptrRegexp::parse(&field).unwrap_err(),
            NaptrError::BadPattern(_)
        ));
    }
}
