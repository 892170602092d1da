//! Integration tests of the relay over real sockets on 127.0.0.1 (one binary; one module per area
//! under tests/relay/).

#[path = "relay/hostile.rs"]
mod hostile;
#[path = "relay/hostile_tls.rs"]
mod hostile_tls;
#[path = "relay/mm1_flows.rs"]
mod mm1_flows;
#[path = "relay/mm1_identity.rs"]
mod mm1_identity;
#[path = "relay/mm1_support.rs"]
mod mm1_support;
#[path = "relay/mm1_vectors.rs"]
mod mm1_vectors;
#[path = "relay/reports_auth.rs"]
mod reports_auth;
#[path = "relay/work_mm4.rs"]
mod work_mm4;
#[path = "relay/work_notify.rs"]
mod work_notify;
#[path = "relay/work_support.rs"]
mod work_support;
