// ABI types and signatures: parsing "f(uint256,(address,bytes)[])" and solc's JSON ABI,
// canonical type names, selectors and event topics.
#include "zeppelin/eth/abi.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "zeppelin/eth/abi_errors.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth::abi {
namespace {

using detail::sig_error;

constexpr std::size_t kMaxTypeDepth = 64;

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// ---- type and signature parsing ------------------------------------------------------

class SigParser {
public:
    explicit SigParser(std::string_view s) : s_{s} {}

    void skip_ws() {
        while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    }
    bool eof() const { return pos_ >= s_.size(); }
    char peek() const { return eof() ? '\0' : s_[pos_]; }
    bool consume(char c) {
        if (peek() != c) return false;
        ++pos_;
        return true;
    }
    std::string_view ident() {
        auto start = pos_;
        if (!eof() && is_ident_start(s_[pos_])) {
            ++pos_;
            while (!eof() && is_ident_char(s_[pos_])) ++pos_;
        }
        return s_.substr(start, pos_ - start);
    }
    /// Consumes `word` if it is the next identifier.
    bool keyword(std::string_view word) {
        auto save = pos_;
        if (ident() == word) return true;
        pos_ = save;
        return false;
    }
    std::size_t pos() const { return pos_; }
    std::string_view text() const { return s_; }

    Error error(std::string_view what) const {
        return sig_error(std::string{what} + " at position " + std::to_string(pos_) + " in \"" + std::string{s_} +
                         "\"");
    }

    Result<Type> type(std::size_t depth = 0) {
        if (depth > kMaxTypeDepth) return error("type nested too deeply");
        Type t;
        if (peek() == '(' || keyword("tuple")) {
            if (!consume('(')) return error("expected '(' after tuple");
            auto comps = ZP_TRY(params(depth + 1, false));
            if (comps.empty()) return error("empty tuple type");
            std::vector<Type> types;
            for (auto& p : comps) types.push_back(std::move(p.type));
            t = Type::tuple(std::move(types));
        } else {
            auto name = ident();
            if (name.empty()) return error("expected a type");
            t = ZP_TRY(elementary(name));
        }
        // array suffixes
        while (peek() == '[') {
            ++pos_;
            if (consume(']')) {
                t = Type::array(std::move(t));
                continue;
            }
            auto start = pos_;
            while (!eof() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            unsigned n = 0;
            auto digits = s_.substr(start, pos_ - start);
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size())
                return error("bad array length");
            if (n == 0) return error("zero-length fixed array");
            if (!consume(']')) return error("expected ']'");
            t = Type::fixed_array(std::move(t), n);
        }
        return t;
    }

    Result<Type> elementary(std::string_view name) {
        auto sized = [&](std::string_view prefix, unsigned& out) -> int {  // 1 ok, 0 no prefix, -1 bad
            if (name.substr(0, prefix.size()) != prefix) return 0;
            auto digits = name.substr(prefix.size());
            if (digits.empty()) {
                out = 0;
                return 1;
            }
            if (digits[0] == '0') return -1;
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
            if (ec != std::errc{} || p != digits.data() + digits.size()) return -1;
            return 1;
        };
        if (name == "address") return Type::address();
        if (name == "bool") return Type::boolean();
        if (name == "string") return Type::string();
        unsigned n = 0;
        for (auto [prefix, is_int] : {std::pair{std::string_view{"uint"}, false}, std::pair{std::string_view{"int"}, true}}) {
            int r = sized(prefix, n);
            if (r == 0) continue;
            if (r < 0) return error("invalid type " + std::string{name});
            if (n == 0) n = 256;
            if (n % 8 != 0 || n > 256) return error("invalid size for type " + std::string{name});
            return is_int ? Type::int_(n) : Type::uint_(n);
        }
        int r = sized("bytes", n);
        if (r == 1) {
            if (n == 0) return Type::bytes();
            if (n > 32) return error("invalid size for type " + std::string{name});
            return Type::fixed_bytes(n);
        }
        return error("unsupported type " + std::string{name});
    }

