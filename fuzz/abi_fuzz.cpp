// ABI decoder fuzz target.
//
// Input: the first byte picks a type list (one of a fixed set, or — for the last choice — a
// type string read from the input up to the first '\n', which also fuzzes the type parser);
// the rest is ABI data.
//
// Properties:
//  1. Neither decoder crashes, reads out of bounds or expands without limit.
//  2. Strict decoding implies lenient decoding, with the same values.
//  3. Round trip: encode(decode(x)) succeeds and decodes back to the same values.
//     Byte equality encode(decode(x)) == x is NOT required: both decoders accept
//     non-canonical layouts (offsets pointing anywhere inside the tuple, shared or
//     overlapping tails, trailing bytes), as Solidity and alloy do; the canonical form is
//     a fixed point instead: encode(decode(encode(decode(x)))) == encode(decode(x)).
//  4. Printing any leniently decoded value (cast format) does not crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/abi_text.hpp"

namespace {

using namespace zeppelin;
namespace abi = zeppelin::eth::abi;

const std::vector<std::vector<abi::Type>>& fixed_type_lists() {
    static const auto lists = [] {
        std::vector<std::vector<abi::Type>> out;
        for (std::string_view sig : {"f(uint8,int16,address,bool,bytes3)", "f(bytes,string)",
                                     "f(uint256[],(bytes,string)[2],int8)", "f((uint32,bytes)[],string[2][])",
                                     "f(((uint8,string[])[],bytes32))", "f(uint256[][])", "f(int256[3],bool[])"}) {
            auto fn = abi::parse_function(sig);
            if (!fn) std::abort();
            out.push_back(abi::types_of(fn->inputs));
        }
        return out;
    }();
    return lists;
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto& lists = fixed_type_lists();
    std::size_t choice = data[0] % (lists.size() + 1);
    ByteView rest{data + 1, size - 1};
    std::vector<abi::Type> types;
    if (choice < lists.size()) {
        types = lists[choice];
    } else {
        std::size_t nl = 0;
        while (nl < rest.size() && nl < 200 && rest[nl] != '\n') ++nl;
        std::string_view text{reinterpret_cast<const char*>(rest.data()), nl};
        auto t = abi::parse_type(text);
        if (!t) return 0;
        types.push_back(std::move(*t));
        rest = rest.subspan(nl < rest.size() ? nl + 1 : nl);
    }

    const abi::DecodeOptions strict{.strict = true, .max_values = 1u << 14};
    const abi::DecodeOptions lenient{.strict = false, .max_values = 1u << 14};

    auto loose = abi::decode(types, rest, lenient);
    if (loose)
        for (auto& v : *loose) (void)abi::format_value(v);

    auto v = abi::decode(types, rest, strict);
    if (!v) return 0;
    check(loose.has_value() && *loose == *v);

    auto enc = abi::encode(types, *v);
    check(enc.has_value());
    auto again = abi::decode(types, *enc, strict);
    check(again.has_value() && *again == *v);
    auto enc2 = abi::encode(types, *again);
    check(enc2.has_value() && *enc2 == *enc);
    return 0;
}
