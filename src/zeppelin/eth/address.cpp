#include "zeppelin/eth/address.hpp"

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {

std::string to_checksum(const Address& address) {
    const std::string lower = to_hex(address, false);
    const Hash32 h = keccak256(std::string_view{lower});
    std::string out = "0x";
    out.reserve(42);
    for (std::size_t i = 0; i < lower.size(); ++i) {
        char c = lower[i];
        const unsigned nib = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0fu);
        if (c >= 'a' && c <= 'f' && nib >= 8) c = static_cast<char>(c - 'a' + 'A');
        out += c;
    }
    return out;
}

bool has_valid_checksum(std::string_view text) {
    auto a = parse_address(text);
    return a && to_checksum(*a).substr(2) == strip_0x(text);
}

Result<Address> parse_address(std::string_view text) {
    const std::string_view digits = strip_0x(text);
    if (digits.size() != 40)
        return Error{Errc::invalid_argument, "an address is 40 hex digits (20 bytes), got \"" + std::string{text} + "\""};
    bool has_lower = false;
    bool has_upper = false;
    for (char c : digits) {
        if (c >= 'a' && c <= 'f') has_lower = true;
        else if (c >= 'A' && c <= 'F') has_upper = true;
        else if (c < '0' || c > '9')
            return Error{Errc::invalid_argument, "address \"" + std::string{text} + "\" contains a non-hex character"};
    }
    auto addr = ZP_TRY(fixed_from_hex<20>(digits));
    if (has_lower && has_upper && to_checksum(addr).substr(2) != digits)
        return Error{Errc::invalid_argument, "address \"" + std::string{text} +
                                                 "\" has an invalid EIP-55 checksum (mixed case that does not match; "
                                                 "expected " + to_checksum(addr) + ")"};
    return addr;
}

}  // namespace zeppelin::eth
