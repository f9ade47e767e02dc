#include "zeppelin/net/http_client.hpp"

// GCC 12 warns that Asio's atomic_thread_fence is invisible to ThreadSanitizer (-Wtsan); Asio
// synchronizes with mutexes as well, and the warning would break -Werror TSan builds.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <limits>

namespace zeppelin::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using error_code = boost::system::error_code;

std::string duration_text(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
    return std::to_string(ms.count()) + " ms";
}

std::string lower_first(std::string message) {
    if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
    return message;
}

namespace {

Fault fault_of(const error_code& ec) {
    if (ec == beast::error::timeout) return Fault::timeout;
    if (ec == asio::error::connection_refused) return Fault::refused;
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return Fault::closed;
    if (ec == asio::error::connection_reset) return Fault::reset;
    if (ec == asio::error::connection_aborted) return Fault::aborted;
    if (ec == asio::error::broken_pipe) return Fault::broken_pipe;
    if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again) return Fault::host_not_found;
    if (ec == asio::error::network_unreachable) return Fault::network_unreachable;
    if (ec == asio::error::host_unreachable) return Fault::host_unreachable;
    if (ec == http::error::partial_message) return Fault::partial_message;
    if (ec == http::error::body_limit) return Fault::body_limit;
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) return Fault::malformed;
    return Fault::other;
}

Failure failure(const error_code& ec, Step step) { return Failure{fault_of(ec), step, ec.message(), false}; }

Failure not_connected(Step step) { return Failure{Fault::other, step, "not connected", false}; }

}  // namespace

// The transport-independent half: everything after connect() works on any Beast stream.
class HttpConnection::Impl {
  public:
    virtual ~Impl() = default;

    virtual std::optional<Failure> write(const Request& request, Deadline deadline) = 0;
    virtual std::optional<Failure> begin_body(const Request& request, std::optional<std::uint64_t> size,
                                              Deadline deadline) = 0;
    virtual std::optional<Failure> write_body(std::string_view piece, Deadline deadline) = 0;
    virtual std::optional<Failure> end_body(Deadline deadline) = 0;
    virtual std::variant<ResponseHead, Failure> read_head(Deadline deadline) = 0;
    virtual Piece read_some(std::span<char> out, Deadline deadline) = 0;
    [[nodiscard]] virtual bool body_done() const noexcept = 0;
    [[nodiscard]] virtual std::optional<std::string> field(std::string_view name) const = 0;
    [[nodiscard]] virtual std::optional<std::uint64_t> declared_length() const noexcept = 0;
    virtual void close() noexcept = 0;
    [[nodiscard]] virtual bool is_open() const noexcept = 0;
};

namespace {

http::request<http::string_body> make_request(const Request& r) {
    http::request<http::string_body> req;
    req.version(11);
    req.method_string(r.method);
    req.target(r.target);
    for (const auto& [name, value] : r.fields) req.set(name, value);
    req.keep_alive(r.keep_alive);
    return req;
}

template <class Stream>
class StreamImpl final : public HttpConnection::Impl {
  public:
    StreamImpl() = default;

    /// Runs queued handlers to completion.
    void loop() {
        ioc_.restart();
        ioc_.run();
    }

    void arm(Deadline deadline) {
        if (deadline == kNever)
            stream_.expires_never();
        else
            stream_.expires_at(deadline);
    }

    template <class Endpoints>
    std::optional<Failure> connect_to(const Endpoints& where, std::chrono::milliseconds timeout) {
        error_code ec;
        stream_.expires_after(timeout);
        if constexpr (std::is_same_v<Endpoints, typename Stream::protocol_type::endpoint>)
            stream_.async_connect(where, [&](const error_code& e) { ec = e; });
        else
            stream_.async_connect(where, [&](const error_code& e, const auto&) { ec = e; });
        loop();
        if (ec) return failure(ec, Step::connect);
        if constexpr (std::is_same_v<typename Stream::protocol_type, tcp>)
            beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay{true}, ec);
        open_ = true;
        return std::nullopt;
    }

    std::optional<Failure> resolve_and_connect(const TcpEndpoint& to, std::chrono::milliseconds timeout) {
        tcp::resolver resolver{ioc_};
        asio::steady_timer timer{ioc_};
        error_code ec;
        tcp::resolver::results_type results;
        bool timed_out = false;
        timer.expires_after(timeout);
        timer.async_wait([&](const error_code& e) {
            if (!e) {
                timed_out = true;
                resolver.cancel();
            }
        });
        resolver.async_resolve(to.host, std::to_string(to.port),
                               [&](const error_code& e, tcp::resolver::results_type r) {
                                   ec = e;
                                   results = std::move(r);
                                   timer.cancel();
                               });
        loop();
        if (timed_out) return Failure{Fault::timeout, Step::resolve, "resolving timed out", false};
        if (ec) return failure(ec, Step::resolve);
        return connect_to(results, timeout);
    }

