// The dispatcher's contract artifacts (contracts/src/v2), compiled at build time
// (contracts/scripts/build.sh with the pinned forge + solc-js 0.8.28) and embedded into the library
// by embed_artifact.cmake: each is {"abi": [...], "bytecode": {"object": "0x..."},
// "deployedBytecode": {"object": "0x..."}} (the members of forge's artifact that matter).
#pragma once

#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::market {

// WorkerDispatcherV2's constructor deploys its RegistryModuleV2,
// which runs on the dispatcher's address by delegatecall: the ABI a caller needs is the union of
// the two (the dispatcher's life cycle + the module's registry and views; errors and events are
// shared through IWorkerDispatcherV2).
std::string_view dispatcher_v2_artifact_json();
std::string_view registry_module_v2_artifact_json();
/// The merged ABI (text: one JSON array, for eth::RpcClient::add_error_abi and friends) and its
/// parsed form. Parsed once; the embedded artifact is checked by the tests, so a failure here is a
/// build defect (it throws zeppelin::Exception).
std::string_view dispatcher_v2_abi_json();
const eth::abi::JsonAbi& dispatcher_v2_abi();
/// WorkerDispatcherV2's creation code (without constructor arguments) and runtime code.
const Bytes& dispatcher_v2_creation_code();
const Bytes& dispatcher_v2_runtime_code();

}  // namespace zeppelin::market
