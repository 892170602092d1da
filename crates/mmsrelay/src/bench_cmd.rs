//! `mmsrelay bench`: the end-to-end load benchmark (DESIGN.md §1 and §11) on one machine.
//!
//! Starts the peers of `mmsrelay demo` in this process (DNS zone, test HSS over Diameter Sh, one
//! SMSC sink per relay, all on loopback) and relay A and relay B as `mmsrelay serve` child
//! processes with generated configurations and SQLite stores in a temporary directory, so each
//! relay's CPU time and peak RSS are its own (/proc/<pid>). User agents send `m-send-req` over MM1
//! to relay A, `sip:alice@a.example` → `sip:bob@b.example`; each MM then goes A → MM4 (SMTP) →
//! B → Sh UDR → WAP push over SMPP to B's SMSC sink. Each MM carries the subject `bench <n>`; the
//! push is matched to its MM by that subject in the reassembled `m-notification-ind`, and its
//! time is the moment the bench first saw the push's first segment at the sink.
//!
//! Load: closed loop (default, `--concurrency` UAs each sending when answered) or open loop
//! (`--rate R` MM/s at a fixed schedule, latency from the scheduled time, so a stall is not
//! hidden by the load backing off). `--sweep R1,R2,…` runs the open loop at each rate in turn on
//! the same chain (waiting for each point's pushes) and prints the scaling curve; `--plot FILE`
//! writes it as SVG. `--prefill N` stores N backlog MMs in each relay's store first.
//!
//! Reported: MM/s offered, accepted (m-send-conf Ok) and pushed, latency submit → push and
//! submit → m-send-conf, CPU time during the run and peak RSS of relay A, relay B and the bench
//! process. In a single closed-loop run the same MM1 load is then sent to the floor of the work —
//! a minimal axum handler doing only the same durable `Store::accept_mm` (one recipient, one
//! outbox item) on its own SQLite store — and the ratio ours/baseline is reported.
//!
//! The relays are killed and reaped and the temporary directory removed at the end, on errors
//! and on SIGINT/SIGTERM.
//!
//! Exit codes: 0 done and every accepted MM was pushed, 1 nothing accepted or pushes missing
//! after the drain timeout, 2 setup failed, 130 interrupted.

mod baseline;
mod chain;
mod load;
mod plot;
mod prefill;
mod queue;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mms_pdu::Pdu;

use chain::Chain;
use load::{Limit, LoadResult, Mode, Pushes, lock, wait_pushed};
use prefill::Prefill;
use queue::QueueCounters;
use report::{ProcUse, RunResult, latency_text, rate};

/// Arguments of `mmsrelay bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Send exactly N MMs (per point with --sweep; default: run for --duration).
    #[arg(long, conflicts_with = "duration")]
    count: Option<u64>,
    /// Send for this many seconds (per point with --sweep; default 10 when --count is not given).
    #[arg(long)]
    duration: Option<f64>,
    /// Closed loop: concurrent user agents (each its own HTTP connection).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Open loop: offer this many MM/s at a fixed schedule instead of the closed loop.
    #[arg(long, conflicts_with = "sweep")]
    rate: Option<f64>,
    /// Open loop: requests in flight at most (a send beyond waits; its latency still counts).
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Scaling curve: open-loop runs at each of these MM/s in turn, e.g. `50,100,200,400,800`.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    sweep: Option<Vec<f64>>,
    /// With --sweep: write the curve as SVG to this file.
    #[arg(long, value_name = "FILE", requires = "sweep")]
    plot: Option<PathBuf>,
    /// Size of each m-send-req: `1k`, `30k` or a number of octets.
    #[arg(long, default_value = "1k", value_parser = parse_size)]
    size: usize,
    /// Store this many backlog MMs in each relay's store before the run (see `prefill`).
    #[arg(long, default_value_t = 0)]
    prefill: u64,
    /// Body size of each prefilled MM.
    #[arg(long, default_value = "1k", value_parser = parse_size)]
    prefill_size: usize,
    /// Skip the baseline run (minimal accept_mm handler; only in a single closed-loop run).
    #[arg(long)]
    no_baseline: bool,
    /// Seconds to wait for the outstanding pushes once sending stopped (per point).
    #[arg(long, default_value_t = 60)]
    drain_timeout: u64,
    /// Print the result as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Set a key of both relays' configurations, e.g. `mm4.connections_per_peer=8` or
    /// `mm4.ack_request=false` (repeatable; the value is TOML, else a string).
    #[arg(long, value_name = "KEY=VALUE", value_parser = chain::parse_setting)]
    relay_set: Vec<chain::Setting>,
    /// Relay and bench logs on stderr (RUST_LOG syntax), e.g. `warn`; default: relays at `warn`
    /// into their log files in the temporary directory.
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

