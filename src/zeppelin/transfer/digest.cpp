#include "zeppelin/transfer/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::transfer {

namespace {
EVP_MD_CTX* as_ctx(void* p) {
    return static_cast<EVP_MD_CTX*>(p);
}
}  // namespace

Sha256::Sha256() : ctx_{EVP_MD_CTX_new()} {
    if (ctx_ == nullptr) throw std::bad_alloc{};
    reset();
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(as_ctx(ctx_));
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_{other.ctx_} {
    other.ctx_ = nullptr;
}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
    if (this != &other) {
        EVP_MD_CTX_free(as_ctx(ctx_));
        ctx_ = other.ctx_;
        other.ctx_ = nullptr;
    }
    return *this;
}

void Sha256::reset() {
    if (EVP_DigestInit_ex(as_ctx(ctx_), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error{"EVP_DigestInit_ex(sha256) failed"};
}

void Sha256::update(ByteView data) {
    if (!data.empty()) EVP_DigestUpdate(as_ctx(ctx_), data.data(), data.size());
}

Digest Sha256::finish() {
    Digest d;
    unsigned int len = 0;
    EVP_DigestFinal_ex(as_ctx(ctx_), d.data(), &len);
    reset();
    return d;
}

Digest sha256(ByteView data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

std::string digest_string(const Digest& d) {
    return "sha256:" + to_hex(d, false);
}

std::string short_digest(const Digest& d) {
    return to_hex(d, false).substr(0, 12);
}

Result<Digest> parse_digest(std::string_view s) {
    constexpr std::string_view prefix = "sha256:";
    if (s.substr(0, prefix.size()) != prefix)
        return Error{Errc::invalid_argument,
                     "digest '" + std::string{s.substr(0, 80)} + "' is not of the form sha256:<64 hex digits>"};
    auto hex = s.substr(prefix.size());
    if (hex.size() != 64 || hex.substr(0, 2) == "0x" || !is_hex(hex))
        return Error{Errc::invalid_argument,
                     "digest '" + std::string{s.substr(0, 80)} + "' does not have 64 hex digits"};
    return fixed_from_hex<32>(hex);
}

}  // namespace zeppelin::transfer
