//! An in-process SMSC on 127.0.0.1 for tests and the demo (SMPP 3.4 server side, minimal):
//! accepts binds, records every submit_sm decoded, answers submit_sm_resp with message ids, and
//! can be told to answer ESME_RTHROTTLED / ESME_RMSGQFUL / another error, to close the
//! connection, to hold responses, or to send deliver_sm receipts.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use smpp::pdu::{ESM_CLASS_DELIVERY_RECEIPT, tag};
use smpp::{Address, BindResp, Body, CommandStatus, Pdu, SubmitSm, SubmitSmResp, Tlv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// How the sink answers one submit_sm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// submit_sm_resp ESME_ROK with a fresh message id.
    Accept,
    /// submit_sm_resp with this error status (e.g. ESME_RTHROTTLED), no body.
    Status(CommandStatus),
    /// Close the connection without answering.
    Close,
    /// Keep the response until [`SmscSink::release_held`].
    Hold,
}

/// One submit_sm the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The decoded submit_sm.
    pub submit: SubmitSm,
    /// The message id the sink answered with (empty when it answered an error or closed).
    pub message_id: String,
    /// How the sink answered.
    pub answer: Answer,
}

#[derive(Default)]
struct State {
    submits: Vec<Recorded>,
    binds: usize,
    enquire_links: usize,
    deliver_sm_resps: usize,
    script: VecDeque<Answer>,
    default_answer: Option<Answer>,
    next_id: u64,
    next_seq: u32,
    connections: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    held: Vec<(mpsc::UnboundedSender<Vec<u8>>, Vec<u8>)>,
    in_flight: usize,
    max_in_flight: usize,
}

/// The SMSC sink; stops when dropped.
pub struct SmscSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    accept: JoinHandle<()>,
}

