// A minimal synchronous HTTP/1.1 client over a unix stream socket, for the Docker Engine API (the
// wire work is net::HttpConnection, shared with the RPC and node API clients).
// One request per connection (opening a unix socket costs microseconds, and a fresh connection
// keeps every call independent, so the client is safe to use from several threads at once).
// Every step runs on a private io_context under a deadline, so no call can hang: a total deadline
// for the whole exchange and an idle limit between two bytes (for long streams such as logs).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"
#include "zeppelin/runtime/address.hpp"

namespace zeppelin::runtime {

/// Produces the next piece of a streamed request body into `buffer`; returns the number of bytes
/// written (0 = end of body) or an Error, which aborts the request.
using BodySource = std::function<Result<std::size_t>(std::span<char> buffer)>;

/// Receives a streamed reply body piece by piece; returns false to stop reading (the connection is
/// then closed and the exchange ends successfully).
using BodySink = std::function<bool(std::string_view piece)>;

struct HttpRequest {
    std::string method{"GET"};
    std::string target;  // path and query, e.g. "/v1.41/containers/json?all=1"
    std::string content_type;
    std::string body;                          // used when `source` is empty
    BodySource source;                         // a streamed body (e.g. an image tar)
    std::optional<std::uint64_t> source_size;  // Content-Length of `source`; chunked encoding when absent
};

struct HttpReply {
    unsigned status{0};
    std::string body;           // the whole body, or (for a streamed 2xx reply) empty
    bool stopped_early{false};  // the sink asked to stop before the end of the body
};

struct HttpTimeouts {
    std::chrono::milliseconds connect{2000};
    std::chrono::milliseconds total{30000};  // the whole exchange
    std::chrono::milliseconds idle{30000};   // the longest wait for the next byte in or out
};

class UnixHttpClient final {
  public:
    UnixHttpClient(EngineAddress address, std::size_t max_reply_bytes)
        : address_{std::move(address)}, max_reply_bytes_{max_reply_bytes} {}

    /// Sends `request` on a fresh connection. When `sink` is given and the status is 2xx, the body is
    /// streamed to it instead of being collected (an error reply is always collected, so its message can
    /// be shown). Errors: Errc::io (engine unreachable, or the connection broke: the engine may have
    /// crashed), Errc::timeout, Errc::engine_error (malformed or oversized reply).
    [[nodiscard]] Result<HttpReply> exchange(const HttpRequest& request, const HttpTimeouts& timeouts,
                                             const BodySink& sink = {}) const;

    [[nodiscard]] const EngineAddress& address() const noexcept { return address_; }

  private:
    EngineAddress address_;
    std::size_t max_reply_bytes_;
};

}  // namespace zeppelin::runtime
