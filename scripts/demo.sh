#!/usr/bin/env bash
# The main job on the embedded default: a local devnet (anvil) and the local container engine
# (Podman's Docker Engine API). Sets up and builds first, prints what happens as it goes, and
# tears everything down at the end (also on failure or Ctrl-C).
#
#   1. Podman's Docker API service, a devnet with WorkerDispatcher deployed, three worker nodes and
#      a client node (`zeppelin node`, each its own process and account)
#   2. a web-server image built locally
#   3. `zeppelin run` buys an agreement with two verifiers: the worker accepts, receives the image
#      over the encrypted channel, runs it, and the client gets the endpoint; the demo fetches a page
#   4. verifiers probe each period at unpredictable instants (their reports go on chain together,
#      every 10 minutes and when the agreement ends); `zeppelin inspect --summary` shows it, `zeppelin logs`
#      shows the work's output
#   5. `zeppelin stop` ends it early; the worker redeems, the verifiers are paid, the client claims
#      its refund, and the payments add up to the escrow, wei for wei
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
bash scripts/build.sh

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
export ZEPPELIN_HOME="${ZEPPELIN_HOME:-$(mktemp -d /tmp/zeppelin-demo.XXXXXX)}"
export ZEPPELIN_RUN_DIR="$ZEPPELIN_HOME/run"
export DEVNET_PORT="${DEMO_PORT:-18545}"
cleanup() {
  say "Tearing down (nodes, devnet, container engine)"
  bash scripts/market.sh down || true
  bash scripts/services.sh stop || true
}
trap cleanup EXIT

say "Starting the container engine (Podman's Docker Engine API service)"
eval "$(bash scripts/services.sh start)"
echo "engine: $ZEPPELIN_DOCKER_HOST"

say "Starting a devnet, deploying WorkerDispatcher, starting 3 worker nodes and a client node"
bash scripts/market.sh up 3
zeppelin market workers

say "Building a web-server image locally (busybox httpd)"
bash scripts/make-test-image.sh "$ZEPPELIN_HOME/web.tar" >/dev/null
zeppelin image inspect "$ZEPPELIN_HOME/web.tar"

say "zeppelin run: 60 s in 10 s periods, 2 verifiers, at most 2 gwei/s, probed with HTTP GET /"
out=$(zeppelin --json run "$ZEPPELIN_HOME/web.tar" --duration 60s --period 10s --verifiers 2 \
        --max-price 2gwei/s --probe http:/)
id=$(echo "$out" | grep -o '"id":[0-9]*' | cut -d: -f2)
endpoint="$(echo "$out" | grep -o '"host":"[^"]*"' | cut -d'"' -f4):$(echo "$out" | grep -o '"port":[0-9]*' | cut -d: -f2)"
echo "agreement $id is served at http://$endpoint/"
curl -s "http://$endpoint/"
zeppelin ps

say "Verifiers probe at unpredictable times each period (waiting for two periods); they report together at the end"
sleep 22
zeppelin inspect "$id" --summary
echo "--- the work's output, streamed from the worker over the encrypted channel:"
zeppelin logs "$id"

say "Ending it early: begun periods stay billable, the rest goes back to the client"
zeppelin stop "$id"
for _ in $(seq 1 120); do
  zeppelin --json inspect "$id" | grep -q '"balanced": true' && break
  sleep 1
done
zeppelin inspect "$id" --summary
zeppelin market workers

say "Done"
