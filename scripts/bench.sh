#!/usr/bin/env bash
# Side-by-side benchmark of Dendrite and Redis on this machine, in one run (issue: performance).
#
#   scripts/bench.sh [--quick] [--requests N] [--only cluster-clients] [--rounds N] [--out FILE]
#
# Installs redis-server and redis-tools from the system packages when they are missing (the
# README's two commands never need them), builds the release binary, then measures with the same
# redis-benchmark load:
#   1. redis-server (no persistence) vs a 1-node dendrite, -P 1 and -P 16;
#   2. a 3-master Redis Cluster vs a 3-node dendrite (replicas 2, consistency 1, load spread over
#      the three RESP ports);
#   3. single-client latency p50/p99 for both;
#   4. cluster clients (`redis-benchmark --cluster`, routing by slot and following MOVED):
#      (a) a 3-master Redis Cluster vs 3 dendrite nodes with --replicas 0, (b) 3 masters with a
#      replica each vs dendrite --replicas 1 (consistency 1), plus the share of dendrite's
#      requests served by the node they reached (dendrite_cluster_requests_total).
#      `--only cluster-clients` runs just this part. It runs `--rounds` rounds (default 3),
#      alternating which system goes first, and reports each figure's median round.
# Prints a table with ratios (dendrite / redis) and writes it to the output file together with the
# machine, the versions and the commands. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

out=docs/performance-run.md
requests=200000
clients=50
size=100
keyspace=100000
only=""
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) requests=20000; shift ;;
    # redis-benchmark's ops/s comes in steps of about 0.25 s of run time: at 400k ops/s a
    # 200 000-request run is 0.5 s and moves in 50 % steps. More requests, finer figures.
    --requests) requests="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--quick] [--requests N] [--only cluster-clients] [--rounds N] [--out FILE]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port, need_redis, build_release
need_redis
build_release

# A free port below 45000 whose +10000 (Redis Cluster's bus port) is free too.
free_cluster_port() {
  python3 - <<'PY'
import random, socket
for _ in range(1000):
    port = random.randint(20000, 45000)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(port); break
    except OSError:
        continue
PY
}

wait_ping() { # port
  for _ in $(seq 1 600); do
    if redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.05
  done
  echo "nothing answers PING on port $1" >&2
  return 1
}

start_redis() { # port [extra args...]
  local port=$1; shift
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$work" --logfile "$work/redis-$port.log" "$@" &
  pids+=($!)
  wait_ping "$port"
}

