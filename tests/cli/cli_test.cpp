// The `zeppelin` command line as people and scripts use it, with docker's and cast's conventions
// (issue 14): exit code 1 for a failure and 2 for a usage error, errors on stderr and data on
// stdout, global options after the subcommand, --json on every command that prints data, one
// amount formatter, `run` saying which worker and price were chosen, and `logs` like `docker logs`
// (each line as it is written, into a pipe too; --tail, --since, --timestamps; errors with a
// non-zero exit).
//
// The client side is real: the `zeppelin` binary, a client-only `zeppelin node` and anvil with
// protocol v2's dispatcher. The worker side is played by this test: four workers registered on
// chain (a worker and 3 verifiers for each agreement), and for the agreement's drawn worker an
// accept carrying an encrypted transfer offer that points at a LogServer (node/log_channel.hpp)
// run here, whose output the test writes line by line. No container engine is needed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "accounts.hpp"
#include "anvil.hpp"
#include "process.hpp"
#include "support/test_image.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/node/log_channel.hpp"
#include "zeppelin/node/messages.hpp"

namespace zeppelin {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string{"'\\''"} : std::string{c};
    return out + "'";
}

/// One run of the CLI: its exit code, stdout and stderr apart.
struct Cli {
    int code{-1};
    std::string out;
    std::string err;
};

Cli zeppelin(const std::string& args, const fs::path& scratch) {
    const auto err_file = scratch / "stderr.txt";
    const auto r = test::run_command(std::string{ZEPPELIN_CLI_PATH} + " " + args + " 2>" + quoted(err_file.string()));
    std::ifstream in{err_file};
    std::stringstream err;
    err << in.rdbuf();
    return Cli{r.status, r.out, err.str()};
}

std::string show(const Cli& c) { return "exit " + std::to_string(c.code) + "\nstdout: " + c.out + "\nstderr: " + c.err; }

// ---------------------------------------------------------------------------------------------
// Without a node: parsing, exit codes, streams.

class CliConventions : public ::testing::Test {
protected:
    test::TempDir dir_;
    Cli run(const std::string& args) { return zeppelin(args, dir_.path()); }
    std::string missing() const { return quoted((dir_.path() / "no-node").string()); }
};

TEST_F(CliConventions, UsageErrorsExitWith2OnStderr) {
    for (const std::string args : {"", "--bogus ps", "ps --bogus", "run", "inspect", "inspect notanumber", "market",
                                   "logs 1 --tail", "frobnicate"}) {
        const auto c = run(args);
        EXPECT_EQ(c.code, 2) << "zeppelin " << args << "\n" << show(c);
        EXPECT_EQ(c.out, "") << "zeppelin " << args;
        EXPECT_NE(c.err, "") << "zeppelin " << args;
    }
    const auto help = run("ps --help");
    EXPECT_EQ(help.code, 0) << show(help);
    EXPECT_NE(help.out.find("--node"), std::string::npos) << help.out;
    const auto version = run("--version");
    EXPECT_EQ(version.code, 0);
    EXPECT_NE(version.out.find("zeppelin"), std::string::npos);
}

