// Test and devnet helpers for anvil's non-standard RPC methods (evm_*, anvil_*). None of
// these is retried after a request reached the node (mining twice is not the same as once).
#pragma once

#include <cstdint>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/rpc.hpp"

namespace zeppelin::eth::anvil {

/// Mines `blocks` blocks (evm_mine once per block).
Result<void> mine(RpcClient& rpc, std::uint64_t blocks = 1);
/// Moves the clock of the next block forward; returns the total offset anvil reports.
Result<void> increase_time(RpcClient& rpc, std::uint64_t seconds);
Result<void> set_balance(RpcClient& rpc, const Address& who, const u256& wei);
/// Turns mining on every transaction on or off (off: transactions wait in the pool for mine()).
Result<void> set_automine(RpcClient& rpc, bool on);
Result<void> set_next_block_base_fee(RpcClient& rpc, const u256& wei);

}  // namespace zeppelin::eth::anvil
