#!/usr/bin/env bash
# A real `zeppelin node` worker behind the lab's home NAT router (tests/netlab/lab.sh), against
# anvil on the lab's chain host:
#   1. it maps its transfer and log ports on the router by itself (miniupnpd's rules show them, and
#      the public client host connects to the router's external address and reaches the worker),
#      announces the router's external address, and removes its mappings when it stops;
#   2. killed with SIGKILL and restarted: it removes what its predecessor left, maps afresh;
#   4. the same over NAT-PMP only (UPnP off on the router); after SIGKILL the mappings the node
#      remembered in its store (NAT-PMP cannot list) are removed;
#   5. the router maps nothing (lab.sh router none) and no --public-host: the worker pauses its offer
#      in the market and its status (GET /api/status) says why; with the router back, the running
#      node finds out within its 30 s re-check, maps, and resumes its offer.
# With `agreement` as argument (CTest zeppelin_netlab_agreement_test), also whole agreements (3 and
# 4b): a client and two verifiers on the public segment, the worker behind the NAT mapped by UPnP
# IGD, then by NAT-PMP; the service answers through the router; the payments add up. And (3c) the
# worker killed with SIGKILL mid-agreement and restarted: mappings renewed, the work completes.
#
# Exit 77 (CTest SKIP_RETURN_CODE) when not root. Its own lab prefix (zplw-), so it never touches
# a lab a developer has up; everything it starts lives in the lab's namespaces and goes with `down`.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the network lab needs root"; exit 77; fi
CLI=${ZEPPELIN_CLI:?set ZEPPELIN_CLI to the zeppelin binary}
ROOT=$(cd ../.. && pwd)
ANVIL=$ROOT/node_modules/.bin/anvil
[ -x "$ANVIL" ] || { echo "SKIP: no anvil at $ANVIL (run scripts/setup.sh)"; exit 77; }
MODE=${1:-lab}

export ZPL_PREFIX=${ZPL_PREFIX:-zplw-} ZPL_RUN_DIR=${ZPL_RUN_DIR:-/tmp/zplw-lab}
LAB="bash ./lab.sh"
T=$(mktemp -d /tmp/zplw-test.XXXXXX)
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
A1=0x70997970C51812dc3A010C7d01b50e0d17dc79C8

