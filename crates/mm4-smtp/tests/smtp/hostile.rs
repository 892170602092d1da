//! Hostile MM4 peers against the SMTP server (RELIABILITY.md §4): slowloris on commands and on
//! DATA, a connection flood over the limit, header bombs and recipient floods. Each checks the
//! reply, that the server keeps serving a legitimate client, and prints memory (VmRSS / VmHWM
//! of this process, which is the server) and the client's latency ratio:
//! `cargo nextest run -p mm4-smtp --test smtp hostile --no-capture`.

use std::time::Instant;

use test_peers::hostile::{Flood, median, mem, ratio, report};

use super::*;

/// One legitimate message over a fresh connection; its latency (it must be accepted).
async fn legit(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let client = SmtpClient::new(ClientConfig::new("mms.a.example"));
    let out = tokio::time::timeout(
        LIMIT,
        client.send(
            &[host(addr)],
            &envelope(&["+4917600000002/TYPE=PLMN@mms.b.example"]),
            &message("legit", 2000),
        ),
    )
    .await
    .expect("legitimate message in time")
    .expect("legitimate message accepted");
    assert_eq!(out.accepted.len(), 1);
    started.elapsed()
}

/// Trickles `bytes` one octet per `every`; the time until the server closed and its replies.
async fn trickle(
    addr: SocketAddr,
    prelude: &str,
    bytes: Vec<u8>,
    every: Duration,
) -> (Duration, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    wr.write_all(prelude.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
        std::future::pending::<()>().await;
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(LIMIT, rd.read_to_end(&mut got)).await;
    writer.abort();
    (
        started.elapsed(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_commands_and_data_is_cut_off_and_others_are_served() {
    let mut config = loopback_config();
    // Each read arrives well within the per-chunk timeouts: only the deadlines stop them.
    config.command_timeout = Duration::from_secs(1);
    config.data_timeout = Duration::from_secs(1);
    config.max_data_time = Duration::from_secs(2);
    let srv = start(config).await;
    let base = median(5, || legit(srv.addr)).await;
    let before = mem();
    let every = Duration::from_millis(300);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        set.spawn(trickle(
            srv.addr,
            "",
            b"EHLO slow.example.com\r\n".to_vec(),
            every,
        ));
        set.spawn(trickle(
            srv.addr,
            "EHLO p\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n",
            vec![b'x'; 200],
            every,
        ));
    }
    let during = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        median(5, || legit(srv.addr)).await
    };
    let (results, during) = tokio::join!(set.join_all(), during);
    let after = mem();
    let slowest = results.iter().map(|r| r.0).max().unwrap();
    assert!(slowest < LIMIT, "a slow client was never cut off");
    for (_, replies) in &results {
        assert!(
            replies.contains("421 4.4.2 Timeout, closing connection"),
            "{replies}"
        );
    }
    report(
        &format!(
            "MM4 slowloris, 1 octet/0.3 s: 10 on a command (deadline 1 s), 10 in DATA (deadline 2 s); last closed after {:.1} s",
            slowest.as_secs_f64()
        ),
        "421 4.4.2 and close",
        before,
        after,
        ratio(during, base),
    );
    assert!(srv.handler.delivered.lock().unwrap().len() >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_gets_421_and_a_peer_is_served_after_the_drain() {
    let mut config = loopback_config();
    config.max_connections = 8;
    config.command_timeout = Duration::from_secs(1);
    let srv = start(config).await;
    let base = median(5, || legit(srv.addr)).await;
    let before = mem();
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(Raw::connect(srv.addr).await);
    }
    let mut refused = 0;
    for c in &mut held {
        let first = c.reply().await;
        if first[0] == "421 4.7.0 Too many connections, try again later" {
            refused += 1;
        }
    }
    assert_eq!(refused, 192);
    // The 8 admitted idle connections hold every slot until the command deadline.
    let served = loop {
        let client = SmtpClient::new(ClientConfig::new("mms.a.example"));
        let r = client
            .send(
                &[host(srv.addr)],
                &envelope(&["+4917600000002/TYPE=PLMN@mms.b.example"]),
                &message("legit", 2000),
            )
            .await;
        if r.is_ok() {
            break started.elapsed();
        }
        assert!(started.elapsed() < LIMIT, "never served: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(held);
    let after = mem();
    report(
        &format!(
            "MM4 flood: 200 connections, limit 8, command deadline 1 s (peer served {:.1} s after the flood began)",
            served.as_secs_f64()
        ),
        "192 answered 421 4.7.0 at once; the 8 admitted timed out with 421 4.4.2",
        before,
        after,
        ratio(served, base),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_from_one_address_gets_421_and_other_peers_are_served_at_once() {
    let mut config = loopback_config();
    config.max_connections = 64;
    config.max_connections_per_ip = 8;
    config.command_timeout = Duration::from_secs(5);
    let srv = start(config).await;
    // 200 idle connections from 127.0.0.2; the legitimate peer connects from 127.0.0.1. While
    // the 8 admitted connections sit idle (5 s deadline), other peers are served at once.
    const REFUSED: &str = "421 4.7.0 Too many connections from your address, try again later";
    let flood = Flood::from_one_address(
        "127.0.0.2".parse().unwrap(),
        srv.addr,
        200,
        async |stream| {
            let mut c = Raw::of(stream);
            let first = c.reply().await.swap_remove(0);
            if first == REFUSED {
                assert!(c.closed().await, "a refused connection is closed");
            }
            (c, first)
        },
        || legit(srv.addr),
    )
    .await;
    let admitted = flood.count(|first| first.starts_with("220"));
    assert_eq!((admitted, flood.count(|first| first == REFUSED)), (8, 192));
    let mut third = Raw::connect_from("127.0.0.3".parse().unwrap(), srv.addr).await;
    assert!(third.reply().await[0].starts_with("220"));
    flood.report(
        "MM4 flood from one address: 200 connections from 127.0.0.2, per-address limit 8, total 64",
        "8 admitted (idle), 192 answered 421 4.7.0 at once; 127.0.0.1 and 127.0.0.3 served at once",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_bombs_long_lines_and_recipient_floods_are_refused_with_bounded_memory() {
    let mut config = loopback_config();
    config.max_message_size = 1024 * 1024;
    let srv = start(config).await;
    let base = median(5, || legit(srv.addr)).await;
    let before = mem();
    let attack = async {
        // A 20 MB header section (200 000 header lines) in one message: over the size limit.
        let mut raw = Raw::connect(srv.addr).await;
        raw.reply().await;
        raw.send("EHLO p\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n")
            .await;
        for _ in 0..3 {
            raw.reply().await;
        }
        assert!(raw.reply().await[0].starts_with("354"));
        let line = format!("X-Bomb: {}\r\n", "h".repeat(90));
        let block = line.repeat(1000);
        for _ in 0..200 {
            raw.send(&block).await;
        }
        raw.send("\r\nbody\r\n.\r\n").await;
        let bomb = raw.reply().await[0].clone();
        // 5000 recipients: the first 100 accepted, every other one 452.
        raw.send("MAIL FROM:<a@a.example>\r\n").await;
        raw.reply().await;
        let mut too_many = 0;
        for batch in 0..10 {
            let mut rcpts = String::new();
            for i in 0..500 {
                rcpts.push_str(&format!("RCPT TO:<r{batch}x{i}@b.example>\r\n"));
            }
            raw.send(&rcpts).await;
            for _ in 0..500 {
                if raw.reply().await[0] == "452 4.5.3 Too many recipients" {
                    too_many += 1;
                }
            }
        }
        // A 1 MB command line.
        raw.send_refused(&format!("NOOP {}", "x".repeat(1 << 20)))
            .await;
        let long = raw.reply().await[0].clone();
        let closed = raw.closed().await;
        (bomb, too_many, long, closed)
    };
    let ((bomb, too_many, long, closed), during) =
        tokio::join!(attack, median(5, || legit(srv.addr)));
    let after = mem();
    assert_eq!(
        bomb,
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(too_many, 4900);
    assert_eq!(long, "500 5.5.6 Line too long");
    assert!(closed);
    report(
        "MM4 20 MB header section (limit 1 MB) / 5000 RCPT (limit 100) / 1 MB command line",
        "552 5.3.4 / 100 x 250 then 4900 x 452 4.5.3 / 500 5.5.6 and close",
        before,
        after,
        ratio(during, base),
    );
}
