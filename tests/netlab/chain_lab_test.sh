#!/usr/bin/env bash
# Whole agreements across the lab (tests/netlab/lab.sh) on a chain that mines at a steady pace, as
# real chains do (anvil --block-time): the client, three verifiers and the chain on their own
# public hosts, the worker behind the home NAT router, mapped by UPnP IGD, drawn because it alone
# asks a price under the client's highest (harness.sh). In one lab session:
#   1. 2 s blocks (an L2): the agreement completes, the payments add up, the worker is not slashed;
#      run -> endpoint seconds and the block waits on that path are printed.
#   2. 2 s blocks, a partition: the worker's uplink is cut for 25 s mid-agreement; every verifier
#      reports the period inside the cut failed (its neighbours as a majority of their probes found
#      them), the client gets the unpaid periods' price back (the slashed stake is burned, not paid
#      to anyone); the link comes back, service and verification resume; no node sent a
#      transaction twice, the client withdrew its refund once.
#   3. 12 s blocks (mainnet's pace) with 10 s periods: every period is probed, and each verifier's
#      one report of the batch, sent a second after the last period ends, waits for its block and
#      still lands inside the report window; the worker settles on the reports (not on the window's
#      close); all eight periods paid, nothing slashed, no verifier silent.
#   4. 2 s blocks, a worker that announces an address nobody can reach (--public-host, nothing
#      forwarded): the client's `run` and `ps` say "transfer failing" with the worker's address
#      within the first connect timeout (10 s) after the worker's accept, not after the five
#      attempts' 50 s; the worker, reached by nobody within --unreached-after, says so and checks
#      its reachability again.
# (A verifier's own outage is zeppelin_netlab_agreement_test's step 7, with three verifiers.)
# ZPL_ROUNDS="3" runs only the rounds named (default "1 2 3 4"). Exit 77 (CTest
# SKIP_RETURN_CODE) when not root. Its own lab prefix (zplc-).
set -euo pipefail
cd "$(dirname "$0")"
export ZPL_PREFIX=${ZPL_PREFIX:-zplc-} ZPL_RUN_DIR=${ZPL_RUN_DIR:-/tmp/zplc-lab}
VERIFIER_FLAGS=()
ACCEPT_WINDOW=120 REPORT_WINDOW=120    # wide enough for 12 s blocks
source ./harness.sh

PERIOD_WEI=10000000000  # the worker's price (1 gwei/s) times the 10 s period
want() { [[ " ${ZPL_ROUNDS:-1 2 3 4 5} " == *" $1 "* ]]; }

