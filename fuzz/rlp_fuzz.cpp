// RLP decoder fuzz target. Property: the decoder is strict, so every input it accepts must
// re-encode to exactly the same bytes.
#include <cstdint>
#include <cstdlib>

#include "zeppelin/eth/rlp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    zeppelin::ByteView in{data, size};
    auto item = zeppelin::eth::rlp::decode(in);
    if (!item) return 0;
    auto again = zeppelin::eth::rlp::encode(*item);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    return 0;
}
