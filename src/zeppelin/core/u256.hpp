// 256-bit unsigned integers (Boost.Multiprecision, fixed width, modular arithmetic) and
// exact conversions. Money is always u256 wei, never floating point.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin {

using u256 = boost::multiprecision::uint256_t;
using u512 = boost::multiprecision::uint512_t;

/// Big-endian 32-byte encoding.
Hash32 to_be32(const u256& v) noexcept;
/// Minimal big-endian encoding (no leading zero bytes; zero -> empty).
Bytes to_be_minimal(const u256& v);
/// Interprets up to 32 big-endian bytes.
Result<u256> from_be(ByteView bytes);

/// Parses a decimal ("123") or 0x-hex ("0x7b") unsigned integer; rejects overflow,
/// signs, whitespace and empty input.
Result<u256> parse_u256(std::string_view s);

std::string to_dec(const u256& v);
/// "0x"-prefixed minimal hex ("0x0" for zero), as JSON-RPC quantities are written.
std::string to_hex_quantity(const u256& v);

/// Checked arithmetic for money paths.
Result<u256> checked_add(const u256& a, const u256& b);
Result<u256> checked_mul(const u256& a, const u256& b);

/// Narrowing to uint64 with a range check.
Result<std::uint64_t> to_u64(const u256& v);

}  // namespace zeppelin