# Every node's transactions for agreement ID: none sent twice (one mined per journal key), none
# left pending (each node's last transaction is given 15 s to be sent and mined), the client sent no
# withdraw (its refund came with the settlement); each verifier reported every period exactly once
# (its batch report). Prints "name:count ...".
no_duplicates() {
  local id=$1 out="" host name j
  for hn in client:client home:worker verifier1:v1 verifier2:v2 verifier3:v3; do
    host=${hn%%:*} name=${hn#*:}
    for _ in $(seq 15); do
      j=$(node_cli "$host" "$name" --json inspect "$id" 2>/dev/null) || fail "inspect $id on $name"
      [ "$(echo "$j" | jq '[.transactions[] | select(.status=="pending")] | length')" = 0 ] && break
      sleep 1
    done
    dups=$(echo "$j" | jq -r '[.transactions[] | select(.status=="mined") | .key] | group_by(.) | map(select(length>1)[0]) | join(",")')
    [ -z "$dups" ] || fail "$name sent a transaction twice for agreement $id: $dups"
    [ "$(echo "$j" | jq '[.transactions[] | select(.status=="pending")] | length')" = 0 ] \
      || fail "$name has a transaction of $id left pending: $(echo "$j" | jq -c '[.transactions[] | select(.status=="pending")]')"
    [ "$name" != client ] || echo "$j" | jq -e '[.transactions[] | select(.action=="withdraw")] | length == 0' >/dev/null \
      || fail "the client had to withdraw its refund of agreement $id (it comes with the settlement): $(echo "$j" | jq -c .transactions)"
    out="$out $name:$(echo "$j" | jq '[.transactions[] | select(.status=="mined")] | length')"
  done
  local periods; periods=$(node_cli client client --json inspect "$id" | jq -r '.chain.periods // empty')
  [ -z "$periods" ] || [ "$(echo "$CLOSED" | jq -r "[.verifiers[].periods_reported] | unique | join(\",\")")" = "$periods" ] \
    || fail "a verifier's reports do not cover each of the $periods periods once: $(echo "$CLOSED" | jq -c .verifiers)"
  echo "${out# }"
}

# A whole agreement with the NAT worker. LABEL DURATION_S [cut]; sets ID and CLOSED (payments).
agreement() {
  local label=$1 duration=$2 mode=${3:-} out secs b0 b1 port p txs
  b0=$(head_block)
  out=$(client --json run --timeout 300s "$T/web.tar" --duration "${duration}s" --period 10s --verifiers 3 \
          --max-price $MAX_PRICE --probe http:/ 2>"$T/run.err") || { cat "$T/run.err"; fail "zeppelin run failed: $out"; }
  b1=$(head_block)
  ID=$(echo "$out" | jq -r .id)
  secs=$(echo "$out" | jq -r '.seconds * 10 | round / 10')
  [ "$(echo "$out" | jq -r .host)" = "$WAN" ] || fail "the client was not told the router's external address"
  port=$(echo "$out" | jq -r .port)
  [ "$($LAB exec client curl -sf -m 3 "http://$WAN:$port/")" = served-through-the-nat ] || fail "the service is not reached through the router"
  echo "   $label: run -> endpoint $secs s; $((b1 - b0)) blocks mined meanwhile; blocks on the path: $(path_blocks "$ID")"
  if [ "$mode" = cut ]; then
    # `run` returns once the service answers, a block before the verifiers' draw starts the clock.
    for _ in $(seq 100); do [ "$(client --json inspect "$ID" | jq -r .chain.status)" = running ] && break; sleep 0.2; done
    local started now; started=$(client --json inspect "$ID" | jq -r .chain.started_at)
    now=$(date +%s.%N); sleep "$(awk "BEGIN{d=$started + 12 - $now; print (d > 0 ? d : 0)}")"  # into the second period
    step "   the worker's uplink cut for 25 s"
    $LAB cut home >/dev/null
    $LAB exec client curl -sf -m 3 "http://$WAN:$port/" >/dev/null 2>&1 && fail "the service answers through a cut link"
    sleep 22
    $LAB heal home >/dev/null
    until_ok 100 $LAB exec client curl -sf -m 2 "http://$WAN:$port/" || fail "the service does not answer within 10 s of the link coming back"
    echo "   link back: the service answers again"
  fi
  wait_closed "$ID" $((duration + 300))
  txs=$(no_duplicates "$ID")  # an assignment of its own: a failure in it ends the test
  echo "   transactions per node (each action once): $txs"
}
paid_periods() { echo $(( $(echo "$CLOSED" | jq -r .worker) / PERIOD_WEI )); }
# The verifier NAME's probes of agreement ID in PERIOD: "ok" if all passed, "failed" if any failed.
probes_of() {
  node_cli "$1" "$2" --json inspect "$3" | jq -r --argjson p "$4" \
    '[.probes[] | select(.period==$p) | .ok] | if length==0 then "none" elif all then "ok" else "failed" end'
}

step "lab up, anvil mining every 2 s, the contract deployed"
lab_up_with_chain --block-time 2
WORKER_FLAGS=(--price $WORKER_PRICE --transfer-host 0.0.0.0 --transfer-port $TRANSFER_PORT --log-port $LOG_PORT
              --service-ip 0.0.0.0 --service-ports 40100-40120)
start_node home worker "$K1" "${WORKER_FLAGS[@]}"
[ "$(api home worker /api/status | jq -r .reachability.state)" = mapped ] || fail "the NAT worker is not mapped"
setup_parties

if want 1; then
  step "1. 2 s blocks: a whole agreement (three 10 s periods)"
  agreement "2 s blocks" 30
  [ "$(paid_periods)" = 3 ] || fail "the worker was not paid for its three periods"
  [ "$(echo "$CLOSED" | jq -r .worker_slashed)" = 0 ] || fail "the honest worker was slashed"
fi

if want 2; then
  step "2. 2 s blocks, a partition mid-agreement (six 10 s periods)"
  agreement "2 s blocks, partition" 60 cut
  paid=$(paid_periods)
  echo "   paid periods: $paid of 6; the verifiers' votes: $(echo "$CLOSED" | jq -c '[.verifiers[].periods]')"
  # The 25 s cut spans a whole period (every probe of it fails: all three vote failed) and parts of
  # its neighbours, where two probes a period may fall on either side of the cut: a majority
  # decides those. Periods 0, 4 and 5 lie outside the cut.
  [ "$paid" -ge 3 ] && [ "$paid" -le 5 ] || fail "expected 3-5 paid periods around a 25 s cut, got $paid"
  echo "$CLOSED" | jq -e '[.verifiers[].periods] | transpose | any(all(.[]; . == "failed"))' >/dev/null \
    || fail "no period inside the cut was voted failed by every verifier"
  failed=$(echo "$CLOSED" | jq -r .failed_periods)
  [ "$failed" -ge 1 ] && [ "$(echo "$CLOSED" | jq -r .worker_slashed)" != 0 ] || fail "no period of the cut was reported failed by a majority of the verifiers"
  [ $((paid + failed)) -le 6 ] || fail "$paid paid and $failed failed periods of six"
  # The client gets back every unpaid period's price (besides the price margin); the slashed stake
  # is burned: the deposit is exactly the worker's pay, the verifiers' rewards and the refund.
  refund=$(echo "$CLOSED" | jq -r .client_refund) deposit=$(echo "$CLOSED" | jq -r .deposit)
  [ "$refund" -ge $(( (6 - paid) * PERIOD_WEI )) ] || fail "the client was not refunded the failed periods: $refund"
  [ "$refund" = $(( deposit - $(echo "$CLOSED" | jq -r .worker) - $(echo "$CLOSED" | jq -r .verifiers_total) )) ] \
    || fail "the client's refund is not the deposit less the worker's pay and the verifiers' rewards"
  for v in verifier1:v1 verifier2:v2 verifier3:v3; do
    [ "$(probes_of "${v%%:*}" "${v#*:}" "$ID" 5)" = ok ] || fail "${v#*:}: the last period is not verified served after the link came back"
  done
fi

if want 3; then
  step "3. 12 s blocks (evm_setIntervalMining), 10 s periods: the batch report lands in its window"
  rpc evm_setIntervalMining '[12]' >/dev/null
  sleep 13  # the 2 s pace's last block behind
  # Eight periods while blocks come every 12 s. Each verifier reports the batch once, a second after
  # the last period ends, and its transaction waits for the next block (up to 12 s): it must still
  # be mined inside the report window (REPORT_WINDOW s after the end), so that the worker settles
  # as soon as the reports are in and no verifier counts as silent.
  agreement "12 s blocks" 80
  end=$(client --json inspect "$ID" | jq -r .chain.end_of_service)
  [ "$end" -gt 0 ] || fail "no end of service in the chain's view of agreement $ID"
  block_time() { printf '%d' "$(rpc eth_getBlockByNumber "[\"$(rpc eth_getTransactionReceipt "[\"$1\"]" | jq -r .blockNumber)\",false]" | jq -r .timestamp)"; }
  for v in verifier1:v1 verifier2:v2 verifier3:v3; do
    seen=$(for q in 0 1 2 3 4 5 6 7; do printf '%s ' "$(probes_of "${v%%:*}" "${v#*:}" "$ID" $q)"; done)
    reports=$(node_cli "${v%%:*}" "${v#*:}" --json inspect "$ID" |
      jq -r '.transactions[] | select(.status=="mined" and (.action=="confirm" or .action=="report")) | "\(.key) \(.hash)"')
    [ "$(echo "$reports" | grep -c .)" = 1 ] || fail "${v#*:}: expected one batch report, got: $reports"
    at=$(block_time "${reports#* }")
    echo "   ${v#*:}: periods $seen; ${reports%% *} mined $((at - end)) s after the end (window $REPORT_WINDOW s)"
    [[ "$seen" != *none* ]] || fail "${v#*:}: a period went unprobed"
    [ "$at" -ge "$end" ] && [ "$at" -lt $((end + REPORT_WINDOW)) ] || fail "${v#*:}: its report was mined outside the report window"
  done
  settle=$(node_cli home worker --json inspect "$ID" | jq -r '.transactions[] | select(.status=="mined" and .action=="settle") | .hash')
  [ -n "$settle" ] || fail "the worker did not settle agreement $ID"
  at=$(block_time "$settle")
  echo "   settle mined $((at - end)) s after the end"
  [ "$at" -lt $((end + REPORT_WINDOW)) ] || fail "the worker settled only once the report window had closed"
  [ "$(echo "$CLOSED" | jq -c '[.verifiers[] | [.periods_reported, .periods_ok, .silent_periods]] | unique')" = '[[8,8,0]]' ] \
    || fail "not every verifier confirmed the eight periods: $(echo "$CLOSED" | jq -c .verifiers)"
  [ "$(paid_periods)" = 8 ] || fail "the worker was not paid for its eight periods"
  [ "$(echo "$CLOSED" | jq -r .slashed)" = 0 ] || fail "something was slashed on 12 s blocks"
fi

if want 4; then
  step "4. 2 s blocks, a worker announcing an address nobody reaches: the client and the worker say so"
  rpc evm_setIntervalMining '[2]' >/dev/null
  stop_node worker
  start_node home worker "$K1" "${WORKER_FLAGS[@]}" --public-host "$WAN" --port-mapping off --unreached-after 15
  [ "$(api home worker /api/status | jq -r .reachability.state)" = manual ] || fail "the worker is not on --public-host"
  t1=$(date +%s.%N)
  client run --timeout 40s "$T/web.tar" --duration 30s --period 10s --verifiers 3 --max-price $MAX_PRICE \
    --probe http:/ >"$T/run4.out" 2>"$T/run4.err" &
  run_pid=$!
  shown=
  for _ in $(seq 400); do
    if client ps 2>/dev/null | grep -q "transfer failing"; then shown=$(date +%s.%N); break; fi
    sleep 0.1
  done
  [ -n "$shown" ] || { cat "$T/run4.err"; fail "zeppelin ps does not show the failing transfer within 40 s"; }
  echo "   zeppelin ps says so $(awk "BEGIN{printf \"%.1f\", $shown - $t1}") s after run began:"
  client ps | sed 's/^/     /'
  client ps | grep -q "cannot connect to $WAN:$TRANSFER_PORT" || fail "ps does not name the worker's announced address"
  wait "$run_pid" && fail "run succeeded against an unreachable worker"
  grep -q "transfer failing: cannot connect to $WAN:$TRANSFER_PORT" "$T/run4.err" || { cat "$T/run4.err"; fail "run did not say why"; }
  grep "transfer failing" "$T/run4.err" | head -n 1 | sed 's/^/   run: /'
  for _ in $(seq 300); do
    # The warning is shown before the re-check (SSDP may take 2 s) logs its outcome: wait for both.
    api home worker /api/status | jq -r '.reachability.unreached // ""' | grep -q "no client has connected" \
      && grep -q "reachability after the check" "$T/worker/node.log" && break
    sleep 0.1
  done
  api home worker /api/status | jq -r '.reachability.unreached // ""' | grep -q "no client has connected to this worker's transfer port ($WAN:$TRANSFER_PORT" \
    || fail "the worker does not say that no client reached it"
  grep -q "reachability after the check" "$T/worker/node.log" || fail "the worker did not check its reachability again"
  node_cli home worker node status | grep -q "^unreached:  agreement" || fail "zeppelin node status does not say it"
  echo "   worker: $(api home worker /api/status | jq -r .reachability.unreached)"
  # The client still retries the transfer (five 10 s connect timeouts a round, until the start
  # window closes); a graceful stop waits for the attempt under way, up to 50 s: SIGKILL instead.
  stop_node client KILL
fi

stop_node client; stop_node v1; stop_node v2; stop_node v3; stop_node worker
$LAB down >/dev/null
! ip netns list | grep -q "^$ZPL_PREFIX" || fail "namespaces left after down"
echo "chain_lab_test: all checks passed"
