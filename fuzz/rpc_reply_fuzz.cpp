// JSON-RPC reply parser fuzz target. Properties: any bytes are either rejected with an Error or
// accepted; never a crash, hang or exception. An accepted reply's result round-trips: wrapped
// into a fresh reply and parsed again it serializes identically. Typed decoders (receipt, log, block header,
// quantities, transactions) run on whatever result came out and must not crash either; a parsed
// transaction's fields hash to the hash it claims.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "zeppelin/eth/rpc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    namespace eth = zeppelin::eth;
    const std::string_view body{reinterpret_cast<const char*>(data), size};
    static const eth::RevertDecoder decoder = [] {
        eth::RevertDecoder d;
        (void)d.add_signature("error TooLarge(uint256 value, uint256 max)");
        (void)d.add_signature("error Named(string who, bytes data, address[] list)");
        return d;
    }();
    auto r = eth::parse_reply(body, 1, &decoder);
    if (!r) {
        if (r.error().message().empty()) std::abort();  // every error explains itself
        return 0;
    }
    const json& result = *r;
    const json again_reply = {{"jsonrpc", "2.0"}, {"id", 1}, {"result", result}};
    auto again = eth::parse_reply(again_reply.dump(), 1, &decoder);
    // Compared as text: a number too large for a double parses as infinity and prints as null.
    if (!again || again->dump() != result.dump()) std::abort();

    (void)eth::json_quantity(result, "q");
    (void)eth::json_bytes(result, "b");
    (void)eth::parse_receipt(result);
    (void)eth::parse_log(result);
    (void)eth::parse_block_header(result);
    // A transaction read back is accepted only if its fields hash to the hash it claims.
    if (auto tx = eth::parse_transaction(result)) {
        const auto hash = tx->tx.hash();
        if (!hash || *hash != tx->hash) std::abort();
    }
    if (result.is_array())
        for (const auto& item : result) (void)eth::parse_log(item);
    return 0;
}
