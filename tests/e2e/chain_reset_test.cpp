// A chain reset under running nodes (issue 14, "a reset chain is noticed"): a real anvil with
// the protocol v2 dispatcher, the real Podman Docker API service, five `zeppelin node` processes
// (the worker, three verifiers, the client) and an agreement whose work runs in a container. Then anvil is stopped and
// started afresh on the same port, and the dispatcher deployed again from the same account — the
// same address and code, as after `zeppelin devnet down && zeppelin devnet up`; only the genesis
// block differs. The nodes must stop acting (no transaction, no registration as a new worker),
// say so through the API (`zeppelin node status`), stop the container of the vanished agreement,
// keep their data, stay stopped when restarted, and adopt the new chain with --reset-chain (the
// old state archived).
//
// Needs ZEPPELIN_DOCKER_HOST (scripts/test.sh starts the Podman service); skipped without it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "accounts.hpp"
#include "anvil.hpp"
#include "process.hpp"
#include "support/test_image.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/runtime/engine.hpp"

namespace zeppelin::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kWorker = 1, kClient = 3;
constexpr std::array<std::size_t, 3> kVerifiers{2, 4, 5};  // protocol v2: three verifiers

using test::wait_until;

std::string read_file(const fs::path& p) {
    std::ifstream in{p};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Running, and not a zombie waiting to be reaped.
bool alive(pid_t pid) {
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    const auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

/// One `zeppelin node` process, started through the shell with its output in <dir>/node.log.
class NodeProcess final {
public:
    NodeProcess(const fs::path& dir, std::size_t account, const fs::path& deployment, std::vector<std::string> extra)
        : dir_{dir} {
        // The worker is the only one cheap enough for the purchase (max 2 gwei/s): the draw picks it.
        const std::string price = account == kWorker ? "1gwei" : "3gwei";
        fs::create_directories(dir_);
        fs::remove(dir_ / "api.json");
        std::string cmd = "ZP_TEST_KEY=" + std::string{test::kAnvilAccounts[account].private_key} + " ZEPPELIN_HOME=" +
                          dir_.string() + " exec " + ZEPPELIN_CLI_PATH + " node --data-dir " + dir_.string() +
                          " --deployment " + deployment.string() +
                          " --private-key-env ZP_TEST_KEY --cpu 4000 --memory 4096 --price " + price;
        for (const auto& e : extra) cmd += " " + e;
        const auto r = test::run_command("(" + cmd + " >>" + (dir_ / "node.log").string() + " 2>&1 & echo $!)");
        pid_ = static_cast<pid_t>(std::stol(r.out));
    }
    ~NodeProcess() { stop(); }
    NodeProcess(const NodeProcess&) = delete;
    NodeProcess& operator=(const NodeProcess&) = delete;

    bool up() const {
        return wait_until([&] { return fs::exists(dir_ / "api.json") || !alive(pid_); }, 90s) &&
               fs::exists(dir_ / "api.json");
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100 && alive(pid_); ++i) std::this_thread::sleep_for(100ms);
        if (alive(pid_)) ::kill(pid_, SIGKILL);
        pid_ = -1;
        fs::remove(dir_ / "api.json");
    }
    std::string log() const { return read_file(dir_ / "node.log"); }

private:
    fs::path dir_;
    pid_t pid_{-1};
};

/// The CLI's standard output (its progress and errors on standard error go to <node_dir>/cli.err).
std::string cli(const fs::path& node_dir, const std::string& args) {
    return test::run_command(std::string{"ZEPPELIN_NODE_DIR="} + node_dir.string() + " " + ZEPPELIN_CLI_PATH + " " + args +
                             " 2>" + (node_dir / "cli.err").string())
        .out;
}

json node_status(const fs::path& node_dir) {
    auto j = json::parse(cli(node_dir, "--json node status"), nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

class ChainReset : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr || !test::busybox_available())
            GTEST_SKIP() << "needs ZEPPELIN_DOCKER_HOST (scripts/services.sh) and busybox-static";
    }

    /// Deploys the dispatcher from account 0 (nonce 0 on a fresh chain: always the same address).
    market::Deployed deploy() {
        auto sender = eth::TxSender::create(*rpc, test::key(0), test::fast_options()).value();
        return market::v2::deploy(*rpc, *sender, market::v2::Config::devnet_defaults()).value();  // as `devnet up`
    }
    Hash32 genesis() const { return (*rpc->get_block_header(eth::BlockTag::number(0)).value()).hash; }
    fs::path node_dir(std::size_t account) const { return dir.path() / ("node" + std::to_string(account)); }

    test::TempDir dir{"zp-chainid"};
    std::unique_ptr<test::Anvil> anvil;
    std::unique_ptr<eth::RpcClient> rpc;
};

