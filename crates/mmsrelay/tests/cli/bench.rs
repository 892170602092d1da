//! `mmsrelay bench` smoke (issue 10): a short run of the whole chain on loopback — MM1 into
//! relay A, MM4 to relay B, Sh to the test HSS, SMPP to the SMSC sink — plus the baseline, checking
//! only that it finishes cleanly and reports MMs accepted and pushed (no timing assertions).

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
fn bench_json_reports_accepted_and_pushed_mms() {
    let child = Command::new(env!("CARGO_BIN_EXE_mmsrelay"))
        .args([
            "bench",
            "--duration",
            "3",
            "--concurrency",
            "8",
            "--drain-timeout",
            "30",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mmsrelay bench starts");
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait for mmsrelay bench") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "mmsrelay bench still running after 60 s"
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
    assert!(
        status.success(),
        "exit {status}\nstdout: {stdout}\nstderr: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    let count = |field: &str| {
        report
            .get(field)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(|| panic!("no {field} in {report}"))
    };
    assert!(count("accepted") > 0, "{report}");
    assert!(count("pushed") > 0, "{report}");
    for field in [
        "accepted_per_s",
        "pushed_per_s",
        "cpu_user_s",
        "cpu_system_s",
        "peak_rss_kib",
    ] {
        assert!(
            report.get(field).is_some_and(|v| !v.is_null()),
            "no {field} in {report}"
        );
    }
    for latency in ["latency_submit_to_push_ms", "latency_submit_to_conf_ms"] {
        for q in ["p50", "p90", "p99", "max"] {
            assert!(
                report
                    .get(latency)
                    .and_then(|l| l.get(q))
                    .is_some_and(serde_json::Value::is_f64),
                "no {latency}.{q} in {report}"
            );
        }
    }
    let baseline = report.get("baseline").expect("baseline in the report");
    assert!(
        baseline
            .get("accepted")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|n| n > 0),
        "{report}"
    );
    assert!(
        report
            .get("ratio_accepted_vs_baseline")
            .is_some_and(serde_json::Value::is_f64)
    );
}
