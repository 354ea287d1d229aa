#!/usr/bin/env bash
# Coverage-guided fuzzing (docs/reliability.md, "Fuzzing"): runs each cargo-fuzz target of
# fuzz/ for SECONDS (default 60), starting from the committed seeds (fuzz/seeds/<target>) and
# growing an uncommitted corpus (fuzz/corpus/<target>, kept between runs). Prints executions
# and crashes per target; exits non-zero if any target crashed (the input is kept under
# fuzz/artifacts/<target>/ and named in the output).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# FUZZ_SANITIZER (default address) picks cargo-fuzz's sanitizer; `none` runs two to three times
# as many inputs a second, and loses little where the code under test is safe Rust (the
# sanitizer does not instrument libsodium's C code either).
#
# FUZZ_RUNS (default unset) also stops each target after that many executions, whichever comes
# first with SECONDS: `FUZZ_RUNS=10000000 scripts/fuzz.sh 7200 curve_server` runs one target to
# 10^7 executions in one run. Do not pause a run (SIGSTOP): libFuzzer times the input in
# flight by the wall clock and reports it as a hang (-timeout) once resumed.
#
# Needs a nightly toolchain and cargo-fuzz; installs either only if missing, and says so. The
# project itself stays on stable: the target bodies live in crates/fuzzing, whose test replays
# the seeds on stable in `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
sanitizer=${FUZZ_SANITIZER:-address}
max_runs=${FUZZ_RUNS:--1}
[ $# -gt 0 ] && shift
case $seconds in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...] (SECONDS a whole number, got '$seconds')" >&2; exit 2 ;;
esac
case $max_runs in
  -1) ;;
  '' | *[!0-9]*) echo "FUZZ_RUNS must be a whole number of executions, got '$max_runs'" >&2; exit 2 ;;
esac

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "== fuzz: no nightly toolchain; installing it (rustup toolchain install nightly --profile minimal)" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== fuzz: cargo-fuzz missing; installing it (cargo install cargo-fuzz --locked)" >&2
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== fuzz: building ${#targets[@]} instrumented targets (release, debug assertions on, sanitizer $sanitizer)"
cargo +nightly fuzz build -s "$sanitizer"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
summary=()
for target in "${targets[@]}"; do
  seeds=seeds/$target
  [ -d "$seeds" ] || { echo "no seeds for '$target' at fuzz/$seeds (is it a target? see cargo fuzz list)" >&2; exit 2; }
  mkdir -p "corpus/$target"
  echo "== fuzz: $target for ${seconds}s"
  log=$logs/$target.log
  status=0
  # -timeout: an input that runs over 10 s counts as a hang (a crash). The grown corpus goes to
  # the first directory; the seeds are only read.
  cargo +nightly fuzz run -s "$sanitizer" "$target" "corpus/$target" "$seeds" -- \
    -max_total_time="$seconds" -runs="$max_runs" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$runs" ]; then
    # No final stats after a crash: take the last progress line's count.
    runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  fi
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1
    failed=1
    echo "!! $target crashed (exit $status); the end of its log:" >&2
    tail -40 "$log" >&2
  fi
  summary+=("$(printf '%-16s %14s executions  %d crashes' "$target" "${runs:-?}" "$crashes")")
done

echo "== fuzz: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
exit "$failed"
