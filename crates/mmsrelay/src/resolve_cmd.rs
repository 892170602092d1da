//! `mmsrelay resolve ADDRESS`: originating resolution (DESIGN.md §3) of one recipient, printing
//! each step (question, server, answer and TTL, rule fired) and the final route.
//!
//! Exit codes: 0 routed, 1 bad input (address or configuration), 2 unresolvable.

use mms_address::{Address, ParseOptions};
use mms_resolver::{
    PeerConfig, Resolution, ResolveError, ResolverConfig, Route, Step, dns_resolver,
};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `mmsrelay resolve`.
#[derive(clap::Args)]
pub struct Args {
    /// The recipient: `sip:bob@b.example`, `tel:+4917612345678`, `+4917612345678/TYPE=PLMN`, …
    address: String,
    /// TOML file with the resolver settings (the `[resolver]` keys of the relay config).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Name server `IP:PORT` (repeatable; replaces the configured ones).
    #[arg(long = "nameserver", value_name = "IP:PORT")]
    nameservers: Vec<SocketAddr>,
    /// ENUM suffix (repeatable; replaces the configured ones), e.g. `e164.arpa`.
    #[arg(long = "enum-suffix", value_name = "DOMAIN")]
    enum_suffixes: Vec<String>,
    /// A SIP domain this relay serves (repeatable; added to the configured ones).
    #[arg(long = "sip-domain", value_name = "DOMAIN")]
    sip_domains: Vec<String>,
    /// Peering entry `DOMAIN=HOST:PORT` (repeatable; added to the configured ones).
    #[arg(long = "peer", value_name = "DOMAIN=HOST:PORT")]
    peers: Vec<String>,
    /// Country code for local numbers without phone-context (e.g. 49).
    #[arg(long, value_name = "DIGITS")]
    country_code: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `mmsrelay resolve`.
pub fn run(args: Args) -> ExitCode {
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(message) => return bad_input(&args, &message),
    };
    let options = match &args.country_code {
        Some(cc) => ParseOptions::with_country_code(cc),
        None => ParseOptions::default(),
    };
    let address = match Address::parse_with(&args.address, &options) {
        Ok(a) => a,
        Err(e) => return bad_input(&args, &format!("invalid address {:?}: {e}", args.address)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return bad_input(&args, &format!("cannot start the async runtime: {e}")),
    };
    let resolution = runtime.block_on(async {
        let resolver = dns_resolver(config).map_err(|e| e.to_string())?;
        Ok::<Resolution, String>(resolver.resolve(&address).await)
    });
    let resolution = match resolution {
        Ok(r) => r,
        Err(message) => return bad_input(&args, &message),
    };
    if args.json {
        print_json(&args.address, &address, &resolution);
    } else {
        print_text(&args.address, &address, &resolution);
    }
    match resolution.outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(2),
    }
}

fn build_config(args: &Args) -> Result<ResolverConfig, String> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            ResolverConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => ResolverConfig::default(),
    };
    if !args.nameservers.is_empty() {
        config.nameservers = args.nameservers.clone();
    }
    if !args.enum_suffixes.is_empty() {
        config.enum_suffixes = args.enum_suffixes.clone();
    }
    config
        .own_sip_domains
        .extend(args.sip_domains.iter().cloned());
    for peer in &args.peers {
        let (domain, host) = peer
            .split_once('=')
            .ok_or_else(|| format!("--peer {peer:?} is not DOMAIN=HOST:PORT"))?;
        let port_ok = host
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if domain.is_empty() || !port_ok {
            return Err(format!("--peer {peer:?} is not DOMAIN=HOST:PORT"));
        }
        config.peers.push(PeerConfig {
            domain: domain.to_owned(),
            mmse_domain: None,
            hosts: vec![host.to_owned()],
        });
    }
    Ok(config)
}

fn bad_input(args: &Args, message: &str) -> ExitCode {
    if args.json {
        println!(
            "{}",
            json!({ "input": args.address, "error": { "kind": "bad_input", "message": message } })
        );
    } else {
        eprintln!("mmsrelay resolve: {message}");
    }
    ExitCode::from(1)
}

fn error_kind(e: &ResolveError) -> &'static str {
    if e.is_transient() {
        "transient"
    } else {
        "permanent"
    }
}

fn print_json(input: &str, address: &Address, r: &Resolution) {
    let mut out = json!({ "input": input, "normalized": address.to_string(), "steps": r.steps });
    match &r.outcome {
        Ok(Route::Local) => out["route"] = json!({ "kind": "local" }),
        Ok(Route::Peer { mmse_domain, hosts }) => {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            out["route"] = json!({ "kind": "peer", "mmse_domain": mmse_domain, "hosts": hosts });
        }
        Err(e) => out["error"] = json!({ "kind": error_kind(e), "message": e.to_string() }),
    }
    println!("{out}");
}

fn print_text(input: &str, address: &Address, r: &Resolution) {
    println!("input:      {input}");
    println!("normalized: {address}");
    for (i, step) in r.steps.iter().enumerate() {
        match step {
            Step::Query {
                name,
                record_type,
                server,
                answers,
                ttl,
                error,
            } => {
                let ttl = ttl.map(|t| format!(" (ttl {t})")).unwrap_or_default();
                println!("{:>3}. {record_type} {name} @ {server}", i + 1);
                match error {
                    Some(e) => println!("       -> {e}{ttl}"),
                    None => {
                        for a in answers {
                            println!("       -> {a}{ttl}");
                        }
                    }
                }
            }
            Step::Rule { rule, detail } => println!("{:>3}. rule {rule}: {detail}", i + 1),
        }
    }
    match &r.outcome {
        Ok(Route::Local) => println!("route:      local delivery"),
        Ok(Route::Peer { mmse_domain, hosts }) => {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            println!("route:      peer {mmse_domain} via {}", hosts.join(", "));
        }
        Err(e) => println!("unresolvable ({}): {e}", error_kind(e)),
    }
}
