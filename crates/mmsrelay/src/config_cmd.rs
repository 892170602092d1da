//! `mmsrelay config`: prints a commented example configuration (every key with its default) or
//! checks a file.
//!
//! Exit codes: 0 ok, 2 the file is unusable.

use std::path::PathBuf;
use std::process::ExitCode;

use relay::config::RelayConfig;

/// The example configuration: every key with its default, optional sections commented out.
pub const EXAMPLE: &str = include_str!("config_example.toml");

/// Arguments of `mmsrelay config`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print a fully commented configuration with every default.
    Example,
    /// Parse and check a configuration file.
    Check {
        /// The file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// Runs `mmsrelay config`.
pub fn run(args: Args) -> ExitCode {
    match args.action {
        Action::Example => {
            print!("{EXAMPLE}");
            ExitCode::SUCCESS
        }
        Action::Check { config } => match RelayConfig::load(&config) {
            Ok(c) => {
                println!(
                    "ok: mmse_domain {}, MM1 {}, MM4 {}, store {}",
                    c.relay.mmse_domain, c.mm1.listen, c.mm4.listen, c.relay.store
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mmsrelay config check: {e}");
                ExitCode::from(2)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_back_into_the_defaults() {
        let c = RelayConfig::from_toml(EXAMPLE).unwrap();
        assert_eq!(c, RelayConfig::default());
    }

    /// Every commented-out `key = value` line, uncommented, still parses (no misspelt key hides
    /// in a comment), and the optional sections take their defaults.
    #[test]
    fn commented_keys_parse_when_uncommented() {
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        && !rest.starts_with("[hss]:")
                        && !rest.starts_with("[smsc]:")
                        || rest
                            .split_once(" = ")
                            .is_some_and(|(k, _)| !k.contains(' ') && !k.is_empty()) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c =
            RelayConfig::from_toml(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        let hss = c.hss.unwrap();
        assert_eq!(hss.peers, vec!["127.0.0.1:3868"]);
        assert_eq!(hss.request_timeout, diameter_default_timeout());
        let smsc = c.smsc.unwrap();
        assert_eq!(smsc.port, 2775);
        assert_eq!(c.radius.clients.len(), 1);
        assert_eq!(c.relay.default_country_code.as_deref(), Some("44"));
    }

    fn diameter_default_timeout() -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }
}
