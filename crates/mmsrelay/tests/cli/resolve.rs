//! `mmsrelay resolve` against a real authoritative DNS server on 127.0.0.1 (test-peers `dns`).

use serde_json::Value;
use std::net::Ipv4Addr;
use std::time::Duration;
use test_peers::dns::{DnsServer, DnsZone};

async fn zone() -> DnsServer {
    DnsZone::new(["e164.arpa", "example", "gprs"])
        .enum_naptr(
            "+4917612345678",
            "e164.arpa",
            10,
            10,
            "E2U+mms:mailto",
            "!^.*$!mailto:+4917612345678/TYPE=PLMN@mms.mnc002.mcc262.gprs!",
        )
        .mx("mms.mnc002.mcc262.gprs", 10, "mx.mnc002.mcc262.gprs")
        .a("mx.mnc002.mcc262.gprs", Ipv4Addr::new(127, 0, 0, 2))
        .mx("mms.b.example", 10, "mx.b.example")
        .a("mx.b.example", Ipv4Addr::new(127, 0, 0, 3))
        .serve()
        .await
        .expect("start the test DNS zone")
}

/// Runs `mmsrelay resolve ARGS…` and returns (exit code, stdout).
async fn resolve(args: &[&str]) -> (i32, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_mmsrelay"))
            .arg("resolve")
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("mmsrelay resolve finished in time")
    .expect("run mmsrelay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// `mmsrelay resolve ADDRESS --json` against [`zone`] (ENUM under e164.arpa); it must succeed.
async fn resolved_json(address: &str) -> Value {
    let dns = zone().await;
    let ns = dns.addr().to_string();
    let (code, out) = resolve(&[
        address,
        "--nameserver",
        &ns,
        "--enum-suffix",
        "e164.arpa",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    json(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tel_uri_resolves_over_enum_mailto_and_mx_to_peer_ip_port() {
    let v = resolved_json("tel:+4917612345678").await;
    assert_eq!(v["normalized"], "tel:+4917612345678");
    assert_eq!(v["route"]["kind"], "peer");
    assert_eq!(v["route"]["mmse_domain"], "mms.mnc002.mcc262.gprs");
    assert_eq!(v["route"]["hosts"], serde_json::json!(["127.0.0.2:25"]));
    assert_eq!(v["steps"][0]["name"], "8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_uri_resolves_over_mmse_pattern_and_mx_to_peer_ip_port() {
    let v = resolved_json("sip:bob@b.example").await;
    assert_eq!(v["route"]["mmse_domain"], "mms.b.example");
    assert_eq!(v["route"]["hosts"], serde_json::json!(["127.0.0.3:25"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_shows_questions_ttls_rules_and_route() {
    let dns = zone().await;
    let ns = dns.addr().to_string();
    let (code, out) = resolve(&["tel:+49-176-1234-5678", "--nameserver", &ns]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("NAPTR 8.7.6.5.4.3.2.1.6.7.1.9.4.e164.arpa @ "),
        "{out}"
    );
    assert!(out.contains("(ttl 300)"), "{out}");
    assert!(out.contains("rule enum-naptr"), "{out}");
    assert!(
        out.contains("route:      peer mms.mnc002.mcc262.gprs via 127.0.0.2:25"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_override_and_own_domain_need_no_dns() {
    let (code, out) = resolve(&[
        "sip:bob@b.example",
        "--peer",
        "b.example=127.0.0.9:2525",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        json(&out)["route"]["hosts"],
        serde_json::json!(["127.0.0.9:2525"])
    );
    let (code, out) =
        resolve(&["sip:alice@a.example", "--sip-domain", "a.example", "--json"]).await;
    assert_eq!(
        (code, json(&out)["route"]["kind"].as_str()),
        (0, Some("local"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_exits_2_and_bad_input_exits_1() {
    let dns = zone().await;
    let ns = dns.addr().to_string();
    let (code, out) = resolve(&["sip:x@nowhere.example", "--nameserver", &ns, "--json"]).await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(json(&out)["error"]["kind"], "permanent");
    let (code, _) = resolve(&["not an address", "--json"]).await;
    assert_eq!(code, 1);
    let (code, _) = resolve(&["sip:x@b.example", "--peer", "b.example"]).await;
    assert_eq!(code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_name_server_is_a_transient_failure() {
    let dns = DnsZone::new(["example"])
        .never_answer()
        .serve()
        .await
        .expect("start zone");
    let ns = dns.addr().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("resolver.toml");
    std::fs::write(&config, "lookup_timeout_ms = 300\n").expect("write config");
    let config = config.to_string_lossy().into_owned();
    let (code, out) = resolve(&[
        "sip:x@b.example",
        "--config",
        &config,
        "--nameserver",
        &ns,
        "--json",
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(json(&out)["error"]["kind"], "transient");
}
