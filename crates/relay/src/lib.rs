//! The MMS Relay/Server service (DESIGN.md §1): wires the codecs, the store, the resolver and the
//! peers into the MM1 (HTTP) and MM4 (SMTP) listeners and the queue workers.
//!
//! Layout, one job per module:
//! * [`jobs`]: the payload of each outbox item kind, the contract between whoever queues work and
//!   the worker that does it.
//! * [`config`]: the TOML configuration (unknown keys rejected, every key defaulted).
//! * [`identity`]: the network-asserted identity of an MM1 request (DESIGN.md §6).
//! * [`mm1`]: the phone-facing HTTP server: submit, retrieve, notify-response, acknowledge, read reports.
//! * [`routing`]: the worker that resolves each recipient to local delivery or an MM4 peer.
//! * [`mm4`]: MM4 in (SMTP server handler) and out (forward, responses, reports) between relays.
//! * [`peer_slots`]: the bound on MM4 items in hand per peer, with an in-process wait for its turn.
//! * [`notifier`]: the worker that notifies local recipients by WAP Push over SMS (SMPP).
//! * [`reports`]: delivery and read reports back to the sender (MM1 push or MM4).
//! * [`worker`]: the generic outbox loop (lease, handle, complete / retry / fail) and the expiry sweeper.
//! * [`service`]: starts every listener and worker of one relay from its configuration, and stops them.
//! * [`admin`]: the `/health` and Prometheus `/metrics` listener.
#![forbid(unsafe_code)]

pub mod admin;
pub mod config;
pub mod identity;
pub mod jobs;
pub mod listener;
pub mod mm1;
pub mod mm4;
pub mod notifier;
pub mod peer_slots;
pub mod reports;
pub mod routing;
pub mod service;
pub mod worker;
