// tx sign / wallet address: `zeppelin tx sign` against `cast mktx`, `zeppelin wallet address`
// against `cast wallet address`, with random keys, chain ids, nonces, gas, fees and values
// (wei, gwei, ether, with fractions), recipients (lower, upper, checksummed), calldata and
// contract creations. Valid by construction, so both tools must succeed with identical bytes.
#include <algorithm>
#include <cctype>

#include "diff_harness.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::diff {
namespace {

Bytes random_bytes(Rng& rng, std::size_t n) {
    auto s = rng.bytes(n);
    return Bytes(s.begin(), s.end());
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string random_key(Rng& rng) {
    while (true) {
        auto b = random_bytes(rng, 32);
        if (rng.chance(0.1)) std::fill_n(b.begin(), rng.range(0, 30), std::uint8_t{0});  // small keys
        if (!eth::PrivateKey::from_bytes(b)) continue;
        auto hex = to_hex(b, false);
        if (rng.chance(0.3)) hex = upper(hex);
        return rng.chance(0.8) ? "0x" + hex : hex;
    }
}

std::string random_address(Rng& rng) {
    auto a = fixed_from<20>(random_bytes(rng, 20));
    switch (rng.range(0, 2)) {
        case 0: return to_hex(a);
        case 1: return eth::to_checksum(a);
        default: return "0x" + upper(to_hex(a, false));
    }
}

/// A random amount below 2^bits written as cast accepts it; `value` gets the exact wei.
std::string random_amount(Rng& rng, unsigned bits, u256& value) {
    u256 v = 0;
    for (unsigned i = 0; i < bits; i += 64) v = (v << 64) | u256{rng.next()};
    if (bits < 256) v &= (u256{1} << bits) - 1;
    if (rng.chance(0.15)) v = 0;
    switch (rng.range(0, 3)) {
        case 0: value = v; return to_dec(v);
        case 1: v /= 1'000'000'000u; value = v * 1'000'000'000u; return to_dec(v) + "gwei";
        case 2: value = v; return format_units(v, 9) + "gwei";
        default: value = v; return format_units(v, 18) + "ether";
    }
}

std::vector<Case> gen_tx_sign(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto key = random_key(rng);
        std::uint64_t chain = 1;
        switch (rng.range(0, 3)) {
            case 0: chain = 1; break;
            case 1: chain = 31337; break;
            case 2: chain = 1 + rng.range(0, 1'000'000'000); break;
            default: chain = 1 + (rng.next() >> 1); break;
        }
        const auto nonce = std::to_string(rng.chance(0.7) ? rng.range(0, 1000) : rng.next());
        const auto gas = std::to_string(rng.chance(0.7) ? 21000 + rng.range(0, 1'000'000) : rng.next());
        u256 max_fee_v, prio_v, value_v;
        const auto max_fee = random_amount(rng, rng.chance(0.8) ? 40 : 128, max_fee_v);
        std::string prio;
        do {
            prio = random_amount(rng, rng.chance(0.8) ? 36 : 128, prio_v);
        } while (prio_v > max_fee_v);  // zeppelin refuses priority > max fee (an invalid EIP-1559 tx)
        const std::string value = rng.chance(0.2) ? std::string{} : random_amount(rng, rng.chance(0.7) ? 70 : 250, value_v);
        const bool create = rng.chance(0.05);
        std::string data;
        if (create) data = to_hex(random_bytes(rng, rng.range(1, 300)));
        else if (rng.chance(0.6)) data = to_hex(random_bytes(rng, rng.range(1, 300)));

        Case c;
        c.must_succeed = true;
        c.cast_args = {"mktx", "--private-key", key, "--chain", std::to_string(chain), "--nonce", nonce,
                       "--gas-limit", gas, "--gas-price", max_fee, "--priority-gas-price", prio};
        c.zeppelin_args = {"tx", "sign", "--private-key", key, "--chain-id", std::to_string(chain), "--nonce", nonce,
                           "--gas-limit", gas, "--max-fee", max_fee, "--priority-fee", prio};
        if (!value.empty()) {
            c.cast_args.insert(c.cast_args.end(), {"--value", value});
            c.zeppelin_args.insert(c.zeppelin_args.end(), {"--value", value});
        }
        if (create) {
            c.cast_args.insert(c.cast_args.end(), {"--create", data});
            c.zeppelin_args.insert(c.zeppelin_args.end(), {"--data", data});
        } else {
            const auto to = random_address(rng);
            c.cast_args.push_back(to);
            c.zeppelin_args.insert(c.zeppelin_args.end(), {"--to", to});
            if (!data.empty()) {
                c.cast_args.push_back(data);  // cast mktx takes raw calldata where a signature would go
                c.zeppelin_args.insert(c.zeppelin_args.end(), {"--data", data});
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<Case> gen_wallet_address(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        Case c;
        std::string key;
        if (rng.chance(0.03)) {
            key = "0x" + std::string(64, '0');  // invalid: both must fail
        } else {
            key = random_key(rng);
            c.must_succeed = true;
        }
        c.cast_args = {"wallet", "address", "--private-key", key};
        c.zeppelin_args = {"wallet", "address", "--private-key", key};
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace

ZEPPELIN_DIFF_GENERATOR(tx_sign, 2.0, gen_tx_sign);
ZEPPELIN_DIFF_GENERATOR(wallet_address, 1.0, gen_wallet_address);

}  // namespace zeppelin::diff
