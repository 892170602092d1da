//! Sans-IO client side of one mail transaction (RFC 5321 §3.3) with and without PIPELINING
//! (RFC 2920 §3): the caller writes what [`Transaction::start`] and [`Transaction::on_reply`]
//! return and feeds back each reply; no sockets, no clocks.

use crate::client::{OutboundEnvelope, RecipientRejection, SendError, SendOutcome, Stage};
use crate::reply::Reply;

/// What the server advertised in its EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    /// RFC 1870 SIZE: `Some(0)` means no fixed limit.
    pub size: Option<usize>,
}

impl Capabilities {
    /// Reads the keywords of an EHLO reply (the first line is the greeting).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("PIPELINING") => caps.pipelining = true,
                Some("STARTTLS") => caps.starttls = true,
                Some("8BITMIME") => caps.eight_bit_mime = true,
                Some("SIZE") => {
                    caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0))
                }
                _ => {}
            }
        }
        caps
    }
}

/// What the IO layer does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Write these bytes, then read the next reply.
    Send(Vec<u8>),
    /// Write the dot-stuffed message and `.CRLF` (RFC 5321 §4.5.2), then read the next reply.
    SendMessage,
    /// Read the next reply (pipelined replies still outstanding).
    Await,
    /// The transaction is over; the connection is back in its idle state.
    Done(Result<SendOutcome, SendError>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Mail,
    Rcpt(usize),
    Data,
    /// 354 came although the transaction failed: the lone `.` that ends it was sent.
    AbortedData,
    Message,
}

/// One transaction: MAIL, RCPT..., DATA, message.
pub(crate) struct Transaction<'a> {
    envelope: &'a OutboundEnvelope,
    pipelining: bool,
    expect: Expect,
    accepted: Vec<String>,
    rejected: Vec<RecipientRejection>,
    failure: Option<SendError>,
}

impl<'a> Transaction<'a> {
    pub fn new(envelope: &'a OutboundEnvelope, pipelining: bool) -> Self {
        Transaction {
            envelope,
            pipelining,
            expect: Expect::Mail,
            accepted: Vec::new(),
            rejected: Vec::new(),
            failure: None,
        }
    }

    fn mail_command(&self, caps: &Capabilities, size: usize, eight_bit: bool) -> Vec<u8> {
        let mut cmd = format!("MAIL FROM:<{}>", self.envelope.mail_from);
        if caps.size.is_some() {
            cmd.push_str(&format!(" SIZE={size}"));
        }
        if eight_bit && caps.eight_bit_mime {
            cmd.push_str(" BODY=8BITMIME");
        }
        cmd.push_str("\r\n");
        cmd.into_bytes()
    }

    fn rcpt_command(&self, i: usize) -> Vec<u8> {
        let to = self.envelope.rcpt_to.get(i).map_or("", String::as_str);
        format!("RCPT TO:<{to}>\r\n").into_bytes()
    }

    /// The first write: MAIL alone, or MAIL, every RCPT and DATA in one write when pipelining.
    pub fn start(&mut self, caps: &Capabilities, data: &[u8]) -> Vec<u8> {
        let eight_bit = data.iter().any(|&b| b >= 0x80);
        let mut out = self.mail_command(caps, data.len(), eight_bit);
        if self.pipelining {
            for i in 0..self.envelope.rcpt_to.len() {
                out.extend_from_slice(&self.rcpt_command(i));
            }
            out.extend_from_slice(b"DATA\r\n");
        }
        out
    }

    fn fail(&mut self, err: SendError) {
        self.failure.get_or_insert(err);
    }

    /// Ends the transaction: with an error when one was recorded, else the outcome.
    fn finish(&mut self) -> Step {
        match self.failure.take() {
            Some(e) => Step::Done(Err(e)),
            None => Step::Done(Ok(SendOutcome {
                accepted: std::mem::take(&mut self.accepted),
                rejected: std::mem::take(&mut self.rejected),
            })),
        }
    }

    fn all_rejected(&mut self) -> SendError {
        SendError::RecipientsRejected {
            rejected: std::mem::take(&mut self.rejected),
        }
    }

