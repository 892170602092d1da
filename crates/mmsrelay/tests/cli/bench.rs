//! `mmsrelay bench` smoke (issue 10): a 10-second run of the whole chain on loopback — MM1 into
//! relay A, MM4 to relay B, Sh to the test HSS, SMPP to the SMSC sink, the relays as child
//! processes — plus the baseline. It checks that every accepted MM was pushed, that the report
//! has each relay's CPU and RSS, and that the relays and the temporary directory are gone after
//! the exit; no timing assertions.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the bench if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bench_json_pushes_every_accepted_mm_and_cleans_up() {
    let child = Command::new(env!("CARGO_BIN_EXE_mmsrelay"))
        .args([
            "bench",
            "--duration",
            "10",
            "--concurrency",
            "4",
            "--drain-timeout",
            "60",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mmsrelay bench starts");
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(150);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait for mmsrelay bench") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "mmsrelay bench still running after 150 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut out) = guard.0.stdout.take() {
        out.read_to_string(&mut stdout).expect("stdout");
    }
    if let Some(mut err) = guard.0.stderr.take() {
        err.read_to_string(&mut stderr).expect("stderr");
    }
    // Exit 0 means every accepted MM was pushed within the drain timeout.
    assert!(
        status.success(),
        "exit {status}\nstdout: {stdout}\nstderr: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    let at = |path: &str| {
        path.split('.')
            .try_fold(&report, |v, k| v.get(k))
            .unwrap_or_else(|| panic!("no {path} in {report}"))
    };
    let count = |path: &str| {
        at(path)
            .as_u64()
            .unwrap_or_else(|| panic!("{path} not a count in {report}"))
    };
    assert!(count("accepted") > 0, "{report}");
    assert_eq!(count("pushed"), count("accepted"), "{report}");
    assert_eq!(count("missing"), 0, "{report}");
    for field in ["accepted_per_s", "pushed_per_s", "relay_cpu_ms_per_mm"] {
        assert!(at(field).is_f64(), "{field} in {report}");
    }
    for process in ["relay_a", "relay_b", "bench"] {
        for field in ["cpu_user_s", "cpu_system_s"] {
            assert!(at(&format!("processes.{process}.{field}")).is_f64());
        }
        assert!(count(&format!("processes.{process}.peak_rss_kib")) > 0);
    }
    for latency in ["latency_submit_to_push_ms", "latency_submit_to_conf_ms"] {
        for q in ["p50", "p90", "p99", "max"] {
            assert!(at(&format!("{latency}.{q}")).is_f64(), "{latency}.{q}");
        }
    }
    assert!(count("baseline.accepted") > 0, "{report}");
    assert!(at("ratio_accepted_vs_baseline").is_f64());
    // No relay left running, no temporary directory left behind.
    for pid in at("relay_pids").as_array().expect("relay_pids") {
        let pid = pid.as_u64().expect("pid");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            !stat.contains("(mmsrelay)"),
            "relay {pid} still there: {stat}"
        );
    }
    let dir = at("temp_dir").as_str().expect("temp_dir");
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}
