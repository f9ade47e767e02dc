// The marketplace end to end on protocol v2, as people use it: a real anvil (a block every second
// besides instant mining: draws need the block after their commit) with the v2 dispatcher
// deployed, the real Podman Docker API service, five `zeppelin node` worker processes and one
// client-only node, all talking over real sockets; the client side driven through the CLI.
//
// Nobody picks the worker in v2: a test makes the worker it is about the only one cheap enough
// (1 gwei/s against 3 gwei/s, bought at most 2 gwei/s); the verifiers (3) are drawn from the rest.
//
// Scenarios: the happy path with exact payment accounting and forged messages ignored; a worker
// that stops serving mid-agreement (not paid for the failed periods, stake burned, never paid to
// the client); a worker that never accepts (replaced, then stopped early by the client); a worker
// node killed with SIGKILL and restarted mid-agreement (completes, no duplicate or failed
// transaction); an image that is not the committed one (refused; the client cancels); and a node
// on a second, separately started chain (nothing assumes the devnet).
//
// Needs ZEPPELIN_DOCKER_HOST (scripts/test.sh starts the Podman service); skipped without it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "accounts.hpp"
#include "anvil.hpp"
#include "process.hpp"
#include "support/test_image.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/market/protocol_v2.hpp"
#include "zeppelin/node/db.hpp"
#include "zeppelin/node/messages.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/runtime/engine.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace v2 = market::v2;
using v2::AgreementStatus;
using test::kAnvilAccounts;

using test::key;
Address addr(std::size_t i) { return test::account(i); }
std::string lower(const Address& a) { return to_hex(a, false); }

/// A background process whose output goes to a file; SIGTERM (then SIGKILL) when destroyed.
class Proc final {
public:
    Proc(std::vector<std::string> argv, std::map<std::string, std::string> env, fs::path log)
        : argv_{std::move(argv)}, env_{std::move(env)}, log_{std::move(log)} {
        start();
    }
    ~Proc() { stop(); }
    Proc(const Proc&) = delete;
    Proc& operator=(const Proc&) = delete;

    void start() {
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::setpgid(0, 0);
            for (const auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
            std::vector<char*> args;
            for (auto& a : argv_) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
    }
    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(100ms);
        }
        kill9();
    }
    /// The exit code if it exited (reaps it), nullopt while running.
    std::optional<int> exited() {
        if (pid_ <= 0) return exit_code_;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_code_;
    }
    [[nodiscard]] std::string log() const {
        std::ifstream in{log_};
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    [[nodiscard]] std::string tail(std::size_t n = 4000) const {
        const auto s = log();
        return s.size() > n ? s.substr(s.size() - n) : s;
    }

private:
    std::vector<std::string> argv_;
    std::map<std::string, std::string> env_;
    fs::path log_;
    pid_t pid_{-1};
    std::optional<int> exit_code_;
};

using test::wait_until;

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string{"'\\''"} : std::string{c};
    return out + "'";
}

constexpr std::uint64_t kPrice = 1'000'000'000;      // the worker a test is about: 1 gwei/s
constexpr std::uint64_t kOtherPrice = 3'000'000'000; // every other worker: above what clients accept
constexpr unsigned kFeeBps = 500;
constexpr std::size_t kWorkers = 5;                  // anvil accounts 1..5; account 6 is the client
constexpr std::size_t kClient = 6;

/// Everything the scenarios share: one chain, one contract, four node processes.
struct Market {
    test::TempDir dir;
    std::unique_ptr<test::Anvil> anvil;
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<v2::Dispatcher> dispatcher;
    market::Deployed deployed;
    fs::path deployment;
    fs::path image;
    std::map<std::size_t, std::unique_ptr<Proc>> nodes;  // by anvil account: kClient, and workers 1..kWorkers
    std::map<std::size_t, std::uint64_t> prices;         // each worker node's price, wei per second

    fs::path node_dir(std::size_t account) const { return dir.path() / ("node" + std::to_string(account)); }

