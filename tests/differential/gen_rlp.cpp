// to-rlp: random JSON trees (hex strings with and without 0x, numbers of every size, null,
// nested lists, odd spacing, some invalid leaves); from-rlp: encodings of random trees, plus
// truncated / extended / corrupted ones and --as-int integers.
#include "diff_harness.hpp"

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/rlp.hpp"

namespace zeppelin::diff {
namespace {

namespace rlp = eth::rlp;

std::string random_number_text(Rng& rng) {
    switch (rng.range(0, 4)) {
        case 0: return std::to_string(rng.range(0, 200));
        case 1: return std::to_string(rng.next());
        case 2: return "18446744073709551616";
        default: {
            u256 v = 0;
            auto words = rng.range(1, 4);
            for (std::size_t i = 0; i < words; ++i) v = (v << 64) | rng.next();
            return to_dec(v);
        }
    }
}

std::string ws(Rng& rng) { return rng.chance(0.2) ? std::string(rng.range(1, 2), ' ') : std::string{}; }

void json_tree(Rng& rng, std::size_t depth, bool allow_invalid, std::string& out) {
    if (depth < 4 && rng.chance(0.35)) {
        out += '[' + ws(rng);
        auto n = rng.range(0, 4);
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out += ',' + ws(rng);
            json_tree(rng, depth + 1, allow_invalid, out);
        }
        out += ws(rng) + ']';
        return;
    }
    auto r = rng.range(0, 19);
    if (allow_invalid && r == 0) {
        out += rng.pick(std::vector<std::string>{"true", "-1", "1.5", "\"0x1\"", "{}", "\"zz\"", "1e3"});
    } else if (r <= 3) {
        out += random_number_text(rng);
    } else if (r == 4) {
        out += "null";
    } else {
        auto len = rng.chance(0.3) ? rng.range(0, 2) : rng.range(0, 70);
        auto h = rng.hex(len);
        if (rng.chance(0.2))
            for (auto& c : h)
                if (c >= 'a') c = static_cast<char>(c - 32);
        out += '"' + std::string{rng.chance(0.8) ? "0x" : ""} + h + '"';
    }
}

rlp::Item random_item(Rng& rng, std::size_t depth) {
    if (depth < 4 && rng.chance(0.35)) {
        std::vector<rlp::Item> items;
        auto n = rng.range(0, 4);
        for (std::size_t i = 0; i < n; ++i) items.push_back(random_item(rng, depth + 1));
        return rlp::Item::list(std::move(items));
    }
    auto len = rng.chance(0.4) ? rng.range(0, 2) : rng.range(0, 70);
    auto s = rng.bytes(len);
    return rlp::Item::string(Bytes(s.begin(), s.end()));
}

std::vector<Case> gen_to_rlp(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        bool invalid = rng.chance(0.1);
        std::string json;
        json_tree(rng, 0, invalid, json);
        if (rng.chance(0.05)) {
            Case c = util_case("to-rlp", {});
            c.stdin_data = json;
            out.push_back(std::move(c));
        } else {
            out.push_back(util_case("to-rlp", {json}, !invalid));
        }
    }
    return out;
}

std::vector<Case> gen_from_rlp(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(0.15)) {  // --as-int
            u256 v = rng.chance(0.5) ? u256{rng.range(0, 300)} : (u256{rng.next()} << 64 | rng.next());
            auto enc = rlp::encode_uint(v);
            std::string arg = to_hex(enc);
            if (rng.chance(0.2)) arg = "0x" + rng.hex(rng.range(0, 5));
            out.push_back(util_case("from-rlp", {"--as-int", arg}));
            continue;
        }
        auto enc = rlp::encode(random_item(rng, 0));
        bool valid = true;
        auto r = rng.range(0, 9);
        if (r == 0 && !enc.empty()) {
            enc.resize(rng.range(0, enc.size() - 1));  // truncated
            valid = false;
        } else if (r == 1) {
            enc.push_back(static_cast<std::uint8_t>(rng.next()));  // trailing byte: cast ignores it
        } else if (r == 2 && !enc.empty()) {
            enc[rng.range(0, enc.size() - 1)] = static_cast<std::uint8_t>(rng.next());
            valid = false;
        }
        std::string arg = to_hex(enc, !rng.chance(0.1));
        out.push_back(util_case("from-rlp", {arg}, valid));
    }
    return out;
}

}  // namespace

ZEPPELIN_DIFF_GENERATOR(to_rlp, 1.0, gen_to_rlp);
ZEPPELIN_DIFF_GENERATOR(from_rlp, 1.0, gen_from_rlp);

}  // namespace zeppelin::diff