TEST_F(CliConventions, EveryValueThatCannotBeParsedIsAUsageErrorExit2BeforeAnythingIsAsked) {
    // Durations, prices, sizes, counts, keys and addresses that cannot be read, options that do
    // not go together: exit 2 and a sentence naming the option and the value, on stderr, before
    // any node or chain is asked (no node runs at --node: asking it would be a failure, exit 1).
    const auto node = " --node " + missing();
    const std::string key = " --private-key 0x" + std::string(63, '0') + "1";
    // `tx sign` with every option valid but those given in `bad` (option -> value).
    auto sign = [&](const std::map<std::string, std::string>& bad) {
        std::map<std::string, std::string> o{{"--chain-id", "1"}, {"--nonce", "0"}, {"--gas-limit", "21000"}, {"--max-fee", "2gwei"},
                                             {"--priority-fee", "1gwei"}, {"--to", "0x" + std::string(40, '1')}};
        for (const auto& [k, v] : bad) o[k] = v;
        std::string args = "tx sign" + key;
        for (const auto& [k, v] : o)
            if (!v.empty()) args += " " + k + " " + v;
        return args;
    };
    const std::vector<std::pair<std::string, std::string>> cases{
        {"run img.tar --duration soon", "--duration: \"soon\" is not a duration (like 90s, 15m, 1h, 2d)"},
        {"run img.tar --duration 99999999d", "--duration: \"99999999d\" is more than 4294967295 s"},
        {"run img.tar --period 10x", "--period: \"10x\" is not a duration"},
        {"run img.tar --timeout forever", "--timeout: \"forever\" is not a duration"},
        {"run img.tar --timeout 0s", "--timeout: \"0s\" is no time at all"},
        {"run img.tar --max-price 2dollars/s", "--max-price: unknown unit \"dollars\""},
        {"run img.tar --max-price 0.5wei/s", "--max-price: invalid amount"},
        {"run img.tar --max-price 20ether/s", "--max-price: \"20ether/s\" is more than the contract can record"},
        {"run img.tar --memory lots", "--memory: \"lots\" is not a size (like 256m, 1g)"},
        {"run img.tar --memory 0m", "--memory: \"0m\" is no memory at all"},
        {"run img.tar --verifiers 300", "--verifiers: Value 300 not in range"},
        {"run img.tar --verifiers many", "--verifiers"},
        {"run img.tar --min-reputation 5000", "--min-reputation: Value 5000 not in range"},
        {"run img.tar --port 70000", "--port"},
        {"run img.tar --cpu -1", "--cpu"},
        {"run img.tar --probe ftp:/", "--probe"},
        {"run img.tar --worker 0x12", "--worker"},
        {"logs 1 --tail many", "--tail: \"many\" is not a number of lines (or \"all\")"},
        {"logs 1 --since 2026-13-45", "--since: \"2026-13-45\" is not an RFC 3339 time"},
        {"logs 1 --since soon", "--since: \"soon\" is not a duration"},
        {"node --price cheap --data-dir " + missing(), "--price: invalid amount \"cheap\" (like 2gwei, 0.5ether or 1000 for wei)"},
        {"node --stake 1dollar --data-dir " + missing(), "--stake: unknown unit \"dollar\""},
        {"node --service-ports 9-1 --data-dir " + missing(), "--service-ports"},
        {"node --log-level loud --data-dir " + missing(), "--log-level: loud not in {trace,debug,info,warn,error}"},
        {"node --dispatcher 0x12 --data-dir " + missing(), "--dispatcher"},
        {sign({{"--nonce", "lots"}}), "--nonce must be a whole number, got \"lots\""},
        {sign({{"--max-fee", "1gwei"}, {"--priority-fee", "2gwei"}}), "--priority-fee must not exceed --max-fee"},
        {sign({{"--value", "1.5wei"}}), "--value: invalid amount"},
        {sign({{"--to", "0x12"}}), "--to"},
        {sign({{"--to", ""}}), "give --to, or --data with contract init code to create a contract"},
        {"contracts deploy --rpc-url http://127.0.0.1:9" + key + " --min-stake lots", "--min-stake: invalid amount"},
        {"contracts deploy --rpc-url http://127.0.0.1:9" + key + " --cool-down soon", "--cool-down must be a whole number"},
        {"contracts deploy --rpc-url http://127.0.0.1:9 --private-key 0x12", "--private-key"},
        {"wallet address", "give --private-key or --keystore"},
        {"frobnicate --json", "'frobnicate' is not a zeppelin command"},
        {"ps --all --bogus", "--bogus"},
        {"stop", "id is required"},
    };
    for (const auto& [args, expected] : cases) {
        const auto full = args + (args.starts_with("node") || args.starts_with("tx") || args.starts_with("contracts") ||
                                          args.starts_with("wallet")
                                      ? std::string{}
                                      : node);
        const auto c = run(full);
        EXPECT_EQ(c.code, 2) << "zeppelin " << full << "\n" << show(c);
        EXPECT_EQ(c.out, "") << "zeppelin " << full;
        EXPECT_NE(c.err.find(expected), std::string::npos) << "zeppelin " << full << "\n" << c.err;
        EXPECT_EQ(c.err.find("no node runs"), std::string::npos) << "the node was asked before the values were read: " << c.err;
    }
}

