//! The initiator's side of one Diameter peer connection as a sans-IO state machine: capabilities exchange
//! (RFC 6733 §5.3), the watchdog of RFC 3539 §3.4 (Tw timer, DWR when idle, down when a DWR goes unanswered),
//! answering the peer's DWR and DPR (RFC 6733 §5.4–§5.5), Hop-by-Hop identifiers and a pending-request table
//! with timeouts, and disconnect with DPR/DPA. Events and `now` go in; [`Action`]s come out; no sockets, no sleeps.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::base::{self, CapabilitiesExchange, DisconnectCause, Identity};
use crate::codes::*;
use crate::message::Message;
use crate::result::AnswerResult;

/// Timers and identity of a connection.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// Our CER content (Origin-Host/Realm, Host-IP-Address, applications).
    pub capabilities: CapabilitiesExchange,
    /// Application the peer must advertise in its CEA (e.g. Sh 16777217), if any.
    pub required_application: Option<u32>,
    /// Tw (RFC 3539 §3.4.1): idle time before a DWR, and time a DWR may go unanswered.
    pub watchdog_interval: Duration,
    /// How long a request may wait for its answer.
    pub request_timeout: Duration,
    /// How long to wait for the CEA, and for the DPA on close.
    pub handshake_timeout: Duration,
}

/// Where the connection is (RFC 3539 §3.4 states, with the CER/CEA and DPR/DPA phases around them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// CER sent, waiting for the CEA.
    WaitCea,
    /// Open: requests may be sent.
    Open,
    /// A DWR is outstanding after Tw of silence; requests go to other peers if possible.
    Suspect,
    /// DPR sent, waiting for the DPA.
    Closing,
    /// Finished; the transport should be closed.
    Closed,
}

/// Why a request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFailure {
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    Timeout,
    /// The connection went down first; the request may be retransmitted elsewhere with the T flag.
    #[error("connection to the peer was lost")]
    ConnectionLost,
    /// The connection is not open.
    #[error("connection is not open")]
    NotOpen,
}

/// Why the connection went down.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// The CEA did not arrive in time.
    HandshakeTimeout,
    /// The CEA had a Result-Code other than success, or lacked the required application.
    CapabilitiesRejected {
        /// Result-Code of the CEA (5010 when the application was missing).
        result_code: u32,
    },
    /// The peer sent something that is not a valid CEA.
    InvalidCea,
    /// The watchdog's DWR went unanswered for Tw (RFC 3539 §3.4.1).
    WatchdogExpired,
    /// The peer sent DPR.
    PeerDisconnected,
    /// We closed (DPA received or DPA timeout).
    LocalClose,
    /// The transport failed (reset, EOF, undecodable bytes).
    TransportLost,
}

/// What the IO layer must do next.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Write this message.
    Send(Message),
    /// The answer to the request sent with `token`.
    Answer {
        /// The caller's token.
        token: u64,
        /// The answer.
        message: Message,
    },
    /// The request sent with `token` failed.
    Failed {
        /// The caller's token.
        token: u64,
        /// Why.
        reason: RequestFailure,
    },
    /// The connection is open; the peer's CEA content.
    Up(Box<CapabilitiesExchange>),
    /// The connection is down; close the transport.
    Down(DownReason),
}

struct Pending {
    token: u64,
    deadline: Instant,
}

/// One peer connection's protocol state (see the module doc).
pub struct Connection {
    config: ConnectionConfig,
    state: State,
    next_hop_by_hop: u32,
    end_to_end: EndToEndIds,
    pending: HashMap<u32, Pending>,
    /// Deadlines in send order (equal timeouts keep this sorted); answered entries are skipped lazily.
    deadlines: VecDeque<(Instant, u32)>,
    /// CEA/DPA deadline or watchdog timer, by state.
    timer: Instant,
    watchdog_hop_by_hop: Option<u32>,
    handshake_hop_by_hop: u32,
    actions: VecDeque<Action>,
}

