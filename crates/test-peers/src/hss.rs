//! An HSS for tests: a Diameter server on 127.0.0.1 that answers CER, DWR, DPR (RFC 6733 §5) and Sh UDR
//! (TS 29.329 §6.1.1) from a subscriber table (IMPU → MSISDN, MSISDN → IMPUs). At run time it can be told to
//! answer 5001, delay or drop UDRs (per identity or for all), to stop answering DWRs, and to send its own
//! DWRs; it counts what it receives. `stop` closes the listener and every connection (peer down).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use diameter::base::{self, CapabilitiesExchange, Identity, VendorSpecificApplicationId};
use diameter::codes::{
    CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG, CMD_DISCONNECT_PEER, CMD_USER_DATA,
};
use diameter::sh::{DataReference, ShData, UserDataAnswer, UserDataRequest, UserIdentity};
use diameter::{AnswerResult, Message, decode_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How the HSS treats a UDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Answer from the table (5001 when the identity is not in it).
    Answer,
    /// Answer Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN whatever the table says.
    UserUnknown,
    /// Answer with this Result-Code (e.g. 3004 DIAMETER_TOO_BUSY).
    ResultCode(u32),
    /// Answer from the table after this delay.
    Delay(Duration),
    /// Never answer.
    Drop,
}

/// What the HSS has received so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// CERs received.
    pub cer: AtomicU64,
    /// UDRs received.
    pub udr: AtomicU64,
    /// UDRs received with the T (potentially retransmitted) flag.
    pub udr_retransmitted: AtomicU64,
    /// DWRs received from clients.
    pub dwr: AtomicU64,
    /// DWAs received (answers to the HSS's own DWRs).
    pub dwa: AtomicU64,
    /// DPRs received.
    pub dpr: AtomicU64,
}

#[derive(Default)]
struct Table {
    msisdn_by_impu: HashMap<String, String>,
    impus_by_msisdn: HashMap<String, Vec<String>>,
}

struct Control {
    global: Behaviour,
    per_identity: HashMap<String, Behaviour>,
    answer_watchdog: bool,
    send_watchdog: Option<Duration>,
}

struct Shared {
    identity: Identity,
    table: Mutex<Table>,
    control: Mutex<Control>,
    counters: Counters,
}

/// A running test HSS (see the module doc). Dropping it stops it.
pub struct TestHss {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    listener: Option<JoinHandle<()>>,
}

impl TestHss {
    /// Starts on a free port of 127.0.0.1 with Origin-Host `origin_host` (realm `example`).
    pub async fn start(origin_host: &str) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("literal address"), origin_host).await
    }

    /// Starts on `addr` (e.g. the address of an HSS stopped earlier, to bring a peer back up).
    pub async fn start_on(addr: SocketAddr, origin_host: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            identity: Identity {
                host: origin_host.to_owned(),
                realm: "example".to_owned(),
            },
            table: Mutex::new(Table::default()),
            control: Mutex::new(Control {
                global: Behaviour::Answer,
                per_identity: HashMap::new(),
                answer_watchdog: true,
                send_watchdog: None,
            }),
            counters: Counters::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let task_shared = shared.clone();
        let listener = tokio::spawn(async move {
            let mut connections = Vec::new();
            let mut stopped_accept = stopped.clone();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            connections.push(tokio::spawn(serve(stream, task_shared.clone(), stopped.clone())));
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    _ = stopped_accept.changed() => break,
                }
            }
            drop(listener);
            for c in connections {
                let _ = c.await;
            }
        });
        Ok(Self {
            addr,
            shared,
            stop,
            listener: Some(listener),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Origin-Host of this HSS.
    pub fn origin_host(&self) -> &str {
        &self.shared.identity.host
    }

    /// Adds a subscriber: an MSISDN (digits) and its IMS public identities.
    pub fn add_subscriber(&self, msisdn: &str, impus: &[&str]) {
        if let Ok(mut t) = self.shared.table.lock() {
            for impu in impus {
                t.msisdn_by_impu
                    .insert((*impu).to_owned(), msisdn.to_owned());
            }
            t.impus_by_msisdn.insert(
                msisdn.to_owned(),
                impus.iter().map(|s| (*s).to_owned()).collect(),
            );
        }
    }

    /// Sets how every UDR without a per-identity rule is treated.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut c) = self.shared.control.lock() {
            c.global = behaviour;
        }
    }

    /// Sets how UDRs for one identity (IMPU, or MSISDN digits) are treated.
    pub fn set_behaviour_for(&self, identity: &str, behaviour: Behaviour) {
        if let Ok(mut c) = self.shared.control.lock() {
            c.per_identity.insert(identity.to_owned(), behaviour);
        }
    }

    /// Whether DWRs from clients are answered (false simulates a hung peer for the client's watchdog).
    pub fn set_answer_watchdog(&self, answer: bool) {
        if let Ok(mut c) = self.shared.control.lock() {
            c.answer_watchdog = answer;
        }
    }

    /// Makes the HSS send its own DWR on each connection every `interval` (None: never). Applies to new
    /// connections and, within one interval, to open ones.
    pub fn set_send_watchdog(&self, interval: Option<Duration>) {
        if let Ok(mut c) = self.shared.control.lock() {
            c.send_watchdog = interval;
        }
    }

    /// What was received so far.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// UDRs received so far.
    pub fn udr_count(&self) -> u64 {
        self.shared.counters.udr.load(Ordering::Relaxed)
    }

    /// Closes the listener and every connection, and waits for that.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(listener) = self.listener.take() {
            let _ = listener.await;
        }
    }
}

