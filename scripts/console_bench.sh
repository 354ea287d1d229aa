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
# With --ring NODES it starts NODES `dendrite node` processes instead (3 vnodes each, no load
# but one key) and times the same endpoints: what one console costs on a large ring, gathering
# every host's figures.
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
  # NODES separate `dendrite node` processes, as a real cluster runs them. (One demo process
  # with 100 nodes is not that: every node ends up connected to every other, and a hundred
  # nodes' connections in one process need about 20 000 descriptors, this machine's limit.)
  echo "== $ring dendrite nodes (replicas 2, 3 vnodes each)"
  https=()
  seed="127.0.0.1:$(free_port)"
  for i in $(seq 1 "$ring"); do
    if [ "$i" = 1 ]; then port=${seed##*:}; join=""; else port=$(free_port); join=$seed; fi
    resp=$(free_port); http=$(free_port)
    https+=("$http")
    start_dendrite "n$i" "$port" "$resp" "$http" "$join"
    if [ "$i" = 1 ]; then first_resp=$resp; fi
    wait_ping "$resp" 60 || { show_logs >&2; exit 1; }
  done
  http=${https[0]}
  python3 - "$http" "$ring" "$first_resp" <<'PY' || { show_logs >&2; exit 1; }
import json, socket, sys, time, urllib.request
port, nodes, resp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
started = time.time()
deadline = started + 600
while time.time() < deadline:
    try:
        view = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/console/cluster.json", timeout=10))
        up = sum(1 for h in view["hosts"] if h["state"] == "up" and h["figures"])
        if len(view["hosts"]) == nodes and up == nodes and len(view["vnodes"]) == 3 * nodes:
            print(f"{nodes} hosts up, {len(view['vnodes'])} vnodes on the map "
                  f"({2 * len(view['vnodes'])} SVG elements for arcs and marks), "
                  f"{time.time() - started:.1f} s after the last node answered")
            break
    except OSError:
        pass
    time.sleep(1)
else:
    sys.exit("the ring did not show every host's figures in 600 s")
# One key for the inspector to find (its copies on three of the hosts).
for _ in range(60):
    with socket.create_connection(("127.0.0.1", resp), timeout=10) as s:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n")
        if s.recv(100).startswith(b"+OK"):
            sys.exit(0)
    time.sleep(1)
sys.exit("SET greeting was not acknowledged")
PY
  time_endpoints "$http" greeting
  if command -v chromium >/dev/null; then
    # The page itself in headless Chromium: load it, let its scripts fetch and draw for up to
    # 10 s of virtual time, and count the ring's vnode marks in the resulting DOM.
    echo "== the page in headless Chromium"
    profile=$(mktemp -d)
    started=$(now)
    dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --virtual-time-budget=10000 --dump-dom "http://127.0.0.1:$http/" \
      2>/dev/null || true)
    took=$(python3 -c "print(f'{$(now) - $started:.2f}')")
    marks=$(grep -o '<circle[^>]*data-vnode' <<<"$dom" | wc -l)
    echo "drew $marks vnode marks of $((3 * ring)) (${#dom} bytes of DOM) in ${took} s wall time"
    rm -rf "$profile"
  fi
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
