#include "zeppelin/eth/rpc.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::eth {
namespace {

using json = nlohmann::json;

TEST(RpcReply, Result) {
    auto r = parse_reply(R"({"jsonrpc":"2.0","id":7,"result":"0x7a69"})", 7);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "0x7a69");
    auto n = parse_reply(R"({"jsonrpc":"2.0","id":7,"result":null})", 7);
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->is_null());
}

TEST(RpcReply, BadReplies) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "the reply is empty"},
        {"<html>nope</html>", "not JSON (it starts with \"<html>nope</html>\")"},
        {"[1]", "batch"},
        {"42", "not a JSON object"},
        {R"({"id":7,"result":1})", "not JSON-RPC 2.0"},
        {R"({"jsonrpc":"2.0","id":8,"result":1})", "reply id 8 does not match the request id 7"},
        {R"({"jsonrpc":"2.0","id":"7","result":1})", "does not match"},
        {R"({"jsonrpc":"2.0","result":1})", "reply id (missing)"},
        {R"({"jsonrpc":"2.0","id":7})", "neither"},
        {R"({"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1,"message":"x"}})", "both"},
        {R"({"jsonrpc":"2.0","id":7,"error":"bad"})", "not an object"},
        {R"({"jsonrpc":"2.0","id":7,"error":{"message":"x"}})", "lacks an integer code"},
    };
    for (const auto& [body, expect] : cases) {
        auto r = parse_reply(body, 7);
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().code(), Errc::rpc_bad_reply) << body;
        EXPECT_NE(r.error().message().find(expect), std::string::npos) << body << " -> " << r.error().message();
    }
    std::string deep(100000, '[');
    auto d = parse_reply(deep, 1);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code(), Errc::rpc_bad_reply);
}

TEST(RpcReply, ErrorObjects) {
    auto e = parse_reply(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})", 3);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), Errc::rpc_error);
    EXPECT_EQ(e.error().message(), "the node returned error -32700: Parse error");

    // geth/anvil revert: code 3 with the revert data.
    auto r = parse_reply(
        R"({"jsonrpc":"2.0","id":3,"error":{"code":3,"message":"execution reverted: boom","data":"0x08c379a0000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000047a61703f00000000000000000000000000000000000000000000000000000000"}})",
        3);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::reverted);
    EXPECT_EQ(r.error().message(), "execution reverted: zap?");
    auto no_data = parse_reply(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"execution reverted"}})", 3);
    EXPECT_EQ(no_data.error().code(), Errc::reverted);
    EXPECT_EQ(no_data.error().message(), "execution reverted");
}

TEST(RpcJson, Quantities) {
    EXPECT_EQ(json_quantity("0x0", "q").value(), 0);
    EXPECT_EQ(json_quantity("0x7A69", "q").value(), 31337);
    EXPECT_EQ(json_u64("0xffffffffffffffff", "q").value(), 0xffffffffffffffffu);
    for (const json& bad : {json("0x"), json("7a69"), json(12), json("0xg"), json(nullptr), json("0x" + std::string(65, 'f'))})
        EXPECT_EQ(json_quantity(bad, "q").error().code(), Errc::rpc_bad_reply) << bad.dump();
    EXPECT_FALSE(json_u64("0x10000000000000000", "q"));
    EXPECT_TRUE(json_bytes("0x", "b").value().empty());
    EXPECT_FALSE(json_bytes("0x1", "b"));
    EXPECT_FALSE(json_address("0x" + std::string(38, '0'), "a"));
    EXPECT_FALSE(json_hash("0x" + std::string(62, '0'), "h"));
}

TEST(RpcJson, ReceiptLogAndHeader) {
    const auto receipt = json::parse(R"({
      "transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
      "status":"0x1","blockNumber":"0x5","blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
      "transactionIndex":"0x0","from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":null,
      "gasUsed":"0x5208","cumulativeGasUsed":"0x5208","effectiveGasPrice":"0x3b9aca00",
      "contractAddress":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
      "logs":[{"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
               "topics":["0x3333333333333333333333333333333333333333333333333333333333333333"],
               "data":"0x01","blockNumber":"0x5","blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
               "transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
               "transactionIndex":"0x0","logIndex":"0x2","removed":false}]})");
    auto r = parse_receipt(receipt).value();
    EXPECT_TRUE(r.status);
    EXPECT_EQ(r.block_number, 5u);
    EXPECT_EQ(r.gas_used, 21000u);
    EXPECT_EQ(r.effective_gas_price, 1'000'000'000);
    EXPECT_FALSE(r.to);
    ASSERT_TRUE(r.contract_address);
    EXPECT_EQ(to_hex(*r.contract_address), "0x5fbdb2315678afecb367f032d93f642f64180aa3");
    ASSERT_EQ(r.logs.size(), 1u);
    EXPECT_EQ(r.logs[0].log_index, 2u);
    EXPECT_EQ(r.logs[0].data, Bytes{1});

    auto broken = receipt;
    broken.erase("status");
    EXPECT_EQ(parse_receipt(broken).error().code(), Errc::rpc_bad_reply);
    broken = receipt;
    broken["logs"][0]["topics"][0] = "0x12";
    EXPECT_FALSE(parse_receipt(broken));

    const auto block = json::parse(R"({"number":"0x10","hash":"0x2222222222222222222222222222222222222222222222222222222222222222",
      "parentHash":"0x1111111111111111111111111111111111111111111111111111111111111111","timestamp":"0x6543",
      "baseFeePerGas":"0x7","gasLimit":"0x1c9c380","gasUsed":"0x0"})");
    auto h = parse_block_header(block).value();
    EXPECT_EQ(h.number, 16u);
    EXPECT_EQ(h.timestamp, 0x6543u);
    EXPECT_EQ(h.base_fee_per_gas, u256{7});
}

TEST(RpcBlockTag, Text) {
    EXPECT_EQ(BlockTag::number(0).str(), "0x0");
    EXPECT_EQ(BlockTag::number(255).str(), "0xff");
    EXPECT_EQ(BlockTag::pending().str(), "pending");
}

}  // namespace
}  // namespace zeppelin::eth
