#!/usr/bin/env bash
# The network-lab row of bench/run_to_service.sh: `zeppelin run` -> first HTTP 200 of IMAGE on a
# chain mining every 2 s (anvil --block-time 2), the worker on its own host behind the lab's NAT
# router (it maps its ports by UPnP IGD), the client and three verifiers on their own public hosts
# (tests/netlab/lab.sh, its harness.sh); the worker is drawn because it alone asks a price under
# the client's highest. The worker's engine holds nothing: the image travels.
# Prints one line: "SECONDS BLOCKS (action@block ...)": the blocks that mined the path's
# transactions (harness.sh path_blocks). Root only (network namespaces).
# Usage: bash bench/run_to_service_lab.sh IMAGE.tar     (ZEPPELIN_CLI: the binary; default: on PATH)
set -euo pipefail
IMAGE=$(realpath "${1:?usage: $0 IMAGE.tar}")
export ZEPPELIN_CLI=${ZEPPELIN_CLI:-$(command -v zeppelin)}
cd "$(dirname "$0")/../tests/netlab"
export ZPL_PREFIX=zplb- ZPL_RUN_DIR=/tmp/zplb-lab
VERIFIER_FLAGS=()
source ./harness.sh
{
  lab_up_with_chain --block-time 2
  start_node home worker "$K1" --price "$WORKER_PRICE" --transfer-host 0.0.0.0 --transfer-port "$TRANSFER_PORT" --log-port "$LOG_PORT" \
    --service-ip 0.0.0.0 --service-ports 40100-40120
  [ "$(api home worker /api/status | jq -r .reachability.state)" = mapped ] || fail "the NAT worker is not mapped"
  setup_parties
} >&2
t0=$(date +%s.%N)
out=$(client --json run --timeout 600s "$IMAGE" --duration 120s --period 10s --verifiers 3 --max-price "$MAX_PRICE" \
        --probe http:/ 2>/dev/null) || fail "zeppelin run failed: $out"
host=$(echo "$out" | jq -r .host) port=$(echo "$out" | jq -r .port) id=$(echo "$out" | jq -r .id)
[ "$host" = "$WAN" ] || fail "the client was not told the router's external address"
until_ok 600 $LAB exec client curl -sf -o /dev/null -m 2 "http://$host:$port/" || fail "no HTTP 200 through the router"
secs=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")
echo "$secs $(path_blocks "$id")"
