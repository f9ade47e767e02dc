// Each command group registers its subcommands on the root CLI11 app. One file per group
// (util_cmd.cpp, wallet_cmd.cpp, tx_cmd.cpp, ...), so groups evolve independently.
#pragma once

#include <CLI/CLI.hpp>

namespace zeppelin::cli {

/// Options shared by every command.
struct GlobalOptions {
    bool json{false};      // --json: structured output where a command prints data
    std::string rpc_url;   // --rpc-url / ZEPPELIN_RPC_URL
};

GlobalOptions& global_options();

void add_util_commands(CLI::App& app);
void add_wallet_commands(CLI::App& app);
void add_tx_commands(CLI::App& app);
void add_contracts_commands(CLI::App& app);
void add_devnet_commands(CLI::App& app);
void add_image_commands(CLI::App& app);
void add_node_commands(CLI::App& app);
void add_client_commands(CLI::App& app);
void add_net_commands(CLI::App& app);

}  // namespace zeppelin::cli
