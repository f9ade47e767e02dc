#!/usr/bin/env bash
# What the tests on the network lab share (sourced, never run): the lab, anvil's public test keys,
# starting and stopping real `zeppelin node`s on lab hosts, their API, the router's forwards, the
# chain with the contract, and the parties of an agreement (three verifiers and a client on the
# public segment: protocol v2 draws 1 worker + 3 verifiers among the registered workers). The
# sourcing script sets ZPL_PREFIX and ZPL_RUN_DIR first (its own lab) and runs from tests/netlab.
# Everything started goes into PIDS and the lab's namespaces: `cleanup` (the EXIT trap) stops it
# and brings the lab down.
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the network lab needs root"; exit 77; fi
CLI=${ZEPPELIN_CLI:?set ZEPPELIN_CLI to the zeppelin binary}
ROOT=$(cd ../.. && pwd)
ANVIL=$ROOT/node_modules/.bin/anvil
[ -x "$ANVIL" ] || { echo "SKIP: no anvil at $ANVIL (run scripts/setup.sh)"; exit 77; }

LAB="bash ./lab.sh"
T=$(mktemp -d "/tmp/${ZPL_PREFIX}test.XXXXXX")
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    for f in "$T"/*/node.log; do [ -f "$f" ] && { echo "---- $f (tail)"; tail -n 40 "$f"; }; done
  fi
  $LAB down >/dev/null 2>&1 || true
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $* ($(date -u +%T))"; }
# Bounded wait: until CMD succeeds, at most $1 tenths of a second.
until_ok() { local n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# anvil's PUBLIC, well-known test keys (mnemonic "test test ... junk"): never of any value.
K0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
K1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
K2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
K3=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
K4=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
K5=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
K6=0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e

CHAIN=198.51.100.10
WAN=198.51.100.1
RPC=http://$CHAIN:8545
TRANSFER_PORT=40080
LOG_PORT=40090
# Nobody picks the worker in v2: it is drawn among the workers whose price fits the purchase's
# --max-price. The worker under test asks the least, the verifiers' nodes more, and the tests buy
# with a highest price between the two, so the draw can only pick the worker under test.
WORKER_PRICE=1gwei
VERIFIER_PRICE=3gwei
MAX_PRICE=2gwei/s

rpc() {  # METHOD [PARAMS_JSON] -> result (from the client host)
  $LAB exec client curl -sf -m 3 -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" "$RPC" | jq -r .result
}

# Starts `zeppelin node` for account KEY on HOST with data dir NAME; extra flags follow.
start_node() {
  local host=$1 name=$2 key=$3; shift 3
  local dir=$T/$name
  mkdir -p "$dir"
  rm -f "$dir/api.json"
  local engine=()
  [ -f "$T/engine-$host" ] && engine=("ZEPPELIN_DOCKER_HOST=$(cat "$T/engine-$host")")
  $LAB exec "$host" env "${engine[@]}" ZP_KEY="$key" ZEPPELIN_HOME="$dir" "$CLI" node --data-dir "$dir" \
    --deployment "$T/deployment.json" --private-key-env ZP_KEY --poll-ms 200 --cpu 4000 --memory 4096 \
    "$@" >>"$dir/node.log" 2>&1 &
  echo $! > "$dir/pid"
  PIDS+=("$!")
  # Up once its API answers (discovery and registration first: bounded to 60 s).
  for _ in $(seq 600); do
    [ -f "$dir/api.json" ] && return 0
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -n 30 "$dir/node.log"; fail "node $name exited"; }
    sleep 0.1
  done
  tail -n 30 "$dir/node.log"; fail "node $name did not come up within 60 s"
}
stop_node() {  # NAME [SIGNAL]
  local pid; pid=$(cat "$T/$1/pid")
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    # gone, or a zombie this shell has not reaped yet
    if ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  fail "node $1 did not stop within 15 s"
}
api() {  # HOST NAME PATH -> JSON (GET, from the node's own host)
  local port; port=$(jq -r .port "$T/$2/api.json")
  $LAB exec "$1" curl -sf -m 30 "http://127.0.0.1:$port$3"
}
api_post() {  # HOST NAME PATH [BODY] -> JSON (POST, from the node's own host)
  local port token; port=$(jq -r .port "$T/$2/api.json") token=$(jq -r .token "$T/$2/api.json")
  $LAB exec "$1" curl -sf -m 60 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "${4:-{\}}" "http://127.0.0.1:$port$3"
}
# The router's port forwards (miniupnpd's DNAT rules) as "external_port" lines.
router_forwards() {
  $LAB exec router nft list chain inet zpl_router prerouting_miniupnpd | grep -o 'dport [0-9]*' | awk '{print $2}' | sort -n
}
reaches() {  # from the public client: does a TCP connection to HOST:PORT open?
  $LAB exec client timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# The lab up, anvil on the chain host (extra anvil flags follow), the contract deployed with
# windows wide enough for slow blocks, and the home worker's own container engine. A v2 draw needs
# a block after its commit: with no --block-time given, anvil also mines a block every second.
lab_up_with_chain() {
  $LAB up >/dev/null
  [[ " $* " == *" --block-time "* ]] || set -- "$@" --block-time 1 --mixed-mining
  $LAB exec chain setsid "$ANVIL" --host "$CHAIN" --port 8545 --silent "$@" </dev/null >"$T/anvil.log" 2>&1 &
  PIDS+=("$!")
  until_ok 300 rpc eth_chainId || fail "anvil did not answer on $RPC"
  $LAB exec client "$CLI" contracts deploy --rpc-url "$RPC" --private-key "$K0" --out "$T/deployment.json" \
    --min-stake 1ether --accept-window ${ACCEPT_WINDOW:-30} --start-window 180 --report-window ${REPORT_WINDOW:-30} \
    --cool-down 10 --min-verifier-pay 1gwei --draw-delay 1 >/dev/null
  [ -s "$T/deployment.json" ] || fail "no deployment record"
  $LAB engine home | sed 's/^export ZEPPELIN_DOCKER_HOST=//' > "$T/engine-home"
}

# Three verifiers (workers too, asking $VERIFIER_PRICE: on their own public hosts with their own
# engines; VERIFIER_FLAGS added), a client-only node, and the image: busybox httpd, built on the
# home engine and saved as an archive ($T/web.tar) for the client.
setup_parties() {
  for v in verifier1 verifier2 verifier3; do $LAB engine $v | sed 's/^export ZEPPELIN_DOCKER_HOST=//' > "$T/engine-$v"; done
  start_node verifier1 v1 "$K2" --price $VERIFIER_PRICE --transfer-host 0.0.0.0 --service-ip 0.0.0.0 "${VERIFIER_FLAGS[@]}"
  start_node verifier2 v2 "$K3" --price $VERIFIER_PRICE --transfer-host 0.0.0.0 --service-ip 0.0.0.0 "${VERIFIER_FLAGS[@]}"
  start_node verifier3 v3 "$K5" --price $VERIFIER_PRICE --transfer-host 0.0.0.0 --service-ip 0.0.0.0 "${VERIFIER_FLAGS[@]}"
  [ "$(api verifier1 v1 /api/status | jq -r .reachability.state)" = public_address ] || fail "verifier1 not public"
  start_node client client "$K4" --client-only
  local img=$T/img r=$ZPL_RUN_DIR/engine-home
  mkdir -p "$img/bin" "$img/www"
  cp "$(command -v busybox)" "$img/bin/busybox"
  echo served-through-the-nat > "$img/www/index.html"
  tar -C "$img" -cf "$T/rootfs.tar" .
  podman_home() { nsenter --net="/run/netns/${ZPL_PREFIX}home" podman --root "$r/root" --runroot "$r/runroot" \
                    --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"; }
  podman_home import --change 'CMD ["/bin/busybox","httpd","-f","-p","8080","-h","/www"]' --change 'EXPOSE 8080' \
    "$T/rootfs.tar" localhost/zplw-web:1 >/dev/null 2>&1
  podman_home save --format docker-archive -o "$T/web.tar" localhost/zplw-web:1 2>/dev/null
  podman_home rmi localhost/zplw-web:1 >/dev/null  # the worker must receive it, not find it
}

client() { $LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" "$@"; }
head_block() { printf '%d' "$(rpc eth_blockNumber)"; }
node_cli() {  # HOST NAME ARGS...: the CLI against the node NAME on HOST
  local host=$1 name=$2; shift 2
  $LAB exec "$host" env ZEPPELIN_NODE_DIR="$T/$name" "$CLI" "$@"
}

# The blocks on the way from `run` to the service: the distinct blocks that mined the agreement's
# transactions of the client and the worker up to the worker's start (the purchase counts as one
# more when the journal files it under no agreement yet). An upper bound of the block waits: a
# block mined while something else ran (a big image loading) was not waited for. Prints
# "N (action@block ...)".
path_blocks() {
  local id=$1 lines start
  lines=$( { node_cli client client --json inspect "$id"; node_cli home worker --json inspect "$id"; } 2>/dev/null |
    jq -r '.transactions[] | select(.status=="mined") | "\(.action) \(.hash)"' |
    while read -r action hash; do
      printf '%s %d\n' "$action" "$(rpc eth_getTransactionReceipt "[\"$hash\"]" | jq -r .blockNumber)"
    done | sort -k2,2n | uniq)
  start=$(echo "$lines" | awk '$1=="start"{print $2; exit}')
  [ -n "$start" ] || fail "agreement $id: no start transaction in the worker's journal"
  echo "$lines" | awk -v s="$start" '$2<=s{b[$2]=1; p=p" "$1"@"$2} END{n=0; for(k in b)n++; if(p !~ / buy@/){n++; p=" buy"p}; printf "%d (%s)\n", n, substr(p,2)}'
}

# Waits (at most SECONDS) until agreement ID is closed, as its client sees it; sets CLOSED to its
# payments and checks that they add up.
wait_closed() {
  local id=$1 limit=$2 p=
  CLOSED=
  for _ in $(seq "$limit"); do
    p=$(client --json inspect "$id" 2>/dev/null | jq -c .payments || true)
    if [ "$(echo "$p" | jq -r .closed 2>/dev/null)" = true ]; then CLOSED=$p; break; fi
    sleep 1
  done
  [ -n "$CLOSED" ] || fail "agreement $id did not close within $limit s: $p"
  echo "   payments: $CLOSED"
  [ "$(echo "$CLOSED" | jq -r .balanced)" = true ] || fail "payments do not add up"
}