TEST_F(CliConventions, GlobalOptionsWorkAfterTheSubcommandAndFailuresExitWith1) {
    // --json and --node after the subcommand (and after a sub-subcommand): parsed, and the failure
    // (no node there) is the command's: exit 1, the reason on stderr, nothing on stdout.
    for (const auto& args : {"ps --json --node " + missing(), "--json ps --node " + missing(),
                                   "market workers --node " + missing(), "market workers --json --node " + missing(),
                                   "inspect 1 --summary --json --node " + missing(), "logs 1 -f --node " + missing(),
                                   "stop 1 --json --node " + missing()}) {
        const auto c = run(args);
        EXPECT_EQ(c.code, 1) << "zeppelin " << args << "\n" << show(c);
        EXPECT_EQ(c.out, "") << "zeppelin " << args;
        EXPECT_NE(c.err.find("no node runs with data directory"), std::string::npos) << "zeppelin " << args << "\n" << c.err;
    }
}

TEST_F(CliConventions, JsonWhenAskedForWhereverGiven) {
    // cast's output stays the default; --json (before or after) gives one JSON value.
    const auto plain = run("util keccak hello");
    ASSERT_EQ(plain.code, 0) << show(plain);
    const auto hash = plain.out.substr(0, plain.out.find('\n'));
    for (const std::string args : {"util keccak hello --json", "--json util keccak hello"}) {
        const auto c = run(args);
        ASSERT_EQ(c.code, 0) << show(c);
        EXPECT_EQ(json::parse(c.out), json(hash)) << c.out;
    }
    const auto enc = run("util abi-encode 'f(int256,uint8)' -5 7 --json");
    ASSERT_EQ(enc.code, 0) << show(enc);
    EXPECT_TRUE(json::parse(enc.out).is_string()) << enc.out;
    const auto dec = run("util abi-decode 'f()(uint256,bool)' 0x" + std::string(63, '0') + "2" + std::string(63, '0') + "1 --json");
    ASSERT_EQ(dec.code, 0) << show(dec);
    EXPECT_EQ(json::parse(dec.out), json::parse(R"(["2","true"])")) << dec.out;
}

// ---------------------------------------------------------------------------------------------
// With a client node on anvil, and workers played by the test.

constexpr std::size_t kClient = 5;
constexpr std::uint64_t kPrice = 1'000'000'000;  // every worker: 1 gwei/s
constexpr std::size_t kWorkers[] = {1, 2, 3, 4};   // anvil accounts of the workers played here

/// The client's `zeppelin node` process (stdout and stderr in a file), SIGTERM on destruction.
class NodeProcess final {
public:
    NodeProcess(const fs::path& data_dir, const fs::path& deployment) : log_{data_dir / "node.log"} {
        fs::create_directories(data_dir);
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::setenv("ZP_TEST_KEY", std::string{test::kAnvilAccounts[kClient].private_key}.c_str(), 1);
            ::setenv("ZEPPELIN_HOME", data_dir.c_str(), 1);
            ::execl(ZEPPELIN_CLI_PATH, ZEPPELIN_CLI_PATH, "node", "--client-only", "--data-dir", data_dir.c_str(),
                    "--deployment", deployment.c_str(), "--private-key-env", "ZP_TEST_KEY", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~NodeProcess() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) != pid_; ++i) std::this_thread::sleep_for(100ms);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    NodeProcess(const NodeProcess&) = delete;
    NodeProcess& operator=(const NodeProcess&) = delete;
    [[nodiscard]] std::string log() const {
        std::ifstream in{log_};
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    fs::path log_;
    pid_t pid_{-1};
};

/// The work's output as the test writes it: three lines of history with fixed times, then, for a
/// follower, one "live" line each time the test releases one.
class ScriptedOutput {
public:
    Result<void> operator()(bool follow, const node::LogSinkFn& sink) {
        for (std::string_view line : {"2026-12-02T17:00:01Z first line\n", "2026-12-02T17:00:02Z second line\n",
                                      "2026-12-02T17:00:03Z third line\n"})
            if (!sink(line)) return {};
        if (!follow) return {};
        for (int i = 1; i <= 3; ++i) {
            {
                std::unique_lock lock{mu_};
                if (!cv_.wait_for(lock, 60s, [&] { return released_ >= i; })) return {};
            }
            if (!sink("2026-12-02T17:00:1" + std::to_string(i) + "Z live line " + std::to_string(i) + "\n")) return {};
        }
        return {};
    }
    void release(int upto) {
        std::lock_guard lock{mu_};
        released_ = upto;
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int released_{0};
};

struct Market {
    test::TempDir dir{"zeppelin-cli"};
    std::unique_ptr<test::Anvil> anvil;
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<market::v2::Dispatcher> dispatcher;
    fs::path image;
    std::unique_ptr<NodeProcess> client;

