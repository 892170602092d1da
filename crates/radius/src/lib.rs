//! RADIUS accounting (RFC 2866) codec and request authenticator check. Sans-IO.
#![forbid(unsafe_code)]
