#!/usr/bin/env bash
# Long crash soak (RELIABILITY.md §1): the soak tests of crates/mmsrelay/tests/cli/soak.rs with more
# MMs and kills than the CI variant. Needs dnsmasq, node with tests/peers/node_modules, sqlite3, and
# for the PostgreSQL run MMSRELAY_TEST_DATABASE_URL (default below) with psql.
#
#   scripts/soak.sh [MMS [KILLS_PER_RELAY [RATE]]]      defaults: 5000 MMs, 10 kills, 30 MM/s
#   MMSRELAY_SOAK_SEED=N scripts/soak.sh ...            repeat a run's kill schedule
#
# Prints one "SOAK <backend>: ..." line of figures per back end; the exit status is the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."
export MMSRELAY_SOAK_MMS="${1:-5000}"
export MMSRELAY_SOAK_KILLS="${2:-10}"
export MMSRELAY_SOAK_RATE="${3:-30}"
export MMSRELAY_TEST_DATABASE_URL="${MMSRELAY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export MMSRELAY_REQUIRE_PEERS=1 MMSRELAY_REQUIRE_POSTGRES=1
uptime
cargo nextest run -p mmsrelay --no-capture --test-threads 1 -E 'test(/crash_soak_/)' 2>&1 |
  grep --line-buffered -E '^(soak|SOAK)|PASS|FAIL|panicked'
