#include "zeppelin/eth/ecies.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <memory>
#include <string_view>

namespace zeppelin::eth::ecies {
namespace {

constexpr std::string_view kInfoLabel = "zeppelin/ecies/v1";

struct KdfDeleter {
    void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

Result<Hash32> hkdf_sha256(const Hash32& ikm, ByteView info) {
    std::unique_ptr<EVP_KDF, KdfDeleter> kdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
    if (!kdf) return Error{Errc::internal, "OpenSSL has no HKDF"};
    std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx{EVP_KDF_CTX_new(kdf.get())};
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size()),
        OSSL_PARAM_construct_end(),
    };
    Hash32 out;
    if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
        return Error{Errc::internal, "HKDF derivation failed"};
    return out;
}

Result<Hash32> derive_key(const Hash32& shared_x, const CompressedPublicKey& ephemeral,
                          const CompressedPublicKey& recipient) {
    Bytes info(kInfoLabel.begin(), kInfoLabel.end());
    info.insert(info.end(), ephemeral.begin(), ephemeral.end());
    info.insert(info.end(), recipient.begin(), recipient.end());
    return hkdf_sha256(shared_x, info);
}

}  // namespace

Result<Bytes> seal(const PublicKey& recipient, ByteView plaintext, ByteView aad) {
    auto ephemeral = ZP_TRY(PrivateKey::generate());
    auto eph_pub = ZP_TRY(compress(ephemeral.public_key()));
    auto rcpt = ZP_TRY(compress(recipient));
    auto shared = ZP_TRY(ephemeral.ecdh_raw_x(recipient));
    auto key = ZP_TRY(derive_key(shared, eph_pub, rcpt));

    Bytes out;
    out.reserve(kOverhead + plaintext.size());
    out.push_back(kVersion);
    out.insert(out.end(), eph_pub.begin(), eph_pub.end());
    std::uint8_t nonce[12];
    if (RAND_bytes(nonce, sizeof nonce) != 1) return Error{Errc::internal, "random number generator failed"};
    out.insert(out.end(), nonce, nonce + sizeof nonce);

    std::unique_ptr<EVP_CIPHER_CTX, KdfDeleter> ctx{EVP_CIPHER_CTX_new()};
    int len = 0;
    const std::size_t header = out.size();
    out.resize(header + plaintext.size() + 16);
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data() + header, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + header + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + header + plaintext.size()) != 1)
        return Error{Errc::internal, "AES-256-GCM encryption failed"};
    return out;
}

Result<Bytes> open(const PrivateKey& recipient, ByteView envelope, ByteView aad) {
    if (envelope.size() < kOverhead) return Error{Errc::invalid_argument, "encrypted message is too short"};
    if (envelope[0] != kVersion)
        return Error{Errc::invalid_argument, "encrypted message has unknown version " + std::to_string(envelope[0])};
    auto eph_bytes = envelope.subspan(1, 33);
    auto eph_pub = parse_public_key(eph_bytes);
    if (!eph_pub) return Error{Errc::invalid_argument, "encrypted message carries an invalid ephemeral key"};
    auto nonce = envelope.subspan(34, 12);
    auto body = envelope.subspan(46, envelope.size() - kOverhead);
    auto tag = envelope.subspan(envelope.size() - 16);

    auto shared = ZP_TRY(recipient.ecdh_raw_x(*eph_pub));
    auto rcpt = ZP_TRY(compress(recipient.public_key()));
    auto key = ZP_TRY(derive_key(shared, fixed_from<33>(eph_bytes), rcpt));

    std::unique_ptr<EVP_CIPHER_CTX, KdfDeleter> ctx{EVP_CIPHER_CTX_new()};
    Bytes plain(body.size());
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain.data(), &len, body.data(), static_cast<int>(body.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, const_cast<std::uint8_t*>(tag.data())) != 1)
        return Error{Errc::internal, "AES-256-GCM set-up failed"};
    if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1)
        return Error{Errc::auth_failed, "encrypted message does not open with this key and context (altered, "
                                        "misaddressed, or from another agreement)"};
    return plain;
}

}  // namespace zeppelin::eth::ecies
