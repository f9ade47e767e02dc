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
#      node finds out within its 30 s re-check, maps, and resumes its offer;
#   6. the router's external address changes (lab.sh wan, a new DHCP lease): the worker notices at
#      its next lease renewal, maps again, announces the new address and says so (log, API); with
#      `agreement`, mid-agreement: the client and the three verifiers are told the new endpoint in one
#      message, and the periods after it are verified there and paid;
#   8. PCP only (--port-mapping pcp, the node's own RFC 6887 client against miniupnpd): mapped and
#      reached; after SIGKILL the remembered PCP mappings are removed; none left after stop.
# With `agreement` as argument (CTest zeppelin_netlab_agreement_test), also whole agreements (3 and
# 4b): a client and three verifiers on the public segment, the worker behind the NAT mapped by UPnP
# IGD, then by NAT-PMP, drawn because it alone asks a price under the client's highest; the service
# answers through the router; every period is confirmed, paid, and the payments add up. And (3c)
# the worker killed with SIGKILL mid-agreement and restarted: mappings renewed, the work completes.
# (7) a verifier's own link cut mid-agreement while the service stays up (issue 14): the worker is
# paid every period and not slashed, the cut verifier abstains (its probes of the cut are
# inconclusive) and the new agreement is told the router's new address (6).
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

# A purchase from the client host (10 s periods, 3 verifiers) whose service must be announced at the
# router's address $WAN. DURATION_S TIMEOUT_S WHAT; sets ID, PORT, STARTED.
run_at_wan() {
  local out
  out=$($LAB exec client env ZEPPELIN_NODE_DIR="$T/client" "$CLI" --json run --timeout "$2s" "$T/web.tar" \
          --duration "$1s" --period 10s --verifiers 3 --max-price $MAX_PRICE --probe http:/ 2>/dev/null) \
    || fail "zeppelin run ($3) failed: $out"
  ID=$(echo "$out" | jq -r .id) PORT=$(echo "$out" | jq -r .port)
  [ "$(echo "$out" | jq -r .host)" = "$WAN" ] || fail "$3: the agreement was not told the router's address $WAN: $out"
  # `run` returns once the service answers (from the worker's start on); the verifiers' draw, which
  # starts the paid clock, follows a block later.
  for _ in $(seq 100); do [ "$(client --json inspect "$ID" | jq -r .chain.status)" = running ] && break; sleep 0.2; done
  [ "$(client --json inspect "$ID" | jq -r .chain.status)" = running ] || fail "$3: agreement $ID's verifiers were not drawn"
  STARTED=$(client --json inspect "$ID" | jq -r .chain.started_at)
}

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
for _ in $(seq 50); do
  [ "$(api home worker /api/status | jq -r .worker.status)" = paused ] && grep -q "paused in the market" "$T/worker/node.log" && break
  sleep 0.2
done
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
  # Back to the NAT worker and the three verifiers. A stopped node stays offered in the market: w4
  # pauses its offer first, or a later draw could pick it as a verifier that then stays silent (CI
  # once drew it in step 7, with the cut verifier not drawn at all).
  api_post worker w4 /api/worker/pause >/dev/null || fail "w4 could not pause its offer"
  [ "$(api worker w4 /api/status | jq -r .worker.status)" = paused ] || fail "w4 is not paused after its pause"
  stop_node w4
fi

step "   the router maps again: the running worker finds out (it looks every 30 s) and resumes"
$LAB router upnp+natpmp >/dev/null
# The chain shows the resume as soon as it is mined; the node logs it once its receipt poll sees it:
# wait for both (CI once read the status inside that gap).
for _ in $(seq 45); do
  [ "$(api home worker /api/status | jq -r .worker.status)" = active ] && grep -q "reachable again" "$T/worker/node.log" && break
  sleep 1
done
status=$(api home worker /api/status)
[ "$(echo "$status" | jq -r .reachability.state)" = mapped ] || fail "not mapped after the router came back: $(echo "$status" | jq -c .reachability)"
[ "$(echo "$status" | jq -r .worker.status)" = active ] || fail "the worker did not resume: $(echo "$status" | jq -c .worker)"
grep -q "reachable again" "$T/worker/node.log" || fail "no log line about the resume"
reaches "$WAN" $TRANSFER_PORT || fail "not reachable after the router came back"

step "6. the router's external address changes: the worker notices, maps again, announces the new one"
NEW_WAN=198.51.100.2
if [ "$MODE" = agreement ]; then
  # An agreement runs while the address changes: its client and verifiers must learn the new one,
  # or the verifiers would probe the old address to the end and fail every period after the change.
  run_at_wan 60 120 "before the address change"
  moved_id=$ID moved_port=$PORT
  now=$(date +%s.%N); sleep "$(awk "BEGIN{d=$STARTED + 12 - $now; print (d > 0 ? d : 0)}")"  # in period 1
fi
t1=$(date +%s.%N)
$LAB wan $NEW_WAN >/dev/null
# The leases (20 s) are renewed every 10 s, and every renewal asks the address first.
for _ in $(seq 60); do
  [ "$(api home worker /api/status | jq -r .reachability.announced_host)" = $NEW_WAN ] && break
  sleep 0.5
