//! `--name value` options of the relay's own benches (`harness = false`), read from the command
//! line after cargo's (`cargo bench -p relay --bench mm1 -- --seconds 10`).

use std::str::FromStr;

/// The value after `--name` parsed as `T`; `default` when absent or unparsable.
pub fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

/// `--sizes 1024,30720`: the m-send-req body sizes in octets; default 1 KiB and 30 KiB.
pub fn sizes() -> Vec<usize> {
    let sizes: Vec<usize> = arg("--sizes", String::new())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    if sizes.is_empty() {
        vec![1024, 30 * 1024]
    } else {
        sizes
    }
}