impl Drop for TestHss {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn behaviour_for(shared: &Shared, identity: &str) -> Behaviour {
    shared.control.lock().map_or(Behaviour::Answer, |c| {
        c.per_identity.get(identity).copied().unwrap_or(c.global)
    })
}

fn capabilities_answer(shared: &Shared, cer: &Message, local: SocketAddr) -> Message {
    let mut caps =
        CapabilitiesExchange::sh_client(shared.identity.clone(), local.ip(), "test-peers hss");
    caps.vendor_specific_application_ids = vec![VendorSpecificApplicationId::SH];
    caps.result_code = Some(2001);
    caps.to_answer(cer)
}

fn answer_udr(
    shared: &Shared,
    request: &Message,
    udr: &UserDataRequest,
    behaviour: Behaviour,
) -> Message {
    let table = shared.table.lock();
    let (known, data) = match (&udr.user_identity, table.as_ref()) {
        (UserIdentity::PublicIdentity(impu), Ok(t)) => match t.msisdn_by_impu.get(impu) {
            Some(msisdn) => {
                let impus = t.impus_by_msisdn.get(msisdn).cloned().unwrap_or_default();
                (true, sh_data(udr, impus, msisdn.clone()))
            }
            None => (false, ShData::default()),
        },
        (UserIdentity::Msisdn(msisdn), Ok(t)) => match t.impus_by_msisdn.get(msisdn) {
            Some(impus) => (true, sh_data(udr, impus.clone(), msisdn.clone())),
            None => (false, ShData::default()),
        },
        _ => (false, ShData::default()),
    };
    let result = match behaviour {
        Behaviour::UserUnknown => None,
        Behaviour::ResultCode(code) => Some(AnswerResult::ResultCode(code)),
        _ if known => Some(AnswerResult::ResultCode(2001)),
        _ => None,
    };
    let success = result == Some(AnswerResult::ResultCode(2001));
    UserDataAnswer {
        session_id: udr.session_id.clone(),
        origin: shared.identity.clone(),
        result: result.unwrap_or(AnswerResult::Experimental {
            vendor_id: diameter::codes::VENDOR_3GPP,
            code: diameter::codes::DIAMETER_ERROR_USER_UNKNOWN,
        }),
        user_data: success.then_some(data),
    }
    .to_message(request)
}

fn sh_data(udr: &UserDataRequest, impus: Vec<String>, msisdn: String) -> ShData {
    let wants = |r: DataReference| udr.data_references.contains(&r);
    ShData {
        public_identities: if wants(DataReference::ImsPublicIdentity) {
            impus
        } else {
            Vec::new()
        },
        msisdns: if wants(DataReference::Msisdn) {
            vec![msisdn]
        } else {
            Vec::new()
        },
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let (mut reader, mut writer) = stream.into_split();
    let (delayed_tx, mut delayed_rx) = mpsc::unbounded_channel::<Message>();
    let mut inbox = BytesMut::with_capacity(8192);
    let mut outbox = BytesMut::new();
    let mut next_hbh: u32 = 0x4000_0000;
    let watchdog_every = shared.control.lock().ok().and_then(|c| c.send_watchdog);
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    watchdog.tick().await;
    loop {
        if !outbox.is_empty() {
            if writer.write_all(&outbox).await.is_err() {
                return;
            }
            outbox.clear();
        }
        tokio::select! {
            read = reader.read_buf(&mut inbox) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => loop {
                    let message = match decode_frame(&mut inbox) {
                        Ok(Some(m)) => m,
                        Ok(None) => break,
                        Err(_) => return,
                    };
                    if !handle(&shared, message, local, &mut outbox, &delayed_tx) {
                        let _ = writer.write_all(&outbox).await;
                        return;
                    }
                },
            },
            Some(answer) = delayed_rx.recv() => answer.encode(&mut outbox),
            _ = watchdog.tick() => {
                if shared.control.lock().ok().and_then(|c| c.send_watchdog).is_some() {
                    let mut dwr = base::watchdog_request(&shared.identity);
                    next_hbh += 1;
                    dwr.hop_by_hop = next_hbh;
                    dwr.end_to_end = next_hbh;
                    dwr.encode(&mut outbox);
                }
            },
            _ = stopped.changed() => return,
        }
    }
}

/// Handles one message; false when the connection must close after flushing.
fn handle(
    shared: &Arc<Shared>,
    message: Message,
    local: SocketAddr,
    outbox: &mut BytesMut,
    delayed: &mpsc::UnboundedSender<Message>,
) -> bool {
    let c = &shared.counters;
    match (message.command_code, message.flags.request) {
        (CMD_CAPABILITIES_EXCHANGE, true) => {
            c.cer.fetch_add(1, Ordering::Relaxed);
            capabilities_answer(shared, &message, local).encode(outbox);
        }
        (CMD_DEVICE_WATCHDOG, true) => {
            c.dwr.fetch_add(1, Ordering::Relaxed);
            if shared.control.lock().is_ok_and(|c| c.answer_watchdog) {
                base::watchdog_answer(&message, &shared.identity).encode(outbox);
            }
        }
        (CMD_DEVICE_WATCHDOG, false) => {
            c.dwa.fetch_add(1, Ordering::Relaxed);
        }
        (CMD_DISCONNECT_PEER, true) => {
            c.dpr.fetch_add(1, Ordering::Relaxed);
            base::disconnect_answer(&message, &shared.identity).encode(outbox);
            return false;
        }
        (CMD_USER_DATA, true) => {
            c.udr.fetch_add(1, Ordering::Relaxed);
            if message.flags.retransmitted {
                c.udr_retransmitted.fetch_add(1, Ordering::Relaxed);
            }
            let udr = match UserDataRequest::from_message(&message) {
                Ok(u) => u,
                Err(e) => {
                    let mut answer = message
                        .answer_to()
                        .with(AnswerResult::ResultCode(e.result_code()).to_avp());
                    answer.avps.extend(shared.identity.avps());
                    answer.encode(outbox);
                    return true;
                }
            };
            let key = match &udr.user_identity {
                UserIdentity::PublicIdentity(p) => p.clone(),
                UserIdentity::Msisdn(m) => m.clone(),
            };
            let behaviour = behaviour_for(shared, &key);
            match behaviour {
                Behaviour::Drop => {}
                Behaviour::Delay(d) => {
                    let answer = answer_udr(shared, &message, &udr, Behaviour::Answer);
                    let tx = delayed.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        let _ = tx.send(answer);
                    });
                }
                other => answer_udr(shared, &message, &udr, other).encode(outbox),
            }
        }
        _ => {}
    }
    true
}
