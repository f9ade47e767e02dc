#!/usr/bin/env bash
# The newcomer's tour (issue 14), checked: a devnet, four workers and a client node, then
# `zeppelin` as a person new to it types it, mistakes included. Every step names the exit code it
# expects and words its message must hold; the tour fails on the first difference it finds and
# says which step, the command, and what came out.
#
#   bash scripts/tour.sh            # needs the container engine: eval "$(bash scripts/services.sh start)"
#
# The ctest entry `zeppelin_tour` runs it (skipped, exit 77, without ZEPPELIN_DOCKER_HOST).
# ZEPPELIN: the binary (default: `zeppelin` on PATH). Files go under $ZEPPELIN_HOME (a temporary
# directory by default), torn down at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ZEPPELIN_DOCKER_HOST:-}" ]; then
  echo "tour: skipped: needs the container engine (eval \"\$(bash scripts/services.sh start)\")" >&2
  exit 77
fi
ZEPPELIN="${ZEPPELIN:-zeppelin}"
export ZEPPELIN
own_home=""
if [ -z "${ZEPPELIN_HOME:-}" ]; then own_home=$(mktemp -d /tmp/zeppelin-tour.XXXXXX); fi
export ZEPPELIN_HOME="${ZEPPELIN_HOME:-$own_home}"
export DEVNET_PORT="${DEVNET_PORT:-$((20000 + RANDOM % 20000))}"
export ZEPPELIN_NODE_DIR="$ZEPPELIN_HOME/node"
cleanup() {
  bash scripts/market.sh down >/dev/null 2>&1 || true
  [ -z "$own_home" ] || rm -rf "$own_home"
}
trap cleanup EXIT

steps=0
out="$ZEPPELIN_HOME/out.txt" err="$ZEPPELIN_HOME/err.txt"
# expect CODE "words the output must hold" -- command...: runs it; stdout and stderr both count.
expect() {
  local code="$1" words="$2"; shift 3
  steps=$((steps + 1))
  "$@" >"$out" 2>"$err"
  local got=$?
  if [ "$got" -ne "$code" ] || ! grep -qF -- "$words" "$out" "$err"; then
    echo "not ok $steps - $*" >&2
    echo "  expected exit $code and \"$words\"; got exit $got" >&2
    sed 's/^/  stdout: /' "$out" >&2
    sed 's/^/  stderr: /' "$err" >&2
    exit 1
  fi
  echo "ok $steps - $* => exit $got: $(grep -hF -- "$words" "$out" "$err" | head -1 | cut -c1-150)"
}
z() { "$ZEPPELIN" "$@"; }

echo "# a market: a devnet, four workers at 1 gwei/s (4000 millicores, 4096 MB), a client node"
bash scripts/market.sh up 4 >/dev/null || { echo "tour: the market did not come up" >&2; exit 1; }
image="$ZEPPELIN_HOME/web.tar"
bash scripts/make-test-image.sh "$image" >/dev/null

echo "# looking around"
expect 0 "active" -- z market workers
expect 0 "running" -- z devnet status
expect 2 "image is required" -- z run
expect 2 "'frobnicate' is not a zeppelin command; the commands are util, wallet" -- z frobnicate
expect 0 "complete -o default" -- z completion bash

echo "# buying, wrong at first: each refusal before anything is sent, with what to change"
expect 1 "raise --max-price to at least 1 gwei/s" -- z run -d "$image" --duration 60s --period 10s --max-price 0.5gwei/s
expect 1 "the duration, 95 s, is not a whole number of 10 s periods: use a duration of 100 s or 90 s" -- \
  z run -d "$image" --duration 95s --period 10s
expect 1 "the period is 5 s; the contract needs at least 10 s" -- z run -d "$image" --duration 60s --period 5s
expect 1 "the duration is 0: ask for at least one period" -- z run -d "$image" --duration 0 --period 10s
expect 1 "1 worker and 5 verifiers need 6 active workers other than yours; the market has 4: ask for at most 3 verifiers" -- \
  z run -d "$image" --duration 60s --period 10s --verifiers 5
