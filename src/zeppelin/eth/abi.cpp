#include "zeppelin/eth/abi.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth::abi {
namespace {

Error sig_error(std::string msg) { return Error{Errc::abi_invalid_signature, std::move(msg)}; }
Error value_error(std::string msg) { return Error{Errc::abi_invalid_value, std::move(msg)}; }
Error decode_error_(std::string msg) { return Error{Errc::abi_decode, std::move(msg)}; }

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

// ---- encoding -------------------------------------------------------------------------

void put_word(Bytes& out, const u256& v) {
    auto w = to_be32(v);
    out.insert(out.end(), w.begin(), w.end());
}

void encode_value(const Type& t, const Value& v, Bytes& out);

void encode_tuple_items(std::span<const Type> types, std::span<const Value> values, Bytes& out) {
    std::size_t head = 0;
    for (auto& t : types) head += t.head_size();
    auto base = out.size();
    out.resize(base + head);
    std::size_t head_pos = base;
    for (std::size_t i = 0; i < types.size(); ++i) {
        if (types[i].is_dynamic()) {
            auto w = to_be32(u256{out.size() - base});
            std::copy(w.begin(), w.end(), out.begin() + static_cast<std::ptrdiff_t>(head_pos));
            encode_value(types[i], values[i], out);
            head_pos += 32;
        } else {
            Bytes tmp;
            encode_value(types[i], values[i], tmp);
            std::copy(tmp.begin(), tmp.end(), out.begin() + static_cast<std::ptrdiff_t>(head_pos));
            head_pos += tmp.size();
        }
    }
}

void encode_seq(const Type& elem, std::span<const Value> items, Bytes& out) {
    std::vector<Type> types(items.size(), elem);
    encode_tuple_items(types, items, out);
}

void encode_packed_padded(ByteView data, Bytes& out) {
    put_word(out, u256{data.size()});
    out.insert(out.end(), data.begin(), data.end());
    out.resize(out.size() + (32 - data.size() % 32) % 32, 0);
}

void encode_value(const Type& t, const Value& v, Bytes& out) {
    switch (t.kind) {
        case Kind::uint_:
        case Kind::int_:
        case Kind::boolean: put_word(out, v.number); return;
        case Kind::address:
            out.resize(out.size() + 12, 0);
            out.insert(out.end(), v.data.begin(), v.data.end());
            return;
        case Kind::fixed_bytes:
            out.insert(out.end(), v.data.begin(), v.data.end());
            out.resize(out.size() + 32 - v.data.size(), 0);
            return;
        case Kind::bytes:
        case Kind::string: encode_packed_padded(v.data, out); return;
        case Kind::array:
            put_word(out, u256{v.items.size()});
            encode_seq(t.inner[0], v.items, out);
            return;
        case Kind::fixed_array: encode_seq(t.inner[0], v.items, out); return;
        case Kind::tuple: encode_tuple_items(t.inner, v.items, out); return;
    }
}

// ---- decoding -------------------------------------------------------------------------

/// A position inside the buffer of the tuple being decoded. Offsets read from heads are
/// relative to `base` (the start of the enclosing tuple).
struct Cursor {
    ByteView buf;  // the enclosing tuple's encoding (from its start to the end of the input)
    std::size_t pos{0};

    std::size_t remaining() const { return pos <= buf.size() ? buf.size() - pos : 0; }
};

class Decoder {
public:
    explicit Decoder(const DecodeOptions& o) : opt_{o} {}

