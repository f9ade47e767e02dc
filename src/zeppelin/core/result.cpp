#include "zeppelin/core/result.hpp"

namespace zeppelin {

std::string_view to_string(Errc code) noexcept {
    switch (code) {
        case Errc::invalid_argument: return "invalid argument";
        case Errc::invalid_hex: return "invalid hex";
        case Errc::overflow: return "overflow";
        case Errc::rlp_input_too_short: return "rlp: input too short";
        case Errc::rlp_leading_zero: return "rlp: leading zero";
        case Errc::rlp_non_canonical_size: return "rlp: non-canonical size";
        case Errc::rlp_unexpected_list: return "rlp: unexpected list";
        case Errc::rlp_unexpected_string: return "rlp: unexpected string";
        case Errc::rlp_trailing_bytes: return "rlp: trailing bytes";
        case Errc::rlp_overflow: return "rlp: overflow";
        case Errc::abi_invalid_signature: return "abi: invalid signature";
        case Errc::abi_invalid_value: return "abi: invalid value";
        case Errc::abi_decode: return "abi: cannot decode";
        case Errc::invalid_key: return "invalid key";
        case Errc::invalid_signature: return "invalid signature";
        case Errc::invalid_transaction: return "invalid transaction";
        case Errc::wrong_password: return "wrong password";
        case Errc::unsupported: return "unsupported";
        case Errc::io: return "i/o error";
        case Errc::not_found: return "not found";
        case Errc::already_exists: return "already exists";
        case Errc::timeout: return "timed out";
        case Errc::cancelled: return "cancelled";
        case Errc::too_early: return "too early";
        case Errc::address_in_use: return "address in use";
        case Errc::rpc_unreachable: return "rpc: node unreachable";
        case Errc::rpc_bad_reply: return "rpc: bad reply";
        case Errc::rpc_error: return "rpc: error";
        case Errc::reverted: return "execution reverted";
        case Errc::protocol: return "protocol error";
        case Errc::auth_failed: return "authentication failed";
        case Errc::digest_mismatch: return "digest mismatch";
        case Errc::hostile_archive: return "hostile archive";
        case Errc::limit_exceeded: return "limit exceeded";
        case Errc::engine_error: return "container engine error";
        case Errc::no_gateway: return "no port-mapping gateway";
        case Errc::double_nat: return "behind another NAT";
        case Errc::mapping_refused: return "port mapping refused";
        case Errc::internal: return "internal error";
    }
    return "unknown error";
}

Error Error::wrap(std::string_view context) const {
    std::string m{context};
    m += ": ";
    m += message_;
    return Error{code_, std::move(m)};
}

Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace zeppelin