    void start_node(std::size_t account, std::vector<std::string> extra = {}) {
        fs::create_directories(node_dir(account));
        std::vector<std::string> argv{ZEPPELIN_CLI_PATH, "node", "--data-dir", node_dir(account).string(),
                                      "--deployment", deployment.string(), "--private-key-env", "ZP_TEST_KEY",
                                      "--cpu", "8000", "--memory", "8192", "--log-level", "info"};
        if (account != kClient) {
            prices.emplace(account, kOtherPrice);
            argv.insert(argv.end(), {"--price", std::to_string(prices[account]) + "wei"});
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::map<std::string, std::string> env{{"ZP_TEST_KEY", std::string{kAnvilAccounts[account].private_key}},
                                               {"ZEPPELIN_HOME", node_dir(account).string()}};
        // The node it replaces stops first: on its way out it removes api.json, which would otherwise
        // race with the new node writing it.
        nodes.erase(account);
        fs::remove(node_dir(account) / "api.json");
        nodes[account] = std::make_unique<Proc>(argv, env, node_dir(account) / "node.log");
        const bool up = wait_until([&] { return fs::exists(node_dir(account) / "api.json") || nodes[account]->exited(); }, 90s);
        ASSERT_TRUE(up && fs::exists(node_dir(account) / "api.json"))
            << "node " << account << " did not come up:\n" << nodes[account]->tail();
    }

    /// Runs the CLI against the client's node; returns its stdout (and asserts success).
    std::string cli(const std::string& args, bool expect_ok = true, std::size_t node = kClient) const {
        const auto cmd = std::string{"ZEPPELIN_NODE_DIR="} + shell_quote(node_dir(node).string()) + " " +
                         ZEPPELIN_CLI_PATH + " " + args + " 2>" + shell_quote((dir.path() / "cli.err").string());
        const auto r = test::run_command(cmd);
        std::ifstream err{dir.path() / "cli.err"};
        std::stringstream es;
        es << err.rdbuf();
        if (expect_ok) {
            EXPECT_EQ(r.status, 0) << cmd << "\nstdout: " << r.out << "\nstderr: " << es.str();
        }
        return r.out + (expect_ok ? "" : es.str());
    }

    v2::AgreementView view(std::uint64_t id) const { return dispatcher->get_agreement(id).value(); }

    /// A worker node changes its price through its own API (its node sends the update).
    void set_price(std::size_t account, std::uint64_t price) {
        if (prices[account] == price) return;
        const auto api = json::parse(std::ifstream{node_dir(account) / "api.json"});
        std::string token;
        std::getline(std::ifstream{node_dir(account) / "api-token"}, token);
        const auto r = test::run_command("curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer " + token +
                                         "' -d '{\"price_per_second\":\"" + std::to_string(price) + "\"}' http://127.0.0.1:" +
                                         std::to_string(api["port"].get<unsigned>()) + "/api/worker");
        ASSERT_EQ(r.out, "200") << "price of worker node " << account;
        prices[account] = price;
    }
    /// Makes `account` the only worker a purchase at up to 2 gwei/s can draw (0: none of the nodes).
    void target(std::size_t account) {
        for (std::size_t w = 1; w <= kWorkers; ++w) set_price(w, w == account ? kPrice : kOtherPrice);
    }

    std::vector<v2::EventRecord> events(std::uint64_t id) const {
        eth::LogFilter f;
        f.from_block = deployed.block_number;
        f.to_block = rpc->block_number().value();
        f.addresses = {deployed.address};
        std::vector<v2::EventRecord> out;
        const auto logs = rpc->get_logs(f).value();
        auto decoded = v2::decode_events(deployed.address, logs);
        if (!decoded) throw std::runtime_error{decoded.error().message()};
        for (auto& r : *decoded) {
            const bool match = std::visit(
                [&](const auto& e) {
                    if constexpr (requires { e.agreement_id; }) {
                        return e.agreement_id == id;
                    } else {
                        return false;
                    }
                },
                r.event);
            if (match) out.push_back(std::move(r));
        }
        return out;
    }

    /// Waits until the agreement is settled or ended and the client has its refund (sent with the
    /// settlement, or a credit its node withdraws).
    void wait_closed(std::uint64_t id, std::chrono::seconds limit = 120s) {
        const bool closed = wait_until(
            [&] {
                const auto v = view(id);
                return (v.status == AgreementStatus::settled || v.status == AgreementStatus::ended) &&
                       dispatcher->credit_of(addr(kClient)).value() == 0;
            },
            limit);
        ASSERT_TRUE(closed) << "agreement " << id << " did not close: status " << v2::to_string(view(id).status)
                            << ", client credit " << to_dec(dispatcher->credit_of(addr(kClient)).value()) << "\n" << logs();
    }

    std::string logs() const {
        std::string out;
        for (const auto& [account, p] : nodes) out += "---- node " + std::to_string(account) + "\n" + p->tail(3000);
        return out;
    }
};

Market* g_market = nullptr;

/// Short windows and small fees, so that every scenario's numbers show and it ends in seconds.
v2::Config config() {
    auto c = v2::Config::devnet_defaults();
    c.accept_window = 15;
    c.start_window = 120;
    c.report_window = 15;
    c.cool_down = 10;
    c.cancel_fee = 1'000'000'000;   // 1 gwei: a cancelled agreement's deposit is a few dozen gwei
    c.decline_fee = 1'000'000'000;
    c.verifier_fee_bps = kFeeBps;
    return c;
}

class Marketplace : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr || !test::busybox_available()) return;
        auto m = std::make_unique<Market>();
        test::AnvilOptions ao;
        ao.block_time = 1;
        ao.extra_args = {"--mixed-mining"};
        m->anvil = std::make_unique<test::Anvil>(ao);
        m->rpc = eth::RpcClient::connect(m->anvil->url()).value();
        (void)v2::add_errors_to(*m->rpc);
        auto sender = eth::TxSender::create(*m->rpc, key(0)).value();
        m->deployed = v2::deploy(*m->rpc, *sender, config()).value();
        m->dispatcher = std::make_unique<v2::Dispatcher>(*m->rpc, m->deployed.address);
        m->deployment = m->dir.path() / "deployment.json";
        market::save_deployment(m->deployment, market::Deployment{test::kAnvilChainId, m->anvil->url(),
                                                                  m->deployed.address, m->deployed.block_number,
                                                                  addr(0), m->deployed.transaction_hash})
            .value();
        test::TestImageOptions io;
        io.cmd = {"/bin/sh", "-c", "echo hello-from-the-work; exec /bin/busybox httpd -f -p 8080 -h /www"};
        m->image = m->dir.path() / "web.tar";
        test::build_test_image(m->image, io);
        for (std::size_t w = 1; w <= kWorkers; ++w) m->start_node(w);
        m->start_node(kClient, {"--client-only"});
        g_market = m.release();
    }
    static void TearDownTestSuite() {
        // Keep the nodes' logs of a failed run (CI prints where they are).
        if (g_market != nullptr && ::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
            const fs::path keep = fs::temp_directory_path() / "zeppelin-e2e-logs";
            fs::create_directories(keep);
            for (const auto& [account, p] : g_market->nodes) {
                std::ofstream out{keep / ("node" + std::to_string(account) + ".log")};
                out << p->log();
            }
            std::fprintf(stderr, "node logs kept in %s\n", keep.c_str());
        }
        delete g_market;
        g_market = nullptr;
    }
    void SetUp() override {
        if (g_market == nullptr) GTEST_SKIP() << "needs ZEPPELIN_DOCKER_HOST (scripts/services.sh) and busybox-static";
    }
    Market& m() { return *g_market; }

    /// `zeppelin run` through the client node, waiting for the service; returns the JSON it prints.
    /// `run` returns once the service answers, which is from the worker's start on; the paid clock
    /// (and the verifiers) come a block later: this waits for that too, so that the scenarios can
    /// time themselves by the agreement's start.
    json run(const std::string& args) {
        const auto out = m().cli("--json run --timeout 120s " + shell_quote(m().image.string()) + " " + args);
        auto j = json::parse(out, nullptr, false);
        if (j.is_discarded()) {
            ADD_FAILURE() << "zeppelin run printed: " << out << "\n" << m().logs();
        } else if (j.contains("id")) {
            EXPECT_TRUE(wait_until([&] { return m().view(j["id"].get<std::uint64_t>()).status != AgreementStatus::starting; }, 30s))
                << "the verifiers of agreement " << j["id"] << " were not drawn\n" << m().logs();
        }
        return j;
    }
};