    Result<Value> value(const Type& t, Cursor& c) {
        if (++count_ > opt_.max_values)
            return decode_error_("ABI data expands to more than " + std::to_string(opt_.max_values) + " values");
        switch (t.kind) {
            case Kind::uint_:
            case Kind::int_:
            case Kind::address:
            case Kind::boolean:
            case Kind::fixed_bytes: {
                auto w = ZP_TRY(word(c));
                return word_value(t, w);
            }
            case Kind::bytes:
            case Kind::string: {
                auto child = ZP_TRY(indirection(c));
                auto len = ZP_TRY(offset_word(child, "length"));
                if (len > child.remaining())
                    return decode_error_("bytes length " + std::to_string(len) + " runs past the end of the data");
                auto data = child.buf.subspan(child.pos, len);
                if (opt_.strict) {
                    auto padded = len + (32 - len % 32) % 32;
                    if (padded > child.remaining()) return decode_error_("bytes padding missing");
                    for (std::size_t i = len; i < padded; ++i)
                        if (child.buf[child.pos + i] != 0) return decode_error_("non-zero bytes padding");
                }
                Value v = t.kind == Kind::bytes ? Value::bytes(data) : Value{Kind::string, 0, 0, to_bytes(data), {}};
                return v;
            }
            case Kind::array: {
                auto child = ZP_TRY(indirection(c));
                auto len = ZP_TRY(offset_word(child, "array length"));
                Value out = Value::array({});
                if (len == 0) return out;
                auto min = min_words(t.inner[0]);
                if (min == 0) return out;
                Cursor elems{child.buf.subspan(child.pos), 0};
                if (len > elems.remaining() / 32 / min)
                    return decode_error_("array length " + std::to_string(len) + " exceeds the data");
                out.items.reserve(len);
                for (std::size_t i = 0; i < len; ++i) out.items.push_back(ZP_TRY(value(t.inner[0], elems)));
                return out;
            }
            case Kind::fixed_array:
            case Kind::tuple: {
                bool dynamic = t.is_dynamic();
                Cursor child = dynamic ? ZP_TRY(indirection(c)) : Cursor{c.buf.subspan(c.pos), 0};
                Value out = t.kind == Kind::tuple ? Value::tuple({}) : Value::fixed_array({});
                std::size_t n = t.kind == Kind::tuple ? t.inner.size() : t.size;
                out.items.reserve(std::min<std::size_t>(n, 4096));
                for (std::size_t i = 0; i < n; ++i) {
                    const Type& et = t.kind == Kind::tuple ? t.inner[i] : t.inner[0];
                    out.items.push_back(ZP_TRY(value(et, child)));
                }
                if (t.kind == Kind::fixed_array) out.size = static_cast<unsigned>(n);
                if (!dynamic) c.pos += child.pos;
                return out;
            }
        }
        return decode_error_("unknown type");
    }

private:
    static std::size_t min_words(const Type& t) {
        switch (t.kind) {
            case Kind::fixed_array: return t.size * min_words(t.inner[0]);
            case Kind::tuple: {
                std::size_t s = 0;
                for (auto& c : t.inner) s += min_words(c);
                return s;
            }
            default: return 1;
        }
    }

    static Result<ByteView> word(Cursor& c) {
        if (c.remaining() < 32) return decode_error_("ABI data too short (buffer overrun)");
        auto w = c.buf.subspan(c.pos, 32);
        c.pos += 32;
        return w;
    }

    /// A word used as an offset or length: must fit in 64 bits (the top 24 bytes zero).
    static Result<std::size_t> offset_word(Cursor& c, const char* what) {
        auto w = ZP_TRY(word(c));
        for (std::size_t i = 0; i < 24; ++i)
            if (w[i] != 0) return decode_error_(std::string{what} + " " + to_hex(w) + " is too large");
        std::uint64_t v = 0;
        for (std::size_t i = 24; i < 32; ++i) v = (v << 8) | w[i];
        if (v > static_cast<std::uint64_t>(SIZE_MAX)) return decode_error_(std::string{what} + " is too large");
        return static_cast<std::size_t>(v);
    }

    static Result<Cursor> indirection(Cursor& c) {
        auto off = ZP_TRY(offset_word(c, "offset"));
        if (off > c.buf.size())
            return decode_error_("offset " + std::to_string(off) + " points past the end of the data");
        return Cursor{c.buf.subspan(off), 0};
    }

    Result<Value> word_value(const Type& t, ByteView w) const {
        auto n = ZP_TRY(from_be(w));
        auto zero = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to; ++i)
                if (w[i] != 0) return false;
            return true;
        };
        switch (t.kind) {
            case Kind::uint_:
                if (opt_.strict && t.size < 256 && (n >> t.size) != 0)
                    return decode_error_("value does not fit uint" + std::to_string(t.size) + " (dirty high bits)");
                return Value::uint_(n, t.size);
            case Kind::int_:
                if (opt_.strict && t.size < 256) {
                    u256 high = n >> (t.size - 1);
                    u256 ones = (~u256{0}) >> (t.size - 1);
                    if (high != 0 && high != ones)
                        return decode_error_("value is not a sign-extended int" + std::to_string(t.size));
                }
                return Value::int_raw(n, t.size);
            case Kind::boolean:
                if (opt_.strict && n > 1) return decode_error_("bool word is neither 0 nor 1");
                return Value::boolean(n != 0);
            case Kind::address:
                if (opt_.strict && !zero(0, 12)) return decode_error_("address word has dirty high bytes");
                return Value::address(fixed_from<20>(w.subspan(12)));
            case Kind::fixed_bytes:
                if (opt_.strict && !zero(t.size, 32))
                    return decode_error_("bytes" + std::to_string(t.size) + " word has dirty low bytes");
                return Value::fixed_bytes(w.subspan(0, t.size));
            default: return decode_error_("not a word type");
        }
    }

    const DecodeOptions& opt_;
    std::size_t count_{0};
};

