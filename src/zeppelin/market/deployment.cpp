#include "zeppelin/market/deployment.hpp"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <unistd.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::market {

namespace fs = std::filesystem;
using nlohmann::json;

Result<fs::path> zeppelin_home() {
    if (const char* h = std::getenv("ZEPPELIN_HOME"); h != nullptr && *h != '\0') return fs::path{h};
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return fs::path{home} / ".zeppelin";
    return Error{Errc::not_found, "neither ZEPPELIN_HOME nor HOME is set: cannot find the zeppelin directory"};
}

Result<fs::path> devnet_dir() { return ZP_TRY(zeppelin_home()) / "devnet"; }

Result<fs::path> deployment_path(std::string_view explicit_path) {
    if (!explicit_path.empty()) return fs::path{explicit_path};
    if (const char* p = std::getenv("ZEPPELIN_DEPLOYMENT"); p != nullptr && *p != '\0') return fs::path{p};
    return ZP_TRY(devnet_dir()) / "deployment.json";
}

std::string deployment_to_json(const Deployment& d) {
    const json j{{"chain_id", d.chain_id},
                 {"rpc_url", d.rpc_url},
                 {"dispatcher", eth::to_checksum(d.dispatcher)},
                 {"deploy_block", d.deploy_block},
                 {"deployer", eth::to_checksum(d.deployer)},
                 {"transaction", to_hex(d.transaction)}};
    return j.dump(2) + "\n";
}

Result<Deployment> parse_deployment(std::string_view text) {
    const auto j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
        return Error{Errc::invalid_argument, "the deployment record is not a JSON object"};
    auto missing = [](std::string_view m, std::string_view kind) {
        return Error{Errc::invalid_argument,
                     "the deployment record's \"" + std::string{m} + "\" is missing or not " + std::string{kind}};
    };
    Deployment d;
    if (!j.contains("chain_id") || !j["chain_id"].is_number_unsigned()) return missing("chain_id", "a number");
    d.chain_id = j["chain_id"].get<std::uint64_t>();
    if (!j.contains("rpc_url") || !j["rpc_url"].is_string()) return missing("rpc_url", "a string");
    d.rpc_url = j["rpc_url"].get<std::string>();
    if (!j.contains("dispatcher") || !j["dispatcher"].is_string()) return missing("dispatcher", "an address");
    auto dispatcher = eth::parse_address(j["dispatcher"].get<std::string>());
    if (!dispatcher) return dispatcher.error().wrap("the deployment record's \"dispatcher\"");
    d.dispatcher = *dispatcher;
    if (j.contains("deploy_block")) {
        if (!j["deploy_block"].is_number_unsigned()) return missing("deploy_block", "a number");
        d.deploy_block = j["deploy_block"].get<std::uint64_t>();
    }
    if (j.contains("deployer")) {
        if (!j["deployer"].is_string()) return missing("deployer", "an address");
        auto a = eth::parse_address(j["deployer"].get<std::string>());
        if (!a) return a.error().wrap("the deployment record's \"deployer\"");
        d.deployer = *a;
    }
    if (j.contains("transaction")) {
        if (!j["transaction"].is_string()) return missing("transaction", "a hash");
        auto h = fixed_from_hex<32>(j["transaction"].get<std::string>());
        if (!h) return h.error().wrap("the deployment record's \"transaction\"");
        d.transaction = *h;
    }
    return d;
}

Result<void> save_deployment(const fs::path& file, const Deployment& d) {
    std::error_code ec;
    if (file.has_parent_path()) {
        fs::create_directories(file.parent_path(), ec);
        if (ec) return Error{Errc::io, "cannot create " + file.parent_path().string() + ": " + ec.message()};
    }
    const fs::path tmp = file.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
        out << deployment_to_json(d);
        out.close();
        if (!out) return Error{Errc::io, "cannot write " + tmp.string()};
    }
    fs::rename(tmp, file, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return Error{Errc::io, "cannot replace " + file.string()};
    }
    return {};
}

Result<Deployment> load_deployment(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec))
        return Error{Errc::not_found, "no deployment record at " + file.string() +
                                          " (run `zeppelin devnet up` or `zeppelin contracts deploy`, or pass --deployment)"};
    std::ifstream in{file, std::ios::binary};
    if (!in) return Error{Errc::io, "cannot read " + file.string()};
    std::stringstream ss;
    ss << in.rdbuf();
    auto d = parse_deployment(ss.str());
    if (!d) return d.error().wrap(file.string());
    return d;
}

}  // namespace zeppelin::market
