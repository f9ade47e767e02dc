// anvil's default accounts as typed values, and sender options that poll fast, for the
// integration and end-to-end tests against a local anvil.
#pragma once

#include <chrono>
#include <cstddef>

#include "anvil.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/secp256k1.hpp"
#include "zeppelin/eth/sender.hpp"

namespace zeppelin::test {

inline Address account(std::size_t i) { return eth::parse_address(kAnvilAccounts[i].address).value(); }
inline eth::PrivateKey key(std::size_t i) { return eth::PrivateKey::from_hex(kAnvilAccounts[i].private_key).value(); }

inline eth::SenderOptions fast_options() {
    using namespace std::chrono_literals;
    eth::SenderOptions o;
    o.poll_interval = 20ms;
    o.timeout = 60s;
    return o;
}

}  // namespace zeppelin::test
