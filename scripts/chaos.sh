#!/usr/bin/env bash
# Long fault-injection runs against real node processes (crates/chaos, docs/reliability.md).
#
#   scripts/chaos.sh [FAULTS] [SEED...]
#
# FAULTS are rounds per fault kind (default kill:20,pause:5,partition:10,clock:3,slow:3,
# bridge:3,oneway:3: a bridge partition leaves one node reaching both sides, a one-way cut drops
# only what the chosen nodes send); each
# SEED is one run of a fresh 5-node cluster (default: one random seed). Runs as root for
# partitions (network namespaces); slow links need `tc netem` in the kernel, else they are
# skipped loudly. Prints each run's figures and the totals: seeds, rounds, operations checked,
# anomalies. Every anomaly is printed with its seed and history; the nodes' logs of a run with
# anomalies are kept under ${CHAOS_KEEP:-target/chaos}/seed-<seed>/. Exits non-zero if any run
# failed or found an anomaly (the open finding's included: runs are strict). Rounds follow each
# other after 0.2-1 s of quiet (DENDRITE_CHAOS_QUIET_MS=min-max to change it); partitions cut
# one node off unless DENDRITE_CHAOS_MINORITY=2.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

faults=${1:-kill:20,pause:5,partition:10,clock:3,slow:3,bridge:3,oneway:3}
shift || true
seeds=("$@")
if [ ${#seeds[@]} -eq 0 ]; then seeds=($(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); fi
keep=${CHAOS_KEEP:-target/chaos}

echo "chaos: faults $faults, seeds ${seeds[*]}"
cargo test -p dendrite-node --test chaos --no-run 2>&1 | tail -n 1

declare -A total=()
failed=()
for seed in "${seeds[@]}"; do
  logs="$work/seed-$seed"
  mkdir -p "$logs"
  started=$(now)
  status=0
  DENDRITE_CHAOS_SEED=$seed DENDRITE_CHAOS_FAULTS=$faults DENDRITE_CHAOS_LOGS=$logs \
    DENDRITE_CHAOS_STRICT=1 DENDRITE_CHAOS_QUIET_MS=${DENDRITE_CHAOS_QUIET_MS:-200-1000} cargo test -q -p dendrite-node --test chaos -- --nocapture \
    >"$logs/run.txt" 2>&1 || status=$?
  figures=$(grep -m1 '^chaos-figures' "$logs/run.txt" || true)
  took=$(python3 -c "print(f'{$(now) - $started:.0f}')")
  if [ -z "$figures" ]; then
    echo "seed $seed: the run did not finish (${took}s); its output:"
    tail -n 40 "$logs/run.txt"
  else
    echo "seed $seed (${took}s): ${figures#chaos-figures }"
    # The run's summary too (ok / error / unknown, settle times): a passing run keeps no logs.
    run_summary=$(grep -m1 -E '^chaos: seed [0-9]+: ' "$logs/run.txt" || true)
    if [ -n "$run_summary" ]; then echo "  ${run_summary#chaos: }"; fi
    for pair in ${figures#chaos-figures }; do
      key=${pair%%=*} value=${pair#*=}
      case $value in ''|*[!0-9]*) ;; *) total[$key]=$(( ${total[$key]:-0} + value )) ;; esac
    done
  fi
  if [ "$status" -ne 0 ]; then
    failed+=("$seed")
    grep -E '^(phantom|lost|stale|resurrected|duplicate|divergence)' -A40 "$logs/run.txt" \
      | grep -v '^\s*[0-9]*: ' | head -n 200 || true
    mkdir -p "$keep"
    cp -r "$logs" "$keep/"
    echo "seed $seed: output and node logs kept in $keep/seed-$seed/"
  fi
done

summary="seeds ${#seeds[@]}"
for key in kill pause partition clock slow bridge oneway operations reads anomalies tolerated swept; do
  summary+=", $key ${total[$key]:-0}"
done
echo "chaos totals: $summary"
echo "(rounds per kind; operations checked; reads checked in full; anomalies, of which"
echo " 'tolerated' are the open finding: anomalies other than phantoms while ownership moved,"
echo " and 'swept' were found by the convergence sweep: writes or increments lost for good)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "chaos: seeds with anomalies or failures: ${failed[*]}" >&2
  exit 1
fi
