// The built `zeppelin` executable: devnet up -> status -> up again (idempotent) -> down, and
// contracts deploy against a test anvil. Uses a temporary ZEPPELIN_HOME and a free port.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "anvil.hpp"
#include "process.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"

namespace zeppelin::market {
namespace {

namespace fs = std::filesystem;

using Run = test::CommandResult;

Run run(const std::string& env, const std::string& args) {
    return test::run_command(env + " " + ZEPPELIN_CLI_PATH + " " + args + " 2>&1");
}

nlohmann::json json_of(const Run& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
}

class DevnetCli : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("zeppelin-devnet-test-" + std::to_string(rd()));
        fs::create_directories(home_);
        env_ = "ZEPPELIN_HOME=" + home_.string() + " ZEPPELIN_DEPLOYMENT=";
    }
    void TearDown() override {
        // Whatever happened, do not leave an anvil behind.
        std::ifstream in{home_ / "devnet" / "anvil.json"};
        if (in) {
            auto j = nlohmann::json::parse(in, nullptr, false);
            if (!j.is_discarded() && j.contains("pid")) ::kill(j["pid"].get<pid_t>(), SIGKILL);
        }
        std::error_code ec;
        fs::remove_all(home_, ec);
    }
    fs::path home_;
    std::string env_;
};

