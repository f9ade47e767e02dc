#include "zeppelin/eth/secp256k1.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_recovery.h>

#include <cstring>
#include <string>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {
namespace {

const secp256k1_context* ctx() { return Secp256k1Context::instance().get(); }

Result<secp256k1_pubkey> to_lib_pubkey(const PublicKey& key) {
    unsigned char buf[65];
    buf[0] = 0x04;
    std::memcpy(buf + 1, key.data(), 64);
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_parse(ctx(), &pk, buf, sizeof buf) != 1)
        return Error{Errc::invalid_key, "public key is not a point on the secp256k1 curve"};
    return pk;
}

PublicKey from_lib_pubkey(const secp256k1_pubkey& pk) {
    unsigned char buf[65];
    std::size_t len = sizeof buf;
    (void)secp256k1_ec_pubkey_serialize(ctx(), buf, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
    return fixed_from<64>(ByteView{buf + 1, 64});
}

}  // namespace

Secp256k1Context::Secp256k1Context() : ctx_{secp256k1_context_create(SECP256K1_CONTEXT_NONE)} {
    if (ctx_ == nullptr) throw Exception{Error{Errc::internal, "cannot create a secp256k1 context"}};
    unsigned char seed[32];
    if (RAND_bytes(seed, sizeof seed) == 1) {
        // Blinding against side channels; a failure only loses the blinding, never correctness.
        [[maybe_unused]] const int randomized = secp256k1_context_randomize(ctx_, seed);
        OPENSSL_cleanse(seed, sizeof seed);
    }
}

Secp256k1Context::~Secp256k1Context() { secp256k1_context_destroy(ctx_); }

const Secp256k1Context& Secp256k1Context::instance() {
    static const Secp256k1Context context;
    return context;
}

const u256& curve_order() {
    static const u256 n{"0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"};
    return n;
}

FixedBytes<65> Signature::to_rsv() const {
    FixedBytes<65> out;
    std::memcpy(out.data(), r.data(), 32);
    std::memcpy(out.data() + 32, s.data(), 32);
    out[64] = static_cast<std::uint8_t>(27 + y_parity);
    return out;
}

Result<Signature> Signature::from_rsv(ByteView rsv) {
    if (rsv.size() != 65)
        return Error{Errc::invalid_signature, "a signature is 65 bytes (r, s, v), got " + std::to_string(rsv.size())};
    Signature sig;
    sig.r = fixed_from<32>(rsv.first(32));
    sig.s = fixed_from<32>(rsv.subspan(32, 32));
    std::uint8_t v = rsv[64];
    if (v >= 27) v = static_cast<std::uint8_t>(v - 27);
    if (v > 1) return Error{Errc::invalid_signature, "signature v must be 0, 1, 27 or 28, got " + std::to_string(rsv[64])};
    sig.y_parity = v;
    return sig;
}

bool Signature::is_canonical() const {
    auto rv = from_be(r.view()).value_or(u256{0});
    auto sv = from_be(s.view()).value_or(u256{0});
    const auto& n = curve_order();
    return rv != 0 && sv != 0 && rv < n && sv <= n / 2 && y_parity <= 1;
}

Result<PrivateKey> PrivateKey::from_bytes(ByteView secret) {
    if (secret.size() != 32)
        return Error{Errc::invalid_key, "a private key is 32 bytes, got " + std::to_string(secret.size())};
    if (secp256k1_ec_seckey_verify(ctx(), secret.data()) != 1)
        return Error{Errc::invalid_key, "private key is out of range (zero or not below the curve order)"};
    return PrivateKey{fixed_from<32>(secret)};
}

Result<PrivateKey> PrivateKey::from_hex(std::string_view hex) {
    auto bytes = zeppelin::from_hex(hex);
    if (!bytes) return Error{Errc::invalid_key, "private key must be 64 hex digits: " + bytes.error().message()};
    auto key = from_bytes(*bytes);
    OPENSSL_cleanse(bytes->data(), bytes->size());
    return key;
}

Result<PrivateKey> PrivateKey::generate() {
    Hash32 secret;
    for (int attempt = 0; attempt < 64; ++attempt) {
        if (RAND_bytes(secret.data(), 32) != 1)
            return Error{Errc::internal, "the system random number generator failed"};
        if (secp256k1_ec_seckey_verify(ctx(), secret.data()) == 1) {
            PrivateKey key{secret};
            OPENSSL_cleanse(secret.data(), 32);
            return key;
        }
    }
    return Error{Errc::internal, "could not generate a valid private key"};
}

PrivateKey::~PrivateKey() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

PublicKey PrivateKey::public_key() const {
    secp256k1_pubkey pk;
    // Cannot fail: the secret was validated on construction.
    [[maybe_unused]] const int ok = secp256k1_ec_pubkey_create(ctx(), &pk, secret_.data());
    return from_lib_pubkey(pk);
}

