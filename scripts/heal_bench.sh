#!/usr/bin/env bash
# How long a cluster takes to be fully replicated again after a node is killed and restarted
# (issue: "a benchmark reports how long it takes for 1 M keys").
#
#   scripts/heal_bench.sh [--keys N] [--value-size B] [--down S]
#
# Builds the release binary and the join_load example, starts 5 nodes (replicas 2, 3 vnodes
# each), loads N keys (default 1000000) through their RESP ports and waits until every node's
# under-replication gauge reads 0 and the nodes hold exactly 3 copies of every key. Then kills
# node 3 with SIGKILL, restarts it --down seconds later (default 0: at once, before the ring
# notices) on the same addresses, empty, and times:
#   - gauge 0: every node's `underreplicated_ranges` (/status) reads 0 again;
#   - copies:  the nodes hold 3 x N records again (dendrite_keys summed over the nodes);
# then reads every key back through node 3 and through node 1.
# The README's durability guarantee holds again from "gauge 0" on. Every process it starts is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

keys=1000000
size=100
down=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --value-size) size="$2"; shift 2 ;;
    --down) down="$2"; shift 2 ;;
    *) echo "usage: $0 [--keys N] [--value-size B] [--down SECONDS]" >&2; exit 2 ;;
  esac
done

echo "== building dendrite and the join_load example (release)"
cargo build --release -q -p dendrite-node --bin dendrite --example join_load
target="${CARGO_TARGET_DIR:-target}/release"
bin="$target/dendrite"
load="$target/examples/join_load"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup, free_port, ping, node_keys, start_dendrite

# "<sum of underreplicated_ranges> <sum of dendrite_keys>" over the nodes at the given HTTP
# ports; "? ?" when a node does not answer.
cluster_state() { # http ports...
  python3 - "$@" <<'PY' 2>/dev/null || echo "? ?"
import json, sys, urllib.request
lacking = held = 0
for port in sys.argv[1:]:
    status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5))
    lacking += status["underreplicated_ranges"]
    held += status["keys"]
print(lacking, held)
PY
}

# Waits until the cluster reads gauge 0 and 3 x keys records; prints "<gauge0 s> <copies s>"
# measured from the start time given.
wait_healed() { # t0 timeout_s http ports...
  local t0=$1 limit=$2; shift 2
  python3 - "$t0" "$limit" "$keys" "$@" <<'PY'
import json, sys, time, urllib.request
t0, limit, keys, ports = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
gauge0 = copies = None
while time.time() - t0 < limit and (gauge0 is None or copies is None):
    try:
        states = [json.load(urllib.request.urlopen(f"http://127.0.0.1:{p}/status", timeout=5))
                  for p in ports]
    except OSError:
        time.sleep(0.1)
        continue
    now = time.time() - t0
    if gauge0 is None and all(s["underreplicated_ranges"] == 0 for s in states):
        gauge0 = now
    if copies is None and sum(s["keys"] for s in states) == 3 * keys:
        copies = now
    time.sleep(0.1)
fmt = lambda x: "timeout" if x is None else f"{x:.2f}"
print(fmt(gauge0), fmt(copies))
PY
}

echo "== 5 nodes (replicas 2)"
resps=(); https=(); rings=()
seed="127.0.0.1:$(free_port)"
for i in 1 2 3 4 5; do
  if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
  resp=$(free_port); http=$(free_port)
  rings+=("$ring"); resps+=("127.0.0.1:$resp"); https+=("$http")
  start_dendrite "n$i" "$ring" "$resp" "$http" "$join"
  wait_ping "$resp" 60 || { show_logs >&2; exit 1; }
done
all=$(IFS=,; echo "${resps[*]}")

echo "== loading $keys keys of $size bytes through $all"
"$load" load --resp "$all" --keys "$keys" --value-size "$size" | tee "$work/load.txt"
read -r settle_gauge settle_copies < <(wait_healed "$(now)" 180 "${https[@]}")
echo "before the kill: gauge 0 after ${settle_gauge} s, 3 copies of every key after ${settle_copies} s"

victim=2 # node 3
echo "== kill -9 node 3, restart it after ${down} s on the same addresses"
victim_pid=${pids[$victim]}
kill -9 "$victim_pid"
wait "$victim_pid" 2>/dev/null || true
sleep "$down"
t0=$(now)
start_dendrite n3 "${rings[$victim]}" "${resps[$victim]##*:}" "${https[$victim]}" "$seed"
wait_ping "${resps[$victim]##*:}" 120 || { show_logs >&2; exit 1; }
t1=$(now)
serve_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
read -r gauge0_s copies_s < <(wait_healed "$t0" 600 "${https[@]}")

echo "== verify"
verify_rc=0
"$load" verify --resp "${resps[$victim]}" --keys "$keys" --value-size "$size" --new 0 \
  | tee "$work/verify-3.txt" || verify_rc=$?
"$load" verify --resp "${resps[0]}" --keys "$keys" --value-size "$size" --new 0 \
  | tee "$work/verify-1.txt" || verify_rc=$?
read -r lacking held < <(cluster_state "${https[@]}")

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1" | head -n 1; }
echo
echo "== summary ($keys keys, $size-byte values, 5 nodes, replicas 2, $(nproc) cores)"
echo "load:            $(field "$work/load.txt" keys_per_s) keys/s ($(field "$work/load.txt" seconds) s)"
echo "restart:         node 3 answers PING ${serve_s} s after its start"
echo "gauge 0:         ${gauge0_s} s after the restart (every node: underreplicated_ranges = 0)"
echo "3 copies:        ${copies_s} s after the restart (records held: $held of $((3 * keys)))"
echo "verify via n3:   missing=$(field "$work/verify-3.txt" missing) wrong=$(field "$work/verify-3.txt" wrong) failed_reads=$(field "$work/verify-3.txt" failed_reads)"
echo "verify via n1:   missing=$(field "$work/verify-1.txt" missing) wrong=$(field "$work/verify-1.txt" wrong) failed_reads=$(field "$work/verify-1.txt" failed_reads)"
if [ "$verify_rc" != 0 ] || [ "$gauge0_s" = timeout ]; then exit 1; fi
