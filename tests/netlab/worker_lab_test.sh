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
# 4b): a client and three verifiers on the public segment, the worker behind the NAT mapped by UPnP
# IGD, then by NAT-PMP, drawn because it alone asks a price under the client's highest; the service
# answers through the router; every period is confirmed, paid, and the payments add up. And (3c)
# the worker killed with SIGKILL mid-agreement and restarted: mappings renewed, the work completes.
#
# Exit 77 (CTest SKIP_RETURN_CODE) when not root. Its own lab prefix (zplw-), so it never touches
# a lab a developer has up; everything it starts lives in the lab's namespaces and goes with `down`.
set -euo pipefail
cd "$(dirname "$0")"
MODE=${1:-lab}

export ZPL_PREFIX=${ZPL_PREFIX:-zplw-} ZPL_RUN_DIR=${ZPL_RUN_DIR:-/tmp/zplw-lab}
VERIFIER_FLAGS=()
source ./harness.sh

step "lab up, anvil on the chain host, the contract deployed"
lab_up_with_chain

WORKER_FLAGS=(--price $WORKER_PRICE --transfer-host 0.0.0.0 --transfer-port $TRANSFER_PORT --log-port $LOG_PORT
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

# A whole agreement with the worker behind the NAT: `zeppelin run` on the public client, three
# verifiers on their own public hosts; the service answers through the router; payments add up.
agreement_round() {  # the protocol the worker's mappings must use; "kill": SIGKILL the worker mid-agreement
  [ "$(api home worker /api/status | jq -r .reachability.gateway.protocol)" = "$1" ] || fail "the worker is not mapped by $1"
  local t1 out id port
  t1=$(date +%s.%N)
  out=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json run --timeout 240s "$T/web.tar" \
          --duration 30s --period 10s --verifiers 3 --max-price $MAX_PRICE --probe http:/ 2>/dev/null) \
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
  wait_closed "$id" 180
  [ "$(echo "$CLOSED" | jq -r .worker)" = 30000000000 ] || fail "the worker was not paid for three verified periods"
  [ "$(echo "$CLOSED" | jq -r .slashed)" = 0 ] || fail "the worker was slashed"
  [ "$(echo "$CLOSED" | jq -c '[.verifiers[] | [.periods_reported, .periods_ok, .silent_periods]] | unique')" = '[[3,3,0]]' ] \
    || fail "not every verifier confirmed the three periods: $(echo "$CLOSED" | jq -c .verifiers)"
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
  # A purchase now goes to a reachable worker: the verifiers' nodes are workers on public hosts;
  # with a fourth on the public worker host, 1 worker + 3 verifiers can be drawn without the paused
  # one. Its highest price admits them all.
  $LAB engine worker | sed 's/^export ZEPPELIN_DOCKER_HOST=//' > "$T/engine-worker"
  start_node worker w4 "$K6" --price $VERIFIER_PRICE --transfer-host 0.0.0.0 --service-ip 0.0.0.0
  out=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json run --timeout 120s "$T/web.tar" \
          --duration 10s --period 10s --verifiers 3 --max-price $VERIFIER_PRICE/s --probe http:/ 2>/dev/null) \
    || fail "zeppelin run failed while the NAT worker was paused: $out"
  echo "   while paused, a purchase went to: $out"
  case "$(echo "$out" | jq -r .host)" in 198.51.100.31|198.51.100.32|198.51.100.33|198.51.100.40) ;;
    *) fail "the purchase did not go to a reachable worker" ;; esac
  [ "$($LAB exec client curl -sf -m 3 "http://$(echo "$out" | jq -r .host):$(echo "$out" | jq -r .port)/")" = served-through-the-nat ] \
    || fail "the reachable worker's service does not answer"
  stop_node client; stop_node v1; stop_node v2; stop_node v3; stop_node w4
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
