// The WorkerDispatcher contract artifact, compiled at build time (contracts/scripts/build.sh with
// the pinned forge + solc-js 0.8.28) and embedded into the library by embed_artifact.cmake.
#pragma once

#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::market {

/// {"abi": [...], "bytecode": {"object": "0x..."}, "deployedBytecode": {"object": "0x..."}}
/// (the members of forge's artifact that matter; generated source).
std::string_view worker_dispatcher_artifact_json();

/// The JSON ABI array (text), for eth::RpcClient::add_error_abi and friends.
std::string_view worker_dispatcher_abi_json();
/// The parsed ABI (functions, events, errors). Parsed once; the embedded artifact is checked by
/// the tests, so a failure here is a build defect (it throws zeppelin::Exception).
const eth::abi::JsonAbi& worker_dispatcher_abi();
/// Creation (init) code without constructor arguments.
const Bytes& worker_dispatcher_creation_code();
/// Runtime code as compiled (eth_getCode differs in the immutables the constructor fills in).
const Bytes& worker_dispatcher_runtime_code();

}  // namespace zeppelin::market
