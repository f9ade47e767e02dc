#include "zeppelin/eth/rpc_anvil.hpp"

#include <nlohmann/json.hpp>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::eth::anvil {

using json = nlohmann::json;

Result<void> mine(RpcClient& rpc, std::uint64_t blocks) {
    for (std::uint64_t i = 0; i < blocks; ++i) ZP_CHECK(rpc.request("evm_mine", json::array(), Idempotent::no));
    return {};
}

Result<void> increase_time(RpcClient& rpc, std::uint64_t seconds) {
    ZP_CHECK(rpc.request("evm_increaseTime", json::array({seconds}), Idempotent::no));
    return {};
}

Result<void> set_balance(RpcClient& rpc, const Address& who, const u256& wei) {
    ZP_CHECK(rpc.request("anvil_setBalance", json::array({to_hex(who), to_hex_quantity(wei)})));
    return {};
}

Result<void> set_automine(RpcClient& rpc, bool on) {
    ZP_CHECK(rpc.request("evm_setAutomine", json::array({on})));
    return {};
}

Result<void> set_next_block_base_fee(RpcClient& rpc, const u256& wei) {
    ZP_CHECK(rpc.request("anvil_setNextBlockBaseFeePerGas", json::array({to_hex_quantity(wei)})));
    return {};
}

}  // namespace zeppelin::eth::anvil
