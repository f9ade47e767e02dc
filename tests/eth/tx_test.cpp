// Transactions against a real anvil: send ETH through the sender (signed locally), deploy and
// call a contract, read and decode its events, decode every kind of revert, concurrent
// senders from one account, and a stuck transaction replaced with bumped fees.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "accounts.hpp"
#include "anvil.hpp"
#include "store_contract.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"

namespace zeppelin::eth {
namespace {

using namespace std::chrono_literals;
using test::account;
using test::Anvil;
using test::fast_options;
using test::key;

Hash32 address_topic(const Address& a) {  // an indexed address: left-padded to 32 bytes
    Hash32 t;
    std::copy(a.begin(), a.end(), t.begin() + 12);
    return t;
}

Bytes calldata(std::string_view signature, std::vector<abi::Value> args) {
    const auto fn = abi::parse_function(signature).value();
    return abi::encode_call(fn, args).value();
}

TEST(Tx, SendEtherSignedLocallyThroughTheSender) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();
    ASSERT_EQ(sender->from(), account(0));

    const u256 before0 = rpc->get_balance(account(0)).value();
    const u256 before1 = rpc->get_balance(account(1)).value();
    const u256 amount = parse_amount("1.5ether").value();
    auto sent = sender->send(TxRequest{account(1), amount, {}, std::nullopt});
    ASSERT_TRUE(sent) << sent.error().message();
    const auto& r = sent->receipt;
    EXPECT_TRUE(r.status);
    EXPECT_EQ(r.from, account(0));
    EXPECT_EQ(r.to, account(1));
    EXPECT_EQ(r.gas_used, 21000u);
    EXPECT_EQ(sent->nonce, 0u);
    EXPECT_EQ(sent->replacements, 0u);
    EXPECT_EQ(rpc->get_balance(account(1)).value(), before1 + amount);
    EXPECT_EQ(rpc->get_balance(account(0)).value(), before0 - amount - u256{r.gas_used} * r.effective_gas_price);
    EXPECT_EQ(rpc->get_transaction_count(account(0)).value(), 1u);

    // The same raw transaction sent again is recognized as already known / mined: success.
    Transaction tx;
    tx.chain_id = test::kAnvilChainId;
    tx.nonce = 1;
    tx.max_priority_fee_per_gas = 1'000'000'000;
    tx.max_fee_per_gas = 10'000'000'000;
    tx.gas_limit = 21000;
    tx.to = account(2);
    tx.value = 1;
    auto signed_tx = make_key_signer(key(0))(tx).value();
    EXPECT_EQ(rpc->send_raw_transaction(signed_tx.raw).value(), signed_tx.hash);
    auto again = rpc->send_raw_transaction(signed_tx.raw);  // now "nonce too low", same hash
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, signed_tx.hash);
    auto receipt = rpc->wait_for_receipt(signed_tx.hash, 1, 20ms, 10s);
    ASSERT_TRUE(receipt) << receipt.error().message();

    // Confirmations: wait for 3 while blocks are mined in the background.
    std::thread miner{[&] {
        for (int i = 0; i < 3; ++i) {
            std::this_thread::sleep_for(50ms);
            ASSERT_TRUE(anvil::mine(*rpc));
        }
    }};
    auto confirmed = rpc->wait_for_receipt(signed_tx.hash, 3, 20ms, 10s);
    miner.join();
    ASSERT_TRUE(confirmed) << confirmed.error().message();
    EXPECT_GE(rpc->block_number().value(), confirmed->block_number + 2);
    // A transaction nobody sent times out clearly.
    auto never = rpc->wait_for_receipt(Hash32{}, 1, 20ms, 100ms);
    ASSERT_FALSE(never);
    EXPECT_EQ(never.error().code(), Errc::timeout);
    EXPECT_NE(never.error().message().find("was not mined"), std::string::npos) << never.error().message();
}

