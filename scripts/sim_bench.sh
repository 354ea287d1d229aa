#!/usr/bin/env bash
# The simulator at scale (issue 20: "10^5 nodes and 10^6 lookups in <= 60 s on one core and
# <= 4 GiB, results identical for the same seed").
#
#   scripts/sim_bench.sh [--nodes N] [--lookups L] [--seed S] [--runs R] [--reference BIN]
#
# Builds dendrite-sim (release) and runs `path-length --nodes N --lookups L --seed S` R times
# (defaults 100000, 1000000, 1, 2) under GNU time: wall seconds, CPU seconds (user + system) and
# maximum resident set size per run, then checks that every run wrote the same CSV and SVG bytes
# and whether the targets (CPU <= 60 s, RSS <= 4 GiB) held. The simulator is single-threaded, so
# CPU time is its one-core time; wall time also counts waiting for a core on a busy machine.
#
# --reference BIN runs another dendrite-sim binary (an older build) alternately with this one
# under the same load, reports the CPU ratio, and checks that both wrote the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

nodes=100000
lookups=1000000
seed=1
runs=2
reference=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --lookups) lookups="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --reference) reference="$2"; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--lookups L] [--seed S] [--runs R] [--reference BIN]" >&2; exit 2 ;;
  esac
done
if [ ! -x /usr/bin/time ]; then
  echo "GNU time (/usr/bin/time) is needed for CPU time and max RSS: apt-get install time" >&2
  exit 1
fi
if [ -n "$reference" ] && [ ! -x "$reference" ]; then
  echo "--reference $reference is not an executable" >&2
  exit 2
fi

echo "== building dendrite-sim (release)"
cargo build --release -q -p dendrite-sim
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/dendrite-sim"

# run LABEL BIN INDEX: one timed run into $work/LABEL-INDEX; prints "wall cpu rss_kib".
run() {
  local label=$1 binary=$2 index=$3
  local out="$work/$label-$index"
  /usr/bin/time -f "%e %U %S %M" -o "$out.time" \
    "$binary" path-length --seed "$seed" --nodes "$nodes" --lookups "$lookups" --out "$out" \
    >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
  awk '{ printf "%.1f %.1f %d\n", $1, $2 + $3, $4 }' "$out.time"
}

echo "== path-length --seed $seed --nodes $nodes --lookups $lookups, $runs run(s) each; load: $(cut -d' ' -f1-3 /proc/loadavg)"
worst_cpu=0
worst_rss=0
for i in $(seq 1 "$runs"); do
  read -r wall cpu rss < <(run new "$bin" "$i")
  echo "this build, run $i: ${wall} s wall, ${cpu} s CPU, max RSS $((rss / 1024)) MiB"
  worst_cpu=$(awk -v a="$worst_cpu" -v b="$cpu" 'BEGIN { print (b > a) ? b : a }')
  worst_rss=$(( rss > worst_rss ? rss : worst_rss ))
  if [ -n "$reference" ]; then
    read -r rwall rcpu rrss < <(run reference "$reference" "$i")
    echo "reference,  run $i: ${rwall} s wall, ${rcpu} s CPU, max RSS $((rrss / 1024)) MiB (CPU ratio new/reference $(awk -v a="$cpu" -v b="$rcpu" 'BEGIN { printf "%.2f", a / b }'))"
  fi
done

same=yes
for f in "$work"/*-[0-9]*/path-length.*; do
  name=$(basename "$f")
  cmp -s "$f" "$work/new-1/$name" || { echo "DIFFERENT: $f" >&2; same=no; }
done
echo "same bytes in every run: $same"
grep -A3 '^| nodes' "$work/new-1.log" || true
verdict=met
awk -v c="$worst_cpu" 'BEGIN { exit !(c <= 60) }' || verdict="missed (CPU)"
[ "$worst_rss" -le $((4 * 1024 * 1024)) ] || verdict="missed (RSS)"
[ "$same" = yes ] || verdict="missed (results differ)"
echo "target (<= 60 s CPU on one core, <= 4 GiB, same bytes): $verdict (worst ${worst_cpu} s CPU, $((worst_rss / 1024)) MiB)"
[ "$same" = yes ]
