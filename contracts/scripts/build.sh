#!/usr/bin/env bash
# Compiles the contracts (not the tests) with solc-js 0.8.28 through the adapter.
# Artifacts consumed by the C++ side (ABI + bytecode, forge's format: .abi, .bytecode.object,
# .deployedBytecode.object), embedded by src/zeppelin/market/CMakeLists.txt:
#   contracts/out/WorkerDispatcherV2.sol/WorkerDispatcherV2.json
#   contracts/out/RegistryModuleV2.sol/RegistryModuleV2.json
set -euo pipefail
cd "$(dirname "$0")/.."
export FOUNDRY_CACHE_PATH="$PWD/cache"
export FOUNDRY_OUT="$PWD/out"
../node_modules/.bin/forge build --offline --use ./scripts/solc-adapter.js --skip test --skip script
ls -l out/WorkerDispatcherV2.sol/WorkerDispatcherV2.json out/RegistryModuleV2.sol/RegistryModuleV2.json
