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

// The EIP-155 example transaction (transaction_test.cpp) as eth_getTransactionByHash reports it.
json eip155_example_json() {
    return json::parse(R"({
      "type":"0x0","chainId":"0x1","nonce":"0x9","gasPrice":"0x4a817c800","gas":"0x5208",
      "to":"0x3535353535353535353535353535353535353535","value":"0xde0b6b3a7640000","input":"0x",
      "v":"0x25","r":"0x28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276",
      "s":"0x67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
      "hash":"0x33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788",
      "from":"0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f",
      "blockNumber":null,"blockHash":null,"transactionIndex":null})");
}

// Mainnet 0x0ec0b6a2... (transaction_test.cpp's RealMainnetEip1559), with geth's extra fields.
json mainnet_eip1559_json() {
    return json::parse(R"({
      "type":"0x2","chainId":"0x1","nonce":"0x42","maxPriorityFeePerGas":"0x3b9aca00","maxFeePerGas":"0x4a817c800",
      "gasPrice":"0x4a817c800","gas":"0xad62","to":"0x6069a6c32cf691f5982febae4faf8a6f3ab2f0f6","value":"0x0",
      "input":"0xa22cb4650000000000000000000000005eee75727d804a2b13038928d36f8b188945a57a0000000000000000000000000000000000000000000000000000000000000000",
      "accessList":[],"v":"0x0","yParity":"0x0",
      "r":"0x840cfc572845f5786e702984c2a582528cad4b49b2a10b9db1be7fca90058565",
      "s":"0x25e7109ceb98168d95b09b18bbf6b685130e0562f233877d492b94eee0c5b6d1",
      "hash":"0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0",
      "from":"0xdd6b8b3dc6b7ad97db52f08a275ff4483e024cea",
      "blockNumber":"0x10","blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
      "transactionIndex":"0x3"})");
}

void expect_rejected(const json& tx, std::string_view why, Errc code = Errc::rpc_bad_reply) {
    auto r = parse_transaction(tx);
    ASSERT_FALSE(r) << tx.dump();
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
}