    /// Feeds the next reply.
    pub fn on_reply(&mut self, reply: Reply) -> Step {
        match self.expect {
            Expect::Mail => {
                let ok = reply.is_positive();
                if !ok {
                    self.fail(SendError::Rejected {
                        stage: Stage::Mail,
                        reply,
                    });
                }
                if self.pipelining {
                    self.expect = if self.envelope.rcpt_to.is_empty() {
                        Expect::Data
                    } else {
                        Expect::Rcpt(0)
                    };
                    Step::Await
                } else if !ok {
                    self.finish()
                } else if self.envelope.rcpt_to.is_empty() {
                    self.fail(SendError::RecipientsRejected {
                        rejected: Vec::new(),
                    });
                    self.finish()
                } else {
                    self.expect = Expect::Rcpt(0);
                    Step::Send(self.rcpt_command(0))
                }
            }
            Expect::Rcpt(i) => {
                let rcpt = self.envelope.rcpt_to.get(i).cloned().unwrap_or_default();
                if reply.is_positive() {
                    self.accepted.push(rcpt);
                } else {
                    self.rejected.push(RecipientRejection {
                        recipient: rcpt,
                        reply,
                    });
                }
                let next = i + 1;
                if next < self.envelope.rcpt_to.len() {
                    self.expect = Expect::Rcpt(next);
                    return if self.pipelining {
                        Step::Await
                    } else {
                        Step::Send(self.rcpt_command(next))
                    };
                }
                self.expect = Expect::Data;
                if self.pipelining {
                    Step::Await
                } else if self.accepted.is_empty() {
                    let e = self.all_rejected();
                    self.fail(e);
                    self.finish()
                } else {
                    Step::Send(b"DATA\r\n".to_vec())
                }
            }
            Expect::Data => {
                if self.failure.is_none() && self.accepted.is_empty() {
                    let e = self.all_rejected();
                    self.fail(e);
                }
                if reply.code == 354 {
                    if self.failure.is_some() {
                        // RFC 2920 §3.1: a 354 after failed recipients is closed with a lone dot.
                        self.expect = Expect::AbortedData;
                        Step::Send(b".\r\n".to_vec())
                    } else {
                        self.expect = Expect::Message;
                        Step::SendMessage
                    }
                } else {
                    self.fail(SendError::Rejected {
                        stage: Stage::Data,
                        reply,
                    });
                    self.finish()
                }
            }
            Expect::AbortedData => self.finish(),
            Expect::Message => {
                if !reply.is_positive() {
                    self.fail(SendError::Rejected {
                        stage: Stage::Message,
                        reply,
                    });
                }
                self.finish()
            }
        }
    }
}

