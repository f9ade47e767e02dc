#include "zeppelin/eth/http.hpp"

#include <cctype>
#include <charconv>
#include <optional>

#include "zeppelin/net/http_client.hpp"

namespace zeppelin::eth {

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

// The words the RPC client has always used for a transport failure.
std::string describe(const net::Failure& f) {
    switch (f.fault) {
        case net::Fault::refused: return "connection refused";
        case net::Fault::reset: return "connection reset by the node";
        case net::Fault::aborted: return "connection aborted";
        case net::Fault::closed: return "the node closed the connection before replying";
        case net::Fault::host_not_found: return "host not found";
        case net::Fault::network_unreachable: return "network unreachable";
        case net::Fault::host_unreachable: return "host unreachable";
        case net::Fault::broken_pipe: return "connection broken";
        default: return net::lower_first(f.message);
    }
}

}  // namespace

class HttpClient::Connection {
public:
    std::optional<HttpError> connect(const HttpUrl& url, std::chrono::milliseconds timeout) {
        auto f = conn_.connect(net::TcpEndpoint{url.host, url.port}, timeout);
        if (!f) return std::nullopt;
        if (f->step == net::Step::resolve) {
            if (f->fault == net::Fault::timeout)
                return HttpError{Error{Errc::rpc_unreachable, "resolving " + url.host + " timed out"}, HttpFailure::connect};
            return HttpError{Error{Errc::rpc_unreachable, "cannot resolve " + url.host + ": " + describe(*f)},
                             HttpFailure::connect};
        }
        if (f->fault == net::Fault::timeout)
            return HttpError{Error{Errc::rpc_unreachable, "connect timed out after " + net::duration_text(timeout)},
                             HttpFailure::connect};
        return HttpError{Error{Errc::rpc_unreachable, describe(*f)}, HttpFailure::connect};
    }

    struct Outcome {
        std::variant<HttpResponse, HttpError> result;
        bool stale{false};       // a reused connection turned out to be closed before any reply byte
        bool keep_alive{false};  // the connection may be reused
    };

    Outcome request(const HttpUrl& url, const HttpOptions& options, std::string_view body,
                    std::string_view content_type) {
        net::Request req;
        req.method = "POST";
        req.target = url.target;
        req.fields = {{"Host", url.host + ":" + std::to_string(url.port)},
                      {"User-Agent", "zeppelin"},
                      {"Content-Type", std::string{content_type}},
                      {"Accept", "application/json"}};
        req.body = std::string{body};
        req.keep_alive = true;

        const auto deadline = net::deadline_after(options.request_timeout);  // the write and the whole reply
        if (auto f = conn_.write(req, deadline)) {
            if (f->fault == net::Fault::timeout)
                return {HttpError{Error{Errc::timeout, "sending the request timed out after " +
                                                           net::duration_text(options.request_timeout)},
                                  HttpFailure::send},
                        false, false};
            return {HttpError{Error{Errc::rpc_unreachable, describe(*f)}, HttpFailure::send}, f->peer_gone(), false};
        }
        auto head = conn_.read_head(deadline);
        if (auto* f = std::get_if<net::Failure>(&head)) return read_failure(*f, options);
        auto& h = std::get<net::ResponseHead>(head);
        auto reply = conn_.read_body(options.max_reply_bytes, deadline);
        if (auto* f = std::get_if<net::Failure>(&reply)) return read_failure(*f, options);
        HttpResponse out;
        out.status = h.status;
        out.reason = std::move(h.reason);
        out.content_type = std::move(h.content_type);
        out.body = std::get<std::string>(std::move(reply));
        if (!h.keep_alive) close();
        return {std::move(out), false, h.keep_alive};
    }

    void close() { conn_.close(); }

    [[nodiscard]] bool is_open() const noexcept { return conn_.is_open(); }

private:
    static Outcome read_failure(const net::Failure& f, const HttpOptions& options) {
        if (f.fault == net::Fault::timeout)
            return {HttpError{Error{Errc::timeout, "no reply within " + net::duration_text(options.request_timeout)},
                              HttpFailure::send},
                    false, false};
        if (f.fault == net::Fault::body_limit)
            return {HttpError{Error{Errc::rpc_bad_reply, "the reply is larger than the " +
                                                             std::to_string(options.max_reply_bytes) + "-byte limit"},
                              HttpFailure::send},
                    false, false};
        if (f.peer_gone())
            return {HttpError{Error{Errc::rpc_unreachable, describe(f)}, HttpFailure::send}, f.before_reply, false};
        if (f.fault == net::Fault::malformed || f.fault == net::Fault::partial_message)
            return {HttpError{Error{Errc::rpc_bad_reply, "the reply is not valid HTTP (" + describe(f) + ")"},
                              HttpFailure::send},
                    false, false};
        return {HttpError{Error{Errc::rpc_unreachable, describe(f)}, HttpFailure::send}, false, false};
    }

    net::HttpConnection conn_;
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
