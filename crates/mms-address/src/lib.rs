//! Address grammar for MMS as IMS deferred messaging (DESIGN.md §2): SIP/tel URIs (RFC 3261/3966), MMS ENC addresses, E.164, ENUM (RFC 6116), MM4 address encoding. Sans-IO.
#![forbid(unsafe_code)]
