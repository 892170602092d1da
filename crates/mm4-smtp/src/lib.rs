//! SMTP transport for MM4 (RFC 5321): inbound server and outbound client.
#![forbid(unsafe_code)]
