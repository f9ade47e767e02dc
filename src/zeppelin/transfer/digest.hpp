// SHA-256 digests as used by OCI/Docker images ("sha256:<64 hex>"), computed incrementally
// through OpenSSL's EVP interface (SHA-NI accelerated where the CPU has it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::transfer {

using Digest = Hash32;  ///< raw 32-byte SHA-256

/// Incremental SHA-256 (RAII over EVP_MD_CTX).
class Sha256 final {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256(Sha256&& other) noexcept;
    Sha256& operator=(Sha256&& other) noexcept;

    void update(ByteView data);
    /// Returns the digest and resets the state for a new message.
    Digest finish();
    void reset();

  private:
    void* ctx_{nullptr};  // EVP_MD_CTX*
};

Digest sha256(ByteView data);

/// "sha256:<hex>"
std::string digest_string(const Digest& d);
/// Parses "sha256:<64 lower/upper hex>"; anything else is an error.
Result<Digest> parse_digest(std::string_view s);
/// First 12 hex digits, as docker prints short ids.
std::string short_digest(const Digest& d);

}  // namespace zeppelin::transfer
