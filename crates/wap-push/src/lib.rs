//! WAP Push over SMS (WAP-230 WSP §8.2.4, WAP-259 WDP Annex): push PDU, UDH port addressing, concatenation and reassembly. Sans-IO.
#![forbid(unsafe_code)]