impl Drop for SmscSink {
    fn drop(&mut self) {
        self.accept.abort();
        self.lock().connections.clear();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn encode(pdu: &Pdu) -> Vec<u8> {
    // the sink only builds PDUs whose fields are within SMPP limits
    pdu.to_bytes().unwrap_or_default()
}

impl SmscSink {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> std::io::Result<SmscSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            next_seq: 1,
            ..State::default()
        }));
        let changed = Arc::new(Notify::new());
        let (s, c) = (state.clone(), changed.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone(), c.clone()));
            }
        });
        Ok(SmscSink {
            addr,
            state,
            changed,
            accept,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every submit_sm received so far, in arrival order.
    pub fn submits(&self) -> Vec<Recorded> {
        self.lock().submits.clone()
    }

    /// The submit_sm received after the first `n`, in arrival order (empty when there are `n` or
    /// fewer): lets a watcher read only what is new instead of copying the whole list.
    pub fn submits_since(&self, n: usize) -> Vec<Recorded> {
        self.lock()
            .submits
            .get(n..)
            .map(<[Recorded]>::to_vec)
            .unwrap_or_default()
    }

    /// Total number of submit_sm received so far.
    pub fn submit_count(&self) -> usize {
        self.lock().submits.len()
    }

    /// Number of bind requests accepted.
    pub fn binds(&self) -> usize {
        self.lock().binds
    }

    /// Number of enquire_link requests answered.
    pub fn enquire_links(&self) -> usize {
        self.lock().enquire_links
    }

    /// Number of deliver_sm_resp received.
    pub fn deliver_sm_resps(&self) -> usize {
        self.lock().deliver_sm_resps
    }

    /// The most submit_sm ever held unanswered at once.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Answers for the next submit_sm, in order; afterwards the default answer applies.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.lock().script.extend(answers);
    }

    /// The answer once the script is used up ([`Answer::Accept`] unless set).
    pub fn set_default_answer(&self, answer: Answer) {
        self.lock().default_answer = Some(answer);
    }

    /// Sends every held submit_sm_resp.
    pub fn release_held(&self) {
        let mut st = self.lock();
        let held = std::mem::take(&mut st.held);
        st.in_flight = st.in_flight.saturating_sub(held.len());
        for (tx, bytes) in held {
            let _ = tx.send(bytes);
        }
    }

    /// Closes every open connection.
    pub fn close_connections(&self) {
        let mut st = self.lock();
        st.connections.clear();
        st.held.clear();
        st.in_flight = 0;
    }

    /// Sends a delivery receipt deliver_sm (SMPP 3.4 Appendix B text plus receipted_message_id)
    /// on every open connection; returns how many connections it went to.
    pub fn send_receipt(&self, message_id: &str, stat: &str) -> usize {
        let mut st = self.lock();
        let sequence = st.next_seq;
        st.next_seq += 1;
        let text = format!(
            "id:{message_id} sub:001 dlvrd:001 submit date:2611270000 done date:2611270001 stat:{stat} err:000 Text:"
        );
        let mut receipted = message_id.as_bytes().to_vec();
        receipted.push(0);
        let sm = SubmitSm {
            source: Address::international("4917600000000"),
            destination: Address::international("4917611111111"),
            esm_class: ESM_CLASS_DELIVERY_RECEIPT,
            short_message: Bytes::from(text.into_bytes()),
            tlvs: vec![Tlv {
                tag: tag::RECEIPTED_MESSAGE_ID,
                value: Bytes::from(receipted),
            }],
            ..SubmitSm::default()
        };
        let bytes = encode(&Pdu::request(sequence, Body::DeliverSm(Box::new(sm))));
        st.connections
            .iter()
            .filter(|c| c.send(bytes.clone()).is_ok())
            .count()
    }

    /// Waits until at least `n` submit_sm are recorded; false on timeout.
    pub async fn wait_for_submits(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |st| st.submits.len() >= n).await
    }

    /// Waits until at least `n` binds were accepted; false on timeout.
    pub async fn wait_for_binds(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |st| st.binds >= n).await
    }

    /// Waits until at least `n` enquire_link were answered; false on timeout.
    pub async fn wait_for_enquire_links(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |st| st.enquire_links >= n).await
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if done(&self.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(&self.lock());
            }
        }
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>, changed: Arc<Notify>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    lock(&state).connections.push(tx.clone());
    // the connection's own sender lives in `state`; drop ours so close_connections ends it
    let weak = tx.downgrade();
    drop(tx);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            read = stream.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let mut out = Vec::new();
                let mut close = false;
                loop {
                    match smpp::decode_frame(&buf) {
                        Ok(Some((pdu, used))) => {
                            buf.advance(used);
                            let Some(me) = weak.upgrade() else {
                                close = true;
                                break;
                            };
                            if !handle(pdu, &state, &me, &mut out) {
                                close = true;
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => match (e.skip_len(), e.sequence()) {
                            (Some(n), Some(sequence)) => {
                                buf.advance(n.min(buf.len()));
                                out.extend(encode(&Pdu {
                                    sequence,
                                    status: e.command_status(),
                                    body: Body::GenericNack,
                                }));
                            }
                            _ => {
                                close = true;
                                break;
                            }
                        },
                    }
                }
                changed.notify_waiters();
                if !out.is_empty() && stream.write_all(&out).await.is_err() {
                    break;
                }
                if close {
                    break;
                }
            }
        }
    }
    changed.notify_waiters();
}

