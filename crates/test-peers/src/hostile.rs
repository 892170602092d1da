//! What the hostile-peer suites (RELIABILITY.md §4) print for each attack: the memory of the test
//! process (which is the server under attack) before and after, and how much slower a legitimate
//! client was served while the attack ran. Printed, never asserted: the figures depend on the
//! machine.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

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

/// Connects to `addr` from the source address `source` (any of 127.0.0.0/8 is loopback on
/// Linux); panics when it cannot.
pub async fn connect_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A flood of idle connections from one address, with a legitimate client timed before it and
/// while it is held (the per-address connection limit's attack).
pub struct Flood<C, A> {
    /// The flood's connections as `answer` kept them, open until [`Flood::report`].
    pub held: Vec<C>,
    /// What `answer` read on each connection, in order.
    pub answers: Vec<A>,
    /// The legitimate client's median latency before the flood.
    pub base: Duration,
    /// Its median latency while the flood is held.
    pub during: Duration,
    before: Mem,
}

impl<C, A> Flood<C, A> {
    /// Times `legit` (median of 5 runs), opens `n` connections to `addr` from `source` that send
    /// nothing, hands each in turn to `answer` (which reads what the server said and keeps the
    /// connection), then times `legit` again while they are all held.
    pub async fn from_one_address<L, Fut>(
        source: IpAddr,
        addr: SocketAddr,
        n: usize,
        mut answer: impl AsyncFnMut(TcpStream) -> (C, A),
        mut legit: L,
    ) -> Self
    where
        L: FnMut() -> Fut,
        Fut: Future<Output = Duration>,
    {
        let base = median(5, &mut legit).await;
        let before = mem();
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            streams.push(connect_from(source, addr).await);
        }
        let (mut held, mut answers) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for stream in streams {
            let (kept, said) = answer(stream).await;
            held.push(kept);
            answers.push(said);
        }
        let during = median(5, &mut legit).await;
        Self {
            held,
            answers,
            base,
            during,
            before,
        }
    }

    /// How many of the answers `is` holds for.
    pub fn count(&self, is: impl Fn(&A) -> bool) -> usize {
        self.answers.iter().filter(|a| is(a)).count()
    }

    /// Closes the flood's connections and prints its result line ([`report`]): `attack`, with
    /// the legitimate client's median before and during it, and the server's `answer`.
    pub fn report(self, attack: &str, answer: &str) {
        let Self {
            held,
            base,
            during,
            before,
            ..
        } = self;
        drop(held);
        report(
            &format!(
                "{attack} (legit median {:.1} ms before, {:.1} ms during)",
                base.as_secs_f64() * 1e3,
                during.as_secs_f64() * 1e3
            ),
            answer,
            before,
            mem(),
            ratio(during, base),
        );
    }
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

    #[tokio::test]
    async fn flood_holds_its_connections_from_the_one_address_and_times_the_client_around_them() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let source: IpAddr = "127.0.0.2".parse().unwrap();
        let mut timed = 0;
        let flood = Flood::from_one_address(
            source,
            listener.local_addr().unwrap(),
            3,
            async |s: TcpStream| {
                let local = s.local_addr().unwrap();
                (s, local)
            },
            || {
                timed += 1;
                async { Duration::from_millis(1) }
            },
        )
        .await;
        assert_eq!(flood.held.len(), 3);
        assert_eq!(flood.count(|local| local.ip() == source), 3);
        for _ in 0..3 {
            let (_, peer) = listener.accept().await.unwrap();
            assert!(flood.answers.contains(&peer), "{peer} is not held");
        }
        assert_eq!(flood.during, Duration::from_millis(1));
        flood.report("test flood", "held");
        assert_eq!(timed, 10, "five runs before, five during");
    }
}
