// The marketplace end to end, as people use it: a real anvil with WorkerDispatcher deployed, the
// real Podman Docker API service, three `zeppelin node` worker processes and one client-only node,
// all talking over real sockets; the client side driven through the `zeppelin` CLI.
//
// Scenarios (DESIGN.md protocol, issue 5's list): the happy path with exact payment accounting and
// forged messages ignored; a worker that stops serving mid-agreement (failures reported, client
// refunded, stake slashed); a worker that never accepts (reassigned, then stopped early by the
// client); a worker node killed with SIGKILL and restarted mid-agreement (completes, no duplicate
// or failed transaction); an image that is not the committed one (refused, escrow refunded); and a
// node on a second, separately started chain (nothing assumes the devnet).
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
#include "zeppelin/market/dispatcher.hpp"
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
using market::AgreementStatus;
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

constexpr std::uint64_t kPrice = 1'000'000'000;      // the workers' price: 1 gwei/s
constexpr std::uint64_t kMaxPrice = 2'000'000'000;   // what clients accept: 2 gwei/s
constexpr unsigned kFeeBps = 500;

/// Everything the scenarios share: one chain, one contract, four node processes.
struct Market {
    test::TempDir dir;
    std::unique_ptr<test::Anvil> anvil;
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<market::Dispatcher> dispatcher;
    market::Deployed deployed;
    fs::path deployment;
    fs::path image;
    std::map<std::size_t, std::unique_ptr<Proc>> nodes;  // by anvil account: 4 = the client, 1..3 workers

    fs::path node_dir(std::size_t account) const { return dir.path() / ("node" + std::to_string(account)); }

