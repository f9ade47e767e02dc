// Hex encoding. Decoders come in two forms (evmc's habit): a noexcept check and a
// Result-returning parser.
#pragma once

#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin {

/// Lower-case hex, "0x"-prefixed unless prefix is false.
std::string to_hex(ByteView data, bool prefix = true);

template <std::size_t N>
std::string to_hex(const FixedBytes<N>& b, bool prefix = true) {
    return to_hex(b.view(), prefix);
}

/// Parses hex with or without "0x"; an even number of digits is required.
Result<Bytes> from_hex(std::string_view hex);

/// Parses exactly N bytes of hex (with or without "0x").
template <std::size_t N>
Result<FixedBytes<N>> fixed_from_hex(std::string_view hex) {
    auto b = ZP_TRY(from_hex(hex));
    if (b.size() != N)
        return Error{Errc::invalid_hex, "expected " + std::to_string(N) + " bytes of hex, got " +
                                            std::to_string(b.size())};
    return fixed_from<N>(b);
}

bool is_hex(std::string_view s) noexcept;  // 0x-prefixed or not, even or odd length, digits only

/// Strips a leading "0x"/"0X" if present.
std::string_view strip_0x(std::string_view s) noexcept;

}  // namespace zeppelin
