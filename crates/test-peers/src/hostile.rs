//! What the hostile-peer suites (RELIABILITY.md §4) print for each attack: the memory of the test
//! process (which is the server under attack) before and after, and how much slower a legitimate
//! client was served while the attack ran. Printed, never asserted: the figures depend on the
//! machine.

use std::future::Future;
use std::time::Duration;

/// VmRSS and VmHWM of this process, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mem {
    /// Resident set size now (VmRSS).
    pub rss: u64,
    /// Peak resident set size so far (VmHWM).
    pub hwm: u64,
}

/// This process's memory from /proc/self/status (zeros where it cannot be read).
pub fn mem() -> Mem {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Mem {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

/// The median of `n` runs of `one` (each returning its latency), run one after the other.
pub async fn median<F, Fut>(n: usize, mut one: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        v.push(one().await);
    }
    v.sort();
    v[v.len() / 2]
}

/// `during` as a multiple of `base` (the legitimate client's slowdown).
pub fn ratio(during: Duration, base: Duration) -> f64 {
    during.as_secs_f64() / base.as_secs_f64().max(1e-6)
}

/// Prints one result line for RELIABILITY.md §4.
pub fn report(attack: &str, answer: &str, before: Mem, after: Mem, legit_ratio: f64) {
    eprintln!(
        "HOSTILE | {attack} | {answer} | RSS {} -> {} KiB | HWM {} -> {} KiB | legit latency x{legit_ratio:.2}",
        before.rss, after.rss, before.hwm, after.hwm
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_read_from_proc() {
        let m = mem();
        assert!(m.rss > 0 && m.hwm >= m.rss, "{m:?}");
    }

    #[tokio::test]
    async fn median_takes_the_middle_run() {
        let mut runs = [30u64, 10, 50, 20, 40].into_iter();
        let m = median(5, || {
            let ms = runs.next().unwrap();
            async move { Duration::from_millis(ms) }
        })
        .await;
        assert_eq!(m, Duration::from_millis(30));
        assert_eq!(
            ratio(Duration::from_millis(30), Duration::from_millis(10)),
            3.0
        );
    }
}
