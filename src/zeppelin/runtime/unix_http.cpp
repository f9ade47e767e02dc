#include "zeppelin/runtime/unix_http.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <limits>
#include <vector>

namespace zeppelin::runtime {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using unix_socket = net::local::stream_protocol;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 256 * 1024;

std::string lower_first(std::string m) {
    if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
    return m;
}

std::string ms_text(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
    return std::to_string(ms.count()) + " ms";
}

/// One connection and its private event loop.
class Exchange final {
  public:
    Exchange(const EngineAddress& address, const HttpRequest& request, const HttpTimeouts& timeouts,
             std::size_t max_reply_bytes)
        : address_{address},
          request_{request},
          timeouts_{timeouts},
          max_reply_bytes_{max_reply_bytes},
          what_{request.method + " " + strip_query(request.target)},
          deadline_{Clock::now() + timeouts.total} {}

    Result<HttpReply> run(const BodySink& sink) {
        ZP_CHECK(connect());
        auto sent = send();
        if (!sent) {
            // The engine may have refused the body early and already written an error reply
            // (e.g. 413, or a closed pipe after a 4xx): try to read it, briefly.
            if (sent.error().code() == Errc::io) {
                deadline_ = std::min(deadline_, Clock::now() + std::chrono::milliseconds{500});
                auto reply = receive({});
                if (reply && reply->status >= 300) return reply;
            }
            return sent.error();
        }
        return receive(sink);
    }

  private:
    static std::string strip_query(const std::string& target) { return target.substr(0, target.find('?')); }

    // Arms the stream's timer for the next step: the idle limit, capped by the total deadline.
    void arm() {
        const auto idle_end = Clock::now() + timeouts_.idle;
        stream_.expires_at(std::min(idle_end, deadline_));
    }

    void loop() {
        ioc_.restart();
        ioc_.run();
    }

    Error timeout_error(std::string_view stage) const {
        if (Clock::now() + std::chrono::milliseconds{5} >= deadline_)
            return Error{Errc::timeout, "container engine did not complete " + what_ + " within " +
                                            ms_text(timeouts_.total) + " (" + std::string{stage} + ")"};
        return Error{Errc::timeout, "container engine went silent for " + ms_text(timeouts_.idle) + " during " + what_ +
                                        " (" + std::string{stage} + ")"};
    }

    Error transport_error(const boost::system::error_code& ec, std::string_view stage) const {
        if (ec == beast::error::timeout) return timeout_error(stage);
        if (ec == net::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message ||
            ec == net::error::connection_reset || ec == net::error::broken_pipe || ec == net::error::connection_aborted)
            return Error{Errc::io, "container engine at " + address_.to_string() + " closed the connection during " +
                                       what_ + " (" + std::string{stage} + "; did the engine stop or crash?)"};
        if (ec.category() == http::make_error_code(http::error::bad_version).category())
            return Error{Errc::engine_error,
                         "container engine sent a malformed HTTP reply to " + what_ + ": " + lower_first(ec.message())};
        return Error{Errc::io, "container engine " + std::string{stage} + " failed during " + what_ + ": " +
                                   lower_first(ec.message())};
    }

    Result<void> connect() {
        boost::system::error_code ec;
        stream_.expires_after(std::min(timeouts_.connect, timeouts_.total));
        stream_.async_connect(unix_socket::endpoint{address_.socket_path},
                              [&](const boost::system::error_code& e) { ec = e; });
        loop();
        if (!ec) return {};
        std::string reason = ec == beast::error::timeout ? "connect timed out after " + ms_text(timeouts_.connect)
                                                         : lower_first(ec.message());
        return Error{Errc::io, "container engine not reachable at " + address_.to_string() +
                                   ": is `podman system service` (or dockerd) running? (" + reason + ")"};
    }

