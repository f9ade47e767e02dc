#include "zeppelin/node/http_server.hpp"

// GCC 12 warns that Asio's atomic_thread_fence is invisible to ThreadSanitizer (-Wtsan); see eth/http.cpp.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::node {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPollSlice = std::chrono::milliseconds{100};  // how soon a waiting thread notices stop()

// Waits until `fd` is ready for `events`, in short slices so that `stopping` is noticed. False on
// stop or timeout; true also on errors and hang-ups (the next I/O call reports them).
bool wait_ready(int fd, short events, const std::atomic<bool>& stopping, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!stopping.load()) {
        pollfd p{fd, events, 0};
        if (::poll(&p, 1, static_cast<int>(kPollSlice.count())) != 0) return true;
        if (Clock::now() >= deadline) return false;
    }
    return false;
}

// True if the peer closed or reset the connection (checked without blocking).
bool peer_gone(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// A Beast SyncRead/WriteStream over a non-blocking socket whose every wait has a timeout and
// ends when the server stops: sync Asio calls cannot be cancelled, a poll() loop can.
class PollingStream {
public:
    PollingStream(tcp::socket& socket, const std::atomic<bool>& stopping, std::chrono::milliseconds timeout)
        : socket_{socket}, stopping_{stopping}, timeout_{timeout} {}

    template <class Buffers>
    std::size_t read_some(const Buffers& b, beast::error_code& ec) {
        return io(POLLIN, ec, [&] { return socket_.read_some(b, ec); });
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& b, beast::error_code& ec) {
        return io(POLLOUT, ec, [&] { return socket_.write_some(b, ec); });
    }
    template <class Buffers>
    std::size_t read_some(const Buffers& b) {
        return or_throw([&](beast::error_code& ec) { return read_some(b, ec); });
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& b) {
        return or_throw([&](beast::error_code& ec) { return write_some(b, ec); });
    }

private:
    template <class Op>
    std::size_t io(short events, beast::error_code& ec, Op op) {
        for (;;) {
            const std::size_t n = op();
            if (ec != net::error::would_block && ec != net::error::try_again) return n;
            if (!wait_ready(socket_.native_handle(), events, stopping_, timeout_)) {
                ec = stopping_ ? net::error::operation_aborted : net::error::timed_out;
                return 0;
            }
        }
    }
    template <class Op>
    static std::size_t or_throw(Op op) {
        beast::error_code ec;
        const std::size_t n = op(ec);
        if (ec) throw beast::system_error{ec};
        return n;
    }

    tcp::socket& socket_;
    const std::atomic<bool>& stopping_;
    std::chrono::milliseconds timeout_;
};

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    const int l = std::tolower(static_cast<unsigned char>(c));
    return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (std::size_t start = 0;;) {
        const auto end = s.find(sep, start);
        out.push_back(s.substr(start, end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}

std::string lower(std::string_view s) {
    std::string out{s};
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view content_type_for(const std::filesystem::path& file) {
    static const std::map<std::string, std::string_view> types{
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},
        {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"},
        {".wasm", "application/wasm"},
    };
    const auto it = types.find(lower(file.extension().string()));
    return it == types.end() ? "application/octet-stream" : it->second;
}

template <class Body>
void set_headers(http::response<Body>& res, const Response& r, bool keep_alive) {
    res.set(http::field::server, "zeppelin");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive);
}

struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" segments are parameters
    std::shared_ptr<const Handler> handler;
    Auth auth;
    std::optional<std::size_t> max_body_bytes;  // unset: the server's
};

struct Mount {
    std::vector<std::string> prefix;  // non-empty segments
    std::filesystem::path root;
};

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::map<std::string, std::string>& params) {
    if (pattern.size() != path.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const std::string& p = pattern[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}')
            params[p.substr(1, p.size() - 2)] = path[i];
        else if (p != path[i])
            return false;
    }
    return true;
}

}  // namespace

struct HttpServer::Impl {
    explicit Impl(HttpServerOptions o) : options{std::move(o)} {}

    struct Connection {
        std::thread thread;
        std::atomic<bool> done{false};
    };

    HttpServerOptions options;
    net::io_context io;  // owns the sockets; never run (all I/O is synchronous)
    tcp::acceptor acceptor{io};
    std::atomic<bool> stopping{false};
    std::uint16_t port{0};
    std::thread accept_thread;
    std::list<Connection> connections;  // only touched by the accept thread, then by stop()

