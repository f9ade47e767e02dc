// Keccak-256 (the pre-NIST padding Ethereum uses), via Crypto++.
#pragma once

#include <string_view>

#include "zeppelin/core/bytes.hpp"

namespace zeppelin::eth {

Hash32 keccak256(ByteView data);
inline Hash32 keccak256(std::string_view text) { return keccak256(as_view(text)); }

}  // namespace zeppelin::eth
