#include "zeppelin/transfer/tls.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

namespace zeppelin::transfer {

namespace {

// TLS_AES_128_GCM_SHA256 (RFC 8446 B.4): ~6% faster than AES-256-GCM here (AES-NI/VAES), and
// 128-bit keys are the TLS 1.3 mandatory suite; the PSK's hash is SHA-256 to match.
const unsigned char kCipherId[2] = {0x13, 0x01};
constexpr const char* kCipherName = "TLS_AES_128_GCM_SHA256";
constexpr long kWriteBuffer = 1L << 20;           // records leave in writes of up to 1 MiB
constexpr long kReadBuffer = 1L << 20;            // one read(2) brings up to 1 MiB of records

void ignore_sigpipe() {
    static std::once_flag once;
    std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

std::string openssl_errors() {
    std::string out;
    unsigned long e = 0;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? std::string{"no OpenSSL detail"} : out;
}

SSL_SESSION* make_session(SSL* ssl, const Secret& secret) {
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kCipherId);
    if (cipher == nullptr) return nullptr;
    SSL_SESSION* s = SSL_SESSION_new();
    if (s == nullptr) return nullptr;
    if (SSL_SESSION_set1_master_key(s, secret.data(), secret.size()) != 1 || SSL_SESSION_set_cipher(s, cipher) != 1 ||
        SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
        SSL_SESSION_free(s);
        return nullptr;
    }
    return s;
}

int client_psk_cb(SSL* ssl, const EVP_MD* md, const unsigned char** id, std::size_t* idlen, SSL_SESSION** sess) {
    auto* conn = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
    *sess = nullptr;
    if (conn == nullptr) return 0;
    if (md != nullptr && md != EVP_sha256()) return 1;  // HRR asked for another hash: no PSK
    *sess = make_session(ssl, conn->secret_);
    if (*sess == nullptr) return 0;
    *id = reinterpret_cast<const unsigned char*>(conn->identity_.data());
    *idlen = conn->identity_.size();
    return 1;
}

int server_psk_cb(SSL* ssl, const unsigned char* identity, std::size_t len, SSL_SESSION** sess) {
    *sess = nullptr;
    auto* server = static_cast<TlsServer*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    auto* conn = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
    if (server == nullptr || conn == nullptr) return 0;
    std::string id(reinterpret_cast<const char*>(identity), len);
    auto secret = server->lookup_(id);
    if (!secret) return 1;  // unknown identity: no PSK, the handshake fails
    *sess = make_session(ssl, *secret);
    if (*sess == nullptr) return 0;
    conn->identity_ = std::move(id);
    return 1;
}

SSL_CTX* new_ctx(bool server) {
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == nullptr) return nullptr;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, kCipherName);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    return ctx;
}

}  // namespace

const char* cipher_suite() noexcept {
    return kCipherName;
}

void set_socket_timeout(int fd, std::chrono::milliseconds timeout) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

TlsConnection::~TlsConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    secret_ = Secret{};
    if (fd_ >= 0) ::close(fd_);
}