    fs::path node_dir() const { return dir.path() / "client"; }
    Cli cli(const std::string& args) const {
        return zeppelin("--node " + quoted(node_dir().string()) + " " + args, dir.path());
    }
    void send(std::size_t account, Bytes data, const u256& value = 0) const {
        auto sender = eth::TxSender::create(*rpc, test::key(account), test::fast_options()).value();
        const auto sent = sender->send(dispatcher->tx(std::move(data), value));
        if (!sent) throw std::runtime_error{sent.error().message()};
    }
};

Market* g_market = nullptr;

class CliWithNode : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!test::busybox_available()) return;
        auto m = std::make_unique<Market>();
        m->anvil = std::make_unique<test::Anvil>();
        m->rpc = eth::RpcClient::connect(m->anvil->url()).value();
        (void)market::v2::add_errors_to(*m->rpc);
        auto deployer = eth::TxSender::create(*m->rpc, test::key(0), test::fast_options()).value();
        const auto deployed = market::v2::deploy(*m->rpc, *deployer, market::v2::Config::devnet_defaults()).value();
        m->dispatcher = std::make_unique<market::v2::Dispatcher>(*m->rpc, deployed.address);
        const auto deployment = m->dir.path() / "deployment.json";
        market::save_deployment(deployment, market::Deployment{test::kAnvilChainId, m->anvil->url(), deployed.address,
                                                               deployed.block_number, test::account(0),
                                                               deployed.transaction_hash})
            .value();
        const auto stake = m->dispatcher->config().value().min_stake;
        for (const std::size_t w : kWorkers) {
            const auto pub = test::key(w).public_key();
            m->send(w, market::v2::calls::register_worker({kPrice, 86400, 4000, 8192, Bytes(pub.begin(), pub.end())}), stake);
        }
        m->image = m->dir.path() / "web.tar";
        test::build_test_image(m->image);
        m->client = std::make_unique<NodeProcess>(m->node_dir(), deployment);
        for (int i = 0; i < 900 && !fs::exists(m->node_dir() / "api.json"); ++i) std::this_thread::sleep_for(100ms);
        if (!fs::exists(m->node_dir() / "api.json")) {
            ADD_FAILURE() << "the client node did not come up:\n" << m->client->log();
            return;
        }
        g_market = m.release();
    }
    static void TearDownTestSuite() {
        delete g_market;
        g_market = nullptr;
    }
    void SetUp() override {
        if (g_market == nullptr) GTEST_SKIP() << "needs busybox-static (the test image) and anvil";
    }
    Market& m() { return *g_market; }

    /// Buys a 10 s agreement (one period, 3 verifiers by default); returns its id.
    std::uint64_t buy() {
        const auto c = m().cli("--json run -d " + quoted(m().image.string()) + " --duration 10s --period 10s --max-price 2gwei/s");
        EXPECT_EQ(c.code, 0) << show(c) << m().client->log();
        const auto j = json::parse(c.out, nullptr, false);
        if (!j.is_object() || !j.contains("id")) {
            ADD_FAILURE() << show(c);
            return 0;
        }
        return j["id"].get<std::uint64_t>();
    }
};

