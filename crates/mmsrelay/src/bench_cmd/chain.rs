//! The chain under test: the peers (DNS zone, HSS, SMSC sinks) in the bench process and relay A
//! and relay B as `mmsrelay serve` child processes, each with its generated configuration and
//! SQLite store in the bench's temporary directory, so that each relay's CPU time and peak RSS can
//! be read from /proc/<pid>.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mms_store::{AnyStore, Store};

use super::prefill::{Prefill, prefill};
use super::queue::QueueCounters;
use crate::demo_cmd::{Peers, SUBSCRIBERS_A, free_port};

/// How long a relay may take to print its `READY` line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// CPU time and memory of one process, from /proc/<pid>/stat and /proc/<pid>/status.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct ProcStats {
    /// User CPU seconds so far.
    pub(super) user_s: f64,
    /// System CPU seconds so far.
    pub(super) system_s: f64,
    /// Peak resident set size (VmHWM), KiB.
    pub(super) peak_rss_kib: u64,
    /// Current resident set size (VmRSS), KiB.
    pub(super) rss_kib: u64,
}

impl ProcStats {
    /// Reads the stats of `pid` (`self` for this process); `None` when it is gone.
    pub(super) fn read(pid: &str) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let (user_s, system_s) = parse_cpu(&stat)?;
        Some(Self {
            user_s,
            system_s,
            peak_rss_kib: status_kib(&status, "VmHWM:")?,
            rss_kib: status_kib(&status, "VmRSS:")?,
        })
    }
}

/// utime and stime of a /proc/<pid>/stat line, in seconds (USER_HZ = 100).
fn parse_cpu(stat: &str) -> Option<(f64, f64)> {
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Some((ticks(11)? / 100.0, ticks(12)? / 100.0))
}

/// A `Vm…:  N kB` line of /proc/<pid>/status.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// One `mmsrelay serve` child; killed and reaped when dropped.
pub(super) struct RelayProc {
    child: Child,
    log: PathBuf,
}

impl RelayProc {
    /// Starts `mmsrelay serve --config <config>` (this same executable), logging to `log` at
    /// `filter`, and waits for its `READY` line.
    fn start(config: &Path, log: &Path, filter: &str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(exe)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("mmsrelay serve: {e}"))?;
        let stdout = child.stdout.take();
        let proc = Self {
            child,
            log: log.to_owned(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("READY") {
                        let _ = tx.send(line);
                    }
                    // Keep draining so that the child never blocks on a full pipe.
                }
            });
        }
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(_) => Ok(proc),
            Err(e) => Err(format!(
                "{} not ready ({e}); its log:\n{}",
                config.display(),
                proc.log_tail()
            )),
        }
    }

    /// The process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU and memory so far (`None` once it exited).
    pub(super) fn stats(&mut self) -> Option<ProcStats> {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return None;
        }
        ProcStats::read(&self.pid().to_string())
    }

    /// The last lines of its log.
    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The peers and both relays, ready for load.
pub(super) struct Chain {
    /// DNS, HSS and the SMSC sinks (shared with the push collector).
    pub(super) peers: Arc<Peers>,
    /// Relay A (MM1 intake, subscriber table, MM4 out).
    pub(super) relay_a: RelayProc,
    /// Relay B (MM4 in, HSS, WAP push).
    pub(super) relay_b: RelayProc,
    /// Relay A's MM1 URL.
    pub(super) mm1_a: String,
    /// The admin (`/metrics`) ports of relay A and relay B.
    pub(super) admin_ports: [u16; 2],
}