    /// After '(' : parameters up to and including ')'. Trailing comma accepted (as cast does).
    Result<std::vector<Param>> params(std::size_t depth, bool allow_names) {
        std::vector<Param> out;
        skip_ws();
        while (!consume(')')) {
            Param p;
            p.type = ZP_TRY(type(depth));
            skip_ws();
            // optional storage location / indexed / name
            for (int i = 0; i < 3 && is_ident_start(peek()); ++i) {
                auto save = pos_;
                auto word = ident();
                if (word == "memory" || word == "calldata" || word == "storage") {
                } else if (word == "indexed") {
                    p.indexed = true;
                } else if (allow_names && p.name.empty()) {
                    p.name = std::string{word};
                } else {
                    pos_ = save;
                    return error("unexpected word '" + std::string{word} + "'");
                }
                skip_ws();
            }
            out.push_back(std::move(p));
            skip_ws();
            if (consume(',')) {
                skip_ws();
                continue;
            }
            if (peek() != ')') return error("expected ',' or ')'");
        }
        return out;
    }

private:
    std::string_view s_;
    std::size_t pos_{0};
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

struct ParsedSig {
    std::string name;
    std::vector<Param> inputs;
    std::vector<Param> outputs;
    bool anonymous{false};
};

Result<ParsedSig> parse_sig(std::string_view text, std::string_view keyword, bool allow_outputs) {
    text = trim(text);
    SigParser p{text};
    ParsedSig out;
    auto first = p.ident();
    if (first == keyword && is_space(p.peek())) {
        p.skip_ws();
        first = p.ident();
    }
    if (first.empty()) return p.error("expected a name");
    out.name = std::string{first};
    p.skip_ws();
    if (!p.consume('(')) return p.error("expected '('");
    out.inputs = ZP_TRY(p.params(0, true));
    p.skip_ws();
    if (allow_outputs) {
        // visibility and mutability words, then ":" / "returns" and the outputs
        while (true) {
            if (p.keyword("external") || p.keyword("public") || p.keyword("internal") || p.keyword("private") ||
                p.keyword("view") || p.keyword("pure") || p.keyword("payable") || p.keyword("nonpayable")) {
                p.skip_ws();
                continue;
            }
            break;
        }
        p.consume(':');
        p.skip_ws();
        p.keyword("returns");
        p.skip_ws();
        if (p.consume('(')) out.outputs = ZP_TRY(p.params(0, true));
        p.skip_ws();
    }
    if (p.keyword("anonymous")) {
        out.anonymous = true;
        p.skip_ws();
    }
    if (!p.eof()) return p.error("unexpected text");
    return out;
}

std::string join_types(std::span<const Param> params) {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (i) s += ',';
        s += params[i].type.canonical();
    }
    return s;
}

// ---- JSON ABI -------------------------------------------------------------------------

Result<Type> json_type(const nlohmann::json& j, std::size_t depth);

Result<Param> json_param(const nlohmann::json& j, std::size_t depth) {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        return sig_error("JSON ABI parameter without a \"type\"");
    Param p;
    if (j.contains("name") && j["name"].is_string()) p.name = j["name"].get<std::string>();
    if (j.contains("indexed") && j["indexed"].is_boolean()) p.indexed = j["indexed"].get<bool>();
    p.type = ZP_TRY(json_type(j, depth));
    return p;
}

Result<Type> json_type(const nlohmann::json& j, std::size_t depth) {
    if (depth > kMaxTypeDepth) return sig_error("JSON ABI type nested too deeply");
    auto ty = j["type"].get<std::string>();
    if (ty.rfind("tuple", 0) != 0) return parse_type(ty);
    if (!j.contains("components") || !j["components"].is_array())
        return sig_error("JSON ABI tuple type without \"components\"");
    std::vector<Type> comps;
    for (auto& c : j["components"]) comps.push_back(ZP_TRY(json_param(c, depth + 1)).type);
    if (comps.empty()) return sig_error("empty tuple type in JSON ABI");
    // re-use the signature parser for the array suffixes: build "(..)" + suffix
    std::string text = Type::tuple(comps).canonical() + ty.substr(5);
    return parse_type(text);
}

Result<std::vector<Param>> json_params(const nlohmann::json& entry, const char* key) {
    std::vector<Param> out;
    if (!entry.contains(key)) return out;
    if (!entry[key].is_array()) return sig_error(std::string{"JSON ABI \""} + key + "\" is not an array");
    for (auto& p : entry[key]) out.push_back(ZP_TRY(json_param(p, 0)));
    return out;
}


template <std::size_t N>
FixedBytes<N> first_bytes(const Hash32& h) {
    FixedBytes<N> out;
    std::copy_n(h.begin(), N, out.begin());
    return out;
}

}  // namespace

// ---- Type -----------------------------------------------------------------------------

bool Type::is_dynamic() const {
    switch (kind) {
        case Kind::bytes:
        case Kind::string:
        case Kind::array: return true;
        case Kind::fixed_array: return inner[0].is_dynamic();
        case Kind::tuple: return std::any_of(inner.begin(), inner.end(), [](const Type& t) { return t.is_dynamic(); });
        default: return false;
    }
}

