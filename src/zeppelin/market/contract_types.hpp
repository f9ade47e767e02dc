// What the dispatcher's bindings (dispatcher_v2.hpp) and their users share beyond the protocol's
// own types: a worker's offer as registerWorker / updateWorker take it, the outcome of a simulated
// call (eth_call with the contract's revert decoded), and the receipt of a deployment.
// Money is u256 wei; ids and times std::uint64_t.
#pragma once

#include <cstdint>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/revert.hpp"
#include "zeppelin/eth/rpc.hpp"

namespace zeppelin::market {

/// A worker's offer (registerWorker / updateWorker; WorkerRegistered / WorkerUpdated carry it).
struct WorkerOffer {
    std::uint64_t price_per_second{0};  // wei
    std::uint32_t max_duration{0};      // seconds
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    Bytes public_key;  // 64 bytes: uncompressed secp256k1 x || y
    bool operator==(const WorkerOffer&) const = default;
};

/// The result of simulating a call: return data, or the decoded revert.
struct CallOutcome {
    bool reverted{false};
    Bytes output;       // when !reverted
    eth::Revert revert;  // when reverted
};

/// eth_call of `data` to `to` from `from` with `value`, judged at the "pending" block: the output,
/// or the revert decoded with `decoder` (typed: error name + arguments). Errors only for transport
/// and node failures.
Result<CallOutcome> simulate_call(eth::RpcClient& rpc, const Address& to, const Address& from, ByteView data,
                                  const u256& value, const eth::RevertDecoder& decoder);

/// A contract deployed and its code checked (v2::deploy).
struct Deployed {
    Address address{};
    std::uint64_t block_number{0};
    Hash32 transaction_hash{};
    std::uint64_t gas_used{0};
};

}  // namespace zeppelin::market
