//! Integration tests of mms-pdu (one binary): the shared corpus of real PDUs and property-based
//! round trips of every PDU type.

#[path = "codec/corpus.rs"]
mod corpus;
