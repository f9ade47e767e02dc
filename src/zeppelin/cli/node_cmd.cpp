// `zeppelin node`: the daemon (node/node.hpp) with its local HTTP API (node/api.hpp).
//
// Options come from flags and, with --config FILE, from a TOML file whose keys are the long
// option names (rpc-url = "http://...", price = "1gwei", ...); flags win over the file.
// Contract address, chain id and RPC URL default to the deployment record (the devnet's by
// default), so on the local devnet `zeppelin node --private-key-env KEY` is enough.
//
// Files in the data directory (default <zeppelin home>/node, or $ZEPPELIN_NODE_DIR):
//   state.sqlite   all the node's state (agreements, transaction journal, follower cursor)
//   layers/        the content-addressed layer cache of received images
//   api.json       where the API listens and its token (0600), for `zeppelin run/ps/...`
#include <csignal>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/cli/node_client.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/node/api.hpp"
#include "zeppelin/node/node.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

struct NodeCmdOptions {
    std::string data_dir;
    std::string deployment;
    std::string rpc_url;
    std::uint64_t chain_id{0};
    std::string dispatcher;
    std::uint64_t deploy_block{0};
    KeyOptions key;
    bool client_only{false};
    std::string stake{"0"};
    std::string price{"1gwei"};
    std::uint32_t max_duration{86400};
    std::uint32_t cpu{1000};
    std::uint32_t memory{1024};
    std::string public_host{"127.0.0.1"};
    bool public_host_given{false};  // set by the option's callback (also from --config)
    std::string transfer_host{"127.0.0.1"};
    std::uint16_t transfer_port{0};
    std::string service_ip{"127.0.0.1"};
    std::uint16_t log_port{0};
    std::string service_ports;
    std::string port_mapping{"auto"};
    std::uint32_t port_mapping_lease_s{3600};
    std::uint32_t unreached_after_s{60};
    std::string image_delivery{"pull"};
    std::size_t keep_images{8};
    std::string api_host{"127.0.0.1"};
    std::uint16_t api_port{0};
    std::string api_token_file;
    std::string web_dir;
    std::uint64_t confirmations{0};
    unsigned probes_per_period{2};
    unsigned poll_ms{0};
    std::string log_level{"info"};
    bool reset_chain{false};
};

std::string load_or_create_token(const NodeCmdOptions& o, const fs::path& dir) {
    const fs::path file = o.api_token_file.empty() ? dir / "api-token" : fs::path{o.api_token_file};
    if (std::ifstream in{file}; in) {
        std::string t;
        std::getline(in, t);
        if (t.size() >= 16) return t;
        fail(Errc::invalid_argument, "the API token in " + file.string() + " is shorter than 16 characters");
    }
    const auto token = or_throw(node::generate_api_token(), "API token");
    or_throw(write_private_file(file, token + "\n"), "API token");
    return token;
}

