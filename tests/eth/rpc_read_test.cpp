// Read-only JSON-RPC calls against a real anvil, the node restarting mid-test, and a dead endpoint.
#include <gtest/gtest.h>

#include <chrono>

#include "accounts.hpp"
#include "anvil.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"

namespace zeppelin::eth {
namespace {

using namespace std::chrono_literals;
using test::account;
using test::Anvil;

TEST(RpcRead, ChainIdBlockNumberBalanceNonceCode) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    EXPECT_EQ(rpc->chain_id().value(), test::kAnvilChainId);
    EXPECT_EQ(rpc->block_number().value(), 0u);
    // anvil funds each default account with 10000 ether.
    EXPECT_EQ(rpc->get_balance(account(0)).value(), parse_amount("10000ether").value());
    EXPECT_EQ(rpc->get_transaction_count(account(0)).value(), 0u);
    EXPECT_EQ(rpc->get_transaction_count(account(0), BlockTag::pending()).value(), 0u);
    EXPECT_TRUE(rpc->get_code(account(0)).value().empty());

    ASSERT_TRUE(anvil::set_balance(*rpc, account(3), 12345));
    EXPECT_EQ(rpc->get_balance(account(3)).value(), 12345);
    ASSERT_TRUE(anvil::mine(*rpc, 3));
    EXPECT_EQ(rpc->block_number().value(), 3u);
    ASSERT_TRUE(anvil::increase_time(*rpc, 3600));
}

TEST(RpcRead, KeepAliveRoundTripsAreFast) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    constexpr int kCalls = 2000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(rpc->block_number());
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ measured ] %d sequential eth_blockNumber calls over one keep-alive connection: %lld us each\n", kCalls,
                static_cast<long long>(us / kCalls));
}

TEST(RpcRead, BlockHeadersChainTogether) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(anvil::mine(*rpc, 2));
    auto b1 = rpc->get_block_header(BlockTag::number(1)).value();
    auto b2 = rpc->get_block_header(BlockTag::latest()).value();
    ASSERT_TRUE(b1 && b2);
    EXPECT_EQ(b1->number, 1u);
    EXPECT_EQ(b2->number, 2u);
    EXPECT_EQ(b2->parent_hash, b1->hash);
    EXPECT_GE(b2->timestamp, b1->timestamp);
    ASSERT_TRUE(b2->base_fee_per_gas.has_value());
    EXPECT_FALSE(rpc->get_block_header(BlockTag::number(1000)).value().has_value());
}

TEST(RpcRead, FeeSuggestionIsTwiceBaseFeePlusTip) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto fees = rpc->suggest_fees().value();
    EXPECT_GT(fees.base_fee, 0);
    EXPECT_EQ(fees.max_fee, 2 * fees.base_fee + fees.max_priority_fee);
    EXPECT_GT(rpc->gas_price().value(), 0);
}

TEST(RpcRead, SurvivesAnvilRestartWithClearRetry) {
    Anvil anvil;
    RpcOptions o;
    o.max_retries = 3;
    o.backoff_initial = 50ms;
    o.backoff_max = 200ms;
    auto rpc = RpcClient::connect(anvil.url(), o).value();
    ASSERT_EQ(rpc->chain_id().value(), test::kAnvilChainId);  // keep-alive connection now pooled

    anvil.stop();
    const auto t0 = std::chrono::steady_clock::now();
    auto down = rpc->block_number();
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Errc::rpc_unreachable);
    const auto& m = down.error().message();
    EXPECT_NE(m.find("cannot reach the Ethereum node at " + anvil.url()), std::string::npos) << m;
    EXPECT_NE(m.find("connection refused"), std::string::npos) << m;
    EXPECT_NE(m.find("4 attempts"), std::string::npos) << m;
    EXPECT_GE(took, 50ms + 100ms + 200ms);  // it did back off between attempts
    std::printf("[ measured ] unreachable after retries in %lld ms: %s\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()), m.c_str());

    anvil.start();  // same port, fresh chain
    auto up = rpc->chain_id();  // the same client object
    ASSERT_TRUE(up) << up.error().message();
    EXPECT_EQ(*up, test::kAnvilChainId);
}

TEST(RpcRead, RestartDuringRetriesIsPickedUp) {
    Anvil anvil;
    RpcOptions o;
    o.max_retries = 20;
    o.backoff_initial = 100ms;
    o.backoff_max = 200ms;
    auto rpc = RpcClient::connect(anvil.url(), o).value();
    ASSERT_TRUE(rpc->chain_id());
    anvil.stop();
    std::thread restarter{[&] {
        std::this_thread::sleep_for(500ms);
        anvil.start();
    }};
    auto r = rpc->block_number();  // retries until anvil is back
    restarter.join();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 0u);
}

TEST(RpcRead, DeadEndpointFailsQuicklyAndClearly) {
    const auto port = Anvil::free_port();
    RpcOptions o;
    o.max_retries = 2;
    o.backoff_initial = 20ms;
    auto rpc = RpcClient::connect("http://127.0.0.1:" + std::to_string(port), o).value();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = rpc->chain_id();
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::rpc_unreachable);
    EXPECT_NE(r.error().message().find("connection refused"), std::string::npos) << r.error().message();
    EXPECT_LT(took, 1s);
    std::printf("[ measured ] dead endpoint reported in %lld ms: %s\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
                r.error().message().c_str());
}

}  // namespace
}  // namespace zeppelin::eth
