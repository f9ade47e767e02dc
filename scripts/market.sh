#!/usr/bin/env bash
# A whole local market on one machine, for the demo and the benchmarks:
#   up [N]   a devnet (anvil + WorkerDispatcher, `zeppelin devnet up`), N worker nodes (default 3)
#            and one client-only node, each a `zeppelin node` process in the background
#   down     stops the nodes and the devnet
# Needs the Podman API service (scripts/services.sh start) and ZEPPELIN_DOCKER_HOST.
# WORKER_PRICE: every worker's price (default 1gwei); WORKER_PRICES: one per worker, space-separated
# (protocol v2 draws the worker among those at or below the buyer's price: the only one below it
# gets the work, e.g. WORKER_PRICES="1gwei 3gwei 3gwei 3gwei" with --max-price 2gwei/s).
# WORKER_NODE_ARGS / CLIENT_NODE_ARGS: extra options for the worker / client nodes (word-split),
# e.g. CLIENT_NODE_ARGS="--web-dir $PWD/web" to serve the dashboard.
# NODE_RPC_URLS: one JSON-RPC URL per node, workers 1..N then the client, space-separated: each node
# reads the chain there instead of the devnet's URL (bench/rpc_load.sh puts a counting proxy in).
# Files live under $ZEPPELIN_HOME (required): devnet/, nodes/<i>/ (workers), node/ (the client,
# where `zeppelin run/ps/...` look by default).
#
# Keys: anvil's PUBLIC, well-known test accounts (mnemonic "test test ... junk"), funded on every
# devnet. Never use them for anything of value.
set -euo pipefail
: "${ZEPPELIN_HOME:?set ZEPPELIN_HOME}"
ANVIL_KEYS=(
  0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
  0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
  0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
  0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
  0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
  0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
  0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
  0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356
  0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97
  0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6
)
ZEPPELIN="${ZEPPELIN:-zeppelin}"

start_node() {  # dir key_index extra-args...
  local dir="$1" idx="$2"; shift 2
  mkdir -p "$dir"
  rm -f "$dir/api.json"
  ZP_NODE_KEY="${ANVIL_KEYS[$idx]}" setsid "$ZEPPELIN" node --data-dir "$dir" --private-key-env ZP_NODE_KEY \
    "$@" >"$dir/node.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
}

wait_node() {  # dir
  for _ in $(seq 1 600); do
    [ -f "$1/api.json" ] && return 0
    kill -0 "$(cat "$1/pid")" 2>/dev/null || { echo "market: node in $1 exited:" >&2; tail -20 "$1/node.log" >&2; return 1; }
    sleep 0.1
  done
  echo "market: node in $1 did not come up:" >&2; tail -20 "$1/node.log" >&2; return 1
}

case "${1:-}" in
  up)
    n="${2:-3}"
    "$ZEPPELIN" devnet up --port "${DEVNET_PORT:-18545}" >/dev/null
    read -r -a rpc_urls <<<"${NODE_RPC_URLS:-}"
    if [ ${#rpc_urls[@]} -ne 0 ] && [ ${#rpc_urls[@]} -ne $((n + 1)) ]; then
      echo "market: NODE_RPC_URLS has ${#rpc_urls[@]} URLs for $((n + 1)) nodes" >&2; exit 2
    fi
    rpc_arg() { [ ${#rpc_urls[@]} -eq 0 ] || echo "--rpc-url ${rpc_urls[$1]}"; }  # node index from 0
    read -r -a prices <<<"${WORKER_PRICES:-}"
    for i in $(seq 1 "$n"); do
      start_node "$ZEPPELIN_HOME/nodes/$i" "$i" --price "${prices[$((i - 1))]:-${WORKER_PRICE:-1gwei}}" --cpu 4000 --memory 4096 \
        $(rpc_arg $((i - 1))) ${WORKER_NODE_ARGS:-}
    done
    start_node "$ZEPPELIN_HOME/node" 9 --client-only $(rpc_arg "$n") ${CLIENT_NODE_ARGS:-}
    for i in $(seq 1 "$n"); do wait_node "$ZEPPELIN_HOME/nodes/$i"; done
    wait_node "$ZEPPELIN_HOME/node"
    ;;
  down)
    for pidfile in "$ZEPPELIN_HOME"/nodes/*/pid "$ZEPPELIN_HOME"/node/pid; do
      [ -f "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for pidfile in "$ZEPPELIN_HOME"/nodes/*/pid "$ZEPPELIN_HOME"/node/pid; do
      [ -f "$pidfile" ] || continue
      for _ in $(seq 1 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
    # A market torn down for good leaves no work running: each node's containers carry its runtime id.
    # (A node that merely stops leaves them running, so that it finds them again when it restarts.)
    for idfile in "$ZEPPELIN_HOME"/nodes/*/runtime-id; do
      [ -f "$idfile" ] || continue
      podman --runtime runc --cgroup-manager cgroupfs --events-backend file ps -aq \
        --filter "label=io.zeppelin.worker=$(cat "$idfile")" 2>/dev/null |
        xargs -r podman --runtime runc --cgroup-manager cgroupfs --events-backend file rm -f -t 0 >/dev/null 2>&1 || true
    done
    "$ZEPPELIN" devnet down >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 up [N] | down" >&2; exit 2 ;;
esac