Result<void> check_impl(const Type& t, const Value& v, std::string& path, bool ranges) {
    auto fail = [&](std::string what) -> Result<void> {
        return value_error("value" + path + ": " + what + " (expected " + t.canonical() + ")");
    };
    bool kind_ok = t.kind == v.kind;
    if (!kind_ok) return fail("wrong kind of value");
    switch (t.kind) {
        case Kind::uint_:
            if (ranges && t.size < 256 && (v.number >> t.size) != 0) return fail("number too large");
            return {};
        case Kind::int_:
            if (ranges && t.size < 256) {
                u256 high = v.number >> (t.size - 1);
                if (high != 0 && high != ((~u256{0}) >> (t.size - 1))) return fail("number out of range");
            }
            return {};
        case Kind::boolean:
            if (v.number > 1) return fail("bool must be 0 or 1");
            return {};
        case Kind::address:
            if (v.data.size() != 20) return fail("address must be 20 bytes");
            return {};
        case Kind::fixed_bytes:
            if (v.data.size() != t.size) return fail("wrong length");
            return {};
        case Kind::bytes:
        case Kind::string: return {};
        case Kind::array:
        case Kind::fixed_array:
        case Kind::tuple: {
            std::size_t n = t.kind == Kind::tuple ? t.inner.size() : t.kind == Kind::fixed_array ? t.size : v.items.size();
            if (v.items.size() != n)
                return fail("expected " + std::to_string(n) + " elements, got " + std::to_string(v.items.size()));
            for (std::size_t i = 0; i < n; ++i) {
                auto saved = path.size();
                path += "[" + std::to_string(i) + "]";
                ZP_CHECK(check_impl(t.kind == Kind::tuple ? t.inner[i] : t.inner[0], v.items[i], path, ranges));
                path.resize(saved);
            }
            return {};
        }
    }
    return {};
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

// ---- values ---------------------------------------------------------------------------

Value Value::int_(std::int64_t v, unsigned bits) {
    u256 n = v < 0 ? u256{0} - u256{static_cast<std::uint64_t>(-(v + 1))} - 1 : u256{static_cast<std::uint64_t>(v)};
    return int_raw(n, bits);
}

Result<void> check_value(const Type& type, const Value& value, EncodeOptions options) {
    std::string path;
    return check_impl(type, value, path, options.check_ranges);
}

// ---- encode / decode ------------------------------------------------------------------

Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values, EncodeOptions options) {
    if (types.size() != values.size())
        return value_error("expected " + std::to_string(types.size()) + " values, got " + std::to_string(values.size()));
    for (std::size_t i = 0; i < types.size(); ++i) {
        auto r = check_value(types[i], values[i], options);
        if (!r) return r.error().wrap("argument " + std::to_string(i));
    }
    Bytes out;
    encode_tuple_items(types, values, out);
    return out;
}

Result<Bytes> encode_single(const Type& type, const Value& value, EncodeOptions options) {
    return encode(std::span<const Type>{&type, 1}, std::span<const Value>{&value, 1}, options);
}

