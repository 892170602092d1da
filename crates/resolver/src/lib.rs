//! Originating resolution (DESIGN.md §3): recipient address -> route to the recipient MMS Relay/Server.
#![forbid(unsafe_code)]
