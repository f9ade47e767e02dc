#include "zeppelin/eth/revert.hpp"

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::eth {

namespace {

std::uint32_t selector_of(ByteView data) {
    return (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) | (std::uint32_t{data[2]} << 8) |
           std::uint32_t{data[3]};
}

// Reads a 32-byte word at `pos` as a size, if it fits in size_t and pos+32 <= size.
std::optional<std::size_t> word_as_size(ByteView data, std::size_t pos) {
    if (data.size() < pos || data.size() - pos < 32) return std::nullopt;
    for (std::size_t i = 0; i < 24; ++i)
        if (data[pos + i] != 0) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 24; i < 32; ++i) v = (v << 8) | data[pos + i];
    if (v > (std::uint64_t{1} << 40)) return std::nullopt;
    return static_cast<std::size_t>(v);
}

// Control characters and bytes that are not printable ASCII/UTF-8 shown as \xNN, so a hostile
// contract cannot put terminal escapes into our messages.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    constexpr char kHex[] = "0123456789abcdef";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string signed_dec(const u256& twos) {
    if (!bit_test(twos, 255)) return to_dec(twos);
    u256 mag = ~twos + 1;
    return "-" + to_dec(mag);
}

}  // namespace

std::optional<std::string> decode_error_string(ByteView data) {
    if (data.size() < 4 + 64 || selector_of(data) != kErrorStringSelector) return std::nullopt;
    ByteView body = data.subspan(4);
    auto offset = word_as_size(body, 0);
    if (!offset) return std::nullopt;
    auto length = word_as_size(body, *offset);
    if (!length) return std::nullopt;
    const std::size_t start = *offset + 32;
    if (body.size() < start || body.size() - start < *length) return std::nullopt;
    return std::string{reinterpret_cast<const char*>(body.data() + start), *length};
}

std::optional<u256> decode_panic_code(ByteView data) {
    if (data.size() != 4 + 32 || selector_of(data) != kPanicSelector) return std::nullopt;
    auto v = from_be(data.subspan(4));
    if (!v) return std::nullopt;
    return *v;
}

std::string_view panic_meaning(const u256& code) {
    if (code > 0xff) return "unknown panic code";
    switch (static_cast<unsigned>(code)) {
        case 0x00: return "generic compiler panic";
        case 0x01: return "assertion failed";
        case 0x11: return "arithmetic underflow or overflow";
        case 0x12: return "division or modulo by zero";
        case 0x21: return "conversion to an invalid enum value";
        case 0x22: return "incorrectly encoded storage byte array";
        case 0x31: return "pop() on an empty array";
        case 0x32: return "array index out of bounds";
        case 0x41: return "too much memory allocated";
        case 0x51: return "call to a zero-initialized internal function";
        default: return "unknown panic code";
    }
}

Result<void> RevertDecoder::add_signature(std::string_view signature) {
    auto def = abi::parse_error(signature);
    if (!def) return def.error().wrap("cannot parse error signature \"" + std::string{signature} + "\"");
    add(std::move(*def));
    return {};
}

Result<void> RevertDecoder::add_json_abi(std::string_view json) {
    auto parsed = ZP_TRY(abi::parse_json_abi(json));
    for (auto& e : parsed.errors) add(std::move(e));
    return {};
}

void RevertDecoder::add(abi::ErrorDef def) {
    for (const auto& e : errors_)
        if (e.selector() == def.selector()) return;
    errors_.push_back(std::move(def));
}

Revert RevertDecoder::decode(ByteView data) const {
    Revert r;
    r.data = to_bytes(data);
    if (data.empty()) {
        r.kind = Revert::Kind::empty;
        r.text = "no reason given (empty revert data)";
        return r;
    }
    if (auto reason = decode_error_string(data)) {
        r.kind = Revert::Kind::error_string;
        r.reason = std::move(*reason);
        r.text = printable(r.reason);
        return r;
    }
    if (auto code = decode_panic_code(data)) {
        r.kind = Revert::Kind::panic;
        r.panic_code = *code;
        r.text = "panic " + to_hex_quantity(*code) + " (" + std::string{panic_meaning(*code)} + ")";
        return r;
    }
    if (data.size() >= 4) {
        for (const auto& def : errors_) {
            const auto sel = def.selector();
            if (!std::equal(sel.begin(), sel.end(), data.begin())) continue;
            auto args = abi::decode_error(def, data, abi::DecodeOptions{.strict = false, .max_values = 4096});
            if (!args) break;
            r.kind = Revert::Kind::custom;
            r.error_name = def.name;
            r.args = std::move(*args);
            std::string text = def.name + "(";
            for (std::size_t i = 0; i < r.args.size(); ++i) {
                if (i) text += ", ";
                if (i < def.inputs.size() && !def.inputs[i].name.empty()) text += def.inputs[i].name + ": ";
                text += format_abi_value(r.args[i]);
            }
            text += ")";
            r.text = printable(text);
            return r;
        }
        r.kind = Revert::Kind::unknown;
        r.text = "custom error " + to_hex(data.first(4)) + " (not a known error; data " + to_hex(data) + ")";
        return r;
    }
    r.kind = Revert::Kind::unknown;
    r.text = "unrecognized revert data " + to_hex(data);
    return r;
}

std::string format_abi_value(const abi::Value& v) {
    switch (v.kind) {
        case abi::Kind::uint_: return to_dec(v.number);
        case abi::Kind::int_: return signed_dec(v.number);
        case abi::Kind::boolean: return v.as_bool() ? "true" : "false";
        case abi::Kind::address: return to_checksum(v.as_address());
        case abi::Kind::fixed_bytes:
        case abi::Kind::bytes: return to_hex(v.data);
        case abi::Kind::string: return "\"" + std::string{v.as_string()} + "\"";
        case abi::Kind::array:
        case abi::Kind::fixed_array:
        case abi::Kind::tuple: {
            const bool tuple = v.kind == abi::Kind::tuple;
            std::string out = tuple ? "(" : "[";
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                if (i) out += ", ";
                out += format_abi_value(v.items[i]);
            }
            out += tuple ? ")" : "]";
            return out;
        }
    }
    return "?";
}

}  // namespace zeppelin::eth