    void start_node(std::size_t account, std::vector<std::string> extra = {}) {
        fs::create_directories(node_dir(account));
        std::vector<std::string> argv{ZEPPELIN_CLI_PATH, "node", "--data-dir", node_dir(account).string(),
                                      "--deployment", deployment.string(), "--private-key-env", "ZP_TEST_KEY",
                                      "--cpu", "8000", "--memory", "8192", "--price", "1gwei", "--log-level", "info"};
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
    std::string cli(const std::string& args, bool expect_ok = true, std::size_t node = 4) const {
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

    market::AgreementView view(std::uint64_t id) const { return dispatcher->get_agreement(id).value(); }

    std::vector<market::EventRecord> events(std::uint64_t id) const {
        eth::LogFilter f;
        f.from_block = deployed.block_number;
        f.to_block = rpc->block_number().value();
        f.addresses = {deployed.address};
        std::vector<market::EventRecord> out;
        const auto logs = rpc->get_logs(f).value();
        auto decoded = market::decode_events(deployed.address, logs);
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

    /// Waits until the agreement is settled or refunded and every party has taken its money.
    void wait_closed(std::uint64_t id, std::chrono::seconds limit = 120s) {
        const bool closed = wait_until(
            [&] {
                const auto v = view(id);
                if (v.status == AgreementStatus::refunded) return v.client_refunded;
                return v.status == AgreementStatus::settled && v.client_refunded && v.worker_redeemed;
            },
            limit);
        ASSERT_TRUE(closed) << "agreement " << id << " did not close: status "
                            << market::to_string(view(id).status) << "\n" << logs();
    }

    std::string logs() const {
        std::string out;
        for (const auto& [account, p] : nodes) out += "---- node " + std::to_string(account) + "\n" + p->tail(3000);
        return out;
    }
};

Market* g_market = nullptr;

class Marketplace : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr || !test::busybox_available()) return;
        auto m = std::make_unique<Market>();
        m->anvil = std::make_unique<test::Anvil>();
        m->rpc = eth::RpcClient::connect(m->anvil->url()).value();
        (void)market::add_errors_to(*m->rpc);
        auto sender = eth::TxSender::create(*m->rpc, key(0)).value();
        market::DispatcherConfig cfg;
        cfg.min_stake = parse_amount("1ether").value();
        cfg.accept_window = 15;
        cfg.start_window = 120;
        cfg.report_window = 15;
        cfg.cool_down = 10;
        cfg.verifier_fee_bps = kFeeBps;
        cfg.slash_bps = 10000;
        m->deployed = market::deploy_dispatcher(*m->rpc, *sender, cfg).value();
        m->dispatcher = std::make_unique<market::Dispatcher>(*m->rpc, m->deployed.address);
        m->deployment = m->dir.path() / "deployment.json";
        market::save_deployment(m->deployment, market::Deployment{test::kAnvilChainId, m->anvil->url(),
                                                                  m->deployed.address, m->deployed.block_number,
                                                                  addr(0), m->deployed.transaction_hash})
            .value();
        test::TestImageOptions io;
        io.cmd = {"/bin/sh", "-c", "echo hello-from-the-work; exec /bin/busybox httpd -f -p 8080 -h /www"};
        m->image = m->dir.path() / "web.tar";
        test::build_test_image(m->image, io);
        for (std::size_t w = 1; w <= 3; ++w) m->start_node(w);
        m->start_node(4, {"--client-only"});
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
    json run(const std::string& args) {
        const auto out = m().cli("--json run --timeout 120s " + shell_quote(m().image.string()) + " " + args);
        auto j = json::parse(out, nullptr, false);
        if (j.is_discarded()) ADD_FAILURE() << "zeppelin run printed: " << out << "\n" << m().logs();
        return j;
    }
};

/// Payments out of an agreement: what each party took (events), for the accounting checks.
struct Payout {
    u256 worker{0};
    u256 client{0};
    u256 verifiers{0};
    u256 slashed{0};
    std::uint64_t reports{0};
};

Payout payout(const Market& m, std::uint64_t id) {
    Payout p;
    const auto v = m.view(id);
    const u256 reward = u256{v.price_per_second} * v.period_seconds * kFeeBps / 10000;
    for (const auto& r : m.events(id)) {
        if (const auto* e = std::get_if<market::PaymentRedeemed>(&r.event)) p.worker += e->amount;
        if (const auto* e = std::get_if<market::RefundClaimed>(&r.event)) p.client += e->amount;
        if (const auto* e = std::get_if<market::WorkerSlashed>(&r.event)) p.slashed += e->amount;
        if (const auto* e = std::get_if<market::VerificationProvided>(&r.event)) {
            for (u256 bits = e->reported_bits; bits != 0; bits &= bits - 1) ++p.reports;
        }
    }
    p.verifiers = reward * p.reports;
    return p;
}

TEST_F(Marketplace, HappyPathPaysExactlyAndIgnoresForgedMessages) {
    const auto started = m().rpc->block_number().value();
    const auto r = run("--duration 30s --period 10s --verifiers 2 --max-price 2gwei/s --probe http:/ --worker " +
                       eth::to_checksum(addr(1)));
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    const auto v = m().view(id);
    EXPECT_EQ(v.status, AgreementStatus::running);
    EXPECT_EQ(v.worker_id, m().dispatcher->worker_id_of(addr(1)).value());

    // The service answers where the client was told.
    const auto out = probe::run(probe::parse_spec("http:/").value(), {r["host"].get<std::string>(), r["port"].get<std::uint16_t>()});
    EXPECT_TRUE(out.ok) << out.detail;
    // Its output reaches the client over the encrypted log channel.
    EXPECT_TRUE(wait_until([&] { return m().cli("logs " + std::to_string(id)).find("hello-from-the-work") != std::string::npos; }, 20s))
        << m().cli("logs " + std::to_string(id), false) << m().logs();

    // Forged messages: a verifier (a party, so the contract lets it post) announces another endpoint
    // to the client, and garbage arrives too; the client's node ignores both.
    {
        auto sender = eth::TxSender::create(*m().rpc, key(2)).value();
        const auto client_key = key(4).public_key();
        const auto forged = node::msg::seal(client_key, id, addr(2), addr(4), node::msg::ServiceReady{"127.0.0.1", 1}).value();
        sender->send(m().dispatcher->tx(market::calls::post_message(id, addr(4), forged))).value();
        const Bytes garbage(80, 0x42);
        sender->send(m().dispatcher->tx(market::calls::post_message(id, addr(4), garbage))).value();
    }
    EXPECT_TRUE(wait_until([&] { return m().nodes[4]->log().find("ignored a message") != std::string::npos; }, 15s));

    m().wait_closed(id);
    const auto after = m().view(id);
    const auto p = payout(m(), id);
    EXPECT_EQ(after.paid_periods, 3U);
    EXPECT_EQ(p.worker, u256{3} * 10 * kPrice);          // three verified periods at the worker's price
    EXPECT_EQ(p.reports, 6U);                              // two verifiers x three periods
    EXPECT_EQ(p.worker + p.client + p.verifiers, after.deposit) << "every wei of the escrow is accounted for";
    EXPECT_EQ(p.slashed, 0U);
    // The client still saw the real endpoint (not the forged one).
    json inspect;
    EXPECT_TRUE(wait_until([&] {
        inspect = json::parse(m().cli("inspect " + std::to_string(id)));
        return inspect["state"] == "done";
    }, 20s)) << inspect.dump(2);
    EXPECT_EQ(inspect["local"]["service"]["port"], r["port"]);
    EXPECT_TRUE(inspect["payments"]["balanced"].get<bool>()) << inspect["payments"].dump(2);
    (void)started;
}

TEST_F(Marketplace, WorkerThatStopsServingIsNotPaidAndIsSlashed) {
    const auto r = run("--duration 40s --period 10s --verifiers 2 --probe http:/ --worker " + eth::to_checksum(addr(2)));
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    const auto v = m().view(id);
    const auto worker_id = v.worker_id;
    const auto stake_before = m().dispatcher->get_worker(worker_id).value().stake;
    // Let period 0 be served, then the work disappears (the worker's machine "stops serving").
    const auto kill_at = std::chrono::system_clock::time_point{std::chrono::seconds{v.started_at + 11}};
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
    const auto after = m().view(id);
    const auto p = payout(m(), id);
    EXPECT_LE(after.paid_periods, 2U) << "periods after the outage must not be paid";
    EXPECT_GE(after.paid_periods, 1U) << "period 0 was served";
    EXPECT_GT(p.slashed, 0U);
    for (const auto& rec : m().events(id)) {
        if (const auto* e = std::get_if<market::WorkerSlashed>(&rec.event)) {
            EXPECT_EQ(e->stake + e->amount, stake_before) << "the slash came out of the stake";
        }
    }
    EXPECT_EQ(p.worker + p.client + p.verifiers, after.deposit + p.slashed) << "the client gets the slashed stake too";
    EXPECT_GE(m().dispatcher->reputation_counters(worker_id).value().failed_periods, 2U);
    // Below the minimum stake the worker gets no work; its node tops the stake up by itself.
    EXPECT_TRUE(wait_until([&] { return m().dispatcher->get_worker(worker_id).value().assignable; }, 30s))
        << m().nodes[2]->tail();
}

TEST_F(Marketplace, WorkerThatNeverAcceptsIsReplacedAndClientStopsEarly) {
    // A registered worker with no node behind it (it went offline): cheapest, and preferred.
    auto sender = eth::TxSender::create(*m().rpc, key(9)).value();
    const auto pub = key(9).public_key();
    market::WorkerOffer offer{kPrice / 2, 86400, 8000, 8192, Bytes(pub.begin(), pub.end())};
    sender->send(m().dispatcher->tx(market::calls::register_worker(offer), parse_amount("1ether").value())).value();
    const auto dead = m().dispatcher->worker_id_of(addr(9)).value();

    const auto r = run("--duration 60s --period 10s --verifiers 1 --probe tcp --worker " + eth::to_checksum(addr(9)));
    ASSERT_TRUE(r.contains("id")) << r.dump();
    const auto id = r["id"].get<std::uint64_t>();
    EXPECT_NE(m().view(id).worker_id, dead) << "reassigned after the accept window";
    bool reassigned = false;
    for (const auto& e : m().events(id)) reassigned = reassigned || std::holds_alternative<market::AgreementReassigned>(e.event);
    EXPECT_TRUE(reassigned);
    // The offline worker must not be picked again (as verifier) by later scenarios.
    sender->send(m().dispatcher->tx(market::calls::pause_worker())).value();

    // The client ends it early: begun periods stay billable, the rest comes back.
    m().cli("stop " + std::to_string(id));
    m().wait_closed(id);
    const auto after = m().view(id);
    EXPECT_LT(after.billable_periods, 6U);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.worker + p.client + p.verifiers, after.deposit);
    EXPECT_GT(p.client, u256{6 - after.billable_periods} * 10 * kPrice) << "unused time refunded";
}

