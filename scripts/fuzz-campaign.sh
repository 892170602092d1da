#!/usr/bin/env bash
# Fuzzing campaign: run every cargo-fuzz target (or the ones named) for SECONDS each and record
# executions, coverage, corpus size and crashes per target (RELIABILITY.md, "Fuzzing").
#
#   scripts/fuzz-campaign.sh [-t SECONDS] [-r RUNS] [-j PARALLEL] [-n NICE] [-s] [TARGET...]
#   scripts/fuzz-campaign.sh -R DIR [TARGET...]     # print the summary of a finished run again
#
# -r: stop each target after RUNS executions (libFuzzer -runs), or at SECONDS, whichever comes first.
# -j: how many targets run at once (default 1). -n: the fuzzers' nice level (default 19, as the
# machine is shared; 0 gives them a fair share beside other work). -s: afterwards, replace fuzz/seeds/<target> by a
# minimised pick of the corpus (refresh_seeds below).
#
# Each target starts from its growing corpus fuzz/corpus/<target> (git-ignored), the committed seeds
# fuzz/seeds/<target>, and, for the MMS-carrying targets, the shared test vectors read in place
# ($MMSRELAY_TEST_VECTORS/mms, default ../shared/test-vectors/mms; never copied into the repository).
# Runs at nice 19 unless -n says otherwise. A crash stops that target only; its input is in
# fuzz/artifacts/<target>/ and the script exits 1 at the end. The summary table (markdown) is printed
# and written to $FUZZ_CAMPAIGN_OUT (default fuzz/target/campaign-<UTC time>/summary.md), next to
# one libFuzzer log per target.
set -euo pipefail

# Extra read-only corpus directories per target.
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
  local target=$1 log="$out/$1.log" d rc=0
  mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
  local dirs=("corpus/$target" "seeds/$target")
  for d in $(extra_dirs "$target"); do dirs+=("$d"); done
  nice -n "$niceness" "$bin_dir/$target" -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" ${runs:+-runs="$runs"} -max_len="$(max_len "$target")" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -close_fd_mask=1 "${dirs[@]}" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$out/$target.rc"
}

# Committed seeds: libFuzzer's set-cover merge of corpus + old seeds (inputs up to 8 KiB), then at
# most 50 files under 8 KiB, the largest first (they carry the most structure), leaving out any
# that shares a 32-byte run with the shared test vectors (their licences keep them out of the repo).
refresh_seeds() {
  local target=$1 tmp
  tmp=$(mktemp -d)
  if ! nice -n 19 "$bin_dir/$target" -set_cover_merge=1 -max_len=8192 -rss_limit_mb=2048 \
      "$tmp" "corpus/$target" "seeds/$target" >"$out/$target.cmin.log" 2>&1; then
    echo "seed merge failed for $target (see $out/$target.cmin.log)"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "seeds/$target"
  nice -n 19 python3 - "$tmp" "seeds/$target" "$vectors" <<'PY'
import os, shutil, sys
src, dest, vec = sys.argv[1:4]
W = 32
seen = set()
for dp, _, fs in os.walk(vec):
    for f in fs:
        b = open(os.path.join(dp, f), "rb").read()
        seen.update(hash(b[i:i + W]) for i in range(len(b) - W + 1))
os.makedirs(dest, exist_ok=True)
n = skipped = 0
for size, f in sorted(((os.path.getsize(os.path.join(src, f)), f) for f in os.listdir(src)), reverse=True):
    if size == 0 or size >= 8192:
        continue
    b = open(os.path.join(src, f), "rb").read()
    if any(hash(b[i:i + W]) in seen for i in range(len(b) - W + 1)):
        skipped += 1
        continue
    shutil.copy(os.path.join(src, f), os.path.join(dest, f))
    n += 1
    if n == 50:
        break
print(f"{dest}: {n} seeds ({skipped} left out: they share a {W}-byte run with the shared vectors)")
PY
  rm -rf "$tmp"
}

summary() {
  local target log rc execs rate cov files crash failed=0
  {
    echo "Campaign $(date -u -r "$out" +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD), ${seconds} s${runs:+ or $runs executions} per target, $parallel in parallel, nice $niceness, -s none"
    echo
    echo "| target | executions | exec/s | coverage (cov / ft) | corpus (inputs/bytes) | crashes |"
    echo "|---|---:|---:|---|---:|---|"
    for target in "${targets[@]}"; do
      log="$out/$target.log"
      rc=$(cat "$out/$target.rc" 2>/dev/null || echo "?")
      execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
      rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
      cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | awk '{print $2" / "$4}')
      files=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
      crash="none"
      if [ "$rc" != 0 ]; then
        failed=1
        crash="exit $rc: $(grep -Eo "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | tail -1)"
      fi
      echo "| $target | ${execs:-?} | ${rate:-?} | ${cov:-?} | $files | $crash |"
    done
  } | tee "$out/summary.md"
  echo "logs: $out"
  return "$failed"
}

main() {
  cd "$(dirname "$0")/.."
  root=$(pwd)
  seconds=300
  runs=""
  parallel=1
  niceness=19
  refresh=0
  local report_only="" opt target running=0
  while getopts "t:r:j:n:sR:" opt; do
    case $opt in
      t) seconds=$OPTARG ;;
      r) runs=$OPTARG ;;
      j) parallel=$OPTARG ;;
      n) niceness=$OPTARG ;;
      s) refresh=1 ;;
      R) report_only=$OPTARG ;;
      *) echo "usage: $0 [-t SECONDS] [-r RUNS] [-j PARALLEL] [-n NICE] [-s] [TARGET...] | -R DIR [TARGET...]" >&2; exit 2 ;;
    esac
  done
  shift $((OPTIND - 1))

  cargo_fuzz=$(command -v cargo-fuzz || echo "$HOME/.cargo/bin/cargo-fuzz")
  [ -x "$cargo_fuzz" ] || { echo "cargo-fuzz not found: cargo install cargo-fuzz --locked" >&2; exit 2; }
  vectors=${MMSRELAY_TEST_VECTORS:-$root/../shared/test-vectors}/mms
  bin_dir=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release

  cd fuzz
  if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <("$cargo_fuzz" list); fi
  if [ -n "$report_only" ]; then
    out=$report_only
    summary
    exit $?
  fi
  out=${FUZZ_CAMPAIGN_OUT:-$root/fuzz/target/campaign-$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$out"

  # Build every target once, up front, so the timed runs measure fuzzing only.
  nice -n 19 "$cargo_fuzz" build -s none >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }

  for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true

  if [ "$refresh" = 1 ]; then
    for target in "${targets[@]}"; do refresh_seeds "$target" || true; done
  fi
  summary
}

# Everything runs from main, parsed whole before it starts: editing this file during a long
# campaign cannot change what the running campaign does.
main "$@"
exit $?
