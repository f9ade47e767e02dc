// Byte containers shared by every component.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zeppelin {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// A fixed-size byte string (bytes32, address, ...), value-semantic and ordered.
template <std::size_t N>
struct FixedBytes {
    std::array<std::uint8_t, N> bytes{};

    static constexpr std::size_t size() noexcept { return N; }
    std::uint8_t* data() noexcept { return bytes.data(); }
    const std::uint8_t* data() const noexcept { return bytes.data(); }
    auto begin() noexcept { return bytes.begin(); }
    auto end() noexcept { return bytes.end(); }
    auto begin() const noexcept { return bytes.begin(); }
    auto end() const noexcept { return bytes.end(); }
    std::uint8_t& operator[](std::size_t i) noexcept { return bytes[i]; }
    const std::uint8_t& operator[](std::size_t i) const noexcept { return bytes[i]; }
    ByteView view() const noexcept { return {bytes.data(), N}; }
    bool is_zero() const noexcept {
        for (auto b : bytes)
            if (b != 0) return false;
        return true;
    }
    auto operator<=>(const FixedBytes&) const = default;
};

using Address = FixedBytes<20>;
using Hash32 = FixedBytes<32>;

inline Bytes to_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline ByteView as_view(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <std::size_t N>
FixedBytes<N> fixed_from(ByteView v) noexcept {  // copies min(N, v.size()) bytes, left-aligned
    FixedBytes<N> out;
    for (std::size_t i = 0; i < N && i < v.size(); ++i) out.bytes[i] = v[i];
    return out;
}

}  // namespace zeppelin
