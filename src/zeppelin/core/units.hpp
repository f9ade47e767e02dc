// Exact parsing and printing of ether amounts: "1.5ether", "20gwei", "2 gwei", "100" (wei).
#pragma once

#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"

namespace zeppelin {

/// Decimal places of a unit name: wei 0, kwei 3, mwei 6, gwei 9, szabo 12, finney 15, ether 18.
Result<unsigned> unit_decimals(std::string_view unit);

/// Parses "<decimal>[ ]<unit>" or a bare integer (wei, decimal or 0x-hex). Fractions finer
/// than one wei are an error, never rounded.
Result<u256> parse_amount(std::string_view text);

/// Parses a decimal string scaled by 10^decimals ("1.5", 18) exactly.
Result<u256> parse_units(std::string_view decimal, unsigned decimals);

/// Prints v / 10^decimals exactly, trailing zeros of the fraction removed ("1.5", "0", "0.000000001").
std::string format_units(const u256& v, unsigned decimals);

/// How an amount is printed for people.
enum class AmountPrecision {
    readable,  // at least 5 significant digits (all of the whole part), rounded half up: "9.9993 ETH"
    exact,     // every digit, trailing zeros cut: "9.999345342028252515 ETH"
};

/// The one formatter of amounts for people, in the unit that reads best: ETH from 0.001 ETH,
/// gwei from 1 gwei, else wei; trailing zeros cut ("594 gwei", "1.5 ETH", "0 wei"). Machines get
/// exact wei as a decimal string instead (to_dec).
std::string format_amount(const u256& wei, AmountPrecision precision = AmountPrecision::readable);

/// format_amount(wei), readable.
std::string format_ether_human(const u256& wei);

}  // namespace zeppelin