impl Chain {
    /// Starts the peers, writes both relays' configurations under `dir`, puts relay A's
    /// subscribers and the prefill into the stores, then starts both relays.
    pub(super) async fn start(
        dir: &Path,
        prefill_with: Prefill,
        log_filter: &str,
        settings: &[Setting],
    ) -> Result<Self, String> {
        let peers = Peers::start().await?;
        let (store_a, store_b) = (dir.join("relay-a"), dir.join("relay-b"));
        for store in [&store_a, &store_b] {
            std::fs::create_dir_all(store).map_err(|e| format!("{}: {e}", store.display()))?;
        }
        let (a, b) = tokio::join!(
            prepare_store(&store_a, 'a', prefill_with),
            prepare_store(&store_b, 'b', prefill_with)
        );
        a?;
        b?;
        // A port found free may be taken by another process before the relay binds it (tests run
        // in parallel); a relay that cannot start is retried on fresh ports.
        let mut attempt = 1;
        let (relays, mm1_a, admin_ports) = loop {
            let ports = (free_port()?, free_port()?, free_port()?, free_port()?);
            let admin_ports = [free_port()?, free_port()?];
            match start_relays(dir, &peers, ports, admin_ports, settings, log_filter).await {
                Ok(relays) => break (relays, ports.0, admin_ports),
                Err(e) if attempt < START_ATTEMPTS => {
                    eprintln!(
                        "relays did not start (attempt {attempt}), retrying on other ports: {e}"
                    );
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Self {
            peers: Arc::new(peers),
            relay_a: relays.0,
            relay_b: relays.1,
            mm1_a: format!("http://127.0.0.1:{mm1_a}/"),
            admin_ports,
        })
    }

    /// Stats of (relay A, relay B, this process).
    pub(super) fn stats(&mut self) -> [Option<ProcStats>; 3] {
        [
            self.relay_a.stats(),
            self.relay_b.stats(),
            ProcStats::read("self"),
        ]
    }

    /// The outbox counters of (relay A, relay B) so far.
    pub(super) async fn queue_counters(&self) -> [Option<QueueCounters>; 2] {
        let [a, b] = self.admin_ports;
        let (a, b) = tokio::join!(QueueCounters::scrape(a), QueueCounters::scrape(b));
        [a, b]
    }

    /// Kills and reaps both relays, then stops the HSS.
    pub(super) async fn stop(self) {
        let Self {
            peers,
            relay_a,
            relay_b,
            ..
        } = self;
        drop(relay_a);
        drop(relay_b);
        if let Ok(peers) = Arc::try_unwrap(peers) {
            peers.hss.stop().await;
        }
    }
}

/// How many times the relays are started on fresh ports before the bench gives up.
const START_ATTEMPTS: u32 = 3;

/// One `--relay-set KEY=VALUE`: a dotted key of the relay configuration and its TOML value,
/// applied to both relays (e.g. `mm4.connections_per_peer=8`, `mm4.ack_request=false`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Setting {
    path: Vec<String>,
    value: toml::Value,
}

/// Parses `KEY=VALUE`; a value that is not TOML (`8`, `false`, `"x"`, `[1, 2]`) is a string.
pub(crate) fn parse_setting(s: &str) -> Result<Setting, String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    let path: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(format!("{s:?}: empty key part"));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.trim().to_owned()));
    Ok(Setting { path, value })
}

/// `text` (a relay configuration) with `settings` applied.
fn apply_settings(text: &str, settings: &[Setting]) -> Result<String, String> {
    let mut root: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    for s in settings {
        let (last, tables) = s.path.split_last().ok_or("empty key")?;
        let mut table = &mut root;
        for part in tables {
            table = table
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("{}: {part} is not a table", s.path.join(".")))?;
        }
        table.insert(last.clone(), s.value.clone());
    }
    toml::to_string(&root).map_err(|e| e.to_string())
}

