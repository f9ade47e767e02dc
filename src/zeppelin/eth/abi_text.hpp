// ABI values as text, compatible with Foundry's cast 1.7.1:
//  - parse_value reads a command-line argument for a type exactly as `cast abi-encode`
//    accepts it (cast uses alloy's DynSolType::coerce_str; the grammar below was written from
//    its documentation and checked against the real cast binary);
//  - format_value prints a value exactly as `cast abi-decode` prints it.
//
// Accepted syntax (parse_value):
//   bool          true | false
//   uintN         literal [.fraction] [e[+-]exp] [spaces] [unit]
//                 literal: decimal digits, or 0x / 0o / 0b (either case) + digits;
//                 unit: wei | gwei | nano | nanoether | ether. "1.5ether", "1e18", "20 gwei".
//                 Fractions finer than the unit are an error, never rounded.
//   intN          [+|-] then as uintN. (As in cast, the magnitude is only checked against N
//                 bits, so int8 accepts -255..127.)
//   address       [0x] + 40 hex digits (checksum not enforced, as in cast)
//   bytesN        [0x] + exactly 2N hex digits
//   bytes         [0x] + an even number of hex digits ("0x" alone is empty bytes)
//   string        anything; inside arrays/tuples it ends at ',' or the closing bracket
//                 unless quoted with "..." or '...'; unquoted strings are right-trimmed
//   T[] / T[k]    [v1, v2, ...]   (a trailing comma is allowed)
//   (T1,T2,...)   (v1, v2, ...)
#pragma once

#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::eth::abi {

/// Parses a command-line value of `type`. Errc::abi_invalid_value on bad input.
Result<Value> parse_value(const Type& type, std::string_view text);

/// Formats a value as `cast abi-decode` prints it:
///   uint/int   decimal; with " [1.234e9]" appended when |v| >= 10000 (4 significant digits,
///              truncated, trailing zeros removed)
///   address    EIP-55 checksummed;  bytes/bytesN  0x-hex;  bool  true/false
///   string     quoted and escaped as Rust's {:?} does ("a\"b\n", "\u{7f}")
///   arrays     [a, b];  tuples  (a, b)
std::string format_value(const Value& value);

/// cast's number hint: "1000000000000000000 [1e18]", "-12345 [-1.234e4]", "42".
std::string format_uint_exp(const u256& v, bool negative = false);

/// A byte string as Rust's `format!("{:?}", String::from_utf8_lossy(bytes))`: invalid UTF-8
/// sequences become U+FFFD, then quotes, backslashes and non-printable characters are escaped.
std::string rust_debug_string(std::string_view bytes);

}  // namespace zeppelin::eth::abi
