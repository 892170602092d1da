//! The Sh client against HSSes over TCP on 127.0.0.1: our test HSS (every branch: success, 5001, timeout,
//! peer down then up, watchdog both ways, failover), python-diameter's node stack (an implementation no one
//! here wrote), and tshark judging the bytes we put on the wire.
#![cfg(feature = "peer")]

mod external;
mod with_test_hss;

use std::time::Duration;

use diameter::sh_client::{ShClient, ShConfig};

/// Origin-Host of our client in every test.
pub const CLIENT_HOST: &str = "relay.test.example";

/// A config pointing at `peers`, with short timers for tests.
pub fn config(peers: &[String]) -> ShConfig {
    ShConfig {
        peers: peers.to_vec(),
        origin_host: CLIENT_HOST.into(),
        origin_realm: "example".into(),
        destination_realm: "example".into(),
        request_timeout: Duration::from_secs(3),
        watchdog_interval: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
        reconnect_backoff_max: Duration::from_millis(200),
        ..ShConfig::default()
    }
}

/// Starts a client and waits (bounded) for a connection.
pub async fn connected_client(config: ShConfig) -> ShClient {
    let client = ShClient::start(config);
    assert!(
        client.pool().wait_open(Duration::from_secs(5)).await,
        "no HSS connection came up"
    );
    client
}

/// Polls `cond` every 10 ms until it holds or 5 s pass; returns whether it held.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