TEST_F(Marketplace, WorkerKilledAndRestartedCompletesWithoutDuplicateTransactions) {
    const auto r = run("--duration 30s --period 10s --verifiers 2 --probe http:/ --worker " + eth::to_checksum(addr(3)));
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
    const auto after = m().view(id);
    EXPECT_EQ(after.paid_periods, 3U) << "the container kept serving while its node was down";
    const auto p = payout(m(), id);
    EXPECT_EQ(p.worker + p.client + p.verifiers, after.deposit);
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
    test::TestImageOptions io;
    // A page of its own: an image no engine holds yet (the worker keeps images it ran).
    io.page = "<html><body>loaded as an archive " + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr)) +
              "</body></html>\n";
    const auto fresh = m().dir.path() / "archive-loaded.tar";
    const auto image = test::build_test_image(fresh, io);
    const auto out = m().cli("--json run --timeout 120s " + shell_quote(fresh.string()) +
                             " --duration 30s --period 10s --verifiers 1 --probe http:/ --worker " + eth::to_checksum(addr(3)));
    const auto r = json::parse(out, nullptr, false);
    ASSERT_TRUE(r.is_object() && r.contains("id")) << out << m().logs();
    const auto id = r["id"].get<std::uint64_t>();
    const auto served = probe::run(probe::parse_spec("http:/").value(), {r["host"].get<std::string>(), r["port"].get<std::uint16_t>()});
    EXPECT_TRUE(served.ok) << served.detail;
    const auto log = m().nodes[3]->log();
    EXPECT_NE(log.find("agreement " + std::to_string(id) + ": image " + image.config_digest.substr(7, 12) + " loaded from an archive"),
              std::string::npos) << log;
    EXPECT_EQ(log.find("after its transfer began"), std::string::npos) << "not pulled while it arrived";
    m().cli("stop " + std::to_string(id));
    m().wait_closed(id);
    const auto after = m().view(id);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.worker + p.client + p.verifiers, after.deposit);
    auto engine = runtime::Engine::from_environment().value();
    EXPECT_TRUE(wait_until([&] { return !engine.inspect_image(image.config_digest); }, 20s))
        << "the image it brought left the engine when the agreement ended";
    // (Logged just after the engine answered: waited for, not read at once.)
    EXPECT_TRUE(wait_until([&] {
        return m().nodes[3]->log().find("image " + image.config_digest.substr(7, 12) + " removed from the engine") != std::string::npos;
    }, 10s)) << m().nodes[3]->tail();
    (void)engine.remove_image(image.config_digest, true);
}

