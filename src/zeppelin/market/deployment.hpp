// Where a WorkerDispatcher is deployed, saved as JSON so that other commands find it:
//   {"chain_id": 31337, "rpc_url": "http://127.0.0.1:8545", "dispatcher": "0x...",
//    "deploy_block": 1, "deployer": "0x...", "transaction": "0x..."}
// Default location: $ZEPPELIN_DEPLOYMENT, else <zeppelin home>/devnet/deployment.json, where the
// zeppelin home is $ZEPPELIN_HOME, else ~/.zeppelin. Commands take --deployment FILE first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::market {

struct Deployment {
    std::uint64_t chain_id{0};
    std::string rpc_url;
    Address dispatcher{};
    std::uint64_t deploy_block{0};  // first block to scan for the dispatcher's events
    Address deployer{};
    Hash32 transaction{};  // the creation transaction (zero if unknown)
    bool operator==(const Deployment&) const = default;
};

/// $ZEPPELIN_HOME, else $HOME/.zeppelin (Errc::not_found if neither is set).
Result<std::filesystem::path> zeppelin_home();
/// <zeppelin home>/devnet: anvil's pid and log, and the default deployment record.
Result<std::filesystem::path> devnet_dir();
/// `explicit_path` if not empty, else $ZEPPELIN_DEPLOYMENT, else <devnet dir>/deployment.json.
Result<std::filesystem::path> deployment_path(std::string_view explicit_path = {});

std::string deployment_to_json(const Deployment& d);
/// Errc::invalid_argument with the offending member named.
Result<Deployment> parse_deployment(std::string_view json);

/// Writes atomically (temporary file + rename), creating parent directories.
Result<void> save_deployment(const std::filesystem::path& file, const Deployment& d);
/// Errc::not_found if the file does not exist.
Result<Deployment> load_deployment(const std::filesystem::path& file);

}  // namespace zeppelin::market
