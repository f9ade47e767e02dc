#!/usr/bin/env bash
# Starts/stops the long-running services the tests and the demo need:
#   podman: Podman's Docker Engine API service (runc runtime, cgroupfs, file events) on a
#           unix socket under $ZEPPELIN_RUN_DIR (default /tmp/zeppelin-run).
# anvil is started by the tests and by `zeppelin devnet up` themselves.
# Usage: services.sh start|stop|status ; prints `export ZEPPELIN_DOCKER_HOST=...` on start.
set -euo pipefail
RUN_DIR="${ZEPPELIN_RUN_DIR:-/tmp/zeppelin-run}"
SOCK="$RUN_DIR/podman.sock"
PIDFILE="$RUN_DIR/podman.pid"
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs --events-backend file)

alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$RUN_DIR"
    command -v podman >/dev/null || { echo "services: podman is not installed (bash scripts/setup.sh)" >&2; exit 1; }
    command -v runc >/dev/null || { echo "services: runc is not installed (bash scripts/setup.sh)" >&2; exit 1; }
    if ! alive; then
      rm -f "$SOCK"
      # Run from $RUN_DIR: conmon drops files such as "oom" (after an OOM kill) in its working directory.
      (cd "$RUN_DIR" && exec setsid "${PODMAN[@]}" system service --time=0 "unix://$SOCK" >"$RUN_DIR/podman.log" 2>&1 < /dev/null) &
      echo $! > "$PIDFILE"
    fi
    for _ in $(seq 1 300); do  # up to 30 s: a loaded 2-core machine starts podman slowly
      if [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
        echo "export ZEPPELIN_DOCKER_HOST=unix://$SOCK"
        exit 0
      fi
      sleep 0.1
    done
    echo "services: podman API service did not come up; log:" >&2
    cat "$RUN_DIR/podman.log" >&2
    exit 1
    ;;
  stop)
    if alive; then
      kill "$(cat "$PIDFILE")" 2>/dev/null || true
      for _ in $(seq 1 50); do alive || break; sleep 0.1; done
      alive && kill -9 "$(cat "$PIDFILE")" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCK"
    ;;
  status)
    if alive; then echo "podman API service: running on unix://$SOCK"; else echo "podman API service: stopped"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