/// Where an agreement's money went (its events), for the accounting checks.
struct Payout {
    u256 deposit{0};
    u256 worker{0};
    u256 client{0};
    u256 verifiers{0};
    u256 burned{0};           // worker stake and verifier bonds burned for this agreement
    u256 burned_deposit{0};   // the part of the deposit burned (a cancellation's fee)
    std::uint64_t paid_periods{0};
    std::uint64_t failed_periods{0};
    std::uint64_t verifiers_settled{0};
};

Payout payout(const Market& m, std::uint64_t id) {
    Payout p;
    for (const auto& r : m.events(id)) {
        if (const auto* e = std::get_if<v2::AgreementPurchased>(&r.event)) p.deposit = e->deposit;
        if (const auto* e = std::get_if<v2::AgreementSettled>(&r.event)) {
            p.worker = e->worker_payment;
            p.client = e->client_refund;
            p.burned += e->burned;
            p.paid_periods = e->paid_periods;
            p.failed_periods = e->failed_periods;
        }
        if (const auto* e = std::get_if<v2::VerifierSettled>(&r.event)) {
            p.verifiers += e->reward;
            ++p.verifiers_settled;
        }
        if (const auto* e = std::get_if<v2::AgreementEnded>(&r.event)) {
            p.client = e->client_refund;
            p.burned += e->burned;
            if (e->reason == v2::EndReason::cancelled) p.burned_deposit = e->burned;
        }
    }
    return p;
}

