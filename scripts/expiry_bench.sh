#!/usr/bin/env bash
# Does a mass expiry stall clients? p99 of GET while a million keys expire within a few seconds,
# next to the same GET load with nothing expiring, for redis-server and a 1-node dendrite in the
# same run (issue: Redis dialect, "a sweep of expired keys must not stall clients").
#
#   scripts/expiry_bench.sh [--keys N] [--out FILE]
#
# For each server: 100 000 lasting keys; a baseline GET load (-c 50) on them; then N keys written
# with `PX 20000` as fast as -P 16 allows (so they all expire within the load's duration, 20 s
# later); the same GET load again, started as the first of them expires and lasting past the
# last; then how long until INFO keyspace reports no key with a deadline left (the sweep done).
set -euo pipefail
cd "$(dirname "$0")/.."

keys=1000000
out=docs/expiry-run.md
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--keys N] [--out FILE]" >&2; exit 2 ;;
  esac
done
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is needed (apt-get install redis-tools)" >&2; exit 1; }

echo "== building dendrite (release)"
cargo build --release -q -p dendrite-node
bin="${CARGO_TARGET_DIR:-target}/release/dendrite"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ttl_ms=20000
# "test,rps,avg,min,p50,p95,p99,max" -> "rps p50 p99"
get_load() { # port requests
  redis-benchmark -p "$1" -t get -n "$2" -c 50 -r 100000 -d 100 --csv -q 2>/dev/null \
    | tr -d '"' | grep -E '^GET,' | awk -F, '{ print $2, $5, $7 }'
}
expiring_left() { # port
  redis-cli -p "$1" info keyspace 2>/dev/null | tr -d '\r' | sed -n 's/.*expires=\([0-9]*\).*/\1/p' | head -1
}

rows=()
measure() { # name port
  local name=$1 port=$2
  redis-benchmark -p "$port" -t set -n 200000 -r 100000 -d 100 -c 50 -P 16 -q >/dev/null 2>&1
  read -r base_rps base_p50 base_p99 < <(get_load "$port" 200000)
  local started loaded load_s
  started=$(now)
  redis-benchmark -p "$port" -n "$keys" -r 1000000000 -c 50 -P 16 -q \
    SET "exp:__rand_int__" v PX "$ttl_ms" >/dev/null 2>&1
  loaded=$(now)
  load_s=$(python3 -c "print(f'{$loaded - $started:.1f}')")
  local held; held=$(expiring_left "$port")
  # Start the GET load as the first keys expire; make it last past the last one.
  python3 -c "import time; time.sleep(max(0, $started + $ttl_ms / 1000 - time.time()))"
  local requests
  requests=$(python3 -c "print(int($base_rps * ($load_s + 5)))")
  read -r exp_rps exp_p50 exp_p99 < <(get_load "$port" "$requests")
  local swept_at=""
  for _ in $(seq 1 600); do
    left=$(expiring_left "$port"); left=${left:-0}
    if [ "$left" = 0 ]; then swept_at=$(now); break; fi
    sleep 0.1
  done
  local sweep_s="not within 60 s"
  if [ -n "$swept_at" ]; then
    sweep_s=$(python3 -c "print(f'{$swept_at - ($started + $ttl_ms / 1000) :.1f} s')")
  fi
  echo "$name: loaded $held expiring keys in $load_s s; GET p99 $base_p99 ms -> $exp_p99 ms during expiry; all reclaimed $sweep_s after the first deadline"
  rows+=("| $name | $held | $load_s s | $base_rps / $base_p50 / $base_p99 | $exp_rps / $exp_p50 / $exp_p99 | $sweep_s |")
}

echo "== redis-server"
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
pids+=($!)
wait_ping "$rport"
measure redis "$rport"

echo "== dendrite (1 node)"
dring=$(free_port); dresp=$(free_port); dhttp=$(free_port)
start_dendrite d1 "$dring" "$dresp" "$dhttp"
wait_ping "$dresp" 60 || { show_logs; exit 1; }
measure dendrite "$dresp"

mkdir -p "$(dirname "$out")"
{
  echo "# Mass expiry: GET latency while $keys keys expire"
  echo
  echo "Produced by \`scripts/expiry_bench.sh --keys $keys\` on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores,"
  echo "$(redis-server --version | cut -d' ' -f1-3), dendrite $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (release)."
  echo "GET load: \`redis-benchmark -t get -c 50 -r 100000 -d 100\` on 100 000 lasting keys; expiring keys"
  echo "written with \`SET exp:__rand_int__ v PX $ttl_ms\` at -P 16 (so they expire over the load's duration)."
  echo
  echo "| server | keys with a deadline | written in | GET ops/s / p50 / p99 ms, nothing expiring | GET ops/s / p50 / p99 ms, during the expiry | all reclaimed after the first deadline |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
cat "$out"
