//! Per-recipient delivery state (DESIGN.md §7; TS 23.140 §8.1.1 handling of an MM per recipient).
//!
//! `resolving -> forwarding -> forwarded | notifying -> notified -> retrieved | expired | rejected | failed`.
//! Transitions are pure functions: the store reads the current state, applies one of them and writes the
//! result with a compare-and-set, so two nodes racing on one recipient cannot both win.

use std::fmt;

/// Where one recipient of a stored MM stands (DESIGN.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// The relay is resolving the recipient address to a route (DESIGN.md §3).
    Resolving,
    /// The MM is queued for MM4_forward.REQ to the recipient's relay (TS 23.140 §8.4.1).
    Forwarding,
    /// The peer relay acknowledged MM4_forward.RES with Ok; our responsibility ended.
    Forwarded,
    /// A local recipient: m-notification-ind is queued for WAP push (MMS ENC §6.2).
    Notifying,
    /// The notification was handed to the SMSC; waiting for the UA to fetch.
    Notified,
    /// The UA fetched the MM (m-retrieve-conf / m-acknowledge-ind, MMS ENC §6.3).
    Retrieved,
    /// The MM's expiry passed before delivery (MMS ENC Status Expired 128).
    Expired,
    /// The UA rejected the MM (m-notifyresp-ind Status Rejected 130).
    Rejected,
    /// Delivery failed permanently (unresolvable, unknown recipient, permanent peer error).
    Failed,
}

/// Every state, in declaration order (for exhaustive tests and schema checks).
pub const ALL_STATES: [RecipientState; 9] = [
    RecipientState::Resolving,
    RecipientState::Forwarding,
    RecipientState::Forwarded,
    RecipientState::Notifying,
    RecipientState::Notified,
    RecipientState::Retrieved,
    RecipientState::Expired,
    RecipientState::Rejected,
    RecipientState::Failed,
];

/// Something that happened to a recipient; input of [`RecipientState::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientEvent {
    /// Resolution found a remote relay (DESIGN.md §3 steps 2–4); `peer` is the MMSE domain or host.
    ResolvedRemote {
        /// The peer the MM will be forwarded to.
        peer: String,
    },
    /// Resolution found the recipient local (DESIGN.md §4); `msisdn` is the number to notify.
    ResolvedLocal {
        /// E.164 digits the push goes to.
        msisdn: String,
    },
    /// The peer answered MM4_forward.RES with Request-Status Ok.
    Forwarded,
    /// The push carrying m-notification-ind was accepted by the SMSC.
    PushSent,
    /// The UA fetched (and acknowledged) the MM.
    Retrieved,
    /// The UA rejected the MM in m-notifyresp-ind.
    Rejected,
    /// The MM's expiry passed.
    Expired,
    /// A permanent error ended delivery.
    Failed {
        /// Why, for the delivery report and the operator.
        error: String,
    },
}

impl RecipientEvent {
    /// Short name of the event, as stored and logged.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ResolvedRemote { .. } => "resolved-remote",
            Self::ResolvedLocal { .. } => "resolved-local",
            Self::Forwarded => "forwarded",
            Self::PushSent => "push-sent",
            Self::Retrieved => "retrieved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Failed { .. } => "failed",
        }
    }

    /// The route detail this event carries (peer or MSISDN), stored beside the state.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::ResolvedRemote { peer } => Some(peer),
            Self::ResolvedLocal { msisdn } => Some(msisdn),
            _ => None,
        }
    }

    /// The error this event carries, stored as the recipient's last error.
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// An event that the current state does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("recipient in state {from} cannot take event {event}")]
pub struct TransitionError {
    /// The state the recipient was in (unchanged).
    pub from: RecipientState,
    /// The refused event's name ([`RecipientEvent::name`]).
    pub event: &'static str,
}

impl RecipientState {
    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolving => "resolving",
            Self::Forwarding => "forwarding",
            Self::Forwarded => "forwarded",
            Self::Notifying => "notifying",
            Self::Notified => "notified",
            Self::Retrieved => "retrieved",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored text; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|s| s.as_str() == text)
    }

    /// True when no further event can change the state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Forwarded | Self::Retrieved | Self::Expired | Self::Rejected | Self::Failed
        )
    }

    /// True for the states a new recipient may start in.
    pub fn is_initial(self) -> bool {
        matches!(self, Self::Resolving | Self::Notifying)
    }

    /// Applies one event: the whole transition table in one place.
    pub fn apply(self, event: &RecipientEvent) -> Result<Self, TransitionError> {
        use RecipientEvent as E;
        use RecipientState as S;
        let next = match (self, event) {
            (S::Resolving, E::ResolvedRemote { .. }) => S::Forwarding,
            (S::Resolving, E::ResolvedLocal { .. }) => S::Notifying,
            (S::Forwarding, E::Forwarded) => S::Forwarded,
            (S::Notifying, E::PushSent) => S::Notified,
            // The UA may fetch before the SMSC's answer to the push reached us.
            (S::Notifying | S::Notified, E::Retrieved) => S::Retrieved,
            (S::Notifying | S::Notified, E::Rejected) => S::Rejected,
            (S::Resolving | S::Forwarding | S::Notifying | S::Notified, E::Expired) => S::Expired,
            (S::Resolving | S::Forwarding | S::Notifying, E::Failed { .. }) => S::Failed,
            (from, event) => {
                return Err(TransitionError {
                    from,
                    event: event.name(),
                });
            }
        };
        Ok(next)
    }

    /// Resolution found a remote relay: `Resolving -> Forwarding`.
    pub fn on_resolved_remote(self, peer: &str) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::ResolvedRemote { peer: peer.into() })
    }

    /// Resolution found a local subscriber: `Resolving -> Notifying`.
    pub fn on_resolved_local(self, msisdn: &str) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::ResolvedLocal {
            msisdn: msisdn.into(),
        })
    }

    /// MM4_forward.RES Ok: `Forwarding -> Forwarded`.
    pub fn on_forwarded(self) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::Forwarded)
    }

    /// Push accepted by the SMSC: `Notifying -> Notified`.
    pub fn on_push_sent(self) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::PushSent)
    }

    /// The UA fetched the MM: `Notifying | Notified -> Retrieved`.
    pub fn on_retrieved(self) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::Retrieved)
    }

    /// The UA rejected the MM: `Notifying | Notified -> Rejected`.
    pub fn on_rejected(self) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::Rejected)
    }

    /// The MM expired: any pending state `-> Expired`.
    pub fn on_expired(self) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::Expired)
    }

    /// A permanent error: `Resolving | Forwarding | Notifying -> Failed`.
    pub fn on_failed(self, error: &str) -> Result<Self, TransitionError> {
        self.apply(&RecipientEvent::Failed {
            error: error.into(),
        })
    }
}