/// Writes both relays' configurations for `ports` (MM1 A, MM1 B, MM4 A, MM4 B), with their admin
/// listeners on `admin` (A, B) and `settings` applied, and starts them, B first; returns
/// (relay A, relay B).
async fn start_relays(
    dir: &Path,
    peers: &Peers,
    (mm1_a, mm1_b, mm4_a, mm4_b): (u16, u16, u16, u16),
    admin: [u16; 2],
    settings: &[Setting],
    log_filter: &str,
) -> Result<(RelayProc, RelayProc), String> {
    let mut paths = Vec::new();
    for (name, mm1, mm4, peer_mm4, admin) in [
        ('a', mm1_a, mm4_a, mm4_b, admin[0]),
        ('b', mm1_b, mm4_b, mm4_a, admin[1]),
    ] {
        let store = dir.join(format!("relay-{name}"));
        let config = dir.join(format!("relay-{name}.toml"));
        let mut all = vec![
            parse_setting("admin.enabled=true")?,
            parse_setting(&format!("admin.listen=\"127.0.0.1:{admin}\""))?,
        ];
        all.extend_from_slice(settings);
        let text = apply_settings(&peers.relay_toml(name, &store, mm1, mm4, peer_mm4), &all)?;
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
        paths.push((config, dir.join(format!("relay-{name}.log"))));
    }
    let [(config_a, log_a), (config_b, log_b)] =
        <[_; 2]>::try_from(paths).map_err(|_| "two relays".to_owned())?;
    let filter = log_filter.to_owned();
    tokio::task::spawn_blocking(move || {
        let relay_b = RelayProc::start(&config_b, &log_b, &filter)?;
        let relay_a = RelayProc::start(&config_a, &log_a, &filter)?;
        Ok::<_, String>((relay_a, relay_b))
    })
    .await
    .map_err(|e| format!("starting the relays: {e}"))?
}

/// Opens a relay's store (creating its schema), puts relay A's subscribers and the prefill in.
async fn prepare_store(dir: &Path, relay: char, prefill_with: Prefill) -> Result<(), String> {
    let store = AnyStore::open(&dir.display().to_string())
        .await
        .map_err(|e| format!("store of relay {relay}: {e}"))?;
    if relay == 'a' {
        for (impu, msisdn) in SUBSCRIBERS_A {
            store
                .put_subscriber(impu, msisdn)
                .await
                .map_err(|e| format!("subscriber table of relay A: {e}"))?;
        }
    }
    prefill(&store, relay, prefill_with).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_fields_are_read_after_the_command_name() {
        let stat = "4242 (tokio (rt) x) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 9";
        assert_eq!(parse_cpu(stat), Some((2.5, 0.75)));
        assert_eq!(parse_cpu("garbage"), None);
    }

    #[test]
    fn settings_override_and_add_keys_of_the_configuration() {
        let text = "[mm4]\nlisten = \"127.0.0.1:25\"\nack_request = true\n";
        let settings = [
            parse_setting("mm4.ack_request=false").unwrap(),
            parse_setting("mm4.connections_per_peer = 8").unwrap(),
            parse_setting("admin.listen=127.0.0.1:9").unwrap(),
        ];
        let out: toml::Table = toml::from_str(&apply_settings(text, &settings).unwrap()).unwrap();
        assert_eq!(out["mm4"]["ack_request"].as_bool(), Some(false));
        assert_eq!(out["mm4"]["connections_per_peer"].as_integer(), Some(8));
        assert_eq!(out["mm4"]["listen"].as_str(), Some("127.0.0.1:25"));
        assert_eq!(out["admin"]["listen"].as_str(), Some("127.0.0.1:9"));
        assert!(parse_setting("mm4").is_err());
        assert!(parse_setting("mm4..x=1").is_err());
        assert!(apply_settings(text, &[parse_setting("mm4.listen.x=1").unwrap()]).is_err());
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tmmsrelay\nVmHWM:\t  123456 kB\nVmRSS:\t   99 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(123_456));
        assert_eq!(status_kib(status, "VmRSS:"), Some(99));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn own_stats_are_readable() {
        let s = ProcStats::read("self").expect("/proc/self");
        assert!(s.peak_rss_kib >= s.rss_kib && s.rss_kib > 0, "{s:?}");
    }
}
