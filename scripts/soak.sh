#!/usr/bin/env bash
# Soak (issue 16's target): a 3-node cluster (replicas 2) under 80 % of its measured maximum
# throughput for a long time; no request may fail and each node's resident memory must stay
# flat (within ±10 % of what it was after the warm-up).
#
#   scripts/soak.sh [--minutes N] [--load PERCENT] [--warmup SECONDS]
#
# 1. Starts three `dendrite node` processes (release build) on loopback ports.
# 2. Measures the maximum: one `dendrite bench` per node at once (YCSB A, 50 clients each,
#    100-byte values, 100 000 keys), as fast as answered; the sum of their rates.
# 3. Soaks: the same three benches, paced to PERCENT of that maximum, for N minutes, while the
#    nodes' VmRSS is sampled every 10 s (printed, and kept in $work/rss.csv during the run).
# 4. Prints the errors and each node's RSS after the warm-up, its lowest and highest after it,
#    and the drift; exits 1 if any request failed or any node drifted more than 10 %.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
load=80
warmup=60
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --load) load="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--load PERCENT] [--warmup SECONDS]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port, build_release, start_dendrite
build_release

resp_ports=()
http_ports=()
node_pids=()
join=""
for i in 0 1 2; do
  ring=$(free_port); resp=$(free_port); http=$(free_port)
  start_dendrite "n$i" "$ring" "$resp" "$http" "$join"
  node_pids+=("${pids[-1]}")
  resp_ports+=("$resp")
  http_ports+=("$http")
  wait_ping "$resp" 60 || { show_logs; exit 1; }
  if [ -z "$join" ]; then join="127.0.0.1:$ring"; fi
done
echo "== 3 nodes up (RESP ports ${resp_ports[*]}); waiting for every range to have its copies"
python3 - "${http_ports[@]}" <<'PY' || { show_logs; exit 1; }
import json, sys, time, urllib.request
deadline = time.time() + 120
while time.time() < deadline:
    try:
        states = [json.load(urllib.request.urlopen(f"http://127.0.0.1:{p}/status", timeout=5))
                  for p in sys.argv[1:]]
        if all(s["underreplicated_ranges"] == 0 and len(s["ring"]) == 3 for s in states):
            sys.exit(0)
    except (OSError, KeyError, ValueError):
        pass
    time.sleep(0.2)
sys.exit("the ring did not settle in 120 s")
PY

bench_all() { # tag [extra bench flags...]
  local tag=$1; shift
  local bench_pids=()
  for i in 0 1 2; do
    "$bin" bench --resp "127.0.0.1:${resp_ports[$i]}" --clients 50 --value-size 100 \
      --keyspace 100000 --workload a "$@" >"$work/$tag-$i.out" 2>&1 &
    bench_pids+=($!)
  done
  local failed=0
  for pid in "${bench_pids[@]}"; do wait "$pid" || failed=1; done
  if [ "$failed" = 1 ]; then cat "$work/$tag"-*.out >&2; return 1; fi
}

# Requests/s of a bench report: "N requests in S s: R requests/s".
rate_of() { awk '/requests\/s$/ { print $(NF-1) }' "$1"; }
# Errors in a bench report: the third column of the SET and GET rows.
errors_of() { awk '$1 == "SET" || $1 == "GET" { e += $3 } END { print e + 0 }' "$1"; }

echo "== measuring the maximum (3 x 50 clients, 300 000 requests each)"
bench_all max --requests 300000
max=0
for i in 0 1 2; do max=$(python3 -c "print($max + $(rate_of "$work/max-$i.out"))"); done
target=$(python3 -c "print(round($max * $load / 100))")
per_node=$(python3 -c "print($target / 3)")
echo "maximum $max requests/s; soaking at $load %: $target requests/s for $minutes min"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
echo "seconds,n0_kib,n1_kib,n2_kib" >"$work/rss.csv"
(
  start=$SECONDS
  while true; do
    line="$((SECONDS - start))"
    for pid in "${node_pids[@]}"; do line="$line,$(rss_kib "$pid")"; done
    echo "$line" >>"$work/rss.csv"
    echo "rss $line"
    sleep 10
  done
) &
sampler=$!
pids+=("$sampler")

bench_all soak --duration $((minutes * 60)) --rate "$per_node"
kill "$sampler" 2>/dev/null || true

errors=0
done_rate=0
for i in 0 1 2; do
  cat "$work/soak-$i.out"
  errors=$((errors + $(errors_of "$work/soak-$i.out")))
  done_rate=$(python3 -c "print($done_rate + $(rate_of "$work/soak-$i.out"))")
done
echo "== soak: $done_rate requests/s served (target $target), $errors errors"

rss_ok=0
python3 - "$work/rss.csv" "$warmup" <<'PY' || rss_ok=1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warmup = int(sys.argv[2])
after = [r for r in rows if int(r["seconds"]) >= warmup]
if len(after) < 2:
    sys.exit("too few RSS samples after the warm-up: run longer")
worst = 0.0
for node in ("n0", "n1", "n2"):
    series = [int(r[f"{node}_kib"]) for r in after]
    base = series[0]
    drift = max(abs(v - base) for v in series) / base * 100
    worst = max(worst, drift)
    print(f"{node}: RSS after {warmup} s {base / 1024:.1f} MiB, then {min(series) / 1024:.1f}-"
          f"{max(series) / 1024:.1f} MiB, end {series[-1] / 1024:.1f} MiB: drift {drift:.1f} %")
print(f"worst drift {worst:.1f} % (limit 10 %)")
sys.exit(1 if worst > 10 else 0)
PY
if [ "$errors" != 0 ] || [ "$rss_ok" != 0 ]; then
  echo "== soak FAILED"
  exit 1
fi
echo "== soak passed"
