# Shared by the measuring scripts (bench.sh, join_bench.sh, heal_bench.sh); source it after `cd` to the repo root.
#
# Sets up a scratch directory `$work` and a `pids` array: every process started with its pid
# appended to `pids` is stopped, and `$work` removed, when the script exits for any reason.

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Installs system packages (as root, or through sudo).
apt_install() { # package...
  echo "== installing $*"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Installs redis-server and redis-tools from the system packages when they are missing. The
# Debian package starts a system redis on 6379; the scripts use their own ports and leave it alone.
need_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt_install redis-server redis-tools
  fi
}

# Installs valgrind (callgrind, callgrind_control, callgrind_annotate) when it is missing.
need_valgrind() {
  if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    apt_install valgrind
  fi
}

# Builds the release binary; its path in $bin.
build_release() {
  echo "== building dendrite (release)"
  cargo build --release -q -p dendrite-node
  bin="${CARGO_TARGET_DIR:-target}/release/dendrite"
}

# A TCP port nothing listens on right now (the kernel's choice, so never a port in use).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# PING over a plain TCP socket (no redis-cli needed); succeeds on +PONG.
ping() { # port
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
PY
}

wait_ping() { # port seconds
  local deadline=$((SECONDS + ${2:-30}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ping "$1"; then return 0; fi
    sleep 0.02
  done
  echo "nothing answers PING on port $1" >&2
  return 1
}

# dendrite_keys (keys held here as primary or replica) from a node's /metrics.
node_keys() { # http port
  python3 - "$1" <<'PY' 2>/dev/null || echo "?"
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
print(next(l.split()[-1] for l in text.splitlines() if l.startswith("dendrite_keys")))
PY
}

now() { date +%s.%N; }

# Starts `$bin node` (replicas 2) in the background, logging to $work/<name>.log.
start_dendrite() { # name ring_port resp_port http_port [join]
  local name=$1 ring=$2 resp=$3 http=$4 join=${5:-}
  local args=(node --listen "127.0.0.1:$ring" --resp "127.0.0.1:$resp" --http "127.0.0.1:$http"
    --replicas 2)
  if [ -n "$join" ]; then args+=(--join "$join"); fi
  "$bin" "${args[@]}" >>"$work/$name.log" 2>&1 &
  pids+=($!)
}

show_logs() {
  for f in "$work"/*.log; do echo "--- $(basename "$f") (last 20 lines)"; tail -n 20 "$f"; done
}

# Builds the release binary and the join_load example (client load with checkable values);
# their paths in $bin and $load.
build_release_with_load() {
  echo "== building dendrite and the join_load example (release)"
  cargo build --release -q -p dendrite-node --bin dendrite --example join_load
  local target="${CARGO_TARGET_DIR:-target}/release"
  bin="$target/dendrite"
  load="$target/examples/join_load"
}
