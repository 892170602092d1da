//! `mmsrelay bench`: the end-to-end load benchmark (DESIGN.md §1 and §11) on one machine.
//!
//! Starts the same world as `mmsrelay demo` (DNS zone, relay A with its subscriber table, relay B
//! with the test HSS over Diameter Sh, one SMSC sink per relay, all on loopback, stores in a
//! temporary directory) and has C concurrent user agents send `m-send-req` over MM1 to relay A,
//! `sip:alice@a.example` → `sip:bob@b.example`. Each MM then goes A → MM4 (SMTP) → B → Sh UDR →
//! WAP push over SMPP to B's SMSC sink. Each MM carries the subject `bench <n>`; the push is
//! matched to its MM by that subject in the reassembled `m-notification-ind`, and its time is the
//! moment the bench first saw the push's first segment at the sink.
//!
//! Reported: MM/s accepted (m-send-conf Ok), MM/s pushed, latency submit → push and submit →
//! m-send-conf, CPU time and peak RSS of the whole process (relays, peers and load generator
//! together). With the baseline (default), the same MM1 load is then sent to the floor of the
//! work — a minimal axum handler doing only the same durable `Store::accept_mm` (one recipient,
//! one outbox item) on its own SQLite store — and the ratio ours/baseline is reported.
//!
//! Exit codes: 0 done and every accepted MM was pushed, 1 nothing accepted or pushes missing
//! after the drain timeout, 2 setup failed.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mms_pdu::{MmsVersion, Pdu, ResponseStatus, SendConf};
use mms_store::{
    AnyStore, MmMeta, NewMm, NewRecipient, Origin, RecipientState, RetrievalToken, Store, Timestamp,
};
use relay::jobs::{Job, ResolveJob};
use wap_push::{Reassembler, ReassemblyStatus, UserData};

use crate::demo_cmd::ua::Ua;
use crate::demo_cmd::{ALICE_SIP, BOB_SIP, World};

/// Arguments of `mmsrelay bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Send exactly N MMs (default: run for --duration).
    #[arg(long, conflicts_with = "duration")]
    count: Option<u64>,
    /// Send for this many seconds (default 10 when --count is not given).
    #[arg(long)]
    duration: Option<f64>,
    /// Concurrent user agents (each its own HTTP connection).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Size of each m-send-req: `1k`, `30k` or a number of octets.
    #[arg(long, default_value = "1k", value_parser = parse_size)]
    size: usize,
    /// Skip the baseline run (minimal accept_mm handler).
    #[arg(long)]
    no_baseline: bool,
    /// Seconds to wait for the outstanding pushes once sending stopped.
    #[arg(long, default_value_t = 60)]
    drain_timeout: u64,
    /// Print the result as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Relay logs on stderr (RUST_LOG syntax), e.g. `warn`; default: none.
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => (lower.as_str(), 1),
    };
    match digits.parse::<usize>() {
        Ok(n) if n > 0 && n * unit <= 1 << 20 => Ok(n * unit),
        _ => Err(format!("{s:?}: expected 1k, 30k or octets (1..=1048576)")),
    }
}

/// When the load stops.
#[derive(Clone, Copy)]
enum Limit {
    Count(u64),
    Duration(Duration),
}

/// What one load run against an MM1 endpoint measured.
struct LoadResult {
    accepted: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    /// Submit → m-send-conf, sorted.
    conf_latency: Vec<Duration>,
    /// Start of each accepted submission, by MM number.
    submitted: HashMap<u64, Instant>,
}

/// Pushes seen at the SMSC sink, by MM number.
#[derive(Default)]
struct Pushes {
    seen: HashMap<u64, Instant>,
    /// Segments reassembled into something that is not one of our notifications.
    other: u64,
}