TEST(RpcTransaction, Eip155Legacy) {
    const auto info = parse_transaction(eip155_example_json()).value();
    EXPECT_EQ(info.tx.type, TxType::legacy);
    EXPECT_EQ(info.tx.chain_id, 1u);
    EXPECT_EQ(info.tx.nonce, 9u);
    EXPECT_EQ(info.tx.gas_price, 20'000'000'000u);
    EXPECT_EQ(info.tx.signature->y_parity, 0);
    EXPECT_EQ(to_hex(info.tx.encode().value()),
              "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc"
              "2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a"
              "3b6d83");
    EXPECT_FALSE(info.block_number);
    EXPECT_FALSE(info.block_hash);
    // The signer's public key is the EIP-155 example key's.
    const auto key = PrivateKey::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646").value();
    EXPECT_EQ(recover_sender_public_key(info.tx).value(), key.public_key());

    auto no_chain_field = eip155_example_json();  // the chain id also comes from v
    no_chain_field.erase("chainId");
    no_chain_field.erase("type");
    EXPECT_EQ(parse_transaction(no_chain_field).value().tx, info.tx);
}

TEST(RpcTransaction, MainnetEip1559) {
    const auto info = parse_transaction(mainnet_eip1559_json()).value();
    EXPECT_EQ(info.tx.type, TxType::dynamic_fee);
    EXPECT_EQ(info.tx.max_fee_per_gas, u256{0x4a817c800});
    EXPECT_EQ(info.tx.max_priority_fee_per_gas, u256{0x3b9aca00});
    EXPECT_EQ(info.tx.gas_price, 0);  // the reported effective price is not a signed field
    EXPECT_EQ(info.tx.data.size(), 68u);
    EXPECT_EQ(info.block_number, 16u);
    EXPECT_EQ(info.transaction_index, 3u);
    EXPECT_EQ(public_key_to_address(recover_sender_public_key(info.tx).value()), info.from);
    // yParity alone, or v alone, is enough.
    auto only_v = mainnet_eip1559_json();
    only_v.erase("yParity");
    EXPECT_EQ(parse_transaction(only_v).value().tx, info.tx);
    auto only_parity = mainnet_eip1559_json();
    only_parity.erase("v");
    EXPECT_EQ(parse_transaction(only_parity).value().tx, info.tx);
}

TEST(RpcTransaction, AccessListType1AndCreation) {
    const auto key = PrivateKey::from_hex("0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").value();
    Transaction tx;
    tx.type = TxType::access_list;
    tx.chain_id = 31337;
    tx.nonce = 3;
    tx.gas_price = 7'000'000'000u;
    tx.gas_limit = 100'000;
    tx.data = from_hex("0x6080604052").value();
    Address a;
    a[19] = 0x11;
    Hash32 k;
    k[31] = 0x22;
    tx.access_list = {{a, {k, Hash32{}}}, {Address{}, {}}};
    ASSERT_TRUE(sign_transaction(tx, key));
    json j = {{"type", "0x1"}, {"chainId", "0x7a69"}, {"nonce", "0x3"}, {"gasPrice", to_hex_quantity(tx.gas_price)},
              {"gas", "0x186a0"}, {"to", nullptr}, {"value", "0x0"}, {"input", "0x6080604052"},
              {"accessList", {{{"address", to_hex(a)}, {"storageKeys", {to_hex(k), to_hex(Hash32{})}}},
                              {{"address", to_hex(Address{})}, {"storageKeys", json::array()}}}},
              {"yParity", to_hex_quantity(tx.signature->y_parity)},
              {"r", to_hex_quantity(from_be(tx.signature->r.view()).value())},
              {"s", to_hex_quantity(from_be(tx.signature->s.view()).value())},
              {"hash", to_hex(tx.hash().value())}, {"from", to_hex(key.address())}};
    const auto info = parse_transaction(j).value();
    EXPECT_EQ(info.tx, tx);
    EXPECT_FALSE(info.tx.to);
    EXPECT_EQ(recover_sender_public_key(info.tx).value(), key.public_key());
    j["accessList"][0]["storageKeys"].erase(1);
    expect_rejected(j, "transaction fields do not hash to " + to_hex(info.hash));
}

TEST(RpcTransaction, TamperedFieldsAreRejected) {
    const auto legacy = eip155_example_json();
    const auto typed = mainnet_eip1559_json();
    const std::string legacy_hash = legacy["hash"];
    const std::string typed_hash = typed["hash"];
    auto with = [](json j, const char* field, json value) {
        j[field] = std::move(value);
        return j;
    };
    // A lying node changes what was signed: the fields no longer hash to the hash it reports.
    expect_rejected(with(legacy, "value", "0xde0b6b3a7640001"), "transaction fields do not hash to " + legacy_hash);
    expect_rejected(with(legacy, "to", "0x3535353535353535353535353535353535353536"), "do not hash to");
    expect_rejected(with(legacy, "v", "0x26"), "do not hash to");
    expect_rejected(with(legacy, "v", "0x1b"), "do not hash to");  // pre-EIP-155 claims
    expect_rejected(with(typed, "input", "0x"), "transaction fields do not hash to " + typed_hash);
    expect_rejected(with(typed, "maxFeePerGas", "0x4a817c801"), "do not hash to");
    expect_rejected(with(typed, "accessList", json::array({{{"address", to_hex(Address{})}, {"storageKeys", json::array()}}})),
                    "do not hash to");
    expect_rejected(with(typed, "hash", "0x" + std::string(64, '1')), "do not hash to 0x1111");
    // ... or claims another sender.
    expect_rejected(with(typed, "from", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"), "was signed by");
    // Inconsistent or malformed signature fields.
    expect_rejected(with(typed, "yParity", "0x1"), "yParity 1 does not match v 0");
    expect_rejected(with(typed, "v", "0x2"), "does not match v 2");
    expect_rejected(with(with(typed, "v", "0x2"), "yParity", "0x2"), "neither 0 nor 1");
    expect_rejected(with(legacy, "chainId", "0x2"), "chainId 2 does not match the signature's v 37");
    expect_rejected(with(legacy, "v", "0x1c1"), "chainId 1 does not match the signature's v 449");
    expect_rejected(with(legacy, "v", "0x1"), "legacy signature v must be 27, 28");
    auto no_r = typed;
    no_r.erase("r");
    expect_rejected(no_r, "missing field \"r\"");
    auto no_chain = typed;
    no_chain.erase("chainId");
    expect_rejected(no_chain, "missing field \"chainId\"");
    expect_rejected(with(typed, "nonce", 66), "nonce is not a hex quantity string");
    expect_rejected(json::array(), "not a JSON object");
    // Transaction types this library cannot encode.
    expect_rejected(with(typed, "type", "0x3"), "transaction type 3 is not supported", Errc::unsupported);
    expect_rejected(with(typed, "type", "0x7e"), "transaction type 126 is not supported", Errc::unsupported);
}

TEST(RpcBlockTag, Text) {
    EXPECT_EQ(BlockTag::number(0).str(), "0x0");
    EXPECT_EQ(BlockTag::number(255).str(), "0xff");
    EXPECT_EQ(BlockTag::pending().str(), "pending");
}

}  // namespace
}  // namespace zeppelin::eth