impl Connection {
    /// Starts the exchange on a freshly connected transport: queues the CER. `seed` varies the identifiers
    /// (e.g. the current Unix time, RFC 6733 §3 suggests it for End-to-End).
    pub fn new(config: ConnectionConfig, now: Instant, seed: u32) -> Self {
        let mut c = Self {
            timer: now + config.handshake_timeout,
            config,
            state: State::WaitCea,
            next_hop_by_hop: seed.rotate_left(16),
            end_to_end: EndToEndIds::new(seed),
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            watchdog_hop_by_hop: None,
            handshake_hop_by_hop: 0,
            actions: VecDeque::new(),
        };
        let mut cer = c.config.capabilities.to_request();
        c.handshake_hop_by_hop = c.stamp(&mut cer);
        c.actions.push_back(Action::Send(cer));
        c
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// True when requests may be sent (Open; Suspect still accepts but callers should prefer other peers).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Number of requests awaiting answers.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn identity(&self) -> &Identity {
        &self.config.capabilities.identity
    }

    /// Sets fresh Hop-by-Hop (and End-to-End when 0) identifiers; returns the Hop-by-Hop.
    fn stamp(&mut self, m: &mut Message) -> u32 {
        let hbh = self.next_hop_by_hop;
        self.next_hop_by_hop = self.next_hop_by_hop.wrapping_add(1);
        m.hop_by_hop = hbh;
        if m.end_to_end == 0 {
            m.end_to_end = self.end_to_end.next_id();
        }
        hbh
    }

    /// Sends an application request (Open or Suspect). Hop-by-Hop is set here; an End-to-End of 0 is
    /// replaced by a fresh one (keep it when retransmitting with the T flag, RFC 6733 §5.5.4).
    pub fn send_request(
        &mut self,
        mut message: Message,
        token: u64,
        now: Instant,
    ) -> Result<(), RequestFailure> {
        if !matches!(self.state, State::Open | State::Suspect) {
            return Err(RequestFailure::NotOpen);
        }
        let hbh = self.stamp(&mut message);
        let deadline = now + self.config.request_timeout;
        self.pending.insert(hbh, Pending { token, deadline });
        self.deadlines.push_back((deadline, hbh));
        self.actions.push_back(Action::Send(message));
        Ok(())
    }

    /// Handles a message read from the peer.
    pub fn handle_message(&mut self, message: Message, now: Instant) {
        match self.state {
            State::Closed => {}
            State::WaitCea => self.on_cea(message, now),
            State::Open | State::Suspect | State::Closing => {
                // RFC 3539 §3.4.1: any traffic from the peer resets the watchdog.
                if self.state == State::Suspect {
                    self.state = State::Open;
                    self.watchdog_hop_by_hop = None;
                }
                if self.state == State::Open {
                    self.timer = now + self.config.watchdog_interval;
                }
                if message.flags.request {
                    self.on_peer_request(message);
                } else {
                    self.on_answer(message);
                }
            }
        }
    }

    fn on_cea(&mut self, message: Message, now: Instant) {
        if message.flags.request || message.command_code != CMD_CAPABILITIES_EXCHANGE {
            if message.flags.request && message.command_code == CMD_DEVICE_WATCHDOG {
                let answer = base::watchdog_answer(&message, self.identity());
                self.actions.push_back(Action::Send(answer));
            }
            return;
        }
        let Ok(cea) = CapabilitiesExchange::from_message(&message) else {
            self.go_down(DownReason::InvalidCea);
            return;
        };
        let code = cea.result_code.unwrap_or(0);
        if code != DIAMETER_SUCCESS {
            self.go_down(DownReason::CapabilitiesRejected { result_code: code });
            return;
        }
        if let Some(app) = self.config.required_application
            && !cea.supports_application(app)
        {
            self.go_down(DownReason::CapabilitiesRejected {
                result_code: DIAMETER_NO_COMMON_APPLICATION,
            });
            return;
        }
        self.state = State::Open;
        self.timer = now + self.config.watchdog_interval;
        self.actions.push_back(Action::Up(Box::new(cea)));
    }

