// TLS 1.3 with an external pre-shared key (RFC 8446 §2.2, OpenSSL 3 psk session callbacks):
// no certificates; both ends prove knowledge of the 32-byte agreement secret, and the
// (EC)DHE key exchange (psk_dhe_ke) gives forward secrecy. Cipher: TLS_AES_128_GCM_SHA256.
// PSK identity = agreement id. Tickets are disabled: every connection is a full PSK handshake.
//
// The process ignores SIGPIPE once a connection is created (OpenSSL writes with write(2)).
//
// Throughput: records are written into a 1 MiB buffer and reach the socket in large writes (not
// one write(2) per 16 KB record). write_all() flushes it before returning; write_buffered(), for
// bulk streams, leaves it to fill and flushes when full, before every read, and by flush() and
// close(). Reads fill a 1 MiB buffer, so one read(2) brings many records (64 full ones).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace zeppelin::transfer {

using Secret = FixedBytes<32>;

struct Endpoint {
    std::string host;
    std::uint16_t port{0};
};

class TlsConnection final {
  public:
    ~TlsConnection();
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    /// Connects and completes the PSK handshake. Errc::auth_failed if the worker does not
    /// accept the key, Errc::io / Errc::timeout for network problems. `connect_timeout` bounds the
    /// TCP connect alone (0: `timeout`, which bounds every read and write after it).
    static Result<std::unique_ptr<TlsConnection>> connect(const Endpoint& to, const std::string& identity,
                                                          const Secret& secret, std::chrono::milliseconds timeout,
                                                          std::chrono::milliseconds connect_timeout = {});

    /// Sends data (encrypted): it has reached the socket when this returns.
    Result<void> write_all(ByteView data);
    /// Queues data (encrypted) for a bulk stream: it reaches the socket when the write buffer
    /// fills, on write_all(), flush(), before any read, and on close().
    Result<void> write_buffered(ByteView data);
    /// Sends what write_buffered() queued.
    Result<void> flush();
    Result<void> read_exact(std::uint8_t* out, std::size_t n);

    /// Wakes a blocked reader/writer from another thread (the connection becomes unusable).
    void abort() noexcept;
    /// Sends close_notify (best effort).
    void close() noexcept;

    [[nodiscard]] std::uint64_t bytes_written() const noexcept { return written_; }
    [[nodiscard]] std::uint64_t bytes_read() const noexcept { return read_; }
    /// Bytes that crossed the socket both ways (TLS records, handshake included).
    [[nodiscard]] std::uint64_t transport_bytes() const noexcept;
    [[nodiscard]] const std::string& identity() const noexcept { return identity_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// The protocol and cipher suite the handshake settled on, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256".
    [[nodiscard]] std::string negotiated() const;
    /// True if a read would find data without waiting (buffered or on the socket).
    [[nodiscard]] bool readable() const noexcept;

    /// Test hook: after this many bytes written the socket is cut (0 = never).
    void set_drop_after(std::uint64_t bytes) noexcept { drop_after_ = bytes; }

    // internal: used by TlsServer
    TlsConnection(int fd, ssl_st* ssl) noexcept : fd_{fd}, ssl_{ssl} {}
    std::string identity_;
    Secret secret_{};
    Error ssl_error(int rc, const char* what);
    /// After the handshake: puts read and write buffers between OpenSSL and the socket.
    Result<void> buffer_io();

  private:
    int fd_{-1};
    ssl_st* ssl_{nullptr};
    bio_st* sock_{nullptr};  // the socket BIO under the read and write buffers
    bool unflushed_{false};
    std::optional<Error> send_error_;  // a failed flush: every later write fails the same way
    std::uint64_t written_{0};
    std::uint64_t read_{0};
    std::uint64_t drop_after_{0};
};

/// Server side: one SSL_CTX; `lookup` maps a PSK identity to its secret (nullopt = unknown,
/// the handshake then fails).
class TlsServer final {
  public:
    using Lookup = std::function<std::optional<Secret>(const std::string& identity)>;
    static Result<std::unique_ptr<TlsServer>> create(Lookup lookup);
    ~TlsServer();
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;

    /// Runs the handshake on an accepted socket (takes ownership of fd).
    Result<std::unique_ptr<TlsConnection>> accept(int fd, std::chrono::milliseconds timeout);

    // internal
    Lookup lookup_;
    explicit TlsServer(ssl_ctx_st* ctx) noexcept : ctx_{ctx} {}

  private:
    ssl_ctx_st* ctx_{nullptr};
};

/// The TLS 1.3 cipher suite both ends use (its IANA name), e.g. for a benchmark to measure.
const char* cipher_suite() noexcept;

/// Sets SO_RCVTIMEO/SO_SNDTIMEO.
void set_socket_timeout(int fd, std::chrono::milliseconds timeout) noexcept;

}  // namespace zeppelin::transfer
