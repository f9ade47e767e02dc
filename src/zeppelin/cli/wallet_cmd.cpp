#include "zeppelin/cli/commands.hpp"

namespace zeppelin::cli {

void add_wallet_commands(CLI::App& app) {
    auto* group = app.add_subcommand("wallet", "wallet commands");
    group->require_subcommand(1);
}

}  // namespace zeppelin::cli
