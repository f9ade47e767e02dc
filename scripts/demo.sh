#!/usr/bin/env bash
# The main job on the embedded default: a local devnet (anvil) and the local container engine
# (Podman's Docker Engine API). Sets up and builds first, prints what happens as it goes, and
# tears everything down at the end (also on failure or Ctrl-C).
#
#   1. Podman's Docker API service, a devnet with WorkerDispatcher (protocol v2) deployed, four
#      worker nodes and a client node (`zeppelin node`, each its own process and account)
#   2. a web-server image built locally
#   3. `zeppelin run` buys an agreement with three verifiers: the contract draws the worker at random
#      among those at or below the price; it accepts, receives the image over the encrypted channel,
#      checks its own service against the client's probe spec, starts, and the client gets the
#      endpoint; the demo fetches a page
#   4. verifiers (drawn when it starts) probe each period at unpredictable instants and report once,
#      one second after the batch's last period; `zeppelin inspect --summary` shows it,
#      `zeppelin logs` shows the work's output
#   5. `zeppelin stop` ends it early; the verifiers report the periods begun, the worker settles
#      (its pay goes into its stake, the verifiers are paid, the client's refund goes back to its
#      wallet in the same transaction), and the payments add up to the escrow, wei for wei
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

say "Starting a devnet, deploying WorkerDispatcher v2, starting 4 worker nodes and a client node"
bash scripts/market.sh up 4
zeppelin market workers

say "Building a web-server image locally (busybox httpd)"
bash scripts/make-test-image.sh "$ZEPPELIN_HOME/web.tar" >/dev/null
zeppelin image inspect "$ZEPPELIN_HOME/web.tar"

say "zeppelin run: 60 s in 10 s periods, 3 verifiers, at most 2 gwei/s, probed with HTTP GET /"
out=$(zeppelin --json run "$ZEPPELIN_HOME/web.tar" --duration 60s --period 10s --verifiers 3 \
        --max-price 2gwei/s --probe http:/)
id=$(echo "$out" | grep -o '"id":[0-9]*' | cut -d: -f2)
endpoint="$(echo "$out" | grep -o '"host":"[^"]*"' | cut -d'"' -f4):$(echo "$out" | grep -o '"port":[0-9]*' | cut -d: -f2)"
echo "agreement $id is served at http://$endpoint/"
curl -s "http://$endpoint/"
zeppelin ps

say "Verifiers probe at unpredictable times each period (waiting for two periods); they report once, after the last"
sleep 22
zeppelin inspect "$id" --summary
echo "--- the work's output, streamed from the worker over the encrypted channel:"
zeppelin logs "$id"

say "Ending it early: begun periods stay billable, the rest goes back to the client"
zeppelin stop "$id"
balanced=""
for _ in $(seq 1 180); do
  zeppelin --json inspect "$id" | grep -q '"balanced": true' && { balanced=1; break; }
  sleep 1
done
zeppelin inspect "$id" --summary
[ -n "$balanced" ] || { echo "demo: the payments of agreement $id did not balance within 180 s" >&2; exit 1; }
zeppelin market workers

say "Done"
