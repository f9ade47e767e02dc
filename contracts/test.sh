#!/usr/bin/env bash
# Runs the whole Foundry suite of the contracts (src/v2, test/v2) offline, compiling with solc-js through
# scripts/solc-adapter.js: unit, registry, attack, fuzz, fairness, simulation and gas tests, then the invariant
# contract. `forge snapshot --check` runs the tests and also compares the gas of each test with the committed
# .gas-snapshot (1% tolerance). Exit code non-zero on failure.
# Regenerate the snapshot after an intended change:  forge snapshot --offline --use ./scripts/solc-adapter.js --nmc InvariantTest
set -euo pipefail
cd "$(dirname "$0")"
FORGE=../node_modules/.bin/forge
if [ ! -x "$FORGE" ] || [ ! -d ../node_modules/solc ]; then
  echo "contracts/test.sh: node_modules missing (run scripts/setup.sh)" >&2
  exit 1
fi
# Keep forge's caches inside contracts/ (cache/ and out/ are git-ignored), whatever HOME is.
export FOUNDRY_CACHE_PATH="$PWD/cache"
export FOUNDRY_OUT="$PWD/out"
export HOME="${HOME:-$PWD/cache/home}"
ADAPTER=./scripts/solc-adapter.js
status=0
# Everything but the invariants, checked against the committed snapshot. (Invariant runs have no stable
# gas figure for forge to compare, so they run separately below.)
"$FORGE" snapshot --offline --use "$ADAPTER" --check .gas-snapshot --tolerance 1 --nmc InvariantTest || status=1
"$FORGE" test --offline --use "$ADAPTER" --mc InvariantTest || status=1
exit $status