impl fmt::Display for RecipientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecipientState as S;

    fn all_events() -> Vec<RecipientEvent> {
        vec![
            RecipientEvent::ResolvedRemote {
                peer: "mms.b.example".into(),
            },
            RecipientEvent::ResolvedLocal {
                msisdn: "4917612345678".into(),
            },
            RecipientEvent::Forwarded,
            RecipientEvent::PushSent,
            RecipientEvent::Retrieved,
            RecipientEvent::Rejected,
            RecipientEvent::Expired,
            RecipientEvent::Failed {
                error: "unknown".into(),
            },
        ]
    }

    /// The expected table, written out independently of `apply`'s match.
    fn expected(from: S, event: &str) -> Option<S> {
        let allowed: &[(S, &str, S)] = &[
            (S::Resolving, "resolved-remote", S::Forwarding),
            (S::Resolving, "resolved-local", S::Notifying),
            (S::Resolving, "expired", S::Expired),
            (S::Resolving, "failed", S::Failed),
            (S::Forwarding, "forwarded", S::Forwarded),
            (S::Forwarding, "expired", S::Expired),
            (S::Forwarding, "failed", S::Failed),
            (S::Notifying, "push-sent", S::Notified),
            (S::Notifying, "retrieved", S::Retrieved),
            (S::Notifying, "rejected", S::Rejected),
            (S::Notifying, "expired", S::Expired),
            (S::Notifying, "failed", S::Failed),
            (S::Notified, "retrieved", S::Retrieved),
            (S::Notified, "rejected", S::Rejected),
            (S::Notified, "expired", S::Expired),
        ];
        allowed
            .iter()
            .find(|(f, e, _)| *f == from && *e == event)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_state_event_pair_follows_the_design_table() {
        for from in ALL_STATES {
            for event in all_events() {
                let got = from.apply(&event);
                match expected(from, event.name()) {
                    Some(to) => assert_eq!(got, Ok(to), "{from} + {}", event.name()),
                    None => assert_eq!(
                        got,
                        Err(TransitionError {
                            from,
                            event: event.name()
                        }),
                        "{from} + {}",
                        event.name()
                    ),
                }
            }
        }
    }

    #[test]
    fn terminal_states_refuse_every_event() {
        for from in ALL_STATES.into_iter().filter(|s| s.is_terminal()) {
            for event in all_events() {
                assert!(from.apply(&event).is_err(), "{from} took {}", event.name());
            }
        }
    }

    #[test]
    fn non_terminal_states_can_always_expire() {
        for from in ALL_STATES.into_iter().filter(|s| !s.is_terminal()) {
            assert_eq!(from.on_expired(), Ok(S::Expired));
        }
    }

    #[test]
    fn named_transitions_match_apply() {
        assert_eq!(S::Resolving.on_resolved_remote("p"), Ok(S::Forwarding));
        assert_eq!(S::Resolving.on_resolved_local("49"), Ok(S::Notifying));
        assert_eq!(S::Forwarding.on_forwarded(), Ok(S::Forwarded));
        assert_eq!(S::Notifying.on_push_sent(), Ok(S::Notified));
        assert_eq!(S::Notified.on_retrieved(), Ok(S::Retrieved));
        assert_eq!(S::Notified.on_rejected(), Ok(S::Rejected));
        assert_eq!(S::Forwarding.on_failed("x"), Ok(S::Failed));
        assert!(S::Notified.on_failed("x").is_err());
        assert!(S::Forwarded.on_push_sent().is_err());
    }

    #[test]
    fn stored_text_round_trips_for_every_state() {
        for s in ALL_STATES {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("delivered"), None);
    }

    #[test]
    fn only_resolving_and_notifying_are_initial() {
        let initial: Vec<_> = ALL_STATES.into_iter().filter(|s| s.is_initial()).collect();
        assert_eq!(initial, vec![S::Resolving, S::Notifying]);
    }
}
