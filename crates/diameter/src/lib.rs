//! Diameter base protocol (RFC 6733) and Sh application (3GPP TS 29.328/29.329) codec; with feature `peer`, an async peer connection.
#![forbid(unsafe_code)]
