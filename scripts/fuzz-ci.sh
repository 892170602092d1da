#!/usr/bin/env bash
# CI fuzz smoke: build the cargo-fuzz crate once, replay the committed regression inputs
# (fuzz/regressions/<target>/), then fuzz every target for FUZZ_CI_SECONDS (default 10) starting from
# its committed seeds (fuzz/seeds/<target>) and, for the MMS-carrying targets, the shared test
# vectors read in place ($MMSRELAY_TEST_VECTORS/mms, default ../shared/test-vectors/mms).
# Exits non-zero on the first crash, leak, timeout or out-of-memory; the input is kept in
# fuzz/artifacts/<target>/. New corpus entries go to a temporary directory, so the committed seeds
# never change. The long-running campaign is scripts/fuzz-campaign.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_CI_SECONDS:-10}
vectors=${MMSRELAY_TEST_VECTORS:-$root/../shared/test-vectors}/mms
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
# -s none: libFuzzer without AddressSanitizer, which needs nightly; the targets are safe Rust, and
# the build still has debug assertions and overflow checks on.
cargo fuzz build -s none
bin_dir=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
mapfile -t targets < <(cargo fuzz list)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for target in "${targets[@]}"; do
  # Inputs that once crashed a target must keep passing (libFuzzer runs named files once each).
  if [ -d "regressions/$target" ]; then
    mapfile -t cases < <(find "regressions/$target" -type f ! -name '*.md' | sort)
    if [ ${#cases[@]} -gt 0 ]; then
      echo "== $target: replaying ${#cases[@]} regression input(s)"
      "$bin_dir/$target" -rss_limit_mb=2048 "${cases[@]}" 2>"$work/$target.replay.log" \
        || { tail -40 "$work/$target.replay.log"; echo "FAIL: $target regression input crashed"; exit 1; }
    fi
  fi

  dirs=("$work/$target")
  mkdir -p "$work/$target" "artifacts/$target"
  [ -d "seeds/$target" ] && dirs+=("seeds/$target")
  max_len=4096
  case $target in
    mms_pdu_decode | wap_push_reassemble | mm4_parse)
      [ -d "$vectors" ] && dirs+=("$vectors")
      if [ "$target" = mm4_parse ]; then max_len=16384; else max_len=65536; fi ;;
  esac
  echo "== $target: fuzzing ${seconds}s from ${dirs[@]:1}"
  if ! "$bin_dir/$target" -artifact_prefix="artifacts/$target/" -max_total_time="$seconds" \
      -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -close_fd_mask=1 \
      "${dirs[@]}" 2>"$work/$target.log"; then
    tail -60 "$work/$target.log"
    echo "FAIL: $target crashed; reproduce with: cd fuzz && cargo fuzz run -s none $target artifacts/$target/<file>"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$work/$target.log" | tr '\n' ' '
  echo
done
echo "fuzz smoke: ${#targets[@]} targets, no crash"
