#!/usr/bin/env bash
# RPC load and CPU of the nodes, counted by a proxy between each node and the chain, next to a
# baseline (another git ref's zeppelin, built here) measured in the same run.
#
# For each binary (the baseline first, then this checkout's): a devnet (anvil + WorkerDispatcher),
# WORKERS worker nodes and one client node started by scripts/market.sh, each node talking to anvil
# through its own port of bench/rpc_proxy.js, which counts HTTP requests (a batch is one), JSON-RPC
# calls (a batch of N is N) and calls by method. Then:
#   idle      no agreement: requests/s of each node over IDLE seconds
#   N open    N agreements (busybox httpd, 10 millicores, 16 MB; VERIFIERS verifiers each; the
#             contract draws the worker and the verifiers, so with WORKERS = VERIFIERS + 1 every
#             worker node takes part in every agreement) serving; after SETTLE seconds,
#             requests over WINDOW seconds; per open agreement per minute across all the nodes,
#             idle subtracted. For each N of --agreements in turn, adding agreements to reach it.
#   CPU       % of one core of each node process (utime+stime from /proc/PID/stat) in each window.
# Agreements are checked as serving through the client node's local list (no chain read), and
# nothing else talks to the nodes during a window.
#
# Targets (issue 11, DESIGN.md): <= 6 requests per open agreement per minute across its nodes;
# an idle node <= 1 request/s on a non-devnet chain (--chain-id other than 31337, --block-time);
# < 10% of a core per node at 100 agreements (--agreements 3,10,100).
#
# Usage: bash bench/rpc_load.sh [options]      (needs a build: bash scripts/build.sh)
#   --agreements LIST  open agreements to measure at, cumulative (default 3,10)
#   --verifiers V      verifiers per agreement (default 3; protocol v2 takes 3 or 5)
#   --workers W        worker nodes (default 4; at least V+1)
#   --idle S           idle window, seconds (default 30)
#   --window S         steady-state window per N, seconds (default 60)
#   --settle S         wait after the last agreement serves, before a window (default 10)
#   --period P         verification period of the agreements (default 60s)
#   --baseline REF     git ref of the baseline (default 266eba7); --no-baseline: this checkout only
#   --block-time S     anvil mines a block every S seconds instead of one per transaction
#   --chain-id ID      anvil's chain id (default 31337, where nodes poll every 50 ms; any other
#                      makes them poll as on a real chain, every second)
#   --json FILE        also write the JSON line to FILE (it is always printed last)
#   --keep             keep the work directory (logs, snapshots) for a look afterwards
# Environment: ZEPPELIN (this checkout's binary, default build/src/zeppelin/cli/zeppelin),
# BASELINE_DIR (where baselines are built, default build-baseline/; each ref once, ccache helps).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

AGREEMENTS=3,10 VERIFIERS=3 WORKERS=4 IDLE=30 WINDOW=60 SETTLE=10 PERIOD=60s
BASELINE_REF=266eba7 BLOCK_TIME="" CHAIN_ID="" JSON_FILE="" KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agreements) AGREEMENTS="$2"; shift 2 ;;
    --verifiers) VERIFIERS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --window) WINDOW="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --period) PERIOD="$2"; shift 2 ;;
    --baseline) BASELINE_REF="$2"; shift 2 ;;
    --no-baseline) BASELINE_REF=""; shift ;;
    --block-time) BLOCK_TIME="$2"; shift 2 ;;
    --chain-id) CHAIN_ID="$2"; shift 2 ;;
    --json) JSON_FILE="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "rpc_load: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a COUNTS <<<"$AGREEMENTS"
prev=0
for n in "${COUNTS[@]}"; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$prev" ] || { echo "rpc_load: --agreements wants increasing counts, e.g. 3,10" >&2; exit 2; }
  prev=$n
done
[ "$WORKERS" -gt "$VERIFIERS" ] || { echo "rpc_load: --workers must exceed --verifiers" >&2; exit 2; }
[ "$WORKERS" -le 8 ] || { echo "rpc_load: at most 8 workers (market.sh's test keys)" >&2; exit 2; }
CURRENT_BIN="${ZEPPELIN:-$ZEPPELIN_ROOT/build/src/zeppelin/cli/zeppelin}"
[ -x "$CURRENT_BIN" ] || { echo "rpc_load: no $CURRENT_BIN (bash scripts/build.sh)" >&2; exit 1; }
command -v node >/dev/null || { echo "rpc_load: node (Node.js) is needed for the proxy" >&2; exit 1; }

