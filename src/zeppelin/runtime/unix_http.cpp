#include "zeppelin/runtime/unix_http.hpp"

#include <algorithm>
#include <vector>

#include "zeppelin/net/http_client.hpp"

namespace zeppelin::runtime {

using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 256 * 1024;

/// One connection (net::HttpConnection) and the engine client's words for what goes wrong on it.
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

    static bool known_method(std::string_view m) {
        for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
            if (m == known) return true;
        return false;
    }

    // The deadline of the next step: the idle limit, capped by the total deadline.
    [[nodiscard]] net::Deadline step() const { return std::min(Clock::now() + timeouts_.idle, deadline_); }

    Error timeout_error(std::string_view stage) const {
        if (Clock::now() + std::chrono::milliseconds{5} >= deadline_)
            return Error{Errc::timeout, "container engine did not complete " + what_ + " within " +
                                            net::duration_text(timeouts_.total) + " (" + std::string{stage} + ")"};
        return Error{Errc::timeout, "container engine went silent for " + net::duration_text(timeouts_.idle) +
                                        " during " + what_ + " (" + std::string{stage} + ")"};
    }

    Error transport_error(const net::Failure& f, std::string_view stage) const {
        if (f.fault == net::Fault::timeout) return timeout_error(stage);
        if (f.peer_gone() || f.fault == net::Fault::partial_message)
            return Error{Errc::io, "container engine at " + address_.to_string() + " closed the connection during " +
                                       what_ + " (" + std::string{stage} + "; did the engine stop or crash?)"};
        if (f.fault == net::Fault::malformed || f.fault == net::Fault::body_limit)
            return Error{Errc::engine_error,
                         "container engine sent a malformed HTTP reply to " + what_ + ": " + net::lower_first(f.message)};
        return Error{Errc::io, "container engine " + std::string{stage} + " failed during " + what_ + ": " +
                                   net::lower_first(f.message)};
    }

    Result<void> connect() {
        auto f = conn_.connect(net::UnixEndpoint{address_.socket_path}, std::min(timeouts_.connect, timeouts_.total));
        if (!f) return {};
        std::string reason = f->fault == net::Fault::timeout
                                 ? "connect timed out after " + net::duration_text(timeouts_.connect)
                                 : net::lower_first(f->message);
        return Error{Errc::io, "container engine not reachable at " + address_.to_string() +
                                   ": is `podman system service` (or dockerd) running? (" + reason + ")"};
    }

    Result<void> send() {
        if (!known_method(request_.method)) return Error{Errc::internal, "unknown HTTP method " + request_.method};
        net::Request req;
        req.method = request_.method;
        req.target = request_.target;
        req.fields = {{"Host", "docker"},  // any name: the socket decides where it goes
                      {"User-Agent", "zeppelin"},
                      {"Accept", "application/json"}};
        if (!request_.content_type.empty()) req.fields.emplace_back("Content-Type", request_.content_type);
        req.keep_alive = false;
        if (!request_.source) {
            req.body = request_.body;
            if (auto f = conn_.write(req, step())) return transport_error(*f, "sending the request");
            return {};
        }
        if (auto f = conn_.begin_body(req, request_.source_size, step())) return transport_error(*f, "sending the request");
        std::vector<char> buffer(kChunk);
        std::uint64_t sent = 0;
        for (;;) {
            auto got = request_.source(std::span<char>{buffer.data(), buffer.size()});
            if (!got) return got.error();
            const std::size_t n = *got;
            if (n > buffer.size()) return Error{Errc::internal, "request body source overran its buffer"};
            if (n == 0) break;
            sent += n;
            if (request_.source_size && sent > *request_.source_size)
                return Error{Errc::invalid_argument, "request body is longer than its declared size"};
            if (auto f = conn_.write_body({buffer.data(), n}, step())) return transport_error(*f, "sending the request");
        }
        if (request_.source_size && sent != *request_.source_size)
            return Error{Errc::invalid_argument, "request body ended after " + std::to_string(sent) + " bytes, but " +
                                                     std::to_string(*request_.source_size) + " were declared"};
        if (auto f = conn_.end_body(step())) return transport_error(*f, "sending the request");
        return {};
    }

    Result<HttpReply> receive(const BodySink& sink) {
        auto head = conn_.read_head(step());
        if (auto* f = std::get_if<net::Failure>(&head)) return transport_error(*f, "waiting for the reply");
        HttpReply reply;
        reply.status = std::get<net::ResponseHead>(head).status;
        const bool stream_body = sink && reply.status >= 200 && reply.status < 300;
        std::vector<char> chunk(kChunk);
        while (!conn_.body_done()) {
            auto got = conn_.read_some(chunk, step());
            if (got.size > 0) {
                const std::string_view piece{chunk.data(), got.size};
                if (stream_body) {
                    if (!sink(piece)) {
                        reply.stopped_early = true;
                        return reply;
                    }
                } else {
                    if (reply.body.size() + got.size > max_reply_bytes_)
                        return Error{Errc::engine_error, "container engine's reply to " + what_ + " exceeds " +
                                                             std::to_string(max_reply_bytes_) + " bytes"};
                    reply.body.append(piece);
                }
            }
            if (got.failure) return transport_error(*got.failure, "reading the reply");
        }
        return reply;
    }

    const EngineAddress& address_;
    const HttpRequest& request_;
    HttpTimeouts timeouts_;
    std::size_t max_reply_bytes_;
    std::string what_;
    Clock::time_point deadline_;
    net::HttpConnection conn_;
};

}  // namespace

Result<HttpReply> UnixHttpClient::exchange(const HttpRequest& request, const HttpTimeouts& timeouts,
                                           const BodySink& sink) const {
    Exchange exchange{address_, request, timeouts, max_reply_bytes_};
    return exchange.run(sink);
}

}  // namespace zeppelin::runtime
