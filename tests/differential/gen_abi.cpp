// abi-encode / calldata: random signatures (nested tuples and arrays, optional names, odd
// spacing, uint/int aliases, "tuple(...)") with random values written in the many forms cast
// accepts (decimal, hex, units, exponents, quoted and unquoted strings).
// abi-decode: random values encoded by zeppelin's encoder, decoded by both tools (outputs or
// --input), plus corrupted encodings (dirty words, truncation, random bytes) where the two
// must still agree on success and output.
#include "diff_harness.hpp"

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::diff {
namespace {

namespace abi = eth::abi;
using abi::Kind;
using abi::Type;
using abi::Value;

Type random_type(Rng& rng, std::size_t depth) {
    auto r = rng.range(0, depth >= 3 ? 6 : 9);
    switch (r) {
        case 0: return Type::uint_(static_cast<unsigned>(8 * rng.range(1, 32)));
        case 1: return Type::int_(static_cast<unsigned>(8 * rng.range(1, 32)));
        case 2: return Type::address();
        case 3: return Type::boolean();
        case 4: return Type::fixed_bytes(static_cast<unsigned>(rng.range(1, 32)));
        case 5: return Type::bytes();
        case 6: return Type::string();
        case 7: return Type::array(random_type(rng, depth + 1));
        case 8: return Type::fixed_array(random_type(rng, depth + 1), static_cast<unsigned>(rng.range(1, 3)));
        default: {
            std::vector<Type> comps;
            auto n = rng.range(1, 3);
            for (std::size_t i = 0; i < n; ++i) comps.push_back(random_type(rng, depth + 1));
            return Type::tuple(std::move(comps));
        }
    }
}

/// The type as written in a signature, with cast-accepted variations.
std::string type_text(Rng& rng, const Type& t) {
    switch (t.kind) {
        case Kind::uint_: return t.size == 256 && rng.chance(0.3) ? "uint" : "uint" + std::to_string(t.size);
        case Kind::int_: return t.size == 256 && rng.chance(0.3) ? "int" : "int" + std::to_string(t.size);
        case Kind::array: return type_text(rng, t.inner[0]) + "[]";
        case Kind::fixed_array: return type_text(rng, t.inner[0]) + "[" + std::to_string(t.size) + "]";
        case Kind::tuple: {
            std::string s = rng.chance(0.1) ? "tuple(" : "(";
            for (std::size_t i = 0; i < t.inner.size(); ++i) {
                if (i) s += rng.chance(0.2) ? ", " : ",";
                s += type_text(rng, t.inner[i]);
            }
            return s + ")";
        }
        default: return t.canonical();
    }
}

std::string random_ident(Rng& rng) {
    static const std::string first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$";
    static const std::string rest = first + "0123456789";
    std::string s(1, first[rng.range(0, first.size() - 1)]);
    auto n = rng.range(0, 8);
    for (std::size_t i = 0; i < n; ++i) s += rest[rng.range(0, rest.size() - 1)];
    // avoid keywords the signature parsers treat specially
    for (auto kw : {"returns", "memory", "calldata", "storage", "indexed", "tuple", "function", "anonymous", "view",
                    "pure", "payable", "external", "public", "internal", "private", "nonpayable", "constructor",
                    "event", "error"})
        if (s == kw) s += "_";
    return s;
}

std::string signature(Rng& rng, const std::string& name, const std::vector<Type>& types) {
    std::string s = name + (rng.chance(0.1) ? " (" : "(");
    for (std::size_t i = 0; i < types.size(); ++i) {
        if (i) s += rng.chance(0.3) ? ", " : ",";
        s += type_text(rng, types[i]);
        if (rng.chance(0.2)) {
            // a parameter name that parses as a type would be ambiguous; keep it clearly a name
            auto n = "p" + random_ident(rng);
            if (n == "payable" || n == "public" || n == "private" || n == "pure") n += "_";
            s += " " + n;
        }
    }
    return s + ")";
}

// ---- values ----

u256 random_bits(Rng& rng, unsigned bits) {
    if (bits == 0) return 0;
    u256 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 64) | rng.next();
    unsigned keep = static_cast<unsigned>(rng.range(0, bits));
    if (rng.chance(0.1)) keep = bits;
    if (keep == 0) return 0;
    if (keep < 256) v &= (u256{1} << keep) - 1;
    return v;
}

const std::vector<std::string>& string_atoms() {
    static const std::vector<std::string> atoms{
        "a", "b", "z", "Q", "0", "7", " ", "_", "-", ".", ":", "!", "?", "#", "@", "%", "&", "*", "+", "=", "/",
        "{", "}", "<", ">", "~", "^", "|", ";", "\\", "\"", "'", ",", "]", ")", "(", "[", "\t", "\n",
        "\xC3\xA9", "\xC3\xBC", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC2\xA0", "\xE2\x80\x8B", "\xCC\x81", "\xEF\xBF\xBD"};
    return atoms;
}

std::string random_string(Rng& rng, std::size_t max_len) {
    std::string s;
    auto n = rng.range(0, max_len);
    for (std::size_t i = 0; i < n; ++i) s += rng.pick(string_atoms());
    return s;
}

/// Any bytes: random code points from the whole Unicode range, and invalid UTF-8.
std::string wild_string(Rng& rng) {
    std::string s;
    auto n = rng.range(0, 10);
    for (std::size_t i = 0; i < n; ++i) {
        auto r = rng.range(0, 3);
        if (r == 0) {
            s += static_cast<char>(rng.next() & 0xff);  // often invalid UTF-8
            continue;
        }
        std::uint32_t cp = r == 1 ? static_cast<std::uint32_t>(rng.range(0, 0x7ff))
                                  : static_cast<std::uint32_t>(rng.range(0x800, 0x10ffff));
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else if (cp < 0x800) {
            s += static_cast<char>(0xc0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xe0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            s += static_cast<char>(0xf0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    return s;
}

// wild: strings may hold any bytes (only for data that is not passed as a command-line argument)
Value random_value(Rng& rng, const Type& t, bool wild = false) {
    switch (t.kind) {
        case Kind::uint_: return Value::uint_(random_bits(rng, t.size), t.size);
        case Kind::int_: {
            u256 mag = random_bits(rng, t.size - 1);
            bool neg = rng.chance(0.5);
            if (neg && rng.chance(0.05)) mag = u256{1} << (t.size - 1);  // the minimum
            return Value::int_raw(neg ? u256{0} - mag : mag, t.size);
        }
        case Kind::address: {
            auto b = rng.bytes(20);
            return Value::address(fixed_from<20>(as_view(b)));
        }
        case Kind::boolean: return Value::boolean(rng.chance(0.5));
        case Kind::fixed_bytes: return Value::fixed_bytes(as_view(rng.bytes(t.size)));
        case Kind::bytes: return Value::bytes(as_view(rng.bytes(rng.chance(0.2) ? 0 : rng.range(0, 70))));
        case Kind::string: return Value::string(wild && rng.chance(0.5) ? wild_string(rng) : random_string(rng, 12));
        case Kind::array:
        case Kind::fixed_array: {
            std::vector<Value> items;
            auto n = t.kind == Kind::array ? rng.range(0, 3) : t.size;
            for (std::size_t i = 0; i < n; ++i) items.push_back(random_value(rng, t.inner[0], wild));
            return t.kind == Kind::array ? Value::array(std::move(items)) : Value::fixed_array(std::move(items));
        }
        case Kind::tuple: {
            std::vector<Value> items;
            for (auto& c : t.inner) items.push_back(random_value(rng, c, wild));
            return Value::tuple(std::move(items));
        }
    }
    return {};
}

std::string mixed_case_hex(Rng& rng, std::string h) {
    if (rng.chance(0.2))
        for (auto& c : h)
            if (c >= 'a' && rng.chance(0.5)) c = static_cast<char>(c - 32);
    return h;
}

/// An unsigned magnitude in one of the forms cast accepts.
std::string number_text(Rng& rng, const u256& v) {
    auto dec = to_dec(v);
    auto r = rng.range(0, 9);
    if (r <= 1 && v != 0) {  // hex
        auto h = to_hex_quantity(v).substr(2);
        return std::string{rng.chance(0.8) ? "0x" : "0X"} + mixed_case_hex(rng, h);
    }
    if (r == 2) {  // trailing zeros as units or an exponent
        std::size_t zeros = 0;
        while (zeros < dec.size() - 1 && dec[dec.size() - 1 - zeros] == '0') ++zeros;
        if (zeros >= 18 && rng.chance(0.5)) return dec.substr(0, dec.size() - 18) + (rng.chance(0.5) ? " ether" : "ether");
        if (zeros >= 9) return dec.substr(0, dec.size() - 9) + (rng.chance(0.5) ? "gwei" : " gwei");
        if (zeros >= 1) return dec.substr(0, dec.size() - zeros) + "e" + std::to_string(zeros);
    }
    if (r == 3 && dec.size() > 9) {  // a fraction of gwei / ether
        std::size_t unit = dec.size() > 18 && rng.chance(0.5) ? 18 : 9;
        auto ip = dec.substr(0, dec.size() - unit), fp = dec.substr(dec.size() - unit);
        while (!fp.empty() && fp.back() == '0') fp.pop_back();
        if (!fp.empty()) return ip + "." + fp + (unit == 18 ? "ether" : "gwei");
    }
    if (r == 4 && v < 1000) return dec + (rng.chance(0.5) ? "wei" : " wei");
    return dec;
}

std::string hex_body(std::span<const std::uint8_t> b) { return to_hex(b, false); }

/// Text for a string value inside a list (terminated by ',' or `close`) or at the top level.
std::string string_text(Rng& rng, const std::string& s, bool nested) {
    bool has_dq = s.find('"') != std::string::npos, has_sq = s.find('\'') != std::string::npos;
    if (!nested) {
        // top level: the whole argument; quotes only if the string has no quote of that kind
        if (s.empty()) return s;
        char c0 = s[0];
        bool needs_quotes = c0 == '"' || c0 == '\'' || c0 == '-';
        if (!needs_quotes && !(rng.chance(0.2) && !has_dq)) return s;
        if (!has_dq) return "\"" + s + "\"";
        if (!has_sq) return "'" + s + "'";
        return "x" + s;
    }
    bool plain_ok = !s.empty() && s.find_first_of(",])\"'") == std::string::npos && s[0] != ' ' && s[0] != '\t';
    if (plain_ok && rng.chance(0.5)) return s;
    if (!has_dq) return "\"" + s + "\"";
    if (!has_sq) return "'" + s + "'";
    return "\"\"";  // cannot be written; use an empty string (the case still compares both tools)
}

std::string value_text(Rng& rng, const Type& t, const Value& v, bool nested) {
    switch (t.kind) {
        case Kind::uint_: return number_text(rng, v.number);
        case Kind::int_: {
            if (v.is_negative()) return "-" + number_text(rng, u256{0} - v.number);
            return (rng.chance(0.1) ? "+" : "") + number_text(rng, v.number);
        }
        case Kind::address: return (rng.chance(0.8) ? "0x" : "") + mixed_case_hex(rng, hex_body(v.data));
        case Kind::boolean: return v.as_bool() ? "true" : "false";
        case Kind::fixed_bytes: return (rng.chance(0.8) ? "0x" : "") + mixed_case_hex(rng, hex_body(v.data));
        case Kind::bytes: return "0x" + mixed_case_hex(rng, hex_body(v.data));
        case Kind::string: return string_text(rng, std::string{v.as_string()}, nested);
        case Kind::array:
        case Kind::fixed_array:
        case Kind::tuple: {
            bool tuple = t.kind == Kind::tuple;
            std::string s = tuple ? "(" : "[";
            if (rng.chance(0.1)) s += ' ';
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                if (i) s += rng.chance(0.3) ? ", " : ",";
                s += value_text(rng, tuple ? t.inner[i] : t.inner[0], v.items[i], true);
            }
            if (!tuple && !v.items.empty() && rng.chance(0.1)) s += ",";  // trailing comma
            return s + (tuple ? ")" : "]");
        }
    }
    return {};
}

/// Strings written as "" by string_text are not the generated value; patch the value so the
/// generated text and value agree (only matters for choosing must_succeed).
std::vector<Type> random_types(Rng& rng) {
    std::vector<Type> types;
    auto n = rng.chance(0.05) ? 0 : rng.range(1, 4);
    for (std::size_t i = 0; i < n; ++i) types.push_back(random_type(rng, 0));
    return types;
}

std::vector<Case> gen_encode(Rng& rng, std::size_t n, const char* cmd) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        auto types = random_types(rng);
        std::vector<std::string> args{signature(rng, random_ident(rng), types)};
        for (auto& t : types) args.push_back(value_text(rng, t, random_value(rng, t), false));
        out.push_back(util_case(cmd, std::move(args), true));
    }
    return out;
}

std::vector<Case> gen_abi_encode(Rng& rng, std::size_t n) { return gen_encode(rng, n, "abi-encode"); }
std::vector<Case> gen_calldata(Rng& rng, std::size_t n) { return gen_encode(rng, n, "calldata"); }

void corrupt(Rng& rng, Bytes& data) {
    if (data.empty()) return;
    switch (rng.range(0, 3)) {
        case 0: data.resize(rng.range(0, data.size() - 1)); break;                           // truncate
        case 1: data[rng.range(0, data.size() - 1)] = static_cast<std::uint8_t>(rng.next()); break;  // any byte
        case 2: {  // a dirty high byte in some word
            auto w = rng.range(0, (data.size() - 1) / 32);
            auto pos = w * 32 + rng.range(0, 3);
            if (pos < data.size()) data[pos] = static_cast<std::uint8_t>(rng.range(1, 255));
            break;
        }
        default: data.push_back(static_cast<std::uint8_t>(rng.next())); break;  // trailing byte
    }
}

std::vector<Case> gen_abi_decode(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        auto types = random_types(rng);
        if (types.empty()) types.push_back(random_type(rng, 0));
        std::vector<Value> values;
        for (auto& t : types) values.push_back(random_value(rng, t, true));
        auto data = abi::encode(types, values).value();
        bool valid = true;
        if (rng.chance(0.15)) {
            corrupt(rng, data);
            valid = false;
        }
        auto name = random_ident(rng);
        bool input = rng.chance(0.4);
        std::string sig = input ? signature(rng, name, types) : name + "()" + signature(rng, "", types);
        std::vector<std::string> args;
        if (input) args.push_back(rng.chance(0.5) ? "--input" : "-i");
        args.push_back(sig);
        args.push_back(to_hex(data, !rng.chance(0.1)));
        out.push_back(util_case("abi-decode", std::move(args), valid));
    }
    return out;
}

}  // namespace

ZEPPELIN_DIFF_GENERATOR(abi_encode, 1.5, gen_abi_encode);
ZEPPELIN_DIFF_GENERATOR(calldata, 1.0, gen_calldata);
ZEPPELIN_DIFF_GENERATOR(abi_decode, 2.0, gen_abi_decode);

}  // namespace zeppelin::diff
