//! Reassembly of concatenated SMS (TS 23.040 §9.2.3.24.1 / .8) and SMPP SAR segments
//! (SMPP 3.4 §5.3.2.22–24) into WDP datagrams (WAP-259 Annex A.6). Segments may arrive in any
//! order; duplicates are ignored; partial messages older than the timeout are dropped by
//! [`Reassembler::expire`]. Time is an argument: no clock is read here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::push::{Push, PushDecodeError, decode_push};
use crate::segment::SarInfo;
use crate::udh::{ConcatReference, Ports, UdhError, UserData};

/// How the segments of one message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentReference {
    /// A UDH concatenation reference (IEI 0x00 or 0x08).
    Udh(ConcatReference),
    /// An SMPP sar_msg_ref_num.
    Sar(u16),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    originator: String,
    reference: SegmentReference,
}

#[derive(Debug)]
struct Partial {
    total: u8,
    ports: Option<Ports>,
    parts: Vec<Option<Bytes>>,
    received: u8,
    first_seen: Instant,
}

/// A complete WDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The originating address the segments came from.
    pub originator: String,
    /// Application ports, when a segment carried them.
    pub ports: Option<Ports>,
    /// The reassembled datagram (for WAP push: a WSP Push PDU).
    pub datagram: Bytes,
}

impl Message {
    /// Parses the datagram as a WSP Push PDU (WSP §8.2.4.1).
    pub fn push(&self) -> Result<Push, PushDecodeError> {
        decode_push(&self.datagram)
    }
}

/// What happened to a segment handed to the [`Reassembler`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReassemblyStatus {
    /// This segment completed the message.
    Complete(Message),
    /// Stored; the message still misses `total - received` segments.
    Pending {
        /// Segments held so far.
        received: u8,
        /// Segments in the message.
        total: u8,
    },
    /// A segment with this sequence number was already held; ignored.
    Duplicate,
}

/// A partial message dropped by [`Reassembler::expire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The originating address.
    pub originator: String,
    /// The message's reference.
    pub reference: SegmentReference,
    /// Sequence numbers (1-based) that never arrived.
    pub missing: Vec<u8>,
}

/// Why a segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// The user data header could not be parsed.
    #[error("user data: {0}")]
    UserData(#[from] UdhError),
    /// Sequence number 0, or above the total (TS 23.040 §9.2.3.24.1).
    #[error("segment {sequence} of {total} is out of range")]
    InvalidSequence {
        /// The segment's sequence number.
        sequence: u8,
        /// The segment's total.
        total: u8,
    },
    /// A segment disagrees with earlier ones about the total.
    #[error("segment says {got} segments, earlier ones said {expected}")]
    TotalMismatch {
        /// Total of the held segments.
        expected: u8,
        /// Total of this segment.
        got: u8,
    },
    /// The bound on partial messages is reached; call [`Reassembler::expire`].
    #[error("too many partial messages held")]
    TooManyPartial,
}

/// Puts concatenated SMS back together; bounded in the number of partial messages held.
#[derive(Debug)]
pub struct Reassembler {
    partial: HashMap<Key, Partial>,
    timeout: Duration,
    max_partial: usize,
}

impl Reassembler {
    /// A reassembler dropping partial messages older than `timeout`, holding at most `max_partial`.
    pub fn new(timeout: Duration, max_partial: usize) -> Self {
        Reassembler {
            partial: HashMap::new(),
            timeout,
            max_partial,
        }
    }

    /// Number of partial messages held.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Takes one SMS whose user data starts with a UDH (esm_class UDHI set).
    pub fn push_user_data(
        &mut self,
        originator: &str,
        user_data: &[u8],
        now: Instant,
    ) -> Result<ReassemblyStatus, ReassemblyError> {
        let ud = UserData::parse_with_header(user_data)?;
        let ports = ud.ports();
        match ud.concat() {
            None => Ok(ReassemblyStatus::Complete(Message {
                originator: originator.to_owned(),
                ports,
                datagram: Bytes::copy_from_slice(ud.payload),
            })),
            Some((reference, total, sequence)) => self.insert(
                originator,
                SegmentReference::Udh(reference),
                total,
                sequence,
                ports,
                ud.payload,
                now,
            ),
        }
    }