TEST_F(Marketplace, HappyPathPaysExactlyAndIgnoresForgedMessages) {
    m().target(1);
    const auto r = run("--duration 30s --period 10s --max-price 2gwei/s --probe http:/");
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    const auto v = m().view(id);
    EXPECT_EQ(v.status, AgreementStatus::running);
    EXPECT_EQ(v.worker_id, m().dispatcher->worker_id_of(addr(1)).value()) << "the only worker cheap enough was drawn";
    ASSERT_EQ(v.verifier_ids.size(), 3U) << "three verifiers by default";

    // The service answers where the client was told.
    const auto out = probe::run(probe::parse_spec("http:/").value(), {r["host"].get<std::string>(), r["port"].get<std::uint16_t>()});
    EXPECT_TRUE(out.ok) << out.detail;
    // Its output reaches the client over the encrypted log channel.
    EXPECT_TRUE(wait_until([&] { return m().cli("logs " + std::to_string(id)).find("hello-from-the-work") != std::string::npos; }, 20s))
        << m().cli("logs " + std::to_string(id), false) << m().logs();

    // Forged messages: a verifier (a party, so the contract lets it post) announces another endpoint
    // to the client, and garbage arrives too; the client's node ignores both.
    {
        // A verifier other than account 3, whose journal a later scenario counts against its nonce.
        const auto verifier_account = [&] {
            for (const auto vid : v.verifier_ids)
                for (std::size_t w = 1; w <= kWorkers; ++w)
                    if (w != 3 && m().dispatcher->worker_id_of(addr(w)).value() == vid) return w;
            return std::size_t{0};
        }();
        ASSERT_NE(verifier_account, 0U);
        // (Its own account, through a second sender: the node reads its next nonce from the chain.)
        auto sender = eth::TxSender::create(*m().rpc, key(verifier_account)).value();
        const auto forged = node::msg::seal(key(kClient).public_key(), id, addr(verifier_account), addr(kClient),
                                            node::msg::ServiceReady{"127.0.0.1", 1})
                                .value();
        const auto packed = v2::pack_envelopes({forged}).value();
        sender->send(m().dispatcher->tx(v2::calls::post_message(id, u256{v2::kClientBit}, packed))).value();
        const Bytes garbage(80, 0x42);
        sender->send(m().dispatcher->tx(v2::calls::post_message(id, u256{v2::kClientBit}, v2::pack_envelopes({garbage}).value())))
            .value();
    }
    EXPECT_TRUE(wait_until([&] { return m().nodes[kClient]->log().find("ignored a message") != std::string::npos; }, 15s));

    m().wait_closed(id);
    const auto p = payout(m(), id);
    EXPECT_EQ(m().view(id).status, AgreementStatus::settled);
    EXPECT_EQ(p.paid_periods, 3U);
    EXPECT_EQ(p.worker, u256{3} * 10 * kPrice);  // three verified periods at the worker's price
    EXPECT_EQ(p.verifiers_settled, 3U);
    EXPECT_EQ(p.verifiers, u256{3} * 3 * (u256{10} * kPrice * kFeeBps / 10000)) << "3 verifiers x 3 periods";
    EXPECT_EQ(p.worker + p.client + p.verifiers, p.deposit) << "every wei of the escrow is accounted for";
    EXPECT_EQ(p.burned, 0U);
    // The client still saw the real endpoint (not the forged one).
    json inspect;
    EXPECT_TRUE(wait_until([&] {
        inspect = json::parse(m().cli("inspect " + std::to_string(id)));
        return inspect["state"] == "done";
    }, 20s)) << inspect.dump(2);
    EXPECT_EQ(inspect["local"]["service"]["port"], r["port"]);
    EXPECT_TRUE(inspect["payments"]["balanced"].get<bool>()) << inspect["payments"].dump(2);
    EXPECT_EQ(inspect["payments"]["worker_slashed"], "0") << inspect["payments"].dump(2);
    EXPECT_EQ(inspect["payments"]["verifier_penalties"], "0") << inspect["payments"].dump(2);
}

TEST_F(Marketplace, WorkerThatStopsServingIsNotPaidAndItsStakeIsBurned) {
    m().target(2);
    const auto r = run("--duration 40s --period 10s --probe http:/");
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    const auto v = m().view(id);
    const auto worker_id = v.worker_id;
    ASSERT_EQ(worker_id, m().dispatcher->worker_id_of(addr(2)).value());
    // Let period 0 be served, then the work disappears (the worker's machine "stops serving").
    const auto kill_at = std::chrono::system_clock::time_point{std::chrono::seconds{v.started_at() + 11}};
    std::this_thread::sleep_until(kill_at);
    auto engine = runtime::Engine::from_environment().value();
    // The worker's container: this agreement's, labelled with the worker node's runtime id.
    std::string runtime_id;
    std::getline(std::ifstream{m().node_dir(2) / "runtime-id"}, runtime_id);
    ASSERT_TRUE(runtime_id.starts_with(lower(addr(2)).substr(0, 16))) << runtime_id;
    int killed = 0;
    const auto containers = engine.list_containers({"io.zeppelin.agreement=" + std::to_string(id)}, false).value();
    for (const auto& c : containers) {
        if (c.labels.count("io.zeppelin.worker") == 0 || c.labels.at("io.zeppelin.worker") != runtime_id) continue;
        engine.remove_container(c.id, true).value();
        ++killed;
    }
    ASSERT_EQ(killed, 1);

    m().wait_closed(id);
    const auto p = payout(m(), id);
    EXPECT_LE(p.paid_periods, 2U) << "periods after the outage must not be paid";
    EXPECT_GE(p.paid_periods, 1U) << "period 0 was served";
    EXPECT_GE(p.failed_periods, 2U);
    EXPECT_GT(p.burned, 0U) << "the failed periods' stake is burned";
    bool burned_from_the_worker = false;
    for (const auto& rec : m().events(id))
        if (const auto* e = std::get_if<v2::StakeBurned>(&rec.event)) burned_from_the_worker |= e->worker_id == worker_id;
    EXPECT_TRUE(burned_from_the_worker);
    EXPECT_EQ(p.worker + p.client + p.verifiers, p.deposit) << "the client gets its unused money back, never the slashed stake";
    // The node's summary tells the worker's slash apart from the verifiers' penalties.
    u256 worker_burned = 0;
    for (const auto& rec : m().events(id))
        if (const auto* e = std::get_if<v2::StakeBurned>(&rec.event); e && e->worker_id == worker_id) worker_burned += e->amount;
    json summary;
    EXPECT_TRUE(wait_until([&] {
        summary = json::parse(m().cli("--json inspect " + std::to_string(id)), nullptr, false);
        return !summary.is_discarded() && summary["payments"].value("closed", false);
    }, 30s)) << summary.dump(2);
    EXPECT_EQ(summary["payments"]["worker_slashed"], to_dec(worker_burned)) << summary["payments"].dump(2);
    EXPECT_EQ(summary["payments"]["slashed"], to_dec(p.burned)) << summary["payments"].dump(2);
    EXPECT_GE(m().dispatcher->reputation_counters(worker_id).value().failed_periods, 2U);
    // Below the minimum stake the worker gets no work; its node tops the stake up by itself.
    EXPECT_TRUE(wait_until([&] { return m().dispatcher->get_worker(worker_id).value().stake >= config().min_stake; }, 30s))
        << m().nodes[2]->tail();
}