void run_node(const NodeCmdOptions& o) {
    spdlog::set_level(spdlog::level::from_str(o.log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    spdlog::flush_on(spdlog::level::trace);  // a log file must be whole when the node is killed
    node::NodeOptions no;
    // The values of the command line first: a usage error exits 2 before anything is opened.
    no.stake = usage_or(parse_amount(o.stake), "--stake");
    const auto price = usage_or(parse_amount(o.price.ends_with("/s") ? o.price.substr(0, o.price.size() - 2) : o.price), "--price");
    if (price > std::numeric_limits<std::uint64_t>::max()) usage_error("--price is too large");
    no.price_per_second = static_cast<std::uint64_t>(price);
    if (!o.service_ports.empty()) no.service_ports = usage_or(node::parse_port_range(o.service_ports), "--service-ports");
    no.data_dir = or_throw(node_data_dir(o.data_dir), "--data-dir");

    // The chain and contract: flags, else the deployment record.
    std::string rpc = o.rpc_url.empty() ? global_options().rpc_url : o.rpc_url;
    if (rpc.empty()) if (const char* e = std::getenv("ZEPPELIN_RPC_URL")) rpc = e;
    if (!o.dispatcher.empty()) {
        no.dispatcher = usage_or(eth::parse_address(o.dispatcher), "--dispatcher");
        no.deploy_block = o.deploy_block;
        no.chain_id = o.chain_id;
        if (rpc.empty()) usage_error("--dispatcher needs --rpc-url too");
    } else {
        const auto path = or_throw(market::deployment_path(o.deployment), "deployment record");
        const auto d = or_throw(market::load_deployment(path),
                                "no contract address given (--dispatcher) and no deployment record at " + path.string() +
                                    " (start a devnet with `zeppelin devnet up`, or pass --deployment FILE)");
        no.dispatcher = d.dispatcher;
        no.deploy_block = d.deploy_block;
        no.chain_id = o.chain_id != 0 ? o.chain_id : d.chain_id;
        if (rpc.empty()) rpc = d.rpc_url;
    }
    no.rpc_url = rpc;
    no.key = load_key(o.key);
    no.worker = !o.client_only;
    no.reset_chain = o.reset_chain;
    no.max_duration = o.max_duration;
    no.cpu_millicores = o.cpu;
    no.memory_mb = o.memory;
    no.public_host = o.public_host;
    no.public_host_given = o.public_host_given;
    no.log_port = o.log_port;
    no.port_mapping = *node::parse_port_mapping(o.port_mapping);  // checked by CLI11
    no.port_mapping_lease = std::chrono::seconds{o.port_mapping_lease_s};
    no.unreached_after = std::chrono::seconds{o.unreached_after_s};
    no.transfer_host = o.transfer_host;
    no.transfer_port = o.transfer_port;
    no.service_ip = o.service_ip;
    no.pull_images = o.image_delivery == "pull";
    no.keep_images = o.keep_images;
    no.confirmations = o.confirmations;
    no.probes_per_period = o.probes_per_period;
    if (o.poll_ms != 0) no.poll = std::chrono::milliseconds{o.poll_ms};

    const auto dir = no.data_dir;
    auto node = or_throw(node::Node::start(std::move(no)), "node");
    const auto token = load_or_create_token(o, dir);
    node::ApiOptions ao;
    ao.host = o.api_host;
    ao.port = o.api_port;
    ao.token = token;
    ao.web_dir = o.web_dir;
    auto api = or_throw(node::Api::start(*node, ao), "node API");
    or_throw(write_node_endpoint(dir, NodeEndpoint{o.api_host, api->port(), token, eth::to_checksum(node->address())}));
    spdlog::info("API on http://{}:{} (token in {}), data in {}", o.api_host, api->port(),
                 (dir / "api-token").string(), dir.string());

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    node->run(g_stop);
    spdlog::info("stopping");
    std::error_code ec;
    fs::remove(dir / "api.json", ec);
    api.reset();
    node.reset();
}

/// `zeppelin node status`: what the running node says about itself, the chain identity first.
void node_status(const std::string& data_dir) {
    const auto node = or_throw(find_node(or_throw(node_data_dir(data_dir), "--node")));
    const auto st = or_throw(api_call(node, "GET", "/api/status"), "node status");
    if (global_options().json) {
        fmt::print("{}\n", st.dump(2));
        return;
    }
    const auto text = [&](const nlohmann::json& j, const char* key) {
        return j.contains(key) ? (j[key].is_string() ? j[key].get<std::string>() : j[key].dump()) : std::string{"-"};
    };
    fmt::print("address:    {}\nchain:      {} via {}\ndispatcher: {}\nworker id:  {}\nblock:      {}\n", text(st, "address"),
               text(st, "chain_id"), text(st, "rpc_url"), text(st, "dispatcher"), text(st, "worker_id"),
               text(st, "processed_block"));
    const auto ci = st.value("chain_identity", nlohmann::json::object());
    if (ci.value("state", std::string{}) == "mismatch") {
        fmt::print("            (the worker id and block are those of the recorded chain)\n");
        fmt::print("identity:   MISMATCH: the node stopped acting\n{}\n", text(ci, "message"));
    } else if (ci.contains("recorded")) {
        fmt::print("identity:   ok (genesis {}, dispatcher code {})\n", text(ci["recorded"], "genesis"),
                   text(ci["recorded"], "code_hash"));
    }
    // A worker: whether parties reach it, and a client that did not (reachability.cpp).
    const auto r = st.value("reachability", nlohmann::json::object());
    if (r.contains("reason")) fmt::print("reachable:  {} ({})\n", r.value("reachable", false) ? "yes" : "NO", text(r, "reason"));
    if (r.contains("unreached")) fmt::print("unreached:  {}\n", text(r, "unreached"));
}

/// Options from a TOML file, for every option the command line did not set. (CLI11's own config
/// support reads files for the top-level app only.)
void apply_config_file(CLI::App& cmd, const std::string& path) {
    if (!fs::exists(path)) fail(Errc::not_found, "--config: no file " + path);
    std::vector<CLI::ConfigItem> items;
    try {
        items = CLI::ConfigTOML{}.from_file(path);
    } catch (const CLI::Error& e) {
        usage_error("--config " + path + ": " + e.what());
    }
    for (const auto& item : items) {
        if (item.name == "++" || item.name == "--") continue;  // section markers
        auto* opt = cmd.get_option_no_throw("--" + item.name);
        if (opt == nullptr || item.name == "config")
            usage_error("--config " + path + ": unknown option '" + item.name + "'");
        if (opt->count() > 0) continue;  // the command line wins
        opt->add_result(item.inputs);
        try {
            opt->run_callback();
        } catch (const CLI::Error& e) {
            usage_error("--config " + path + ": " + item.name + ": " + e.what());
        }
    }
}

}  // namespace

void add_node_commands(CLI::App& app) {
    auto o = std::make_shared<NodeCmdOptions>();
    auto* cmd = app.add_subcommand("node", "Run the Zeppelin node: worker, verifier and client roles for one account");
    auto config = std::make_shared<std::string>();
    cmd->add_option("--config", *config, "Read options from this TOML file (keys are the long option names; flags win)");
    cmd->add_option("--data-dir", o->data_dir, "State directory (default $ZEPPELIN_NODE_DIR or ~/.zeppelin/node)");
    cmd->add_option("--deployment", o->deployment, "Deployment record (default: the devnet's)");
    cmd->add_option("--rpc-url", o->rpc_url, "Ethereum JSON-RPC endpoint (default: the deployment record's)");
    cmd->add_option("--chain-id", o->chain_id, "Expected chain id (checked against the endpoint)");
    cmd->add_option("--dispatcher", o->dispatcher, "WorkerDispatcher address (instead of a deployment record)");
    cmd->add_option("--deploy-block", o->deploy_block, "First block to scan for the dispatcher's events");
    add_key_options(cmd, o->key);
    cmd->add_flag("--client-only", o->client_only, "Do not register as a worker (only buy and follow agreements)");
    cmd->add_option("--stake", o->stake, "Stake to register with (default: the contract's minimum)");
    cmd->add_option("--price", o->price, "Price per second of service, e.g. 1gwei or 1gwei/s")->capture_default_str();
    cmd->add_option("--max-duration", o->max_duration, "Longest agreement accepted, seconds")->capture_default_str();
    cmd->add_option("--cpu", o->cpu, "CPU offered, millicores")->capture_default_str();
    cmd->add_option("--memory", o->memory, "Memory offered, MB")->capture_default_str();
    cmd->add_option_function<std::string>(
           "--public-host",
           [o](const std::string& host) {
               o->public_host = host;
               o->public_host_given = true;
           },
           "How clients and verifiers reach this machine (given: its ports are forwarded by hand, no port mapping "
           "unless --port-mapping upnp|natpmp|pcp; default 127.0.0.1, or the router's external address once mapped)");
    cmd->add_option("--transfer-host", o->transfer_host, "Address the image transfer server listens on")->capture_default_str();
    cmd->add_option("--transfer-port", o->transfer_port, "Port of the image transfer server (0: any)");
    cmd->add_option("--log-port", o->log_port, "Port of the work's output channel (0: any)");
    cmd->add_option("--service-ports", o->service_ports,
                    "Host ports for work's services are drawn from this range, e.g. 40000-40100 (default: any free port)")
        ->check([](const std::string& s) {
            const auto r = node::parse_port_range(s);
            return r ? std::string{} : r.error().message();
        });
    cmd->add_option("--port-mapping", o->port_mapping,
                    "Open this worker's ports on the router in front of it: auto (unless on loopback or --public-host "
                    "is given: UPnP IGD, then NAT-PMP, then PCP), upnp (UPnP IGD only), natpmp (NAT-PMP only), pcp (PCP only), off")
        ->check(CLI::IsMember({"auto", "upnp", "natpmp", "pcp", "off"}))
        ->capture_default_str();
    cmd->add_option("--port-mapping-lease", o->port_mapping_lease_s,
                    "Lease asked of the router for each mapping, seconds (renewed halfway)")
        ->check(CLI::Range(10U, 86400U))
        ->capture_default_str();
    cmd->add_option("--unreached-after", o->unreached_after_s,
                    "Seconds after a transfer offer with no connection from the client: then the worker says so and "
                    "checks its own reachability again")
        ->check(CLI::Range(5U, 3600U))
        ->capture_default_str();
    cmd->add_option("--service-ip", o->service_ip, "Where work's service ports are published (0.0.0.0: all interfaces)")->capture_default_str();
    cmd->add_option("--image-delivery", o->image_delivery,
                    "How received images reach the engine: pull (from this node's loopback registry, while they "
                    "arrive) or load (an archive, once complete: for an engine that cannot reach this machine's 127.0.0.1)")
        ->check(CLI::IsMember({"pull", "load"}))
        ->capture_default_str();
    cmd->add_option("--keep-images", o->keep_images,
                    "Images of ended agreements kept in the engine for reuse (least recently used go first)")
        ->capture_default_str();
    cmd->add_option("--api-host", o->api_host, "Address of the local API (keep it on loopback unless you mean it)")->capture_default_str();
    cmd->add_option("--api-port", o->api_port, "Port of the local API (0: any; see <data-dir>/api.json)");
    cmd->add_option("--api-token-file", o->api_token_file, "API token file (default <data-dir>/api-token, created)");
    cmd->add_option("--web-dir", o->web_dir, "Serve the dashboard's static files from here");
    cmd->add_option("--confirmations", o->confirmations, "Blocks behind the head before events are acted on");
    cmd->add_option("--probes-per-period", o->probes_per_period, "Probes a verifier makes per period")->capture_default_str();
    cmd->add_option("--poll-ms", o->poll_ms, "How often to ask the chain for blocks and receipts (default 50 on chain 31337, else 1000)");
    cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn, error")
        ->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    cmd->add_flag("--reset-chain", o->reset_chain,
                  "Adopt the chain the endpoint serves when it is not the one this node recorded (a fresh devnet, "
                  "another deployment): the old state is moved to <data-dir>/archive/ and the node starts afresh");
    auto status_dir = std::make_shared<std::string>();
    auto* status = cmd->add_subcommand("status", "What the running node says: account, chain, worker, and whether the "
                                                 "chain is still the one it works with");
    status->add_option("--node,--data-dir", *status_dir, "Data directory of the node (default $ZEPPELIN_NODE_DIR or ~/.zeppelin/node)");
    status->callback([status_dir] { node_status(*status_dir); });
    cmd->callback([o, config, cmd, status] {
        if (status->parsed()) return;  // `zeppelin node status` asks a running node; it runs none
        if (!config->empty()) apply_config_file(*cmd, *config);
        run_node(*o);
    });
}

}  // namespace zeppelin::cli