TEST(Tx, DeployCallEventsAndReverts) {
    Anvil anvil;
    RpcOptions ro;
    ro.known_errors = {"error TooLarge(uint256 value, uint256 max)"};
    auto rpc = RpcClient::connect(anvil.url(), ro).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();

    // Deploy.
    auto deployed = sender->send(TxRequest{std::nullopt, 0, from_hex(test::kStoreBytecode).value(), std::nullopt});
    ASSERT_TRUE(deployed) << deployed.error().message();
    ASSERT_TRUE(deployed->receipt.status);
    ASSERT_TRUE(deployed->receipt.contract_address.has_value());
    const Address store = *deployed->receipt.contract_address;
    EXPECT_FALSE(rpc->get_code(store).value().empty());

    // Transact and call.
    for (std::uint64_t v : {42u, 7u, 999u}) {
        auto s = sender->send(TxRequest{store, 0, calldata("store(uint256)", {abi::Value::uint_(v)}), std::nullopt});
        ASSERT_TRUE(s) << s.error().message();
        ASSERT_EQ(s->receipt.logs.size(), 1u);
    }
    const auto get = abi::parse_function("get()(uint256)").value();
    auto out = rpc->call(CallRequest{std::nullopt, store, abi::encode_call(get, {}).value(), std::nullopt, std::nullopt});
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(abi::decode_output(get, *out).value().at(0).number, 999);
    // eth_call at an older block sees the older value.
    const auto head = rpc->block_number().value();
    auto old = rpc->call(CallRequest{std::nullopt, store, abi::encode_call(get, {}).value(), std::nullopt, std::nullopt},
                         BlockTag::number(head - 1));
    EXPECT_EQ(abi::decode_output(get, old.value()).value().at(0).number, 7);

    // Events: filter by address, topic0 and the indexed sender; decode.
    const auto stored = abi::parse_event("event Stored(address indexed who, uint256 value)").value();
    LogFilter f;
    f.from_block = 0;
    f.to_block = head;
    f.addresses = {store};
    f.topics = {std::vector<Hash32>{stored.topic0()}, std::vector<Hash32>{address_topic(account(0))}};
    for (std::uint64_t chunk : {1u, 2u, 1000u}) {
        auto logs = rpc->get_logs(f, chunk);
        ASSERT_TRUE(logs) << logs.error().message();
        ASSERT_EQ(logs->size(), 3u) << "chunk " << chunk;
        std::vector<u256> values;
        for (const auto& l : *logs) {
            EXPECT_EQ(l.address, store);
            EXPECT_FALSE(l.removed);
            auto d = abi::decode_log(stored, l.topics, l.data).value();
            EXPECT_EQ(d.values.at(0).as_address(), account(0));
            values.push_back(d.values.at(1).number);
        }
        EXPECT_EQ(values, (std::vector<u256>{42, 7, 999}));
    }
    f.topics[1] = std::vector<Hash32>{address_topic(account(1))};
    EXPECT_TRUE(rpc->get_logs(f).value().empty());

    // Reverts: custom error (known), Error(string), Panic(uint256).
    const CallRequest too_large{account(0), store, calldata("store(uint256)", {abi::Value::uint_(5000)}), std::nullopt, std::nullopt};
    auto e1 = rpc->call(too_large);
    ASSERT_FALSE(e1);
    EXPECT_EQ(e1.error().code(), Errc::reverted);
    EXPECT_EQ(e1.error().message(), "execution reverted: TooLarge(value: 5000, max: 1000)");
    auto e2 = rpc->estimate_gas(too_large);
    ASSERT_FALSE(e2);
    EXPECT_EQ(e2.error().code(), Errc::reverted);
    EXPECT_NE(e2.error().message().find("TooLarge(value: 5000, max: 1000)"), std::string::npos) << e2.error().message();
    auto e3 = sender->send(TxRequest{store, 0, too_large.data, std::nullopt});  // refused before any nonce is used
    ASSERT_FALSE(e3);
    EXPECT_EQ(e3.error().code(), Errc::reverted);
    EXPECT_NE(e3.error().message().find("TooLarge(value: 5000, max: 1000)"), std::string::npos) << e3.error().message();

    auto e4 = rpc->call(CallRequest{std::nullopt, store, calldata("fail(string)", {abi::Value::string("not today")}), std::nullopt, std::nullopt});
    ASSERT_FALSE(e4);
    EXPECT_EQ(e4.error().code(), Errc::reverted);
    EXPECT_EQ(e4.error().message(), "execution reverted: not today");

    auto e5 = rpc->call(CallRequest{std::nullopt, store, calldata("divide(uint256,uint256)", {abi::Value::uint_(1), abi::Value::uint_(0)}), std::nullopt, std::nullopt});
    ASSERT_FALSE(e5);
    EXPECT_EQ(e5.error().code(), Errc::reverted);
    EXPECT_EQ(e5.error().message(), "execution reverted: panic 0x12 (division or modulo by zero)");

    // A client that does not know the error still shows its selector and data.
    auto plain = RpcClient::connect(anvil.url()).value();
    auto e6 = plain->call(too_large);
    ASSERT_FALSE(e6);
    EXPECT_EQ(e6.error().code(), Errc::reverted);
    EXPECT_NE(e6.error().message().find("custom error 0x677fd0e3"), std::string::npos) << e6.error().message();
    // ... and one given the JSON ABI decodes it.
    ASSERT_TRUE(plain->add_error_abi(test::kStoreAbi));
    EXPECT_EQ(plain->call(too_large).error().message(), "execution reverted: TooLarge(value: 5000, max: 1000)");

    // Nonce accounting survived the refused transaction.
    EXPECT_EQ(sender->next_nonce(), rpc->get_transaction_count(account(0), BlockTag::pending()).value());
}

