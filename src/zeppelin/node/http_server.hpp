// A small embedded HTTP/1.1 server for the node daemon's local API (Boost.Beast, synchronous
// I/O, one thread per connection up to a cap, so a slow handler or a long stream never blocks
// another request).
//
//     HttpServerOptions options;
//     options.api_token = token;                    // port 0: the system picks one
//     HttpServer server{options};
//     server.route("GET", "/agreements/{id}", [&](const Request& req) {
//         return Response::json(200, {{"id", req.params.at("id")}});
//     });
//     server.route("GET", "/logs", [&](const Request&) {
//         return Response::streaming("text/plain; charset=utf-8", [&](const ChunkWriter& write) {
//             while (write(next_line())) {}        // false: the client left or the server stops
//         });
//     }, Auth::token_always);
//     server.serve_static("/ui/", "/usr/share/zeppelin/ui");
//     ZP_CHECK(server.start());                     // server.port() is now the bound port
//
// Answers the server gives by itself, all as {"error": "..."} JSON: 404 unknown path, 405 wrong
// method (with Allow), 413 body over the limit, 400 malformed request, 401 missing or wrong
// token, 500 when a handler throws (the exception is logged, the server carries on), 503 when
// every connection slot is taken.
//
// Auth: every request whose method is not GET or HEAD must carry `Authorization: Bearer <token>`
// (compared in constant time); Auth::token_always extends that to GET. An empty api_token
// refuses every such request (fails closed). HEAD is served by the GET route without a body.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeppelin/core/result.hpp"

namespace zeppelin::node {

struct Request {
    std::string method;                         // "GET", "POST", ...
    std::string path;                           // as sent, without the query (still %-encoded)
    std::map<std::string, std::string> params;  // {name} segments of the route, %-decoded
    std::map<std::string, std::string> query;   // ?a=1&b=x+y, %-decoded ('+' is a space)
    std::map<std::string, std::string> headers; // lower-case names; repeated fields joined by ", "
    std::string body;

    /// The header's value, or "" if absent (`name` in lower case).
    [[nodiscard]] std::string_view header(const std::string& name) const;
};

/// Sends one chunk of a streaming response; returns false once the client has disconnected or
/// the server is stopping (the producer should then return). An empty chunk sends nothing and
/// only checks the connection: call it periodically while waiting for data.
using ChunkWriter = std::function<bool(std::string_view chunk)>;
using StreamProducer = std::function<void(const ChunkWriter& write)>;
/// A producer that can fail: see Response::fallible_stream.
using FallibleStreamProducer = std::function<Result<void>(const ChunkWriter& write)>;

/// The trailer field that carries a fallible stream's error after its output began.
inline constexpr std::string_view kStreamErrorTrailer = "Zeppelin-Error";

struct Response {
    unsigned status{200};
    std::string content_type{"text/plain; charset=utf-8"};
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    StreamProducer stream;  // set: body is ignored and the producer's chunks are sent chunked
    std::filesystem::path file;  // set: body is ignored and the file is sent, with its length

    /// The file at `path` as the body (with Content-Length; HEAD gets the length only). The file
    /// is opened when the answer is sent: 404 then if it is gone.
    static Response file_body(std::string content_type, std::filesystem::path path);

    static Response json(unsigned status, const nlohmann::json& value);
    /// {"error": message}.
    static Response error(unsigned status, std::string_view message);
    /// {"error": message} with a status chosen from the code (not_found 404, invalid_argument 400, ...).
    static Response error(const Error& error);
    /// A chunked response produced on the connection's own thread; the connection closes after
    /// it. Use content type "text/event-stream" (and sse_event) for server-sent events.
    static Response streaming(std::string content_type, StreamProducer producer);
    /// A chunked response whose head waits for the first chunk: a failure before any output is an
    /// ordinary error answer (Response::error: status from its Errc, JSON body); a failure after it
    /// ends the stream with the trailer field "Zeppelin-Error: <message>".
    static Response fallible_stream(std::string content_type, FallibleStreamProducer producer);

    /// Set by fallible_stream: the head is sent with the first chunk; the producer's error, if any.
    bool lazy_head{false};
    std::shared_ptr<std::optional<Error>> stream_error;
};

/// One server-sent event: "event: <event>\n" (if given), "data: <line>\n" per line, "\n".
std::string sse_event(std::string_view data, std::string_view event = {});

using Handler = std::function<Response(const Request&)>;

enum class Auth {
    token_for_writes,  // token needed unless GET/HEAD (the default)
    token_always,      // token needed for every method (logs, secrets)
};

struct HttpServerOptions {
    std::string host{"127.0.0.1"};
    std::uint16_t port{0};  // 0: the system picks one, see HttpServer::port()
    std::string api_token;
    std::size_t max_body_bytes{1u << 20};
    std::size_t max_connections{64};                // then 503 until one closes
    std::chrono::milliseconds io_timeout{30000};    // longest wait for the peer to send or receive
};

class HttpServer final {
public:
    explicit HttpServer(HttpServerOptions options);
    ~HttpServer();  // stop()
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    /// Registers a handler for `method` on `pattern` ("/a/{id}/b": literal or {name} segments,
    /// matched segment by segment; the first registered match wins). Thread-safe at any time.
    /// `max_body_bytes` overrides the server's limit for this route (an upload route, say). The
    /// route, its token and its limit are decided from the request's head: a request refused
    /// there never has its body read.
    void route(std::string method, std::string_view pattern, Handler handler, Auth auth = Auth::token_for_writes,
               std::optional<std::size_t> max_body_bytes = std::nullopt);
    /// Serves files under `directory` for GET/HEAD paths below `prefix` ("/ui/"), index.html for
    /// directories; "..", "." and encoded slashes are refused, as are symlinks leading outside.
    /// Routes take precedence over static files.
    void serve_static(std::string_view prefix, std::filesystem::path directory);

    /// Binds host:port and starts accepting on a background thread.
    Result<void> start();
    /// Closes the listener, makes every ChunkWriter return false, waits for every connection
    /// thread (a handler that never returns blocks this). Idempotent; the server cannot restart.
    void stop();
    /// The bound port (after start()).
    [[nodiscard]] std::uint16_t port() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// A fresh API token: 32 bytes from OpenSSL's CSPRNG, as 64 hex characters.
Result<std::string> generate_api_token();

/// Constant-time comparison (for the length of the strings) of two secrets.
bool secrets_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace zeppelin::node
