#!/usr/bin/env bash
# Durability costs, measured against Redis on this machine in one run (issue 17):
#
#   scripts/durable_bench.sh [--quick] [--keys N] [--rounds N] [--requests N]
#
#   1. SET throughput (redis-benchmark, 50 clients, 100-byte values, -P 1 and -P 16) of
#      redis-server --appendonly yes --appendfsync P vs a 1-node dendrite --data-dir --fsync P,
#      for P = everysec and always (and both in memory, for reference): N rounds (default 3),
#      alternated, the median of each and the median of the rounds' ratios;
#   2. restart of a node holding N keys (default 1 M, 100-byte values) after kill -9: time from
#      the start of the process until it answers PING with its keys loaded, and the disk bytes
#      per key after compaction, for both.
# Prints one line per measurement. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=200000
keys=1000000
rounds=3
clients=50
size=100
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) requests=20000; keys=100000; rounds=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    # At -P 16 a 200 000-request run lasts a quarter of a second: more requests, steadier ratios.
    --requests) requests="$2"; shift 2 ;;
    *) echo "usage: $0 [--quick] [--keys N] [--rounds N] [--requests N]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port, wait_ping, now, need_redis, build_release
need_redis
build_release

# Starts redis-server on a free port with `$@`: its port in $port, its pid in $last_pid (not
# through `$(...)`, whose subshell would keep both from the cleanup).
run_redis() { # dir [args...]
  local dir=$1; shift
  port=$(free_port)
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --dir "$dir" \
    --logfile "$dir/redis.log" --daemonize no "$@" >/dev/null 2>&1 &
  pids+=($!); last_pid=$!
  wait_ping "$port" 120 >/dev/null
}

run_dendrite() { # ring_port [args...]
  local ring=$1; shift
  port=$(free_port)
  "$bin" node --listen "127.0.0.1:$ring" --resp "127.0.0.1:$port" --http "127.0.0.1:$(free_port)" \
    --replicas 2 --log warn "$@" >>"$work/dendrite.log" 2>&1 &
  pids+=($!); last_pid=$!
  wait_ping "$port" 120 >/dev/null
}

set_rps() { # port pipeline -> SET requests per second
  redis-benchmark -p "$1" -t set -n "$requests" -c "$clients" -d "$size" -r 100000 -P "$2" \
    --csv -q 2>/dev/null | tr -d '"' | awk -F, '/^SET/ { print $2 }'
}

stop() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

median() { # numbers... -> their median
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "== SET throughput (requests/s), 1 node, $clients clients, ${size}-byte values, median of $rounds rounds"
for policy in none everysec always; do
  for p in 1 16; do
    rs=() ds=() ratios=()
    # Alternated rounds (redis, dendrite, redis, ...) so that load from other jobs on a shared
    # machine falls on both alike; the ratio reported is the median of the rounds' ratios.
    for round in $(seq "$rounds"); do
      if [ "$policy" = none ]; then
        run_redis "$work/r-$policy-$p-$round" --appendonly no
      else
        run_redis "$work/r-$policy-$p-$round" --appendonly yes --appendfsync "$policy"
      fi
      rport=$port rpid=$last_pid
      redis=$(set_rps "$rport" "$p"); stop "$rpid"
      if [ "$policy" = none ]; then
        run_dendrite "$(free_port)"
      else
        run_dendrite "$(free_port)" --data-dir "$work/d-$policy-$p-$round" --fsync "$policy"
      fi
      dport=$port dpid=$last_pid
      dendrite=$(set_rps "$dport" "$p"); stop "$dpid"
      rs+=("$redis") ds+=("$dendrite")
      ratios+=("$(python3 -c "print(f'{$dendrite / $redis:.2f}')")")
    done
    echo "SET -P $p fsync=$policy: redis $(median "${rs[@]}"), dendrite $(median "${ds[@]}"), ratio $(median "${ratios[@]}") (rounds: redis ${rs[*]}; dendrite ${ds[*]}; ratios ${ratios[*]})"
  done
done

echo "== restart with $keys keys of ${size} bytes after kill -9 (everysec)"
load() { # port
  redis-benchmark -p "$1" -t set -n "$keys" -c "$clients" -d "$size" -r "$keys" -P 16 -q \
    >/dev/null 2>&1
  # -r draws keys at random: count what was stored.
  redis-cli -p "$1" dbsize 2>/dev/null || echo "?"
}
restart_time() { # port command... ; seconds until PING answers in $secs
  local port=$1; shift
  local started; started=$(now)
  "$@" >>"$work/restart.log" 2>&1 &
  pids+=($!); last_pid=$!
  wait_ping "$port" 300 >/dev/null
  secs=$(python3 -c "print(f'{$(now) - $started:.2f}')")
}

rdir="$work/r-restart"
run_redis "$rdir" --appendonly yes --appendfsync everysec; rport=$port rpid=$last_pid
rkeys=$(load "$rport")
redis-cli -p "$rport" bgrewriteaof >/dev/null
# The rewrite runs in the background: wait for INFO to say it ended (at most 2 minutes).
for _ in $(seq 1200); do
  redis-cli -p "$rport" info persistence | grep -q '^aof_rewrite_in_progress:0' &&
    redis-cli -p "$rport" info persistence | grep -q '^aof_rewrite_scheduled:0' && break
  sleep 0.1
done
stop "$rpid"
rbytes=$(du -sb "$rdir" | cut -f1)
restart_time "$rport" redis-server --port "$rport" --bind 127.0.0.1 --save "" \
  --dir "$rdir" --appendonly yes --appendfsync everysec --logfile "$rdir/redis.log"
rsecs=$secs
stop "$last_pid"

ddir="$work/d-restart"; dring=$(free_port)
run_dendrite "$dring" --data-dir "$ddir"; dport=$port dpid=$last_pid
dkeys=$(load "$dport")
# Compacted: SAVE answers once the snapshot is on disk and the files it replaces are gone.
redis-cli -p "$dport" save >/dev/null
stop "$dpid"
dbytes_before=$(du -sb "$ddir" | cut -f1)
restart_time "$dport" "$bin" node --listen "127.0.0.1:$dring" --resp "127.0.0.1:$dport" \
  --http "127.0.0.1:$(free_port)" --replicas 2 --log warn --data-dir "$ddir"
dsecs=$secs
dloaded=$(redis-cli -p "$dport" dbsize 2>/dev/null || echo "?")
stop "$last_pid"
echo "redis: $rkeys keys, restart ${rsecs}s, $rbytes bytes on disk after BGREWRITEAOF ($((rbytes / rkeys)) per key)"
echo "dendrite: $dkeys keys, restart ${dsecs}s ($dloaded keys served), $dbytes_before bytes on disk ($((dbytes_before / dkeys)) per key) after SAVE"
