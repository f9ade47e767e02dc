#include "zeppelin/eth/keccak.hpp"

#include <cryptopp/keccak.h>

namespace zeppelin::eth {

Hash32 keccak256(ByteView data) {
    CryptoPP::Keccak_256 h;
    h.Update(data.data(), data.size());
    Hash32 out;
    h.Final(out.data());
    return out;
}

}  // namespace zeppelin::eth
