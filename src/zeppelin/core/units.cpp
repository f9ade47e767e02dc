#include "zeppelin/core/units.hpp"

#include <algorithm>
#include <cctype>

namespace zeppelin {
namespace {
u256 pow10(unsigned n) {
    u256 r = 1;
    for (unsigned i = 0; i < n; ++i) r *= 10;
    return r;
}
std::string lower(std::string_view s) {
    std::string r{s};
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}
}  // namespace

Result<unsigned> unit_decimals(std::string_view unit) {
    auto u = lower(unit);
    if (u == "wei") return 0u;
    if (u == "kwei" || u == "babbage") return 3u;
    if (u == "mwei" || u == "lovelace") return 6u;
    if (u == "gwei" || u == "shannon") return 9u;
    if (u == "szabo" || u == "microether") return 12u;
    if (u == "finney" || u == "milliether") return 15u;
    if (u == "ether" || u == "eth") return 18u;
    return Error{Errc::invalid_argument, "unknown unit \"" + std::string{unit} + "\" (use wei, gwei or ether)"};
}

Result<u256> parse_units(std::string_view decimal, unsigned decimals) {
    if (decimal.empty()) return Error{Errc::invalid_argument, "empty amount"};
    auto dot = decimal.find('.');
    std::string_view whole = decimal.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view{} : decimal.substr(dot + 1);
    if (whole.empty() && frac.empty()) return Error{Errc::invalid_argument, "invalid amount \"" + std::string{decimal} + "\""};
    for (char c : frac)
        if (c < '0' || c > '9') return Error{Errc::invalid_argument, "invalid amount \"" + std::string{decimal} + "\""};
    // Drop trailing zeros of the fraction; what remains must fit in `decimals` places.
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    if (frac.size() > decimals)
        return Error{Errc::invalid_argument, "amount \"" + std::string{decimal} + "\" has more than " +
                                                 std::to_string(decimals) + " decimal places"};
    for (char c : whole)
        if (c < '0' || c > '9') return Error{Errc::invalid_argument, "invalid amount \"" + std::string{decimal} + "\""};
    u256 w = 0;
    if (!whole.empty()) w = ZP_TRY(parse_u256(whole));
    u256 f = 0;
    if (!frac.empty()) f = ZP_TRY(parse_u256(frac));
    auto scaled = ZP_TRY(checked_mul(w, pow10(decimals)));
    return checked_add(scaled, f * pow10(decimals - static_cast<unsigned>(frac.size())));
}

Result<u256> parse_amount(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return parse_u256(s);
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    auto number = s.substr(0, i);
    auto unit = s.substr(i);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    if (number.empty())
        return Error{Errc::invalid_argument, "invalid amount \"" + std::string{text} + "\" (like 2gwei, 0.5ether or 1000 for wei)"};
    unsigned decimals = 0;
    if (!unit.empty()) decimals = ZP_TRY(unit_decimals(unit));
    auto r = parse_units(number, decimals);
    if (!r) return r.error().wrap("invalid amount \"" + std::string{text} + "\"");
    return r;
}

std::string format_units(const u256& v, unsigned decimals) {
    auto digits = v.str();
    if (decimals == 0) return digits;
    if (digits.size() <= decimals) digits.insert(0, decimals - digits.size() + 1, '0');
    auto whole = digits.substr(0, digits.size() - decimals);
    auto frac = digits.substr(digits.size() - decimals);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return frac.empty() ? whole : whole + "." + frac;
}

std::string format_amount(const u256& wei, AmountPrecision precision) {
    constexpr unsigned kSignificant = 5;
    unsigned decimals = 0;
    const char* unit = "wei";
    if (wei >= pow10(15)) {
        decimals = 18;
        unit = "ETH";
    } else if (wei >= pow10(9)) {
        decimals = 9;
        unit = "gwei";
    }
    u256 shown = wei;
    const auto digits = static_cast<unsigned>(wei.str().size());
    const unsigned whole_digits = digits > decimals ? digits - decimals : 0;
    const unsigned keep = std::max(kSignificant, whole_digits);
    if (precision == AmountPrecision::readable && digits > keep) {
        // Round half up at the last kept digit; never beyond the unit's decimal point.
        const auto scale = pow10(std::min(digits - keep, decimals));
        shown = (wei / scale) * scale;
        if (wei % scale >= scale / 2) shown += scale;
        if (decimals == 9 && shown >= pow10(15)) return format_amount(shown, precision);  // 999999.99999 gwei
    }
    return format_units(shown, decimals) + " " + unit;
}

std::string format_ether_human(const u256& wei) { return format_amount(wei); }

}  // namespace zeppelin