/// RFC 5321 §4.5.2: doubles a leading `.` on every line and ends the message with
/// `CRLF.CRLF` (adding a CRLF first when the message does not end with one).
pub(crate) fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    let mut at_line_start = true;
    let mut rest = data;
    while !rest.is_empty() {
        if at_line_start && rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let (line, tail) = rest.split_at(lf + 1);
                out.extend_from_slice(line);
                rest = tail;
                at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
                at_line_start = false;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::parse_reply;

    fn r(s: &str) -> Reply {
        parse_reply(format!("{s}\r\n").as_bytes())
            .unwrap()
            .unwrap()
            .0
    }

    fn envelope(rcpts: &[&str]) -> OutboundEnvelope {
        OutboundEnvelope {
            mail_from: "+4911/TYPE=PLMN@a.example".into(),
            rcpt_to: rcpts.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn sent(step: Step) -> Vec<u8> {
        match step {
            Step::Send(bytes) => bytes,
            other => panic!("expected Send, got {other:?}"),
        }
    }

    fn caps(pipelining: bool) -> Capabilities {
        Capabilities {
            pipelining,
            starttls: false,
            eight_bit_mime: true,
            size: Some(1000),
        }
    }

    #[test]
    fn ehlo_keywords_are_read_case_insensitively_rfc5321_s4_1_1_1() {
        let c = Capabilities::from_ehlo(&r(
            "250-mx\r\n250-pipelining\r\n250-SIZE 2048\r\n250 STARTTLS",
        ));
        assert_eq!(
            c,
            Capabilities {
                pipelining: true,
                starttls: true,
                eight_bit_mime: false,
                size: Some(2048)
            }
        );
    }

    #[test]
    fn pipelined_transaction_sends_mail_rcpts_and_data_in_one_write_rfc2920_s3_1() {
        let env = envelope(&["a@b.example", "c@b.example"]);
        let mut t = Transaction::new(&env, true);
        let first = t.start(&caps(true), b"x");
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "MAIL FROM:<+4911/TYPE=PLMN@a.example> SIZE=1\r\nRCPT TO:<a@b.example>\r\nRCPT TO:<c@b.example>\r\nDATA\r\n"
        );
        assert!(matches!(t.on_reply(r("250 2.1.0 ok")), Step::Await));
        assert!(matches!(t.on_reply(r("250 2.1.5 ok")), Step::Await));
        assert!(matches!(t.on_reply(r("550 5.1.1 unknown")), Step::Await));
        assert!(matches!(t.on_reply(r("354 go")), Step::SendMessage));
        let Step::Done(Ok(outcome)) = t.on_reply(r("250 2.0.0 queued")) else {
            panic!("expected success")
        };
        assert_eq!(outcome.accepted, vec!["a@b.example"]);
        assert_eq!(outcome.rejected.len(), 1);
        assert_eq!(outcome.rejected[0].reply.code, 550);
    }

    #[test]
    fn pipelined_all_rejected_with_354_is_closed_by_lone_dot_rfc2920_s3_1() {
        let env = envelope(&["a@b.example"]);
        let mut t = Transaction::new(&env, true);
        t.start(&caps(true), b"x");
        assert!(matches!(t.on_reply(r("250 ok")), Step::Await));
        assert!(matches!(t.on_reply(r("451 4.3.0 later")), Step::Await));
        assert_eq!(sent(t.on_reply(r("354 go"))), b".\r\n");
        let Step::Done(Err(e)) = t.on_reply(r("554 5.5.1 no valid recipients")) else {
            panic!()
        };
        assert!(matches!(&e, SendError::RecipientsRejected { rejected } if rejected.len() == 1));
        assert!(e.is_transient());
    }

    #[test]
    fn pipelined_mail_rejection_still_drains_outstanding_replies_rfc2920_s3_1() {
        let env = envelope(&["a@b.example"]);
        let mut t = Transaction::new(&env, true);
        t.start(&caps(true), b"x");
        assert!(matches!(t.on_reply(r("552 5.3.4 too big")), Step::Await));
        assert!(matches!(t.on_reply(r("503 5.5.1 need MAIL")), Step::Await));
        let Step::Done(Err(e)) = t.on_reply(r("503 5.5.1 need MAIL")) else {
            panic!()
        };
        assert!(
            matches!(&e, SendError::Rejected { stage: Stage::Mail, reply } if reply.code == 552)
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn unpipelined_transaction_waits_for_each_reply_rfc5321_s3_3() {
        let env = envelope(&["a@b.example", "c@b.example"]);
        let mut t = Transaction::new(&env, false);
        let first = t.start(&Capabilities::default(), b"x");
        assert_eq!(first, b"MAIL FROM:<+4911/TYPE=PLMN@a.example>\r\n");
        assert_eq!(sent(t.on_reply(r("250 ok"))), b"RCPT TO:<a@b.example>\r\n");
        assert_eq!(
            sent(t.on_reply(r("450 busy"))),
            b"RCPT TO:<c@b.example>\r\n"
        );
        assert_eq!(sent(t.on_reply(r("250 ok"))), b"DATA\r\n");
        assert!(matches!(t.on_reply(r("354 go")), Step::SendMessage));
        let Step::Done(Err(e)) = t.on_reply(r("451 4.3.0 store down")) else {
            panic!()
        };
        assert!(matches!(
            &e,
            SendError::Rejected {
                stage: Stage::Message,
                ..
            }
        ));
        assert!(e.is_transient());
    }

    #[test]
    fn unpipelined_all_recipients_rejected_ends_before_data_rfc5321_s3_3() {
        let env = envelope(&["a@b.example"]);
        let mut t = Transaction::new(&env, false);
        t.start(&caps(false), b"x");
        t.on_reply(r("250 ok"));
        let Step::Done(Err(e)) = t.on_reply(r("550 5.1.1 no")) else {
            panic!()
        };
        assert!(!e.is_transient());
    }

    #[test]
    fn eight_bit_body_is_declared_when_offered_rfc6152_s2() {
        let env = envelope(&["a@b.example"]);
        let mut t = Transaction::new(&env, false);
        assert_eq!(
            t.start(&caps(false), "ä".as_bytes()),
            b"MAIL FROM:<+4911/TYPE=PLMN@a.example> SIZE=2 BODY=8BITMIME\r\n"
        );
    }

    #[test]
    fn leading_dots_are_doubled_and_message_terminated_rfc5321_s4_5_2() {
        assert_eq!(
            dot_stuff(b".a\r\nb\r\n..c\r\n"),
            b"..a\r\nb\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"x\r\n.\r\n"), b"x\r\n..\r\n.\r\n");
    }
}
