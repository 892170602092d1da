//! The ESME side of an SMPP 3.4 session (§2.2 session states, §2.5 windowing, §4.11
//! enquire_link, §4.2 unbind) as a sans-IO state machine: events and `now` in, [`Action`]s out.
//! The caller moves bytes and owns the clock; every decision (bind, window, throttle, backoff on
//! ESME_RTHROTTLED / ESME_RMSGQFUL, keep-alive, reconnect, graceful unbind) is made here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::pdu::{Bind, Body, DecodeError, EncodeError, Pdu, SubmitSm, command_id};
use crate::status::CommandStatus;

/// The SMSC's id for an accepted message (submit_sm_resp message_id, SMPP 3.4 §5.2.23).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(pub String);

/// The caller's handle on one submit, echoed in [`Action::SubmitDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubmitId(pub u64);

/// Why a submit_sm did not end with a message id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The SMSC answered with a non-zero command_status (after retries, for throttling).
    #[error("SMSC answered {0}")]
    Rejected(CommandStatus),
    /// No submit_sm_resp within the response timeout, or the submit waited too long to be sent.
    #[error("no submit_sm_resp in time")]
    Timeout,
    /// The connection dropped after the submit_sm was sent; the SMSC may or may not have it.
    #[error("connection lost before submit_sm_resp")]
    ConnectionLost,
    /// The session is shutting down.
    #[error("SMPP client shut down")]
    Shutdown,
    /// The submit_sm breaks SMPP field limits and was never sent.
    #[error("submit_sm cannot be encoded: {0}")]
    Invalid(#[from] EncodeError),
}

impl SubmitError {
    /// True when the same submit may succeed later (retry from the durable queue).
    pub fn is_transient(&self) -> bool {
        match self {
            SubmitError::Rejected(status) => status.is_transient(),
            SubmitError::Timeout | SubmitError::ConnectionLost | SubmitError::Shutdown => true,
            SubmitError::Invalid(_) => false,
        }
    }
}

/// Exponential backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Backoff {
    fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max).max(self.initial)
    }
}

/// Session parameters.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// bind_transceiver fields (system_id, password, system_type, ...).
    pub bind: Bind,
    /// Maximum outstanding submit_sm without response (SMPP 3.4 §2.5 window).
    pub window: usize,
    /// Maximum submit_sm per second; `None` for no limit.
    pub throttle_per_second: Option<u32>,
    /// enquire_link after this long without receiving anything (SMPP 3.4 §4.11).
    pub enquire_link_interval: Duration,
    /// How long to wait for any response (bind, submit, enquire_link, unbind).
    pub response_timeout: Duration,
    /// Reconnect delays after a lost connection or failed bind.
    pub reconnect: Backoff,
    /// Pause of sending after ESME_RTHROTTLED / ESME_RMSGQFUL.
    pub throttled: Backoff,
    /// Sends of one submit (first try plus retries after throttling) before giving up.
    pub max_attempts: u32,
    /// How long a submit may wait unsent (e.g. while disconnected) before failing with Timeout.
    pub queue_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            bind: Bind {
                interface_version: crate::pdu::INTERFACE_VERSION,
                ..Bind::default()
            },
            window: 10,
            throttle_per_second: None,
            enquire_link_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            reconnect: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(30),
            },
            throttled: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(5),
            },
            max_attempts: 5,
            queue_timeout: Duration::from_secs(60),
        }
    }
}

/// What the IO layer must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open a TCP connection to the SMSC, then call `on_connected` or `on_connect_failed`.
    Connect,
    /// Write this PDU.
    Send(Pdu),
    /// Flush what was written and close the connection (do not call `on_disconnected`).
    Disconnect,
    /// A submit ended.
    SubmitDone {
        /// The caller's handle.
        id: SubmitId,
        /// Message id or error.
        result: Result<MessageId, SubmitError>,
    },
    /// A deliver_sm arrived (already acknowledged with deliver_sm_resp).
    Deliver(Box<SubmitSm>),
    /// The SMSC refused the bind; the session will reconnect with backoff.
    BindRejected(CommandStatus),
    /// Shutdown finished: unbound and disconnected. No further actions follow.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle { reconnect_at: Instant },
    Connecting,
    Binding { sequence: u32, deadline: Instant },
    Bound,
    Unbinding { deadline: Instant },
    Closed,
}