TEST_F(Marketplace, ImageOtherThanTheCommittedOneIsRefusedAndRefunded) {
    // The client commits to one image, then the archive on disk is replaced by another one before
    // the transfer (what a broken or malicious client would send): the worker refuses it on digest.
    const auto archive = m().dir.path() / "switched.tar";
    fs::copy_file(m().image, archive);
    test::TestImageOptions other;
    other.extra_files = {{"www/other.txt", "not the image the client paid for"}};
    const auto other_tar = m().dir.path() / "other.tar";
    test::build_test_image(other_tar, other);
    const auto out = m().cli("--json run --detach " + shell_quote(archive.string()) +
                             " --duration 30s --period 10s --verifiers 1 --probe tcp --worker " + eth::to_checksum(addr(1)));
    const auto id = json::parse(out)["id"].get<std::uint64_t>();
    fs::copy_file(other_tar, archive, fs::copy_options::overwrite_existing);

    m().wait_closed(id, 60s);
    const auto after = m().view(id);
    EXPECT_EQ(after.status, AgreementStatus::refunded);
    const auto p = payout(m(), id);
    EXPECT_EQ(p.client, after.deposit) << "the whole escrow goes back";
    EXPECT_EQ(p.worker, 0U);
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
    EXPECT_NE(m().cli("run " + image + " --max-price 1.5wei", false).find("--max-price"), std::string::npos);
    EXPECT_NE(m().cli("stop 999", false).find("not known to this node"), std::string::npos);
    EXPECT_NE(m().cli("ps --node /nonexistent", false).find("no node runs"), std::string::npos);
    EXPECT_EQ(m().dispatcher->agreement_count().value(), agreements) << "nothing was bought";
    // The token is for the node's owner only.
    for (const char* f : {"api-token", "api.json"})
        EXPECT_EQ(fs::status(m().node_dir(4) / f).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << f;
    // The API refuses changes without the token.
    const auto api = json::parse(std::ifstream{m().node_dir(4) / "api.json"});
    const auto r = test::run_command("curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:" +
                                     std::to_string(api["port"].get<unsigned>()) + "/api/agreements/1/stop");
    EXPECT_EQ(r.out, "401");
}

TEST_F(Marketplace, NoEscrowIsStrandedAfterEveryAgreementClosed) {
    // What the contract holds is exactly the workers' stakes: every agreement's money left.
    u256 stakes = 0;
    const auto n = m().dispatcher->worker_count().value();
    for (std::uint64_t w = 1; w <= n; ++w) stakes += m().dispatcher->get_worker(w).value().stake;
    const auto agreements = m().dispatcher->agreement_count().value();
    for (std::uint64_t a = 1; a <= agreements; ++a) m().wait_closed(a);
    EXPECT_EQ(m().rpc->get_balance(m().deployed.address).value(), stakes);
    EXPECT_NE(m().cli("market workers"), "");
}

TEST(Journal, NodeKilledWithATransactionInFlightSendsTheSameOneAfterRestart) {
    if (std::getenv("ZEPPELIN_DOCKER_HOST") == nullptr) GTEST_SKIP() << "needs ZEPPELIN_DOCKER_HOST";
    test::Anvil chain;
    test::TempDir dir;
    auto rpc = eth::RpcClient::connect(chain.url()).value();
    auto sender = eth::TxSender::create(*rpc, key(0)).value();
    const auto deployed = market::deploy_dispatcher(*rpc, *sender, market::DispatcherConfig::devnet_defaults()).value();
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
    market::Dispatcher d{*rpc, deployed.address};
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
    const auto deployed = market::deploy_dispatcher(*rpc, *sender, market::DispatcherConfig::devnet_defaults()).value();
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
    market::Dispatcher d{*rpc, deployed.address};
    EXPECT_TRUE(wait_until([&] { return d.worker_id_of(addr(5)).value_or(0) != 0; }, 60s)) << node.tail();
    EXPECT_EQ(d.get_worker(1).value().status, market::WorkerStatus::active);
    EXPECT_EQ(d.get_worker(1).value().price_per_second, 3'000'000'000U) << "the price came from the TOML file";
}

}  // namespace
}  // namespace zeppelin::e2e