    std::optional<Failure> write(const Request& request, Deadline deadline) override {
        auto req = make_request(request);
        req.body() = request.body;
        req.prepare_payload();
        error_code ec;
        arm(deadline);
        http::async_write(stream_, req, [&](const error_code& e, std::size_t) { ec = e; });
        loop();
        return sent(ec);
    }

    std::optional<Failure> begin_body(const Request& request, std::optional<std::uint64_t> size,
                                      Deadline deadline) override {
        auto req = make_request(request);
        chunked_ = !size.has_value();
        if (chunked_)
            req.set(http::field::transfer_encoding, "chunked");
        else
            req.set(http::field::content_length, std::to_string(*size));
        http::request_serializer<http::string_body> header{req};
        error_code ec;
        arm(deadline);
        http::async_write_header(stream_, header, [&](const error_code& e, std::size_t) { ec = e; });
        loop();
        return sent(ec);
    }

    std::optional<Failure> write_body(std::string_view piece, Deadline deadline) override {
        if (piece.empty()) return std::nullopt;  // an empty chunk would end a chunked body
        std::array<asio::const_buffer, 3> out;
        std::size_t count = 0;
        std::array<char, 24> size_line{};
        if (chunked_) {
            const int len = std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", piece.size());
            out[count++] = asio::const_buffer{size_line.data(), static_cast<std::size_t>(len)};
        }
        out[count++] = asio::const_buffer{piece.data(), piece.size()};
        if (chunked_) out[count++] = asio::const_buffer{"\r\n", 2};
        return write_raw(std::span<const asio::const_buffer>{out.data(), count}, deadline);
    }

    std::optional<Failure> end_body(Deadline deadline) override {
        if (!chunked_) return std::nullopt;
        const asio::const_buffer last{"0\r\n\r\n", 5};
        return write_raw(std::span<const asio::const_buffer>{&last, 1}, deadline);
    }

    std::variant<ResponseHead, Failure> read_head(Deadline deadline) override {
        parser_.emplace();
        parser_->header_limit(64 * 1024);
        parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // limits are the callers'
        buffer_.clear();
        error_code ec;
        std::size_t n = 0;
        arm(deadline);
        http::async_read_header(stream_, buffer_, *parser_, [&](const error_code& e, std::size_t got) {
            ec = e;
            n = got;
        });
        loop();
        if (ec) {
            open_ = false;
            auto f = failure(ec, Step::receive);
            f.before_reply = n == 0;
            return f;
        }
        const auto& res = parser_->get();
        ResponseHead head;
        head.status = res.result_int();
        head.reason = std::string{res.reason()};
        head.content_type = std::string{res[http::field::content_type]};
        if (auto len = parser_->content_length()) head.content_length = *len;
        head.keep_alive = res.keep_alive();
        return head;
    }

    Piece read_some(std::span<char> out, Deadline deadline) override {
        if (!parser_) return {0, not_connected(Step::receive)};
        if (parser_->is_done() || out.empty()) return {};
        parser_->get().body().data = out.data();
        parser_->get().body().size = out.size();
        error_code ec;
        arm(deadline);
        // read_some, not read: deliver what arrived at once (events and followed logs trickle).
        http::async_read_some(stream_, buffer_, *parser_, [&](const error_code& e, std::size_t) { ec = e; });
        loop();
        if (ec == http::error::need_buffer) ec = {};
        Piece piece;
        piece.size = out.size() - parser_->get().body().size;
        if (ec) {
            open_ = false;
            piece.failure = failure(ec, Step::receive);
        }
        return piece;
    }

    [[nodiscard]] bool body_done() const noexcept override { return !parser_ || parser_->is_done(); }

    [[nodiscard]] std::optional<std::string> field(std::string_view name) const override {
        if (!parser_) return std::nullopt;
        const auto& res = parser_->get();
        if (const auto it = res.find(beast::string_view{name.data(), name.size()}); it != res.end())
            return std::string{it->value()};
        return std::nullopt;
    }