#[derive(Debug)]
struct Queued {
    id: SubmitId,
    sm: Box<SubmitSm>,
    attempts: u32,
    enqueued_at: Instant,
}

#[derive(Debug)]
struct InFlight {
    queued: Queued,
    deadline: Instant,
}

#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second.max(1));
        TokenBucket {
            rate,
            capacity: rate.max(1.0),
            tokens: 1.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn next_token_at(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.last + Duration::from_secs_f64(missing / self.rate)
    }
}

/// The ESME session state machine (see the module documentation).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    shutting_down: bool,
    next_sequence: u32,
    queue: VecDeque<Queued>,
    in_flight: HashMap<u32, InFlight>,
    actions: VecDeque<Action>,
    last_received: Instant,
    enquire_deadline: Option<Instant>,
    reconnect_delay: Duration,
    throttled_delay: Duration,
    paused_until: Option<Instant>,
    bucket: Option<TokenBucket>,
    scratch: Vec<u8>,
}

impl Session {
    /// A session that will ask to connect at `now`.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let bucket = config.throttle_per_second.map(|r| TokenBucket::new(r, now));
        Session {
            reconnect_delay: config.reconnect.initial,
            throttled_delay: config.throttled.initial,
            config,
            phase: Phase::Idle { reconnect_at: now },
            shutting_down: false,
            next_sequence: 1,
            queue: VecDeque::new(),
            in_flight: HashMap::new(),
            actions: VecDeque::new(),
            last_received: now,
            enquire_deadline: None,
            paused_until: None,
            bucket,
            scratch: Vec::new(),
        }
    }

    /// True once bound (submits are being sent).
    pub fn is_bound(&self) -> bool {
        self.phase == Phase::Bound
    }

    /// True after [`Action::Closed`].
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Submits waiting to be sent plus those awaiting submit_sm_resp.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// The next action for the IO layer.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn sequence(&mut self) -> u32 {
        let s = self.next_sequence;
        // SMPP 3.4 §5.1.4: 0x00000001 to 0x7FFFFFFF
        self.next_sequence = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    fn send(&mut self, pdu: Pdu) {
        self.actions.push_back(Action::Send(pdu));
    }

    fn done(&mut self, id: SubmitId, result: Result<MessageId, SubmitError>) {
        self.actions.push_back(Action::SubmitDone { id, result });
    }

    /// Queues a submit_sm; its outcome comes as [`Action::SubmitDone`] with `id`.
    pub fn submit(&mut self, id: SubmitId, sm: SubmitSm, now: Instant) {
        if self.shutting_down || self.phase == Phase::Closed {
            self.done(id, Err(SubmitError::Shutdown));
            return;
        }
        self.scratch.clear();
        let sm = Box::new(sm);
        let probe = Pdu::request(0, Body::SubmitSm(sm));
        if let Err(e) = probe.encode(&mut self.scratch) {
            self.done(id, Err(SubmitError::Invalid(e)));
            return;
        }
        let Body::SubmitSm(sm) = probe.body else {
            return;
        };
        self.queue.push_back(Queued {
            id,
            sm,
            attempts: 0,
            enqueued_at: now,
        });
        self.pump(now);
    }

    /// Starts a graceful shutdown: queued submits fail with `Shutdown`, outstanding ones are
    /// awaited, then unbind (§4.2) and [`Action::Closed`].
    pub fn shutdown(&mut self, now: Instant) {
        if self.shutting_down || self.phase == Phase::Closed {
            return;
        }
        self.shutting_down = true;
        while let Some(q) = self.queue.pop_front() {
            self.done(q.id, Err(SubmitError::Shutdown));
        }
        match self.phase {
            Phase::Bound => self.pump(now),
            Phase::Unbinding { .. } | Phase::Closed => {}
            Phase::Connecting | Phase::Binding { .. } => {
                self.actions.push_back(Action::Disconnect);
                self.close();
            }
            Phase::Idle { .. } => self.close(),
        }
    }

    fn close(&mut self) {
        let lost: Vec<u32> = self.in_flight.keys().copied().collect();
        for seq in lost {
            if let Some(f) = self.in_flight.remove(&seq) {
                self.done(f.queued.id, Err(SubmitError::ConnectionLost));
            }
        }
        while let Some(q) = self.queue.pop_front() {
            self.done(q.id, Err(SubmitError::Shutdown));
        }
        self.phase = Phase::Closed;
        self.actions.push_back(Action::Closed);
    }

    /// The TCP connection is up: send bind_transceiver (§4.1.5).
    pub fn on_connected(&mut self, now: Instant) {
        if self.phase != Phase::Connecting {
            return;
        }
        let sequence = self.sequence();
        self.phase = Phase::Binding {
            sequence,
            deadline: now + self.config.response_timeout,
        };
        self.last_received = now;
        self.enquire_deadline = None;
        let bind = self.config.bind.clone();
        self.send(Pdu::request(sequence, Body::BindTransceiver(bind)));
    }

    /// Connecting failed: retry after the reconnect backoff.
    pub fn on_connect_failed(&mut self, now: Instant) {
        if self.phase == Phase::Connecting {
            self.lost_connection(now);
        }
    }

    /// The connection dropped (read EOF or error, write error).
    pub fn on_disconnected(&mut self, now: Instant) {
        match self.phase {
            Phase::Binding { .. } | Phase::Bound | Phase::Unbinding { .. } => {
                self.lost_connection(now)
            }
            Phase::Idle { .. } | Phase::Connecting | Phase::Closed => {}
        }
    }

    fn drop_connection(&mut self, now: Instant) {
        self.actions.push_back(Action::Disconnect);
        self.lost_connection(now);
    }

    fn lost_connection(&mut self, now: Instant) {
        let lost: Vec<u32> = self.in_flight.keys().copied().collect();
        for seq in lost {
            if let Some(f) = self.in_flight.remove(&seq) {
                self.done(f.queued.id, Err(SubmitError::ConnectionLost));
            }
        }
        self.enquire_deadline = None;
        if self.shutting_down {
            self.close();
            return;
        }
        self.phase = Phase::Idle {
            reconnect_at: now + self.reconnect_delay,
        };
        self.reconnect_delay = self.config.reconnect.next(self.reconnect_delay);
    }

    /// A PDU arrived from the SMSC.
    pub fn on_pdu(&mut self, pdu: Pdu, now: Instant) {
        self.last_received = now;
        self.enquire_deadline = None;
        match pdu.body {
            Body::BindTransceiverResp(_) => {
                if let Phase::Binding { sequence, .. } = self.phase
                    && sequence == pdu.sequence
                {
                    self.bind_answered(pdu.status, now);
                }
            }
            Body::SubmitSmResp(resp) => {
                self.submit_answered(pdu.sequence, pdu.status, Some(resp.message_id), now)
            }
            Body::GenericNack => {
                if let Phase::Binding { sequence, .. } = self.phase
                    && sequence == pdu.sequence
                {
                    self.bind_answered(pdu.status, now);
                } else {
                    let status = if pdu.status == CommandStatus::Ok {
                        CommandStatus::UnknownError
                    } else {
                        pdu.status
                    };
                    self.submit_answered(pdu.sequence, status, None, now);
                }
            }
            Body::DeliverSm(sm) => {
                self.send(Pdu::request(pdu.sequence, Body::DeliverSmResp));
                self.actions.push_back(Action::Deliver(sm));
            }
            Body::EnquireLink => self.send(Pdu::request(pdu.sequence, Body::EnquireLinkResp)),
            Body::Unbind => {
                self.send(Pdu::request(pdu.sequence, Body::UnbindResp));
                self.drop_connection(now);
            }
            Body::UnbindResp => {
                if matches!(self.phase, Phase::Unbinding { .. }) {
                    self.actions.push_back(Action::Disconnect);
                    self.close();
                }
            }
            Body::EnquireLinkResp
            | Body::DeliverSmResp
            | Body::BindTransmitterResp(_)
            | Body::BindReceiverResp(_) => {}
            Body::BindTransmitter(_)
            | Body::BindReceiver(_)
            | Body::BindTransceiver(_)
            | Body::SubmitSm(_) => {
                // requests an SMSC never sends to an ESME (§2.3): refuse with generic_nack
                self.send(Pdu {
                    sequence: pdu.sequence,
                    status: CommandStatus::InvalidCommandId,
                    body: Body::GenericNack,
                });
            }
        }
        self.pump(now);
    }

    /// A frame could not be decoded: generic_nack a request (§4.3), close on a broken stream.
    pub fn on_decode_error(&mut self, error: &DecodeError, now: Instant) {
        let is_response = match error {
            DecodeError::UnknownCommand { command_id, .. }
            | DecodeError::Malformed { command_id, .. } => command_id & command_id::RESPONSE != 0,
            _ => false,
        };
        match (error.skip_len(), error.sequence()) {
            (Some(_), Some(sequence)) => {
                if !is_response {
                    self.send(Pdu {
                        sequence,
                        status: error.command_status(),
                        body: Body::GenericNack,
                    });
                }
            }
            _ => self.drop_connection(now),
        }
    }

    fn bind_answered(&mut self, status: CommandStatus, now: Instant) {
        if status == CommandStatus::Ok {
            self.phase = Phase::Bound;
            self.reconnect_delay = self.config.reconnect.initial;
        } else {
            self.actions.push_back(Action::BindRejected(status));
            self.drop_connection(now);
        }
    }

    fn submit_answered(
        &mut self,
        sequence: u32,
        status: CommandStatus,
        message_id: Option<String>,
        now: Instant,
    ) {
        let Some(flight) = self.in_flight.remove(&sequence) else {
            return;
        };
        let mut queued = flight.queued;
        match status {
            CommandStatus::Ok => {
                self.throttled_delay = self.config.throttled.initial;
                self.done(queued.id, Ok(MessageId(message_id.unwrap_or_default())));
            }
            CommandStatus::Throttled | CommandStatus::MessageQueueFull => {
                // §5.1.3: the SMSC asks us to slow down; pause all sending, retry this one first
                let until = now + self.throttled_delay;
                self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
                self.throttled_delay = self.config.throttled.next(self.throttled_delay);
                if queued.attempts >= self.config.max_attempts || self.shutting_down {
                    self.done(queued.id, Err(SubmitError::Rejected(status)));
                } else {
                    queued.enqueued_at = queued.enqueued_at.max(now);
                    self.queue.push_front(queued);
                }
            }
            other => self.done(queued.id, Err(SubmitError::Rejected(other))),
        }
    }

    fn pump(&mut self, now: Instant) {
        if self.phase != Phase::Bound {
            return;
        }
        if self.shutting_down {
            if self.in_flight.is_empty() {
                let sequence = self.sequence();
                self.send(Pdu::request(sequence, Body::Unbind));
                self.phase = Phase::Unbinding {
                    deadline: now + self.config.response_timeout,
                };
            }
            return;
        }
        if self.paused_until.is_some_and(|p| p > now) {
            return;
        }
        self.paused_until = None;
        while self.in_flight.len() < self.config.window.max(1) && !self.queue.is_empty() {
            if let Some(bucket) = self.bucket.as_mut()
                && !bucket.try_take(now)
            {
                break;
            }
            let Some(mut queued) = self.queue.pop_front() else {
                break;
            };
            queued.attempts += 1;
            let sequence = self.sequence();
            self.send(Pdu::request(sequence, Body::SubmitSm(queued.sm.clone())));
            self.in_flight.insert(
                sequence,
                InFlight {
                    queued,
                    deadline: now + self.config.response_timeout,
                },
            );
        }
    }

    /// When [`Session::on_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        if let Some(q) = self.queue.front() {
            consider(q.enqueued_at + self.config.queue_timeout);
        }
        match self.phase {
            Phase::Idle { reconnect_at } => consider(reconnect_at),
            Phase::Binding { deadline, .. } | Phase::Unbinding { deadline } => consider(deadline),
            Phase::Bound => {
                for f in self.in_flight.values() {
                    consider(f.deadline);
                }
                consider(
                    self.enquire_deadline
                        .unwrap_or(self.last_received + self.config.enquire_link_interval),
                );
                let window_open = self.in_flight.len() < self.config.window.max(1);
                if !self.queue.is_empty() && window_open && !self.shutting_down {
                    if let Some(p) = self.paused_until {
                        consider(p);
                    } else if let Some(b) = &self.bucket {
                        consider(b.next_token_at());
                    }
                }
            }
            Phase::Connecting | Phase::Closed => {}
        }
        next
    }

    /// Time has reached (or passed) [`Session::poll_timeout`]: fire every due timer.
    pub fn on_timeout(&mut self, now: Instant) {
        while self
            .queue
            .front()
            .is_some_and(|q| q.enqueued_at + self.config.queue_timeout <= now)
        {
            if let Some(q) = self.queue.pop_front() {
                self.done(q.id, Err(SubmitError::Timeout));
            }
        }
        match self.phase {
            Phase::Idle { reconnect_at } if reconnect_at <= now => {
                if self.shutting_down {
                    self.close();
                } else {
                    self.phase = Phase::Connecting;
                    self.actions.push_back(Action::Connect);
                }
            }
            Phase::Binding { deadline, .. } if deadline <= now => self.drop_connection(now),
            Phase::Unbinding { deadline } if deadline <= now => {
                self.actions.push_back(Action::Disconnect);
                self.close();
            }
            Phase::Bound => {
                let expired: Vec<u32> = self
                    .in_flight
                    .iter()
                    .filter(|(_, f)| f.deadline <= now)
                    .map(|(s, _)| *s)
                    .collect();
                for seq in expired {
                    if let Some(f) = self.in_flight.remove(&seq) {
                        self.done(f.queued.id, Err(SubmitError::Timeout));
                    }
                }
                match self.enquire_deadline {
                    Some(d) if d <= now => {
                        // §4.11: no answer to enquire_link: the link is dead
                        self.drop_connection(now);
                        return;
                    }
                    Some(_) => {}
                    None => {
                        if self.last_received + self.config.enquire_link_interval <= now {
                            let sequence = self.sequence();
                            self.send(Pdu::request(sequence, Body::EnquireLink));
                            self.enquire_deadline = Some(now + self.config.response_timeout);
                        }
                    }
                }
                self.pump(now);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Address, BindResp, SubmitSmResp};
    use bytes::Bytes;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn config() -> SessionConfig {
        SessionConfig {
            window: 2,
            ..SessionConfig::default()
        }
    }

    fn drain(s: &mut Session) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn sm(n: u8) -> SubmitSm {
        SubmitSm::binary(
            Address::international("111"),
            Address::international("222"),
            Bytes::copy_from_slice(&[n]),
            true,
        )
    }

    fn sent_submits(actions: &[Action]) -> Vec<(u32, u8)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(Pdu {
                    sequence,
                    body: Body::SubmitSm(s),
                    ..
                }) => Some((*sequence, s.short_message[0])),
                _ => None,
            })
            .collect()
    }

    fn resp(sequence: u32, status: CommandStatus, id: &str) -> Pdu {
        Pdu {
            sequence,
            status,
            body: Body::SubmitSmResp(SubmitSmResp {
                message_id: id.into(),
            }),
        }
    }

    /// A session bound at `t0`.
    fn bound(config: SessionConfig, t0: Instant) -> Session {
        let mut s = Session::new(config, t0);
        assert_eq!(s.poll_timeout(), Some(t0));
        s.on_timeout(t0);
        assert_eq!(drain(&mut s), vec![Action::Connect]);
        s.on_connected(t0);
        let actions = drain(&mut s);
        let [
            Action::Send(Pdu {
                sequence,
                body: Body::BindTransceiver(b),
                ..
            }),
        ] = actions.as_slice()
        else {
            panic!("expected bind_transceiver, got {actions:?}");
        };
        assert_eq!(b.interface_version, 0x34);
        s.on_pdu(
            Pdu::request(*sequence, Body::BindTransceiverResp(BindResp::default())),
            t0,
        );
        assert!(s.is_bound());
        assert!(drain(&mut s).is_empty());
        s
    }

    #[test]
    fn bind_transceiver_is_sent_on_connect_and_resp_binds_smpp_4_1_5() {
        bound(config(), Instant::now());
    }

    #[test]
    fn window_limits_outstanding_submits_and_responses_match_by_sequence_2_5() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        for n in 0..3 {
            s.submit(SubmitId(u64::from(n)), sm(n), t0);
        }
        let first = sent_submits(&drain(&mut s));
        assert_eq!(first.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 1]);
        // answer the second first: its own caller gets its own id
        s.on_pdu(resp(first[1].0, CommandStatus::Ok, "m1"), t0);
        let actions = drain(&mut s);
        assert!(actions.contains(&Action::SubmitDone {
            id: SubmitId(1),
            result: Ok(MessageId("m1".into()))
        }));
        assert_eq!(
            sent_submits(&actions)
                .iter()
                .map(|x| x.1)
                .collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(s.pending(), 2);
    }

    #[test]
    fn throttle_spaces_submits_to_configured_rate() {
        let t0 = Instant::now();
        let mut s = bound(
            SessionConfig {
                window: 10,
                throttle_per_second: Some(4),
                ..config()
            },
            t0,
        );
        for n in 0..3 {
            s.submit(SubmitId(u64::from(n)), sm(n), t0);
        }
        assert_eq!(sent_submits(&drain(&mut s)).len(), 1);
        let next = s.poll_timeout().unwrap();
        assert_eq!(next, t0 + ms(250));
        s.on_timeout(t0 + ms(100));
        assert_eq!(sent_submits(&drain(&mut s)).len(), 0);
        s.on_timeout(next);
        assert_eq!(sent_submits(&drain(&mut s)).len(), 1);
    }

    #[test]
    fn throttled_response_pauses_and_resends_same_message_smpp_5_1_3() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.submit(SubmitId(7), sm(7), t0);
        let [(seq, 7)] = sent_submits(&drain(&mut s))[..] else {
            panic!()
        };
        s.on_pdu(resp(seq, CommandStatus::Throttled, ""), t0);
        assert!(drain(&mut s).is_empty(), "no result yet, no resend yet");
        s.submit(SubmitId(8), sm(8), t0);
        assert!(sent_submits(&drain(&mut s)).is_empty(), "paused");
        assert_eq!(s.poll_timeout(), Some(t0 + ms(100)));
        s.on_timeout(t0 + ms(100));
        let resent = sent_submits(&drain(&mut s));
        assert_eq!(resent.iter().map(|x| x.1).collect::<Vec<_>>(), vec![7, 8]);
        assert_ne!(resent[0].0, seq, "a retry gets a new sequence number");
        // queue full next: pause doubles to 200 ms
        s.on_pdu(
            resp(resent[0].0, CommandStatus::MessageQueueFull, ""),
            t0 + ms(100),
        );
        s.on_pdu(resp(resent[1].0, CommandStatus::Ok, "b"), t0 + ms(100));
        assert!(sent_submits(&drain(&mut s)).is_empty());
        assert_eq!(s.poll_timeout(), Some(t0 + ms(300)));
        s.on_timeout(t0 + ms(300));
        let again = sent_submits(&drain(&mut s));
        s.on_pdu(resp(again[0].0, CommandStatus::Ok, "a"), t0 + ms(300));
        assert_eq!(
            drain(&mut s),
            vec![Action::SubmitDone {
                id: SubmitId(7),
                result: Ok(MessageId("a".into()))
            }]
        );
    }

    #[test]
    fn throttling_beyond_max_attempts_fails_transient() {
        let t0 = Instant::now();
        let mut s = bound(
            SessionConfig {
                max_attempts: 2,
                ..config()
            },
            t0,
        );
        s.submit(SubmitId(1), sm(1), t0);
        let mut now = t0;
        let mut result = None;
        for _ in 0..3 {
            for (seq, _) in sent_submits(&drain(&mut s)) {
                s.on_pdu(resp(seq, CommandStatus::Throttled, ""), now);
            }
            for a in drain(&mut s) {
                if let Action::SubmitDone { result: r, .. } = a {
                    result = Some(r);
                }
            }
            now = s.poll_timeout().unwrap();
            s.on_timeout(now);
        }
        let err = result.unwrap().unwrap_err();
        assert_eq!(err, SubmitError::Rejected(CommandStatus::Throttled));
        assert!(err.is_transient());
    }

    #[test]
    fn other_error_status_fails_permanently() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.submit(SubmitId(1), sm(1), t0);
        let seq = sent_submits(&drain(&mut s))[0].0;
        s.on_pdu(resp(seq, CommandStatus::InvalidDestinationAddress, ""), t0);
        let [Action::SubmitDone { result: Err(e), .. }] = &drain(&mut s)[..] else {
            panic!()
        };
        assert!(!e.is_transient());
    }

    #[test]
    fn generic_nack_for_a_submit_fails_it_with_its_status_smpp_4_3() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.submit(SubmitId(1), sm(1), t0);
        let seq = sent_submits(&drain(&mut s))[0].0;
        s.on_pdu(
            Pdu {
                sequence: seq,
                status: CommandStatus::InvalidCommandLength,
                body: Body::GenericNack,
            },
            t0,
        );
        assert_eq!(
            drain(&mut s),
            vec![Action::SubmitDone {
                id: SubmitId(1),
                result: Err(SubmitError::Rejected(CommandStatus::InvalidCommandLength))
            }]
        );
    }

    #[test]
    fn enquire_link_after_silence_and_dead_link_reconnects_smpp_4_11() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        let interval = SessionConfig::default().enquire_link_interval;
        assert_eq!(s.poll_timeout(), Some(t0 + interval));
        s.on_timeout(t0 + interval);
        let actions = drain(&mut s);
        assert!(matches!(
            actions.as_slice(),
            [Action::Send(Pdu {
                body: Body::EnquireLink,
                ..
            })]
        ));
        // a submit goes out, then the link dies
        s.submit(SubmitId(1), sm(1), t0 + interval + ms(1));
        drain(&mut s);
        let dead = t0 + interval + SessionConfig::default().response_timeout;
        s.on_timeout(dead);
        let actions = drain(&mut s);
        assert!(actions.contains(&Action::Disconnect));
        assert!(actions.contains(&Action::SubmitDone {
            id: SubmitId(1),
            result: Err(SubmitError::ConnectionLost)
        }));
        assert!(!s.is_bound());
        assert_eq!(s.poll_timeout(), Some(dead + ms(200)));
        s.on_timeout(dead + ms(200));
        assert_eq!(drain(&mut s), vec![Action::Connect]);
    }

    #[test]
    fn enquire_link_resp_keeps_link_alive() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        let interval = SessionConfig::default().enquire_link_interval;
        s.on_timeout(t0 + interval);
        let Some(Action::Send(Pdu { sequence, .. })) = s.poll_action() else {
            panic!()
        };
        s.on_pdu(
            Pdu::request(sequence, Body::EnquireLinkResp),
            t0 + interval + ms(5),
        );
        s.on_timeout(t0 + interval + SessionConfig::default().response_timeout);
        assert!(s.is_bound());
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn smsc_enquire_link_and_deliver_sm_are_answered() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.on_pdu(Pdu::request(99, Body::EnquireLink), t0);
        let receipt = SubmitSm {
            esm_class: 0x04,
            short_message: Bytes::from_static(b"id:1 stat:DELIVRD"),
            ..SubmitSm::default()
        };
        s.on_pdu(
            Pdu::request(100, Body::DeliverSm(Box::new(receipt.clone()))),
            t0,
        );
        assert_eq!(
            drain(&mut s),
            vec![
                Action::Send(Pdu::request(99, Body::EnquireLinkResp)),
                Action::Send(Pdu::request(100, Body::DeliverSmResp)),
                Action::Deliver(Box::new(receipt)),
            ]
        );
    }

    #[test]
    fn bind_rejection_reconnects_with_growing_backoff() {
        let t0 = Instant::now();
        let mut s = Session::new(config(), t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..3 {
            s.on_timeout(now);
            assert_eq!(drain(&mut s), vec![Action::Connect]);
            s.on_connected(now);
            let Some(Action::Send(Pdu { sequence, .. })) = s.poll_action() else {
                panic!()
            };
            s.on_pdu(
                Pdu {
                    sequence,
                    status: CommandStatus::InvalidPassword,
                    body: Body::BindTransceiverResp(BindResp::default()),
                },
                now,
            );
            assert_eq!(
                drain(&mut s),
                vec![
                    Action::BindRejected(CommandStatus::InvalidPassword),
                    Action::Disconnect
                ]
            );
            let next = s.poll_timeout().unwrap();
            delays.push(next - now);
            now = next;
        }
        assert_eq!(delays, vec![ms(200), ms(400), ms(800)]);
    }

    #[test]
    fn connect_failure_retries_after_backoff() {
        let t0 = Instant::now();
        let mut s = Session::new(config(), t0);
        s.on_timeout(t0);
        drain(&mut s);
        s.on_connect_failed(t0);
        assert_eq!(s.poll_timeout(), Some(t0 + ms(200)));
    }

    #[test]
    fn shutdown_waits_for_outstanding_then_unbinds_smpp_4_2() {
        let t0 = Instant::now();
        let mut s = bound(
            SessionConfig {
                window: 1,
                ..config()
            },
            t0,
        );
        s.submit(SubmitId(1), sm(1), t0);
        s.submit(SubmitId(2), sm(2), t0);
        let seq = sent_submits(&drain(&mut s))[0].0;
        s.shutdown(t0);
        assert_eq!(
            drain(&mut s),
            vec![Action::SubmitDone {
                id: SubmitId(2),
                result: Err(SubmitError::Shutdown)
            }]
        );
        s.on_pdu(resp(seq, CommandStatus::Ok, "x"), t0);
        let actions = drain(&mut s);
        let Some(Action::Send(Pdu {
            sequence: unbind_seq,
            body: Body::Unbind,
            ..
        })) = actions.last()
        else {
            panic!("{actions:?}")
        };
        s.submit(SubmitId(3), sm(3), t0);
        assert_eq!(
            drain(&mut s),
            vec![Action::SubmitDone {
                id: SubmitId(3),
                result: Err(SubmitError::Shutdown)
            }]
        );
        s.on_pdu(Pdu::request(*unbind_seq, Body::UnbindResp), t0);
        assert_eq!(drain(&mut s), vec![Action::Disconnect, Action::Closed]);
        assert!(s.is_closed());
    }

    #[test]
    fn smsc_unbind_is_answered_and_session_reconnects() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.on_pdu(Pdu::request(5, Body::Unbind), t0);
        assert_eq!(
            drain(&mut s),
            vec![
                Action::Send(Pdu::request(5, Body::UnbindResp)),
                Action::Disconnect
            ]
        );
        assert_eq!(s.poll_timeout(), Some(t0 + ms(200)));
    }

    #[test]
    fn undecodable_request_gets_generic_nack_and_broken_stream_disconnects() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.on_decode_error(
            &DecodeError::UnknownCommand {
                command_id: 0x99,
                sequence: 4,
                frame_len: 16,
            },
            t0,
        );
        assert_eq!(
            drain(&mut s),
            vec![Action::Send(Pdu {
                sequence: 4,
                status: CommandStatus::InvalidCommandId,
                body: Body::GenericNack
            })]
        );
        s.on_decode_error(&DecodeError::InvalidCommandLength(3), t0);
        assert_eq!(drain(&mut s), vec![Action::Disconnect]);
    }

    #[test]
    fn submit_without_response_times_out_and_unsent_submit_times_out_in_queue() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        s.submit(SubmitId(1), sm(1), t0);
        drain(&mut s);
        let rt = SessionConfig::default().response_timeout;
        s.on_timeout(t0 + rt);
        assert!(drain(&mut s).contains(&Action::SubmitDone {
            id: SubmitId(1),
            result: Err(SubmitError::Timeout)
        }));

        let mut idle = Session::new(config(), t0);
        idle.submit(SubmitId(2), sm(2), t0);
        let qt = SessionConfig::default().queue_timeout;
        idle.on_timeout(t0);
        drain(&mut idle);
        idle.on_connect_failed(t0);
        idle.on_timeout(t0 + qt);
        assert!(drain(&mut idle).contains(&Action::SubmitDone {
            id: SubmitId(2),
            result: Err(SubmitError::Timeout)
        }));
    }

    #[test]
    fn unencodable_submit_fails_permanently_without_sending() {
        let t0 = Instant::now();
        let mut s = bound(config(), t0);
        let mut bad = sm(1);
        bad.short_message = Bytes::from(vec![0; 300]);
        s.submit(SubmitId(1), bad, t0);
        let [Action::SubmitDone { result: Err(e), .. }] = &drain(&mut s)[..] else {
            panic!()
        };
        assert!(matches!(e, SubmitError::Invalid(_)));
        assert!(!e.is_transient());
    }
}
