#!/usr/bin/env bash
# The test command: set-up, build, then every test suite against real components.
#   unit + integration + differential tests (CTest; anvil started by the tests, Podman's
#   Docker API service started here), the node API and web dashboard tests (node --test, a real
#   market and headless Chromium), Foundry tests of the contracts, short fuzz runs.
# Idempotent; safe to re-run. Exit code is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

bash scripts/build.sh

eval "$(bash scripts/services.sh start)"
trap 'bash scripts/services.sh stop' EXIT

status=0
echo "== C++ tests (ctest) =="
ctest --test-dir build --output-on-failure -j2 --timeout 900 || status=1

echo "== Dashboard and API tests (node --test) =="
# A real market (scripts/market.sh) in a temporary home, Debian's chromium via playwright-core;
# screenshots in build/web-screenshots/.
node --test tests/web/ || status=1
# The counting proxy of bench/rpc_load.sh (seconds; the bench itself is not run here).
node --test bench/ || status=1

if [ -x contracts/test.sh ]; then
  echo "== Solidity tests (forge) =="
  bash contracts/test.sh || status=1
fi

if [ -x scripts/fuzz.sh ]; then
  echo "== Fuzzing (short run) =="
  FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh || status=1
fi

exit $status
