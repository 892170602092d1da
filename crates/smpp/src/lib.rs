//! SMPP 3.4 codec (sans-IO) and, behind feature `client`, an async ESME session.
#![forbid(unsafe_code)]