/// Answers one PDU into `out`; false when the connection must close.
fn handle(
    pdu: Pdu,
    state: &Mutex<State>,
    me: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
) -> bool {
    let seq = pdu.sequence;
    let ok = |body| Pdu::request(seq, body);
    let bind_resp = BindResp {
        system_id: "sink".into(),
        sc_interface_version: Some(0x34),
    };
    let mut st = lock(state);
    match pdu.body {
        Body::BindTransceiver(_) => {
            st.binds += 1;
            out.extend(encode(&ok(Body::BindTransceiverResp(bind_resp))));
        }
        Body::BindTransmitter(_) => {
            st.binds += 1;
            out.extend(encode(&ok(Body::BindTransmitterResp(bind_resp))));
        }
        Body::BindReceiver(_) => {
            st.binds += 1;
            out.extend(encode(&ok(Body::BindReceiverResp(bind_resp))));
        }
        Body::EnquireLink => {
            st.enquire_links += 1;
            out.extend(encode(&ok(Body::EnquireLinkResp)));
        }
        Body::Unbind => {
            out.extend(encode(&ok(Body::UnbindResp)));
            return false;
        }
        Body::DeliverSmResp => st.deliver_sm_resps += 1,
        Body::SubmitSm(sm) => {
            let answer = st
                .script
                .pop_front()
                .or(st.default_answer)
                .unwrap_or(Answer::Accept);
            let mut message_id = String::new();
            let resp = match answer {
                Answer::Accept | Answer::Hold => {
                    st.next_id += 1;
                    message_id = format!("sink{:06}", st.next_id);
                    Some(ok(Body::SubmitSmResp(SubmitSmResp {
                        message_id: message_id.clone(),
                    })))
                }
                Answer::Status(status) => Some(Pdu {
                    sequence: seq,
                    status,
                    body: Body::SubmitSmResp(SubmitSmResp::default()),
                }),
                Answer::Close => None,
            };
            st.submits.push(Recorded {
                submit: *sm,
                message_id,
                answer,
            });
            match (answer, resp) {
                (Answer::Hold, Some(resp)) => {
                    st.held.push((me.clone(), encode(&resp)));
                    st.in_flight += 1;
                    st.max_in_flight = st.max_in_flight.max(st.in_flight);
                }
                (_, Some(resp)) => {
                    st.max_in_flight = st.max_in_flight.max(st.in_flight + 1);
                    out.extend(encode(&resp));
                }
                (_, None) => return false,
            }
        }
        Body::SubmitSmResp(_) | Body::EnquireLinkResp | Body::UnbindResp | Body::GenericNack => {}
        _ => out.extend(encode(&Pdu {
            sequence: seq,
            status: CommandStatus::InvalidCommandId,
            body: Body::GenericNack,
        })),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` submit_sm on a raw connection and reads their `n` responses.
    async fn submit(stream: &mut TcpStream, first_seq: u32, n: u32) {
        for seq in first_seq..first_seq + n {
            let sm = SubmitSm {
                destination: Address::international(&format!("49176{seq:07}")),
                short_message: Bytes::from_static(b"hi"),
                ..SubmitSm::default()
            };
            let pdu = Pdu::request(seq, Body::SubmitSm(Box::new(sm)));
            stream.write_all(&encode(&pdu)).await.unwrap();
        }
        let mut buf = BytesMut::new();
        let mut answered = 0;
        while answered < n {
            stream.read_buf(&mut buf).await.unwrap();
            while let Some((pdu, used)) = smpp::decode_frame(&buf).unwrap() {
                buf.advance(used);
                assert!(matches!(pdu.body, Body::SubmitSmResp(_)), "{pdu:?}");
                answered += 1;
            }
        }
    }

    #[tokio::test]
    async fn submits_since_returns_only_the_new_records() {
        let sink = SmscSink::start().await.unwrap();
        let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
        submit(&mut stream, 1, 3).await;
        assert_eq!(sink.submit_count(), 3);
        assert_eq!(sink.submits_since(0), sink.submits());
        submit(&mut stream, 4, 2).await;
        let new = sink.submits_since(3);
        let to: Vec<_> = new
            .iter()
            .map(|r| r.submit.destination.address.as_str())
            .collect();
        assert_eq!(to, ["491760000004", "491760000005"]);
        assert!(sink.submits_since(5).is_empty());
        assert!(sink.submits_since(99).is_empty());
    }
}
