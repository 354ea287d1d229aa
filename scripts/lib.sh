# Shared by the measuring scripts (bench.sh, join_bench.sh); source it after `cd` to the repo root.
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

# A TCP port nothing listens on right now (the kernel's choice, so never a port in use).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
