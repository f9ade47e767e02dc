#include "zeppelin/probe/spec.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::probe {
namespace {

Error bad(std::string_view text, std::string_view why) {
    return Error{Errc::invalid_argument,
                 "invalid probe \"" + std::string{text} + "\": " + std::string{why} +
                     " (expected e.g. http:/health, http:/health,status=200,body-sha256=<hex>, or tcp)"};
}

bool valid_path(std::string_view p) {
    if (p.empty() || p[0] != '/') return false;
    for (char c : p)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == ',') return false;
    return true;
}

}  // namespace

Result<Spec> parse_spec(std::string_view text) {
    Spec spec;
    if (text == "tcp") {
        spec.kind = Spec::Kind::tcp;
        spec.path.clear();
        spec.status = 0;
        return spec;
    }
    if (text.substr(0, 5) != "http:") return bad(text, "unknown probe kind");
    auto rest = text.substr(5);
    auto comma = rest.find(',');
    spec.path = std::string{rest.substr(0, comma)};
    if (spec.path.empty()) spec.path = "/";
    if (!valid_path(spec.path)) return bad(text, "the path must start with '/' and contain no spaces or commas");
    while (comma != std::string_view::npos) {
        rest = rest.substr(comma + 1);
        comma = rest.find(',');
        auto option = rest.substr(0, comma);
        auto eq = option.find('=');
        if (eq == std::string_view::npos) return bad(text, "option without '='");
        auto key = option.substr(0, eq);
        auto value = option.substr(eq + 1);
        if (key == "status") {
            unsigned s = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
            if (ec != std::errc{} || p != value.data() + value.size() || s < 100 || s > 599)
                return bad(text, "status must be an HTTP status code (100-599)");
            spec.status = s;
        } else if (key == "body-sha256") {
            auto h = fixed_from_hex<32>(value);
            if (!h) return bad(text, "body-sha256 must be 32 bytes of hex");
            spec.body_sha256 = *h;
        } else {
            return bad(text, "unknown option \"" + std::string{key} + "\"");
        }
    }
    return spec;
}

std::string to_string(const Spec& spec) {
    if (spec.kind == Spec::Kind::tcp) return "tcp";
    std::string s = "http:" + spec.path;
    if (spec.status != 200) s += ",status=" + std::to_string(spec.status);
    if (spec.body_sha256) s += ",body-sha256=" + to_hex(*spec.body_sha256, false);
    return s;
}

std::string canonical_json(const Spec& spec) {
    // nlohmann::json objects keep keys sorted, and dump() without indent has no spaces.
    nlohmann::json j;
    if (spec.kind == Spec::Kind::tcp) {
        j["kind"] = "tcp";
    } else {
        j["kind"] = "http";
        j["path"] = spec.path;
        j["status"] = spec.status;
        if (spec.body_sha256) j["bodySha256"] = to_hex(*spec.body_sha256);
    }
    return j.dump();
}

Result<Spec> from_json(std::string_view json) {
    auto j = nlohmann::json::parse(json, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error{Errc::invalid_argument, "probe spec is not a JSON object"};
    auto kind = j.value("kind", std::string{});
    Spec spec;
    if (kind == "tcp") {
        spec.kind = Spec::Kind::tcp;
        spec.path.clear();
        spec.status = 0;
        return spec;
    }
    if (kind != "http") return Error{Errc::invalid_argument, "probe spec has an unknown kind"};
    if (!j.contains("path") || !j["path"].is_string() || !j.contains("status") || !j["status"].is_number_unsigned())
        return Error{Errc::invalid_argument, "http probe spec needs a string path and a numeric status"};
    spec.path = j["path"].get<std::string>();
    spec.status = j["status"].get<unsigned>();
    if (!valid_path(spec.path) || spec.status < 100 || spec.status > 599)
        return Error{Errc::invalid_argument, "http probe spec has an invalid path or status"};
    if (j.contains("bodySha256")) {
        if (!j["bodySha256"].is_string()) return Error{Errc::invalid_argument, "bodySha256 must be a hex string"};
        spec.body_sha256 = ZP_TRY(fixed_from_hex<32>(j["bodySha256"].get<std::string>()));
    }
    return spec;
}

}  // namespace zeppelin::probe