    std::mutex mutex;  // guards routes and mounts
    std::vector<Route> routes;
    std::vector<Mount> mounts;

    void accept_loop();
    void serve(tcp::socket socket);
    void send_stream(PollingStream& stream, tcp::socket& socket, Response& r, unsigned version);
    // False if the connection can no longer be used.
    bool send_file(PollingStream& stream, Response& r, unsigned version, bool keep_alive, bool head_only);
    void linger(tcp::socket& socket);
    // What a request's head decides before any of its body is read: an answer right away (bad
    // target, unknown path, wrong method, missing token, a static file), or the handler to run
    // and how large a body it accepts.
    struct Prepared {
        std::optional<Response> answer;
        Request request;
        std::shared_ptr<const Handler> handler;
        std::size_t max_body_bytes{0};
    };
    static Prepared answer(Response r) {
        Prepared p;
        p.answer = std::move(r);
        return p;
    }
    Prepared prepare(const http::request<http::string_body>& head);
    Response invoke(const Prepared& p);
    Response serve_file(const Mount& mount, const std::vector<std::string>& segments, std::string_view raw_path);
    bool authorized(const Request& req) const;
};

void HttpServer::Impl::accept_loop() {
    while (!stopping) {
        if (!wait_ready(acceptor.native_handle(), POLLIN, stopping, std::chrono::hours{1})) continue;
        beast::error_code ec;
        tcp::socket socket{io};
        acceptor.accept(socket, ec);
        if (ec) {
            if (ec != net::error::would_block && ec != net::error::try_again) {
                spdlog::warn("http: accept failed: {}", ec.message());
                std::this_thread::sleep_for(kPollSlice);  // e.g. out of file descriptors: do not spin
            }
            continue;
        }
        connections.remove_if([](Connection& c) {
            if (!c.done) return false;
            c.thread.join();
            return true;
        });
        if (connections.size() >= options.max_connections) {
            static constexpr std::string_view busy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 32\r\n"
                "Connection: close\r\n\r\n{\"error\":\"too many connections\"}";
            socket.non_blocking(true, ec);
            socket.write_some(net::buffer(busy), ec);
            continue;
        }
        Connection& c = connections.emplace_back();
        c.thread = std::thread{[this, &c, s = std::move(socket)]() mutable {
            serve(std::move(s));
            c.done = true;
        }};
    }
}

void HttpServer::Impl::serve(tcp::socket socket) {
    beast::error_code ec;
    socket.non_blocking(true, ec);
    PollingStream stream{socket, stopping, options.io_timeout};
    beast::flat_buffer buffer;
    const auto& http_category = http::make_error_code(http::error::bad_target).category();
    while (!ec && !stopping) {
        // The head first: the route, its token and its body limit are settled before a byte of the
        // body is read, so nobody without the token makes the node buffer a large upload.
        http::request_parser<http::string_body> parser;
        // Beast checks Content-Length against the limit while parsing the head; the route decides
        // below. (Not boost::none: Beast 1.74 compares the length with the optional, and none loses.)
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        http::read_header(stream, buffer, parser, ec);
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) break;
        std::optional<Response> res;
        Prepared prepared;
        if (ec && ec.category() == http_category) {
            res = Response::error(400, "malformed request: " + ec.message());
        } else if (ec) {
            break;  // timeout, reset, stop
        } else {
            prepared = prepare(parser.get());
            res = std::move(prepared.answer);
        }
        const auto too_large = [&] {
            return Response::error(413, "request body larger than " + std::to_string(prepared.max_body_bytes) + " bytes");
        };
        if (!res && parser.content_length() && *parser.content_length() > prepared.max_body_bytes) res = too_large();
        if (!res) {
            parser.body_limit(prepared.max_body_bytes);  // a chunked body is held to it as it arrives
            http::read(stream, buffer, parser, ec);
            if (ec == http::error::body_limit)
                res = too_large();
            else if (ec && ec.category() == http_category)
                res = Response::error(400, "malformed request: " + ec.message());
            else if (ec)
                break;
        }
        const auto& req = parser.get();
        const unsigned version = ec ? 11u : req.version();
        // An answer given without reading the body leaves it on the connection: close it then.
        const bool body_left = !ec && !parser.is_done();
        const bool keep_alive = !ec && !body_left && req.keep_alive();
        if (!res) {
            prepared.request.body = std::move(parser.get().body());
            res = invoke(prepared);
        }
        if (res->stream && req.method() != http::verb::head) {
            send_stream(stream, socket, *res, version);
            break;
        }
        if (!res->file.empty()) {
            if (!send_file(stream, *res, version, keep_alive, req.method() == http::verb::head)) break;
        } else if (req.method() == http::verb::head) {
            http::response<http::empty_body> head{static_cast<http::status>(res->status), version};
            set_headers(head, *res, keep_alive);
            head.content_length(res->body.size());
            http::write(stream, head, ec);
        } else {
            http::response<http::string_body> out{static_cast<http::status>(res->status), version};
            set_headers(out, *res, keep_alive);
            out.body() = std::move(res->body);
            out.prepare_payload();
            http::write(stream, out, ec);
        }
        if (body_left) linger(socket);
        if (!keep_alive) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
}

