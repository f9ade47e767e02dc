#include "zeppelin/market/artifacts.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::market {
namespace {

nlohmann::json parse_artifact(std::string_view text, const char* name) {
    auto parsed = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("abi") || !parsed["abi"].is_array())
        throw Exception{Error{Errc::internal, std::string{"the embedded "} + name + " artifact is not valid JSON"}};
    return parsed;
}

const nlohmann::json& artifact_v2() {
    static const nlohmann::json j = parse_artifact(dispatcher_v2_artifact_json(), "WorkerDispatcherV2");
    return j;
}

Bytes code_member(const nlohmann::json& j, const char* member) {
    if (!j.contains(member) || !j[member].contains("object") || !j[member]["object"].is_string())
        throw Exception{Error{Errc::internal, std::string{"the embedded artifact has no "} + member + ".object"}};
    return from_hex(j[member]["object"].get<std::string>()).value();
}

}  // namespace

std::string_view dispatcher_v2_abi_json() {
    static const std::string text = [] {
        // The dispatcher's entries, then the module's functions the dispatcher does not declare
        // (errors and events are the same in both: IWorkerDispatcherV2).
        nlohmann::json merged = artifact_v2().at("abi");
        const auto module = parse_artifact(registry_module_v2_artifact_json(), "RegistryModuleV2");
        for (const auto& entry : module.at("abi")) {
            if (entry.value("type", "") != "function") continue;
            bool known = false;
            for (const auto& have : merged)
                known = known || (have.value("type", "") == "function" && have.value("name", "") == entry.value("name", ""));
            if (!known) merged.push_back(entry);
        }
        return merged.dump();
    }();
    return text;
}

const eth::abi::JsonAbi& dispatcher_v2_abi() {
    static const eth::abi::JsonAbi abi = eth::abi::parse_json_abi(dispatcher_v2_abi_json()).value();
    return abi;
}

const Bytes& dispatcher_v2_creation_code() {
    static const Bytes code = code_member(artifact_v2(), "bytecode");
    return code;
}

const Bytes& dispatcher_v2_runtime_code() {
    static const Bytes code = code_member(artifact_v2(), "deployedBytecode");
    return code;
}

}  // namespace zeppelin::market
