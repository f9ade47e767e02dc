// ECIES on secp256k1 for Zeppelin's private messages (DESIGN.md, protocol step 4).
//
//   envelope = 0x01 || R (33 bytes, compressed ephemeral public key) || nonce (12) || ciphertext || tag (16)
//   z        = x-coordinate of ECDH(r, recipient)            (libsecp256k1)
//   key      = HKDF-SHA256(ikm = z, salt = empty,
//                          info = "zeppelin/ecies/v1" || R || compressed(recipient), 32 bytes)
//   AES-256-GCM(key, nonce, aad = caller's context) over the plaintext.     (OpenSSL)
//
// The caller's `aad` binds an envelope to where it belongs (for agreement messages: the agreement
// id, sender and recipient), so an envelope copied into another agreement or re-posted by another
// account does not open. A fresh ephemeral key per message gives each message its own key.
#pragma once

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::eth::ecies {

inline constexpr std::uint8_t kVersion = 0x01;
inline constexpr std::size_t kOverhead = 1 + 33 + 12 + 16;

/// Encrypts `plaintext` to `recipient`.
Result<Bytes> seal(const PublicKey& recipient, ByteView plaintext, ByteView aad);

/// Decrypts an envelope addressed to `recipient`; Errc::auth_failed if it was not made for this
/// key and context or was altered, Errc::invalid_argument if it is malformed.
Result<Bytes> open(const PrivateKey& recipient, ByteView envelope, ByteView aad);

}  // namespace zeppelin::eth::ecies
