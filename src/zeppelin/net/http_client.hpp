// The one HTTP/1.1 client layer under Zeppelin's three HTTP clients: the JSON-RPC client
// (eth/http.hpp, TCP, keep-alive pool, retries), the Docker Engine API client
// (runtime/unix_http.hpp, a unix socket, streamed bodies both ways) and the CLI's client of the
// node's local API (cli/node_client.hpp, TCP, streamed logs).
//
// One HttpConnection is one connection with its private event loop, driven synchronously; every
// step takes a deadline and cannot outlive it (Beast's stream expiry only applies to
// asynchronous operations, so each step runs them on the private io_context). What to do with
// a failure (retry, which words to show) is the caller's business: a Failure says what
// happened as a typed Fault, plus the system's own text for it.
//
//     net::HttpConnection c;
//     if (auto f = c.connect(net::TcpEndpoint{"127.0.0.1", 8545}, 3s)) return ...;
//     auto deadline = net::deadline_after(30s);
//     net::Request req;  req.method = "POST";  req.fields = {{"Host", "x"}};  req.body = "{}";
//     if (auto f = c.write(req, deadline)) return ...;
//     auto head = c.read_head(deadline);               // status, reason, content type, length
//     auto body = c.read_body(64 << 20, deadline);     // or read_some() piece by piece
//
// Not thread-safe: one thread drives a connection at a time (the eth client pools them).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace zeppelin::net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

/// No deadline (a stream followed until the server ends it).
inline constexpr Deadline kNever = Deadline::max();
inline Deadline deadline_after(std::chrono::milliseconds d) { return Clock::now() + d; }

struct TcpEndpoint {
    std::string host;  // a name or an address (resolved on connect)
    std::uint16_t port{0};
};
struct UnixEndpoint {
    std::string path;  // a unix stream socket
};
using Endpoint = std::variant<TcpEndpoint, UnixEndpoint>;

/// What went wrong, as far as a caller needs to decide on it.
enum class Fault : std::uint8_t {
    timeout,              // the step's deadline passed
    refused,              // nobody listens there
    closed,               // the peer closed the connection cleanly (EOF) before a message began
    reset,                // connection reset by the peer
    aborted,              // connection aborted
    broken_pipe,          // writing to a connection the peer had closed
    host_not_found,       // the name does not resolve
    network_unreachable,  //
    host_unreachable,     //
    partial_message,      // the connection ended inside a message
    body_limit,           // the reply body is larger than the caller's limit
    malformed,            // not valid HTTP
    other,                // anything else (e.g. a unix socket path that does not exist)
};

/// The step a failure happened at.
enum class Step : std::uint8_t { resolve, connect, send, receive };

struct Failure {
    Fault fault{Fault::other};
    Step step{Step::send};
    std::string message;  // the system's text for it, as it gives it ("Connection refused")
    /// No byte of the reply had arrived (a reused keep-alive connection the server had closed
    /// shows up this way).
    bool before_reply{false};

    /// The peer went away: closed, reset, aborted or a broken pipe.
    [[nodiscard]] bool peer_gone() const noexcept {
        return fault == Fault::closed || fault == Fault::reset || fault == Fault::aborted ||
               fault == Fault::broken_pipe;
    }
};

struct Request {
    std::string method{"GET"};
    std::string target{"/"};                                  // path and query
    std::vector<std::pair<std::string, std::string>> fields;  // Host, Authorization, ...
    std::string body;  // sent with Content-Length by write() (none for an empty GET)
    bool keep_alive{true};  // false: "Connection: close"
};

struct ResponseHead {
    unsigned status{0};
    std::string reason;
    std::string content_type;
    std::optional<std::uint64_t> content_length;
    bool keep_alive{false};  // the server allows reusing the connection
};

/// A piece of a body read by read_some(): `size` bytes arrived (possibly some even when the
/// read then failed).
struct Piece {
    std::size_t size{0};
    std::optional<Failure> failure;
};

class HttpConnection final {
  public:
    HttpConnection();
    ~HttpConnection();
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    /// Resolves (TCP: every resolved address is tried in turn) and connects, each of the two
    /// within `timeout`.
    [[nodiscard]] std::optional<Failure> connect(const Endpoint& endpoint, std::chrono::milliseconds timeout);

    /// Sends a whole request (body with Content-Length, per HTTP's rules for the method).
    [[nodiscard]] std::optional<Failure> write(const Request& request, Deadline deadline);

    /// Sends a request's head for a body streamed after it: Content-Length `size`, or chunked
    /// transfer encoding when size is absent. Then write_body() per piece and end_body().
    [[nodiscard]] std::optional<Failure> begin_body(const Request& request, std::optional<std::uint64_t> size,
                                                    Deadline deadline);
    /// One piece of the streamed body (framed as a chunk when the body is chunked).
    [[nodiscard]] std::optional<Failure> write_body(std::string_view piece, Deadline deadline);
    /// Ends a streamed body (the last chunk when chunked; nothing otherwise).
    [[nodiscard]] std::optional<Failure> end_body(Deadline deadline);

    /// Reads the head of the reply (a new reply each time: the previous one must be finished).
    [[nodiscard]] std::variant<ResponseHead, Failure> read_head(Deadline deadline);
    /// Reads what has arrived of the body, at most out.size() bytes, without waiting for more than
    /// one read (events and followed logs trickle). size 0 and no failure once body_done().
    [[nodiscard]] Piece read_some(std::span<char> out, Deadline deadline);
    [[nodiscard]] bool body_done() const noexcept;
    /// A field of the reply's head, or once body_done() of its trailer (chunked bodies: a server
    /// reports a failure after the output began there).
    [[nodiscard]] std::optional<std::string> field(std::string_view name) const;
    /// Reads the rest of the body; Fault::body_limit when it is (or declares itself) larger than
    /// `limit` bytes.
    [[nodiscard]] std::variant<std::string, Failure> read_body(std::size_t limit, Deadline deadline);

    /// Shuts the connection down (idempotent).
    void close() noexcept;
    [[nodiscard]] bool is_open() const noexcept;

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

/// "30 s", "1500 ms": a timeout as the error messages of the clients above write it.
std::string duration_text(std::chrono::milliseconds ms);
/// The system's message with a lower-case first letter, to sit inside a sentence.
std::string lower_first(std::string message);

}  // namespace zeppelin::net