Address PrivateKey::address() const { return public_key_to_address(public_key()); }

Result<Signature> PrivateKey::sign(const Hash32& digest) const {
    secp256k1_ecdsa_recoverable_signature rsig;
    if (secp256k1_ecdsa_sign_recoverable(ctx(), &rsig, digest.data(), secret_.data(), nullptr, nullptr) != 1)
        return Error{Errc::internal, "signing failed"};
    unsigned char compact[64];
    int recid = 0;
    (void)secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), compact, &recid, &rsig);
    // libsecp256k1 always produces low-s signatures (its signing normalizes s), so recid
    // already matches the normalized s.
    Signature sig;
    sig.r = fixed_from<32>(ByteView{compact, 32});
    sig.s = fixed_from<32>(ByteView{compact + 32, 32});
    sig.y_parity = static_cast<std::uint8_t>(recid);
    return sig;
}

namespace {
struct EcdhCallbackData {
    const EcdhHashFunction* fn;
};
int ecdh_trampoline(unsigned char* output, const unsigned char* x32, const unsigned char* y32, void* data) {
    const auto* d = static_cast<const EcdhCallbackData*>(data);
    Hash32 x = fixed_from<32>(ByteView{x32, 32});
    Hash32 y = fixed_from<32>(ByteView{y32, 32});
    Hash32 out;
    bool ok = (*d->fn)(x, y, out);
    if (ok) std::memcpy(output, out.data(), 32);
    OPENSSL_cleanse(x.data(), 32);
    OPENSSL_cleanse(y.data(), 32);
    OPENSSL_cleanse(out.data(), 32);
    return ok ? 1 : 0;
}
}  // namespace

Result<Hash32> PrivateKey::ecdh(const PublicKey& peer, const EcdhHashFunction& hash) const {
    auto pk = ZP_TRY(to_lib_pubkey(peer));
    EcdhCallbackData data{&hash};
    Hash32 out;
    if (secp256k1_ecdh(ctx(), out.data(), &pk, secret_.data(), &ecdh_trampoline, &data) != 1)
        return Error{Errc::invalid_key, "ECDH failed (the hash callback refused the shared point)"};
    return out;
}

Result<Hash32> PrivateKey::ecdh_raw_x(const PublicKey& peer) const {
    return ecdh(peer, [](const Hash32& x, const Hash32&, Hash32& out) {
        out = x;
        return true;
    });
}

Result<PublicKey> parse_public_key(ByteView bytes) {
    secp256k1_pubkey pk;
    unsigned char buf[65];
    ByteView in = bytes;
    if (bytes.size() == 64) {
        buf[0] = 0x04;
        std::memcpy(buf + 1, bytes.data(), 64);
        in = ByteView{buf, 65};
    } else if (bytes.size() != 65 && bytes.size() != 33) {
        return Error{Errc::invalid_key, "a public key is 64, 65 or 33 bytes, got " + std::to_string(bytes.size())};
    }
    if (secp256k1_ec_pubkey_parse(ctx(), &pk, in.data(), in.size()) != 1)
        return Error{Errc::invalid_key, "public key is not a valid secp256k1 point"};
    return from_lib_pubkey(pk);
}

Result<CompressedPublicKey> compress(const PublicKey& key) {
    auto pk = ZP_TRY(to_lib_pubkey(key));
    CompressedPublicKey out;
    std::size_t len = out.size();
    (void)secp256k1_ec_pubkey_serialize(ctx(), out.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
    return out;
}

Address public_key_to_address(const PublicKey& key) {
    auto h = keccak256(key.view());
    return fixed_from<20>(h.view().subspan(12));
}

Result<PublicKey> recover_public_key(const Hash32& digest, const Signature& sig) {
    if (sig.y_parity > 1) return Error{Errc::invalid_signature, "signature recovery id must be 0 or 1"};
    unsigned char compact[64];
    std::memcpy(compact, sig.r.data(), 32);
    std::memcpy(compact + 32, sig.s.data(), 32);
    secp256k1_ecdsa_recoverable_signature rsig;
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &rsig, compact, sig.y_parity) != 1)
        return Error{Errc::invalid_signature, "signature r or s is not below the curve order"};
    secp256k1_pubkey pk;
    if (secp256k1_ecdsa_recover(ctx(), &pk, &rsig, digest.data()) != 1)
        return Error{Errc::invalid_signature, "no public key can be recovered from this signature"};
    return from_lib_pubkey(pk);
}

Result<Address> recover_address(const Hash32& digest, const Signature& sig) {
    return public_key_to_address(ZP_TRY(recover_public_key(digest, sig)));
}

Hash32 personal_message_hash(ByteView message) {
    std::string prefix = "\x19" "Ethereum Signed Message:\n" + std::to_string(message.size());
    Bytes buf = to_bytes(prefix);
    buf.insert(buf.end(), message.begin(), message.end());
    return keccak256(buf);
}

}  // namespace zeppelin::eth
