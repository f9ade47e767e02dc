#include "zeppelin/core/hex.hpp"

namespace zeppelin {
namespace {
constexpr char kDigits[] = "0123456789abcdef";

int nibble(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string_view strip_0x(std::string_view s) noexcept {
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    return s;
}

std::string to_hex(ByteView data, bool prefix) {
    std::string out;
    out.reserve(data.size() * 2 + 2);
    if (prefix) out += "0x";
    for (auto b : data) {
        out += kDigits[b >> 4];
        out += kDigits[b & 0xf];
    }
    return out;
}

bool is_hex(std::string_view s) noexcept {
    s = strip_0x(s);
    for (char c : s)
        if (nibble(c) < 0) return false;
    return true;
}

Result<Bytes> from_hex(std::string_view hex) {
    auto s = strip_0x(hex);
    if (s.size() % 2 != 0) return Error{Errc::invalid_hex, "odd number of hex digits in \"" + std::string{hex} + "\""};
    Bytes out(s.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(s[2 * i]);
        int lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return Error{Errc::invalid_hex, "invalid hex character in \"" + std::string{hex} + "\""};
        out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return out;
}

}  // namespace zeppelin