/// The runs asked for: one closed- or open-loop run, or a sweep of open-loop runs.
fn modes(args: &Args) -> Result<Vec<Mode>, String> {
    let open = |rate: f64| {
        if rate.is_finite() && rate > 0.0 {
            Ok(Mode::Open {
                rate,
                max_in_flight: args.max_in_flight.max(1),
            })
        } else {
            Err(format!("rate {rate}: expected a positive number of MM/s"))
        }
    };
    match (&args.sweep, args.rate) {
        (Some(rates), _) if rates.is_empty() => Err("--sweep needs at least one rate".into()),
        (Some(rates), _) => rates.iter().map(|r| open(*r)).collect(),
        (None, Some(r)) => Ok(vec![open(r)?]),
        (None, None) if args.concurrency == 0 => Err("--concurrency must be at least 1".into()),
        (None, None) => Ok(vec![Mode::Closed {
            concurrency: args.concurrency,
        }]),
    }
}

/// Runs `mmsrelay bench`.
pub fn run(args: Args) -> ExitCode {
    crate::log_to_stderr(args.log.as_deref());
    let modes = match modes(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mmsrelay bench: {e}");
            return ExitCode::from(2);
        }
    };
    let limit = match (args.count, args.duration) {
        (Some(n), _) => Limit::Count(n),
        (None, Some(s)) if s.is_finite() && s > 0.0 => Limit::Duration(Duration::from_secs_f64(s)),
        (None, Some(_)) => {
            eprintln!("mmsrelay bench: --duration must be a positive number of seconds");
            return ExitCode::from(2);
        }
        (None, None) => Limit::Duration(Duration::from_secs(10)),
    };
    let runtime = match crate::runtime("bench", crate::Threads::Multi) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let dir = crate::temp_dir("bench");
    let code = runtime.block_on(async {
        // Dropping `bench` on a signal drops the chain: the relays are killed and reaped.
        tokio::select! {
            code = bench(&args, &modes, limit, &dir) => code,
            signal = interrupted() => {
                eprintln!("mmsrelay bench: {signal}: stopping");
                ExitCode::from(130)
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
    code
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

/// The chain with its push collector running.
struct Bench {
    chain: Chain,
    pushes: Arc<Mutex<Pushes>>,
    stop_collector: Arc<AtomicBool>,
    collector: tokio::task::JoinHandle<()>,
    next: Arc<AtomicU64>,
    text: String,
    drain_timeout: Duration,
}

impl Bench {
    async fn start(args: &Args, dir: &Path) -> Result<Self, String> {
        let started = Instant::now();
        let prefill = Prefill {
            count: args.prefill,
            size: args.prefill_size,
        };
        let filter = args.log.clone().unwrap_or_else(|| "warn".to_owned());
        let chain = Chain::start(dir, prefill, &filter, &args.relay_set).await?;
        let pushes = Arc::new(Mutex::new(Pushes::default()));
        let stop_collector = Arc::new(AtomicBool::new(false));
        let collector = tokio::spawn(load::collect_pushes(
            chain.peers.clone(),
            pushes.clone(),
            stop_collector.clone(),
        ));
        let bench = Self {
            chain,
            pushes,
            stop_collector,
            collector,
            next: Arc::new(AtomicU64::new(0)),
            text: load::filler_text(args.size),
            drain_timeout: Duration::from_secs(args.drain_timeout),
        };
        bench.warm_up().await?;
        if args.prefill > 0 {
            eprintln!(
                "mmsrelay bench: chain ready in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(bench)
    }

    /// One MM through the whole chain (SMPP bind, SMTP and Diameter connections), not counted.
    async fn warm_up(&self) -> Result<(), String> {
        let ua = load::bench_ua("bench-warm");
        let n = u64::MAX;
        let conf = ua
            .send_req(
                &self.chain.mm1_a,
                crate::demo_cmd::ALICE_SIP,
                load::request(&ua, n, &self.text),
            )
            .await
            .map_err(|e| format!("warm-up: {e}"))?;
        if !conf.response_status.is_ok() {
            return Err(format!(
                "warm-up m-send-conf status {}",
                conf.response_status.0
            ));
        }
        if !wait_pushed(
            &self.pushes,
            |p| p.seen.contains_key(&n),
            Duration::from_secs(30),
        )
        .await
        {
            return Err(format!(
                "the warm-up MM was not pushed within 30 s\nrelay A log:\n{}\nrelay B log:\n{}",
                self.chain.relay_a.log_tail(),
                self.chain.relay_b.log_tail()
            ));
        }
        lock(&self.pushes).seen.clear();
        Ok(())
    }

    /// One load run and the drain of its pushes.
    async fn run(&mut self, mode: Mode, limit: Limit) -> RunResult {
        let loadavg_before = report::loadavg();
        let before = self.chain.stats();
        let queue_before = self.chain.queue_counters().await;
        let load = load::run_load(&self.chain.mm1_a, mode, limit, &self.text, &self.next).await;
        let drained = wait_pushed(
            &self.pushes,
            |p| load.submitted.keys().all(|k| p.seen.contains_key(k)),
            self.drain_timeout,
        )
        .await;
        let after = self.chain.stats();
        let queue_after = self.chain.queue_counters().await;
        let mut push_latency = Vec::with_capacity(load.submitted.len());
        let mut push_elapsed = load.elapsed;
        {
            let mut pushes = lock(&self.pushes);
            for (n, t0) in &load.submitted {
                if let Some(at) = pushes.seen.remove(n) {
                    push_latency.push(at.saturating_duration_since(*t0));
                    if let Some(start) = load.start {
                        push_elapsed = push_elapsed.max(at.saturating_duration_since(start));
                    }
                }
            }
        }
        push_latency.sort();
        RunResult {
            mode,
            limit,
            pushed: push_latency.len() as u64,
            push_elapsed,
            push_latency,
            drained,
            procs: [0, 1, 2].map(|i| ProcUse::between(before[i], after[i])),
            queue: [0, 1].map(|i| QueueCounters::between(queue_before[i], queue_after[i])),
            loadavg: (loadavg_before, report::loadavg()),
            load,
        }
    }

    async fn stop(self) {
        self.stop_collector.store(true, Ordering::Relaxed);
        let _ = self.collector.await;
        self.chain.stop().await;
    }
}

async fn bench(args: &Args, modes: &[Mode], limit: Limit, dir: &Path) -> ExitCode {
    let mut bench = match Bench::start(args, dir).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mmsrelay bench: setup failed: {e}");
            return ExitCode::from(2);
        }
    };
    let mut runs = Vec::with_capacity(modes.len());
    for (i, mode) in modes.iter().enumerate() {
        let run = bench.run(*mode, limit).await;
        if modes.len() > 1 && !args.json {
            eprintln!(
                "mmsrelay bench: point {}/{}: offered {:.0} MM/s, accepted {:.1}, pushed {:.1} MM/s, p99 submit->push {:.0} ms",
                i + 1,
                modes.len(),
                run.offered_per_s().unwrap_or(0.0),
                run.accepted_per_s(),
                run.pushed_per_s(),
                report::quantile_ms(&run.push_latency, 0.99)
            );
        }
        runs.push(run);
    }
    let relay_pids = [bench.chain.relay_a.pid(), bench.chain.relay_b.pid()];
    bench.stop().await;

    let single_closed = matches!(modes, [Mode::Closed { .. }]);
    let baseline = if single_closed && !args.no_baseline {
        match baseline::run_baseline(dir, modes[0], limit, &bench_text(args)).await {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("mmsrelay bench: baseline failed: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let pdu_octets = Pdu::SendReq(load::request(
        &load::bench_ua("bench-0"),
        0,
        &bench_text(args),
    ))
    .encode()
    .len();
    if args.sweep.is_some() {
        let points: Vec<plot::Point> = runs
            .iter()
            .map(|r| plot::Point {
                offered: r.offered_per_s().unwrap_or(0.0),
                accepted: r.accepted_per_s(),
                pushed: r.pushed_per_s(),
                p99_ms: report::quantile_ms(&r.push_latency, 0.99),
            })
            .collect();
        if let Some(path) = &args.plot {
            let title = format!(
                "mmsrelay bench: m-send-req {pdu_octets} octets, {} MMs prefilled per relay",
                args.prefill
            );
            if let Err(e) = plot::write_svg(path, &title, &points) {
                eprintln!("mmsrelay bench: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let head = Head {
        args,
        dir,
        relay_pids,
        pdu_octets,
        baseline: baseline.as_ref(),
        runs: &runs,
    };
    if args.json {
        println!("{}", head.json());
    } else {
        head.print();
    }
    verdict(&runs, args.drain_timeout)
}

fn bench_text(args: &Args) -> String {
    load::filler_text(args.size)
}

/// Exit code from the runs: 1 when nothing was accepted or pushes are missing.
fn verdict(runs: &[RunResult], drain_timeout: u64) -> ExitCode {
    let accepted: u64 = runs.iter().map(|r| r.load.accepted).sum();
    let missing: u64 = runs
        .iter()
        .map(|r| r.load.accepted.saturating_sub(r.pushed))
        .sum();
    if accepted == 0 {
        eprintln!("mmsrelay bench: FAILED: no MM accepted");
        ExitCode::from(1)
    } else if missing > 0 || runs.iter().any(|r| !r.drained) {
        eprintln!(
            "mmsrelay bench: FAILED: {missing} of {accepted} accepted MMs not pushed within {drain_timeout} s"
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The whole report: the set-up, the runs and the baseline.
struct Head<'a> {
    args: &'a Args,
    /// The temporary directory (removed when the bench exits).
    dir: &'a Path,
    /// Process ids of relay A and relay B (gone when the bench exits).
    relay_pids: [u32; 2],
    pdu_octets: usize,
    baseline: Option<&'a LoadResult>,
    runs: &'a [RunResult],
}

impl Head<'_> {
    fn ratio(&self) -> Option<f64> {
        let b = rate(self.baseline?.accepted, self.baseline?.elapsed);
        let ours = self.runs.first()?.accepted_per_s();
        (b > 0.0).then(|| ours / b)
    }

    fn json(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "chain": "UA -MM1-> relay A -MM4-> relay B -Sh-> HSS, -SMPP-> SMSC (relays as child processes)",
            "size_octets": self.args.size,
            "pdu_octets": self.pdu_octets,
            "prefill_per_relay": self.args.prefill,
            "prefill_size_octets": self.args.prefill_size,
            "relay_pids": self.relay_pids,
            "temp_dir": self.dir.display().to_string(),
        });
        if let (Some(obj), [run]) = (out.as_object_mut(), self.runs) {
            // A single run: its fields at the top level.
            if let serde_json::Value::Object(fields) = run.json() {
                obj.extend(fields);
            }
            obj.insert(
                "baseline".into(),
                self.baseline.map_or(serde_json::Value::Null, |b| {
                    serde_json::json!({
                        "accepted": b.accepted,
                        "errors": b.errors,
                        "elapsed_s": b.elapsed.as_secs_f64(),
                        "accepted_per_s": rate(b.accepted, b.elapsed),
                        "latency_submit_to_conf_ms": report::latency_json(&b.conf_latency),
                    })
                }),
            );
            obj.insert("ratio_accepted_vs_baseline".into(), self.ratio().into());
        } else if let Some(obj) = out.as_object_mut() {
            obj.insert(
                "points".into(),
                self.runs.iter().map(RunResult::json).collect(),
            );
        }
        out
    }

    fn print(&self) {
        println!(
            "mmsrelay bench: sip:alice@a.example -> sip:bob@b.example: UA -MM1-> relay A -MM4-> relay B -Sh-> HSS, -SMPP-> SMSC"
        );
        println!(
            "  set-up        relays A and B as child processes, peers and load in this process; m-send-req {} octets; {} MMs prefilled per relay ({} octets each)",
            self.pdu_octets, self.args.prefill, self.args.prefill_size
        );
        if let [run] = self.runs {
            run.print();
        } else {
            println!(
                "  | offered MM/s | accepted MM/s | pushed MM/s | submit->push p50 / p99 / max ms | relay A CPU s / peak RSS MiB | relay B CPU s / peak RSS MiB |"
            );
            println!("  |---|---|---|---|---|---|");
            for r in self.runs {
                let cpu = |p: Option<ProcUse>| {
                    p.map_or("-".to_owned(), |p| {
                        format!(
                            "{:.1} / {:.1}",
                            p.user_s + p.system_s,
                            p.peak_rss_kib as f64 / 1024.0
                        )
                    })
                };
                println!(
                    "  | {:.0} | {:.1} | {:.1}{} | {:.0} / {:.0} / {:.0} | {} | {} |",
                    r.offered_per_s().unwrap_or(0.0),
                    r.accepted_per_s(),
                    r.pushed_per_s(),
                    if r.drained { "" } else { " (not all)" },
                    report::quantile_ms(&r.push_latency, 0.5),
                    report::quantile_ms(&r.push_latency, 0.99),
                    r.push_latency.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
                    cpu(r.procs[0]),
                    cpu(r.procs[1]),
                );
            }
        }
        if let Some(b) = self.baseline {
            println!(
                "  baseline      {} accepted in {:.2} s = {:.1} MM/s (axum + Store::accept_mm only), submit->conf {}",
                b.accepted,
                b.elapsed.as_secs_f64(),
                rate(b.accepted, b.elapsed),
                latency_text(&b.conf_latency)
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
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(line: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied())).map(|c| c.args)
    }

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
    fn modes_follow_the_options() {
        let m = modes(&args(&[]).unwrap()).unwrap();
        assert!(matches!(m[..], [Mode::Closed { concurrency: 16 }]));
        let m = modes(&args(&["--rate", "250"]).unwrap()).unwrap();
        assert!(matches!(m[..], [Mode::Open { rate, .. }] if rate == 250.0));
        let m = modes(&args(&["--sweep", "50,100,200"]).unwrap()).unwrap();
        assert_eq!(m.len(), 3);
        assert!(modes(&args(&["--rate", "0"]).unwrap()).is_err());
        assert!(modes(&args(&["--concurrency", "0"]).unwrap()).is_err());
        assert!(args(&["--rate", "5", "--sweep", "1,2"]).is_err());
        assert!(args(&["--plot", "x.svg"]).is_err());
    }

    #[test]
    fn filler_makes_a_request_of_about_the_size() {
        let ua = load::bench_ua("bench-0");
        let len = Pdu::SendReq(load::request(&ua, 12345, &load::filler_text(30 * 1024)))
            .encode()
            .len();
        assert!((30 * 1024 - 16..=30 * 1024 + 16).contains(&len), "{len}");
    }
}
