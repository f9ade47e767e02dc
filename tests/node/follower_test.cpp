// The chain follower against a real anvil: it delivers every event once in order, resumes from
// SQLite after a restart, honours confirmations, and rewinds across a re-org (made with
// evm_snapshot / evm_revert, then different blocks mined on top).
#include "zeppelin/node/follower.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "anvil.hpp"
#include "eth/store_contract.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"

using namespace zeppelin;
using namespace zeppelin::node;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    test::Anvil anvil;
    std::unique_ptr<eth::RpcClient> rpc = eth::RpcClient::connect(anvil.url()).value();
    std::unique_ptr<eth::TxSender> sender;
    Address store;
    std::string db_path;

    Fixture() {
        eth::SenderOptions o;
        o.poll_interval = 20ms;
        sender = eth::TxSender::create(*rpc, eth::PrivateKey::from_hex(test::kAnvilAccounts[0].private_key).value(), o)
                     .value();
        auto deployed = sender->send({std::nullopt, 0, from_hex(test::kStoreBytecode).value(), std::nullopt}).value();
        store = *deployed.receipt.contract_address;
        auto dir = std::filesystem::temp_directory_path() / ("zp-follower-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        db_path = (dir / (std::to_string(anvil.port()) + ".sqlite")).string();
        std::filesystem::remove(db_path);
    }
    void store_value(std::uint64_t v) {
        auto fn = eth::abi::parse_function("store(uint256)").value();
        auto data = eth::abi::encode_call(fn, std::vector<eth::abi::Value>{eth::abi::Value::uint_(v)}).value();
        ASSERT_TRUE(sender->send({store, 0, data, std::nullopt}));
    }
};

std::uint64_t value_of(const eth::Log& log) { return static_cast<std::uint64_t>(from_be(log.data).value()); }

// Drains the follower, returning the stored values in delivery order.
std::vector<std::uint64_t> drain(Follower& f, bool* reorged = nullptr) {
    std::vector<std::uint64_t> out;
    for (int i = 0; i < 100; ++i) {
        auto b = f.next().value();
        if (reorged && b.reorged) *reorged = true;
        for (const auto& l : b.logs) out.push_back(value_of(l));
        f.commit(b).value();
        if (!b.has_range) break;
    }
    return out;
}

}  // namespace

TEST(Follower, DeliversInOrderAndResumesAfterRestart) {
    Fixture fx;
    for (std::uint64_t v = 1; v <= 5; ++v) fx.store_value(v);
    {
        auto db = Database::open(fx.db_path).value();
        auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 0, 2}).value();  // tiny ranges: many steps
        EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    }
    fx.store_value(6);
    auto db = Database::open(fx.db_path).value();  // a "restarted" node
    auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 0, 2000}).value();
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{6}));
}

TEST(Follower, WaitsForConfirmations) {
    Fixture fx;
    auto db = Database::open(fx.db_path).value();
    auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 3, 2000}).value();
    drain(f);
    fx.store_value(7);
    EXPECT_TRUE(drain(f).empty());  // mined, but not yet 3 blocks deep
    eth::anvil::mine(*fx.rpc, 3).value();
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{7}));
}

TEST(Follower, RewindsAcrossAReorg) {
    Fixture fx;
    auto db = Database::open(fx.db_path).value();
    auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 0, 2000}).value();
    fx.store_value(1);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{1}));

    auto snapshot = fx.rpc->request("evm_snapshot", nlohmann::json::array()).value();
    fx.store_value(2);
    fx.store_value(3);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{2, 3}));

    // Re-org: drop the last two blocks, mine a different history of the same height.
    ASSERT_TRUE(fx.rpc->request("evm_revert", nlohmann::json::array({snapshot})).value().get<bool>());
    fx.sender->resync_nonce();
    eth::anvil::mine(*fx.rpc, 1).value();
    fx.store_value(20);
    fx.store_value(30);

    bool reorged = false;
    EXPECT_EQ(drain(f, &reorged), (std::vector<std::uint64_t>{20, 30}));
    EXPECT_TRUE(reorged);
}

TEST(Follower, NoticesAReorgThatKeepsTheHeight) {
    // The follower asks only for the head while there is no new block: a head of the same height
    // with another hash must still be seen as a re-org.
    Fixture fx;
    auto db = Database::open(fx.db_path).value();
    auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 0, 2000}).value();
    fx.store_value(1);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{1}));
    auto snapshot = fx.rpc->request("evm_snapshot", nlohmann::json::array()).value();
    fx.store_value(2);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{2}));

    ASSERT_TRUE(fx.rpc->request("evm_revert", nlohmann::json::array({snapshot})).value().get<bool>());
    fx.sender->resync_nonce();
    fx.store_value(22);  // the same height as the block of 2, another block

    bool reorged = false;
    EXPECT_EQ(drain(f, &reorged), (std::vector<std::uint64_t>{22}));
    EXPECT_TRUE(reorged);
    EXPECT_FALSE(f.next().value().has_range) << "caught up: nothing more to fetch";
}

TEST(Follower, AsksBeforeRewindingAndForgetsNothingWhenTold) {
    // The node checks the chain's identity before a rewind (chain_identity.hpp); when the check
    // fails, the follower stops there with what it remembers intact.
    Fixture fx;
    auto db = Database::open(fx.db_path).value();
    auto f = Follower::open(*fx.rpc, db, {fx.store, 0, 0, 2000}).value();
    int asked = 0;
    bool refuse = true;
    f.set_before_rewind([&]() -> Result<void> {
        ++asked;
        if (refuse) return Error{Errc::cancelled, "not my chain"};
        return {};
    });
    fx.store_value(1);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{1}));
    EXPECT_EQ(asked, 0) << "no re-org, no question";
    auto snapshot = fx.rpc->request("evm_snapshot", nlohmann::json::array()).value();
    fx.store_value(2);
    EXPECT_EQ(drain(f), (std::vector<std::uint64_t>{2}));
    const auto remembered = f.last_processed().value();

    ASSERT_TRUE(fx.rpc->request("evm_revert", nlohmann::json::array({snapshot})).value().get<bool>());
    fx.sender->resync_nonce();
    fx.store_value(22);
    auto refused = f.next();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message(), "not my chain");
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(f.last_processed().value(), remembered) << "nothing forgotten";

    refuse = false;
    bool reorged = false;
    EXPECT_EQ(drain(f, &reorged), (std::vector<std::uint64_t>{22}));
    EXPECT_TRUE(reorged);
}

TEST(Follower, DeadNodeIsAClearError) {
    Fixture fx;
    auto db = Database::open(fx.db_path).value();
    eth::RpcOptions o;
    o.max_retries = 0;
    auto rpc = eth::RpcClient::connect(fx.anvil.url(), o).value();
    auto f = Follower::open(*rpc, db, {fx.store, 0, 0, 2000}).value();
    fx.anvil.stop();
    auto r = f.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::rpc_unreachable) << r.error().message();
    EXPECT_FALSE(f.last_processed().value().has_value());  // nothing half-committed
}
