#!/usr/bin/env bash
# CURVE next to NULL on the same cluster load (issue 20): two 3-node dendrite clusters
# (replicas 2) side by side on this machine, one with NULL between its nodes and one with
# --curve-secret, loaded in turn with the same redis-benchmark run on node 1's RESP port.
#
#   scripts/curve_bench.sh [--requests N] [--rounds N] [--size BYTES] [--pipeline P]
#
# Defaults: 100 000 requests, 3 rounds (alternating which cluster goes first), 1024-byte values,
# -P 16, 50 clients, SET and GET over 100 000 keys. Prints every round and the median ops/s per
# test with the ratio CURVE / NULL. Set DENDRITE_BIN to measure a binary already built
# (default: builds the release binary). Installs redis-tools when redis-benchmark is missing.
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=100000
rounds=3
size=1024
pipeline=16
clients=50
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--rounds N] [--size BYTES] [--pipeline P]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port, wait_ping, need_redis, build_release
need_redis
if [ -n "${DENDRITE_BIN:-}" ]; then bin=$DENDRITE_BIN; else build_release; fi
secret=$("$bin" keygen | awk '/^secret:/ { print $2 }')
[ -n "$secret" ] || { echo "dendrite keygen printed no secret" >&2; exit 1; }

# Three nodes, replicas 2, extra flags for every node; prints node 1's RESP port.
start_cluster() { # tag [flags...]
  local tag=$1; shift
  local seed ring join resp http first=""
  seed="127.0.0.1:$(free_port)"
  for i in 1 2 3; do
    if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
    resp=$(free_port); http=$(free_port)
    local args=(node --listen "127.0.0.1:$ring" --resp "127.0.0.1:$resp" --http "127.0.0.1:$http"
      --replicas 2 "$@")
    if [ -n "$join" ]; then args+=(--join "$join"); fi
    RUST_LOG=warn "$bin" "${args[@]}" >"$work/$tag$i.log" 2>&1 &
    pids+=($!)
    wait_ping "$resp" 60 >&2 || { tail -n 30 "$work/$tag$i.log" >&2; return 1; }
    if [ "$i" = 1 ]; then first=$resp; fi
  done
  # The load starts once node 1 sees three primaries covering the slots.
  local deadline=$((SECONDS + 60))
  until [ "$(redis-cli -p "$first" cluster nodes 2>/dev/null | grep -c master)" = 3 ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "$tag: the ring did not settle in 60 s" >&2; return 1; fi
    sleep 0.1
  done
  echo "$first"
}

echo "== starting a NULL and a CURVE cluster (3 nodes each, replicas 2)"
null_port=$(start_cluster null)
curve_port=$(start_cluster curve --curve-secret "$secret")

results="$work/results.txt"
: >"$results"
for round in $(seq 1 "$rounds"); do
  order="null curve"; if [ $((round % 2)) = 0 ]; then order="curve null"; fi
  for who in $order; do
    port=$null_port; if [ "$who" = curve ]; then port=$curve_port; fi
    redis-benchmark -p "$port" -t set,get -n "$requests" -c "$clients" -P "$pipeline" -d "$size" \
      -r 100000 --csv -q 2>/dev/null | tr -d '"' | grep -E '^(SET|GET),' \
      | awk -F, -v who="$who" -v round="$round" '{ print round, who, $1, $2 }' | tee -a "$results"
  done
done

echo "== median of $rounds rounds (ops/s): test NULL CURVE CURVE/NULL"
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, who, test, rps = line.split()
    runs.setdefault(test, {}).setdefault(who, []).append(float(rps))
for test, by in runs.items():
    null, curve = statistics.median(by["null"]), statistics.median(by["curve"])
    print(f"{test} {null:.0f} {curve:.0f} {curve / null:.2f}")
PY
echo "(redis-benchmark -t set,get -n $requests -c $clients -P $pipeline -d $size -r 100000; machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
