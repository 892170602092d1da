//! `mmsrelay demo`: the whole journey of DESIGN.md §1 on loopback in one process, with no setup.
//!
//! Starts an authoritative DNS zone (ENUM NAPTR for the users' numbers, MX/A of `mms.a.example`
//! and `mms.b.example` → 127.0.0.1), relay A (`a.example`, subscriber table) and relay B
//! (`b.example`, HSS over Diameter Sh) as real listeners with their own SQLite stores in a
//! temporary directory, one SMSC sink per relay, and scripted user agents whose identity is
//! asserted by the trusted-proxy header from 127.0.0.1. Then it sends four MMs (sip→sip,
//! tel→sip, sip→tel via ENUM, and a local delivery), has each recipient take the WAP push from
//! the SMSC, reassemble it, fetch the MM and acknowledge it, and waits for the sender's delivery
//! report — printing every step.
//!
//! Exit codes: 0 every step succeeded, 1 a step failed or the time ran out, 2 setup failed.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mms_address::Address;
use mms_pdu::{FromAddress, Pdu};
use mms_resolver::{Route, Step};
use relay::config::RelayConfig;
use relay::service::{Relay, RunningRelay};
use test_peers::dns::{DnsServer, DnsZone};
use test_peers::hss::TestHss;
use test_peers::smsc::SmscSink;

use crate::relay_toml::RelayToml;
use crate::ua::{Sms, Ua, text_of};

/// Arguments of `mmsrelay demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds the whole demo may take.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Keep the relays' stores (printed at the end) instead of deleting them.
    #[arg(long)]
    keep: bool,
    /// Relay logs on stderr (RUST_LOG syntax), e.g. `info`; default: none.
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

pub(crate) const ALICE_SIP: &str = "sip:alice@a.example";
const ALICE_TEL: &str = "tel:+447700900001";
const CAROL_SIP: &str = "sip:carol@a.example";
const CAROL_TEL: &str = "tel:+447700900003";
pub(crate) const BOB_SIP: &str = "sip:bob@b.example";
const BOB_TEL: &str = "tel:+4917612345678";