// After an answer given without reading the request's body (401, 404, 413...), the client may still
// be sending it. Closing at once would reset the connection, and the client could lose the answer
// with it; so, like other HTTP servers' lingering close, stop sending, then read and discard what
// arrives until the client is done or idle for a moment, for a bounded time. Nothing is kept.
void HttpServer::Impl::linger(tcp::socket& socket) {
    constexpr auto idle = std::chrono::milliseconds{250};
    constexpr auto at_most = std::chrono::seconds{2};
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    const auto until = Clock::now() + at_most;
    char scratch[64 * 1024];
    while (Clock::now() < until && wait_ready(socket.native_handle(), POLLIN, stopping, idle)) {
        const auto n = ::read(socket.native_handle(), scratch, sizeof scratch);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
    }
}

void HttpServer::Impl::send_stream(PollingStream& stream, tcp::socket& socket, Response& r, unsigned version) {
    http::response<http::empty_body> head{static_cast<http::status>(r.status), version};
    set_headers(head, r, false);
    head.set(http::field::cache_control, "no-cache");
    if (r.lazy_head) head.set(http::field::trailer, std::string{kStreamErrorTrailer});
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    beast::error_code ec;
    bool head_sent = false;
    bool alive = true;
    auto send_head = [&] {
        http::write_header(stream, serializer, ec);
        head_sent = true;
        return alive = !ec;
    };
    if (!r.lazy_head) send_head();
    const ChunkWriter write = [&](std::string_view chunk) {
        if (!alive || stopping || peer_gone(socket.native_handle())) return alive = false;
        if (chunk.empty()) return true;
        if (!head_sent && !send_head()) return false;
        net::write(stream, http::make_chunk(net::const_buffer{chunk.data(), chunk.size()}), ec);
        return alive = !ec;
    };
    try {
        if (alive) r.stream(write);
    } catch (const std::exception& e) {
        spdlog::error("http: streaming handler threw: {}", e.what());
    }
    const auto* failed = r.stream_error && *r.stream_error ? &**r.stream_error : nullptr;
    if (!head_sent && failed != nullptr) {  // nothing sent yet: an ordinary error answer
        auto err = Response::error(*failed);
        http::response<http::string_body> out{static_cast<http::status>(err.status), version};
        set_headers(out, err, false);
        out.body() = std::move(err.body);
        out.prepare_payload();
        if (alive && !stopping) http::write(stream, out, ec);
        return;
    }
    if (!head_sent && !send_head()) return;
    if (!alive || stopping) return;
    if (failed != nullptr) {
        http::fields trailer;
        std::string message = failed->message();
        for (auto& c : message)
            if (c == '\r' || c == '\n') c = ' ';
        trailer.set(std::string{kStreamErrorTrailer}, message);
        net::write(stream, http::make_chunk_last(trailer), ec);
    } else {
        net::write(stream, http::make_chunk_last(), ec);
    }
}