Error TlsConnection::ssl_error(int rc, const char* what) {
    int err = SSL_get_error(ssl_, rc);
    int saved = errno;
    auto detail = openssl_errors();
    if (err == SSL_ERROR_ZERO_RETURN) return Error{Errc::io, std::string{what} + ": the peer closed the connection"};
    if ((err == SSL_ERROR_SYSCALL || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
        (saved == EAGAIN || saved == EWOULDBLOCK))
        return Error{Errc::timeout, std::string{what} + ": timed out"};
    if (err == SSL_ERROR_SYSCALL)
        return Error{Errc::io, std::string{what} + ": connection lost (" +
                                   (saved != 0 ? std::string{std::strerror(saved)} : std::string{"unexpected EOF"}) +
                                   ")"};
    return Error{Errc::io, std::string{what} + ": " + detail};
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::connect(const Endpoint& to, const std::string& identity,
                                                              const Secret& secret, std::chrono::milliseconds timeout,
                                                              std::chrono::milliseconds connect_timeout) {
    if (connect_timeout.count() <= 0) connect_timeout = timeout;
    ignore_sigpipe();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    auto port = std::to_string(to.port);
    if (int rc = ::getaddrinfo(to.host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return Error{Errc::io, "cannot resolve '" + to.host + "': " + ::gai_strerror(rc)};
    int fd = -1;
    std::string last = "no address";
    for (auto* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = ::poll(&p, 1, static_cast<int>(connect_timeout.count()));
            int soerr = rc == 0 ? ETIMEDOUT : 0;
            socklen_t sl = sizeof soerr;
            if (rc > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr == 0 ? 0 : -1;
            errno = soerr;
        }
        if (rc != 0) {
            last = std::strerror(errno);
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(res);
    if (fd < 0) return Error{Errc::io, "cannot connect to " + to.host + ":" + port + ": " + last};
    int flags = 0;
    ::ioctl(fd, FIONBIO, &flags);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_socket_timeout(fd, timeout);

    static SSL_CTX* ctx = [] {
        SSL_CTX* c = new_ctx(false);
        if (c != nullptr) SSL_CTX_set_psk_use_session_callback(c, client_psk_cb);
        return c;
    }();
    if (ctx == nullptr) {
        ::close(fd);
        return Error{Errc::internal, "cannot create the TLS client context: " + openssl_errors()};
    }
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) {
        ::close(fd);
        return Error{Errc::internal, "SSL_new failed: " + openssl_errors()};
    }
    auto conn = std::make_unique<TlsConnection>(fd, ssl);
    conn->identity_ = identity;
    conn->secret_ = secret;
    SSL_set_app_data(ssl, conn.get());
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        auto e = conn->ssl_error(rc, "TLS handshake");
        if (e.code() == Errc::timeout) return e;
        return Error{Errc::auth_failed, "the worker refused the transfer key for agreement '" + identity +
                                            "' (wrong secret or unknown agreement): " + e.message()};
    }
    ZP_CHECK(conn->buffer_io());
    return conn;
}

// OpenSSL 3.0 reads one record per read(2) without read-ahead, and with a large read-ahead buffer
// it memmoves the unread rest of that buffer to its front for every record. So: a buffering BIO
// on each side of the socket, and OpenSSL reads exactly one record at a time out of it.
Result<void> TlsConnection::buffer_io() {
    sock_ = SSL_get_rbio(ssl_);
    BIO* wbuf = BIO_new(BIO_f_buffer());
    BIO* rbuf = BIO_new(BIO_f_buffer());
    if (sock_ == nullptr || wbuf == nullptr || rbuf == nullptr || BIO_set_write_buffer_size(wbuf, kWriteBuffer) != 1 ||
        BIO_set_read_buffer_size(rbuf, kReadBuffer) != 1) {
        BIO_free(wbuf);
        BIO_free(rbuf);
        return Error{Errc::internal, "cannot create the TLS socket buffers: " + openssl_errors()};
    }
    // Each chain holds its own reference to the socket BIO; each set0 drops one the SSL held.
    BIO_up_ref(sock_);
    BIO_up_ref(sock_);
    SSL_set0_wbio(ssl_, BIO_push(wbuf, sock_));
    SSL_set0_rbio(ssl_, BIO_push(rbuf, sock_));
    SSL_set_read_ahead(ssl_, 0);
    return {};
}

std::string TlsConnection::negotiated() const {
    if (ssl_ == nullptr) return {};
    const char* cipher = SSL_get_cipher_name(ssl_);
    return std::string{SSL_get_version(ssl_)} + " " + (cipher != nullptr ? cipher : "none");
}

bool TlsConnection::readable() const noexcept {
    if (SSL_pending(ssl_) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl_)) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

Result<void> TlsConnection::flush() {
    if (send_error_) return *send_error_;
    if (!unflushed_) return {};
    unflushed_ = false;
    errno = 0;
    if (BIO_flush(SSL_get_wbio(ssl_)) > 0) return {};
    const int saved = errno;
    if (saved == EAGAIN || saved == EWOULDBLOCK)
        send_error_ = Error{Errc::timeout, "sending: timed out"};
    else
        send_error_ = Error{Errc::io, std::string{"sending: connection lost ("} +
                                          (saved != 0 ? std::strerror(saved) : "unexpected EOF") + ")"};
    return *send_error_;
}

Result<void> TlsConnection::write_all(ByteView data) {
    ZP_CHECK(write_buffered(data));
    return flush();
}

Result<void> TlsConnection::write_buffered(ByteView data) {
    if (send_error_) return *send_error_;
    std::size_t done = 0;
    while (done < data.size()) {
        std::size_t n = data.size() - done;
        bool drop = false;
        if (drop_after_ != 0 && written_ + n >= drop_after_) {
            n = drop_after_ > written_ ? static_cast<std::size_t>(drop_after_ - written_) : 0;
            drop = true;
        }
        if (n > 0) {
            ERR_clear_error();
            int rc = SSL_write(ssl_, data.data() + done, static_cast<int>(std::min<std::size_t>(n, 1U << 30)));
            unflushed_ = true;
            if (rc <= 0) return ssl_error(rc, "sending");
            done += static_cast<std::size_t>(rc);
            written_ += static_cast<std::uint64_t>(rc);
        }
        if (drop && written_ >= drop_after_) {
            (void)flush();
            abort();
            return Error{Errc::io, "connection dropped by the test hook after " + std::to_string(written_) + " bytes"};
        }
    }
    return {};
}

Result<void> TlsConnection::read_exact(std::uint8_t* out, std::size_t n) {
    // The peer may be waiting for what we wrote before it answers. If it is gone, still read:
    // its last words (a refusal) may be here already; the send error stays for the next write.
    (void)flush();
    std::size_t done = 0;
    while (done < n) {
        ERR_clear_error();
        int rc = SSL_read(ssl_, out + done, static_cast<int>(std::min<std::size_t>(n - done, 1U << 30)));
        if (rc <= 0) return ssl_error(rc, "receiving");
        done += static_cast<std::size_t>(rc);
        read_ += static_cast<std::uint64_t>(rc);
    }
    return {};
}

std::uint64_t TlsConnection::transport_bytes() const noexcept {
    if (ssl_ == nullptr) return 0;
    BIO* sock = sock_ != nullptr ? sock_ : SSL_get_rbio(ssl_);
    return BIO_number_read(sock) + BIO_number_written(sock);
}

void TlsConnection::abort() noexcept {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void TlsConnection::close() noexcept {
    if (ssl_ != nullptr) {
        (void)flush();
        ERR_clear_error();
        SSL_shutdown(ssl_);
        unflushed_ = true;
        (void)flush();
    }
}

Result<std::unique_ptr<TlsServer>> TlsServer::create(Lookup lookup) {
    ignore_sigpipe();
    SSL_CTX* ctx = new_ctx(true);
    if (ctx == nullptr) return Error{Errc::internal, "cannot create the TLS server context: " + openssl_errors()};
    auto server = std::make_unique<TlsServer>(ctx);
    server->lookup_ = std::move(lookup);
    SSL_CTX_set_app_data(ctx, server.get());
    SSL_CTX_set_psk_find_session_callback(ctx, server_psk_cb);
    return server;
}

TlsServer::~TlsServer() {
    SSL_CTX_free(ctx_);
}

Result<std::unique_ptr<TlsConnection>> TlsServer::accept(int fd, std::chrono::milliseconds timeout) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_socket_timeout(fd, timeout);
    SSL* ssl = SSL_new(ctx_);
    if (ssl == nullptr) {
        ::close(fd);
        return Error{Errc::internal, "SSL_new failed: " + openssl_errors()};
    }
    auto conn = std::make_unique<TlsConnection>(fd, ssl);
    SSL_set_app_data(ssl, conn.get());
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    int rc = SSL_accept(ssl);
    if (rc != 1) {
        auto e = conn->ssl_error(rc, "TLS handshake");
        if (e.code() == Errc::timeout) return e;
        return Error{Errc::auth_failed, "client failed the PSK handshake: " + e.message()};
    }
    ZP_CHECK(conn->buffer_io());
    return conn;
}

}  // namespace zeppelin::transfer
