//! `mmsrelay subscriber`: manages the relay's own subscriber table (DESIGN.md §4: IMPU ↔ MSISDN,
//! the embedded default when no HSS is configured) in the store named by the configuration.
//!
//! Exit codes: 0 done, 1 not found, 2 bad input or store failure.

use std::path::PathBuf;
use std::process::ExitCode;

use mms_address::Address;
use mms_store::{AnyStore, Store};

use crate::serve_cmd::load_config;

/// Arguments of `mmsrelay subscriber`.
#[derive(clap::Args)]
pub struct Args {
    /// The relay's TOML configuration (its `[relay] store`); none: `./data`.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add or replace a subscriber: IMPU (`sip:bob@b.example`, `tel:+49…`) → MSISDN.
    Add {
        /// The IMS public identity.
        impu: String,
        /// The MSISDN (E.164, with or without `+`).
        msisdn: String,
    },
    /// Remove a subscriber's IMPU.
    Remove {
        /// The IMS public identity.
        impu: String,
    },
    /// List every subscriber, one `IMPU -> MSISDN` line each, sorted by IMPU.
    List,
    /// Show the MSISDN of an IMPU and every IMPU of that MSISDN.
    Show {
        /// The IMS public identity.
        impu: String,
    },
}

/// The canonical text of an IMPU (the form the relay looks up).
fn canonical_impu(text: &str) -> Result<String, String> {
    Address::parse(text)
        .map(|a| a.to_string())
        .map_err(|e| format!("{text:?} is not a SIP or tel URI: {e}"))
}

/// MSISDN digits without `+` and visual separators.
fn msisdn_digits(text: &str) -> Result<String, String> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, '+' | '-' | '.' | ' ' | '(' | ')'))
        .collect();
    if (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!("{text:?} is not an MSISDN (3 to 15 digits)"))
    }
}

/// Runs `mmsrelay subscriber`.
pub fn run(args: Args) -> ExitCode {
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mmsrelay subscriber: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match crate::runtime("subscriber", crate::Threads::One) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(act(&config.relay.store, args.action)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mmsrelay subscriber: {e}");
            ExitCode::from(2)
        }
    }
}

async fn act(location: &str, action: Action) -> Result<ExitCode, String> {
    let store = AnyStore::open(location)
        .await
        .map_err(|e| format!("store {location}: {e}"))?;
    match action {
        Action::Add { impu, msisdn } => {
            let impu = canonical_impu(&impu)?;
            let msisdn = msisdn_digits(&msisdn)?;
            store
                .put_subscriber(&impu, &msisdn)
                .await
                .map_err(|e| e.to_string())?;
            println!("{impu} -> {msisdn}");
            Ok(ExitCode::SUCCESS)
        }
        Action::Remove { impu } => {
            let impu = canonical_impu(&impu)?;
            if store
                .remove_subscriber(&impu)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("removed {impu}");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{impu}: no such subscriber");
                Ok(ExitCode::from(1))
            }
        }
        Action::List => {
            let all = store.subscribers().await.map_err(|e| e.to_string())?;
            for (impu, msisdn) in &all {
                println!("{impu} -> {msisdn}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Show { impu } => {
            let impu = canonical_impu(&impu)?;
            match store
                .msisdn_for_impu(&impu)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(msisdn) => {
                    let all = store
                        .impus_for_msisdn(&msisdn)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("{impu} -> {msisdn}");
                    println!("IMPUs of {msisdn}: {}", all.join(", "));
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!("{impu}: no such subscriber");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdn_accepts_e164_with_separators_and_rejects_letters() {
        assert_eq!(msisdn_digits("+49 176-1234").unwrap(), "491761234");
        assert!(msisdn_digits("49a").is_err());
        assert!(msisdn_digits("+").is_err());
    }

    #[test]
    fn impu_is_stored_in_canonical_form() {
        assert_eq!(
            canonical_impu("<sip:Bob@B.Example>").unwrap(),
            canonical_impu("sip:Bob@b.example").unwrap()
        );
        assert!(canonical_impu("not an address at all").is_err());
    }
}
