// Each command group registers its subcommands on the root CLI11 app. One file per group
// (util_cmd.cpp, wallet_cmd.cpp, tx_cmd.cpp, ...), so groups evolve independently.
#pragma once

#include <CLI/CLI.hpp>

namespace zeppelin::cli {

/// Options shared by every command, accepted before or after the subcommand (like docker's and
/// cast's): `zeppelin --json ps` and `zeppelin ps --json` are the same.
struct GlobalOptions {
    bool json{false};      // --json: every command that prints data prints JSON (amounts in exact wei)
    bool exact{false};     // --exact: amounts for people with every digit ("9.999345342028252515 ETH")
    std::string rpc_url;   // --rpc-url (else ZEPPELIN_RPC_URL, else the command's default)
    std::string node_dir;  // --node DIR: the data directory of the node to talk to
};

GlobalOptions& global_options();

/// Exit codes, as docker and cast use them: 0 success, 1 the command failed, 2 usage (the command
/// line could not be parsed). Errors go to stderr, data to stdout.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

/// Adds the global options to the root app and lets every subcommand (added afterwards) pass the
/// options it does not know up to its parent, so they work after the subcommand too.
void add_global_options(CLI::App& app);
/// Parses and runs; returns the exit code (errors printed on stderr).
int run_cli(CLI::App& app, int argc, const char* const* argv);

void add_util_commands(CLI::App& app);
void add_wallet_commands(CLI::App& app);
void add_tx_commands(CLI::App& app);
void add_contracts_commands(CLI::App& app);
void add_devnet_commands(CLI::App& app);
void add_image_commands(CLI::App& app);
void add_node_commands(CLI::App& app);
void add_client_commands(CLI::App& app);
void add_net_commands(CLI::App& app);
/// `zeppelin completion bash|zsh` (add it last: it lists the commands added before it).
void add_completion_commands(CLI::App& app);

}  // namespace zeppelin::cli