WORK="$(mktemp -d /tmp/zeppelin-rpc-load.XXXXXX)"
export ZEPPELIN_RUN_DIR="$WORK/run"
PROXY_PID=""
log() { printf '%s rpc_load: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stop_market() {
  [ -n "${ZEPPELIN_HOME:-}" ] || return 0
  bash scripts/market.sh down >/dev/null 2>&1 || true
  if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""; fi
}
cleanup() {
  stop_market
  bash scripts/services.sh stop >/dev/null 2>&1 || true
  if [ -n "$KEEP" ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The baseline: the ref's tree (git archive, no worktree entry), built once per commit.
build_baseline() {  # ref -> prints the binary's path
  local sha dir bin
  sha=$(git rev-parse --verify "$1^{commit}")
  dir="${BASELINE_DIR:-$ZEPPELIN_ROOT/build-baseline}/${sha:0:12}"
  bin="$dir/build/src/zeppelin/cli/zeppelin"
  if [ ! -x "$bin" ]; then
    log "building the baseline $1 (${sha:0:12}) in $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    git archive "$sha" | tar -x -C "$dir"
    ln -s "$ZEPPELIN_ROOT/node_modules" "$dir/node_modules"  # forge/solc-js for the contract
    if ! (export CCACHE_BASEDIR="$dir"
          cmake -S "$dir" -B "$dir/build" -G Ninja -DZEPPELIN_WERROR=ON -DZEPPELIN_TESTS=OFF -DZEPPELIN_BENCH=OFF &&
          cmake --build "$dir/build" --target zeppelin -j2) >"$dir/build.log" 2>&1; then
      tail -30 "$dir/build.log" >&2
      echo "rpc_load: the baseline did not build (log: $dir/build.log)" >&2
      return 1
    fi
  fi
  echo "$bin"
}

free_ports() {  # n -> n distinct free TCP ports on 127.0.0.1
  node -e '
    const net = require("net"); const n = Number(process.argv[1]); const ss = []; const ports = [];
    const next = () => { if (ports.length === n) { ss.forEach((s) => s.close()); console.log(ports.join(" ")); return; }
      const s = net.createServer(); ss.push(s); s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); }); };
    next();' "$1"
}