TEST_F(CliWithNode, RunSaysWhatItEscrowedAndThatTheWorkerIsDrawn) {
    // Protocol v2: nobody picks the worker; the contract draws it a block after the purchase.
    const auto c = m().cli("run -d " + quoted(m().image.string()) + " --duration 10s --period 10s --max-price 2gwei/s");
    ASSERT_EQ(c.code, 0) << show(c);
    const auto id = std::stoull(c.out);  // stdout: the id alone, for scripts
    EXPECT_EQ(c.out, std::to_string(id) + "\n");
    // 1 period * (2 gwei * 10 s + 3 verifiers * 5 % of that) = 23 gwei
    EXPECT_NE(c.err.find("agreement " + std::to_string(id) + ": bought, 23 gwei escrowed; the worker is drawn among those at or below 2 gwei/s"),
              std::string::npos)
        << c.err;
    EXPECT_EQ(c.err.find("000000000 wei"), std::string::npos) << "amounts read best in their unit: " << c.err;

    const auto j = m().cli("run -d --json " + quoted(m().image.string()) + " --duration 10s --period 10s --max-price 2gwei/s");
    ASSERT_EQ(j.code, 0) << show(j);
    const auto bought = json::parse(j.out);
    EXPECT_EQ(bought["worker_id"], 0) << "not drawn yet: " << j.out;
    EXPECT_EQ(bought["deposit"], "23000000000") << "exact wei in JSON: " << j.out;
    EXPECT_EQ(bought["deposit"], m().dispatcher->get_agreement(bought["id"].get<std::uint64_t>()).value().escrow.str());
    // Refused before sending: the worker is not the client's to pick, and 1 verifier is too few.
    const auto steer = m().cli("run -d " + quoted(m().image.string()) + " --duration 10s --period 10s --worker " +
                               std::string{test::kAnvilAccounts[1].address});
    EXPECT_EQ(steer.code, 2) << show(steer);
    const auto one = m().cli("run -d " + quoted(m().image.string()) + " --duration 60s --period 10s --verifiers 1");
    EXPECT_EQ(one.code, 1) << show(one);
    EXPECT_NE(one.err.find("1 verifier asked for; the contract takes from 3 to 5"), std::string::npos) << one.err;
}