CHAIN=198.51.100.10
WAN=198.51.100.1
RPC=http://$CHAIN:8545
TRANSFER_PORT=40080
LOG_PORT=40090

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
# The router's port forwards (miniupnpd's DNAT rules) as "external_port" lines.
router_forwards() {
  $LAB exec router nft list chain inet zpl_router prerouting_miniupnpd | grep -o 'dport [0-9]*' | awk '{print $2}' | sort -n
}
reaches() {  # from the public client: does a TCP connection to HOST:PORT open?
  $LAB exec client timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

step "lab up, anvil on the chain host, the contract deployed"
$LAB up >/dev/null
$LAB exec chain setsid "$ANVIL" --host "$CHAIN" --port 8545 --silent </dev/null >"$T/anvil.log" 2>&1 &
PIDS+=("$!")
until_ok 300 rpc eth_chainId || fail "anvil did not answer on $RPC"
$LAB exec client "$CLI" contracts deploy --rpc-url "$RPC" --private-key "$K0" --out "$T/deployment.json" \
  --min-stake 1ether --accept-window 30 --start-window 180 --report-window 30 --cool-down 10 >/dev/null
[ -s "$T/deployment.json" ] || fail "no deployment record"
$LAB engine home | sed 's/^export ZEPPELIN_DOCKER_HOST=//' > "$T/engine-home"

WORKER_FLAGS=(--transfer-host 0.0.0.0 --transfer-port $TRANSFER_PORT --log-port $LOG_PORT
              --service-ip 0.0.0.0 --service-ports 40100-40120 --port-mapping-lease 20)

step "1. the worker behind the NAT maps its ports and is reached through the router"
t0=$(date +%s.%N)
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
echo "   node up (discovery, mapping, registration) in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
status=$(api home worker /api/status)
echo "$status" | jq -c .reachability
[ "$(echo "$status" | jq -r .reachability.state)" = mapped ] || fail "not mapped: $(echo "$status" | jq -c .reachability)"
[ "$(echo "$status" | jq -r .reachability.announced_host)" = "$WAN" ] || fail "announces another host than the router's external address"
[ "$(echo "$status" | jq -r .reachability.gateway.protocol)" = "UPnP IGD" ] || fail "not mapped by UPnP IGD"
[ "$(echo "$status" | jq -r .worker.status)" = active ] || fail "worker not active: $(echo "$status" | jq -c .worker)"
ext_t=$(echo "$status" | jq -r '.reachability.mappings[] | select(.purpose=="transfer") | .external_port')
ext_l=$(echo "$status" | jq -r '.reachability.mappings[] | select(.purpose=="log") | .external_port')
[ "$ext_t" = $TRANSFER_PORT ] && [ "$ext_l" = $LOG_PORT ] || fail "external ports $ext_t/$ext_l, expected $TRANSFER_PORT/$LOG_PORT"
forwards=$(router_forwards | tr '\n' ' ')
echo "   router forwards: $forwards"
echo " $forwards" | grep -q " $TRANSFER_PORT " && echo " $forwards" | grep -q " $LOG_PORT " || fail "the router does not forward both ports"
$LAB exec home upnpc -i -l 2>/dev/null | grep -q "zeppelin/$(cat "$T/worker/runtime-id")/transfer" || fail "upnpc -l does not list the node's tagged mapping"
reaches "$WAN" $TRANSFER_PORT || fail "the client does not reach the transfer port through the router"
reaches "$WAN" $LOG_PORT || fail "the client does not reach the log port through the router"
reaches "$WAN" 40999 && fail "the client reaches an unmapped port"
grep -q "port mapping: UPnP IGD at 192.168.77.1 maps transfer" "$T/worker/node.log" || fail "no log line about the mapping"

step "   stopped: its mappings are gone"
stop_node worker
[ -z "$(router_forwards)" ] || fail "mappings left after the node stopped: $(router_forwards | tr '\n' ' ')"
reaches "$WAN" $TRANSFER_PORT && fail "the transfer port is still reachable after stop"

step "2. killed and restarted: the predecessor's mappings removed, fresh ones made"
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
stop_node worker KILL
[ -n "$(router_forwards)" ] || fail "a killed node should have left its mappings"
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
grep -q "removed 2 mapping(s) an earlier run of this node left" "$T/worker/node.log" || fail "stale mappings not removed"
[ "$(router_forwards | wc -l)" = 2 ] || fail "expected exactly the two fresh forwards: $(router_forwards | tr '\n' ' ')"
reaches "$WAN" $TRANSFER_PORT || fail "not reachable after the restart"
step "   leases of 20 s renewed: still mapped and reached 30 s later"
sleep 30
[ "$(router_forwards | wc -l)" = 2 ] || fail "the mappings expired: $(router_forwards | tr '\n' ' ')"
reaches "$WAN" $TRANSFER_PORT || fail "not reachable once the first lease ran out"

# A whole agreement with the worker behind the NAT: `zeppelin run` on the public client, two
# verifiers on their own public hosts; the service answers through the router; payments add up.
setup_parties() {
  # Verifiers are workers too: on their own hosts with their own engines and public addresses.
  for v in verifier1 verifier2; do $LAB engine $v | sed 's/^export ZEPPELIN_DOCKER_HOST=//' > "$T/engine-$v"; done
  start_node verifier1 v1 "$K2" --transfer-host 0.0.0.0 --service-ip 0.0.0.0
  start_node verifier2 v2 "$K3" --transfer-host 0.0.0.0 --service-ip 0.0.0.0
  [ "$(api verifier1 v1 /api/status | jq -r .reachability.state)" = public_address ] || fail "verifier1 not public"
  start_node client client "$K4" --client-only
  # The image: busybox httpd, built on the home engine and saved as an archive for the client.
  local img=$T/img r=$ZPL_RUN_DIR/engine-home
  mkdir -p "$img/bin" "$img/www"
  cp "$(command -v busybox)" "$img/bin/busybox"
  echo served-through-the-nat > "$img/www/index.html"
  tar -C "$img" -cf "$T/rootfs.tar" .
  podman_home() { nsenter --net="/run/netns/${ZPL_PREFIX}home" podman --root "$r/root" --runroot "$r/runroot" \
                    --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"; }
  podman_home import --change 'CMD ["/bin/busybox","httpd","-f","-p","8080","-h","/www"]' --change 'EXPOSE 8080' \
    "$T/rootfs.tar" localhost/zplw-web:1 >/dev/null
  podman_home save --format docker-archive -o "$T/web.tar" localhost/zplw-web:1 2>/dev/null
  podman_home rmi localhost/zplw-web:1 >/dev/null  # the worker must receive it, not find it
}
agreement_round() {  # the protocol the worker's mappings must use; "kill": SIGKILL the worker mid-agreement
  [ "$(api home worker /api/status | jq -r .reachability.gateway.protocol)" = "$1" ] || fail "the worker is not mapped by $1"
  local t1 out id port p closed=
  t1=$(date +%s.%N)
  out=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json run --timeout 240s "$T/web.tar" \
          --duration 30s --period 10s --verifiers 2 --max-price 2gwei/s --probe http:/ --worker "$A1" 2>/dev/null) \
    || fail "zeppelin run failed: $out"
  echo "   run -> endpoint in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}") s: $out"
  id=$(echo "$out" | jq -r .id)
  [ "$(echo "$out" | jq -r .host)" = "$WAN" ] || fail "the client was not told the router's external address"
  port=$(echo "$out" | jq -r .port)
  [ "$port" -ge 40100 ] && [ "$port" -le 40120 ] || fail "the service port $port is not from --service-ports"
  [ "$($LAB exec client curl -sf -m 3 "http://$WAN:$port/")" = served-through-the-nat ] || fail "the service is not reached through the router"
  if [ "${2:-}" = kill ]; then
    # Killed while its work runs, restarted at once: the predecessor's three mappings (transfer,
    # log, the service) removed, fresh ones made, the running service mapped again.
    stop_node worker KILL
    start_node home worker "$K1" "${WORKER_FLAGS[@]}"
    grep -q "removed 3 mapping(s) an earlier run of this node left" <(tail -n 20 "$T/worker/node.log") \
      || fail "the killed worker's mappings were not removed"
    [ "$(api home worker /api/status | jq '.reachability.mappings | length')" = 3 ] || fail "the running service was not mapped again"
    [ "$($LAB exec client curl -sf -m 3 "http://$WAN:$port/")" = served-through-the-nat ] || fail "the service is not reached after the restart"
  fi
  for _ in $(seq 180); do
    p=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json inspect "$id" 2>/dev/null | jq -c .payments || true)
    if [ "$(echo "$p" | jq -r .closed 2>/dev/null)" = true ]; then closed=$p; break; fi
    sleep 1
  done
  [ -n "$closed" ] || fail "agreement $id did not close within 180 s: $p"
  echo "   payments: $closed"
  [ "$(echo "$closed" | jq -r .balanced)" = true ] || fail "payments do not add up"
  [ "$(echo "$closed" | jq -r .worker)" = 30000000000 ] || fail "the worker was not paid for three verified periods"
  [ "$(echo "$closed" | jq -r .slashed)" = 0 ] || fail "the worker was slashed"
  # The service port's mapping went with the work (bounded: the worker ends it on its next step).
  for _ in $(seq 100); do [ "$(router_forwards | wc -l)" = 2 ] && break; sleep 0.1; done
  [ "$(router_forwards | wc -l)" = 2 ] || fail "the service mapping was not removed when the work ended: $(router_forwards | tr '\n' ' ')"
}

if [ "$MODE" = agreement ]; then
  step "3. a whole agreement, the worker mapped by UPnP IGD"
  setup_parties
  agreement_round "UPnP IGD"
  step "3c. the worker killed and restarted mid-agreement behind the NAT"
  agreement_round "UPnP IGD" kill
fi

step "4. NAT-PMP only (UPnP off on the router): mapped, reached; a crash's mappings removed from memory"
stop_node worker
$LAB router natpmp >/dev/null
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
[ "$(api home worker /api/status | jq -r .reachability.gateway.protocol)" = NAT-PMP ] || fail "not mapped by NAT-PMP"
reaches "$WAN" $TRANSFER_PORT || fail "the client does not reach the transfer port through a NAT-PMP mapping"
stop_node worker KILL
[ "$(router_forwards | wc -l)" = 2 ] || fail "a killed node should have left its NAT-PMP mappings"
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
grep -q "removed 2 mapping(s) an earlier run of this node left" <(tail -n 20 "$T/worker/node.log") \
  || fail "the NAT-PMP mappings remembered in the store were not removed"
[ "$(router_forwards | wc -l)" = 2 ] || fail "expected exactly the two fresh NAT-PMP forwards: $(router_forwards | tr '\n' ' ')"
reaches "$WAN" $LOG_PORT || fail "not reachable after the restart"

if [ "$MODE" = agreement ]; then
  step "4b. a whole agreement, the worker mapped by NAT-PMP"
  agreement_round NAT-PMP
fi
stop_node worker

step "5. a router that maps nothing, no --public-host: the worker pauses itself and says why"
$LAB router none >/dev/null
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
status=$(api home worker /api/status)
echo "$status" | jq -c .reachability
[ "$(echo "$status" | jq -r .reachability.reachable)" = false ] || fail "the worker thinks it is reachable"
echo "$status" | jq -r .reachability.reason | grep -q "no port mapping possible: UPnP IGD: no device answered" || fail "the reason does not say why"
echo "$status" | jq -r .reachability.reason | grep -q -- "--public-host" || fail "the reason does not say what to do"
# The pause is a transaction: the status read right after start shows it once mined.
for _ in $(seq 50); do [ "$(api home worker /api/status | jq -r .worker.status)" = paused ] && break; sleep 0.2; done
[ "$(api home worker /api/status | jq -r .worker.status)" = paused ] || fail "the worker did not pause its offer"
grep -q "paused in the market until it can be reached" "$T/worker/node.log" || fail "no log line about the pause"
if [ "$MODE" = agreement ]; then
  # A purchase now goes to a reachable worker (the verifiers' nodes are workers on public hosts).
  out=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json run --timeout 120s "$T/web.tar" \
          --duration 10s --period 10s --verifiers 1 --max-price 2gwei/s --probe http:/ 2>/dev/null) \
    || fail "zeppelin run failed while the NAT worker was paused: $out"
  echo "   while paused, a purchase went to: $out"
  case "$(echo "$out" | jq -r .host)" in 198.51.100.31|198.51.100.32) ;; *) fail "the purchase did not go to a reachable worker" ;; esac
  [ "$($LAB exec client curl -sf -m 3 "http://$(echo "$out" | jq -r .host):$(echo "$out" | jq -r .port)/")" = served-through-the-nat ] \
    || fail "the reachable worker's service does not answer"
  stop_node client; stop_node v1; stop_node v2
fi

step "   the router maps again: the running worker finds out (it looks every 30 s) and resumes"
$LAB router upnp+natpmp >/dev/null
for _ in $(seq 45); do [ "$(api home worker /api/status | jq -r .worker.status)" = active ] && break; sleep 1; done
status=$(api home worker /api/status)
[ "$(echo "$status" | jq -r .reachability.state)" = mapped ] || fail "not mapped after the router came back: $(echo "$status" | jq -c .reachability)"
[ "$(echo "$status" | jq -r .worker.status)" = active ] || fail "the worker did not resume: $(echo "$status" | jq -c .worker)"
grep -q "reachable again" "$T/worker/node.log" || fail "no log line about the resume"
reaches "$WAN" $TRANSFER_PORT || fail "not reachable after the router came back"
stop_node worker

$LAB down >/dev/null
! ip netns list | grep -q "^$ZPL_PREFIX" || fail "namespaces left after down"
echo "worker_lab_test ($MODE): all checks passed"
