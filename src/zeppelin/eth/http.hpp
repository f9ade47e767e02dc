// A small synchronous HTTP/1.1 client for JSON-RPC: POST only, keep-alive connection reuse,
// deadlines on every step (resolve, connect, write, read). The wire work is net::HttpConnection
// (net/http_client.hpp, shared with the engine and node API clients); this file adds the URL, the
// connection pool, the stale-connection retry and the words of its errors.
//
// Thread-safe: concurrent callers each take an idle connection from a small pool (or open a
// new one), so a slow call never blocks another.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "zeppelin/core/result.hpp"

namespace zeppelin::eth {

/// "http://host[:port][/path]". https is not supported (Errc::unsupported).
struct HttpUrl {
    std::string host;
    std::uint16_t port{80};
    std::string target{"/"};  // path and query

    /// Parses an http:// URL; port defaults to 80, path to "/".
    static Result<HttpUrl> parse(std::string_view url);
    /// Canonical text form, "http://host:port/path".
    [[nodiscard]] std::string to_string() const;
};

struct HttpOptions {
    std::chrono::milliseconds connect_timeout{3000};  // resolve + TCP connect
    std::chrono::milliseconds request_timeout{30000};  // write request + read whole reply
    std::size_t max_reply_bytes{64u * 1024u * 1024u};  // a larger reply body is an error
    std::size_t max_idle_connections{8};               // kept open for reuse
};

struct HttpResponse {
    unsigned status{0};
    std::string reason;
    std::string content_type;
    std::string body;
};

/// How a transport failure happened; decides whether a retry is safe.
enum class HttpFailure {
    none,
    connect,  // never reached the server (resolve/connect failed or timed out): always safe to retry
    send,     // failed while sending or reading: the server may have processed the request
};

/// An HTTP error with the stage it happened at (code is Errc::rpc_unreachable or Errc::timeout,
/// or Errc::rpc_bad_reply for a malformed or oversized reply).
struct HttpError {
    Error error;
    HttpFailure stage{HttpFailure::send};
};

class HttpClient final {
public:
    HttpClient(HttpUrl url, HttpOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// POSTs `body` with the given content type and returns the reply (any status). On a
    /// transport failure returns the error and the stage it happened at.
    [[nodiscard]] std::variant<HttpResponse, HttpError> post(std::string_view body,
                                                             std::string_view content_type = "application/json");

    [[nodiscard]] const HttpUrl& url() const noexcept { return url_; }
    [[nodiscard]] const HttpOptions& options() const noexcept { return options_; }

    /// Closes every idle connection (the next request opens a fresh one).
    void close_idle();

    class Connection;

private:
    std::unique_ptr<Connection> take_idle();
    void give_back(std::unique_ptr<Connection> c);

    HttpUrl url_;
    HttpOptions options_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace zeppelin::eth
