// `zeppelin devnet up|down|status`: a local anvil with WorkerDispatcher deployed, for trying
// Zeppelin on one machine.
//
// Files (in <zeppelin home>/devnet, zeppelin home = $ZEPPELIN_HOME or ~/.zeppelin):
//   anvil.json        {"pid", "port", "rpc_url", "log", "block_time"} of the running anvil
//   anvil.log         anvil's output
//   deployment.json   the deployment record (market/deployment.hpp) other commands read
// anvil: $ZEPPELIN_ANVIL, else node_modules/.bin/anvil of the repository the executable was built
// in (found by walking up from the executable), else `anvil` on PATH.
// `--state FILE` keeps the chain across `down`/`up` (anvil --state: loaded at start if FILE exists,
// written when anvil stops); the deployment record is kept beside it (FILE.deployment.json). Without
// it every `up` after a `down` starts a fresh chain (another genesis block), and `up` says so: nodes
// that worked with the old one stop acting until they are pointed back or reset (`zeppelin node
// --reset-chain`, node/chain_identity.hpp).
// `--block-time N` makes anvil mine a block every N seconds (anvil --block-time), like an L2 (2) or
// mainnet (12), instead of one block per transaction at once (plus one every second: protocol v2
// draws from the hash of a block after the commit, which an idle chain would never mine).
// The devnet deploys protocol v2 with short windows (market::v2::Config::devnet_defaults): stake
// 1 ether, accept/start windows 600 s, report window 60 s, cool-down 60 s, verifier fee 5 %, slash
// 100 %, a verifier's minimum pay 1 gwei, draws 1 block after the commit.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// anvil's account 0 from the mnemonic "test test ... junk": a PUBLIC, well-known test key that
// anvil funds on every devnet. Never use it for anything of value.
constexpr std::string_view kAnvilTestKey0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

struct DevnetOptions {
    unsigned port{8545};
    std::string host{"127.0.0.1"};  // IPv4 address anvil listens on (a lab host's, to serve other hosts)
    bool json{false};
    std::optional<unsigned> block_time;  // seconds between blocks; unset/0: a block per transaction
    std::string state;                   // anvil --state FILE: the chain kept across restarts
};

struct AnvilState {
    pid_t pid{0};
    unsigned port{0};
    std::string rpc_url;
    unsigned block_time{0};  // 0: instant mining
    std::string state;       // anvil's --state file, if any
};

std::string block_time_text(unsigned seconds) {
    return seconds == 0 ? std::string{"instant (a block per transaction, and one every second)"} : fmt::format("{} s", seconds);
}

fs::path dir() { return or_throw(market::devnet_dir(), "devnet"); }
fs::path state_file() { return dir() / "anvil.json"; }
fs::path log_file() { return dir() / "anvil.log"; }
fs::path record_file() { return dir() / "deployment.json"; }

bool is_executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p); }

fs::path find_anvil() {
    if (const char* e = std::getenv("ZEPPELIN_ANVIL"); e != nullptr && *e != '\0') {
        if (!is_executable(e)) fail(Errc::not_found, std::string{"ZEPPELIN_ANVIL="} + e + " is not an executable file");
        return e;
    }
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (auto p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
            const auto candidate = p / "node_modules" / ".bin" / "anvil";
            if (is_executable(candidate)) return candidate;
        }
    }
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss{path};
        std::string entry;
        while (std::getline(ss, entry, ':')) {
            if (entry.empty()) continue;
            const auto candidate = fs::path{entry} / "anvil";
            if (is_executable(candidate)) return candidate;
        }
    }
    fail(Errc::not_found,
         "anvil not found: set ZEPPELIN_ANVIL, run scripts/setup.sh in the repository (node_modules/.bin/anvil), "
         "or put anvil on PATH");
}

std::optional<AnvilState> read_state() {
    std::ifstream in{state_file()};
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
        !j.contains("port") || !j["port"].is_number_unsigned() || !j.contains("rpc_url") || !j["rpc_url"].is_string())
        return std::nullopt;
    const unsigned block_time =
        j.contains("block_time") && j["block_time"].is_number_unsigned() ? j["block_time"].get<unsigned>() : 0;
    const std::string state = j.contains("state") && j["state"].is_string() ? j["state"].get<std::string>() : std::string{};
    return AnvilState{j["pid"].get<pid_t>(), j["port"].get<unsigned>(), j["rpc_url"].get<std::string>(), block_time, state};
}

void write_state(const AnvilState& s) {
    const nlohmann::json j{{"pid", s.pid},
                           {"port", s.port},
                           {"rpc_url", s.rpc_url},
                           {"log", log_file().string()},
                           {"block_time", s.block_time},
                           {"state", s.state}};
    std::ofstream out{state_file(), std::ios::trunc};
    out << j.dump(2) << "\n";
    if (!out) fail(Errc::io, "cannot write " + state_file().string());
}