start_dendrite() { # name ring_port resp_port http_port [join] [replicas] [extra flags...]
  local name=$1 ring=$2 resp=$3 http=$4 join=${5:-} replicas=${6:-2}
  shift $(($# < 6 ? $# : 6))
  local args=(node --listen "127.0.0.1:$ring" --resp "127.0.0.1:$resp" --http "127.0.0.1:$http"
    --replicas "$replicas" "$@")
  if [ -n "$join" ]; then args+=(--join "$join"); fi
  RUST_LOG=warn "$bin" "${args[@]}" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_ping "$resp" || { echo "--- $name's log:" >&2; tail -n 30 "$work/$name.log" >&2; return 1; }
}

# Runs redis-benchmark and prints "rps p50 p99" summed/averaged over the listed tests.
bench() { # port pipeline tests [extra...]
  local port=$1 pipeline=$2 tests=$3; shift 3
  redis-benchmark -p "$port" -t "$tests" -n "$requests" -c "$clients" -d "$size" -r "$keyspace" \
    -P "$pipeline" --csv -q "$@" 2>/dev/null | tr -d '"' | grep -E '^(SET|GET|INCR),'
}

# SET with a 100 s expiry (what a cache writes), named SETEX in the results.
ttl_value=$(head -c "$size" /dev/zero | tr '\0' x)
bench_setex() { # port pipeline
  redis-benchmark -p "$1" -n "$requests" -c "$clients" -r "$keyspace" -P "$2" --csv -q \
    SET "key:__rand_int__" "$ttl_value" EX 100 2>/dev/null | tr -d '"' | grep -E '^SET' \
    | sed -E 's/^SET[^,]*,/SETEX,/'
}

# "test,rps,avg,min,p50,p95,p99,max" lines -> one line per test: name rps p50 p99
summarise() { awk -F, '{ printf "%s %s %s %s\n", $1, $2, $5, $7 }'; }

results="$work/results.txt"
: >"$results"
record() { echo "$*" >>"$results"; }

if [ -z "$only" ]; then
echo "== 1 node: redis-server vs dendrite"
rport=$(free_port); start_redis "$rport"
dring=$(free_port); dresp=$(free_port); dhttp=$(free_port)
start_dendrite d1 "$dring" "$dresp" "$dhttp"
for p in 1 16; do
  bench "$rport" "$p" set,get,incr | summarise | while read -r t rps p50 p99; do record "single P$p $t redis $rps $p50 $p99"; done
  bench "$dresp" "$p" set,get,incr | summarise | while read -r t rps p50 p99; do record "single P$p $t dendrite $rps $p50 $p99"; done
  bench_setex "$rport" "$p" | summarise | while read -r t rps p50 p99; do record "single P$p $t redis $rps $p50 $p99"; done
  bench_setex "$dresp" "$p" | summarise | while read -r t rps p50 p99; do record "single P$p $t dendrite $rps $p50 $p99"; done
done

echo "== single-client latency"
for target in "redis $rport" "dendrite $dresp"; do
  set -- $target
  redis-benchmark -p "$2" -t set,get -n 20000 -c 1 -d "$size" -r "$keyspace" --csv -q 2>/dev/null \
    | tr -d '"' | grep -E '^(SET|GET|INCR),' | summarise | while read -r t rps p50 p99; do record "latency c1 $t $1 $rps $p50 $p99"; done
done

echo "== 3 nodes: Redis Cluster (3 masters) vs dendrite (replicas 2, consistency 1)"
cports=()
for i in 1 2 3; do
  port=$(free_cluster_port); cports+=("$port")
  start_redis "$port" --cluster-enabled yes --cluster-config-file "$work/nodes-$port.conf"
done
redis-cli --cluster create "127.0.0.1:${cports[0]}" "127.0.0.1:${cports[1]}" "127.0.0.1:${cports[2]}" \
  --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 1 200); do
  redis-cli -p "${cports[0]}" cluster info | grep -q 'cluster_state:ok' && break
  sleep 0.05
done
dports=()
seed="127.0.0.1:$(free_port)"
for i in 1 2 3; do
  if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
  resp=$(free_port); http=$(free_port); dports+=("$resp")
  start_dendrite "c$i" "$ring" "$resp" "$http" "$join"
done
for p in 1 16; do
  bench "${cports[0]}" "$p" set,get,incr --cluster | summarise | while read -r t rps p50 p99; do record "cluster P$p $t redis $rps $p50 $p99"; done
  # Spread the same total load over the three RESP ports, one benchmark process per node.
  per=$((clients / 3 + 1))
  loaders=()
  for port in "${dports[@]}"; do
    redis-benchmark -p "$port" -t set,get,incr -n $((requests / 3)) -c "$per" -d "$size" -r "$keyspace" \
      -P "$p" --csv -q 2>/dev/null | tr -d '"' | grep -E '^(SET|GET|INCR),' | summarise >"$work/d-$port-$p.txt" &
    loaders+=($!)
  done
  for j in "${loaders[@]}"; do wait "$j"; done
  cat "$work"/d-*-"$p".txt | awk '{ rps[$1] += $2; p50[$1] += $3; p99[$1] = ($4 > p99[$1] ? $4 : p99[$1]); n[$1]++ }
    END { for (t in rps) printf "%s %.2f %.3f %.3f\n", t, rps[t], p50[t] / n[t], p99[t] }' \
    | while read -r t rps p50 p99; do record "cluster P$p $t dendrite $rps $p50 $p99"; done
done
fi

# Part 4: cluster clients. A Redis Cluster of `masters` masters with `replicas` replicas each.
start_redis_cluster() { # replicas -> sets rcluster (first port)
  local replicas=$1 ports=() port
  for _ in $(seq 1 $((3 * (replicas + 1)))); do
    port=$(free_cluster_port); ports+=("127.0.0.1:$port")
    start_redis "$port" --cluster-enabled yes --cluster-config-file "$work/nodes-$port.conf"
  done
  redis-cli --cluster create "${ports[@]}" --cluster-replicas "$replicas" --cluster-yes >/dev/null
  rcluster=${ports[0]##*:}
  for _ in $(seq 1 200); do
    redis-cli -p "$rcluster" cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.05
  done
}

# Three dendrite nodes with `replicas`; sets dcluster (a RESP port) and dhttps (HTTP ports).
start_dendrite_cluster() { # tag replicas
  local tag=$1 replicas=$2 seed ring join resp http
  seed="127.0.0.1:$(free_port)"; dhttps=()
  for i in 1 2 3; do
    if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
    resp=$(free_port); http=$(free_port); dhttps+=("$http")
    # redis-benchmark's data connections send no CLUSTER command: --cluster-redirects makes
    # them cluster clients (MOVED, and counted in dendrite_cluster_requests_total).
    start_dendrite "$tag$i" "$ring" "$resp" "$http" "$join" "$replicas" --cluster-redirects
    if [ "$i" = 1 ]; then dcluster=$resp; fi
  done
  # Every node's slot map covers the 16384 slots with three primaries before the load starts.
  for _ in $(seq 1 400); do
    [ "$(redis-cli -p "$dcluster" cluster nodes 2>/dev/null | grep -c master)" = 3 ] \
      && redis-cli -p "$dcluster" cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.05
  done
}

# Percent of keyed cluster-client requests dendrite served on the node they reached.
one_hop_share() {
  python3 - "${dhttps[@]}" <<'PY'
import re, sys, urllib.request
counts = {}
for port in sys.argv[1:]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for outcome, value in re.findall(r'dendrite_cluster_requests_total\{outcome="(\w+)"\} (\d+)', text):
        counts[outcome] = counts.get(outcome, 0) + int(value)
total = sum(counts.values())
# Served from a replica's own copy after READONLY is one hop too.
one_hop = counts.get('here', 0) + counts.get('replica', 0)
print(f"{100.0 * one_hop / total:.2f}% of {total}" if total else "n/a")
PY
}

hops="$work/one-hop.txt"
: >"$hops"
for replicas in 0 1; do
  echo "== 3 nodes, cluster clients: Redis Cluster (replicas $replicas per master) vs dendrite --replicas $replicas"
  start_redis_cluster "$replicas"
  start_dendrite_cluster "cc$replicas-" "$replicas"
  # Rounds alternate which system goes first, so neither always meets the other's leftovers.
  for round in $(seq 1 "$rounds"); do
    order="redis dendrite"; if [ $((round % 2)) = 0 ]; then order="dendrite redis"; fi
    for p in 1 16; do
      for who in $order; do
        port=$rcluster; if [ "$who" = dendrite ]; then port=$dcluster; fi
        bench "$port" "$p" set,get,incr --cluster | summarise | while read -r t rps p50 p99; do record "cc-r$replicas P$p $t $who $rps $p50 $p99"; done
      done
    done
  done
  echo "replicas $replicas: $(one_hop_share)" >>"$hops"
done

echo "== results"
# Several rounds of a figure (part 4): keep the median round's row (by ops/s), in first-seen order.
python3 - "$results" >"$results.median" <<'PY'
import sys
rows, order = {}, []
for line in open(sys.argv[1]):
    fields = line.split()
    if len(fields) != 7:
        continue
    key = tuple(fields[:4])
    if key not in rows:
        rows[key] = []
        order.append(key)
    rows[key].append(fields)
for key in order:
    samples = sorted(rows[key], key=lambda f: float(f[4]))
    print(" ".join(samples[(len(samples) - 1) // 2]))
PY
table=$(awk '
  { key = $1 " " $2 " " $3; v[key, $4] = $5; l50[key, $4] = $6; l99[key, $4] = $7
    if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  END {
    printf "| setup | pipeline | test | redis ops/s | dendrite ops/s | ratio | redis p50/p99 ms | dendrite p50/p99 ms |\n"
    printf "|---|---|---|---|---|---|---|---|\n"
    # Rows in the order they were measured (plain awk: no gawk-only asorti).
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, f, " ")
      r = v[k, "redis"]; d = v[k, "dendrite"]
      ratio = (r > 0) ? sprintf("%.2f", d / r) : "n/a"
      printf "| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", f[1], f[2], f[3], r, d, ratio, l50[k, "redis"], l99[k, "redis"], l50[k, "dendrite"], l99[k, "dendrite"]
    }
  }' "$results.median")
echo "$table"
cp "$results" "${out%.md}-raw.txt" 2>/dev/null || true

mkdir -p "$(dirname "$out")"
{
  echo "# Benchmark run: Dendrite vs Redis"
  echo
  echo "Produced by \`scripts/bench.sh\` on $(date -u +%Y-%m-%dT%H:%MZ)."
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
  echo "- $(redis-server --version | cut -d' ' -f1-3)"
  echo "- dendrite $(git rev-parse --short HEAD 2>/dev/null || echo unknown), release build"
  echo "- load: \`redis-benchmark -t set,get,incr -n $requests -c $clients -d $size -r $keyspace -P {1,16}\`;"
  echo "  SETEX rows: the same load running \`SET key:__rand_int__ <$size bytes> EX 100\`;"
  echo "  Redis Cluster with \`--cluster\`; dendrite's 3-node load split over its three RESP ports"
  echo "  (3 processes, -c $((clients / 3 + 1)) each); latency rows: \`-c 1 -n 20000\`."
  echo "- cc-r0 / cc-r1 rows: \`redis-benchmark --cluster\` (the same load, routed by slot) against"
  echo "  a 3-master Redis Cluster (cc-r1: with one replica per master) and 3 dendrite nodes with"
  echo "  \`--replicas 0\` (cc-r1: \`--replicas 1\`, consistency 1), \`--cluster-redirects\`; median of $rounds rounds"
  echo "  alternating which system goes first. Dendrite requests served by the"
  echo "  node they reached (\`dendrite_cluster_requests_total\`): $(tr '\n' ';' <"$hops")"
  echo
  echo "$table"
} >"$out"
echo "written to $out"
