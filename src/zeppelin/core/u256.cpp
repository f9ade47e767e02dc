#include "zeppelin/core/u256.hpp"

#include "zeppelin/core/hex.hpp"

namespace zeppelin {

Hash32 to_be32(const u256& v) noexcept {
    Hash32 out;
    u256 x = v;
    for (int i = 31; i >= 0; --i) {
        out.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(x & 0xff);
        x >>= 8;
    }
    return out;
}

Bytes to_be_minimal(const u256& v) {
    auto full = to_be32(v);
    std::size_t i = 0;
    while (i < 32 && full.bytes[i] == 0) ++i;
    return Bytes(full.bytes.begin() + static_cast<std::ptrdiff_t>(i), full.bytes.end());
}

Result<u256> from_be(ByteView bytes) {
    if (bytes.size() > 32) return Error{Errc::overflow, "integer longer than 32 bytes"};
    u256 v = 0;
    for (auto b : bytes) v = (v << 8) | b;
    return v;
}

Result<u256> parse_u256(std::string_view s) {
    if (s.empty()) return Error{Errc::invalid_argument, "empty number"};
    u256 v = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        auto digits = s.substr(2);
        // Skip leading zeros, then at most 64 significant digits.
        std::size_t i = 0;
        while (i < digits.size() && digits[i] == '0') ++i;
        if (digits.size() - i > 64) return Error{Errc::overflow, "number does not fit in 256 bits: " + std::string{s}};
        for (char c : digits) {
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else return Error{Errc::invalid_argument, "invalid hex number: " + std::string{s}};
            v = (v << 4) | static_cast<unsigned>(d);
        }
        return v;
    }
    const u256 max = ~u256{0};
    for (char c : s) {
        if (c < '0' || c > '9') return Error{Errc::invalid_argument, "invalid number: " + std::string{s}};
        auto d = static_cast<unsigned>(c - '0');
        if (v > (max - d) / 10) return Error{Errc::overflow, "number does not fit in 256 bits: " + std::string{s}};
        v = v * 10 + d;
    }
    return v;
}

std::string to_dec(const u256& v) { return v.str(); }

std::string to_hex_quantity(const u256& v) {
    if (v == 0) return "0x0";
    auto h = to_hex(to_be_minimal(v), false);
    if (h[0] == '0') h.erase(0, 1);
    return "0x" + h;
}

Result<u256> checked_add(const u256& a, const u256& b) {
    u256 r = a + b;
    if (r < a) return Error{Errc::overflow, "u256 addition overflow"};
    return r;
}

Result<u256> checked_mul(const u256& a, const u256& b) {
    if (a == 0 || b == 0) return u256{0};
    u512 r = u512{a} * u512{b};
    if (r > u512{~u256{0}}) return Error{Errc::overflow, "u256 multiplication overflow"};
    return static_cast<u256>(r);
}

Result<std::uint64_t> to_u64(const u256& v) {
    if (v > std::numeric_limits<std::uint64_t>::max()) return Error{Errc::overflow, "value does not fit in 64 bits: " + v.str()};
    return static_cast<std::uint64_t>(v);
}

}  // namespace zeppelin
