//! MM4 (3GPP TS 23.140 §8.4) messages <-> RFC 5322 message and SMTP envelope. Sans-IO.
#![forbid(unsafe_code)]
