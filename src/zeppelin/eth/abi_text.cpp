#include "zeppelin/eth/abi_text.hpp"

#include <array>
#include <cstdint>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi_unicode.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::eth::abi {
namespace {

Error bad(std::string_view text, std::size_t pos, std::string what) {
    return Error{Errc::abi_invalid_value,
                 "cannot parse \"" + std::string{text} + "\" at position " + std::to_string(pos) + ": " + what};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_space0(char c) { return c == ' ' || c == '\t'; }

/// Unicode White_Space, as Rust's str::trim_end uses it. `s` is valid UTF-8 here.
std::string_view trim_end_unicode(std::string_view s) {
    while (!s.empty()) {
        auto n = s.size();
        auto c = static_cast<unsigned char>(s[n - 1]);
        if (c == ' ' || (c >= 0x09 && c <= 0x0d)) {
            s.remove_suffix(1);
            continue;
        }
        // multi-byte whitespace: U+0085 (C2 85), U+00A0 (C2 A0), U+1680 (E1 9A 80),
        // U+2000..200A, U+2028, U+2029, U+202F, U+205F (E2 80/81 xx), U+3000 (E3 80 80)
        auto tail = [&](std::size_t k) { return s.substr(n - k); };
        if (n >= 2 && (tail(2) == "\xC2\x85" || tail(2) == "\xC2\xA0")) {
            s.remove_suffix(2);
            continue;
        }
        if (n >= 3) {
            auto t = tail(3);
            auto b2 = static_cast<unsigned char>(t[2]);
            bool ws = t == "\xE1\x9A\x80" || t == "\xE3\x80\x80" ||
                      (t[0] == '\xE2' && t[1] == '\x80' && ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)) ||
                      t == "\xE2\x81\x9F";
            if (ws) {
                s.remove_suffix(3);
                continue;
            }
        }
        break;
    }
    return s;
}

/// A recursive-descent port of the grammar in abi_text.hpp. Positions are byte offsets.
class ValueParser {
public:
    explicit ValueParser(std::string_view s) : s_{s} {}