/// True if `pid` is alive and is an anvil (guards against a recycled pid).
bool anvil_alive(pid_t pid) {
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    std::ifstream in{"/proc/" + std::to_string(pid) + "/cmdline"};
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cmd.find("anvil") != std::string::npos;
}

bool port_busy(const boost::asio::ip::address_v4& host, unsigned port) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s{io};
    boost::system::error_code ec;
    s.connect({host, static_cast<std::uint16_t>(port)}, ec);
    return !ec;
}

std::unique_ptr<eth::RpcClient> quick_client(const std::string& url) {
    eth::RpcOptions o;
    o.max_retries = 0;
    o.http.connect_timeout = 1000ms;
    o.http.request_timeout = 5000ms;
    auto rpc = or_throw(eth::RpcClient::connect(url, o), "rpc url");
    (void)market::v2::add_errors_to(*rpc);
    return rpc;
}

/// The recorded dispatcher if it has code on the node at `url`.
std::optional<market::Deployment> live_deployment(eth::RpcClient& rpc) {
    auto record = market::load_deployment(record_file());
    if (!record) return std::nullopt;
    auto code = rpc.get_code(record->dispatcher);
    if (!code || code->empty()) return std::nullopt;
    return *record;
}

pid_t spawn_anvil(const fs::path& anvil, const std::string& host, unsigned port, unsigned block_time, const std::string& state) {
    const std::string port_text = std::to_string(port);
    const std::string block_time_arg = std::to_string(block_time);
    const std::string log = log_file().string();
    const std::string bin = anvil.string();
    // Built before fork: the child only calls async-signal-safe functions.
    std::vector<char*> argv{const_cast<char*>(bin.c_str()), const_cast<char*>("--port"),
                            const_cast<char*>(port_text.c_str()), const_cast<char*>("--host"),
                            const_cast<char*>(host.c_str())};
    // Protocol v2 draws from the hash of a block after the purchase (and after the start): an
    // instant-mining devnet mines only when a transaction comes, so it also mines a block every
    // second (interval + instant mining), else a draw could wait forever for its block.
    argv.push_back(const_cast<char*>("--block-time"));
    argv.push_back(const_cast<char*>(block_time > 0 ? block_time_arg.c_str() : "1"));
    if (block_time == 0) argv.push_back(const_cast<char*>("--mixed-mining"));
    if (!state.empty()) {
        argv.push_back(const_cast<char*>("--state"));
        argv.push_back(const_cast<char*>(state.c_str()));
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) fail(Errc::io, "fork failed");
    if (pid == 0) {
        ::setsid();  // detached: survives this command and its terminal
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, 0);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

struct Status {
    bool running{false};
    std::optional<AnvilState> anvil;
    std::uint64_t chain_id{0};
    std::uint64_t block{0};
    std::string genesis;  // block 0's hash: a fresh chain has another one
    std::optional<market::Deployment> deployment;
    std::optional<std::uint64_t> workers;
    std::string problem;
};

Status read_status() {
    Status st;
    st.anvil = read_state();
    if (!st.anvil || !anvil_alive(st.anvil->pid)) return st;
    auto rpc = quick_client(st.anvil->rpc_url);
    auto chain = rpc->chain_id();
    if (!chain) {
        st.problem = "anvil (pid " + std::to_string(st.anvil->pid) + ") does not answer: " + chain.error().message();
        return st;
    }
    st.running = true;
    st.chain_id = *chain;
    st.block = rpc->block_number().value_or(0);
    if (auto g = rpc->get_block_header(eth::BlockTag::number(0)); g && *g) st.genesis = to_hex((*g)->hash);
    st.deployment = live_deployment(*rpc);
    if (st.deployment) {
        market::v2::Dispatcher d{*rpc, st.deployment->dispatcher};
        auto n = d.worker_count();
        if (n) st.workers = *n;
    }
    return st;
}

/// `started`: what `up` did ("fresh", "resumed", "already running"), empty for `status`.
void print_status(const Status& st, bool json, std::string_view started = {}) {
    if (json) {
        nlohmann::json j{{"running", st.running}};
        if (!started.empty()) j["started"] = started;
        if (st.anvil && st.running) {
            j["pid"] = st.anvil->pid;
            j["port"] = st.anvil->port;
            j["rpc_url"] = st.anvil->rpc_url;
            j["chain_id"] = st.chain_id;
            j["block_number"] = st.block;
            j["block_time"] = st.anvil->block_time;
            j["genesis"] = st.genesis;
            if (!st.anvil->state.empty()) j["state"] = st.anvil->state;
            j["log"] = log_file().string();
        }
        if (st.deployment) {
            j["dispatcher"] = eth::to_checksum(st.deployment->dispatcher);
            j["deploy_block"] = st.deployment->deploy_block;
            j["deployment"] = record_file().string();
        }
        if (st.workers) j["worker_count"] = *st.workers;
        if (!st.problem.empty()) j["problem"] = st.problem;
        fmt::print("{}\n", j.dump(2));
        return;
    }
    if (!st.running) {
        fmt::print("devnet: stopped{}\n", st.problem.empty() ? "" : " (" + st.problem + ")");
        return;
    }
    fmt::print("devnet: running (pid {}, {})\n", st.anvil->pid, st.anvil->rpc_url);
    fmt::print("chain id: {}\ngenesis: {}\nblock: {}\n", st.chain_id, st.genesis, st.block);
    if (!st.anvil->state.empty()) fmt::print("state file: {}\n", st.anvil->state);
    fmt::print("block time: {}\n", block_time_text(st.anvil->block_time));
    if (st.deployment) {
        fmt::print("dispatcher: {}\n", eth::to_checksum(st.deployment->dispatcher));
        fmt::print("workers: {}\n", st.workers ? std::to_string(*st.workers) : "?");
        fmt::print("deployment record: {}\n", record_file().string());
    } else {
        fmt::print("dispatcher: not deployed\n");
    }
}

market::Deployment deploy_devnet(eth::RpcClient& rpc, const std::string& url) {
    const auto key = or_throw(eth::PrivateKey::from_hex(kAnvilTestKey0), "anvil test key");
    eth::SenderOptions so;
    so.poll_interval = 50ms;
    so.timeout = 60s;
    auto sender = or_throw(eth::TxSender::create(rpc, key, so), "cannot set up the deployer");
    const auto chain = or_throw(rpc.chain_id(), "chain id");
    const auto deployed = or_throw(market::v2::deploy(rpc, *sender, market::v2::Config::devnet_defaults()), "deploy");
    market::Deployment record{chain, url, deployed.address, deployed.block_number, sender->from(),
                              deployed.transaction_hash};
    or_throw(market::save_deployment(record_file(), record), "cannot save the deployment record");
    return record;
}

/// The deployment record kept beside anvil's state file (it outlives `down`, like the state).
fs::path kept_record(const std::string& state) { return state + ".deployment.json"; }

/// After `up --state FILE` loaded a saved chain: the record kept with it, if its contract is there.
std::optional<market::Deployment> restore_record(eth::RpcClient& rpc, const std::string& state, const std::string& url) {
    auto record = market::load_deployment(kept_record(state));
    if (!record) return std::nullopt;
    auto code = rpc.get_code(record->dispatcher);
    if (!code || code->empty()) return std::nullopt;
    record->rpc_url = url;
    or_throw(market::save_deployment(record_file(), *record), "cannot save the deployment record");
    return *record;
}

void run_up(const DevnetOptions& o) {
    std::error_code ec;
    fs::create_directories(dir(), ec);
    if (ec) fail(Errc::io, "cannot create " + dir().string() + ": " + ec.message());
    const bool json = o.json || global_options().json;

    auto state = read_state();
    if (state && anvil_alive(state->pid)) {
        if (o.block_time && *o.block_time != state->block_time)
            fail(Errc::already_exists, fmt::format("the devnet is already up with block time {}; run `zeppelin devnet down` "
                                                   "first to start it with block time {}",
                                                   block_time_text(state->block_time), block_time_text(*o.block_time)));
        auto rpc = quick_client(state->rpc_url);
        if (!rpc->chain_id())
            fail(Errc::rpc_unreachable, "anvil (pid " + std::to_string(state->pid) + ") at " + state->rpc_url +
                                            " does not answer; run `zeppelin devnet down` and try again");
        if (!o.state.empty() && fs::absolute(o.state) != fs::path{state->state})
            fail(Errc::already_exists, "the devnet is already up " +
                                           (state->state.empty() ? std::string{"without a state file"} : "with state file " + state->state) +
                                           "; run `zeppelin devnet down` first to start it with --state " + o.state);
        if (!live_deployment(*rpc)) deploy_devnet(*rpc, state->rpc_url);
        const auto st = read_status();
        if (!json) fmt::print("devnet: already running: the same chain as before (genesis {}); nodes keep working with it\n", st.genesis);
        print_status(st, json, "already running");
        return;
    }

    if (o.port == 0 || o.port > 65535) usage_error("--port must be 1..65535");
    boost::system::error_code bad_host;
    const auto host = boost::asio::ip::make_address_v4(o.host, bad_host);
    if (bad_host) usage_error("--host must be an IPv4 address, got '" + o.host + "'");
    if (port_busy(host, o.port))
        fail(Errc::already_exists, fmt::format("port {} is busy (another node?): choose another with --port", o.port));
    const auto anvil = find_anvil();
    const unsigned block_time = o.block_time.value_or(0);
    const std::string state_path = o.state.empty() ? std::string{} : fs::absolute(o.state).string();
    const bool had_state = !state_path.empty() && fs::exists(state_path) && fs::file_size(state_path, ec) > 0;
    const pid_t pid = spawn_anvil(anvil, o.host, o.port, block_time, state_path);
    AnvilState s{pid, o.port, fmt::format("http://{}:{}", o.host, o.port), block_time, state_path};
    write_state(s);

    auto rpc = quick_client(s.rpc_url);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        int wstatus = 0;
        if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
            fs::remove(state_file(), ec);
            fail(Errc::io, "anvil exited at start; see " + log_file().string());
        }
        if (rpc->chain_id()) break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            fs::remove(state_file(), ec);
            fail(Errc::timeout, "anvil did not answer within 30 s; see " + log_file().string());
        }
        std::this_thread::sleep_for(100ms);
    }
    const bool resumed = had_state && restore_record(*rpc, state_path, s.rpc_url).has_value();
    if (!resumed) {
        const auto record = deploy_devnet(*rpc, s.rpc_url);
        if (!state_path.empty()) or_throw(market::save_deployment(kept_record(state_path), record), "cannot keep the deployment record");
    }
    const auto st = read_status();
    if (!json) {
        if (resumed)
            fmt::print("devnet: resumed the chain saved in {} (genesis {}, block {}): nodes keep working with it\n",
                       state_path, st.genesis, st.block);
        else
            fmt::print("devnet: started a FRESH chain (genesis {}){}: nodes that worked with an earlier devnet stop "
                       "acting and say so; adopt this one with `zeppelin node --reset-chain`{}\n",
                       st.genesis, had_state ? " (the state in " + state_path + " had no deployment to resume)" : "",
                       state_path.empty() ? " (keep a chain across restarts with `zeppelin devnet up --state FILE`)" : "");
    }
    print_status(st, json, resumed ? "resumed" : "fresh");
}

