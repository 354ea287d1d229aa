#!/usr/bin/env bash
# A 4th node joins a loaded 3-node cluster over real TCP, with client traffic running
# (issue: "time and zero failed client ops while a 4th node joins a 3-node cluster holding 1 M
# keys"; target: join <= 10 s, 0 failed client operations).
#
#   scripts/join_bench.sh [--keys N] [--value-size B] [--after S] [--no-traffic]
#
# Builds the release binary and the join_load example, starts 3 nodes (replicas 2), loads N keys
# (default 1000000) through their RESP ports, starts a GET/SET traffic mix against the three old
# nodes, starts the 4th node with --join and times it, keeps the traffic going --after seconds
# more (default 5), stops it, then reads every key back through the new node and through an old
# one. --no-traffic runs the same join without client load (to see what the traffic costs the
# join on a small machine). Every process it starts is stopped on exit.
#
# When is the join "complete"? `dendrite node` binds its RESP port only after `Table::join` has
# returned (crates/node/src/launch.rs: start_table, then bind("resp")), and `Table::join` returns
# only after one anti-entropy round of every local vnode, i.e. after the node pulled the records
# of its new ranges from their previous holders (crates/dtable/src/table.rs: start ->
# repair_vnode). So the first PONG on the new node's RESP port is the moment it holds its ranges.
# That is the joiner's *primary* ranges only: the copies it holds as a replica are pushed to it
# afterwards by the other primaries' repair rounds (ring events). So the script also reports when
# data movement settled: the last change of the sum of `dendrite_migrated_records_total` (records
# pulled in + pushed out by anti-entropy) over all four nodes, once it stayed unchanged for 3 s.
# And it samples node 4's `dendrite_keys` at the PONG and at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

keys=1000000
size=100
after=5
traffic=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --value-size) size="$2"; shift 2 ;;
    --after) after="$2"; shift 2 ;;
    --no-traffic) traffic=0; shift ;;
    *) echo "usage: $0 [--keys N] [--value-size B] [--after SECONDS] [--no-traffic]" >&2; exit 2 ;;
  esac
done

echo "== building dendrite and the join_load example (release)"
cargo build --release -q -p dendrite-node --bin dendrite --example join_load
target="${CARGO_TARGET_DIR:-target}/release"
bin="$target/dendrite"
load="$target/examples/join_load"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # $work, pids, cleanup on exit, free_port