    /// Takes one short message of SAR mode (no UDH; ports and SAR values from SMPP TLVs).
    pub fn push_sar(
        &mut self,
        originator: &str,
        ports: Option<Ports>,
        sar: Option<SarInfo>,
        payload: &[u8],
        now: Instant,
    ) -> Result<ReassemblyStatus, ReassemblyError> {
        match sar {
            None => Ok(ReassemblyStatus::Complete(Message {
                originator: originator.to_owned(),
                ports,
                datagram: Bytes::copy_from_slice(payload),
            })),
            Some(s) => self.insert(
                originator,
                SegmentReference::Sar(s.reference),
                s.total,
                s.sequence,
                ports,
                payload,
                now,
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        originator: &str,
        reference: SegmentReference,
        total: u8,
        sequence: u8,
        ports: Option<Ports>,
        payload: &[u8],
        now: Instant,
    ) -> Result<ReassemblyStatus, ReassemblyError> {
        if sequence == 0 || sequence > total {
            return Err(ReassemblyError::InvalidSequence { sequence, total });
        }
        if total == 1 {
            return Ok(ReassemblyStatus::Complete(Message {
                originator: originator.to_owned(),
                ports,
                datagram: Bytes::copy_from_slice(payload),
            }));
        }
        let key = Key {
            originator: originator.to_owned(),
            reference,
        };
        // a stale partial with the same reference belongs to an earlier message: start over
        if self
            .partial
            .get(&key)
            .is_some_and(|p| now.saturating_duration_since(p.first_seen) >= self.timeout)
        {
            self.partial.remove(&key);
        }
        if !self.partial.contains_key(&key) && self.partial.len() >= self.max_partial {
            return Err(ReassemblyError::TooManyPartial);
        }
        let partial = self.partial.entry(key.clone()).or_insert_with(|| Partial {
            total,
            ports: None,
            parts: vec![None; usize::from(total)],
            received: 0,
            first_seen: now,
        });
        if partial.total != total {
            return Err(ReassemblyError::TotalMismatch {
                expected: partial.total,
                got: total,
            });
        }
        let Some(slot) = partial.parts.get_mut(usize::from(sequence - 1)) else {
            return Err(ReassemblyError::InvalidSequence { sequence, total });
        };
        if slot.is_some() {
            return Ok(ReassemblyStatus::Duplicate);
        }
        *slot = Some(Bytes::copy_from_slice(payload));
        partial.received += 1;
        if partial.ports.is_none() {
            partial.ports = ports;
        }
        if partial.received < partial.total {
            return Ok(ReassemblyStatus::Pending {
                received: partial.received,
                total: partial.total,
            });
        }
        let Some(done) = self.partial.remove(&key) else {
            return Err(ReassemblyError::InvalidSequence { sequence, total });
        };
        let len = done.parts.iter().flatten().map(Bytes::len).sum();
        let mut datagram = BytesMut::with_capacity(len);
        for part in done.parts.iter().flatten() {
            datagram.extend_from_slice(part);
        }
        Ok(ReassemblyStatus::Complete(Message {
            originator: key.originator,
            ports: done.ports,
            datagram: datagram.freeze(),
        }))
    }

    /// The sequence numbers still missing from a partial message, or `None` if none is held.
    pub fn missing(&self, originator: &str, reference: SegmentReference) -> Option<Vec<u8>> {
        let key = Key {
            originator: originator.to_owned(),
            reference,
        };
        self.partial.get(&key).map(missing_of)
    }

    /// Drops every partial message first seen `timeout` or longer before `now`, reporting each.
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let timeout = self.timeout;
        let mut expired = Vec::new();
        self.partial.retain(|key, p| {
            if now.saturating_duration_since(p.first_seen) >= timeout {
                expired.push(Expired {
                    originator: key.originator.clone(),
                    reference: key.reference,
                    missing: missing_of(p),
                });
                false
            } else {
                true
            }
        });
        expired
    }
}

fn missing_of(p: &Partial) -> Vec<u8> {
    p.parts
        .iter()
        .zip(1..=u8::MAX)
        .filter(|(part, _)| part.is_none())
        .map(|(_, seq)| seq)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::segment_udh;

    fn segments(len: usize, r: u8) -> Vec<Bytes> {
        let d: Vec<u8> = (0..len).map(|i| i as u8).collect();
        segment_udh(&d, Ports::WAP_PUSH, ConcatReference::Eight(r)).unwrap()
    }

    #[test]
    fn segments_in_reverse_order_with_duplicates_reassemble() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(60), 16);
        let s = segments(300, 5);
        assert_eq!(s.len(), 3);
        assert_eq!(
            r.push_user_data("+1", &s[2], now).unwrap(),
            ReassemblyStatus::Pending {
                received: 1,
                total: 3
            }
        );
        assert_eq!(
            r.push_user_data("+1", &s[2], now).unwrap(),
            ReassemblyStatus::Duplicate
        );
        assert_eq!(
            r.missing("+1", SegmentReference::Udh(ConcatReference::Eight(5))),
            Some(vec![1, 2])
        );
        r.push_user_data("+1", &s[0], now).unwrap();
        let ReassemblyStatus::Complete(m) = r.push_user_data("+1", &s[1], now).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(m.datagram.len(), 300);
        assert_eq!(m.ports, Some(Ports::WAP_PUSH));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn same_reference_from_two_originators_does_not_mix() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(60), 16);
        let s = segments(200, 1);
        r.push_user_data("+1", &s[0], now).unwrap();
        assert!(matches!(
            r.push_user_data("+2", &s[1], now).unwrap(),
            ReassemblyStatus::Pending { .. }
        ));
        assert_eq!(r.pending(), 2);
    }

    #[test]
    fn partial_message_times_out_reporting_missing_segments() {
        let t0 = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(30), 16);
        let s = segments(300, 9);
        r.push_user_data("+1", &s[1], t0).unwrap();
        assert!(r.expire(t0 + Duration::from_secs(29)).is_empty());
        let e = r.expire(t0 + Duration::from_secs(30));
        assert_eq!(
            e,
            vec![Expired {
                originator: "+1".into(),
                reference: SegmentReference::Udh(ConcatReference::Eight(9)),
                missing: vec![1, 3]
            }]
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn stale_partial_is_replaced_by_new_message_with_same_reference() {
        let t0 = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(30), 16);
        let old = segments(200, 4);
        r.push_user_data("+1", &old[0], t0).unwrap();
        let new = segments(300, 4);
        let later = t0 + Duration::from_secs(31);
        assert!(matches!(
            r.push_user_data("+1", &new[0], later).unwrap(),
            ReassemblyStatus::Pending {
                received: 1,
                total: 3
            }
        ));
    }

    #[test]
    fn invalid_sequence_and_total_mismatch_are_refused() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(30), 16);
        let ud = [0x05, 0x00, 0x03, 0x01, 0x02, 0x03, 0xAA];
        assert_eq!(
            r.push_user_data("+1", &ud, now),
            Err(ReassemblyError::InvalidSequence {
                sequence: 3,
                total: 2
            })
        );
        let first = [0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0xAA];
        let mismatched = [0x05, 0x00, 0x03, 0x01, 0x03, 0x02, 0xAA];
        r.push_user_data("+1", &first, now).unwrap();
        assert_eq!(
            r.push_user_data("+1", &mismatched, now),
            Err(ReassemblyError::TotalMismatch {
                expected: 2,
                got: 3
            })
        );
    }

    #[test]
    fn bound_on_partial_messages_is_enforced() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(30), 1);
        r.push_user_data("+1", &segments(200, 1)[0], now).unwrap();
        assert_eq!(
            r.push_user_data("+1", &segments(200, 2)[0], now),
            Err(ReassemblyError::TooManyPartial)
        );
    }
}