TEST(Tx, ConcurrentSendersGetContiguousNonces) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();
    constexpr int kThreads = 8;
    constexpr int kPerThread = 5;
    std::mutex m;
    std::vector<SentTx> results;
    std::vector<std::string> errors;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto r = sender->send(TxRequest{account(1 + static_cast<std::size_t>(t % 3)), u256{1000 + t}, {}, 21000});
                std::lock_guard lock{m};
                if (r) results.push_back(std::move(*r));
                else errors.push_back(r.error().message());
            }
        });
    }
    for (auto& th : threads) th.join();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(errors.empty()) << errors.front();
    ASSERT_EQ(results.size(), std::size_t{kThreads * kPerThread});
    std::set<std::uint64_t> nonces;
    std::set<Hash32> hashes;
    for (const auto& r : results) {
        EXPECT_TRUE(r.receipt.status);
        nonces.insert(r.nonce);
        hashes.insert(r.receipt.transaction_hash);
    }
    EXPECT_EQ(nonces.size(), results.size());
    EXPECT_EQ(*nonces.begin(), 0u);
    EXPECT_EQ(*nonces.rbegin(), results.size() - 1);  // contiguous 0..39
    EXPECT_EQ(hashes.size(), results.size());
    EXPECT_EQ(rpc->get_transaction_count(account(0)).value(), results.size());
    std::printf("[ measured ] %zu transactions from 8 threads sent and mined in %lld ms\n", results.size(),
                static_cast<long long>(ms));
}

TEST(Tx, ExternalNonceUseIsResynced) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();
    ASSERT_TRUE(sender->send(TxRequest{account(1), 1, {}, 21000}));
    // Another wallet uses nonce 1 behind the sender's back.
    Transaction tx;
    tx.chain_id = test::kAnvilChainId;
    tx.nonce = 1;
    tx.max_priority_fee_per_gas = 1'000'000'000;
    tx.max_fee_per_gas = 10'000'000'000;
    tx.gas_limit = 21000;
    tx.to = account(2);
    auto other = make_key_signer(key(0))(tx).value();
    ASSERT_TRUE(rpc->send_raw_transaction(other.raw));
    auto r = sender->send(TxRequest{account(1), 2, {}, 21000});  // "nonce too low" -> resync -> nonce 2
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->nonce, 2u);
}

TEST(Tx, NonceHeldByAForeignPendingTransactionIsResynced) {
    // The foreign transaction waits in the pool (no automine), so the node answers the sender's
    // nonce-1 transaction with "replacement transaction underpriced", not "nonce too low".
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();
    ASSERT_TRUE(sender->send(TxRequest{account(1), 1, {}, 21000}));
    ASSERT_TRUE(anvil::set_automine(*rpc, false));
    Transaction tx;
    tx.chain_id = test::kAnvilChainId;
    tx.nonce = 1;
    tx.max_priority_fee_per_gas = 1'000'000'000;
    tx.max_fee_per_gas = 10'000'000'000;
    tx.gas_limit = 21000;
    tx.to = account(2);
    ASSERT_TRUE(rpc->send_raw_transaction(make_key_signer(key(0))(tx).value().raw));
    auto pending = sender->submit(TxRequest{account(1), 2, {}, 21000});
    ASSERT_TRUE(pending) << pending.error().message();
    EXPECT_EQ(pending->tx.nonce, 2u);
    ASSERT_TRUE(anvil::mine(*rpc, 1));
    auto r = sender->wait(std::move(*pending));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->receipt.status);
}