/// Runs `mmsrelay bench`.
pub fn run(args: Args) -> ExitCode {
    if let Some(filter) = &args.log {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    if args.concurrency == 0 {
        eprintln!("mmsrelay bench: --concurrency must be at least 1");
        return ExitCode::from(2);
    }
    let limit = match (args.count, args.duration) {
        (Some(n), _) => Limit::Count(n),
        (None, Some(s)) if s.is_finite() && s > 0.0 => Limit::Duration(Duration::from_secs_f64(s)),
        (None, Some(_)) => {
            eprintln!("mmsrelay bench: --duration must be a positive number of seconds");
            return ExitCode::from(2);
        }
        (None, None) => Limit::Duration(Duration::from_secs(10)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mmsrelay bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!(
        "mmsrelay-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    ));
    let code = runtime.block_on(bench(&args, limit, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    code
}

async fn bench(args: &Args, limit: Limit, dir: &Path) -> ExitCode {
    let world = match World::start(dir).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("mmsrelay bench: setup failed: {e}");
            return ExitCode::from(2);
        }
    };
    let world = Arc::new(world);
    let pushes = Arc::new(Mutex::new(Pushes::default()));
    let stop_collector = Arc::new(AtomicBool::new(false));
    let collector = tokio::spawn(collect_pushes(
        world.clone(),
        pushes.clone(),
        stop_collector.clone(),
    ));
    let mm1 = world.mm1('A');
    let text = filler_text(args.size);

    // Warm-up: one MM through the whole chain (SMPP bind, SMTP and Diameter connections), not
    // counted.
    let warm = Ua::new("bench-warm", &[ALICE_SIP], "447700900001");
    let warm_ok = match warm
        .send_req(&mm1, ALICE_SIP, request(&warm, u64::MAX, &text))
        .await
    {
        Ok(c) if c.response_status.is_ok() => {
            wait_pushed(
                &pushes,
                |p| p.seen.contains_key(&u64::MAX),
                Duration::from_secs(30),
            )
            .await
        }
        Ok(c) => {
            eprintln!(
                "mmsrelay bench: warm-up m-send-conf status {}",
                c.response_status.0
            );
            false
        }
        Err(e) => {
            eprintln!("mmsrelay bench: warm-up: {e}");
            false
        }
    };
    if !warm_ok {
        eprintln!("mmsrelay bench: setup failed: the warm-up MM was not pushed within 30 s");
        stop_world(world, collector, &stop_collector).await;
        return ExitCode::from(2);
    }
    lock(&pushes).seen.clear();

    let cpu_before = cpu_times();
    let load = run_load(&mm1, args.concurrency, limit, &text).await;
    let accepted = load.accepted;
    let drained = wait_pushed(
        &pushes,
        |p| load.submitted.keys().all(|k| p.seen.contains_key(k)),
        Duration::from_secs(args.drain_timeout),
    )
    .await;
    let cpu_after = cpu_times();
    let peak_rss_kib = peak_rss_kib();
    stop_world(world, collector, &stop_collector).await;

    let pushes = std::mem::take(&mut *lock(&pushes));
    let mut push_latency: Vec<Duration> = Vec::with_capacity(pushes.seen.len());
    let mut last_push = load.elapsed;
    let start = load.submitted.values().min().copied();
    for (n, at) in &pushes.seen {
        if let Some(t0) = load.submitted.get(n) {
            push_latency.push(at.saturating_duration_since(*t0));
            if let Some(start) = start {
                last_push = last_push.max(at.saturating_duration_since(start));
            }
        }
    }
    push_latency.sort();
    let pushed = push_latency.len() as u64;

    let baseline = if args.no_baseline {
        None
    } else {
        match run_baseline(dir, args.concurrency, limit, &text).await {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("mmsrelay bench: baseline failed: {e}");
                return ExitCode::from(2);
            }
        }
    };

    let report = Report {
        args,
        limit,
        pdu_octets: Pdu::SendReq(request(
            &Ua::new("bench-0", &[ALICE_SIP], "447700900001"),
            0,
            &text,
        ))
        .encode()
        .len(),
        load: &load,
        pushed,
        push_elapsed: last_push,
        push_latency: &push_latency,
        other_pushes: pushes.other,
        cpu: cpu_after
            .zip(cpu_before)
            .map(|(a, b)| (a.0 - b.0, a.1 - b.1)),
        peak_rss_kib,
        baseline: baseline.as_ref(),
    };
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    if accepted == 0 {
        eprintln!("mmsrelay bench: FAILED: no MM accepted");
        ExitCode::from(1)
    } else if !drained || pushed < accepted {
        eprintln!(
            "mmsrelay bench: FAILED: {} of {accepted} accepted MMs not pushed within {} s",
            accepted - pushed.min(accepted),
            args.drain_timeout
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn stop_world(world: Arc<World>, collector: tokio::task::JoinHandle<()>, stop: &AtomicBool) {
    stop.store(true, Ordering::Relaxed);
    let _ = collector.await;
    match Arc::try_unwrap(world) {
        Ok(w) => w.stop().await,
        Err(_) => eprintln!("mmsrelay bench: world still shared at shutdown"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn wait_pushed(
    pushes: &Mutex<Pushes>,
    done: impl Fn(&Pushes) -> bool,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&lock(pushes)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Text making an m-send-req of about `size` octets.
fn filler_text(size: usize) -> String {
    let ua = Ua::new("bench-0", &[ALICE_SIP], "447700900001");
    let overhead = Pdu::SendReq(request(&ua, 0, "")).encode().len();
    "x".repeat(size.saturating_sub(overhead).max(1))
}

/// The m-send-req of MM number `n` (its subject is `bench <n>`).
fn request(ua: &Ua, n: u64, text: &str) -> mms_pdu::SendReq {
    ua.text_req(&[BOB_SIP], &format!("bench {n}"), text)
}

/// Watches SMSC B's submit_sm records, reassembles the pushes and notes when the first segment
/// of each `m-notification-ind` was seen.
async fn collect_pushes(world: Arc<World>, pushes: Arc<Mutex<Pushes>>, stop: Arc<AtomicBool>) {
    let mut reassembler = Reassembler::new(Duration::from_secs(120), 1 << 16);
    let mut first_segment: HashMap<(String, wap_push::ConcatReference), Instant> = HashMap::new();
    let mut done = 0usize;
    while !stop.load(Ordering::Relaxed) {
        // Wake as soon as something arrives, then read everything new.
        world
            .smsc_b
            .wait_for_submits(done + 1, Duration::from_millis(100))
            .await;
        let records = world.smsc_b.submits();
        let now = Instant::now();
        for r in records.get(done..).unwrap_or_default() {
            let destination = &r.submit.destination.address;
            let user_data = &r.submit.short_message;
            let reference = UserData::parse_with_header(user_data)
                .ok()
                .and_then(|u| u.concat())
                .map(|(reference, _, _)| (destination.clone(), reference));
            if let Some(key) = &reference {
                first_segment.entry(key.clone()).or_insert(now);
            }
            let Ok(ReassemblyStatus::Complete(message)) =
                reassembler.push_user_data(destination, user_data, now)
            else {
                continue;
            };
            let first = reference
                .and_then(|k| first_segment.remove(&k))
                .unwrap_or(now);
            let number = message
                .push()
                .ok()
                .and_then(|p| Pdu::decode(&p.body).ok())
                .and_then(|pdu| match pdu {
                    Pdu::NotificationInd(n) => n.subject.map(|s| s.text()),
                    _ => None,
                })
                .and_then(|s| s.strip_prefix("bench ").and_then(|n| n.parse::<u64>().ok()));
            let mut p = lock(&pushes);
            match number {
                Some(n) => {
                    p.seen.entry(n).or_insert(first);
                }
                None => p.other += 1,
            }
        }
        done = records.len();
        // Bound the cost of copying the record list (it grows with the run).
        tokio::time::sleep(Duration::from_millis(5 + (done / 200) as u64)).await;
    }
}

/// C user agents sending m-send-req to `mm1` until the limit.
async fn run_load(mm1: &str, concurrency: usize, limit: Limit, text: &str) -> LoadResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = match limit {
        Limit::Duration(d) => Some(start + d),
        Limit::Count(_) => None,
    };
    let max = match limit {
        Limit::Count(n) => n,
        Limit::Duration(_) => u64::MAX - 1,
    };
    let mut tasks = Vec::with_capacity(concurrency);
    for k in 0..concurrency {
        let (next, mm1, text) = (next.clone(), mm1.to_owned(), text.to_owned());
        tasks.push(tokio::spawn(async move {
            let ua = Ua::new(&format!("bench{k}"), &[ALICE_SIP], "447700900001");
            let mut submitted = Vec::new();
            let mut latency = Vec::new();
            let (mut errors, mut first_error) = (0u64, None);
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= max {
                    break;
                }
                let req = request(&ua, n, &text);
                let t0 = Instant::now();
                match ua.send_req(&mm1, ALICE_SIP, req).await {
                    Ok(c) if c.response_status.is_ok() => {
                        latency.push(t0.elapsed());
                        submitted.push((n, t0));
                    }
                    Ok(c) => {
                        errors += 1;
                        first_error
                            .get_or_insert(format!("m-send-conf status {}", c.response_status.0));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (submitted, latency, errors, first_error)
        }));
    }
    let mut result = LoadResult {
        accepted: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        conf_latency: Vec::new(),
        submitted: HashMap::new(),
    };
    for t in tasks {
        match t.await {
            Ok((submitted, latency, errors, first_error)) => {
                result.submitted.extend(submitted);
                result.conf_latency.extend(latency);
                result.errors += errors;
                if result.first_error.is_none() {
                    result.first_error = first_error;
                }
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(format!("load task: {e}"));
            }
        }
    }
    result.elapsed = start.elapsed();
    result.accepted = result.submitted.len() as u64;
    result.conf_latency.sort();
    result
}

/// The floor of the MM1 work: an axum handler that reads the body, stores it durably with
/// `Store::accept_mm` (one recipient, one resolve item, as relay A does) and answers a fixed
/// m-send-conf. No decoding, no authentication, no workers.
async fn run_baseline(
    dir: &Path,
    concurrency: usize,
    limit: Limit,
    text: &str,
) -> Result<LoadResult, String> {
    let store_dir = dir.join("baseline");
    std::fs::create_dir_all(&store_dir).map_err(|e| format!("{}: {e}", store_dir.display()))?;
    let store = AnyStore::open(&store_dir.display().to_string())
        .await
        .map_err(|e| format!("baseline store: {e}"))?;
    let conf = Bytes::from(
        Pdu::SendConf(SendConf {
            transaction_id: "baseline".into(),
            version: MmsVersion::V1_2,
            response_status: ResponseStatus::OK,
            message_id: Some("baseline@mms.a.example".into()),
            ..Default::default()
        })
        .encode(),
    );
    let app = axum::Router::new()
        .fallback(axum::routing::post(baseline_accept))
        .with_state((store, conf));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("baseline listener: {e}"))?;
    let url = format!(
        "http://{}/",
        listener
            .local_addr()
            .map_err(|e| format!("baseline listener: {e}"))?
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let result = run_load(&url, concurrency, limit, text).await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    Ok(result)
}

async fn baseline_accept(
    axum::extract::State((store, conf)): axum::extract::State<(AnyStore, Bytes)>,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let now = Timestamp::now();
    let message_id = format!("{:032x}@mms.a.example", next_baseline_id());
    let token = RetrievalToken::generate();
    let address = BOB_SIP.to_owned();
    let item = ResolveJob {
        retrieval_token: Some(token.as_str().to_owned()),
    }
    .item(
        format!("resolve:{message_id}:{address}"),
        None,
        Some(address.clone()),
        now,
    );
    let mm = NewMm {
        meta: MmMeta {
            message_id: message_id.clone(),
            transaction_id: message_id,
            from: ALICE_SIP.to_owned(),
            mms_version: "1.2".to_owned(),
            content_type: "application/vnd.wap.multipart.mixed".to_owned(),
            subject: None,
            size: body.len() as u64,
            date: now,
            expiry: now.plus(Duration::from_secs(7 * 24 * 3600)),
            delivery_report: true,
            read_report: false,
            origin: Origin::Mm1 {
                identity: ALICE_SIP.to_owned(),
            },
        },
        headers: Bytes::new(),
        body,
    };
    let recipient = NewRecipient {
        address,
        state: RecipientState::Resolving,
        retrieval_token: Some(token),
    };
    match store.accept_mm(mm, vec![recipient], vec![item], now).await {
        Ok(_) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/vnd.wap.mms-message",
            )],
            conf,
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

fn next_baseline_id() -> u128 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    u128::from(NEXT.fetch_add(1, Ordering::Relaxed)) ^ (u128::from(std::process::id()) << 64)
}

/// User and system CPU seconds of this process so far (/proc/self/stat, USER_HZ = 100).
fn cpu_times() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Some((ticks(11)? / 100.0, ticks(12)? / 100.0))
}

/// Peak resident set size in KiB (/proc/self/status VmHWM).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The `p` quantile (0..=1) of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted
        .get(idx.min(sorted.len() - 1))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn rate(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

struct Report<'a> {
    args: &'a Args,
    limit: Limit,
    pdu_octets: usize,
    load: &'a LoadResult,
    pushed: u64,
    push_elapsed: Duration,
    push_latency: &'a [Duration],
    other_pushes: u64,
    cpu: Option<(f64, f64)>,
    peak_rss_kib: Option<u64>,
    baseline: Option<&'a LoadResult>,
}

fn latency_json(sorted: &[Duration]) -> serde_json::Value {
    serde_json::json!({
        "p50": quantile_ms(sorted, 0.50),
        "p90": quantile_ms(sorted, 0.90),
        "p99": quantile_ms(sorted, 0.99),
        "max": sorted.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    })
}

impl Report<'_> {
    fn accepted_per_s(&self) -> f64 {
        rate(self.load.accepted, self.load.elapsed)
    }

    fn ratio(&self) -> Option<f64> {
        let b = rate(self.baseline?.accepted, self.baseline?.elapsed);
        (b > 0.0).then(|| self.accepted_per_s() / b)
    }

    fn json(&self) -> serde_json::Value {
        let (limit_kind, limit_value) = match self.limit {
            Limit::Count(n) => ("count", n as f64),
            Limit::Duration(d) => ("duration_s", d.as_secs_f64()),
        };
        serde_json::json!({
            "chain": "UA -MM1-> relay A -MM4-> relay B -Sh-> HSS, -SMPP-> SMSC",
            "limit": { limit_kind: limit_value },
            "concurrency": self.args.concurrency,
            "size_octets": self.args.size,
            "pdu_octets": self.pdu_octets,
            "accepted": self.load.accepted,
            "errors": self.load.errors,
            "first_error": self.load.first_error,
            "send_elapsed_s": self.load.elapsed.as_secs_f64(),
            "accepted_per_s": self.accepted_per_s(),
            "pushed": self.pushed,
            "push_elapsed_s": self.push_elapsed.as_secs_f64(),
            "pushed_per_s": rate(self.pushed, self.push_elapsed),
            "other_pushes": self.other_pushes,
            "latency_submit_to_push_ms": latency_json(self.push_latency),
            "latency_submit_to_conf_ms": latency_json(&self.load.conf_latency),
            "cpu_user_s": self.cpu.map(|c| c.0),
            "cpu_system_s": self.cpu.map(|c| c.1),
            "cpu_ms_per_mm": self.cpu.and_then(|(u, s)| {
                (self.pushed > 0).then(|| (u + s) * 1e3 / self.pushed as f64)
            }),
            "peak_rss_kib": self.peak_rss_kib,
            "baseline": self.baseline.map(|b| serde_json::json!({
                "accepted": b.accepted,
                "errors": b.errors,
                "elapsed_s": b.elapsed.as_secs_f64(),
                "accepted_per_s": rate(b.accepted, b.elapsed),
                "latency_submit_to_conf_ms": latency_json(&b.conf_latency),
            })),
            "ratio_accepted_vs_baseline": self.ratio(),
        })
    }

    fn print(&self) {
        let l = self.load;
        let ms = |s: &[Duration]| {
            format!(
                "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                quantile_ms(s, 0.5),
                quantile_ms(s, 0.9),
                quantile_ms(s, 0.99),
                s.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
            )
        };
        println!(
            "mmsrelay bench: {ALICE_SIP} -> {BOB_SIP}: UA -MM1-> relay A -MM4-> relay B -Sh-> HSS, -SMPP-> SMSC (one process, loopback)"
        );
        println!(
            "  load          {} UAs, m-send-req {} octets, {}",
            self.args.concurrency,
            self.pdu_octets,
            match self.limit {
                Limit::Count(n) => format!("{n} MMs"),
                Limit::Duration(d) => format!("{:.1} s", d.as_secs_f64()),
            }
        );
        println!(
            "  accepted      {} in {:.2} s = {:.1} MM/s (errors {}{})",
            l.accepted,
            l.elapsed.as_secs_f64(),
            self.accepted_per_s(),
            l.errors,
            l.first_error
                .as_deref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default()
        );
        println!("  submit->conf  {}", ms(&l.conf_latency));
        println!(
            "  pushed        {} in {:.2} s = {:.1} MM/s",
            self.pushed,
            self.push_elapsed.as_secs_f64(),
            rate(self.pushed, self.push_elapsed)
        );
        println!("  submit->push  {}", ms(self.push_latency));
        if let Some((u, s)) = self.cpu {
            println!(
                "  CPU           user {u:.2} s, system {s:.2} s ({:.2} ms per MM, whole process)",
                if self.pushed > 0 {
                    (u + s) * 1e3 / self.pushed as f64
                } else {
                    0.0
                }
            );
        }
        if let Some(kib) = self.peak_rss_kib {
            println!("  peak RSS      {:.1} MiB (VmHWM)", kib as f64 / 1024.0);
        }
        if let Some(b) = self.baseline {
            println!(
                "  baseline      {} accepted in {:.2} s = {:.1} MM/s (axum + Store::accept_mm only), submit->conf {}",
                b.accepted,
                b.elapsed.as_secs_f64(),
                rate(b.accepted, b.elapsed),
                ms(&b.conf_latency)
            );
            if let Some(r) = self.ratio() {
                println!("  ours/baseline {r:.2} (accepted MM/s)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_accepts_kilo_suffix_and_octets() {
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("30K"), Ok(30 * 1024));
        assert_eq!(parse_size("500"), Ok(500));
        assert!(parse_size("0").is_err());
        assert!(parse_size("big").is_err());
        assert!(parse_size("2048k").is_err());
    }

    #[test]
    fn quantile_picks_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&v, 0.5), 51.0);
        assert_eq!(quantile_ms(&v, 0.99), 99.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn filler_makes_a_request_of_about_the_size() {
        let ua = Ua::new("bench-0", &[ALICE_SIP], "447700900001");
        let len = Pdu::SendReq(request(&ua, 12345, &filler_text(30 * 1024)))
            .encode()
            .len();
        assert!((30 * 1024 - 16..=30 * 1024 + 16).contains(&len), "{len}");
    }
}
