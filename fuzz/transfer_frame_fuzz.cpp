// Transfer frame decoder fuzz target. The input is a byte stream of frames as a worker or a
// client would receive it. Property: every frame the strict decoder accepts re-encodes to exactly
// the bytes it was decoded from (header included); rejected input stops the stream cleanly.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "zeppelin/transfer/protocol.hpp"

using namespace zeppelin;
using namespace zeppelin::transfer;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ByteView in{data, size};
    while (in.size() >= protocol::kHeaderSize) {
        auto header = protocol::parse_header(in.first(protocol::kHeaderSize));
        if (!header) return 0;
        if (in.size() < protocol::kHeaderSize + header->length) return 0;
        auto frame = in.first(protocol::kHeaderSize + header->length);
        auto msg = protocol::decode(header->type, frame.subspan(protocol::kHeaderSize));
        if (msg) {
            auto again = protocol::encode(*msg);
            if (again.size() != frame.size() || std::memcmp(again.data(), frame.data(), frame.size()) != 0)
                std::abort();
        }
        in = in.subspan(frame.size());
    }
    return 0;
}