TEST_F(Marketplace, WorkerThatNeverAcceptsIsReplacedAndClientStopsEarly) {
    // A registered worker with no node behind it (it went offline): the only one cheap enough.
    m().target(0);
    auto sender = eth::TxSender::create(*m().rpc, key(9)).value();
    const auto pub = key(9).public_key();
    market::WorkerOffer offer{kPrice / 2, 86400, 8000, 8192, Bytes(pub.begin(), pub.end())};
    sender->send(m().dispatcher->tx(v2::calls::register_worker(offer), parse_amount("1ether").value())).value();
    const auto dead = m().dispatcher->worker_id_of(addr(9)).value();

    const auto out = m().cli("--json run --detach " + shell_quote(m().image.string()) +
                             " --duration 60s --period 10s --max-price 1gwei/s --probe tcp");
    const auto id = json::parse(out)["id"].get<std::uint64_t>();
    // Nobody accepts: the client draws after 20 s, which records the dead worker and starts its
    // accept window; meanwhile worker 1 becomes cheap enough to be drawn next.
    ASSERT_TRUE(wait_until([&] { return m().view(id).worker_id == dead; }, 60s)) << m().logs();
    m().target(1);
    ASSERT_TRUE(wait_until([&] { return m().view(id).status == AgreementStatus::running; }, 90s)) << m().logs();
    EXPECT_EQ(m().view(id).worker_id, m().dispatcher->worker_id_of(addr(1)).value()) << "replaced";
    bool declined = false;
    for (const auto& e : m().events(id))
        if (const auto* d = std::get_if<v2::AgreementDeclined>(&e.event)) declined |= d->worker_id == dead;
    EXPECT_TRUE(declined);
    EXPECT_LT(m().dispatcher->get_worker(dead).value().stake, config().min_stake) << "the silent worker paid its decline fee";
    // The offline worker must not be picked again by later scenarios.
    sender->send(m().dispatcher->tx(v2::calls::pause_worker())).value();

    // The client ends it early: begun periods stay billable, the rest comes back.
    m().cli("stop " + std::to_string(id));
    m().wait_closed(id);
    const auto after = m().view(id);
    EXPECT_LT(after.billable_periods, 6U);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.worker + p.client + p.verifiers, p.deposit);
    EXPECT_GT(p.client, u256{6 - after.billable_periods} * 10 * kPrice) << "unused time refunded";
}

TEST_F(Marketplace, WorkerKilledAndRestartedCompletesWithoutDuplicateTransactions) {
    m().target(3);
    const auto r = run("--duration 30s --period 10s --probe http:/");
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    m().nodes[3]->kill9();
    std::this_thread::sleep_for(3s);
    m().start_node(3);
    // The restarted worker reads the work's output on another port and tells the client: `logs`
    // reaches it again (issue 14: "cannot connect ... Connection refused" after a restart).
    EXPECT_TRUE(wait_until([&] { return m().cli("logs " + std::to_string(id)).find("hello-from-the-work") != std::string::npos; }, 20s))
        << m().cli("logs " + std::to_string(id), false) << m().logs();

    m().wait_closed(id);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.paid_periods, 3U) << "the container kept serving while its node was down";
    EXPECT_EQ(p.worker + p.client + p.verifiers, p.deposit);
    // Every transaction the worker's account sent is in its journal, mined, and none failed or repeated.
    auto db = node::Database::open((m().node_dir(3) / "state.sqlite").string()).value();
    // The node records a transaction as mined a moment after the chain shows its effect.
    EXPECT_TRUE(wait_until([&] {
        auto q = db.prepare("SELECT COUNT(*) FROM txs WHERE status = 'pending'").value();
        return q.step().value() && q.column_int(0) == 0;
    }, 15s));
    std::string journal;
    {
        auto all = db.prepare("SELECT nonce, agreement, action, status FROM txs ORDER BY nonce").value();
        while (all.step().value())
            journal += std::to_string(all.column_int(0)) + " " + std::to_string(all.column_int(1)) + " " +
                       all.column_text(2) + " " + all.column_text(3) + "\n";
    }
    SCOPED_TRACE("journal:\n" + journal);
    auto st = db.prepare("SELECT status, COUNT(*) FROM txs GROUP BY status").value();
    std::map<std::string, std::int64_t> by_status;
    while (st.step().value()) by_status[st.column_text(0)] = st.column_int(1);
    EXPECT_EQ(by_status["failed"], 0);
    EXPECT_EQ(by_status["pending"], 0);
    const auto sent = m().rpc->get_transaction_count(addr(3)).value();
    EXPECT_EQ(static_cast<std::uint64_t>(by_status["mined"]), sent) << "each nonce used exactly once, by a journaled transaction";
    auto dup = db.prepare("SELECT agreement, action, COUNT(*) FROM txs WHERE status = 'mined' GROUP BY agreement, action HAVING COUNT(*) > 1").value();
    EXPECT_FALSE(dup.step().value()) << "an action was mined twice";
}