    Result<void> write_raw(const std::vector<net::const_buffer>& buffers) {
        boost::system::error_code ec;
        arm();
        net::async_write(stream_, buffers, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
        loop();
        if (ec) return transport_error(ec, "sending the request");
        return {};
    }

    Result<void> send() {
        const auto verb = http::string_to_verb(request_.method);
        if (verb == http::verb::unknown) return Error{Errc::internal, "unknown HTTP method " + request_.method};
        http::request<http::string_body> req{verb, request_.target, 11};
        req.set(http::field::host, "docker");  // any name: the socket decides where it goes
        req.set(http::field::user_agent, "zeppelin");
        req.set(http::field::accept, "application/json");
        req.keep_alive(false);
        if (!request_.content_type.empty()) req.set(http::field::content_type, request_.content_type);
        const bool streamed = static_cast<bool>(request_.source);
        if (!streamed) {
            req.body() = request_.body;
            req.prepare_payload();
            boost::system::error_code ec;
            arm();
            http::async_write(stream_, req, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
            loop();
            if (ec) return transport_error(ec, "sending the request");
            return {};
        }
        const bool chunked = !request_.source_size.has_value();
        if (chunked)
            req.set(http::field::transfer_encoding, "chunked");
        else
            req.set(http::field::content_length, std::to_string(*request_.source_size));
        http::request_serializer<http::string_body> header{req};
        {
            boost::system::error_code ec;
            arm();
            http::async_write_header(stream_, header, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
            loop();
            if (ec) return transport_error(ec, "sending the request");
        }
        std::vector<char> buffer(kChunk);
        std::uint64_t sent = 0;
        for (;;) {
            auto got = request_.source(std::span<char>{buffer.data(), buffer.size()});
            if (!got) return got.error();
            const std::size_t n = *got;
            if (n > buffer.size()) return Error{Errc::internal, "request body source overran its buffer"};
            if (n == 0) break;
            sent += n;
            if (!chunked && sent > *request_.source_size)
                return Error{Errc::invalid_argument, "request body is longer than its declared size"};
            std::vector<net::const_buffer> out;
            std::array<char, 24> size_line{};
            if (chunked) {
                const int len = std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", n);
                out.emplace_back(size_line.data(), static_cast<std::size_t>(len));
            }
            out.emplace_back(buffer.data(), n);
            if (chunked) out.emplace_back("\r\n", 2);
            ZP_CHECK(write_raw(out));
        }
        if (chunked) {
            ZP_CHECK(write_raw({net::const_buffer{"0\r\n\r\n", 5}}));
        } else if (sent != *request_.source_size) {
            return Error{Errc::invalid_argument, "request body ended after " + std::to_string(sent) + " bytes, but " +
                                                     std::to_string(*request_.source_size) + " were declared"};
        }
        return {};
    }

    Result<HttpReply> receive(const BodySink& sink) {
        http::response_parser<http::buffer_body> parser;
        parser.header_limit(64 * 1024);
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        boost::system::error_code ec;
        arm();
        http::async_read_header(stream_, buffer_, parser,
                                [&](const boost::system::error_code& e, std::size_t) { ec = e; });
        loop();
        if (ec) return transport_error(ec, "waiting for the reply");
        HttpReply reply;
        reply.status = parser.get().result_int();
        const bool stream_body = sink && reply.status >= 200 && reply.status < 300;
        std::vector<char> chunk(kChunk);
        while (!parser.is_done()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            arm();
            // read_some, not read: deliver what arrived at once (events and followed logs trickle).
            http::async_read_some(stream_, buffer_, parser,
                                  [&](const boost::system::error_code& e, std::size_t) { ec = e; });
            loop();
            if (ec == http::error::need_buffer) ec = {};
            const std::size_t n = chunk.size() - parser.get().body().size;
            if (n > 0) {
                const std::string_view piece{chunk.data(), n};
                if (stream_body) {
                    if (!sink(piece)) {
                        reply.stopped_early = true;
                        return reply;
                    }
                } else {
                    if (reply.body.size() + n > max_reply_bytes_)
                        return Error{Errc::engine_error, "container engine's reply to " + what_ + " exceeds " +
                                                             std::to_string(max_reply_bytes_) + " bytes"};
                    reply.body.append(piece);
                }
            }
            if (ec) return transport_error(ec, "reading the reply");
        }
        return reply;
    }

    const EngineAddress& address_;
    const HttpRequest& request_;
    HttpTimeouts timeouts_;
    std::size_t max_reply_bytes_;
    std::string what_;
    Clock::time_point deadline_;
    net::io_context ioc_{1};
    beast::basic_stream<unix_socket, net::io_context::executor_type> stream_{ioc_.get_executor()};
    beast::flat_buffer buffer_;
};

}  // namespace

Result<HttpReply> UnixHttpClient::exchange(const HttpRequest& request, const HttpTimeouts& timeouts,
                                           const BodySink& sink) const {
    Exchange exchange{address_, request, timeouts, max_reply_bytes_};
    return exchange.run(sink);
}

}  // namespace zeppelin::runtime
