#include "zeppelin/cli/commands.hpp"

namespace zeppelin::cli {

void add_util_commands(CLI::App& app) {
    auto* group = app.add_subcommand("util", "util commands");
    group->require_subcommand(1);
}

}  // namespace zeppelin::cli