TEST_F(DevnetCli, UpStatusUpAgainDown) {
    const auto port = std::to_string(test::Anvil::free_port());
    auto up = run(env_, "devnet up --port " + port + " --json");
    ASSERT_EQ(up.status, 0) << up.out;
    const auto j1 = json_of(up);
    ASSERT_TRUE(j1.value("running", false)) << up.out;
    EXPECT_EQ(j1["chain_id"], 31337);
    ASSERT_TRUE(j1.contains("dispatcher")) << up.out;
    EXPECT_EQ(j1["worker_count"], 0);
    const std::string dispatcher = j1["dispatcher"];

    // The record other commands read.
    const auto record = load_deployment(home_ / "devnet" / "deployment.json").value();
    EXPECT_EQ(eth::to_checksum(record.dispatcher), dispatcher);
    EXPECT_EQ(record.chain_id, 31337u);
    EXPECT_EQ(record.rpc_url, "http://127.0.0.1:" + port);
    auto rpc = eth::RpcClient::connect(record.rpc_url).value();
    v2::Dispatcher d{*rpc, record.dispatcher};
    EXPECT_EQ(d.config().value(), v2::Config::devnet_defaults()) << "protocol v2, with the devnet's short windows";
    // A block every second besides instant mining: a draw needs a block after its commit.
    const auto b0 = rpc->block_number().value();
    EXPECT_TRUE(test::wait_until([&] { return rpc->block_number().value() > b0; }, std::chrono::seconds{5}))
        << "an idle devnet still mines";

    auto status = run(env_, "devnet status");
    ASSERT_EQ(status.status, 0) << status.out;
    EXPECT_NE(status.out.find("running"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find(dispatcher), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("chain id: 31337"), std::string::npos) << status.out;

    // Idempotent: same anvil, same contract, no new deployment.
    const auto deployer_nonce = rpc->get_transaction_count(record.deployer).value();
    auto again = run(env_, "devnet up --port " + port + " --json");
    ASSERT_EQ(again.status, 0) << again.out;
    const auto j2 = json_of(again);
    EXPECT_EQ(j2["dispatcher"], dispatcher);
    EXPECT_EQ(j2["pid"], j1["pid"]);
    EXPECT_EQ(rpc->get_transaction_count(record.deployer).value(), deployer_nonce);

    // contracts deploy against the running devnet, into another record.
    const auto out_file = (home_ / "other.json").string();
    auto deploy = run(env_, "contracts deploy --rpc-url " + record.rpc_url +
                                " --private-key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
                                " --min-stake 2ether --accept-window 60 --out " + out_file + " --json");
    ASSERT_EQ(deploy.status, 0) << deploy.out;
    const auto other = load_deployment(out_file).value();
    EXPECT_NE(other.dispatcher, record.dispatcher);
    EXPECT_EQ(eth::to_checksum(other.deployer), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    v2::Dispatcher d2{*rpc, other.dispatcher};
    EXPECT_EQ(d2.config().value().min_stake, u256{2'000'000'000'000'000'000ULL});
    EXPECT_EQ(d2.config().value().accept_window, 60);

    // Port busy: a second devnet home on the same port fails clearly.
    const fs::path home2 = home_ / "second";
    auto busy = run("ZEPPELIN_HOME=" + home2.string(), "devnet up --port " + port);
    EXPECT_NE(busy.status, 0);
    EXPECT_NE(busy.out.find("busy"), std::string::npos) << busy.out;

    auto down = run(env_, "devnet down");
    ASSERT_EQ(down.status, 0) << down.out;
    EXPECT_NE(down.out.find("stopped"), std::string::npos) << down.out;
    EXPECT_FALSE(fs::exists(home_ / "devnet" / "deployment.json"));
    auto after = run(env_, "devnet status --json");
    ASSERT_EQ(after.status, 0) << after.out;
    EXPECT_FALSE(json_of(after)["running"].get<bool>());
    EXPECT_FALSE(rpc->chain_id());  // anvil is gone
}

TEST_F(DevnetCli, BlockTime) {
    const auto port = std::to_string(test::Anvil::free_port());
    auto up = run(env_, "devnet up --block-time 1 --port " + port + " --json");
    ASSERT_EQ(up.status, 0) << up.out;
    const auto j = json_of(up);
    ASSERT_TRUE(j.value("running", false)) << up.out;
    EXPECT_EQ(j["block_time"], 1);
    ASSERT_TRUE(j.contains("dispatcher")) << up.out;  // deployed although blocks come once a second

    // With interval mining, blocks come without any transaction (automining would stay put).
    auto rpc = eth::RpcClient::connect("http://127.0.0.1:" + port).value();
    const auto first = rpc->block_number().value();
    std::uint64_t now = first;
    for (int i = 0; i < 100 && now < first + 2; ++i) {  // bounded: at most 10 s
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
        now = rpc->block_number().value();
    }
    EXPECT_GE(now, first + 2) << "no blocks mined without transactions: --block-time did not reach anvil";

    auto status = run(env_, "devnet status");
    ASSERT_EQ(status.status, 0) << status.out;
    EXPECT_NE(status.out.find("block time: 1 s"), std::string::npos) << status.out;

    // Up again with another block time is refused (it would silently keep the old one).
    auto other = run(env_, "devnet up --block-time 12 --port " + port);
    EXPECT_NE(other.status, 0);
    EXPECT_NE(other.out.find("devnet down"), std::string::npos) << other.out;
    // Up again without the option keeps the running devnet.
    auto same = run(env_, "devnet up --port " + port + " --json");
    ASSERT_EQ(same.status, 0) << same.out;
    EXPECT_EQ(json_of(same)["pid"], j["pid"]);

    auto down = run(env_, "devnet down");
    ASSERT_EQ(down.status, 0) << down.out;
}

TEST_F(DevnetCli, SaysWhenTheChainIsFreshAndKeepsItWithState) {
    // Without --state every up after a down is another chain (another genesis), and up says so;
    // with --state the chain, its genesis and the deployment come back.
    const auto port = std::to_string(test::Anvil::free_port());
    auto first = run(env_, "devnet up --port " + port);
    ASSERT_EQ(first.status, 0) << first.out;
    EXPECT_NE(first.out.find("started a FRESH chain"), std::string::npos) << first.out;
    auto again = run(env_, "devnet up --port " + port);
    EXPECT_NE(again.out.find("already running: the same chain"), std::string::npos) << again.out;
    const auto genesis_of = [&] { return json_of(run(env_, "devnet status --json")).value("genesis", std::string{}); };
    const auto g1 = genesis_of();
    ASSERT_EQ(g1.size(), 66U);
    ASSERT_EQ(run(env_, "devnet down").status, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds{1100});  // anvil's genesis carries the start second
    auto fresh = run(env_, "devnet up --port " + port + " --json");
    EXPECT_EQ(json_of(fresh)["started"], "fresh") << fresh.out;
    EXPECT_NE(json_of(fresh)["genesis"], g1) << "a fresh chain has another genesis";
    ASSERT_EQ(run(env_, "devnet down").status, 0);

    const auto state = (home_ / "chain.json").string();
    auto saved = run(env_, "devnet up --port " + port + " --json --state " + state);
    ASSERT_EQ(saved.status, 0) << saved.out;
    const auto j = json_of(saved);
    EXPECT_EQ(j["started"], "fresh");
    const auto dispatcher = j["dispatcher"];
    ASSERT_EQ(run(env_, "devnet down").status, 0);
    ASSERT_TRUE(fs::exists(state)) << "anvil writes its state when it stops";
    std::this_thread::sleep_for(std::chrono::milliseconds{1100});
    auto resumed = run(env_, "devnet up --port " + port + " --state " + state);
    ASSERT_EQ(resumed.status, 0) << resumed.out;
    EXPECT_NE(resumed.out.find("resumed the chain saved in"), std::string::npos) << resumed.out;
    const auto st = json_of(run(env_, "devnet status --json"));
    EXPECT_EQ(st["genesis"], j["genesis"]) << "the same chain";
    EXPECT_EQ(st["dispatcher"], dispatcher) << "the same deployment";
    auto other = run(env_, "devnet up --port " + port);
    EXPECT_NE(other.out.find("already running"), std::string::npos) << other.out;
    ASSERT_EQ(run(env_, "devnet down").status, 0);
}

TEST_F(DevnetCli, ClearErrors) {
    auto missing = run(env_ + " ZEPPELIN_ANVIL=/nonexistent/anvil",
                       "devnet up --port " + std::to_string(test::Anvil::free_port()));
    EXPECT_NE(missing.status, 0);
    EXPECT_NE(missing.out.find("ZEPPELIN_ANVIL"), std::string::npos) << missing.out;

    auto dead = run(env_, "contracts deploy --rpc-url http://127.0.0.1:" + std::to_string(test::Anvil::free_port()) +
                              " --private-key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
    EXPECT_NE(dead.status, 0);
    EXPECT_NE(dead.out.find("Error"), std::string::npos) << dead.out;
}

}  // namespace
}  // namespace zeppelin::market
