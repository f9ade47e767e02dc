// Private messages (node/messages.hpp): decoding arbitrary bytes never crashes; what decodes
// re-encodes to a document that decodes to the same message; and arbitrary envelopes are refused
// (an envelope this fuzzer did not seal cannot open).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "zeppelin/node/messages.hpp"

using namespace zeppelin;

namespace {
const eth::PrivateKey& key() {
    static const auto k = [] {
        Bytes secret(32, 0x11);
        return eth::PrivateKey::from_bytes(secret).value();
    }();
    return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    if (auto m = node::msg::decode(text)) {
        const auto again = node::msg::decode(node::msg::encode(*m));
        if (!again || !(*again == *m)) std::abort();
    }
    const Address a{};
    const Address b{};
    if (node::msg::open(key(), 1, a, b, ByteView{data, size})) std::abort();
    return 0;
}
