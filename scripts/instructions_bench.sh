#!/usr/bin/env bash
# Instructions per pipelined request, counted under valgrind's callgrind: redis-server and
# `dendrite node` (one per BIN, default the release build of this tree) served the same
# redis-benchmark run. A count, not a time: it does not move with the machine's state (this
# machine's timings of one binary differ by 2x from hour to hour, see docs/performance.md), so
# it is what to compare across commits; the user-space instructions of the server only (the
# kernel's share of each request is not counted).
#
#   scripts/instructions_bench.sh [--requests N] [--clients N] [--pipeline N]
#                                 [--tests set,get,incr] [BIN ...]
#
# Per server and test: warm up (400 000 SETs over the 100 000 keys, so that nearly every key
# exists and a SET overwrites), zero the counters, run `redis-benchmark -t T -n N -c C -P P -d
# 100 -r 100000`, dump, and print the instructions of the whole process per request, and for
# dendrite also of its RESP connection tasks alone (the rest is background work on timers:
# the slot map's refresh, tombstone purges, which run more often per request under
# callgrind's ~50x slowdown than at full speed). With --clients 1 every read holds exactly
# one pipeline's requests, so runs repeat within ~1 %; with 50 clients the batch sizes vary.
#
# Needs valgrind (installed from the system packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=100000
clients=1
pipeline=16
tests=set,get
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    -*) echo "usage: $0 [--requests N] [--clients N] [--pipeline N] [--tests set,get,incr] [BIN ...]" >&2; exit 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
IFS=, read -r -a test_names <<<"$tests"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh # $work, pids, cleanup on exit, free_port, need_redis, need_valgrind, build_release
need_redis
need_valgrind
if [ ${#bins[@]} -eq 0 ]; then
  build_release
  bins=("$bin")
fi

# Runs one server (the command after `port`, listening on `port`) under callgrind, measures
# test `t` on it, prints the counts.
measure() { # label test port command...
  local label=$1 t=$2 port=$3
  shift 3
  local dir
  dir=$(mktemp -d "$work/run.XXXX")
  (cd "$dir" && RUST_LOG=warn exec valgrind --tool=callgrind --dump-instr=no "$@" \
    >"$dir/server.log" 2>&1) &
  local pid=$!
  pids+=("$pid")
  wait_ping "$port" 120
  redis-benchmark -p "$port" -t set -n 400000 -c 50 -d 100 -r 100000 -P 16 -q >/dev/null 2>&1
  callgrind_control -z "$pid" >/dev/null 2>&1
  redis-benchmark -p "$port" -t "$t" -n "$requests" -c "$clients" -d 100 -r 100000 -P "$pipeline" \
    -q >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  callgrind_annotate --threshold=100 --inclusive=yes "$dir"/callgrind.out.*.1 2>/dev/null |
    awk -v n="$requests" -v label="$label" -v t="$t" '
      /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
      /resp::server::Connection::serve::\{\{closure\}\} \[/ {
        gsub(",", "", $1); if ($1 + 0 > serve) serve = $1 + 0
      }
      END {
        printf "%-28s %-5s %6.0f instructions/request", label, t, total / n
        if (serve > 0) printf "  (RESP tasks %.0f)", serve / n
        printf "\n"
      }'
}

echo "== callgrind; redis-benchmark -n $requests -c $clients -P $pipeline -d 100 -r 100000"
for t in "${test_names[@]}"; do
  port=$(free_port)
  measure "redis-server" "$t" "$port" redis-server --port "$port" --bind 127.0.0.1 --save "" \
    --appendonly no
  for b in "${bins[@]}"; do
    port=$(free_port)
    measure "$b" "$t" "$port" "$b" node --listen "127.0.0.1:$(free_port)" \
      --resp "127.0.0.1:$port" --http "127.0.0.1:$(free_port)"
  done
done