bool HttpServer::Impl::send_file(PollingStream& stream, Response& r, unsigned version, bool keep_alive, bool head_only) {
    beast::error_code ec;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(r.file.c_str(), "rbe"), &std::fclose};
    struct stat st {};
    const bool sized = file && ::fstat(::fileno(file.get()), &st) == 0 && S_ISREG(st.st_mode);  // the file opened, not the path
    const auto size = sized ? static_cast<std::uintmax_t>(st.st_size) : 0;
    if (!sized) {
        Response missing = Response::error(404, "no such file");
        http::response<http::string_body> out{http::status::not_found, version};
        set_headers(out, missing, keep_alive);
        out.body() = std::move(missing.body);
        out.prepare_payload();
        http::write(stream, out, ec);
        return !ec;
    }
    http::response<http::empty_body> head{static_cast<http::status>(r.status), version};
    set_headers(head, r, keep_alive);
    head.content_length(size);
    http::response_serializer<http::empty_body> serializer{head};
    http::write_header(stream, serializer, ec);
    if (ec || head_only) return !ec;
    // Beast's file_body moves 4 KiB per write; a layer of a container image is sent in 1 MiB pieces.
    std::vector<char> buffer(std::size_t{1} << 20);
    for (std::uintmax_t left = size; left > 0;) {
        const auto n = std::fread(buffer.data(), 1, static_cast<std::size_t>(std::min<std::uintmax_t>(left, buffer.size())), file.get());
        if (n == 0) return false;  // the file shrank: the peer sees a short body
        net::write(stream, net::const_buffer{buffer.data(), n}, ec);
        if (ec) return false;
        left -= n;
    }
    return true;
}

bool HttpServer::Impl::authorized(const Request& req) const {
    std::string_view value = req.header("authorization");
    constexpr std::string_view scheme = "bearer ";
    if (options.api_token.empty() || value.size() < scheme.size() || lower(value.substr(0, scheme.size())) != scheme)
        return false;
    value.remove_prefix(scheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    return secrets_equal(value, options.api_token);
}

HttpServer::Impl::Prepared HttpServer::Impl::prepare(const http::request<http::string_body>& raw) {
    Prepared p;
    Request& req = p.request;
    req.method = std::string{raw.method_string()};
    const std::string_view target{raw.target().data(), raw.target().size()};
    if (target.empty() || target.front() != '/') return answer(Response::error(400, "malformed request target"));
    const auto question = target.find('?');
    req.path = std::string{target.substr(0, question)};
    std::vector<std::string> segments;
    for (const auto segment : split(std::string_view{req.path}.substr(1), '/')) {
        auto decoded = percent_decode(segment, false);
        if (!decoded) return answer(Response::error(400, "malformed %-encoding in the path"));
        segments.push_back(std::move(*decoded));
    }
    if (question != std::string_view::npos) {
        for (const auto pair : split(target.substr(question + 1), '&')) {
            if (pair.empty()) continue;
            const auto eq = pair.find('=');
            auto key = percent_decode(pair.substr(0, eq), true);
            auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
            if (!key || !value) return answer(Response::error(400, "malformed %-encoding in the query"));
            req.query[std::move(*key)] = std::move(*value);
        }
    }
    for (const auto& field : raw) {
        std::string& value = req.headers[lower({field.name_string().data(), field.name_string().size()})];
        value += (value.empty() ? "" : ", ") + std::string{field.value()};
    }

    const bool read_only = req.method == "GET" || req.method == "HEAD";
    std::optional<Mount> mount;
    std::string allowed;
    {
        std::lock_guard lock{mutex};
        for (const Route& route : routes) {
            std::map<std::string, std::string> params;
            if (!match(route.segments, segments, params)) continue;
            if (route.method == req.method || (req.method == "HEAD" && route.method == "GET")) {
                if ((!read_only || route.auth == Auth::token_always) && !authorized(req))
                    return answer(Response::error(401, "missing or wrong API token"));
                p.handler = route.handler;
                p.max_body_bytes = route.max_body_bytes.value_or(options.max_body_bytes);
                req.params = std::move(params);
                break;
            }
            allowed += (allowed.empty() ? "" : ", ") + route.method;
        }
        if (!p.handler) {
            for (const Mount& m : mounts) {
                const auto& prefix = m.prefix;
                if (segments.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), segments.begin())) {
                    mount = m;
                    break;
                }
            }
        }
    }
    if (mount && read_only) {
        return answer(serve_file(*mount, {segments.begin() + static_cast<std::ptrdiff_t>(mount->prefix.size()), segments.end()},
                                 req.path));
    }
    if (mount && allowed.empty()) allowed = "GET, HEAD";
    if (!p.handler) {
        if (allowed.empty()) return answer(Response::error(404, "no such path: " + req.path));
        Response res = Response::error(405, "method " + req.method + " not allowed here");
        res.headers.emplace_back("Allow", allowed);
        return answer(std::move(res));
    }
    return p;
}

