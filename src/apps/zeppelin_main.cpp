// zeppelin: the command-line entry point. Thin: parse, dispatch, turn errors into words.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/core/result.hpp"

int main(int argc, char** argv) {
    using namespace zeppelin;
    CLI::App app{"zeppelin: a decentralized marketplace for computing power", "zeppelin"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "zeppelin 0.1.0");
    auto& g = cli::global_options();
    app.add_flag("--json", g.json, "Print structured output as JSON");
    cli::add_util_commands(app);
    cli::add_wallet_commands(app);
    cli::add_tx_commands(app);
    cli::add_contracts_commands(app);
    cli::add_devnet_commands(app);
    cli::add_image_commands(app);
    cli::add_node_commands(app);
    cli::add_client_commands(app);
    cli::add_net_commands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const Exception& e) {
        fmt::print(stderr, "Error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "Error: {}\n", e.what());
        return 1;
    }
    return 0;
}
