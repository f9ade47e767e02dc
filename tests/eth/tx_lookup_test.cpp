// eth_getTransactionByHash against a real anvil: every transaction type read back exactly as
// signed, the signer's public key recovered from it (how a worker learns a client's encryption
// key from the client's transaction), pending and unknown transactions, and tampered replies.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "accounts.hpp"
#include "anvil.hpp"
#include "store_contract.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/eth/transaction.hpp"

namespace zeppelin::eth {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test::account;
using test::Anvil;
using test::key;

// Signs `tx` with `signer`, sends it and waits until it is mined; returns its hash.
Hash32 send_signed(RpcClient& rpc, Transaction& tx, const PrivateKey& signer) {
    EXPECT_TRUE(sign_transaction(tx, signer));
    const auto hash = rpc.send_raw_transaction(tx.encode().value());
    EXPECT_TRUE(hash) << hash.error().message();
    EXPECT_TRUE(rpc.wait_for_receipt(hash.value(), 1, 20ms, 10s));
    return hash.value();
}

// Reads `hash` back and checks it is `tx` from `signer`, mined. anvil may still answer from its
// pool (no block yet) for a moment after the receipt appeared, so this polls for the block.
void expect_read_back(RpcClient& rpc, const Hash32& hash, const Transaction& tx, const PrivateKey& signer) {
    auto info = rpc.get_transaction(hash);
    for (int i = 0; i < 100 && info && info->has_value() && !(*info)->block_number; ++i) {
        std::this_thread::sleep_for(20ms);
        info = rpc.get_transaction(hash);
    }
    ASSERT_TRUE(info) << info.error().message();
    ASSERT_TRUE(info->has_value());
    EXPECT_EQ((*info)->tx, tx);
    EXPECT_EQ((*info)->hash, hash);
    EXPECT_EQ((*info)->from, signer.address());
    const auto receipt = rpc.get_transaction_receipt(hash).value().value();
    EXPECT_EQ((*info)->block_number, receipt.block_number);
    EXPECT_EQ((*info)->block_hash, receipt.block_hash);
    EXPECT_EQ((*info)->transaction_index, receipt.transaction_index);
    EXPECT_EQ(recover_sender_public_key((*info)->tx).value(), signer.public_key());
}

TEST(TxLookup, EveryTypeReadsBackAsSignedAndYieldsTheSignersPublicKey) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();

    // Type 2 through the sender: a client's call with data.
    auto sender = TxSender::create(*rpc, key(1), test::fast_options()).value();
    auto sent = sender->send(TxRequest{account(2), 5, from_hex("0xdeadbeef").value(), std::nullopt});
    ASSERT_TRUE(sent) << sent.error().message();
    auto info = rpc->get_transaction(sent->receipt.transaction_hash).value().value();
    EXPECT_EQ(info.from, account(1));
    EXPECT_EQ(info.tx.type, TxType::dynamic_fee);
    EXPECT_EQ(info.tx.data, from_hex("0xdeadbeef").value());
    EXPECT_EQ(info.tx.max_fee_per_gas, sent->max_fee_per_gas);
    // The worker's view: the client's public key, from nothing but the transaction hash.
    const PublicKey client_key = recover_sender_public_key(info.tx).value();
    EXPECT_EQ(client_key, key(1).public_key());
    EXPECT_EQ(public_key_to_address(client_key), account(1));
    expect_read_back(*rpc, sent->receipt.transaction_hash, info.tx, key(1));

    // Type 2 contract creation (no recipient).
    auto created = sender->send(TxRequest{std::nullopt, 0, from_hex(test::kStoreBytecode).value(), std::nullopt});
    ASSERT_TRUE(created) << created.error().message();
    info = rpc->get_transaction(created->receipt.transaction_hash).value().value();
    EXPECT_FALSE(info.tx.to);
    EXPECT_EQ(recover_sender_public_key(info.tx).value(), key(1).public_key());

    // Legacy with EIP-155 replay protection.
    Transaction legacy;
    legacy.type = TxType::legacy;
    legacy.chain_id = test::kAnvilChainId;
    legacy.nonce = 0;
    legacy.gas_price = 10'000'000'000u;
    legacy.gas_limit = 21000;
    legacy.to = account(3);
    legacy.value = 1;
    expect_read_back(*rpc, send_signed(*rpc, legacy, key(2)), legacy, key(2));

    // Legacy without replay protection (v = 27/28).
    Transaction unprotected = legacy;
    unprotected.chain_id.reset();
    unprotected.nonce = 1;
    expect_read_back(*rpc, send_signed(*rpc, unprotected, key(2)), unprotected, key(2));

    // Type 1 with an access list.
    Transaction type1 = legacy;
    type1.type = TxType::access_list;
    type1.nonce = 2;
    type1.gas_limit = 60000;
    Hash32 slot;
    slot[31] = 7;
    type1.access_list = {{account(3), {slot, Hash32{}}}};
    expect_read_back(*rpc, send_signed(*rpc, type1, key(2)), type1, key(2));

    // A hash the node never saw.
    Hash32 unknown;
    unknown[0] = 0x42;
    EXPECT_EQ(rpc->get_transaction(unknown).value(), std::nullopt);
}

TEST(TxLookup, PendingTransactionHasNoBlockYet) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(anvil::set_automine(*rpc, false));
    Transaction tx;
    tx.chain_id = test::kAnvilChainId;
    tx.max_priority_fee_per_gas = 1'000'000'000u;
    tx.max_fee_per_gas = 10'000'000'000u;
    tx.gas_limit = 21000;
    tx.to = account(1);
    ASSERT_TRUE(sign_transaction(tx, key(0)));
    const auto hash = rpc->send_raw_transaction(tx.encode().value()).value();
    auto pending = rpc->get_transaction(hash).value().value();
    EXPECT_EQ(pending.tx, tx);
    EXPECT_FALSE(pending.block_number);
    EXPECT_FALSE(pending.block_hash);
    EXPECT_EQ(recover_sender_public_key(pending.tx).value(), key(0).public_key());
    ASSERT_TRUE(anvil::mine(*rpc));
    EXPECT_EQ(rpc->get_transaction(hash).value().value().block_number, 1u);
}

TEST(TxLookup, TamperedReplyIsRejected) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), test::fast_options()).value();
    auto sent = sender->send(TxRequest{account(1), 1000, {}, std::nullopt});
    ASSERT_TRUE(sent) << sent.error().message();
    const auto hash = sent->receipt.transaction_hash;
    // anvil's own JSON, as is and altered the way a lying node would.
    const json real = rpc->request("eth_getTransactionByHash", json::array({to_hex(hash)})).value();
    ASSERT_TRUE(parse_transaction(real)) << real.dump();
    const std::pair<const char*, json> lies[] = {
        {"value", "0x3e9"},
        {"to", to_hex(account(2))},
        {"maxFeePerGas", "0x1"},
        {"input", "0x00"},
        {"r", "0x1"},
        {"from", to_hex(account(2))},
    };
    for (const auto& [field, value] : lies) {
        json lie = real;
        lie[field] = value;
        auto r = parse_transaction(lie);
        ASSERT_FALSE(r) << field;
        EXPECT_EQ(r.error().code(), Errc::rpc_bad_reply) << r.error().message();
        const bool caught = r.error().message().find("transaction fields do not hash to " + to_hex(hash)) != std::string::npos ||
                            r.error().message().find("was signed by") != std::string::npos;
        EXPECT_TRUE(caught) << field << ": " << r.error().message();
    }
}

}  // namespace
}  // namespace zeppelin::eth