TEST(Tx, StuckTransactionIsReplacedWithBumpedFees) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(anvil::set_automine(*rpc, false));  // transactions wait in the pool
    auto options = fast_options();
    options.resend_after = 300ms;
    options.fee_bump_percent = 10;
    auto sender = TxSender::create(*rpc, key(0), options).value();

    auto pending = sender->submit(TxRequest{account(1), 777, {}, 21000});
    ASSERT_TRUE(pending) << pending.error().message();
    const u256 first_max_fee = pending->tx.max_fee_per_gas;
    const u256 first_tip = pending->tx.max_priority_fee_per_gas;
    const Hash32 first_hash = pending->hashes.front();

    Result<SentTx> result{Error{Errc::internal, "not run"}};
    std::thread waiter{[&] { result = sender->wait(std::move(*pending)); }};
    std::this_thread::sleep_for(1000ms);  // about three resend periods: at least two replacements
    ASSERT_TRUE(anvil::mine(*rpc));
    waiter.join();
    ASSERT_TRUE(result) << result.error().message();
    EXPECT_GE(result->replacements, 2u);
    EXPECT_EQ(result->nonce, 0u);
    EXPECT_NE(result->receipt.transaction_hash, first_hash);
    EXPECT_EQ(result->receipt.transaction_hash, result->hashes.back());
    EXPECT_GE(result->max_fee_per_gas * 100, first_max_fee * 121);  // two bumps of >= 10%
    EXPECT_GE(result->max_priority_fee_per_gas * 100, first_tip * 121);
    // The mined transaction is the replacement with its fees; the original is gone.
    auto mined = rpc->request("eth_getTransactionByHash", nlohmann::json::array({to_hex(result->receipt.transaction_hash)})).value();
    EXPECT_EQ(parse_u256(mined["maxFeePerGas"].get<std::string>()).value(), result->max_fee_per_gas);
    EXPECT_TRUE(rpc->get_transaction_receipt(first_hash).value() == std::nullopt);
    EXPECT_EQ(rpc->get_transaction_count(account(0)).value(), 1u);
    std::printf("[ measured ] stuck transaction replaced %u times; max fee %s -> %s wei\n", result->replacements,
                to_dec(first_max_fee).c_str(), to_dec(result->max_fee_per_gas).c_str());
}

TEST(Tx, NonceTakenByAnotherTransactionIsReported) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(anvil::set_automine(*rpc, false));
    auto options = fast_options();
    options.resend_after = 200ms;
    auto sender = TxSender::create(*rpc, key(0), options).value();
    auto pending = sender->submit(TxRequest{account(1), 1, {}, 21000});
    ASSERT_TRUE(pending) << pending.error().message();
    // Another wallet replaces nonce 0 with a much higher fee, and it gets mined.
    Transaction tx;
    tx.chain_id = test::kAnvilChainId;
    tx.nonce = 0;
    tx.max_priority_fee_per_gas = pending->tx.max_priority_fee_per_gas * 10;
    tx.max_fee_per_gas = pending->tx.max_fee_per_gas * 10;
    tx.gas_limit = 21000;
    tx.to = account(2);
    auto other = make_key_signer(key(0))(tx).value();
    ASSERT_TRUE(rpc->send_raw_transaction(other.raw));
    ASSERT_TRUE(anvil::mine(*rpc));
    ASSERT_TRUE(rpc->get_transaction_receipt(other.hash).value().has_value());
    auto r = sender->wait(std::move(*pending));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_transaction);
    EXPECT_NE(r.error().message().find("was used by another transaction"), std::string::npos) << r.error().message();
}

TEST(Tx, SenderSurvivesAnvilRestart) {
    Anvil anvil;
    RpcOptions ro;
    ro.max_retries = 2;
    ro.backoff_initial = 20ms;
    auto rpc = RpcClient::connect(anvil.url(), ro).value();
    auto sender = TxSender::create(*rpc, key(0), fast_options()).value();
    ASSERT_TRUE(sender->send(TxRequest{account(1), 1, {}, 21000}));
    ASSERT_TRUE(sender->send(TxRequest{account(1), 1, {}, 21000}));
    EXPECT_EQ(sender->next_nonce(), 2u);

    anvil.stop();
    auto down = sender->send(TxRequest{account(1), 1, {}, 21000});
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Errc::rpc_unreachable);
    EXPECT_NE(down.error().message().find("cannot reach the Ethereum node at " + anvil.url()), std::string::npos)
        << down.error().message();

    anvil.start();  // a fresh devnet on the same port: nonces start over
    auto up = sender->send(TxRequest{account(1), 1, {}, 21000});
    ASSERT_TRUE(up) << up.error().message();
    EXPECT_EQ(up->nonce, 0u);
    EXPECT_TRUE(up->receipt.status);
}

}  // namespace
}  // namespace zeppelin::eth
