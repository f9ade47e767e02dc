#!/usr/bin/env bash
# The main job on the embedded default: a local devnet (anvil) and the local container engine
# (Podman's Docker Engine API). Sets up and builds first, prints what happens as it goes, and
# tears everything down at the end (also on failure or Ctrl-C).
#
# What it shows today (the node daemon and `zeppelin run` are not built yet, see issue 5):
#   1. Podman's Docker API service and a devnet with WorkerDispatcher deployed (`zeppelin devnet up`)
#   2. a web-server image built locally and its on-chain identity (config digest)
#   3. a complete agreement on chain with real transactions: 9 workers register, a client buys a
#      1-hour job with 3 verifiers, the worker accepts and starts, verifiers report, the worker
#      redeems, the client claims its refund, each step's gas printed
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
bash scripts/build.sh

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
export ZEPPELIN_HOME="${ZEPPELIN_HOME:-$(mktemp -d /tmp/zeppelin-demo.XXXXXX)}"
export ZEPPELIN_RUN_DIR="$ZEPPELIN_HOME/run"
PORT="${DEMO_PORT:-18545}"
cleanup() {
  say "Tearing down"
  zeppelin devnet down >/dev/null 2>&1 || true
  bash scripts/services.sh stop || true
}
trap cleanup EXIT

say "Starting the container engine (Podman's Docker Engine API service)"
eval "$(bash scripts/services.sh start)"
echo "engine: $ZEPPELIN_DOCKER_HOST"

say "Starting a local devnet and deploying WorkerDispatcher"
zeppelin devnet up --port "$PORT"

say "Building a web-server image locally (busybox httpd) and computing its on-chain identity"
bash scripts/make-test-image.sh "$ZEPPELIN_HOME/web.tar" >/dev/null
zeppelin image inspect "$ZEPPELIN_HOME/web.tar"

say "A complete agreement on chain: register, buy (1 h, 3 verifiers), accept, start, verify, redeem, refund"
bash contracts/scripts/anvil-lifecycle.sh 3600

say "Done"
