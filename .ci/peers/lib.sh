# Shared helpers for the .ci/peers scripts (sourced, not run).
# Everything the peers write at run time lives under $PEERS_DIR (.peers/, git-ignored).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEERS_DIR=${AMQP10_PEERS_DIR:-$repo/.peers}
PYTHON=${PYTHON:-python3}
# The prebuilt qpidd and Qpid Dispatch (../shared/peers/README.md), extracted by `install`.
SHARED_PEERS=${AMQP10_SHARED_PEERS:-$repo/../shared/peers}
QPIDD_HOME=$PEERS_DIR/opt/qpidd
DISPATCH_HOME=$PEERS_DIR/opt/qpid-dispatch

log() { printf '[peers] %s\n' "$*" >&2; }
die() { printf '[peers] ERROR: %s\n' "$*" >&2; exit 1; }

# free_ports N: print N distinct TCP ports that are free on 127.0.0.1 right now (the OS picks
# them; all sockets stay bound until every port is chosen, so the N differ).
free_ports() {
  "$PYTHON" - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# start_time PID: the process start time in clock ticks since boot (field 22 of /proc/PID/stat;
# the command name in field 2 may hold spaces, so count from the closing parenthesis).
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  awk '{print $20}' <<<"$stat"
}

# alive PID: the process exists and is not a zombie (a dead child we have not reaped yet
# still answers kill -0).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $1}') || return 1
  [ "$state" != Z ]
}

# wait_for_port NAME PORT PID SECONDS: poll until 127.0.0.1:PORT accepts a TCP connection.
# Fails early, with the log's tail, if PID dies; fails after SECONDS otherwise.
wait_for_port() {
  local name=$1 port=$2 pid=$3 limit=$4 deadline=$((SECONDS + $4))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      log "$name (pid $pid) exited before listening on 127.0.0.1:$port; last log lines:"
      tail -n 30 "$PEERS_DIR/logs/$name.log" >&2 || true
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  log "$name (pid $pid) did not accept connections on 127.0.0.1:$port within ${limit}s; last log lines:"
  tail -n 30 "$PEERS_DIR/logs/$name.log" >&2 || true
  return 1
}