TEST_F(Marketplace, AWorkerWhoseEngineCannotPullLoadsTheImageAsAnArchiveAndKeepsNone) {
    // Worker 3 again, now for an engine that cannot reach its machine's loopback (Docker in a VM):
    // the image is loaded as an archive once its transfer is complete and verified.
    // It keeps no image once an agreement ends (--keep-images 0).
    m().start_node(3, {"--image-delivery", "load", "--keep-images", "0"});
    m().target(3);
    test::TestImageOptions io;
    // A page of its own: an image no engine holds yet (the worker keeps images it ran).
    io.page = "<html><body>loaded as an archive " + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr)) +
              "</body></html>\n";
    const auto fresh = m().dir.path() / "archive-loaded.tar";
    const auto image = test::build_test_image(fresh, io);
    const auto out = m().cli("--json run --timeout 120s " + shell_quote(fresh.string()) +
                             " --duration 30s --period 10s --max-price 2gwei/s --probe http:/");
    const auto r = json::parse(out, nullptr, false);
    ASSERT_TRUE(r.is_object() && r.contains("id")) << out << m().logs();
    const auto id = r["id"].get<std::uint64_t>();
    ASSERT_EQ(m().view(id).worker_id, m().dispatcher->worker_id_of(addr(3)).value());
    const auto served = probe::run(probe::parse_spec("http:/").value(), {r["host"].get<std::string>(), r["port"].get<std::uint16_t>()});
    EXPECT_TRUE(served.ok) << served.detail;
    const auto log = m().nodes[3]->log();
    EXPECT_NE(log.find("agreement " + std::to_string(id) + ": image " + image.config_digest.substr(7, 12) + " loaded from an archive"),
              std::string::npos) << log;
    EXPECT_EQ(log.find("after its transfer began"), std::string::npos) << "not pulled while it arrived";
    m().cli("stop " + std::to_string(id));
    m().wait_closed(id);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.worker + p.client + p.verifiers, p.deposit);
    auto engine = runtime::Engine::from_environment().value();
    EXPECT_TRUE(wait_until([&] { return !engine.inspect_image(image.config_digest); }, 20s))
        << "the image it brought left the engine when the agreement ended";
    // (Logged just after the engine answered: waited for, not read at once.)
    EXPECT_TRUE(wait_until([&] {
        return m().nodes[3]->log().find("image " + image.config_digest.substr(7, 12) + " removed from the engine") != std::string::npos;
    }, 10s)) << m().nodes[3]->tail();
    (void)engine.remove_image(image.config_digest, true);
}

TEST_F(Marketplace, ImageOtherThanTheCommittedOneIsRefusedAndTheClientCancels) {
    // The client commits to one image, then the archive on disk is replaced by another one before
    // the transfer (what a broken or malicious client would send): the worker refuses it on digest,
    // and the client cancels (its own image was wrong: the cancellation fee is its cost).
    m().target(1);
    const auto archive = m().dir.path() / "switched.tar";
    fs::copy_file(m().image, archive);
    test::TestImageOptions other;
    other.extra_files = {{"www/other.txt", "not the image the client paid for"}};
    const auto other_tar = m().dir.path() / "other.tar";
    test::build_test_image(other_tar, other);
    const auto out = m().cli("--json run --detach " + shell_quote(archive.string()) +
                             " --duration 30s --period 10s --max-price 2gwei/s --probe tcp");
    const auto id = json::parse(out)["id"].get<std::uint64_t>();
    fs::copy_file(other_tar, archive, fs::copy_options::overwrite_existing);

    m().wait_closed(id, 90s);
    EXPECT_EQ(m().view(id).status, AgreementStatus::ended);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.burned_deposit, config().cancel_fee);
    EXPECT_EQ(p.client, p.deposit - config().cancel_fee) << "the rest of the escrow goes back";
    EXPECT_EQ(p.worker, 0U);
}

