// The three kinds of ABI error, shared by the signature parser, the encoder and the decoder.
#pragma once

#include <string>

#include "zeppelin/core/result.hpp"

namespace zeppelin::eth::abi::detail {

inline Error sig_error(std::string msg) { return Error{Errc::abi_invalid_signature, std::move(msg)}; }
inline Error value_error(std::string msg) { return Error{Errc::abi_invalid_value, std::move(msg)}; }
inline Error decode_error_(std::string msg) { return Error{Errc::abi_decode, std::move(msg)}; }

}  // namespace zeppelin::eth::abi::detail
