//! What one run measured, as JSON and as text.

use std::time::Duration;

use super::chain::ProcStats;
use super::load::{Limit, LoadResult, Mode};
use super::queue::QueueCounters;

/// CPU used during the run and memory of one process.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ProcUse {
    /// User CPU seconds during the run.
    pub(super) user_s: f64,
    /// System CPU seconds during the run.
    pub(super) system_s: f64,
    /// Peak RSS since the process started (VmHWM), KiB.
    pub(super) peak_rss_kib: u64,
    /// RSS at the end of the run (VmRSS), KiB.
    pub(super) rss_kib: u64,
}

impl ProcUse {
    /// The use between two readings.
    pub(super) fn between(before: Option<ProcStats>, after: Option<ProcStats>) -> Option<Self> {
        let (b, a) = (before?, after?);
        Some(Self {
            user_s: a.user_s - b.user_s,
            system_s: a.system_s - b.system_s,
            peak_rss_kib: a.peak_rss_kib,
            rss_kib: a.rss_kib,
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "cpu_user_s": self.user_s,
            "cpu_system_s": self.system_s,
            "peak_rss_kib": self.peak_rss_kib,
            "rss_kib": self.rss_kib,
        })
    }
}

/// One load run through the chain.
pub(super) struct RunResult {
    /// How the load was offered.
    pub(super) mode: Mode,
    /// When it stopped.
    pub(super) limit: Limit,
    /// The MM1 side.
    pub(super) load: LoadResult,
    /// Accepted MMs whose notification reached SMSC B.
    pub(super) pushed: u64,
    /// First send → last push.
    pub(super) push_elapsed: Duration,
    /// Submit (or scheduled time) → push, sorted.
    pub(super) push_latency: Vec<Duration>,
    /// Every accepted MM was pushed within the drain timeout.
    pub(super) drained: bool,
    /// Relay A, relay B, the bench process (peers and load generator).
    pub(super) procs: [Option<ProcUse>; 3],
    /// Outbox counters of relay A and relay B during the run (and its drain).
    pub(super) queue: [Option<QueueCounters>; 2],
    /// /proc/loadavg before and after.
    pub(super) loadavg: (String, String),
}

/// The `p` quantile (0..=1) of sorted durations, in milliseconds (nearest rank).
pub(super) fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted
        .get(idx.min(sorted.len() - 1))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// `n` per second over `d`.