TEST_F(Marketplace, ASpecTheServiceCannotPassIsRejectedBeforeTheClockAndCostsNobody) {
    // The saboteur client (issue 12): its probe asks for a page the image does not serve, so every
    // period would fail and the worker's stake would burn. The worker sees the spec before the paid
    // clock, probes its own running service with it, and after its grace reveals it on chain
    // (rejectSpec): the client gets its whole deposit back, the worker loses nothing and is not
    // counted as failed, and nobody was paid for periods that never ran.
    m().target(1);
    const auto worker_id = m().dispatcher->worker_id_of(addr(1)).value();
    const auto stake_before = m().dispatcher->get_worker(worker_id).value().stake;
    const auto record_before = m().dispatcher->reputation_counters(worker_id).value();
    const auto out = m().cli("--json run --detach " + shell_quote(m().image.string()) +
                             " --duration 30s --period 10s --max-price 2gwei/s --probe http:/no-such-page");
    const auto id = json::parse(out)["id"].get<std::uint64_t>();
    m().wait_closed(id, 150s);
    EXPECT_EQ(m().view(id).status, AgreementStatus::ended);
    bool rejected = false;
    for (const auto& r : m().events(id))
        if (const auto* e = std::get_if<v2::AgreementEnded>(&r.event)) rejected = e->reason == v2::EndReason::spec_rejected;
    EXPECT_TRUE(rejected) << m().nodes[1]->tail();
    const auto p = payout(m(), id);
    EXPECT_EQ(p.client, p.deposit) << "the client gets everything back";
    EXPECT_EQ(p.worker, 0U);
    EXPECT_EQ(p.verifiers, 0U);
    EXPECT_EQ(p.burned, 0U) << "nobody is penalized";
    EXPECT_TRUE(wait_until([&] { return m().dispatcher->get_worker(worker_id).value().locked == 0; }, 10s));
    EXPECT_EQ(m().dispatcher->get_worker(worker_id).value().stake, stake_before) << "the worker's stake is whole";
    const auto record = m().dispatcher->reputation_counters(worker_id).value();
    EXPECT_EQ(record.specs_rejected, record_before.specs_rejected + 1);
    EXPECT_EQ(record.failed_agreements, record_before.failed_agreements) << "not a failure of the worker";
    EXPECT_EQ(record.failed_periods, record_before.failed_periods);
    // Both nodes say what happened, in words.
    EXPECT_NE(m().nodes[1]->log().find("agreement " + std::to_string(id) + ": the service fails the client's probe spec"),
              std::string::npos)
        << m().nodes[1]->tail();
    json inspect;
    EXPECT_TRUE(wait_until([&] {
        inspect = json::parse(m().cli("--json inspect " + std::to_string(id)), nullptr, false);
        return !inspect.is_discarded() && inspect.value("state", "") != "" && inspect["payments"].value("closed", false);
    }, 30s)) << inspect.dump(2);
    EXPECT_TRUE(inspect["payments"]["balanced"].get<bool>()) << inspect["payments"].dump(2);
}

TEST_F(Marketplace, BadRequestsGetClearErrorsAndCostNothing) {
    const auto agreements = m().dispatcher->agreement_count().value();
    const auto image = shell_quote(m().image.string());
    EXPECT_NE(m().cli("run " + image + " --port 9999", false).find("does not expose port 9999; it exposes 8080: use --port 8080"), std::string::npos);
    EXPECT_NE(m().cli("run /no/such/image.tar", false).find("/no/such/image.tar"), std::string::npos);
    EXPECT_NE(m().cli("run " + image + " --probe ftp:/x", false).find("probe"), std::string::npos);
    EXPECT_NE(m().cli("run " + image + " --duration 25s --period 10s", false)
                  .find("the duration, 25 s, is not a whole number of 10 s periods: use a duration of 30 s or 20 s"),
              std::string::npos);
    EXPECT_NE(m().cli("run " + image + " --verifiers 2", false).find("verifiers"), std::string::npos);
    EXPECT_NE(m().cli("run " + image + " --max-price 1.5wei", false).find("--max-price"), std::string::npos);
    EXPECT_NE(m().cli("stop 999", false).find("not known to this node"), std::string::npos);
    EXPECT_NE(m().cli("ps --node /nonexistent", false).find("no node runs"), std::string::npos);
    EXPECT_EQ(m().dispatcher->agreement_count().value(), agreements) << "nothing was bought";
    // The token is for the node's owner only.
    for (const char* f : {"api-token", "api.json"})
        EXPECT_EQ(fs::status(m().node_dir(kClient) / f).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << f;
    // The API refuses changes without the token.
    const auto api = json::parse(std::ifstream{m().node_dir(kClient) / "api.json"});
    const auto r = test::run_command("curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:" +
                                     std::to_string(api["port"].get<unsigned>()) + "/api/agreements/1/stop");
    EXPECT_EQ(r.out, "401");
}

TEST_F(Marketplace, NoEscrowIsStrandedAfterEveryAgreementClosed) {
    // What the contract holds is exactly the workers' stakes: every agreement's money left.
    const auto agreements = m().dispatcher->agreement_count().value();
    for (std::uint64_t a = 1; a <= agreements; ++a) m().wait_closed(a);
    u256 stakes = 0;
    const auto n = m().dispatcher->worker_count().value();
    for (std::uint64_t w = 1; w <= n; ++w) stakes += m().dispatcher->get_worker(w).value().stake;
    EXPECT_EQ(m().rpc->get_balance(m().deployed.address).value(), stakes + m().dispatcher->credit_of(addr(kClient)).value());
    EXPECT_NE(m().cli("market workers"), "");
}

TEST(Journal, NodeKilledWithATransactionInFlightSendsTheSameOneAfterRestart) {
    if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr) GTEST_SKIP() << "needs ZEPPELIN_DOCKER_HOST";
    test::Anvil chain;
    test::TempDir dir;
    auto rpc = eth::RpcClient::connect(chain.url()).value();
    auto sender = eth::TxSender::create(*rpc, key(0)).value();
    const auto deployed = v2::deploy(*rpc, *sender, v2::Config::devnet_defaults()).value();
    eth::anvil::set_automine(*rpc, false).value();  // from now on transactions wait in the pool for a mine call
    const std::map<std::string, std::string> env{{"ZP_TEST_KEY", std::string{kAnvilAccounts[6].private_key}},
                                                 {"ZEPPELIN_HOME", dir.path().string()}};
    const std::vector<std::string> args{ZEPPELIN_CLI_PATH, "node", "--data-dir", (dir.path() / "n").string(),
                                        "--rpc-url", chain.url(), "--dispatcher", eth::to_checksum(deployed.address),
                                        "--deploy-block", std::to_string(deployed.block_number),
                                        "--private-key-env", "ZP_TEST_KEY"};
    const auto state = (dir.path() / "n" / "state.sqlite").string();
    auto journal = [&](const char* status) -> std::int64_t {
        auto db = node::Database::open(state);
        if (!db) return -1;
        auto st = db->prepare(std::string{"SELECT COUNT(*) FROM txs WHERE status = '"} + status + "'");
        return st && st->step().value_or(false) ? st->column_int(0) : -1;
    };
    {
        // The node signs its registration, journals it, hands it over, and waits; it dies there.
        Proc first{args, env, dir.path() / "first.log"};
        ASSERT_TRUE(wait_until([&] { return journal("pending") == 1; }, 60s)) << first.tail();
        first.kill9();
    }
    Proc second{args, env, dir.path() / "second.log"};
    std::this_thread::sleep_for(1s);  // it finds the journaled registration and sends the same bytes again
    eth::anvil::mine(*rpc).value();
    v2::Dispatcher d{*rpc, deployed.address};
    ASSERT_TRUE(wait_until([&] { return fs::exists(dir.path() / "n" / "api.json"); }, 60s)) << second.tail();
    EXPECT_NE(d.worker_id_of(addr(6)).value(), 0U);
    EXPECT_EQ(rpc->get_transaction_count(addr(6)).value(), 1U) << "one registration, not two";
    EXPECT_EQ(journal("mined"), 1);
    EXPECT_EQ(journal("pending"), 0);
}

