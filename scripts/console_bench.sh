#!/usr/bin/env bash
# How long the console's endpoints take with 1 M keys loaded (issue 19: "stays fast with 100
# nodes and 1 M keys"; the endpoints must not scan the keys per request).
#
#   scripts/console_bench.sh [--keys N] [--requests R]
#   scripts/console_bench.sh --ring NODES [--requests R]
#
# Builds the release binary and the join_load example, starts 3 nodes (replicas 2, 3 vnodes
# each), loads N keys (default 1000000) of 100 bytes through their RESP ports and waits for 3
# copies of every key. Then times R sequential requests (default 200, one connection each, as
# the page makes them) to each endpoint of node 1 and, as references in the same run, to
# /healthz (no work) and /status. /console/cluster.json is timed twice: back to back (served
# from its 500 ms cache) and 0.6 s apart (gathered afresh from both peers each time). Prints the
# median and p99 of each, and its ratio to /healthz. Every process it starts is stopped on exit.
#
# With --ring NODES it starts `dendrite demo --nodes NODES` instead (NODES nodes of 3 vnodes in
# one process, no load) and times the same endpoints: what one console costs on a large ring,
# gathering every host's figures.
set -euo pipefail
cd "$(dirname "$0")/.."

keys=1000000
requests=200
ring=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --ring) ring="$2"; shift 2 ;;
    *) echo "usage: $0 [--keys N] [--requests R] | --ring NODES [--requests R]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup, free_port, wait_ping, start_dendrite, build_release_with_load
build_release_with_load

time_endpoints() { # http_port key
  echo "== timing $requests requests per endpoint on port $1"
  python3 - "$1" "$requests" "$2" <<'PY'
import http.client, statistics, sys, time
port, count, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def timed(path, pause=0.0, n=count):
    times, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        con.request("GET", path)
        response = con.getresponse()
        body = response.read()
        times.append((time.perf_counter() - start) * 1000)
        con.close()
        assert response.status == 200, (path, response.status, body[:200])
        size = len(body)
        if pause:
            time.sleep(pause)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], size

rows = [
    ("/healthz (reference)", "/healthz", 0.0, count),
    ("/status (reference)", "/status", 0.0, count),
    ("/console/node.json", "/console/node.json", 0.0, count),
    ("/console/node.json, 0.6 s apart", "/console/node.json", 0.6, min(count, 30)),
    ("/console/cluster.json, cached", "/console/cluster.json", 0.0, count),
    ("/console/cluster.json, gathered", "/console/cluster.json", 0.6, min(count, 30)),
    ("/console/key.json", f"/console/key.json?key={key}", 0.0, count),
    ("/ (the page)", "/", 0.0, count),
]
base = None
print(f"{'endpoint':34} {'median ms':>10} {'p99 ms':>8} {'x healthz':>10} {'bytes':>7}")
for label, path, pause, n in rows:
    median, p99, size = timed(path, pause, n)
    base = base or median
    print(f"{label:34} {median:10.2f} {p99:8.2f} {median / base:10.1f} {size:7d}")
PY
}

if [ "$ring" -gt 0 ]; then
  # The demo takes three runs of consecutive ports (RESP, HTTP, ring): find a base where all
  # of them are free now, below the kernel's ephemeral range (32768 and up here), so that the
  # ring's own outgoing connections cannot take one of them while the nodes start.
  port=$(python3 - "$ring" <<'PY'
import random, socket, sys
nodes = int(sys.argv[1])
lowest_ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    base = random.randrange(10000, lowest_ephemeral - 200 - nodes)
    try:
        held = []
        for offset in range(200 + nodes):
            s = socket.socket()
            s.bind(("127.0.0.1", base + offset))
            held.append(s)
        print(base)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in held:
            s.close()
sys.exit("no free run of ports found")
PY
)
  echo "== dendrite demo --nodes $ring (HTTP on $((port + 100))..)"
  "$bin" demo --nodes "$ring" --base-port "$port" >"$work/demo.log" 2>&1 &
  demo=$!
  pids+=("$demo")
  http=$((port + 100))
  python3 - "$http" "$ring" "$demo" <<'PY' || { cat "$work/demo.log" >&2; exit 1; }
import json, os, sys, time, urllib.request
port, nodes, demo = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + 600
while time.time() < deadline:
    try:
        os.kill(demo, 0)
    except OSError:
        sys.exit("the demo exited")
    try:
        view = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/console/cluster.json", timeout=10))
        up = sum(1 for h in view["hosts"] if h["state"] == "up" and h["figures"])
        if len(view["hosts"]) == nodes and up == nodes and len(view["vnodes"]) == 3 * nodes:
            print(f"{nodes} hosts up, {len(view['vnodes'])} vnodes on the map "
                  f"({2 * len(view['vnodes'])} SVG elements for arcs and marks)")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit("the demo ring did not come up with every host's figures in 600 s")
PY
  time_endpoints "$http" greeting
  exit 0
fi

echo "== 3 nodes (replicas 2)"
resps=(); https=()
seed="127.0.0.1:$(free_port)"
for i in 1 2 3; do
  if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
  resp=$(free_port); http=$(free_port)
  resps+=("127.0.0.1:$resp"); https+=("$http")
  start_dendrite "n$i" "$ring" "$resp" "$http" "$join"
  wait_ping "$resp" 60 || { show_logs >&2; exit 1; }
done
all=$(IFS=,; echo "${resps[*]}")

echo "== loading $keys keys through $all"
# A batch timed out on a busy machine is not retried by the loader: time with what landed.
"$load" load --resp "$all" --keys "$keys" --value-size 100 | tail -n 1 \
  || echo "(some batches failed; timing with the keys that were written)"

echo "== waiting for every range to have its copies"
python3 - "${https[@]}" <<'PY'
import json, sys, time, urllib.request
ports = sys.argv[1:]
deadline = time.time() + 600
while time.time() < deadline:
    try:
        states = [json.load(urllib.request.urlopen(f"http://127.0.0.1:{p}/status", timeout=5))
                  for p in ports]
        if all(s["underreplicated_ranges"] == 0 for s in states):
            held = sum(s["keys"] for s in states)
            print(f"{held} records held ({held // 3} keys, 3 copies each)")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit("the copies did not settle in 600 s")
PY

time_endpoints "${https[0]}" "key:$((keys / 2))"
