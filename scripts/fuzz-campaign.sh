#!/usr/bin/env bash
# Fuzzing campaign: run every cargo-fuzz target (or the ones named) for SECONDS each and record
# executions, coverage, corpus size and crashes per target (RELIABILITY.md, "Fuzzing").
#
#   scripts/fuzz-campaign.sh [-t SECONDS] [-j PARALLEL] [TARGET...]
#
# Each target starts from its growing corpus fuzz/corpus/<target> (git-ignored), the committed seeds
# fuzz/seeds/<target>, and, for the MMS-carrying targets, the shared test vectors read in place
# ($MMSRELAY_TEST_VECTORS/mms, default ../shared/test-vectors/mms; never copied into the repository).
# Runs at nice 19 (the machine is shared). A crash stops that target only; its input is in
# fuzz/artifacts/<target>/ and the script exits 1 at the end. The summary table (markdown) is printed
# and written to $FUZZ_CAMPAIGN_OUT (default fuzz/target/campaign-<UTC time>/summary.md), next to
# one libFuzzer log per target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=300
parallel=1
while getopts "t:j:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    j) parallel=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-j PARALLEL] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

cargo_fuzz=$(command -v cargo-fuzz || echo "$HOME/.cargo/bin/cargo-fuzz")
[ -x "$cargo_fuzz" ] || { echo "cargo-fuzz not found: cargo install cargo-fuzz --locked" >&2; exit 2; }
vectors=${MMSRELAY_TEST_VECTORS:-$root/../shared/test-vectors}/mms

cd fuzz
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <("$cargo_fuzz" list); fi
out=${FUZZ_CAMPAIGN_OUT:-$root/fuzz/target/campaign-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"

# Build every target once, up front, so the timed runs measure fuzzing only.
nice -n 19 "$cargo_fuzz" build -s none >"$out/build.log" 2>&1 \
  || { cat "$out/build.log"; exit 1; }

# Extra read-only corpus directories and libFuzzer options per target.
extra_dirs() {
  case $1 in
    mms_pdu_decode | wap_push_reassemble | mm4_parse) [ -d "$vectors" ] && echo "$vectors" ;;
  esac
  return 0
}
# The shared vectors go up to 1 MiB; mutating inputs that long costs throughput without reaching
# more of the decoder, so the MMS targets cap inputs at 64 KiB (libFuzzer truncates longer seeds),
# and mm4_parse, which re-encodes and re-decodes every message, at 16 KiB.
max_len() {
  case $1 in
    mm4_parse) echo 16384 ;;
    mms_pdu_decode | wap_push_reassemble) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  local target=$1 log="$out/$1.log"
  mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
  local dirs=("corpus/$target" "seeds/$target")
  local d
  for d in $(extra_dirs "$target"); do dirs+=("$d"); done
  local rc=0
  nice -n 19 "$cargo_fuzz" run -s none "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -max_len="$(max_len "$target")" -rss_limit_mb=2048 \
    -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 || rc=$?
  echo "$rc" >"$out/$target.rc"
}

running=0
for target in "${targets[@]}"; do
  run_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
{
  echo "Campaign $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet -- crates || echo ' + uncommitted changes in crates/'), ${seconds} s per target, $parallel in parallel, nice 19, -s none"
  echo
  echo "| target | executions | exec/s | coverage (cov / ft) | corpus (files) | crashes |"
  echo "|---|---:|---:|---|---:|---|"
  for target in "${targets[@]}"; do
    log="$out/$target.log"
    rc=$(cat "$out/$target.rc" 2>/dev/null || echo "?")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | awk '{print $2" / "$4}')
    files=$(find "corpus/$target" -type f | wc -l)
    crash="none"
    if [ "$rc" != 0 ]; then
      failed=1
      crash="exit $rc: $(grep -Eo "(crash|leak|timeout|oom)-[0-9a-f]+" "$log" | tail -1)"
    fi
    echo "| $target | ${execs:-?} | ${rate:-?} | ${cov:-?} | $files | $crash |"
  done
} | tee "$out/summary.md"
echo "logs: $out"
exit "$failed"