    fn on_peer_request(&mut self, message: Message) {
        match message.command_code {
            CMD_DEVICE_WATCHDOG => {
                let answer = base::watchdog_answer(&message, self.identity());
                self.actions.push_back(Action::Send(answer));
            }
            CMD_DISCONNECT_PEER => {
                let answer = base::disconnect_answer(&message, self.identity());
                self.actions.push_back(Action::Send(answer));
                self.go_down(DownReason::PeerDisconnected);
            }
            _ => {
                // RFC 6733 §7.1.3: a command we do not serve as a client.
                let mut answer = message
                    .answer_to()
                    .with(AnswerResult::ResultCode(3001).to_avp());
                answer.flags.error = true;
                answer.avps.extend(self.identity().avps());
                self.actions.push_back(Action::Send(answer));
            }
        }
    }

    fn on_answer(&mut self, message: Message) {
        if self.state == State::Closing
            && message.command_code == CMD_DISCONNECT_PEER
            && message.hop_by_hop == self.handshake_hop_by_hop
        {
            self.go_down(DownReason::LocalClose);
            return;
        }
        if Some(message.hop_by_hop) == self.watchdog_hop_by_hop {
            self.watchdog_hop_by_hop = None;
            return;
        }
        if let Some(p) = self.pending.remove(&message.hop_by_hop) {
            self.actions.push_back(Action::Answer {
                token: p.token,
                message,
            });
            // Answers mostly come in order: drop answered entries at the front so that
            // `poll_timeout` finds the earliest live deadline without scanning.
            while self
                .deadlines
                .front()
                .is_some_and(|(_, hbh)| !self.pending.contains_key(hbh))
            {
                self.deadlines.pop_front();
            }
        }
        // RFC 6733 §6.2.1: an answer with an unknown Hop-by-Hop is discarded.
    }

    /// The next instant at which [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let first_pending = self
            .deadlines
            .iter()
            .find(|(_, hbh)| self.pending.contains_key(hbh))
            .map(|(d, _)| *d);
        Some(first_pending.map_or(self.timer, |d| d.min(self.timer)))
    }

    /// Fires the timers due at `now`: request timeouts, CEA/DPA timeout, watchdog.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, hbh)) = self.deadlines.front() {
            if deadline > now && self.pending.contains_key(&hbh) {
                break;
            }
            self.deadlines.pop_front();
            if deadline <= now
                && let Some(p) = self.pending.remove(&hbh)
            {
                self.actions.push_back(Action::Failed {
                    token: p.token,
                    reason: RequestFailure::Timeout,
                });
            }
        }
        if now < self.timer {
            return;
        }
        match self.state {
            State::WaitCea => self.go_down(DownReason::HandshakeTimeout),
            State::Closing => self.go_down(DownReason::LocalClose),
            State::Open => {
                let mut dwr = base::watchdog_request(self.identity());
                self.watchdog_hop_by_hop = Some(self.stamp(&mut dwr));
                self.actions.push_back(Action::Send(dwr));
                self.state = State::Suspect;
                self.timer = now + self.config.watchdog_interval;
            }
            State::Suspect => self.go_down(DownReason::WatchdogExpired),
            State::Closed => {}
        }
    }

    /// Starts an orderly close (RFC 6733 §5.4): DPR, then down on DPA or after the handshake timeout.
    /// Outstanding requests are failed as lost so callers can fail over.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Open | State::Suspect => {
                self.fail_pending(RequestFailure::ConnectionLost);
                let mut dpr = base::disconnect_request(self.identity(), DisconnectCause::Rebooting);
                self.handshake_hop_by_hop = self.stamp(&mut dpr);
                self.actions.push_back(Action::Send(dpr));
                self.state = State::Closing;
                self.timer = now + self.config.handshake_timeout;
            }
            State::WaitCea => self.go_down(DownReason::LocalClose),
            State::Closing | State::Closed => {}
        }
    }

    /// The transport failed (EOF, reset, undecodable stream).
    pub fn transport_lost(&mut self) {
        if self.state != State::Closed {
            self.go_down(DownReason::TransportLost);
        }
    }

    fn fail_pending(&mut self, reason: RequestFailure) {
        let mut failed: Vec<(u32, Pending)> = self.pending.drain().collect();
        failed.sort_by_key(|(_, p)| p.deadline);
        for (_, p) in failed {
            self.actions.push_back(Action::Failed {
                token: p.token,
                reason,
            });
        }
        self.deadlines.clear();
    }

    fn go_down(&mut self, reason: DownReason) {
        self.fail_pending(RequestFailure::ConnectionLost);
        self.state = State::Closed;
        self.watchdog_hop_by_hop = None;
        self.actions.push_back(Action::Down(reason));
    }

    /// The next action for the IO layer, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
}