done
echo "   noticed $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}") s after the change"
status=$(api home worker /api/status)
echo "$status" | jq -c '.reachability | {state, reason, announced_host, external: .gateway.external_address}'
[ "$(echo "$status" | jq -r .reachability.announced_host)" = $NEW_WAN ] || fail "the worker still announces $(echo "$status" | jq -r .reachability.announced_host)"
[ "$(echo "$status" | jq -r .reachability.state)" = mapped ] || fail "not mapped after the address change"
[ "$(echo "$status" | jq -r .reachability.gateway.external_address)" = $NEW_WAN ] || fail "the API shows another external address"
[ "$(echo "$status" | jq -r "[.reachability.mappings[] | select(.external_address != \"$NEW_WAN\")] | length")" = 0 ] \
  || fail "a mapping still holds the old address: $(echo "$status" | jq -c .reachability.mappings)"
echo "$status" | jq -r .reachability.reason | grep -q "external address changed from $WAN" || fail "the reason does not say the address changed"
# Every mapping made again: transfer and log (and, with an agreement running, its service).
grep -Eq "changed its external address from $WAN to $NEW_WAN: ([0-9]+) of \1 mapping\(s\) made again; new agreements are told $NEW_WAN" \
  "$T/worker/node.log" || fail "no log line about the address change"
reaches $NEW_WAN $TRANSFER_PORT || fail "the client does not reach the transfer port at the new address"
reaches $NEW_WAN $LOG_PORT || fail "the client does not reach the log port at the new address"
if [ "$MODE" = agreement ]; then
  # The running agreement: one message to the client and the three verifiers with the new endpoint.
  for _ in $(seq 100); do grep -q "agreement $moved_id: its service moved from $WAN" "$T/worker/node.log" && break; sleep 0.2; done
  grep "agreement $moved_id: its service moved from" "$T/worker/node.log" | tail -1 | sed 's/^/   /'
  grep -q "agreement $moved_id: its service moved from $WAN:[0-9]* to $NEW_WAN:[0-9]*: the client and 3 verifier(s) told" \
    "$T/worker/node.log" || fail "the worker did not tell agreement $moved_id's parties its new address"
  for hn in client:client verifier1:v1 verifier2:v2 verifier3:v3; do
    for _ in $(seq 50); do
      [ "$(node_cli "${hn%%:*}" "${hn#*:}" --json inspect "$moved_id" | jq -r .local.service.host)" = $NEW_WAN ] && break
      sleep 0.2
    done
    [ "$(node_cli "${hn%%:*}" "${hn#*:}" --json inspect "$moved_id" | jq -r .local.service.host)" = $NEW_WAN ] \
      || fail "${hn#*:} was not told the new address of agreement $moved_id"
  done
  until_ok 30 $LAB exec client curl -sf -m 3 "http://$NEW_WAN:$moved_port/" || fail "the service does not answer at the new address"
  wait_closed "$moved_id" 180
  # Periods after the change are verified at the new address: the last two are paid by majority.
  marks=$(echo "$CLOSED" | jq -c '[.verifiers[].periods]')
  echo "   marks by verifier: $marks"
  for p in 4 5; do
    [ "$(echo "$CLOSED" | jq "[.verifiers[].periods[$p] | select(. == \"ok\")] | length")" -ge 2 ] \
      || fail "period $p, after the parties learned the new address, was not verified ok: $marks"
  done
fi
WAN=$NEW_WAN

if [ "$MODE" = agreement ]; then
  # Issue 14: a verifier's own outage must not cost the worker. v2 decides each period by a majority
  # of the votes; the cut verifier abstains on the periods it could not judge (its failed probes are
  # inconclusive: it cannot reach its chain endpoint either) instead of voting them failed, and the
  # two that see the service decide them.
  step "7. a verifier's link cut mid-agreement while the service stays up: the worker is paid, nothing slashed"
  run_at_wan 40 240 "after the address change"
  id=$ID port=$PORT started=$STARTED
  v1_id=$(api verifier1 v1 /api/status | jq -r .worker.id)
  drawn=$(client --json inspect "$id" | jq -c .chain.verifier_ids)
  [ "$(echo "$drawn" | jq length)" = 3 ] || fail "not three verifiers: $drawn"
  echo "$drawn" | jq -e --argjson v "$v1_id" 'index($v) != null' >/dev/null \
    || fail "verifier1 (worker $v1_id) was not drawn, the drawn verifiers are $drawn (is a stopped node still offered?)"
  # Period 1 runs from started+10 to started+20: the link goes down as it begins, and comes back after
  # period 2 (started+20 to started+30) ended.
  now=$(date +%s.%N); wait_s=$(awk "BEGIN{d=$started + 10.3 - $now; print (d > 0 ? d : 0)}")
  sleep "$wait_s"
  $LAB cut verifier1 >/dev/null
  echo "   verifier1's link cut at $(date -u +%T) (period 1 of agreement $id)"
  until_ok 30 $LAB exec client curl -sf -m 3 "http://$WAN:$port/" || fail "the service does not answer during the verifier's outage"
  # Healed only once period 2 has ended (and verifier1 has made a probe of it): period 2 lies wholly
  # inside the cut, so verifier1 cannot judge it and must abstain (a probe in the cut's first second
  # may still judge period 1, and one right after a heal inside period 2 would judge that).
  for _ in $(seq 450); do
    grep -q "agreement $id: probe in period 2:" "$T/v1/node.log" &&
      [ "$(awk "BEGIN{print ($(date +%s.%N) >= $started + 30.5)}")" = 1 ] && break
    sleep 0.1
  done
  $LAB heal verifier1 >/dev/null
  echo "   healed at $(date -u +%T)"
  wait_closed "$id" 180
  echo "   verifier $v1_id (cut) reported: $(echo "$CLOSED" | jq -c --argjson v "$v1_id" '.verifiers[] | select(.verifier_id==$v) | .periods')"
  [ "$(echo "$CLOSED" | jq -r .worker)" = 40000000000 ] || fail "the worker was not paid for its four periods: $CLOSED"
  # An abstention costs the cut verifier no bond (only silence does), and the worker pays nothing.
  [ "$(echo "$CLOSED" | jq -r .worker_slashed)" = 0 ] || fail "the worker was slashed for the verifier's outage: $CLOSED"
  [ "$(echo "$CLOSED" | jq -r --argjson v "$v1_id" '[.verifiers[] | select(.verifier_id != $v) | .penalty] | map(tonumber) | add')" = 0 ] \
    || fail "a verifier that saw the service was penalized: $CLOSED"
  # What the cut verifier says: never "failed", and an abstention for a period it could not judge.
  # (A probe made in the cut's first second may still pass: that period is then judged ok, and the
  # next one, wholly inside the cut, abstained. CI once saw exactly that.)
  marks=$(echo "$CLOSED" | jq -c --argjson v "$v1_id" '.verifiers[] | select(.verifier_id==$v) | .periods')
  [[ "$marks" != *failed* ]] || fail "the cut verifier reported a period failed that it could not judge: $marks"
  [ "$(echo "$marks" | jq '[.[] | select(. == null)] | length')" -ge 1 ] || fail "the cut verifier abstained on no period of its outage: $marks"
  seen=$(node_cli verifier1 v1 --json inspect "$id" | jq -c '[.probes[] | {period, r: (if .ok then "ok" elif .inconclusive then "inconclusive" else "failed" end)}] | group_by(.period) | map({(.[0].period | tostring): map(.r)}) | add')
  echo "   verifier1's probes by period (its API): $seen"
  [ "$(echo "$seen" | jq -c '[."1"[]?, ."2"[]?] | unique | map(select(. == "failed")) | length')" = 0 ] \
    || fail "a probe of the cut blamed the service, which answered all along: $seen"
  [ "$(echo "$seen" | jq -c '[."1"[]?, ."2"[]?] | map(select(. == "inconclusive")) | length')" -ge 1 ] \
    || fail "the cut verifier's probes of the cut are not marked inconclusive: $seen"
fi
[ "$MODE" = agreement ] && { stop_node client; stop_node v1; stop_node v2; stop_node v3; }

step "8. PCP (RFC 6887, our own client) only: mapped, reached; a crash's mappings removed from memory"
stop_node worker
start_node home worker "$K1" "${WORKER_FLAGS[@]}" --port-mapping pcp
status=$(api home worker /api/status)
[ "$(echo "$status" | jq -r .reachability.gateway.protocol)" = PCP ] || fail "not mapped by PCP: $(echo "$status" | jq -c .reachability)"
[ "$(echo "$status" | jq -r .reachability.announced_host)" = "$WAN" ] || fail "PCP: announces another host than $WAN"
grep -q "PCP MAP: added mapping TCP $TRANSFER_PORT->192.168.77.10:$TRANSFER_PORT" "$ZPL_RUN_DIR/miniupnpd.log" || fail "miniupnpd logged no PCP mapping"
reaches "$WAN" $TRANSFER_PORT || fail "the client does not reach the transfer port through a PCP mapping"
reaches "$WAN" $LOG_PORT || fail "the client does not reach the log port through a PCP mapping"
stop_node worker KILL
[ "$(router_forwards | wc -l)" = 2 ] || fail "a killed node should have left its PCP mappings: $(router_forwards | tr '\n' ' ')"
start_node home worker "$K1" "${WORKER_FLAGS[@]}" --port-mapping pcp
grep -q "removed 2 mapping(s) an earlier run of this node left" <(tail -n 20 "$T/worker/node.log") \
  || fail "the PCP mappings remembered in the store were not removed"
[ "$(router_forwards | wc -l)" = 2 ] || fail "expected exactly the two fresh PCP forwards: $(router_forwards | tr '\n' ' ')"
stop_node worker
[ -z "$(router_forwards)" ] || fail "PCP mappings left after the node stopped: $(router_forwards | tr '\n' ' ')"

$LAB down >/dev/null
! ip netns list | grep -q "^$ZPL_PREFIX" || fail "namespaces left after down"
echo "worker_lab_test ($MODE): all checks passed"