TEST_F(ChainReset, NodesOnAFreshChainStopActingSayWhyAndEndTheVanishedWork) {
    test::AnvilOptions ao;  // as `devnet up`: a block every second besides instant mining
    ao.block_time = 1;
    ao.extra_args = {"--mixed-mining"};
    anvil = std::make_unique<test::Anvil>(ao);
    rpc = eth::RpcClient::connect(anvil->url()).value();
    (void)market::v2::add_errors_to(*rpc);
    const auto deployed = deploy();
    const auto deployment = dir.path() / "deployment.json";
    market::save_deployment(deployment, market::Deployment{test::kAnvilChainId, anvil->url(), deployed.address,
                                                           deployed.block_number, test::account(0), deployed.transaction_hash})
        .value();
    const auto image = dir.path() / "web.tar";
    test::TestImageOptions io;
    io.cmd = {"/bin/sh", "-c", "exec /bin/busybox httpd -f -p 8080 -h /www"};
    test::build_test_image(image, io);

    std::map<std::size_t, std::unique_ptr<NodeProcess>> nodes;
    const auto start = [&](std::size_t account, std::vector<std::string> extra = {}) {
        nodes.erase(account);
        nodes[account] = std::make_unique<NodeProcess>(node_dir(account), account, deployment, std::move(extra));
        ASSERT_TRUE(nodes[account]->up()) << "node " << account << " did not come up:\n" << nodes[account]->log();
    };
    start(kWorker);
    for (const auto v : kVerifiers) start(v);
    start(kClient, {"--client-only"});
    const auto logs = [&] {
        std::string out;
        for (const auto& [a, p] : nodes) out += "---- node " + std::to_string(a) + "\n" + p->log();
        return out;
    };

    // An agreement whose work runs on the worker, in a container.
    const auto run = json::parse(cli(node_dir(kClient), "--json run --timeout 120s " + image.string() +
                                                            " --duration 600s --period 10s --max-price 2gwei/s --probe http:/"),
                                 nullptr, false);
    ASSERT_TRUE(!run.is_discarded() && run.contains("id")) << read_file(node_dir(kClient) / "cli.err") << "\n" << logs();
    const auto id = run["id"].get<std::uint64_t>();
    auto engine = runtime::Engine::from_environment().value();
    std::string runtime_id;
    std::getline(std::ifstream{node_dir(kWorker) / "runtime-id"}, runtime_id);
    const auto work_containers = [&] {
        std::size_t n = 0;
        const auto listed = engine.list_containers({"io.zeppelin.agreement=" + std::to_string(id)}, false);
        if (!listed) throw std::runtime_error{listed.error().message()};
        for (const auto& c : *listed)
            if (c.labels.count("io.zeppelin.worker") != 0 && c.labels.at("io.zeppelin.worker") == runtime_id) ++n;
        return n;
    };
    ASSERT_EQ(work_containers(), 1U) << logs();
    const auto status_before = node_status(node_dir(kWorker));
    ASSERT_EQ(status_before["chain_identity"]["state"], "ok") << status_before.dump(2);
    const auto old_genesis = to_hex(genesis());
    const auto state_of = [&](const fs::path& node) {
        const auto list = json::parse(cli(node, "--json ps -a"), nullptr, false);
        if (list.is_array())
            for (const auto& a : list)
                if (a["id"] == id) return a.value("state", std::string{"?"});
        return std::string{"missing"};
    };
    const auto worker_state = state_of(node_dir(kWorker));
    ASSERT_NE(worker_state, "done");
    EXPECT_EQ(status_before["chain_identity"]["recorded"]["genesis"], old_genesis);

    // The chain is replaced: same port, same id, same dispatcher address and code, another genesis.
    anvil->stop();
    std::this_thread::sleep_for(1100ms);  // anvil's genesis carries the start time in seconds
    anvil->start();
    const auto logs_at_reset = nodes[kWorker]->log().size();
    const auto redeployed = deploy();
    ASSERT_EQ(redeployed.address, deployed.address);
    const auto new_genesis = to_hex(genesis());
    ASSERT_NE(new_genesis, old_genesis);

    // Every node notices and says so with both identities.
    for (const auto account : {kWorker, kVerifiers[0], kVerifiers[1], kVerifiers[2], kClient}) {
        json st;
        EXPECT_TRUE(wait_until([&] {
            st = node_status(node_dir(account));
            return st.contains("chain_identity") && st["chain_identity"]["state"] == "mismatch";
        }, 60s)) << "node " << account << ": " << st.dump(2) << "\n" << logs();
        const auto message = st["chain_identity"].value("message", std::string{});
        EXPECT_NE(message.find(old_genesis), std::string::npos) << message;
        EXPECT_NE(message.find(new_genesis), std::string::npos) << message;
        EXPECT_EQ(st["chain_identity"]["mismatch"], "genesis");
    }
    // The work of the vanished agreement is stopped.
    EXPECT_TRUE(wait_until([&] { return work_containers() == 0; }, 30s)) << logs();
    // Nothing acts on the new chain: no transaction from any node's account, no registration.
    std::this_thread::sleep_for(5s);
    for (const auto account : {kWorker, kVerifiers[0], kVerifiers[1], kVerifiers[2], kClient})
        EXPECT_EQ(rpc->get_transaction_count(test::account(account)).value(), 0U) << "account " << account << "\n" << logs();
    market::v2::Dispatcher dispatcher{*rpc, redeployed.address};
    EXPECT_EQ(dispatcher.worker_count().value(), 0U);
    const auto worker_log = nodes[kWorker]->log().substr(logs_at_reset);
    const auto noticed = worker_log.find("chain mismatch");
    ASSERT_NE(noticed, std::string::npos) << worker_log;
    EXPECT_EQ(worker_log.find("UnknownAgreement", noticed), std::string::npos) << "steps went on:\n" << worker_log;
    // Its data is kept as it was: the agreement is not closed as if the chain had ended it.
    EXPECT_EQ(state_of(node_dir(kWorker)), worker_state);
    // In words for people too.
    const auto text = cli(node_dir(kWorker), "node status");
    EXPECT_NE(text.find("MISMATCH"), std::string::npos) << text;

    // Restarted as it was, the node checks at start and stays stopped.
    start(kWorker);
    EXPECT_EQ(node_status(node_dir(kWorker))["chain_identity"]["state"], "mismatch");
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(rpc->get_transaction_count(test::account(kWorker)).value(), 0U);

    // --reset-chain adopts the new chain: the old state archived, a worker on the new chain.
    start(kWorker, {"--reset-chain"});
    const auto adopted = node_status(node_dir(kWorker));
    EXPECT_EQ(adopted["chain_identity"]["state"], "ok") << adopted.dump(2);
    EXPECT_EQ(adopted["chain_identity"]["recorded"]["genesis"], new_genesis);
    EXPECT_NE(adopted.value("worker_id", 0U), 0U) << adopted.dump(2);
    EXPECT_EQ(dispatcher.worker_count().value(), 1U);
    std::size_t archived = 0;
    for (const auto& e : fs::directory_iterator{node_dir(kWorker) / "archive"})
        archived += fs::exists(e.path() / "state.sqlite") && e.path().filename().string().find(old_genesis.substr(2, 8)) != std::string::npos;
    EXPECT_EQ(archived, 1U);
    const auto fresh_list = json::parse(cli(node_dir(kWorker), "--json ps -a"), nullptr, false);
    EXPECT_TRUE(fresh_list.is_array() && fresh_list.empty()) << fresh_list.dump();
}

}  // namespace
}  // namespace zeppelin::e2e