Result<Bytes> encode_call(const Function& fn, std::span<const Value> values) {
    auto types = types_of(fn.inputs);
    auto body = ZP_TRY(encode(types, values));
    auto sel = fn.selector();
    Bytes out(sel.begin(), sel.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Result<std::vector<Value>> decode(std::span<const Type> types, ByteView data, DecodeOptions options) {
    Decoder d{options};
    Cursor c{data, 0};
    std::vector<Value> out;
    out.reserve(types.size());
    for (auto& t : types) out.push_back(ZP_TRY(d.value(t, c)));
    return out;
}

Result<std::vector<Value>> decode_call(const Function& fn, ByteView calldata, DecodeOptions options) {
    auto sel = fn.selector();
    if (calldata.size() < 4 || !std::equal(sel.begin(), sel.end(), calldata.begin()))
        return decode_error_("calldata does not start with the selector of " + fn.signature());
    auto types = types_of(fn.inputs);
    return decode(types, calldata.subspan(4), options);
}

Result<std::vector<Value>> decode_output(const Function& fn, ByteView data, DecodeOptions options) {
    auto types = types_of(fn.outputs);
    return decode(types, data, options);
}

Result<std::vector<Value>> decode_error(const ErrorDef& error, ByteView data, DecodeOptions options) {
    auto sel = error.selector();
    if (data.size() < 4 || !std::equal(sel.begin(), sel.end(), data.begin()))
        return decode_error_("data does not start with the selector of " + error.signature());
    auto types = types_of(error.inputs);
    return decode(types, data.subspan(4), options);
}

Result<DecodedLog> decode_log(const Event& event, std::span<const Hash32> topics, ByteView data,
                              DecodeOptions options) {
    std::size_t t = 0;
    if (!event.anonymous) {
        if (topics.empty() || topics[0] != event.topic0())
            return decode_error_("log's first topic is not the topic of " + event.signature());
        t = 1;
    }
    std::size_t n_indexed = 0;
    std::vector<Type> body_types;
    for (auto& p : event.inputs) {
        if (p.indexed) ++n_indexed;
        else body_types.push_back(p.type);
    }
    if (topics.size() != t + n_indexed)
        return decode_error_("log has " + std::to_string(topics.size()) + " topics, event " + event.signature() +
                             " needs " + std::to_string(t + n_indexed));
    auto body = ZP_TRY(decode(body_types, data, options));
    DecodedLog out;
    std::size_t b = 0;
    for (auto& p : event.inputs) {
        if (!p.indexed) {
            out.values.push_back(std::move(body[b++]));
            out.hashed.push_back(false);
            continue;
        }
        const Hash32& topic = topics[t++];
        bool word_type = !p.type.is_dynamic() && p.type.kind != Kind::tuple && p.type.kind != Kind::fixed_array;
        if (word_type) {
            Decoder d{options};
            Cursor c{topic.view(), 0};
            out.values.push_back(ZP_TRY(d.value(p.type, c)));
            out.hashed.push_back(false);
        } else {
            out.values.push_back(Value::fixed_bytes(topic.view()));
            out.hashed.push_back(true);
        }
    }
    return out;
}

namespace {
// Solidity's encoding of an indexed dynamic value before hashing: values in place, each
// element padded to 32 bytes, no lengths or offsets (docs: "Encoding of Indexed Event Parameters").
void topic_preimage(const Type& t, const Value& v, Bytes& out) {
    switch (t.kind) {
        case Kind::bytes:
        case Kind::string:
            out.insert(out.end(), v.data.begin(), v.data.end());  // padded by the caller when nested
            return;
        case Kind::array:
        case Kind::fixed_array:
            for (auto& item : v.items) {
                auto before = out.size();
                topic_preimage(t.inner[0], item, out);
                if (t.inner[0].kind == Kind::bytes || t.inner[0].kind == Kind::string)
                    out.resize(before + (out.size() - before + 31) / 32 * 32, 0);
            }
            return;
        case Kind::tuple:
            for (std::size_t i = 0; i < t.inner.size(); ++i) {
                auto before = out.size();
                topic_preimage(t.inner[i], v.items[i], out);
                if (t.inner[i].kind == Kind::bytes || t.inner[i].kind == Kind::string)
                    out.resize(before + (out.size() - before + 31) / 32 * 32, 0);
            }
            return;
        default: encode_value(t, v, out); return;
    }
}
}  // namespace

Result<std::vector<Hash32>> encode_topics(const Event& event, std::span<const Value> indexed_values) {
    std::vector<Hash32> out;
    if (!event.anonymous) out.push_back(event.topic0());
    std::size_t k = 0;
    for (auto& p : event.inputs) {
        if (!p.indexed) continue;
        if (k >= indexed_values.size()) return value_error("too few values for the indexed inputs");
        const Value& v = indexed_values[k++];
        ZP_CHECK(check_value(p.type, v));
        Bytes enc;
        bool word_type = !p.type.is_dynamic() && p.type.kind != Kind::tuple && p.type.kind != Kind::fixed_array;
        if (word_type) {
            encode_value(p.type, v, enc);
            out.push_back(fixed_from<32>(enc));
        } else {
            topic_preimage(p.type, v, enc);
            out.push_back(keccak256(ByteView{enc}));
        }
    }
    if (k != indexed_values.size()) return value_error("too many values for the indexed inputs");
    return out;
}

std::optional<std::string> decode_builtin_revert(ByteView data) {
    static const Function error_fn{"Error", {{"", Type::string(), false}}, {}};
    static const Function panic_fn{"Panic", {{"", Type::uint_(), false}}, {}};
    if (auto v = decode_call(error_fn, data, {.strict = false})) return std::string{(*v)[0].as_string()};
    if (auto v = decode_call(panic_fn, data, {.strict = false})) {
        const u256& code = (*v)[0].number;
        std::string what;
        if (code == 0x01) what = "assertion failed";
        else if (code == 0x11) what = "arithmetic overflow or underflow";
        else if (code == 0x12) what = "division or modulo by zero";
        else if (code == 0x21) what = "invalid enum value";
        else if (code == 0x22) what = "invalid storage byte array";
        else if (code == 0x31) what = "pop on empty array";
        else if (code == 0x32) what = "array index out of bounds";
        else if (code == 0x41) what = "out of memory";
        else if (code == 0x51) what = "call to invalid internal function";
        else what = "unknown panic code";
        return "panic " + to_hex_quantity(code) + " (" + what + ")";
    }
    return std::nullopt;
}

}  // namespace zeppelin::eth::abi
