// Transaction decoder fuzz target. Properties:
//  * the decoder is strict, so every raw transaction it accepts re-encodes to the same bytes;
//  * hashing, the signing hash and sender recovery never crash on an accepted transaction;
//  * a recovered sender is stable: re-signing is not possible without the key, but decoding the
//    re-encoding must give an equal transaction.
#include <cstdint>
#include <cstdlib>

#include "zeppelin/eth/transaction.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace zeppelin;
    ByteView in{data, size};
    auto tx = eth::decode_transaction(in);
    if (!tx) return 0;
    auto raw = tx->encode();
    if (!raw) std::abort();
    if (raw->size() != size || !std::equal(raw->begin(), raw->end(), data)) std::abort();
    auto again = eth::decode_transaction(*raw);
    if (!again || !(*again == *tx)) std::abort();
    (void)tx->signing_hash();
    if (!tx->hash()) std::abort();
    auto sender = eth::recover_sender(*tx);
    if (sender) {
        auto sender2 = eth::recover_sender(*again);
        if (!sender2 || *sender2 != *sender) std::abort();
    }
    return 0;
}
