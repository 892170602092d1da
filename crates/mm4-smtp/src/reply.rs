//! RFC 5321 §4.2: replies `code [SP|-] text CRLF`, multi-line with `code-`, and RFC 3463
//! enhanced status codes `class.subject.detail` at the start of the text (RFC 2034 §4).

use std::fmt;

/// RFC 3463 §2: an enhanced status code `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// Subject (0..=999).
    pub subject: u16,
    /// Detail (0..=999).
    pub detail: u16,
}

impl EnhancedCode {
    /// A code from its three parts.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses `c.s.d` at the start of `text`; returns the code and the rest after one space.
    fn split_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
        let mut parts = token.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !matches!(class, 2 | 4 | 5) || subject > 999 || detail > 999 {
            return None;
        }
        Some((
            EnhancedCode {
                class,
                subject,
                detail,
            },
            rest,
        ))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// RFC 5321 §4.2: one (possibly multi-line) reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code of the first line, when present (RFC 2034).
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line, without code, separator and enhanced code.
    pub lines: Vec<String>,
}

impl Reply {
    /// RFC 5321 §4.2.1: 2yz positive completion.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// RFC 5321 §4.2.1: 4yz transient negative completion.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The text lines joined with a space.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        write!(f, " {}", self.text())
    }
}

/// Why bytes are not an SMTP reply (RFC 5321 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line does not start with three digits followed by SP, `-` or the line end.
    #[error("malformed reply line")]
    Malformed,
    /// The lines of a multi-line reply carry different codes.
    #[error("reply lines with different codes")]
    MixedCodes,
    /// The reply is longer than the client accepts.
    #[error("reply longer than {0} octets")]
    TooLong(usize),
}

/// The longest reply accepted (all lines together).
pub(crate) const MAX_REPLY_LEN: usize = 64 * 1024;

/// Parses one complete reply from the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the reply and how many octets it used.
pub(crate) fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    let mut enhanced = None;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_REPLY_LEN {
                return Err(ReplyError::TooLong(MAX_REPLY_LEN));
            }
            return Ok(None);
        };
        let line = rest.get(..lf).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += lf + 1;
        if pos > MAX_REPLY_LEN {
            return Err(ReplyError::TooLong(MAX_REPLY_LEN));
        }
        let (digits, tail) = (
            line.get(..3).ok_or(ReplyError::Malformed)?,
            line.get(3..).unwrap_or_default(),
        );
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::Malformed);
        }
        let this = digits
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if *code.get_or_insert(this) != this {
            return Err(ReplyError::MixedCodes);
        }
        let (last, text) = match tail.split_first() {
            None => (true, &b""[..]),
            Some((b' ', t)) => (true, t),
            Some((b'-', t)) => (false, t),
            Some(_) => return Err(ReplyError::Malformed),
        };
        let text = String::from_utf8_lossy(text);
        let text = match EnhancedCode::split_prefix(&text) {
            Some((e, rest)) if e.class == (this / 100) as u8 => {
                if lines.is_empty() {
                    enhanced = Some(e);
                }
                rest.to_owned()
            }
            _ => text.into_owned(),
        };
        lines.push(text);
        if last {
            return Ok(Some((
                Reply {
                    code: this,
                    enhanced,
                    lines,
                },
                pos,
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_reply_with_enhanced_code_rfc5321_s4_2_rfc2034() {
        let (r, used) = parse_reply(b"250 2.1.0 Sender OK\r\nextra")
            .unwrap()
            .unwrap();
        assert_eq!(used, 21);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, Some(EnhancedCode::new(2, 1, 0)));
        assert_eq!(r.lines, vec!["Sender OK"]);
        assert_eq!(r.to_string(), "250 2.1.0 Sender OK");
    }

    #[test]
    fn multi_line_reply_ends_at_space_separator_rfc5321_s4_2_1() {
        let raw = b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n";
        let (r, used) = parse_reply(raw).unwrap().unwrap();
        assert_eq!(used, raw.len());
        assert_eq!(r.lines, vec!["mx.example", "PIPELINING", "SIZE 100"]);
        assert_eq!(parse_reply(&raw[..20]), Ok(None));
    }

    #[test]
    fn bare_code_line_and_bare_lf_are_accepted_rfc5321_s4_2() {
        let (r, _) = parse_reply(b"354\n").unwrap().unwrap();
        assert_eq!((r.code, r.lines.len()), (354, 1));
    }

    #[test]
    fn malformed_and_mixed_code_replies_are_errors_rfc5321_s4_2() {
        assert_eq!(parse_reply(b"25 x\r\n"), Err(ReplyError::Malformed));
        assert_eq!(parse_reply(b"250x\r\n"), Err(ReplyError::Malformed));
        assert_eq!(
            parse_reply(b"250-a\r\n550 b\r\n"),
            Err(ReplyError::MixedCodes)
        );
    }

    #[test]
    fn enhanced_code_with_wrong_class_is_kept_as_text_rfc3463_s2() {
        let (r, _) = parse_reply(b"550 2.0.0 odd\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text(), "2.0.0 odd");
    }

    #[test]
    fn endless_reply_is_too_long() {
        let raw = vec![b'2'; MAX_REPLY_LEN + 1];
        assert_eq!(parse_reply(&raw), Err(ReplyError::TooLong(MAX_REPLY_LEN)));
    }
}
