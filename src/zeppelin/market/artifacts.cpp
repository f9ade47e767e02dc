#include "zeppelin/market/artifacts.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::market {
namespace {

const nlohmann::json& artifact() {
    static const nlohmann::json j = [] {
        const auto text = worker_dispatcher_artifact_json();
        auto parsed = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded() || !parsed.is_object())
            throw Exception{Error{Errc::internal, "the embedded WorkerDispatcher artifact is not valid JSON"}};
        return parsed;
    }();
    return j;
}

Bytes code_member(const char* member) {
    const auto& j = artifact();
    if (!j.contains(member) || !j[member].contains("object") || !j[member]["object"].is_string())
        throw Exception{Error{Errc::internal, std::string{"the embedded artifact has no "} + member + ".object"}};
    return from_hex(j[member]["object"].get<std::string>()).value();
}

}  // namespace

std::string_view worker_dispatcher_abi_json() {
    static const std::string text = artifact().at("abi").dump();
    return text;
}

const eth::abi::JsonAbi& worker_dispatcher_abi() {
    static const eth::abi::JsonAbi abi = eth::abi::parse_json_abi(worker_dispatcher_abi_json()).value();
    return abi;
}

const Bytes& worker_dispatcher_creation_code() {
    static const Bytes code = code_member("bytecode");
    return code;
}

const Bytes& worker_dispatcher_runtime_code() {
    static const Bytes code = code_member("deployedBytecode");
    return code;
}

}  // namespace zeppelin::market
