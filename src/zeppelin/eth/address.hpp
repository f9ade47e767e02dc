// Ethereum addresses as text: EIP-55 mixed-case checksums.
#pragma once

#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::eth {

/// "0x" + 40 hex digits, letters upper-cased where the matching nibble of
/// keccak256(lowercase hex) is >= 8 (EIP-55).
std::string to_checksum(const Address& address);

/// Parses "0x" + 40 hex digits (the 0x is optional). All-lower and all-upper case are
/// accepted as unchecksummed; mixed case must be a valid EIP-55 checksum.
Result<Address> parse_address(std::string_view text);

/// True when `text` is mixed-case and its checksum is valid.
bool has_valid_checksum(std::string_view text);

}  // namespace zeppelin::eth