TEST(SecondChain, NodeWorksAgainstAnyChainGivenItsAddresses) {
    if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr) GTEST_SKIP() << "needs ZEPPELIN_DOCKER_HOST";
    test::AnvilOptions ao;
    ao.extra_args = {"--chain-id", "4242"};
    test::Anvil chain{ao};
    test::TempDir dir;
    auto rpc = eth::RpcClient::connect(chain.url()).value();
    auto sender = eth::TxSender::create(*rpc, key(0)).value();
    const auto deployed = v2::deploy(*rpc, *sender, v2::Config::devnet_defaults()).value();
    const std::map<std::string, std::string> env{{"ZP_TEST_KEY", std::string{kAnvilAccounts[5].private_key}},
                                                 {"ZEPPELIN_HOME", dir.path().string()}};
    auto args = [&](const std::string& chain_id) {
        return std::vector<std::string>{ZEPPELIN_CLI_PATH, "node", "--data-dir", (dir.path() / ("n" + chain_id)).string(),
                                        "--rpc-url", chain.url(), "--chain-id", chain_id, "--dispatcher",
                                        eth::to_checksum(deployed.address), "--deploy-block",
                                        std::to_string(deployed.block_number), "--private-key-env", "ZP_TEST_KEY"};
    };
    {
        // The wrong chain id is refused in words, before anything is sent.
        Proc wrong{args("1"), env, dir.path() / "wrong.log"};
        ASSERT_TRUE(wait_until([&] { return wrong.exited().has_value(); }, 30s));
        EXPECT_NE(wrong.exited().value_or(0), 0);
        EXPECT_NE(wrong.log().find("serves chain 4242"), std::string::npos) << wrong.log();
    }
    // The good one reads its chain settings from a TOML file (flags would do the same).
    {
        std::ofstream toml{dir.path() / "node.toml"};
        toml << "rpc-url = \"" << chain.url() << "\"\nchain-id = 4242\ndispatcher = \""
             << eth::to_checksum(deployed.address) << "\"\ndeploy-block = " << deployed.block_number
             << "\nprice = \"3gwei\"\n";
    }
    Proc node{{ZEPPELIN_CLI_PATH, "node", "--config", (dir.path() / "node.toml").string(), "--data-dir",
               (dir.path() / "good").string(), "--private-key-env", "ZP_TEST_KEY"},
              env, dir.path() / "node.log"};
    v2::Dispatcher d{*rpc, deployed.address};
    EXPECT_TRUE(wait_until([&] { return d.worker_id_of(addr(5)).value_or(0) != 0; }, 60s)) << node.tail();
    EXPECT_EQ(d.get_worker(1).value().status, v2::WorkerStatus::active);
    EXPECT_EQ(d.get_worker(1).value().price_per_second, 3'000'000'000U) << "the price came from the TOML file";
}

}  // namespace
}  // namespace zeppelin::e2e