echo "== 3 nodes (replicas 2)"
resps=(); https=()
seed="127.0.0.1:$(free_port)"
for i in 1 2 3; do
  if [ "$i" = 1 ]; then ring=${seed##*:}; join=""; else ring=$(free_port); join=$seed; fi
  resp=$(free_port); http=$(free_port); resps+=("127.0.0.1:$resp"); https+=("$http")
  start_dendrite "n$i" "$ring" "$resp" "$http" "$join"
  wait_ping "$resp" 60 || { show_logs >&2; exit 1; }
done
old=$(IFS=,; echo "${resps[*]}")

echo "== loading $keys keys of $size bytes through $old"
"$load" load --resp "$old" --keys "$keys" --value-size "$size" | tee "$work/load.txt"
# Replication to the two replicas is asynchronous (consistency 1): wait until every old node
# holds a full copy (3 nodes, replicas 2), so the join starts from a cluster that really holds
# the keys three times rather than one still catching up.
settle_start=$SECONDS
while :; do
  counts=(); for h in "${https[@]}"; do counts+=("$(node_keys "$h")"); done
  full=1; for c in "${counts[@]}"; do [ "$c" = "$keys" ] || full=0; done
  if [ "$full" = 1 ]; then break; fi
  if [ $((SECONDS - settle_start)) -ge 300 ]; then
    echo "WARNING: replicas still incomplete after 300 s: ${counts[*]}" >&2; break
  fi
  sleep 0.5
done
echo "keys per node before the join: ${counts[*]} (full copies after $((SECONDS - settle_start)) s)"

echo "== traffic on the 3 old nodes, then the 4th node joins"
stop="$work/stop-traffic"
if [ "$traffic" = 1 ]; then
  "$load" traffic --resp "$old" --keys "$keys" --value-size "$size" --stop-file "$stop" \
    >"$work/traffic.txt" 2>&1 &
  traffic_pid=$!
  pids+=("$traffic_pid")
  sleep 2 # traffic before the join as a baseline (not a synchronisation)
else
  echo "traffic ops=0 failed=0 new_keys=0 (--no-traffic)" >"$work/traffic.txt"
fi
ring4=$(free_port); resp4=$(free_port); http4=$(free_port)
t0=$(now)
start_dendrite n4 "$ring4" "$resp4" "$http4" "$seed"
wait_ping "$resp4" 120 || { show_logs >&2; exit 1; }
t1=$(now)
join_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
keys4_at_join=$(node_keys "$http4")
echo "join complete (4th node answers PING) after ${join_s} s; it holds $keys4_at_join keys"
# Seconds from starting node 4 to the last change of the summed migration counters.
settled_s=$(python3 - "$t0" "${https[@]}" "$http4" <<'PY' 2>/dev/null || echo "?"
import sys, time, urllib.request
t0, ports = float(sys.argv[1]), sys.argv[2:]
def moved():
    total = 0
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        total += sum(int(float(l.split()[-1])) for l in text.splitlines()
                     if l.startswith("dendrite_migrated_records_total"))
    return total
last, changed = moved(), time.time()
while time.time() - changed < 3 and time.time() - t0 < 300:
    time.sleep(0.2)
    now = moved()
    if now != last:
        last, changed = now, time.time()
print(f"{changed - t0:.2f} {last}")
PY
)
echo "data movement settled ${settled_s%% *} s after starting node 4 (migrated records: ${settled_s##* })"
sleep "$after"
keys4_later=$(node_keys "$http4")
touch "$stop"
traffic_rc=0
if [ "$traffic" = 1 ]; then wait "$traffic_pid" || traffic_rc=$?; fi
cat "$work/traffic.txt"

echo "== verify"
new=$(sed -n 's/.*new_keys=\([0-9]*\).*/\1/p' "$work/traffic.txt" | head -n 1)
new=${new:-0}
verify_rc=0
"$load" verify --resp "127.0.0.1:$resp4" --keys "$keys" --value-size "$size" --new "$new" \
  | tee "$work/verify-new.txt" || verify_rc=$?
"$load" verify --resp "${resps[0]}" --keys "$keys" --value-size "$size" --new "$new" \
  | tee "$work/verify-old.txt" || verify_rc=$?
keys_after="$(for h in "${https[@]}" "$http4"; do printf '%s ' "$(node_keys "$h")"; done)"
# Copies of ranges a node no longer serves are handed back once the ring is quiet: wait (up to
# 120 s) until the four nodes hold exactly 3 copies of every key, and say when.
exact_s=$(python3 - "$t0" "$((3 * (keys + new)))" "${https[@]}" "$http4" <<'PY' 2>/dev/null || echo "?"
import sys, time, urllib.request
t0, want, ports = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def held():
    total = 0
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        total += next(int(float(l.split()[-1])) for l in text.splitlines() if l.startswith("dendrite_keys"))
    return total
deadline = time.time() + 120
while time.time() < deadline:
    now = held()
    if now == want:
        print(f"{time.time() - t0:.1f}")
        sys.exit(0)
    time.sleep(0.5)
print(f"not within 120 s (held {held()} of {want})")
PY
)
keys_exact="$(for h in "${https[@]}" "$http4"; do printf '%s ' "$(node_keys "$h")"; done)"

# The share of the key space node 4 is responsible for (primary or replica), from every node's
# /status: each vnode owns (predecessor, vnode] and its range is held by its host and the hosts
# of its replicas. Compared with the share of all keys node 4 actually holds.
share4=$(python3 - "$http4" "${https[@]}" <<'PY' 2>/dev/null || echo "?"
import json, sys, urllib.request
def status(port):
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5))
me = status(sys.argv[1])["host"]
share = 0.0
for port in sys.argv[1:]:
    node = status(port)
    for v in node["vnodes"]:
        if me == node["host"] or me in v["replicas"]:
            share += v["ownership"] or 0.0
print(f"{share * 100:.1f}")
PY
)

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1" | head -n 1; }
echo
echo "== summary ($keys keys, $size-byte values, replicas 2, $(nproc) cores)"
echo "load:            $(field "$work/load.txt" keys_per_s) keys/s ($(field "$work/load.txt" seconds) s)"
echo "join:            ${join_s} s from starting node 4 to its first PONG (target <= 10 s)"
echo "settled:         ${settled_s%% *} s from starting node 4 to the last migrated record (${settled_s##* } records moved in+out, all nodes)"
echo "node 4 keys:     $keys4_at_join at its first PONG, $keys4_later at the end"
total=$((keys + new))
held4=$(echo "$keys_after" | awk '{ print $4 }')
echo "node 4 share:    responsible for ${share4} % of the key space (ring /status), holds $(awk -v h="$held4" -v t="$total" 'BEGIN { if (t > 0 && h ~ /^[0-9]+$/) printf "%.1f", 100 * h / t; else print "?" }') % of all $total keys"
echo "keys per node:   $keys_after(n1 n2 n3 n4, at the end, primary + replica copies)"
echo "exact copies:    3 per key ${exact_s} s after starting node 4: $keys_exact(n1 n2 n3 n4)"
echo "traffic:         ops=$(field "$work/traffic.txt" ops) failed=$(field "$work/traffic.txt" failed) new_keys=$new (exit $traffic_rc)"
echo "verify via n4:   missing=$(field "$work/verify-new.txt" missing) wrong=$(field "$work/verify-new.txt" wrong) failed_reads=$(field "$work/verify-new.txt" failed_reads)"
echo "verify via n1:   missing=$(field "$work/verify-old.txt" missing) wrong=$(field "$work/verify-old.txt" wrong) failed_reads=$(field "$work/verify-old.txt" failed_reads)"
if grep -qiE 'error|panic' "$work"/n*.log; then
  echo "node log lines with error/panic:"
  grep -hiE 'error|panic' "$work"/n*.log | head -n 20
fi
if [ "$traffic_rc" != 0 ] || [ "$verify_rc" != 0 ]; then exit 1; fi
