// zeppelin: the command-line entry point. Thin: parse, dispatch, turn errors into words and exit
// codes (cli::run_cli: 1 a failure, 2 a usage error).
#include <CLI/CLI.hpp>

#include "zeppelin/cli/commands.hpp"

int main(int argc, char** argv) {
    using namespace zeppelin;
    CLI::App app{"zeppelin: a decentralized marketplace for computing power", "zeppelin"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "zeppelin 0.1.0");
    cli::add_global_options(app);
    cli::add_util_commands(app);
    cli::add_wallet_commands(app);
    cli::add_tx_commands(app);
    cli::add_contracts_commands(app);
    cli::add_devnet_commands(app);
    cli::add_image_commands(app);
    cli::add_node_commands(app);
    cli::add_client_commands(app);
    cli::add_net_commands(app);
    cli::add_completion_commands(app);
    return cli::run_cli(app, argc, argv);
}
