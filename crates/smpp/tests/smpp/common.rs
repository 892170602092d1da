//! Helpers shared by the client tests: vectors, WAP push submit_sm in UDH and SAR modes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use smpp::client::ClientConfig;
use smpp::session::Backoff;
use smpp::{Address, SubmitSm};
use wap_push::{ConcatReference, Ports, encode_mms_push, segment_sar, segment_udh};

/// Upper bound on any wait in these tests.
pub const LIMIT: Duration = Duration::from_secs(10);

/// A vector from ../shared/test-vectors/mms, read in place.
pub fn vector(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/test-vectors/mms")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// ofono-mmsd m-notification-ind of 170 octets: two SMS in UDH mode, two in SAR mode.
pub const NI_272: &str = "ofono-mmsd/ni-mms-1-3-con-272.mms";

fn addresses() -> (Address, Address) {
    (
        Address::international("+4917600000000"),
        Address::international("+4917611111111"),
    )
}

/// The submit_sm of a WAP push in UDH mode (esm_class 0x40, data_coding 0x04, TON/NPI 1/1).
pub fn udh_submits(ni: &[u8], reference: u8) -> Vec<SubmitSm> {
    let push = encode_mms_push(1, ni);
    let (src, dst) = addresses();
    segment_udh(&push, Ports::WAP_PUSH, ConcatReference::Eight(reference))
        .unwrap()
        .into_iter()
        .map(|ud| {
            let mut sm = SubmitSm::binary(src.clone(), dst.clone(), ud, true);
            sm.registered_delivery = 1;
            sm
        })
        .collect()
}

/// The submit_sm of a WAP push in SAR TLV mode (no UDH; port and SAR TLVs).
pub fn sar_submits(ni: &[u8], reference: u16) -> Vec<SubmitSm> {
    let push = encode_mms_push(2, ni);
    let (src, dst) = addresses();
    segment_sar(&push, reference)
        .unwrap()
        .into_iter()
        .map(|seg| {
            let sm = SubmitSm::binary(src.clone(), dst.clone(), seg.payload, false)
                .with_ports(Ports::WAP_PUSH.source, Ports::WAP_PUSH.destination);
            match seg.sar {
                Some(sar) => sm.with_sar(sar.reference, sar.total, sar.sequence),
                None => sm,
            }
        })
        .collect()
}

/// A client configuration with short timers, so retries and reconnects happen quickly.
pub fn client_config(smsc: SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new(smsc);
    c.session.bind.system_id = "mmsrelay".into();
    c.session.bind.password = "secret".into();
    c.session.window = 8;
    c.session.reconnect = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    c.session.throttled = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
    };
    c.connect_timeout = Duration::from_secs(2);
    c
}

/// Bytes::from for a hex string written by the npm SMSC.
pub fn unhex(s: &str) -> Bytes {
    Bytes::from(hex::decode(s).unwrap())
}

/// Spawns every future and awaits them in order.
pub async fn join_all<F>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