    Result<Value> parse_all(const Type& t) {
        auto v = ZP_TRY(value(t, '\0'));
        if (pos_ != s_.size()) return err("unexpected trailing text");
        return v;
    }

private:
    Error err(std::string what) const { return bad(s_, pos_, std::move(what)); }
    char peek(std::size_t k = 0) const { return pos_ + k < s_.size() ? s_[pos_ + k] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    void space0() {
        while (!at_end() && is_space0(s_[pos_])) ++pos_;
    }
    bool consume(char c) {
        if (at_end() || s_[pos_] != c) return false;
        ++pos_;
        return true;
    }
    std::string_view take_while(bool (*pred)(char)) {
        auto start = pos_;
        while (!at_end() && pred(s_[pos_])) ++pos_;
        return s_.substr(start, pos_ - start);
    }

    // list_end: the closing bracket of the innermost list ('\0' at top level).
    Result<Value> value(const Type& t, char list_end) {
        switch (t.kind) {
            case Kind::boolean: {
                auto w = take_while(is_alpha);
                if (w == "true") return Value::boolean(true);
                if (w == "false") return Value::boolean(false);
                return err("expected true or false");
            }
            case Kind::uint_: return Value::uint_(ZP_TRY(uint_(t.size)), t.size);
            case Kind::int_: {
                bool negative = false;
                if (consume('-')) negative = true;
                else consume('+');
                auto abs = ZP_TRY(uint_(t.size));
                if (!negative) {
                    if (abs != 0 && msb(abs) + 1 > t.size - 1) return err("number too large to fit in target type");
                    return Value::int_raw(abs, t.size);
                }
                if (abs > (u256{1} << 255)) return err("number too large to fit in target type");
                return Value::int_raw(u256{0} - abs, t.size);
            }
            case Kind::address: {
                auto hex = ZP_TRY(hex_str());
                if (hex.size() != 40) return err(hex.size() % 2 ? "odd number of digits" : "invalid string length");
                auto b = ZP_TRY(from_hex(hex));
                return Value::address(fixed_from<20>(b));
            }
            case Kind::fixed_bytes: {
                auto hex = ZP_TRY(hex_str());
                if (hex.size() % 2) return err("odd number of digits");
                if (hex.size() != 2 * t.size) return err("invalid string length");
                auto b = ZP_TRY(from_hex(hex));
                return Value::fixed_bytes(b);
            }
            case Kind::bytes: {
                auto hex = ZP_TRY(hex_str());
                if (hex.size() % 2) return err("odd number of digits");
                auto b = ZP_TRY(from_hex(hex));
                return Value::bytes(b);
            }
            case Kind::string: return Value::string(ZP_TRY(string(list_end)));
            case Kind::array: {
                auto items = ZP_TRY(list(t.inner[0]));
                return Value::array(std::move(items));
            }
            case Kind::fixed_array: {
                auto items = ZP_TRY(list(t.inner[0]));
                if (items.size() != t.size)
                    return err("fixed array length mismatch: expected " + std::to_string(t.size) + " elements, got " +
                               std::to_string(items.size()));
                return Value::fixed_array(std::move(items));
            }
            case Kind::tuple: {
                space0();
                if (!consume('(')) return err("expected '('");
                std::vector<Value> items;
                for (std::size_t i = 0; i < t.inner.size(); ++i) {
                    if (i > 0) {
                        space0();
                        if (!consume(',')) return err("expected ','");
                    }
                    space0();
                    items.push_back(ZP_TRY(value(t.inner[i], ')')));
                }
                space0();
                if (!consume(')')) return err("expected ')'");
                return Value::tuple(std::move(items));
            }
        }
        return err("unsupported type");
    }

    /// '[' space0 (elem (',' space0 elem)*)? ','? space0 ']'. An element that fails to parse
    /// ends the list at the position before it (and its separator), as a backtracking parser does.
    Result<std::vector<Value>> list(const Type& elem) {
        if (!consume('[')) return err("expected '['");
        space0();
        std::vector<Value> items;
        std::optional<Error> last_error;
        while (true) {
            auto save = pos_;
            if (!items.empty()) {
                if (!consume(',')) break;
                space0();
            }
            auto v = value(elem, ']');
            if (!v) {
                last_error = std::move(v).error();
                pos_ = save;
                break;
            }
            items.push_back(std::move(*v));
        }
        consume(',');
        space0();
        if (!consume(']')) {
            if (last_error) return *last_error;
            return err("expected ']'");
        }
        return items;
    }

    Result<std::string> string(char list_end) {
        if (at_end()) return std::string{};
        char delim = s_[pos_];
        if (delim == '"' || delim == '\'') {
            ++pos_;
            auto start = pos_;
            while (!at_end() && s_[pos_] != delim) ++pos_;
            auto body = s_.substr(start, pos_ - start);
            if (!consume(delim)) return err("unterminated string");
            return std::string{body};
        }
        if (list_end == '\0') {
            auto body = s_.substr(pos_);
            pos_ = s_.size();
            return std::string{trim_end_unicode(body)};
        }
        auto start = pos_;
        while (!at_end() && s_[pos_] != ',' && s_[pos_] != list_end) ++pos_;
        if (pos_ == start) return err("expected a string");
        return std::string{trim_end_unicode(s_.substr(start, pos_ - start))};
    }

    /// Optional lower-case "0x", then hex digits (possibly none, but then the prefix is required).
    Result<std::string_view> hex_str() {
        bool prefix = peek() == '0' && peek(1) == 'x';
        if (prefix) pos_ += 2;
        auto digits = take_while(is_hex_digit);
        if (!prefix && digits.empty()) return err("expected hex digits or the `0x` prefix for an empty hex string");
        return digits;
    }

    static unsigned msb(const u256& v) { return static_cast<unsigned>(boost::multiprecision::msb(v)); }

    static bool mul_overflows(const u256& a, const u256& b, u256& out) {
        if (a == 0 || b == 0) {
            out = 0;
            return false;
        }
        u512 r = u512{a} * u512{b};
        if (r > u512{~u256{0}}) return true;
        out = static_cast<u256>(r);
        return false;
    }

    static bool pow10(std::size_t e, u256& out) {
        if (e > 77) return false;
        out = 1;
        for (std::size_t i = 0; i < e; ++i) out *= 10;
        return true;
    }

    Result<u256> parse_radix(std::string_view digits, unsigned radix) {
        u256 v = 0;
        for (char c : digits) {
            unsigned d = is_digit(c) ? static_cast<unsigned>(c - '0')
                                     : static_cast<unsigned>((c | 0x20) - 'a' + 10);
            if (d >= radix) return err("invalid digit for the number's base");
            u256 next;
            if (mul_overflows(v, radix, next)) return err("number too large to fit in target type");
            v = next + d;
            if (v < next) return err("number too large to fit in target type");
        }
        return v;
    }

    /// literal [.fraction] [e exp] space0 [unit], checked against `bits`.
    Result<u256> uint_(unsigned bits) {
        u256 intpart;
        char p1 = static_cast<char>(peek(1) | 0x20);
        if (peek() == '0' && (p1 == 'x' || p1 == 'o' || p1 == 'b')) {
            pos_ += 2;
            auto digits = take_while(is_hex_digit);
            if (digits.empty()) return err("expected at least one digit");
            intpart = ZP_TRY(parse_radix(digits, p1 == 'x' ? 16 : p1 == 'o' ? 8 : 2));
        } else {
            auto digits = take_while(is_digit);
            if (digits.empty()) return err("expected at least one digit");
            intpart = ZP_TRY(parse_radix(digits, 10));
        }
        std::string_view fract;
        bool has_fract = false;
        if (consume('.')) {
            fract = take_while(is_digit);
            if (fract.empty()) return err("expected at least one digit after '.'");
            has_fract = true;
        }
        long long exp = 0;
        if (peek() == 'e' || peek() == 'E') {
            auto save = pos_;
            ++pos_;
            bool neg = false;
            if (consume('-')) neg = true;
            else consume('+');
            auto digits = take_while(is_digit);
            bool ok = !digits.empty() && digits.size() <= 18;
            if (ok) {
                long long e = 0;
                for (char c : digits) e = e * 10 + (c - '0');
                exp = neg ? -e : e;
            } else {
                pos_ = save;
            }
        }
        space0();
        auto unit = take_while(is_alpha);
        long long units = 0;
        if (unit == "ether") units = 18;
        else if (unit == "gwei" || unit == "nano" || unit == "nanoether") units = 9;
        else if (unit.empty() || unit == "wei") units = 0;
        else return err("unknown unit '" + std::string{unit} + "'");
        units += exp;
        if (units < 0) return err("negative units not allowed");
        auto u = static_cast<std::size_t>(units);
        u256 result;
        if (has_fract) {
            // the fraction as an integer (it may have leading zeros)
            u256 fract_v = ZP_TRY(parse_radix(fract, 10));
            if (u == 0 && fract_v != 0) return err("non-zero fraction not allowed");
            if (fract.size() > u)
                return err("expected at most " + std::to_string(u) + " decimals, got " + std::to_string(fract.size()));
            u256 ext, scaled, unit_mul;
            if (!pow10(fract.size(), ext) || mul_overflows(intpart, ext, scaled))
                return err("number too large to fit in target type");
            u256 sum = scaled + fract_v;
            if (sum < scaled) return err("number too large to fit in target type");
            if (!pow10(u - fract.size(), unit_mul) || mul_overflows(sum, unit_mul, result))
                return err("number too large to fit in target type");
        } else if (u > 0) {
            u256 unit_mul;
            if (!pow10(u, unit_mul) || mul_overflows(intpart, unit_mul, result))
                return err("number too large to fit in target type");
        } else {
            result = intpart;
        }
        if (result != 0 && msb(result) + 1 > bits) return err("number too large to fit in target type");
        return result;
    }

    std::string_view s_;
    std::size_t pos_{0};
};

// ---- printing -------------------------------------------------------------------------

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace

Result<Value> parse_value(const Type& type, std::string_view text) {
    ValueParser p{text};
    return p.parse_all(type);
}

std::string format_uint_exp(const u256& v, bool negative) {
    std::string digits = to_dec(v);
    std::string sign = negative ? "-" : "";
    if (v < 10000) return sign + digits;
    std::string mantissa = digits.substr(0, 4);
    while (!mantissa.empty() && mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.size() > 1) mantissa.insert(1, ".");
    return sign + digits + " [" + sign + mantissa + "e" + std::to_string(digits.size() - 1) + "]";
}

std::string rust_debug_string(std::string_view bytes) {
    std::string out = "\"";
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(bytes[k]); };
    while (i < bytes.size()) {
        std::uint8_t b0 = byte(i);
        std::uint32_t cp = 0;
        std::size_t len = 1;
        bool valid = true;
        if (b0 < 0x80) {
            cp = b0;
        } else {
            // expected length and the allowed range of the second byte (RFC 3629 table)
            std::uint8_t lo = 0x80, hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
            else if (b0 >= 0xE0 && b0 <= 0xEF) {
                len = 3;
                if (b0 == 0xE0) lo = 0xA0;
                if (b0 == 0xED) hi = 0x9F;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                len = 4;
                if (b0 == 0xF0) lo = 0x90;
                if (b0 == 0xF4) hi = 0x8F;
            } else {
                valid = false;
            }
            if (valid) {
                cp = b0 & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
                std::size_t k = 1;
                for (; k < len; ++k) {
                    if (i + k >= bytes.size()) break;
                    std::uint8_t b = byte(i + k);
                    std::uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
                    if (b < l || b > h) break;
                    cp = (cp << 6) | (b & 0x3Fu);
                }
                if (k < len) {
                    valid = false;
                    len = k;  // one U+FFFD for the maximal valid prefix
                }
            }
        }
        i += len;
        if (!valid) {
            out += "\xEF\xBF\xBD";
            continue;
        }
        switch (cp) {
            case '\0': out += "\\0"; continue;
            case '\t': out += "\\t"; continue;
            case '\r': out += "\\r"; continue;
            case '\n': out += "\\n"; continue;
            case '\\': out += "\\\\"; continue;
            case '"': out += "\\\""; continue;
            default: break;
        }
        if (rust_debug_escapes(cp)) {
            static constexpr char kHex[] = "0123456789abcdef";
            std::string h;
            for (std::uint32_t x = cp; x != 0 || h.empty(); x >>= 4) h.insert(h.begin(), kHex[x & 0xF]);
            out += "\\u{" + h + "}";
        } else {
            append_utf8(out, cp);
        }
    }
    out += '"';
    return out;
}

std::string format_value(const Value& v) {
    switch (v.kind) {
        case Kind::uint_: return format_uint_exp(v.number);
        case Kind::int_: {
            bool neg = v.is_negative();
            return format_uint_exp(neg ? u256{0} - v.number : v.number, neg);
        }
        case Kind::boolean: return v.as_bool() ? "true" : "false";
        case Kind::address: return to_checksum(v.as_address());
        case Kind::fixed_bytes:
        case Kind::bytes: return to_hex(v.data);
        case Kind::string: return rust_debug_string(v.as_string());
        case Kind::array:
        case Kind::fixed_array:
        case Kind::tuple: {
            bool tuple = v.kind == Kind::tuple;
            std::string s = tuple ? "(" : "[";
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                if (i) s += ", ";
                s += format_value(v.items[i]);
            }
            return s + (tuple ? ")" : "]");
        }
    }
    return {};
}

}  // namespace zeppelin::eth::abi
