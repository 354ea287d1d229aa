#!/usr/bin/env bash
# Pipelined SET/GET next to redis-server (issue 20 part 1), in one run.
#
#   scripts/pipeline_bench.sh [--requests N] [--rounds N] [--pipeline N] [--tests set,get,incr]
#                             [BIN ...]
#
# Starts one redis-server (no persistence) and one `dendrite node` per BIN (default: the release
# build of this tree), then runs `redis-benchmark -t T` for each test T (default `set,get`; 50
# clients, 100 B values,
# 100 000 keys, -P 16) against each, alternating which goes first round by round, and prints
# every run's ops/s and the server's CPU time per operation (utime + stime from
# /proc/<pid>/stat around the run), then the median of each. Ratios are to redis-server in the
# same rounds: on a shared machine they are what to compare, not the absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=200000
rounds=3
pipeline=16
tests=set,get
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    -*) echo "usage: $0 [--requests N] [--rounds N] [--pipeline N] [--tests set,get,incr] [BIN ...]" >&2; exit 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done

IFS=, read -r -a test_names <<<"$tests"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port, need_redis, build_release
need_redis
if [ ${#bins[@]} -eq 0 ]; then
  build_release
  bins=("$bin")
fi

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# name -> "port pid"
declare -A servers
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
pids+=($!)
servers[redis]="$rport $!"
wait_ping "$rport"
names=(redis)
i=0
for b in "${bins[@]}"; do
  i=$((i + 1))
  ring=$(free_port); resp=$(free_port); http=$(free_port)
  RUST_LOG=warn "$b" node --listen "127.0.0.1:$ring" --resp "127.0.0.1:$resp" \
    --http "127.0.0.1:$http" >"$work/d$i.log" 2>&1 &
  pids+=($!)
  servers[d$i]="$resp $!"
  names+=("d$i")
  wait_ping "$resp"
  echo "d$i = $b"
done

results="$work/results"
: >"$results"
for round in $(seq 1 "$rounds"); do
  # Rotate the order each round so no server always runs first.
  order=("${names[@]:$(( (round - 1) % ${#names[@]} ))}" "${names[@]:0:$(( (round - 1) % ${#names[@]} ))}")
  for name in "${order[@]}"; do
    read -r port pid <<<"${servers[$name]}"
    for t in "${test_names[@]}"; do
      before=$(cpu_ticks "$pid")
      rps=$(redis-benchmark -p "$port" -t "$t" -n "$requests" -c 50 -d 100 -r 100000 \
        -P "$pipeline" --csv -q 2>/dev/null | tr -d '"' | awk -F, 'NR==2 || /^(SET|GET|INCR),/ { print $2; exit }')
      after=$(cpu_ticks "$pid")
      us=$(awk -v d=$((after - before)) -v hz="$ticks" -v n="$requests" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
      echo "round $round $name $t $rps ops/s $us us/op"
      echo "$name $t $rps $us" >>"$results"
    done
  done
done

echo
echo "medians over $rounds rounds (-P $pipeline, $requests requests):"
for t in "${test_names[@]}"; do
  redis_rps=$(awk -v t="$t" '$1 == "redis" && $2 == t { print $3 }' "$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  for name in "${names[@]}"; do
    rps=$(awk -v n="$name" -v t="$t" '$1 == n && $2 == t { print $3 }' "$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    us=$(awk -v n="$name" -v t="$t" '$1 == n && $2 == t { print $4 }' "$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    ratio=$(awk -v a="$rps" -v b="$redis_rps" 'BEGIN { printf "%.2f", a / b }')
    printf '%-6s %s %10s ops/s  %5s us/op  %sx redis\n' "$name" "$t" "$rps" "$us" "$ratio"
  done
done
