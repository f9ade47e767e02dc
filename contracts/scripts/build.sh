#!/usr/bin/env bash
# Compiles the contracts (not the tests) with solc-js 0.8.28 through the adapter.
# Artifact consumed by the C++ side (ABI + bytecode, forge's format):
#   contracts/out/WorkerDispatcher.sol/WorkerDispatcher.json   (.abi, .bytecode.object, .deployedBytecode.object)
set -euo pipefail
cd "$(dirname "$0")/.."
export FOUNDRY_CACHE_PATH="$PWD/cache"
export FOUNDRY_OUT="$PWD/out"
../node_modules/.bin/forge build --offline --use ./scripts/solc-adapter.js --skip test --skip script
ls -l out/WorkerDispatcher.sol/WorkerDispatcher.json
