#include "zeppelin/cli/commands.hpp"

namespace zeppelin::cli {

void add_tx_commands(CLI::App& app) {
    auto* group = app.add_subcommand("tx", "tx commands");
    group->require_subcommand(1);
}

}  // namespace zeppelin::cli
