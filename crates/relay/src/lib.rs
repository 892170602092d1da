//! The MMS Relay/Server service: wires codecs, store, resolver and peers into MM1 and MM4 listeners and queue workers.
#![forbid(unsafe_code)]
