#include "zeppelin/cli/commands.hpp"

namespace zeppelin::cli {

GlobalOptions& global_options() {
    static GlobalOptions options;
    return options;
}

}  // namespace zeppelin::cli
