//! The baseline: the floor of the MM1 work on this machine, for the ratio ours/baseline.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mms_pdu::{MmsVersion, Pdu, ResponseStatus, SendConf};
use mms_store::{AnyStore, NewRecipient, Origin, RecipientState, RetrievalToken, Store, Timestamp};
use relay::jobs::{Job, ResolveJob};

use super::load::{Limit, LoadResult, Mode, run_load};
use super::prefill::bench_mm;
use crate::demo_cmd::{ALICE_SIP, BOB_SIP};

/// The floor of the MM1 work: an axum handler that reads the body, stores it durably with
/// `Store::accept_mm` (one recipient, one resolve item, as relay A does) and answers a fixed
/// m-send-conf. No decoding, no authentication, no workers.
pub(super) async fn run_baseline(
    dir: &Path,
    mode: Mode,
    limit: Limit,
    text: &str,
) -> Result<LoadResult, String> {
    let store_dir = dir.join("baseline");
    std::fs::create_dir_all(&store_dir).map_err(|e| format!("{}: {e}", store_dir.display()))?;
    let store = AnyStore::open(&store_dir.display().to_string())
        .await
        .map_err(|e| format!("baseline store: {e}"))?;
    let conf = Bytes::from(
        Pdu::SendConf(SendConf {
            transaction_id: "baseline".into(),
            version: MmsVersion::V1_2,
            response_status: ResponseStatus::OK,
            message_id: Some("baseline@mms.a.example".into()),
            ..Default::default()
        })
        .encode(),
    );
    let app = axum::Router::new()
        .fallback(axum::routing::post(baseline_accept))
        .with_state((store, conf));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("baseline listener: {e}"))?;
    let url = format!(
        "http://{}/",
        listener
            .local_addr()
            .map_err(|e| format!("baseline listener: {e}"))?
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let result = run_load(&url, mode, limit, text, &Arc::new(AtomicU64::new(0))).await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    Ok(result)
}

async fn baseline_accept(
    axum::extract::State((store, conf)): axum::extract::State<(AnyStore, Bytes)>,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let now = Timestamp::now();
    let message_id = format!("{:032x}@mms.a.example", next_baseline_id());
    let token = RetrievalToken::generate();
    let address = BOB_SIP.to_owned();
    let item = ResolveJob {
        retrieval_token: Some(token.as_str().to_owned()),
    }
    .item(
        format!("resolve:{message_id}:{address}"),
        None,
        Some(address.clone()),
        now,
    );
    let origin = Origin::Mm1 {
        identity: ALICE_SIP.to_owned(),
    };
    let mm = bench_mm(message_id, None, origin, body, now);
    let recipient = NewRecipient {
        address,
        state: RecipientState::Resolving,
        retrieval_token: Some(token),
    };
    match store.accept_mm(mm, vec![recipient], vec![item], now).await {
        Ok(_) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/vnd.wap.mms-message",
            )],
            conf,
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

fn next_baseline_id() -> u128 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    u128::from(NEXT.fetch_add(1, Ordering::Relaxed)) ^ (u128::from(std::process::id()) << 64)
}