/// End-to-End identifiers (RFC 6733 §3): high 12 bits from a start-up seed (low bits of the time), low 20 bits
/// a counter, so identifiers stay unique across restarts for a while.
#[derive(Clone, Debug)]
pub struct EndToEndIds {
    high: u32,
    counter: u32,
}

impl EndToEndIds {
    /// From a seed such as the Unix time in seconds.
    pub fn new(seed: u32) -> Self {
        Self {
            high: (seed & 0xfff) << 20,
            counter: seed.wrapping_mul(2_654_435_761) >> 12,
        }
    }

    /// The next identifier.
    pub fn next_id(&mut self) -> u32 {
        self.counter = (self.counter + 1) & 0x000f_ffff;
        self.high | self.counter
    }
}

/// Reconnect delays doubling from `initial` up to `max` (RFC 3539 §3.4.1 suggests backing off reconnects).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A new backoff starting at `initial`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next attempt; doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to `initial` after a successful connection.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::VendorSpecificApplicationId;
    use crate::message::Message;
    use crate::result::check_answer;

    const TW: Duration = Duration::from_secs(30);
    const RT: Duration = Duration::from_secs(5);
    const HS: Duration = Duration::from_secs(3);

    fn ident(h: &str) -> Identity {
        Identity {
            host: h.into(),
            realm: "example".into(),
        }
    }

    fn config() -> ConnectionConfig {
        ConnectionConfig {
            capabilities: CapabilitiesExchange::sh_client(
                ident("relay.example"),
                "127.0.0.1".parse().unwrap(),
                "mmsrelay",
            ),
            required_application: Some(APP_SH),
            watchdog_interval: TW,
            request_timeout: RT,
            handshake_timeout: HS,
        }
    }

    fn drain(c: &mut Connection) -> Vec<Action> {
        std::iter::from_fn(|| c.poll_action()).collect()
    }

    fn sent(actions: &[Action]) -> Vec<&Message> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn cea_for(cer: &Message, code: u32, apps: Vec<VendorSpecificApplicationId>) -> Message {
        let mut caps = CapabilitiesExchange::sh_client(
            ident("hss.example"),
            "127.0.0.1".parse().unwrap(),
            "hss",
        );
        caps.vendor_specific_application_ids = apps;
        caps.result_code = Some(code);
        caps.to_answer(cer)
    }

    fn open(now: Instant) -> Connection {
        let mut c = Connection::new(config(), now, 1000);
        let actions = drain(&mut c);
        let cer = sent(&actions)[0].clone();
        c.handle_message(
            cea_for(&cer, 2001, vec![VendorSpecificApplicationId::SH]),
            now,
        );
        assert!(matches!(drain(&mut c).as_slice(), [Action::Up(_)]));
        c
    }

    fn udr() -> Message {
        Message::request(CMD_USER_DATA, APP_SH, true)
    }

    #[test]
    fn cer_is_sent_first_and_cea_success_opens_rfc6733_5_3() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now, 1);
        let actions = drain(&mut c);
        let cer = sent(&actions);
        assert_eq!(cer.len(), 1);
        assert_eq!(cer[0].command_code, CMD_CAPABILITIES_EXCHANGE);
        assert!(cer[0].flags.request);
        assert_eq!(c.state(), State::WaitCea);
        assert_eq!(c.send_request(udr(), 1, now), Err(RequestFailure::NotOpen));
        let c = open(now);
        assert!(c.is_open());
    }

    #[test]
    fn cea_without_sh_is_no_common_application_5010_rfc6733_5_3_2() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now, 1);
        let cer = sent(&drain(&mut c))[0].clone();
        c.handle_message(cea_for(&cer, 2001, vec![]), now);
        assert_eq!(
            drain(&mut c),
            vec![Action::Down(DownReason::CapabilitiesRejected {
                result_code: 5010
            })]
        );
        assert_eq!(c.state(), State::Closed);
    }

    #[test]
    fn cea_with_error_result_goes_down_rfc6733_5_3_2() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now, 1);
        let cer = sent(&drain(&mut c))[0].clone();
        c.handle_message(
            cea_for(&cer, 3010, vec![VendorSpecificApplicationId::SH]),
            now,
        );
        assert_eq!(
            drain(&mut c),
            vec![Action::Down(DownReason::CapabilitiesRejected {
                result_code: 3010
            })]
        );
    }

    #[test]
    fn missing_cea_times_out() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now, 1);
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(now + HS));
        c.handle_timeout(now + HS);
        assert_eq!(
            drain(&mut c),
            vec![Action::Down(DownReason::HandshakeTimeout)]
        );
    }

    #[test]
    fn answer_is_matched_by_hop_by_hop_and_unknown_ones_are_discarded_rfc6733_6_2_1() {
        let now = Instant::now();
        let mut c = open(now);
        c.send_request(udr(), 7, now).unwrap();
        c.send_request(udr(), 8, now).unwrap();
        let actions = drain(&mut c);
        let reqs = sent(&actions);
        assert_ne!(reqs[0].hop_by_hop, reqs[1].hop_by_hop);
        assert_ne!(reqs[0].end_to_end, reqs[1].end_to_end);
        let mut stray = reqs[0].answer_to();
        stray.hop_by_hop ^= 0xffff;
        c.handle_message(stray, now);
        assert!(drain(&mut c).is_empty());
        let answer = reqs[1].answer_to();
        c.handle_message(answer.clone(), now);
        assert_eq!(
            drain(&mut c),
            vec![Action::Answer {
                token: 8,
                message: answer
            }]
        );
        assert_eq!(c.pending_len(), 1);
    }

    #[test]
    fn answered_requests_do_not_pile_up_in_the_deadline_queue() {
        let now = Instant::now();
        let mut c = open(now);
        for t in 0..1000 {
            c.send_request(udr(), t, now).unwrap();
            let req = sent(&drain(&mut c))[0].clone();
            c.handle_message(req.answer_to(), now);
            drain(&mut c);
        }
        assert_eq!(c.deadlines.len(), 0);
        assert_eq!(c.poll_timeout(), Some(now + TW));
    }

    #[test]
    fn request_without_answer_fails_with_timeout_at_its_deadline() {
        let now = Instant::now();
        let mut c = open(now);
        c.send_request(udr(), 1, now).unwrap();
        c.send_request(udr(), 2, now + Duration::from_secs(1))
            .unwrap();
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(now + RT));
        c.handle_timeout(now + RT);
        assert_eq!(
            drain(&mut c),
            vec![Action::Failed {
                token: 1,
                reason: RequestFailure::Timeout
            }]
        );
        assert_eq!(c.poll_timeout(), Some(now + RT + Duration::from_secs(1)));
    }

    #[test]
    fn idle_tw_sends_dwr_and_dwa_returns_to_open_rfc3539_3_4_1() {
        let now = Instant::now();
        let mut c = open(now);
        assert_eq!(c.poll_timeout(), Some(now + TW));
        c.handle_timeout(now + TW);
        let actions = drain(&mut c);
        let dwr = sent(&actions)[0].clone();
        assert_eq!(dwr.command_code, CMD_DEVICE_WATCHDOG);
        assert_eq!(c.state(), State::Suspect);
        c.handle_message(base::watchdog_answer(&dwr, &ident("hss.example")), now + TW);
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.state(), State::Open);
        assert_eq!(c.poll_timeout(), Some(now + TW + TW));
    }

    #[test]
    fn unanswered_dwr_takes_the_connection_down_and_fails_pending_over_rfc3539_3_4_1() {
        let now = Instant::now();
        let mut c = open(now);
        c.handle_timeout(now + TW);
        drain(&mut c);
        c.send_request(udr(), 5, now + TW + TW - Duration::from_secs(1))
            .unwrap();
        drain(&mut c);
        c.handle_timeout(now + TW + TW);
        assert_eq!(
            drain(&mut c),
            vec![
                Action::Failed {
                    token: 5,
                    reason: RequestFailure::ConnectionLost
                },
                Action::Down(DownReason::WatchdogExpired)
            ]
        );
    }

    #[test]
    fn traffic_from_the_peer_postpones_the_watchdog_rfc3539_3_4_1() {
        let now = Instant::now();
        let mut c = open(now);
        c.send_request(udr(), 1, now).unwrap();
        let req = sent(&drain(&mut c))[0].clone();
        let later = now + Duration::from_secs(20);
        c.handle_message(req.answer_to(), later);
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(later + TW));
    }

    #[test]
    fn peer_dwr_is_answered_with_success_rfc6733_5_5_2() {
        let now = Instant::now();
        let mut c = open(now);
        let mut dwr = base::watchdog_request(&ident("hss.example"));
        dwr.hop_by_hop = 99;
        c.handle_message(dwr, now);
        let actions = drain(&mut c);
        let dwa = sent(&actions)[0];
        assert_eq!(
            (dwa.command_code, dwa.hop_by_hop),
            (CMD_DEVICE_WATCHDOG, 99)
        );
        assert!(!dwa.flags.request);
        assert_eq!(check_answer(dwa), Ok(()));
        assert_eq!(Identity::of(dwa).unwrap().host, "relay.example");
    }

    #[test]
    fn peer_dpr_is_answered_and_takes_the_connection_down_rfc6733_5_4() {
        let now = Instant::now();
        let mut c = open(now);
        let dpr = base::disconnect_request(&ident("hss.example"), DisconnectCause::Busy);
        c.handle_message(dpr, now);
        let actions = drain(&mut c);
        assert_eq!(sent(&actions)[0].command_code, CMD_DISCONNECT_PEER);
        assert_eq!(
            actions.last(),
            Some(&Action::Down(DownReason::PeerDisconnected))
        );
    }

    #[test]
    fn close_sends_dpr_and_dpa_finishes_rfc6733_5_4_1() {
        let now = Instant::now();
        let mut c = open(now);
        c.close(now);
        let actions = drain(&mut c);
        let dpr = sent(&actions)[0].clone();
        assert_eq!(dpr.command_code, CMD_DISCONNECT_PEER);
        assert_eq!(c.state(), State::Closing);
        c.handle_message(base::disconnect_answer(&dpr, &ident("hss.example")), now);
        assert_eq!(drain(&mut c), vec![Action::Down(DownReason::LocalClose)]);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn close_without_dpa_finishes_after_the_handshake_timeout() {
        let now = Instant::now();
        let mut c = open(now);
        c.close(now);
        drain(&mut c);
        c.handle_timeout(now + HS);
        assert_eq!(drain(&mut c), vec![Action::Down(DownReason::LocalClose)]);
    }

    #[test]
    fn transport_loss_fails_every_pending_request() {
        let now = Instant::now();
        let mut c = open(now);
        for t in 0..3 {
            c.send_request(udr(), t, now).unwrap();
        }
        drain(&mut c);
        c.transport_lost();
        let actions = drain(&mut c);
        assert_eq!(actions.len(), 4);
        assert_eq!(
            actions.last(),
            Some(&Action::Down(DownReason::TransportLost))
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seq: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seq, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[test]
    fn end_to_end_ids_keep_the_seed_in_the_high_bits_rfc6733_3() {
        let mut ids = EndToEndIds::new(0xabc);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_eq!(a >> 20, 0xabc);
        assert_ne!(a, b);
    }
}