pub(super) fn rate(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

/// p50/p90/p99/max in ms.
pub(super) fn latency_json(sorted: &[Duration]) -> serde_json::Value {
    serde_json::json!({
        "p50": quantile_ms(sorted, 0.50),
        "p90": quantile_ms(sorted, 0.90),
        "p99": quantile_ms(sorted, 0.99),
        "max": sorted.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    })
}

/// p50/p90/p99/max as text.
pub(super) fn latency_text(s: &[Duration]) -> String {
    format!(
        "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile_ms(s, 0.5),
        quantile_ms(s, 0.9),
        quantile_ms(s, 0.99),
        s.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    )
}

/// The machine's load average (/proc/loadavg, first three fields).
pub(super) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

const PROC_NAMES: [&str; 3] = ["relay_a", "relay_b", "bench"];

impl RunResult {
    /// MM/s accepted over the sending time.
    pub(super) fn accepted_per_s(&self) -> f64 {
        rate(self.load.accepted, self.load.elapsed)
    }

    /// MM/s pushed, first send → last push.
    pub(super) fn pushed_per_s(&self) -> f64 {
        rate(self.pushed, self.push_elapsed)
    }

    /// The offered rate (open loop), MM/s.
    pub(super) fn offered_per_s(&self) -> Option<f64> {
        match self.mode {
            Mode::Open { rate, .. } => Some(rate),
            Mode::Closed { .. } => None,
        }
    }

    /// CPU ms per pushed MM of both relays together.
    fn relay_cpu_ms_per_mm(&self) -> Option<f64> {
        let (a, b) = (self.procs[0]?, self.procs[1]?);
        (self.pushed > 0)
            .then(|| (a.user_s + a.system_s + b.user_s + b.system_s) * 1e3 / self.pushed as f64)
    }

    /// The run as one JSON object.
    pub(super) fn json(&self) -> serde_json::Value {
        let (limit_kind, limit_value) = match self.limit {
            Limit::Count(n) => ("count", n as f64),
            Limit::Duration(d) => ("duration_s", d.as_secs_f64()),
        };
        let (mode, concurrency, max_in_flight) = match self.mode {
            Mode::Closed { concurrency } => ("closed", Some(concurrency), None),
            Mode::Open { max_in_flight, .. } => ("open", None, Some(max_in_flight)),
        };
        let l = &self.load;
        let procs: serde_json::Map<String, serde_json::Value> = PROC_NAMES
            .iter()
            .zip(&self.procs)
            .map(|(name, p)| {
                (
                    (*name).to_owned(),
                    p.map_or(serde_json::Value::Null, |p| p.json()),
                )
            })
            .collect();
        let queue: serde_json::Map<String, serde_json::Value> = PROC_NAMES
            .iter()
            .zip(&self.queue)
            .map(|(name, q)| {
                (
                    (*name).to_owned(),
                    q.map_or(serde_json::Value::Null, |q| q.json(self.pushed)),
                )
            })
            .collect();
        serde_json::json!({
            "mode": mode,
            "concurrency": concurrency,
            "max_in_flight": max_in_flight,
            "limit": { limit_kind: limit_value },
            "offered": l.offered,
            "offered_per_s": self.offered_per_s(),
            "accepted": l.accepted,
            "errors": l.errors,
            "first_error": l.first_error,
            "send_elapsed_s": l.elapsed.as_secs_f64(),
            "accepted_per_s": self.accepted_per_s(),
            "pushed": self.pushed,
            "missing": l.accepted.saturating_sub(self.pushed),
            "push_elapsed_s": self.push_elapsed.as_secs_f64(),
            "pushed_per_s": self.pushed_per_s(),
            "latency_submit_to_push_ms": latency_json(&self.push_latency),
            "latency_submit_to_conf_ms": latency_json(&l.conf_latency),
            "send_lag_ms": (!l.send_lag.is_empty()).then(|| latency_json(&l.send_lag)),
            "processes": procs,
            "outbox": queue,
            "relay_cpu_ms_per_mm": self.relay_cpu_ms_per_mm(),
            "loadavg_before": self.loadavg.0,
            "loadavg_after": self.loadavg.1,
        })
    }

    /// The run as text lines.
    pub(super) fn print(&self) {
        let l = &self.load;
        match self.mode {
            Mode::Closed { concurrency } => println!(
                "  load          closed loop, {concurrency} UAs, {}",
                limit_text(self.limit)
            ),
            Mode::Open {
                rate,
                max_in_flight,
            } => println!(
                "  load          open loop, {rate:.1} MM/s offered ({} MMs), at most {max_in_flight} in flight, {}; send lag {}",
                l.offered,
                limit_text(self.limit),
                latency_text(&l.send_lag)
            ),
        }
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
        println!("  submit->conf  {}", latency_text(&l.conf_latency));
        println!(
            "  pushed        {} in {:.2} s = {:.1} MM/s{}",
            self.pushed,
            self.push_elapsed.as_secs_f64(),
            self.pushed_per_s(),
            if self.drained {
                ""
            } else {
                " (NOT all pushed)"
            }
        );
        println!("  submit->push  {}", latency_text(&self.push_latency));
        for (name, p) in PROC_NAMES.iter().zip(&self.procs) {
            if let Some(p) = p {
                println!(
                    "  {name:<13} CPU user {:.2} s + system {:.2} s, peak RSS {:.1} MiB, RSS at end {:.1} MiB",
                    p.user_s,
                    p.system_s,
                    p.peak_rss_kib as f64 / 1024.0,
                    p.rss_kib as f64 / 1024.0
                );
            }
        }
        for (name, q) in PROC_NAMES.iter().zip(&self.queue) {
            if let Some(q) = q {
                println!("  {:<13} {}", format!("{name} outbox"), q.text(self.pushed));
            }
        }
        if let Some(ms) = self.relay_cpu_ms_per_mm() {
            println!("  relays' CPU   {ms:.2} ms per pushed MM (A + B)");
        }
        println!(
            "  load average  {} before, {} after",
            self.loadavg.0, self.loadavg.1
        );
    }
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Count(n) => format!("{n} MMs"),
        Limit::Duration(d) => format!("{:.1} s", d.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_picks_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&v, 0.5), 51.0);
        assert_eq!(quantile_ms(&v, 0.99), 99.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn proc_use_is_the_difference_of_cpu_and_the_last_memory() {
        let before = ProcStats {
            user_s: 1.0,
            system_s: 0.5,
            peak_rss_kib: 10,
            rss_kib: 10,
        };
        let after = ProcStats {
            user_s: 3.5,
            system_s: 1.0,
            peak_rss_kib: 30,
            rss_kib: 20,
        };
        let u = ProcUse::between(Some(before), Some(after)).unwrap();
        assert_eq!(
            (u.user_s, u.system_s, u.peak_rss_kib, u.rss_kib),
            (2.5, 0.5, 30, 20)
        );
        assert!(ProcUse::between(None, Some(after)).is_none());
    }
}
