// `zeppelin contracts ...`: the protocol v2 dispatcher (contracts/src/v2: WorkerDispatcherV2 + RegistryModuleV2).
//
//   contracts deploy   deploy the embedded WorkerDispatcher build, wait for the receipt, check the
//                      code, write the deployment record (see market/deployment.hpp).
//   contracts abi      print the embedded JSON ABI.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keystore.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"

namespace zeppelin::cli {
namespace {



struct DeployOptions {
    std::string rpc_url;
    std::string private_key;
    KeyOptions key;
    std::string min_stake{"1ether"};
    std::string accept_window{"3600"};
    std::string start_window{"3600"};
    std::string report_window{"3600"};
    std::string cool_down{"604800"};
    std::string verifier_fee_bps{"500"};
    std::string slash_bps{"10000"};
    std::string penalty_bps{"20000"};
    std::string min_verifier_bond{"0.01ether"};
    std::string cancel_fee{"0.0005ether"};
    std::string decline_fee{"0.0005ether"};
    std::string min_verifier_pay{"0.0001ether"};
    std::string draw_delay{"2"};
    std::string out;
    bool json{false};
};

template <class T>
T small(const std::string& text, std::string_view what) {
    auto v = parse_u256(text);
    if (!v || *v > u256{std::numeric_limits<T>::max()})
        usage_error(fmt::format("{} must be a whole number up to {}, got \"{}\"", what, std::numeric_limits<T>::max(), text));
    return static_cast<T>(*v);
}

eth::PrivateKey deployer_key(const DeployOptions& o) {
    if (!o.private_key.empty()) return usage_or(eth::PrivateKey::from_hex(o.private_key), "--private-key");
    if (o.key.keystore.empty() && o.key.private_key_env.empty())
        usage_error("give the deployer's key with --private-key or --keystore");
    return load_key(o.key);
}

void run_deploy(const DeployOptions& o) {
    std::string url = o.rpc_url.empty() ? global_options().rpc_url : o.rpc_url;
    if (url.empty()) {
        if (const char* e = std::getenv("ZEPPELIN_RPC_URL")) url = e;
    }
    if (url.empty()) usage_error("--rpc-url (or ZEPPELIN_RPC_URL) is required");
    // Protocol v2's parameters (market::v2::Config::production_defaults unless given).
    market::v2::Config config;
    config.min_stake = usage_or(parse_amount(o.min_stake), "--min-stake");
    config.min_verifier_bond = usage_or(parse_amount(o.min_verifier_bond), "--min-verifier-bond");
    config.cancel_fee = usage_or(parse_amount(o.cancel_fee), "--cancel-fee");
    config.decline_fee = usage_or(parse_amount(o.decline_fee), "--decline-fee");
    config.min_verifier_pay = usage_or(parse_amount(o.min_verifier_pay), "--min-verifier-pay");
    config.penalty_bps = small<std::uint16_t>(o.penalty_bps, "--penalty-bps");
    config.draw_delay = small<std::uint8_t>(o.draw_delay, "--draw-delay");
    config.accept_window = small<std::uint32_t>(o.accept_window, "--accept-window");
    config.start_window = small<std::uint32_t>(o.start_window, "--start-window");
    config.report_window = small<std::uint32_t>(o.report_window, "--report-window");
    config.cool_down = small<std::uint32_t>(o.cool_down, "--cool-down");
    config.verifier_fee_bps = small<std::uint16_t>(o.verifier_fee_bps, "--verifier-fee-bps");
    config.slash_bps = small<std::uint16_t>(o.slash_bps, "--slash-bps");
    const auto key = deployer_key(o);

    auto rpc = or_throw(eth::RpcClient::connect(url), "--rpc-url");
    (void)market::v2::add_errors_to(*rpc);
    const auto chain_id = or_throw(rpc->chain_id(), "cannot reach the node at " + url);
    auto sender = or_throw(eth::TxSender::create(*rpc, key), "cannot set up the sender");
    const auto deployed = or_throw(market::v2::deploy(*rpc, *sender, config), "deploy");

    market::Deployment record{chain_id, url, deployed.address, deployed.block_number, sender->from(),
                              deployed.transaction_hash};
    const auto path = or_throw(market::deployment_path(o.out), "deployment record");
    or_throw(market::save_deployment(path, record), "cannot save the deployment record");
    if (o.json || global_options().json) {
        auto j = nlohmann::json::parse(market::deployment_to_json(record));
        j["gas_used"] = deployed.gas_used;
        j["record"] = path.string();
        fmt::print("{}\n", j.dump(2));
    } else {
        fmt::print("{}\n", eth::to_checksum(deployed.address));
        fmt::print(stderr, "WorkerDispatcher deployed on chain {} at block {} (gas {}); record: {}\n", chain_id,
                   deployed.block_number, deployed.gas_used, path.string());
    }
}

}  // namespace

void add_contracts_commands(CLI::App& app) {
    auto* group = app.add_subcommand("contracts", "The WorkerDispatcher contract: deploy it, show its ABI");
    group->require_subcommand(1);

    auto opts = std::make_shared<DeployOptions>();
    auto* deploy = group->add_subcommand("deploy", "Deploy WorkerDispatcher and write the deployment record");
    deploy->add_option("--rpc-url", opts->rpc_url, "Node URL (default: $ZEPPELIN_RPC_URL)");
    auto* pk = deploy->add_option("--private-key", opts->private_key, "Deployer key, 32 bytes of hex");
    add_key_options(deploy, opts->key);
    pk->excludes(deploy->get_option("--keystore"));
    deploy->add_option("--min-stake", opts->min_stake, "Minimum worker stake (1ether)")->capture_default_str();
    deploy->add_option("--accept-window", opts->accept_window, "Seconds a worker has to accept")->capture_default_str();
    deploy->add_option("--start-window", opts->start_window, "Seconds to start after accepting")->capture_default_str();
    deploy->add_option("--report-window", opts->report_window, "Seconds verifiers have after the end")
        ->capture_default_str();
    deploy->add_option("--cool-down", opts->cool_down, "Seconds before an unregistered worker's stake is free")
        ->capture_default_str();
    deploy->add_option("--verifier-fee-bps", opts->verifier_fee_bps, "Verifier reward per period, basis points")
        ->capture_default_str();
    deploy->add_option("--slash-bps", opts->slash_bps, "Stake slashed per failed period, basis points")
        ->capture_default_str();
    deploy->add_option("--penalty-bps", opts->penalty_bps, "Verifier bond burned per dissenting or silent period, bps of its reward")
        ->capture_default_str();
    deploy->add_option("--min-verifier-bond", opts->min_verifier_bond, "Smallest bond a verifier locks per agreement")
        ->capture_default_str();
    deploy->add_option("--cancel-fee", opts->cancel_fee, "Burned from a client's deposit when it cancels")->capture_default_str();
    deploy->add_option("--decline-fee", opts->decline_fee, "Burned from a worker's stake when it declines or never starts")
        ->capture_default_str();
    deploy->add_option("--min-verifier-pay", opts->min_verifier_pay, "Smallest pay of one verifier on an agreement")
        ->capture_default_str();
    deploy->add_option("--draw-delay", opts->draw_delay, "Blocks between a commit and the block whose hash draws")
        ->capture_default_str();
    deploy->add_option("--out,--deployment", opts->out,
                       "Deployment record to write (default: $ZEPPELIN_DEPLOYMENT or ~/.zeppelin/devnet/deployment.json)");
    deploy->add_flag("--json", opts->json, "Print the record as JSON");
    deploy->callback([opts] { run_deploy(*opts); });

    auto* abi = group->add_subcommand("abi", "Print the embedded WorkerDispatcher JSON ABI");
    abi->callback([] { fmt::print("{}\n", market::dispatcher_v2_abi_json()); });
}

}  // namespace zeppelin::cli
