#include "zeppelin/eth/http.hpp"

// GCC 12 warns that Asio's atomic_thread_fence is invisible to ThreadSanitizer (-Wtsan); Asio
// synchronizes with mutexes as well, and the warning would break -Werror TSan builds.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <optional>

namespace zeppelin::eth {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------- URL

Result<HttpUrl> HttpUrl::parse(std::string_view url) {
    const std::string_view original = url;
    auto lower_prefix = [&](std::string_view p) {
        if (url.size() < p.size()) return false;
        for (std::size_t i = 0; i < p.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
        return true;
    };
    if (lower_prefix("https://"))
        return Error{Errc::unsupported, "https RPC endpoints are not supported yet (" + std::string{original} +
                                            "); use an http:// endpoint or a local TLS-terminating proxy"};
    if (!lower_prefix("http://"))
        return Error{Errc::invalid_argument,
                     "RPC URL must start with http:// (got \"" + std::string{original} + "\")"};
    url.remove_prefix(7);
    HttpUrl out;
    const auto slash = url.find_first_of("/?");
    std::string_view authority = url.substr(0, slash);
    out.target = slash == std::string_view::npos ? "/" : std::string{url.substr(slash)};
    if (!out.target.empty() && out.target[0] == '?') out.target.insert(out.target.begin(), '/');
    if (authority.find('@') != std::string_view::npos)
        return Error{Errc::invalid_argument, "RPC URL with user:password@ is not supported: " + std::string{original}};
    std::string_view host = authority;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {  // [ipv6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return Error{Errc::invalid_argument, "RPC URL has an unterminated IPv6 address: " + std::string{original}};
        host = authority.substr(1, close - 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return Error{Errc::invalid_argument, "RPC URL has junk after the IPv6 address: " + std::string{original}};
            port_text = rest.substr(1);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return Error{Errc::invalid_argument, "RPC URL has no host: " + std::string{original}};
    out.host = std::string{host};
    if (!port_text.empty()) {
        unsigned port = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535)
            return Error{Errc::invalid_argument, "RPC URL has an invalid port \"" + std::string{port_text} +
                                                     "\": " + std::string{original}};
        out.port = static_cast<std::uint16_t>(port);
    }
    return out;
}

std::string HttpUrl::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + (target == "/" ? "" : target);
}

// ---------------------------------------------------------------- connection

namespace {

std::string describe(const boost::system::error_code& ec) {
    if (ec == net::error::connection_refused) return "connection refused";
    if (ec == net::error::connection_reset) return "connection reset by the node";
    if (ec == net::error::connection_aborted) return "connection aborted";
    if (ec == http::error::end_of_stream || ec == net::error::eof)
        return "the node closed the connection before replying";
    if (ec == net::error::host_not_found || ec == net::error::host_not_found_try_again)
        return "host not found";
    if (ec == net::error::network_unreachable) return "network unreachable";
    if (ec == net::error::host_unreachable) return "host unreachable";
    if (ec == net::error::broken_pipe) return "connection broken";
    std::string m = ec.message();
    if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
    return m;
}

std::string seconds_text(std::chrono::milliseconds ms) {
    const auto v = ms.count();
    if (v % 1000 == 0) return std::to_string(v / 1000) + " s";
    return std::to_string(v) + " ms";
}

bool is_stale_connection_error(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::connection_aborted;
}

}  // namespace

class HttpClient::Connection {
public:
    Connection() = default;

    /// Runs queued handlers to completion.
    void run() {
        ioc_.restart();
        ioc_.run();
    }

    std::optional<HttpError> connect(const HttpUrl& url, std::chrono::milliseconds timeout) {
        tcp::resolver resolver{ioc_};
        net::steady_timer timer{ioc_};
        boost::system::error_code ec;
        tcp::resolver::results_type results;
        bool timed_out = false;
        timer.expires_after(timeout);
        timer.async_wait([&](const boost::system::error_code& e) {
            if (!e) {
                timed_out = true;
                resolver.cancel();
            }
        });
        resolver.async_resolve(url.host, std::to_string(url.port),
                               [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                                   ec = e;
                                   results = std::move(r);
                                   timer.cancel();
                               });
        run();
        if (timed_out) return HttpError{Error{Errc::rpc_unreachable, "resolving " + url.host + " timed out"}, HttpFailure::connect};
        if (ec) return HttpError{Error{Errc::rpc_unreachable, "cannot resolve " + url.host + ": " + describe(ec)}, HttpFailure::connect};

        stream_.expires_after(timeout);
        stream_.async_connect(results, [&](const boost::system::error_code& e, const tcp::endpoint&) { ec = e; });
        run();
        if (ec == beast::error::timeout)
            return HttpError{Error{Errc::rpc_unreachable, "connect timed out after " + seconds_text(timeout)}, HttpFailure::connect};
        if (ec) return HttpError{Error{Errc::rpc_unreachable, describe(ec)}, HttpFailure::connect};
        beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay{true}, ec);
        open_ = true;
        return std::nullopt;
    }

    struct Outcome {
        std::variant<HttpResponse, HttpError> result;
        bool stale{false};       // a reused connection turned out to be closed before any reply byte
        bool keep_alive{false};  // the connection may be reused
    };

    Outcome request(const HttpUrl& url, const HttpOptions& options, std::string_view body,
                    std::string_view content_type) {
        http::request<http::string_body> req{http::verb::post, url.target, 11};
        req.set(http::field::host, url.host + ":" + std::to_string(url.port));
        req.set(http::field::user_agent, "zeppelin");
        req.set(http::field::content_type, std::string{content_type});
        req.set(http::field::accept, "application/json");
        req.keep_alive(true);
        req.body() = std::string{body};
        req.prepare_payload();

        boost::system::error_code ec;
        stream_.expires_after(options.request_timeout);
        http::async_write(stream_, req, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
        run();
        if (ec) {
            open_ = false;
            if (ec == beast::error::timeout)
                return {HttpError{Error{Errc::timeout, "sending the request timed out after " +
                                                           seconds_text(options.request_timeout)},
                                  HttpFailure::send},
                        false, false};
            return {HttpError{Error{Errc::rpc_unreachable, describe(ec)}, HttpFailure::send},
                    is_stale_connection_error(ec) || ec == net::error::connection_reset, false};
        }

        http::response_parser<http::string_body> parser;
        parser.body_limit(options.max_reply_bytes);
        parser.header_limit(64 * 1024);
        std::size_t read_bytes = 0;
        buffer_.clear();
        // Header first: Beast 1.74 does not apply body_limit to a Content-Length body, so the
        // declared length is checked here (chunked bodies are limited by the parser).
        http::async_read_header(stream_, buffer_, parser, [&](const boost::system::error_code& e, std::size_t n) {
            ec = e;
            read_bytes = n;
        });
        run();
        if (!ec && parser.content_length() && *parser.content_length() > options.max_reply_bytes)
            ec = http::error::body_limit;
        if (!ec && !parser.is_done()) {
            http::async_read(stream_, buffer_, parser, [&](const boost::system::error_code& e, std::size_t n) {
                ec = e;
                read_bytes += n;
            });
            run();
        }
        if (ec) {
            open_ = false;
            if (ec == beast::error::timeout)
                return {HttpError{Error{Errc::timeout, "no reply within " + seconds_text(options.request_timeout)},
                                  HttpFailure::send},
                        false, false};
            if (ec == http::error::body_limit)
                return {HttpError{Error{Errc::rpc_bad_reply, "the reply is larger than the " +
                                                                 std::to_string(options.max_reply_bytes) +
                                                                 "-byte limit"},
                                  HttpFailure::send},
                        false, false};
            if (is_stale_connection_error(ec))
                return {HttpError{Error{Errc::rpc_unreachable, describe(ec)}, HttpFailure::send}, read_bytes == 0,
                        false};
            if (ec.category() == http::make_error_code(http::error::bad_target).category() || ec == http::error::partial_message)
                return {HttpError{Error{Errc::rpc_bad_reply, "the reply is not valid HTTP (" + describe(ec) + ")"},
                                  HttpFailure::send},
                        false, false};
            return {HttpError{Error{Errc::rpc_unreachable, describe(ec)}, HttpFailure::send}, false, false};
        }
        auto& res = parser.get();
        HttpResponse out;
        out.status = res.result_int();
        out.reason = std::string{res.reason()};
        out.content_type = std::string{res[http::field::content_type]};
        out.body = std::move(res.body());
        const bool keep = res.keep_alive();
        if (!keep) close();
        return {std::move(out), false, keep};
    }

    void close() {
        boost::system::error_code ec;
        beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(stream_).socket().close(ec);
        open_ = false;
    }

    [[nodiscard]] bool is_open() const noexcept { return open_; }

private:
    net::io_context ioc_{1};
    beast::tcp_stream stream_{ioc_};
    beast::flat_buffer buffer_;
    bool open_{false};
};

// ---------------------------------------------------------------- client

HttpClient::HttpClient(HttpUrl url, HttpOptions options) : url_{std::move(url)}, options_{options} {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::take_idle() {
    std::lock_guard lock{mutex_};
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
}

void HttpClient::give_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock{mutex_};
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(c));
}

void HttpClient::close_idle() {
    std::vector<std::unique_ptr<Connection>> old;
    {
        std::lock_guard lock{mutex_};
        old.swap(idle_);
    }
    for (auto& c : old) c->close();
}

std::variant<HttpResponse, HttpError> HttpClient::post(std::string_view body, std::string_view content_type) {
    // A pooled connection may have been closed by the server while idle; that shows up as a
    // failure before any reply byte, and the request is then repeated once on a fresh
    // connection (what browsers and Go's net/http do).
    for (;;) {
        auto conn = take_idle();
        const bool reused = conn != nullptr;
        if (!conn) {
            conn = std::make_unique<Connection>();
            if (auto err = conn->connect(url_, options_.connect_timeout)) return std::move(*err);
        }
        auto outcome = conn->request(url_, options_, body, content_type);
        if (outcome.keep_alive && conn->is_open()) give_back(std::move(conn));
        if (outcome.stale && reused) {
            close_idle();  // its siblings are probably dead too (node restarted)
            continue;
        }
        return std::move(outcome.result);
    }
}

}  // namespace zeppelin::eth