expect 1 "2 verifiers asked for; the contract takes from 3 to 5" -- z run -d "$image" --duration 60s --period 10s --verifiers 2
expect 1 "4 verifiers cannot form a majority; the contract takes an odd number: ask for 5" -- \
  z run -d "$image" --duration 60s --period 10s --verifiers 4
expect 2 "--worker" -- z run -d "$image" --duration 60s --period 10s --worker 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
expect 1 "the image does not expose port 80; it exposes 8080: use --port 8080" -- \
  z run -d "$image" --duration 60s --period 10s --port 80
expect 1 "no active worker offers 8000 millicores" -- z run -d "$image" --duration 60s --period 10s --cpu 8000
expect 1 "your account holds" -- z run -d "$image" --duration 1d --period 60s --max-price 18ether/s
expect 1 "no image archive at ./web.tar" -- z run -d ./web.tar --duration 60s --period 10s
echo "# values that cannot be read are usage errors (exit 2), said before the node is asked"
expect 2 "--duration: \"soon\" is not a duration (like 90s, 15m, 1h, 2d)" -- z run -d "$image" --duration soon
expect 2 "--max-price: unknown unit \"dollars\"" -- z run -d "$image" --duration 60s --period 10s --max-price 2dollars/s
expect 2 "--memory: \"lots\" is not a size (like 256m, 1g)" -- z run -d "$image" --duration 60s --period 10s --memory lots
expect 2 "--tail: \"many\" is not a number of lines" -- z logs 1 --tail many
expect 0 "0" -- sh -c "[ \"\$($ZEPPELIN --json market agreements)\" = '[]' ] && echo 0"

echo "# then right: the escrow first, then the purchase"
expect 0 "would escrow 138 gwei; the cheapest of 4 eligible workers is worker" -- \
  z run --dry-run "$image" --duration 60s --period 10s --max-price 2gwei/s
expect 0 "escrowed; the worker is drawn among those at or below 2 gwei/s" -- z run -d "$image" --duration 60s --period 10s --max-price 2gwei/s --probe http:/
id=$(head -1 "$out")
for _ in $(seq 1 600); do
  z ps | grep -q "^$id .*running" && break
  sleep 0.2
done
expect 0 "running" -- z ps
expect 0 "\"state\": \"running\"" -- z ps --json
expect 0 "zeppelin test server on :8080" -- z logs "$id"

echo "# stopping: 'stopping' until it settles, then the money accounted for"
expect 0 '"state": "stopping"' -- z stop "$id" --json
# ps no longer says "running": "stopping" until the begun period ends (at once when the stop fell
# on a period's end, to the second of the chain's clock: then it is already "done").
expect 0 "not running" -- sh -c "$ZEPPELIN ps -a | grep -qE '^$id +client +(stopping|done) ' && echo 'not running'"
for _ in $(seq 1 900); do
  z ps -a | grep -q "^$id .*done" && break
  sleep 0.2
done
expect 0 "done" -- z ps -a
for _ in $(seq 1 300); do
  z inspect "$id" --summary | grep -q "every wei of the escrow is accounted for" && break
  sleep 0.2
done
expect 0 "every wei of the escrow is accounted for" -- z inspect "$id" --summary
expect 1 "is already settled" -- z stop "$id"

echo "# mistakes with ids and accounts"
expect 1 "agreement 999" -- z logs 999
expect 2 "Could not convert: id = notanumber" -- z inspect notanumber
unfunded=$("$ZEPPELIN" util keccak "zeppelin tour unfunded account")
expect 1 "holds 0 wei; this needs 1." -- env ZP_TOUR_KEY="$unfunded" "$ZEPPELIN" node --data-dir "$ZEPPELIN_HOME/unfunded" \
  --private-key-env ZP_TOUR_KEY --price 1gwei

echo "# the tour: $steps steps, each with its exit code and words"