std::size_t Type::head_size() const {
    if (is_dynamic()) return 32;
    switch (kind) {
        case Kind::fixed_array: return size * inner[0].head_size();
        case Kind::tuple: {
            std::size_t s = 0;
            for (auto& t : inner) s += t.head_size();
            return s;
        }
        default: return 32;
    }
}

std::string Type::canonical() const {
    switch (kind) {
        case Kind::uint_: return "uint" + std::to_string(size);
        case Kind::int_: return "int" + std::to_string(size);
        case Kind::address: return "address";
        case Kind::boolean: return "bool";
        case Kind::fixed_bytes: return "bytes" + std::to_string(size);
        case Kind::bytes: return "bytes";
        case Kind::string: return "string";
        case Kind::array: return inner[0].canonical() + "[]";
        case Kind::fixed_array: return inner[0].canonical() + "[" + std::to_string(size) + "]";
        case Kind::tuple: {
            std::string s = "(";
            for (std::size_t i = 0; i < inner.size(); ++i) {
                if (i) s += ',';
                s += inner[i].canonical();
            }
            return s + ")";
        }
    }
    return {};
}

Result<Type> parse_type(std::string_view text) {
    SigParser p{trim(text)};
    auto t = ZP_TRY(p.type());
    if (!p.eof()) return p.error("unexpected text after type");
    return t;
}

std::vector<Type> types_of(std::span<const Param> params) {
    std::vector<Type> out;
    out.reserve(params.size());
    for (auto& p : params) out.push_back(p.type);
    return out;
}

std::string Function::signature() const { return name + "(" + join_types(inputs) + ")"; }
FixedBytes<4> Function::selector() const { return first_bytes<4>(keccak256(signature())); }
std::string Event::signature() const { return name + "(" + join_types(inputs) + ")"; }
Hash32 Event::topic0() const { return keccak256(signature()); }
std::string ErrorDef::signature() const { return name + "(" + join_types(inputs) + ")"; }
FixedBytes<4> ErrorDef::selector() const { return first_bytes<4>(keccak256(signature())); }

Result<Function> parse_function(std::string_view signature) {
    auto s = ZP_TRY(parse_sig(signature, "function", true));
    return Function{std::move(s.name), std::move(s.inputs), std::move(s.outputs)};
}

Result<Event> parse_event(std::string_view signature) {
    auto s = ZP_TRY(parse_sig(signature, "event", false));
    return Event{std::move(s.name), std::move(s.inputs), s.anonymous};
}

Result<ErrorDef> parse_error(std::string_view signature) {
    auto s = ZP_TRY(parse_sig(signature, "error", false));
    if (s.anonymous) return sig_error("an error cannot be anonymous");
    return ErrorDef{std::move(s.name), std::move(s.inputs)};
}

const Function* JsonAbi::function(std::string_view n) const {
    for (auto& f : functions)
        if (f.name == n) return &f;
    return nullptr;
}
const Event* JsonAbi::event(std::string_view n) const {
    for (auto& e : events)
        if (e.name == n) return &e;
    return nullptr;
}
const ErrorDef* JsonAbi::error(std::string_view n) const {
    for (auto& e : errors)
        if (e.name == n) return &e;
    return nullptr;
}

Result<JsonAbi> parse_json_abi(std::string_view json) {
    auto j = nlohmann::json::parse(json, nullptr, false);
    if (j.is_discarded()) return sig_error("JSON ABI is not valid JSON");
    if (j.is_object() && j.contains("abi")) j = j["abi"];
    if (!j.is_array()) return sig_error("JSON ABI must be an array");
    JsonAbi abi;
    for (auto& e : j) {
        if (!e.is_object()) return sig_error("JSON ABI entry is not an object");
        std::string type = e.contains("type") && e["type"].is_string() ? e["type"].get<std::string>() : "function";
        std::string name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : "";
        if (type == "function") {
            abi.functions.push_back({name, ZP_TRY(json_params(e, "inputs")), ZP_TRY(json_params(e, "outputs"))});
        } else if (type == "constructor") {
            abi.functions.push_back({"constructor", ZP_TRY(json_params(e, "inputs")), {}});
        } else if (type == "event") {
            bool anon = e.contains("anonymous") && e["anonymous"].is_boolean() && e["anonymous"].get<bool>();
            abi.events.push_back({name, ZP_TRY(json_params(e, "inputs")), anon});
        } else if (type == "error") {
            abi.errors.push_back({name, ZP_TRY(json_params(e, "inputs"))});
        }  // fallback / receive carry no parameters
    }
    return abi;
}

}  // namespace zeppelin::eth::abi
