// secp256k1 keys and signatures as Ethereum uses them, over libsecp256k1 (with its recovery
// and ECDH modules).
//
//  * Secp256k1Context: a `final` RAII owner of the library context (silkworm's habit), copy
//    deleted. One shared, randomized instance serves the whole process (libsecp256k1 contexts
//    are safe for concurrent use once created and randomized).
//  * PrivateKey: 32 bytes, validated (0 < k < n); wiped from memory when destroyed.
//  * PublicKey: 64 bytes x||y, the uncompressed point without its 0x04 prefix, as Ethereum
//    hashes it for addresses.
//  * Signature: recoverable (r, s, y_parity), always low-s (s <= n/2, EIP-2) when we sign.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"

struct secp256k1_context_struct;

namespace zeppelin::eth {

using PublicKey = FixedBytes<64>;
using CompressedPublicKey = FixedBytes<33>;

/// Owns a libsecp256k1 context.
class Secp256k1Context final {
public:
    Secp256k1Context();
    ~Secp256k1Context();
    Secp256k1Context(const Secp256k1Context&) = delete;
    Secp256k1Context& operator=(const Secp256k1Context&) = delete;

    [[nodiscard]] secp256k1_context_struct* get() const noexcept { return ctx_; }

    /// The process-wide context (created and randomized on first use).
    static const Secp256k1Context& instance();

private:
    secp256k1_context_struct* ctx_{nullptr};
};

/// The order n of the secp256k1 group.
const u256& curve_order();

/// A recoverable ECDSA signature.
struct Signature {
    Hash32 r;
    Hash32 s;
    std::uint8_t y_parity{0};  // 0 or 1: parity of the y coordinate of R

    /// r || s || v with v = 27 + y_parity (the form personal_sign / eth_sign return).
    [[nodiscard]] FixedBytes<65> to_rsv() const;
    /// Accepts r || s || v with v in {0, 1, 27, 28}.
    static Result<Signature> from_rsv(ByteView rsv);

    /// r and s in (0, n) and s <= n/2 (what Ethereum requires of transaction signatures).
    [[nodiscard]] bool is_canonical() const;

    bool operator==(const Signature&) const = default;
};

/// The hash callback of ECDH: receives the shared point's x and y coordinates (32 bytes each,
/// big-endian) and fills `out` (32 bytes). Returning false fails the operation.
using EcdhHashFunction = std::function<bool(const Hash32& x, const Hash32& y, Hash32& out)>;

class PrivateKey {
public:
    /// 32 big-endian bytes; rejects zero and values >= n.
    static Result<PrivateKey> from_bytes(ByteView secret);
    /// 64 hex digits, with or without 0x.
    static Result<PrivateKey> from_hex(std::string_view hex);
    /// A fresh key from the operating system's CSPRNG (OpenSSL RAND_bytes, seeded by getrandom).
    static Result<PrivateKey> generate();

    PrivateKey(const PrivateKey&) = default;
    PrivateKey& operator=(const PrivateKey&) = default;
    ~PrivateKey();

    [[nodiscard]] const Hash32& secret() const noexcept { return secret_; }
    [[nodiscard]] PublicKey public_key() const;
    [[nodiscard]] Address address() const;

    /// Signs a 32-byte digest (RFC 6979 deterministic nonce), low-s normalized.
    [[nodiscard]] Result<Signature> sign(const Hash32& digest) const;

    /// ECDH with a peer's public key; `hash` turns the shared point into the 32-byte output.
    [[nodiscard]] Result<Hash32> ecdh(const PublicKey& peer, const EcdhHashFunction& hash) const;
    /// ECDH returning the raw x coordinate of the shared point, unhashed. This is the input
    /// ECIES (SEC 1 / devp2p style) feeds into its KDF (HKDF for Zeppelin's messages); it is
    /// NOT uniformly random and must never be used as a key directly.
    [[nodiscard]] Result<Hash32> ecdh_raw_x(const PublicKey& peer) const;

    bool operator==(const PrivateKey& o) const noexcept { return secret_ == o.secret_; }

private:
    explicit PrivateKey(const Hash32& secret) : secret_{secret} {}
    Hash32 secret_;
};

/// Parses a public key: 64 bytes (x||y), 65 bytes (0x04||x||y) or 33 bytes (compressed).
/// Checks that the point is on the curve.
Result<PublicKey> parse_public_key(ByteView bytes);
/// SEC 1 compressed form (0x02/0x03 || x).
Result<CompressedPublicKey> compress(const PublicKey& key);

/// keccak256(x||y)[12..32].
Address public_key_to_address(const PublicKey& key);

/// Recovers the signer's public key from a digest and a recoverable signature.
Result<PublicKey> recover_public_key(const Hash32& digest, const Signature& sig);
Result<Address> recover_address(const Hash32& digest, const Signature& sig);

/// EIP-191 version 0x45 ("personal_sign"):
/// keccak256("\x19Ethereum Signed Message:\n" || decimal(len(message)) || message).
Hash32 personal_message_hash(ByteView message);
inline Hash32 personal_message_hash(std::string_view message) { return personal_message_hash(as_view(message)); }

}  // namespace zeppelin::eth