void run_down(const DevnetOptions& o) {
    const bool json = o.json || global_options().json;
    auto state = read_state();
    bool stopped = false;
    if (state && anvil_alive(state->pid)) {
        ::kill(state->pid, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (anvil_alive(state->pid) && std::chrono::steady_clock::now() < deadline) {
            ::waitpid(state->pid, nullptr, WNOHANG);  // reaps it if it happens to be our child
            std::this_thread::sleep_for(50ms);
        }
        if (anvil_alive(state->pid)) ::kill(state->pid, SIGKILL);
        stopped = true;
    }
    std::error_code ec;
    fs::remove(state_file(), ec);
    fs::remove(record_file(), ec);
    if (json) {
        fmt::print("{}\n", nlohmann::json{{"stopped", stopped}, {"running", false}}.dump(2));
    } else {
        fmt::print("devnet: {}\n", stopped ? "stopped" : "was not running");
    }
}

}  // namespace

void add_devnet_commands(CLI::App& app) {
    auto* group = app.add_subcommand("devnet", "A local anvil devnet with WorkerDispatcher deployed");
    group->require_subcommand(1);
    auto opts = std::make_shared<DevnetOptions>();

    auto* up = group->add_subcommand("up", "Start anvil (detached) and deploy WorkerDispatcher; no-op if already up");
    up->add_option("--port", opts->port, "TCP port")->capture_default_str();
    up->add_option("--host", opts->host,
                   "IPv4 address to listen on; another host's nodes reach the devnet only if it is not 127.0.0.1 "
                   "(anvil has no authentication: use only on a private or lab network)")
        ->capture_default_str();
    up->add_option("--block-time", opts->block_time,
                   "Mine a block every N seconds (anvil --block-time), e.g. 2 like an L2 or 12 like mainnet; "
                   "default: a block per transaction at once")
        ->check(CLI::Range(0U, 3600U));
    up->add_option("--state", opts->state,
                   "Keep the chain in this file across `down` and `up` (anvil --state): loaded if it exists, "
                   "written when the devnet stops");
    up->add_flag("--json", opts->json, "Print the status as JSON");
    up->callback([opts] { run_up(*opts); });

    auto* down = group->add_subcommand("down", "Stop the devnet's anvil and remove its records");
    down->add_flag("--json", opts->json, "Print the result as JSON");
    down->callback([opts] { run_down(*opts); });

    auto* status = group->add_subcommand("status", "Running or stopped, chain id, block, dispatcher, workers");
    status->add_flag("--json", opts->json, "Print the status as JSON");
    status->callback([opts] { print_status(read_status(), opts->json || global_options().json); });
}

}  // namespace zeppelin::cli
