#include "zeppelin/cli/commands.hpp"

#include <cstdio>
#include <exception>
#include <iostream>

#include <fmt/core.h>

#include "zeppelin/core/result.hpp"

namespace zeppelin::cli {

GlobalOptions& global_options() {
    static GlobalOptions options;
    return options;
}

void add_global_options(CLI::App& app) {
    auto& g = global_options();
    app.fallthrough();  // inherited by every subcommand added after this
    app.add_flag("--json", g.json, "Print data as JSON (amounts as exact wei in decimal strings)");
    app.add_flag("--exact", g.exact, "Print amounts with every digit instead of the readable rounding");
    app.add_option("--rpc-url", g.rpc_url, "Ethereum JSON-RPC endpoint (default: $ZEPPELIN_RPC_URL or the deployment's)");
    app.add_option("--node", g.node_dir, "Data directory of the node to talk to (default $ZEPPELIN_NODE_DIR or ~/.zeppelin/node)");
}

namespace {

/// The first word that should name a command but names none ("frobnicate"), with the commands
/// there are; empty when the words look right (CLI11 then judges them).
std::string unknown_command(CLI::App& app, int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view w{argv[i]};
        if (w == "--rpc-url" || w == "--node") {
            ++i;  // its value
            continue;
        }
        if (w.starts_with("-")) continue;
        std::string names;
        for (const auto* sub : app.get_subcommands({})) {
            if (sub->get_name() == w) return {};
            names += (names.empty() ? "" : ", ") + sub->get_name();
        }
        return fmt::format("'{}' is not a zeppelin command; the commands are {} (zeppelin --help says what each does)", w, names);
    }
    return {};
}

}  // namespace

int run_cli(CLI::App& app, int argc, const char* const* argv) {
    if (const auto why = unknown_command(app, argc, argv); !why.empty()) {
        fmt::print(stderr, "{}\n", why);
        return kExitUsage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();  // a command that ran and failed: its own code (said on stderr already)
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e, std::cout, std::cerr);  // help and --version: 0, printed on stdout
        return code == 0 ? kExitOk : kExitUsage;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "Error: {}\n", e.what());
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace zeppelin::cli