/// Per-step wait for a push or report.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `mmsrelay demo`.
pub fn run(args: Args) -> ExitCode {
    crate::log_to_stderr(args.log.as_deref());
    let runtime = match crate::runtime("demo", crate::Threads::Multi) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let dir = crate::temp_dir("demo");
    let started = Instant::now();
    let code = runtime.block_on(async {
        let world = match World::start(&dir).await {
            Ok(w) => {
                w.print_setup();
                w
            }
            Err(e) => {
                eprintln!("mmsrelay demo: setup failed: {e}");
                return ExitCode::from(2);
            }
        };
        let outcome =
            tokio::time::timeout(Duration::from_secs(args.timeout), journeys(&world)).await;
        world.stop().await;
        match outcome {
            Ok(Ok(n)) => {
                println!();
                println!(
                    "demo: all {n} journeys succeeded in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                println!();
                println!("demo: FAILED: {e}");
                ExitCode::from(1)
            }
            Err(_) => {
                println!();
                println!("demo: FAILED: not done within {} s", args.timeout);
                ExitCode::from(1)
            }
        }
    });
    if args.keep {
        println!("stores kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

/// The peers around the two relays (also those of `mmsrelay bench`): the DNS zone, the HSS with
/// bob's subscription and one SMSC sink per relay.
pub(crate) struct Peers {
    pub(crate) dns: DnsServer,
    pub(crate) hss: TestHss,
    pub(crate) smsc_a: SmscSink,
    pub(crate) smsc_b: SmscSink,
}

/// Relay A's subscriber table (IMPU, MSISDN): relay A serves its users without an HSS.
pub(crate) const SUBSCRIBERS_A: [(&str, &str); 4] = [
    (ALICE_SIP, "447700900001"),
    (ALICE_TEL, "447700900001"),
    (CAROL_SIP, "447700900003"),
    (CAROL_TEL, "447700900003"),
];

impl Peers {
    /// Starts the DNS zone (ENUM NAPTR, MX and A of both relays -> 127.0.0.1), the HSS and the
    /// two SMSC sinks on loopback.
    pub(crate) async fn start() -> Result<Self, String> {
        let loopback = Ipv4Addr::LOCALHOST;
        let dns = DnsZone::new(["e164.arpa", "example"])
            .ttl(60)
            .enum_naptr(
                "+4917612345678",
                "e164.arpa",
                10,
                10,
                "E2U+mms:mailto",
                "!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.b.example!",
            )
            .enum_naptr(
                "+447700900001",
                "e164.arpa",
                10,
                10,
                "E2U+sip",
                "!^.*$!sip:alice@a.example!",
            )
            .mx("mms.a.example", 10, "mx.mms.a.example")
            .a("mx.mms.a.example", loopback)
            .mx("mms.b.example", 10, "mx.mms.b.example")
            .a("mx.mms.b.example", loopback)
            .serve()
            .await
            .map_err(|e| format!("DNS zone: {e}"))?;
        let hss = TestHss::start("hss.example")
            .await
            .map_err(|e| format!("HSS: {e}"))?;
        hss.add_subscriber("4917612345678", &[BOB_SIP, BOB_TEL]);
        let smsc_a = SmscSink::start()
            .await
            .map_err(|e| format!("SMSC A: {e}"))?;
        let smsc_b = SmscSink::start()
            .await
            .map_err(|e| format!("SMSC B: {e}"))?;
        Ok(Self {
            dns,
            hss,
            smsc_a,
            smsc_b,
        })
    }

    /// The TOML configuration of relay A (`a`) or B (`b`) against these peers, with its store in
    /// `store` and the given MM1 and MM4 ports (`peer_mm4`: the other relay's MM4 port).
    pub(crate) fn relay_toml(
        &self,
        name: char,
        store: &std::path::Path,
        mm1: u16,
        mm4: u16,
        peer_mm4: u16,
    ) -> String {
        let (range, smsc, hss) = if name == 'a' {
            ("+4477009", self.smsc_a.addr(), None)
        } else {
            ("+49176", self.smsc_b.addr(), Some(self.hss.addr()))
        };
        RelayToml::new(&name.to_string(), range, store.display())
            .ports(mm1, mm4, peer_mm4)
            .peers(self.dns.addr(), smsc, hss)
            .to_toml()
    }
}

/// Everything the demo runs.
struct World {
    dns: DnsServer,
    hss: TestHss,
    smsc_a: SmscSink,
    smsc_b: SmscSink,
    relay_a: RunningRelay,
    relay_b: RunningRelay,
    config_a: RelayConfig,
    config_b: RelayConfig,
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl World {
    async fn start(dir: &std::path::Path) -> Result<Self, String> {
        let peers = Peers::start().await?;
        let (mm1_a, mm1_b, mm4_a, mm4_b) = (free_port()?, free_port()?, free_port()?, free_port()?);
        let store_a: PathBuf = dir.join("relay-a");
        let store_b: PathBuf = dir.join("relay-b");
        for d in [&store_a, &store_b] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let parse = |t: String| RelayConfig::from_toml(&t).map_err(|e| format!("{e}\n{t}"));
        let config_a = parse(peers.relay_toml('a', &store_a, mm1_a, mm4_a, mm4_b))?;
        let config_b = parse(peers.relay_toml('b', &store_b, mm1_b, mm4_b, mm4_a))?;
        let Peers {
            dns,
            hss,
            smsc_a,
            smsc_b,
        } = peers;
        let relay_a = Relay::start(config_a.clone())
            .await
            .map_err(|e| format!("relay A: {e}"))?;
        let relay_b = match Relay::start(config_b.clone()).await {
            Ok(r) => r,
            Err(e) => {
                relay_a.shutdown().await;
                return Err(format!("relay B: {e}"));
            }
        };
        // Relay A serves its users from its own subscriber table (no HSS).
        let store = relay_a.store();
        for (impu, msisdn) in SUBSCRIBERS_A {
            mms_store::Store::put_subscriber(store, impu, msisdn)
                .await
                .map_err(|e| format!("subscriber table of relay A: {e}"))?;
        }
        let world = Self {
            dns,
            hss,
            smsc_a,
            smsc_b,
            relay_a,
            relay_b,
            config_a,
            config_b,
        };
        Ok(world)
    }

    fn print_setup(&self) {
        let (a, b) = (&self.relay_a.addresses, &self.relay_b.addresses);
        println!("mmsrelay demo: two relays on loopback");
        println!(
            "  DNS zone      {} (ENUM e164.arpa, MX mms.a.example / mms.b.example -> 127.0.0.1)",
            self.dns.addr()
        );
        println!(
            "  HSS (Sh)      {} ({BOB_SIP}, {BOB_TEL} -> MSISDN 4917612345678)",
            self.hss.addr()
        );
        println!(
            "  relay A       a.example / mms.a.example: MM1 http://{}  MM4 smtp://{}  SMSC {}",
            a.mm1,
            a.mm4,
            self.smsc_a.addr()
        );
        println!(
            "                subscribers: {ALICE_SIP} {ALICE_TEL} -> 447700900001, {CAROL_SIP} {CAROL_TEL} -> 447700900003"
        );
        println!(
            "  relay B       b.example / mms.b.example: MM1 http://{}  MM4 smtp://{}  SMSC {}  HSS {}",
            b.mm1,
            b.mm4,
            self.smsc_b.addr(),
            self.hss.addr()
        );
        println!(
            "  user agents   identity asserted by X-3GPP-Asserted-Identity from 127.0.0.1 (trusted proxy)"
        );
    }

    async fn stop(self) {
        let Self {
            hss,
            relay_a,
            relay_b,
            ..
        } = self;
        tokio::join!(relay_a.shutdown(), relay_b.shutdown());
        hss.stop().await;
    }

    fn mm1(&self, relay: char) -> String {
        match relay {
            'A' => format!("http://{}/", self.relay_a.addresses.mm1),
            _ => format!("http://{}/", self.relay_b.addresses.mm1),
        }
    }

    fn sms(&self, relay: char) -> Vec<Sms> {
        let sink = if relay == 'A' {
            &self.smsc_a
        } else {
            &self.smsc_b
        };
        sink.submits()
            .into_iter()
            .map(|r| Sms {
                destination: r.submit.destination.address.clone(),
                user_data: r.submit.short_message.to_vec(),
            })
            .collect()
    }

    fn sms_summary(&self, relay: char, msisdn: &str, last: usize) -> String {
        let sink = if relay == 'A' {
            &self.smsc_a
        } else {
            &self.smsc_b
        };
        let mine: Vec<_> = sink
            .submits()
            .into_iter()
            .filter(|r| r.submit.destination.address.trim_start_matches('+') == msisdn)
            .collect();
        let take = &mine[mine.len().saturating_sub(last)..];
        take.iter()
            .map(|r| {
                format!(
                    "{} octets (esm_class 0x{:02x}, data_coding 0x{:02x}, UDH {})",
                    r.submit.short_message.len(),
                    r.submit.esm_class,
                    r.submit.data_coding,
                    hex_prefix(&r.submit.short_message)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The UDH of a short message in hex (its first `1 + UDHL` octets).
fn hex_prefix(sm: &[u8]) -> String {
    let len = sm.first().map_or(0, |&l| usize::from(l) + 1).min(sm.len());
    sm.get(..len)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One MM to send and who takes part.
struct Journey {
    title: &'static str,
    from: &'static str,
    to: &'static str,
    sender_relay: char,
    recipient_relay: char,
}

async fn journeys(world: &World) -> Result<usize, String> {
    let mut alice = Ua::new("alice", &[ALICE_SIP, ALICE_TEL], "447700900001");
    let mut bob = Ua::new("bob", &[BOB_SIP, BOB_TEL], "4917612345678");
    let mut carol = Ua::new("carol", &[CAROL_SIP, CAROL_TEL], "447700900003");
    let list = [
        Journey {
            title: "SIP to SIP across relays",
            from: ALICE_SIP,
            to: BOB_SIP,
            sender_relay: 'A',
            recipient_relay: 'B',
        },
        Journey {
            title: "tel sender to a SIP recipient (the report returns to tel:)",
            from: ALICE_TEL,
            to: BOB_SIP,
            sender_relay: 'A',
            recipient_relay: 'B',
        },
        Journey {
            title: "SIP sender to a tel recipient, routed by ENUM",
            from: ALICE_SIP,
            to: BOB_TEL,
            sender_relay: 'A',
            recipient_relay: 'B',
        },
        Journey {
            title: "local delivery on relay A",
            from: ALICE_SIP,
            to: CAROL_SIP,
            sender_relay: 'A',
            recipient_relay: 'A',
        },
    ];
    for (i, j) in list.iter().enumerate() {
        let recipient = if j.recipient_relay == 'B' {
            &mut bob
        } else {
            &mut carol
        };
        journey(world, i + 1, j, &mut alice, recipient).await?;
    }
    Ok(list.len())
}

async fn journey(
    world: &World,
    n: usize,
    j: &Journey,
    sender: &mut Ua,
    recipient: &mut Ua,
) -> Result<(), String> {
    let started = Instant::now();
    println!();
    println!("[{n}] {} -> {}: {}", j.from, j.to, j.title);
    let subject = format!("demo {n}");
    let text = format!("Hello from {} (journey {n})", j.from);

    // Originating resolution, as relay A's routing worker does it.
    let sender_config = if j.sender_relay == 'A' {
        &world.config_a
    } else {
        &world.config_b
    };
    print_resolution(sender_config, j.to).await;

    let conf = sender
        .send(&world.mm1(j.sender_relay), j.from, &[j.to], &subject, &text)
        .await?;
    let status = conf.response_status;
    println!(
        "  {:<8} m-send-req -> relay {}: m-send-conf {} ({}), Message-ID {}",
        sender.name,
        j.sender_relay,
        status.name().unwrap_or("?"),
        status.0,
        conf.message_id.as_deref().unwrap_or("-")
    );
    if !status.is_ok() {
        return Err(format!("journey {n}: m-send-conf {}", status.0));
    }
    let message_id = conf.message_id.clone().unwrap_or_default();
    if j.recipient_relay != j.sender_relay {
        println!(
            "  relay {}  MM4_forward.REQ over SMTP to relay {} (mms.b.example MX -> 127.0.0.1:{})",
            j.sender_relay,
            j.recipient_relay,
            world.relay_b.addresses.mm4.port()
        );
    }
    let udr_before = world.hss.udr_count();

    // The recipient's handset gets the notification by SMS.
    let got = recipient
        .next_push(|| world.sms(j.recipient_relay), STEP_TIMEOUT)
        .await
        .map_err(|e| format!("journey {n}: {e}"))?;
    let Pdu::NotificationInd(note) = got.pdu else {
        return Err(format!(
            "journey {n}: expected m-notification-ind, got {:?}",
            got.pdu.message_type()
        ));
    };
    let how = if j.recipient_relay == 'B' && j.to.starts_with("sip:") {
        format!(
            "MSISDN via HSS (Sh UDR, {} sent so far)",
            world.hss.udr_count().max(udr_before)
        )
    } else if j.to.starts_with("tel:") {
        "MSISDN from the tel URI".to_owned()
    } else {
        "MSISDN from the subscriber table".to_owned()
    };
    println!(
        "  relay {}  {} -> {} ({how})",
        j.recipient_relay, j.to, recipient.msisdn
    );
    println!(
        "  SMSC {}   submit_sm to {}: {} segment(s): {}",
        j.recipient_relay,
        recipient.msisdn,
        got.segments,
        world.sms_summary(j.recipient_relay, &recipient.msisdn, got.segments)
    );
    let from = match &note.from {
        Some(FromAddress::Present(a)) => a.text(),
        _ => "(hidden)".into(),
    };
    println!(
        "  {:<8} WAP push m-notification-ind: tid {}, From {}, Subject {:?}, {} octets",
        recipient.name,
        note.transaction_id,
        from,
        note.subject.as_ref().map(|s| s.text()).unwrap_or_default(),
        note.message_size
    );
    println!(
        "  {:<8} Content-Location {}",
        recipient.name, note.content_location
    );

    let (http, retrieved) = recipient.retrieve(&note.content_location).await?;
    let body = text_of(&retrieved).unwrap_or_default();
    println!(
        "  {:<8} GET -> HTTP {http} m-retrieve-conf: Message-ID {}, Subject {:?}, text {:?}",
        recipient.name,
        retrieved.message_id.as_deref().unwrap_or("-"),
        retrieved
            .subject
            .as_ref()
            .map(|s| s.text())
            .unwrap_or_default(),
        body
    );
    if http != 200 || body != text {
        return Err(format!(
            "journey {n}: retrieved {body:?} with HTTP {http}, sent {text:?}"
        ));
    }
    let ack = recipient
        .acknowledge(&world.mm1(j.recipient_relay), &note.transaction_id)
        .await?;
    println!("  {:<8} m-acknowledge-ind -> HTTP {ack}", recipient.name);
    if !(200..300).contains(&ack) {
        return Err(format!("journey {n}: acknowledge answered HTTP {ack}"));
    }
    if j.recipient_relay != j.sender_relay {
        println!(
            "  relay {}  MM4_delivery_report.REQ (Retrieved) -> relay {}",
            j.recipient_relay, j.sender_relay
        );
    }

    // The sender's delivery report, pushed to her handset.
    let report = sender
        .next_push(|| world.sms(j.sender_relay), STEP_TIMEOUT)
        .await
        .map_err(|e| format!("journey {n}: delivery report: {e}"))?;
    let Pdu::DeliveryInd(ind) = report.pdu else {
        return Err(format!(
            "journey {n}: expected m-delivery-ind, got {:?}",
            report.pdu.message_type()
        ));
    };
    println!(
        "  {:<8} WAP push ({} segment(s)) m-delivery-ind: Message-ID {}, To {}, Status {} ({})",
        sender.name,
        report.segments,
        ind.message_id,
        ind.to
            .iter()
            .map(|t| t.text())
            .collect::<Vec<_>>()
            .join(", "),
        ind.status.name().unwrap_or("?"),
        ind.status.0
    );
    if ind.status != mms_pdu::Status::RETRIEVED
        || (!message_id.is_empty() && ind.message_id != message_id)
    {
        return Err(format!(
            "journey {n}: delivery report {:?} for {}",
            ind.status, ind.message_id
        ));
    }
    println!("  ok in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}

/// Prints what the sender's relay resolves `to` to (the same resolver configuration).
async fn print_resolution(config: &RelayConfig, to: &str) {
    let Ok(address) = Address::parse_with(to, &config.parse_options()) else {
        println!("  resolve  {to}: not an address");
        return;
    };
    let resolver = match mms_resolver::dns_resolver(config.resolver_config()) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            println!("  resolve  {to}: {e}");
            return;
        }
    };
    let r = resolver.resolve(&address).await;
    for step in &r.steps {
        match step {
            Step::Rule { rule, detail } => println!("  resolve  rule {rule}: {detail}"),
            Step::Query {
                name,
                record_type,
                answers,
                error,
                ..
            } => match error {
                Some(e) => println!("  resolve  DNS {record_type} {name}: {e}"),
                None => println!(
                    "  resolve  DNS {record_type} {name} -> {}",
                    answers.join(", ")
                ),
            },
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    match r.outcome {
        Ok(Route::Local) => println!("  resolve  {to} => local delivery"),
        Ok(Route::Peer { mmse_domain, hosts }) => println!(
            "  resolve  {to} => peer {mmse_domain} at {}",
            hosts
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("  resolve  {to} => unresolvable: {e}"),
    }
}