    [[nodiscard]] std::optional<std::uint64_t> declared_length() const noexcept override {
        if (!parser_) return std::nullopt;
        if (auto len = parser_->content_length()) return *len;
        return std::nullopt;
    }

    void close() noexcept override {
        error_code ec;
        auto& socket = beast::get_lowest_layer(stream_).socket();
        socket.shutdown(asio::socket_base::shutdown_both, ec);
        socket.close(ec);
        open_ = false;
    }

    [[nodiscard]] bool is_open() const noexcept override { return open_; }

  private:
    std::optional<Failure> sent(const error_code& ec) {
        if (!ec) return std::nullopt;
        open_ = false;
        return failure(ec, Step::send);
    }

    std::optional<Failure> write_raw(std::span<const asio::const_buffer> buffers, Deadline deadline) {
        error_code ec;
        arm(deadline);
        asio::async_write(stream_, buffers, [&](const error_code& e, std::size_t) { ec = e; });
        loop();
        return sent(ec);
    }

    asio::io_context ioc_{1};
    Stream stream_{ioc_.get_executor()};
    beast::flat_buffer buffer_;
    std::optional<http::response_parser<http::buffer_body>> parser_;
    bool chunked_{false};
    bool open_{false};
};

using TcpImpl = StreamImpl<beast::basic_stream<tcp, asio::io_context::executor_type>>;
using UnixImpl = StreamImpl<beast::basic_stream<unix_socket, asio::io_context::executor_type>>;

}  // namespace

HttpConnection::HttpConnection() = default;
HttpConnection::~HttpConnection() = default;

std::optional<Failure> HttpConnection::connect(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
    if (const auto* t = std::get_if<TcpEndpoint>(&endpoint)) {
        auto impl = std::make_unique<TcpImpl>();
        auto f = impl->resolve_and_connect(*t, timeout);
        impl_ = std::move(impl);
        return f;
    }
    auto impl = std::make_unique<UnixImpl>();
    auto f = impl->connect_to(unix_socket::endpoint{std::get<UnixEndpoint>(endpoint).path}, timeout);
    impl_ = std::move(impl);
    return f;
}

std::optional<Failure> HttpConnection::write(const Request& request, Deadline deadline) {
    if (!impl_) return not_connected(Step::send);
    return impl_->write(request, deadline);
}

std::optional<Failure> HttpConnection::begin_body(const Request& request, std::optional<std::uint64_t> size,
                                                  Deadline deadline) {
    if (!impl_) return not_connected(Step::send);
    return impl_->begin_body(request, size, deadline);
}

std::optional<Failure> HttpConnection::write_body(std::string_view piece, Deadline deadline) {
    if (!impl_) return not_connected(Step::send);
    return impl_->write_body(piece, deadline);
}

std::optional<Failure> HttpConnection::end_body(Deadline deadline) {
    if (!impl_) return not_connected(Step::send);
    return impl_->end_body(deadline);
}

std::variant<ResponseHead, Failure> HttpConnection::read_head(Deadline deadline) {
    if (!impl_) return not_connected(Step::receive);
    return impl_->read_head(deadline);
}

Piece HttpConnection::read_some(std::span<char> out, Deadline deadline) {
    if (!impl_) return {0, not_connected(Step::receive)};
    return impl_->read_some(out, deadline);
}

bool HttpConnection::body_done() const noexcept { return !impl_ || impl_->body_done(); }

std::optional<std::string> HttpConnection::field(std::string_view name) const {
    return impl_ ? impl_->field(name) : std::nullopt;
}

std::variant<std::string, Failure> HttpConnection::read_body(std::size_t limit, Deadline deadline) {
    if (!impl_) return not_connected(Step::receive);
    std::string body;
    auto too_large = [&] {
        impl_->close();
        return Failure{Fault::body_limit, Step::receive, "body limit exceeded", false};
    };
    // A declared length is checked before reading (a chunked body as it arrives).
    if (auto declared = impl_->declared_length(); declared && *declared > limit) return too_large();
    std::array<char, 64 * 1024> chunk{};
    while (!impl_->body_done()) {
        auto piece = impl_->read_some(chunk, deadline);
        if (body.size() + piece.size > limit) return too_large();
        body.append(chunk.data(), piece.size);
        if (piece.failure) return std::move(*piece.failure);
    }
    return body;
}

void HttpConnection::close() noexcept {
    if (impl_) impl_->close();
}

bool HttpConnection::is_open() const noexcept { return impl_ && impl_->is_open(); }

}  // namespace zeppelin::net
