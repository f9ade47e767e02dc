// Keystore v3 (the Web3 Secret Storage definition, https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/):
// a private key encrypted with AES-128-CTR under a key derived from a password by scrypt or
// PBKDF2-HMAC-SHA256, authenticated by MAC = keccak256(derivedKey[16..32] || ciphertext).
//
// Reads scrypt and pbkdf2 keystores (geth, cast, MetaMask, MyEtherWallet); writes scrypt ones in
// geth's layout, so geth / cast / MetaMask import them:
//   file  UTC--<yyyy-mm-ddThh-mm-ss.nnnnnnnnnZ>--<address, lower-case hex without 0x>
//   json  {"address","crypto":{"cipher","ciphertext","cipherparams":{"iv"},"kdf","kdfparams","mac"},
//          "id" (uuid v4),"version":3}
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::eth {

struct ScryptParams {
    std::uint64_t n{262144};  // CPU/memory cost (power of two)
    std::uint32_t r{8};
    std::uint32_t p{1};

    /// geth's "standard" setting: n = 2^18, r = 8, p = 1 (about 256 MiB and a second or so).
    static constexpr ScryptParams standard() { return {}; }
    /// geth's "light" setting: n = 2^12, r = 8, p = 6. Fast; for tests and throw-away keys.
    static constexpr ScryptParams light() { return {4096, 8, 6}; }
};

/// Encrypts `key` into keystore v3 JSON text (scrypt, AES-128-CTR, fresh salt, IV and uuid).
Result<std::string> encrypt_keystore(const PrivateKey& key, std::string_view password,
                                     const ScryptParams& params = ScryptParams::standard());

/// Decrypts keystore v3 JSON text. Errc::wrong_password when the MAC does not match;
/// Errc::invalid_argument / Errc::unsupported for malformed or unsupported files (KDF
/// parameters are bounded so a hostile file cannot demand unbounded memory or time).
Result<PrivateKey> decrypt_keystore(std::string_view json, std::string_view password);

/// The "address" field, when present and well formed (no password needed).
Result<Address> keystore_address(std::string_view json);

/// geth's file name: "UTC--2016-03-22T12-57-55.920751759Z--7ef5a6135f1fd6a02593eedc869c6d41d934aef8".
std::string keystore_file_name(const Address& address,
                               std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

/// Encrypts and writes a new keystore file into `dir` (created with mode 0700 if missing; the
/// file gets mode 0600 and is never overwritten). Returns the file's path.
Result<std::filesystem::path> write_keystore_file(const std::filesystem::path& dir, const PrivateKey& key,
                                                  std::string_view password,
                                                  const ScryptParams& params = ScryptParams::standard());

/// scrypt (RFC 7914) with the keystore bounds (at most 1 GiB of memory, n*r*p <= 2^24). Uses
/// OpenSSL, or a built-in implementation for parameters OpenSSL refuses (RFC 7914 wants
/// n < 2^(16r); geth does not check, so such keystores exist) or when `builtin` is set (tests).
Result<void> scrypt_derive(std::string_view password, ByteView salt, std::uint64_t n, std::uint64_t r, std::uint64_t p,
                           std::span<std::uint8_t> out, bool builtin = false);

/// Reads a whole file (keystore files are small; larger than 1 MiB is refused).
Result<std::string> read_keystore_text(const std::filesystem::path& file);

}  // namespace zeppelin::eth