Response HttpServer::Impl::invoke(const Prepared& p) {
    const Request& req = p.request;
    try {
        return (*p.handler)(req);
    } catch (const std::exception& e) {
        spdlog::error("http: handler for {} {} threw: {}", req.method, req.path, e.what());
    } catch (...) {
        spdlog::error("http: handler for {} {} threw a non-exception", req.method, req.path);
    }
    return Response::error(500, "internal error (see the node's log)");
}

Response HttpServer::Impl::serve_file(const Mount& mount, const std::vector<std::string>& segments,
                                      std::string_view raw_path) {
    namespace fs = std::filesystem;
    fs::path file = mount.root;
    for (const std::string& s : segments) {
        if (s == "." || s == ".." || s.find_first_of(std::string_view{"/\\\0", 3}) != std::string::npos)
            return Response::error(400, "path not allowed");
        if (!s.empty()) file /= s;
    }
    std::error_code ec, root_ec;
    if (fs::is_directory(file, ec)) {
        if (raw_path.back() != '/') {  // so that relative links in index.html resolve below it
            Response res;
            res.status = 301;
            res.headers.emplace_back("Location", std::string{raw_path} + "/");
            return res;
        }
        file /= "index.html";
    }
    const fs::path real = fs::canonical(file, ec);
    const fs::path root = fs::canonical(mount.root, root_ec);
    const auto [root_end, _] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (ec || root_ec || root_end != root.end() || !fs::is_regular_file(real, ec)) return Response::error(404, "no such file");
    std::ifstream in{real, std::ios::binary};
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return Response::error(500, "cannot read file");
    Response res;
    res.content_type = std::string{content_type_for(real)};
    res.body = std::move(body).str();
    return res;
}

HttpServer::HttpServer(HttpServerOptions options) : impl_{std::make_unique<Impl>(std::move(options))} {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string_view pattern, Handler handler, Auth auth,
                       std::optional<std::size_t> max_body_bytes) {
    std::vector<std::string> segments;
    for (const auto s : split(pattern.substr(pattern.starts_with('/') ? 1 : 0), '/')) segments.emplace_back(s);
    std::lock_guard lock{impl_->mutex};
    impl_->routes.push_back(Route{std::move(method), std::move(segments),
                                  std::make_shared<const Handler>(std::move(handler)), auth, max_body_bytes});
}

void HttpServer::serve_static(std::string_view prefix, std::filesystem::path directory) {
    Mount mount{{}, std::move(directory)};
    for (const auto s : split(prefix, '/'))
        if (!s.empty()) mount.prefix.emplace_back(s);
    std::lock_guard lock{impl_->mutex};
    impl_->mounts.push_back(std::move(mount));
}

Result<void> HttpServer::start() {
    Impl& s = *impl_;
    if (s.accept_thread.joinable() || s.stopping) return Error{Errc::invalid_argument, "HTTP server already started"};
    beast::error_code ec;
    tcp::resolver resolver{s.io};
    const auto endpoints = resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
    const std::string where = s.options.host + ":" + std::to_string(s.options.port);
    if (ec || endpoints.empty()) return Error{Errc::invalid_argument, "cannot resolve " + where + ": " + ec.message()};
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    s.acceptor.open(endpoint.protocol(), ec);
    if (!ec) s.acceptor.set_option(net::socket_base::reuse_address{true}, ec);
    if (!ec) s.acceptor.bind(endpoint, ec);
    if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) s.acceptor.non_blocking(true, ec);
    if (!ec) s.port = s.acceptor.local_endpoint(ec).port();
    if (ec) {
        s.acceptor.close(ec);
        return Error{Errc::io, "cannot listen on " + where + ": " + ec.message()};
    }
    s.accept_thread = std::thread{[&s] { s.accept_loop(); }};
    return {};
}

void HttpServer::stop() {
    Impl& s = *impl_;
    s.stopping = true;
    if (s.accept_thread.joinable()) s.accept_thread.join();
    beast::error_code ec;
    s.acceptor.close(ec);
    for (auto& c : s.connections) c.thread.join();
    s.connections.clear();
}

std::uint16_t HttpServer::port() const noexcept { return impl_->port; }

}  // namespace zeppelin::node