cpu_ticks() {  # pid -> utime+stime of the whole process, in clock ticks (0 if gone)
  # Field 2 (comm) may hold spaces: count from the ") " that ends it (state is field 3).
  { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{ print $12 + $13 } END { if (NR == 0) print 0 }'
}

snapshot() {  # file
  local rpc cpu="" name pid
  rpc=$(curl -sf "http://127.0.0.1:$STATS_PORT/stats")
  for name in "${NODE_NAMES[@]}" anvil; do
    pid="${PIDS[$name]}"
    cpu+="${cpu:+,}\"$name\":$(cpu_ticks "$pid")"
  done
  printf '{"t":%s,"rpc":%s,"cpu":{%s}}\n' "$(date +%s.%N)" "$rpc" "$cpu" >"$1"
}

ANVIL_WRAPPER=""
if [ -n "$BLOCK_TIME$CHAIN_ID" ]; then
  # `zeppelin devnet up` runs $ZEPPELIN_ANVIL with --port/--host and its own pace (since protocol
  # v2: --block-time 1 --mixed-mining); with --block-time this bench sets the pace instead (anvil
  # refuses two), and adds the chain id.
  ANVIL_WRAPPER="$WORK/anvil"
  real_anvil="$ZEPPELIN_ROOT/node_modules/.bin/anvil"
  [ -x "$real_anvil" ] || real_anvil=$(command -v anvil)
  {
    echo '#!/bin/sh'
    if [ -n "$BLOCK_TIME" ]; then
      echo 'skip=0'
      echo 'for a in "$@"; do shift'
      echo '  if [ "$skip" = 1 ]; then skip=0; continue; fi'
      echo '  case "$a" in --block-time) skip=1; continue ;; --mixed-mining) continue ;; esac'
      echo '  set -- "$@" "$a"'
      echo 'done'
    fi
    printf 'exec %q "$@"%s%s\n' "$real_anvil" "${BLOCK_TIME:+ --block-time $BLOCK_TIME}" "${CHAIN_ID:+ --chain-id $CHAIN_ID}"
  } >"$ANVIL_WRAPPER"
  chmod +x "$ANVIL_WRAPPER"
fi

# One measurement: the whole market with binary $2, results as snapshot files in $WORK/$1/.
measure() {  # label binary
  local label="$1" bin="$2" ports i open=0 n id ids=() serving deadline
  export ZEPPELIN_HOME="$WORK/$label" ZEPPELIN="$bin"
  mkdir -p "$ZEPPELIN_HOME/snap"
  read -r -a ports <<<"$(free_ports $((WORKERS + 3)))"
  export DEVNET_PORT="${ports[0]}"
  STATS_PORT="${ports[1]}"
  local listen=() urls=""
  NODE_NAMES=()
  for i in $(seq 1 "$WORKERS"); do NODE_NAMES+=("worker$i"); done
  NODE_NAMES+=(client)
  for i in "${!NODE_NAMES[@]}"; do
    listen+=("${NODE_NAMES[$i]}=${ports[$((i + 2))]}")
    urls+="${urls:+ }http://127.0.0.1:${ports[$((i + 2))]}"
  done
  node bench/rpc_proxy.js --upstream "http://127.0.0.1:$DEVNET_PORT" --stats-port "$STATS_PORT" "${listen[@]}" \
    >"$ZEPPELIN_HOME/proxy.out" 2>"$ZEPPELIN_HOME/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do grep -q ready "$ZEPPELIN_HOME/proxy.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$ZEPPELIN_HOME/proxy.out" || { cat "$ZEPPELIN_HOME/proxy.log" >&2; echo "rpc_load: the proxy did not start" >&2; return 1; }

  log "$label: devnet on $DEVNET_PORT, $WORKERS workers + a client, each through the proxy ($("$bin" --version 2>/dev/null | head -1))"
  ZEPPELIN_ANVIL="${ANVIL_WRAPPER:-${ZEPPELIN_ANVIL:-}}" NODE_RPC_URLS="$urls" \
    WORKER_NODE_ARGS="${WORKER_NODE_ARGS:-}" bash scripts/market.sh up "$WORKERS"
  declare -gA PIDS=()
  for i in $(seq 1 "$WORKERS"); do PIDS[worker$i]=$(cat "$ZEPPELIN_HOME/nodes/$i/pid"); done
  PIDS[client]=$(cat "$ZEPPELIN_HOME/node/pid")
  PIDS[anvil]=$(grep -o '"pid": *[0-9]*' "$ZEPPELIN_HOME/devnet/anvil.json" | grep -o '[0-9]*$')

  sleep "$SETTLE"  # registration transactions and the first catch-up are not idle
  log "$label: idle for ${IDLE}s"
  snapshot "$ZEPPELIN_HOME/snap/idle-start.json"
  sleep "$IDLE"
  snapshot "$ZEPPELIN_HOME/snap/idle-end.json"

  for n in "${COUNTS[@]}"; do
    log "$label: opening agreements $((open + 1))..$n (${VERIFIERS} verifier(s) each)"
    while [ "$open" -lt "$n" ]; do
      id=$("$bin" --json run "$IMAGE" --detach --duration 1h --period "$PERIOD" --verifiers "$VERIFIERS" \
             --max-price 2gwei/s --probe http:/ --cpu 10 --memory 16m |
           grep -o '"id": *[0-9]*' | head -1 | grep -o '[0-9]*$')
      ids+=("$id")
      open=$((open + 1))
    done
    # Serving: the client's own record is running, with a service (`zeppelin --json ps`: the node's
    # local list, no chain read). The state is matched loosely (a string today; a machine value with
    # a label beside it after issue 11), so that the bench outlives that change.
    deadline=$((SECONDS + 120 + 3 * n))
    while :; do
      serving=$({ "$bin" --json ps 2>/dev/null || echo '[]'; } | node -e '
        const want = new Set(process.argv[1].split(" ").map(Number)); let s = "";
        process.stdin.on("data", (c) => (s += c)).on("end", () => {
          let rows = [];
          try { rows = JSON.parse(s).filter((a) => want.has(Number(a.id))); } catch { console.log(0); return; }
          const st = (a) => JSON.stringify(a.state ?? "");
          const bad = rows.filter((a) => /"(done|cancelled|failed)"/.test(st(a))).map((a) => a.id);
          if (bad.length) { console.log("failed " + bad.join(",")); return; }
          console.log(rows.filter((a) => /running/.test(st(a)) && a.service).length); });' "${ids[*]}")
      [ "$serving" = "$n" ] && break
      if [[ "$serving" == failed* ]] || [ "$SECONDS" -gt "$deadline" ]; then
        echo "rpc_load: $label: agreements not serving ($serving of $n); client log:" >&2
        tail -20 "$ZEPPELIN_HOME/node/node.log" >&2
        return 1
      fi
      sleep 1
    done
    log "$label: $n agreements serving; settling ${SETTLE}s, then a ${WINDOW}s window"
    sleep "$SETTLE"
    snapshot "$ZEPPELIN_HOME/snap/n$n-start.json"
    sleep "$WINDOW"
    snapshot "$ZEPPELIN_HOME/snap/n$n-end.json"
  done
  stop_market
  unset ZEPPELIN_HOME
}

eval "$(bash scripts/services.sh start)"
IMAGE="$WORK/web.tar"
bash scripts/make-test-image.sh "$IMAGE" localhost/zeppelin-bench/rpc-load:latest >/dev/null

LABELS=() BASELINE_BIN=""
if [ -n "$BASELINE_REF" ]; then
  BASELINE_BIN=$(build_baseline "$BASELINE_REF")
  measure baseline "$BASELINE_BIN"
  LABELS+=(baseline)
fi
measure current "$CURRENT_BIN"
LABELS+=(current)

node bench/rpc_report.js --work "$WORK" --labels "${LABELS[*]}" --counts "${COUNTS[*]}" \
  --baseline-ref "${BASELINE_REF:-}" --current-ref "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo +dirty)" \
  --verifiers "$VERIFIERS" --workers "$WORKERS" --block-time "${BLOCK_TIME:-auto}" --chain-id "${CHAIN_ID:-31337}" \
  --clk-tck "$(getconf CLK_TCK)" --json-file "$JSON_FILE" \
  --abis "contracts/out/WorkerDispatcherV2.sol/WorkerDispatcherV2.json contracts/out/RegistryModuleV2.sol/RegistryModuleV2.json ${BASELINE_BIN:+${BASELINE_BIN%/build/src/zeppelin/cli/zeppelin}/contracts/out/WorkerDispatcher.sol/WorkerDispatcher.json}"