TEST_F(CliWithNode, EveryCommandThatPrintsDataPrintsJsonWhenAskedAfterTheSubcommandToo) {
    const auto id = buy();
    ASSERT_NE(id, 0U);
    const auto ps = m().cli("ps --json");
    ASSERT_EQ(ps.code, 0) << show(ps);
    bool listed = false;
    for (const auto& a : json::parse(ps.out)) listed = listed || a["id"] == id;
    EXPECT_TRUE(listed) << ps.out;

    const auto workers = m().cli("market workers --json");
    ASSERT_EQ(workers.code, 0) << show(workers);
    EXPECT_EQ(json::parse(workers.out).size(), 4U) << workers.out;
    const auto table = m().cli("market workers");
    ASSERT_EQ(table.code, 0) << show(table);
    EXPECT_NE(table.out.find("1 gwei/s"), std::string::npos) << table.out;

    const auto summary = m().cli("inspect " + std::to_string(id) + " --summary --json");
    ASSERT_EQ(summary.code, 0) << show(summary);
    const auto s = json::parse(summary.out, nullptr, false);
    ASSERT_TRUE(s.is_object()) << "--summary with --json is JSON: " << summary.out;
    EXPECT_EQ(s["id"], id);
    EXPECT_EQ(s["chain"]["periods"], 1);
    EXPECT_EQ(s["chain"]["max_price_per_second"], "2000000000");  // the worker's own price once drawn

    const auto text = m().cli("inspect " + std::to_string(id) + " --summary");
    ASSERT_EQ(text.code, 0) << show(text);
    EXPECT_NE(text.out.find("of 1 period billable"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("1 periods"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("the worker not drawn yet (at most 2 gwei/s)"), std::string::npos) << text.out;
}

/// Reads one line from `fd` (a pipe), waiting at most `limit` for it.
std::optional<std::string> read_line(int fd, std::string& pending, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (const auto nl = pending.find('\n'); nl != std::string::npos) {
            auto line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[512];
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return std::nullopt;
        pending.append(buf, static_cast<std::size_t>(n));
    }
}

TEST_F(CliWithNode, LogsLikeDockerLogs) {
    // An unknown agreement: the reason on stderr, exit 1, nothing on stdout.
    const auto unknown = m().cli("logs 999");
    EXPECT_EQ(unknown.code, 1) << show(unknown);
    EXPECT_EQ(unknown.out, "");
    EXPECT_NE(unknown.err.find("999"), std::string::npos) << unknown.err;

    const auto id = buy();
    ASSERT_NE(id, 0U);
    // Before the worker offers its output there is none (like a container not started yet).
    const auto early = m().cli("logs " + std::to_string(id));
    EXPECT_EQ(early.code, 0) << show(early);
    EXPECT_EQ(early.out, "");

    // The worker (played here) serves the output on its log channel and tells the client where, in
    // its accept: the one the draw picks once a block follows the purchase's.
    ASSERT_TRUE(m().rpc->request("evm_mine", json::array()));
    const auto drawn = m().dispatcher->preview_worker(id).value();
    ASSERT_NE(drawn, 0U);
    const auto owner = m().dispatcher->get_worker(drawn).value().owner;
    std::size_t worker = 0;
    for (const auto w : kWorkers)
        if (owner == test::account(w)) worker = w;
    ASSERT_NE(worker, 0U);
    transfer::Secret secret{};
    secret.bytes.fill(0x5a);
    ScriptedOutput output;
    auto server = node::LogServer::start(
                      "127.0.0.1", 0,
                      [&](std::uint64_t a) -> std::optional<transfer::Secret> {
                          if (a == id) return node::logs_key(secret);
                          return std::nullopt;
                      },
                      [&](std::uint64_t, bool follow, const node::LogSinkFn& sink) { return output(follow, sink); })
                      .value();
    const node::msg::TransferOffer offer{"127.0.0.1", test::Anvil::free_port(), secret, server->port()};
    const auto sealed = node::msg::seal_all(id, owner, {node::msg::Sealed{test::account(kClient), test::key(kClient).public_key(), offer}}).value();
    m().send(worker, market::v2::calls::accept_agreement(id, sealed));
    std::string got;
    for (int i = 0; i < 300 && got.find("first line") == std::string::npos; ++i) {
        got = m().cli("logs " + std::to_string(id)).out;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(got, "first line\nsecond line\nthird line\n") << m().client->log();

    const auto tail = m().cli("logs --tail 1 " + std::to_string(id));
    EXPECT_EQ(tail.code, 0) << show(tail);
    EXPECT_EQ(tail.out, "third line\n");
    const auto since = m().cli("logs " + std::to_string(id) + " --since 2026-12-02T17:00:02Z -t");
    EXPECT_EQ(since.code, 0) << show(since);
    EXPECT_EQ(since.out, "2026-12-02T17:00:02Z second line\n2026-12-02T17:00:03Z third line\n");
    const auto recent = m().cli("logs " + std::to_string(id) + " --since 10m");  // the lines are older
    EXPECT_EQ(recent.code, 0) << show(recent);
    EXPECT_EQ(recent.out, "");
    const auto lines = m().cli("logs " + std::to_string(id) + " -n 2 --json");
    ASSERT_EQ(lines.code, 0) << show(lines);
    EXPECT_EQ(lines.out, R"({"line":"second line","time":"2026-12-02T17:00:02Z"})" "\n"
                         R"({"line":"third line","time":"2026-12-02T17:00:03Z"})" "\n");

    // Following into a pipe: each line arrives as soon as it is written (the next is written only
    // after the previous one came out of the pipe).
    {
        FILE* pipe = ::popen((std::string{ZEPPELIN_CLI_PATH} + " --node " + quoted(m().node_dir().string()) +
                              " logs -f --tail 1 " + std::to_string(id) + " 2>/dev/null")
                                 .c_str(),
                             "r");
        ASSERT_NE(pipe, nullptr);
        std::string pending;
        EXPECT_EQ(read_line(::fileno(pipe), pending, 30s), std::optional<std::string>{"third line"});
        for (int i = 1; i <= 3; ++i) {
            output.release(i);
            EXPECT_EQ(read_line(::fileno(pipe), pending, 30s), std::optional<std::string>{"live line " + std::to_string(i)})
                << "line " << i << " did not come through the pipe while following";
        }
        const int status = ::pclose(pipe);  // the output ended: so does the command
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }

    // The worker unreachable: the reason on stderr, exit 1, nothing on stdout.
    server->stop();
    server.reset();
    const auto gone = m().cli("logs " + std::to_string(id));
    EXPECT_EQ(gone.code, 1) << show(gone);
    EXPECT_EQ(gone.out, "");
    EXPECT_NE(gone.err.find("Connection refused"), std::string::npos) << gone.err;
}

// ---------------------------------------------------------------------------------------------
// Refusals explained before anything is sent (node/purchase_check.hpp), shell completions.

TEST_F(CliWithNode, RunRefusesBeforeSendingAnythingAndSaysWhatToChange) {
    const auto count = m().dispatcher->agreement_count().value();
    const auto nonce = m().rpc->get_transaction_count(test::account(kClient)).value();
    const auto image = quoted(m().image.string());
    const auto worker1 = m().dispatcher->worker_id_of(test::account(1)).value();
    // The newcomer's mistakes of issue 14, each with the sentence (numbers included) and exit 1.
    const std::string ok_price = " --max-price 2gwei/s", ok_terms = " --duration 60s --period 10s";
    const std::vector<std::pair<std::string, std::string>> cases{
        {ok_terms + " --max-price 0.5gwei/s", "asks 1 gwei/s, above your highest price of 500000000 wei/s: raise --max-price to at least 1 gwei/s"},
        {" --duration 95s --period 10s" + ok_price, "the duration, 95 s, is not a whole number of 10 s periods: use a duration of 100 s or 90 s"},
        {" --period 5s --duration 60s" + ok_price, "the period is 5 s; the contract needs at least 10 s"},
        {" --duration 0" + ok_price, "the duration is 0: ask for at least one period"},
        {ok_terms + ok_price + " --verifiers 5", "1 worker and 5 verifiers need 6 active workers other than yours; the market has 4: ask for at most 3 verifiers"},
        {ok_terms + ok_price + " --verifiers 2", "2 verifiers asked for; the contract takes from 3 to 5"},
        {ok_terms + ok_price + " --verifiers 4", "4 verifiers cannot form a majority; the contract takes an odd number: ask for 5"},
        {ok_terms + ok_price + " --verifiers 9", "9 verifiers asked for; the contract takes from 3 to 5"},
        {ok_terms + ok_price + " --port 81", "the image does not expose port 81; it exposes 8080: use --port 8080"},
        {ok_terms + ok_price + " --cpu 8000", "no active worker offers 8000 millicores and 256 MB; the most offered are 4000 millicores and 8192 MB"},
        {" --max-price 18ether/s --duration 1d --period 60s", "your account holds"},
    };
    for (const auto& [args, expected] : cases) {
        auto full = "run -d " + image + args;
        const auto c = m().cli(full);
        EXPECT_EQ(c.code, 1) << full << "\n" << show(c);
        EXPECT_EQ(c.out, "") << full;
        EXPECT_NE(c.err.find(expected), std::string::npos) << full << "\n" << c.err;
        EXPECT_EQ(c.err.find("InvalidRequirements"), std::string::npos) << "the contract's words: " << c.err;
    }
    // A missing image, in words.
    const auto missing = m().cli("run -d ./no-such-image.tar --duration 60s --period 10s");
    EXPECT_EQ(missing.code, 1) << show(missing);
    EXPECT_NE(missing.err.find("no image archive at ./no-such-image.tar"), std::string::npos) << missing.err;
    // Nothing was bought, nothing was sent.
    EXPECT_EQ(m().dispatcher->agreement_count().value(), count);
    EXPECT_EQ(m().rpc->get_transaction_count(test::account(kClient)).value(), nonce);

    // --dry-run: the escrow and the worker that would be chosen, nothing bought.
    const auto dry = m().cli("run --dry-run " + image + " --duration 60s --period 10s --verifiers 3 --max-price 2gwei/s");
    ASSERT_EQ(dry.code, 0) << show(dry);
    // 6 periods * (2 gwei * 10 s + 3 verifiers * 5 % of that) = 138 gwei
    EXPECT_NE(dry.out.find("would escrow 138 gwei; the cheapest of 4 eligible workers is worker"), std::string::npos) << dry.out;
    const auto dry_json = m().cli("run --dry-run --json " + image + " --duration 60s --period 10s --max-price 0.5gwei/s");
    EXPECT_EQ(dry_json.code, 1) << show(dry_json);
    const auto v = json::parse(dry_json.out);
    EXPECT_EQ(v["ok"], false);
    EXPECT_EQ(v["refusals"][0]["code"], "price_below_market") << dry_json.out;
    EXPECT_NE(v["refusals"][0]["message"].get<std::string>().find("worker " + std::to_string(worker1)), std::string::npos)
        << dry_json.out;
    EXPECT_EQ(m().dispatcher->agreement_count().value(), count);
}

TEST_F(CliConventions, CompletionsForBashAndZsh) {
    const auto bash = run("completion bash");
    ASSERT_EQ(bash.code, 0) << show(bash);
    const auto script = dir_.path() / "zeppelin.bash";
    std::ofstream{script} << bash.out;
    // What bash offers after words typed so far (COMP_WORDS as bash fills it).
    auto offered = [&](const std::string& words, int cword) {
        return test::run_command("bash -c " + quoted("source " + quoted(script.string()) + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                                                     std::to_string(cword) + "; _zeppelin; echo \"${COMPREPLY[*]}\""))
            .out;
    };
    EXPECT_EQ(offered("zeppelin mar", 1), "market\n");
    EXPECT_EQ(offered("zeppelin market ''", 2), "workers agreements --help -h --node --json --exact --rpc-url\n");
    EXPECT_EQ(offered("zeppelin --json market w", 3), "workers\n");
    EXPECT_EQ(offered("zeppelin run --max", 2), "--max-price\n");
    EXPECT_EQ(offered("zeppelin completion ''", 2), "--help -h --json --exact --rpc-url --node\n");
    EXPECT_EQ(offered("zeppelin logs 7 --ta", 3), "--tail\n");

    const auto zsh = run("completion zsh");
    ASSERT_EQ(zsh.code, 0) << show(zsh);
    EXPECT_EQ(zsh.out.rfind("#compdef zeppelin\n", 0), 0U) << zsh.out.substr(0, 80);
    if (test::run_command("command -v zsh").status == 0) {
        const auto zfile = dir_.path() / "_zeppelin";
        std::ofstream{zfile} << zsh.out;
        // compsys's functions replaced by ones that print what they are given.
        const std::string stubs =
            "compdef(){}; compadd(){ print -r -- opts: ${(P)2} }; _describe(){ print -rl -- ${(P)4} }; _files(){ print files }; ";
        auto zoffered = [&](const std::string& words, int current) {
            return test::run_command("zsh -fc " + quoted(stubs + "source " + quoted(zfile.string()) + "; words=(" + words +
                                                         "); CURRENT=" + std::to_string(current) + "; _zeppelin"))
                .out;
        };
        EXPECT_EQ(zoffered("zeppelin market ''", 3), "workers:List the registered workers\nagreements:List the registered agreements\nfiles\n");
        EXPECT_NE(zoffered("zeppelin run --m", 3).find("--max-price"), std::string::npos);
        EXPECT_NE(zoffered("zeppelin ''", 2).find("\ncompletion:Print a shell completion script"), std::string::npos);
    }
    const auto fish = run("completion fish");
    EXPECT_EQ(fish.code, 2) << show(fish);
}

}  // namespace
}  // namespace zeppelin
