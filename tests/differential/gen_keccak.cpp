// keccak: random text and random 0x-hex (mixed case, odd lengths, trailing spaces), as an
// argument or on stdin.
#include "diff_harness.hpp"

namespace zeppelin::diff {
namespace {

std::string random_text(Rng& rng) {
    static const std::vector<std::string> extra{"\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", " ", "\t", "\n", "0x"};
    std::string s;
    auto n = rng.range(0, 60);
    for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(0.1)) s += rng.pick(extra);
        else s += static_cast<char>(rng.range(0x20, 0x7e));
    }
    if (!s.empty() && s[0] == '-') s[0] = '_';  // a leading '-' would be read as an option
    return s;
}

std::string random_hex_arg(Rng& rng) {
    auto h = rng.hex(rng.range(0, 100));
    if (rng.chance(0.3))
        for (auto& c : h)
            if (rng.chance(0.5) && c >= 'a') c = static_cast<char>(c - 32);
    if (rng.chance(0.05) && !h.empty()) h.pop_back();  // odd length: both must fail
    std::string s = "0x" + h;
    if (rng.chance(0.1)) s += "  ";
    return s;
}

std::vector<Case> gen_keccak(Rng& rng, std::size_t n) {
    std::vector<Case> out;
    for (std::size_t i = 0; i < n; ++i) {
        std::string data = rng.chance(0.5) ? random_hex_arg(rng) : random_text(rng);
        if (rng.chance(0.1)) {
            Case c = util_case("keccak", {});
            c.stdin_data = data;
            out.push_back(std::move(c));
        } else {
            out.push_back(util_case("keccak", {data}));
        }
    }
    return out;
}

}  // namespace

ZEPPELIN_DIFF_GENERATOR(keccak, 1.0, gen_keccak);

}  // namespace zeppelin::diff
