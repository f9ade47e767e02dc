#!/usr/bin/env bash
# The gas one agreement costs on protocol v2, as real nodes send it (issue 12): a devnet with four
# worker nodes and a client node (scripts/market.sh up 4), one agreement bought with the real CLI
# (`zeppelin run`, 3 verifiers, HTTP probe), run to its end and settled (the client's refund is paid
# in the settlement itself; a client that refuses it would withdraw it later); then the
# receipts of every transaction the nodes sent for it (each node's journal lists them by hash:
# GET /api/agreements/ID; registrations are no agreement's transactions), summed per kind and in
# all, next to iExec PoCo's published ~1.63 M gas for one worker and v1's ~8.7 M for an hour.
#
# The agreement is short by default (PERIODS=3 periods of PERIOD=10 s): the transactions do not
# depend on its length up to 1,440 periods (one batch: each verifier reports once per batch), so a
# 1-hour agreement of 60 periods of 60 s sends the same transactions.
#
# Usage: [PERIODS=3] [PERIOD=10] bash bench/agreement_gas.sh      (needs a build: bash scripts/build.sh)
# Writes the figures to $GAS_JSON (default build/bench/agreement_gas.json), which
# contracts/gas-report.sh prints beside its scripted figure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PERIODS="${PERIODS:-3}"
PERIOD="${PERIOD:-10}"
GAS_JSON="${GAS_JSON:-$ZEPPELIN_ROOT/build/bench/agreement_gas.json}"
export ZEPPELIN_HOME="$(mktemp -d /tmp/zeppelin-gas.XXXXXX)"
export ZEPPELIN_RUN_DIR="$ZEPPELIN_HOME/run"
export DEVNET_PORT="${DEVNET_PORT:-$((20000 + RANDOM % 20000))}"
cleanup() {
  bash scripts/market.sh down >/dev/null 2>&1 || true
  bash scripts/services.sh stop >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "agreement_gas: files kept in $ZEPPELIN_HOME" >&2 || rm -rf "$ZEPPELIN_HOME"
}
trap cleanup EXIT

eval "$(bash scripts/services.sh start)"
bash scripts/market.sh up 4 >/dev/null
image="$ZEPPELIN_HOME/web.tar"
bash scripts/make-test-image.sh "$image" >/dev/null

duration=$((PERIODS * PERIOD))
echo "agreement_gas: zeppelin run, ${PERIODS} periods of ${PERIOD} s, 3 verifiers, 4 workers on a devnet" >&2
out=$(zeppelin --json run "$image" --duration "${duration}s" --period "${PERIOD}s" --verifiers 3 \
        --max-price 2gwei/s --probe http:/)
id=$(echo "$out" | grep -o '"id": *[0-9]*' | head -1 | grep -o '[0-9]*$')
[ -n "$id" ] || { echo "agreement_gas: zeppelin run printed no id: $out" >&2; exit 1; }
# It runs its periods, the verifiers report one second after the last, the worker settles and the
# client's node marks it done: the report window (devnet 60 s) bounds the wait when a report is missing.
node bench/agreement_gas.mjs --home "$ZEPPELIN_HOME" --id "$id" --rpc "http://127.0.0.1:$DEVNET_PORT" \
  --wait $((duration + 180)) --json "$GAS_JSON" | tee "$ZEPPELIN_HOME/gas.txt"
echo
echo "The transactions do not depend on the agreement's length up to 1,440 periods (one batch: each"
echo "verifier reports once per batch); a 1-hour agreement (60 periods of 60 s) sends the same ones."
# What this bench promises: every transaction mined, and the money balanced to the wei.
tail -1 "$ZEPPELIN_HOME/gas.txt" | grep -q '"balanced":true' || { echo "agreement_gas: the payments did not balance" >&2; exit 1; }
tail -1 "$ZEPPELIN_HOME/gas.txt" | grep -q '"reverted":0' || { echo "agreement_gas: a transaction reverted" >&2; exit 1; }
