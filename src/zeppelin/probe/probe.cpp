#include "zeppelin/probe/probe.hpp"

#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace zeppelin::probe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

// Bodies larger than this are not read to the end: a probe is a health check, not a download.
constexpr std::uint64_t kMaxBody = 16 * 1024 * 1024;

Hash32 sha256(const std::string& data) {
    Hash32 out;
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

}  // namespace

Outcome run(const Spec& spec, const Endpoint& endpoint, std::chrono::milliseconds timeout) {
    const auto start = Clock::now();
    Outcome out;
    auto finish = [&](bool ok, std::string detail) {
        out.ok = ok;
        out.detail = std::move(detail);
        out.latency = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        return out;
    };
    try {
        // Asynchronous operations driven to completion one at a time: beast::tcp_stream's
        // deadline applies only to asynchronous operations, and it covers the whole probe.
        asio::io_context io;
        asio::ip::tcp::resolver resolver{io};
        beast::tcp_stream stream{io};
        beast::error_code ec;
        auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
        if (ec) return finish(false, "cannot resolve " + endpoint.host + ": " + ec.message());
        stream.expires_after(timeout);
        auto run_step = [&](auto&& start_op) {
            ec = {};
            start_op([&](beast::error_code e, auto&&...) { ec = e; });
            io.restart();
            io.run();
        };
        auto why = [&](const char* what) {
            return std::string{what} + ": " + (ec == beast::error::timeout ? std::string{"timed out"} : ec.message());
        };
        run_step([&](auto handler) { stream.async_connect(results, handler); });
        if (ec) return finish(false, why("connect failed"));
        if (spec.kind == Spec::Kind::tcp) return finish(true, "TCP connect ok");

        http::request<http::empty_body> req{http::verb::get, spec.path, 11};
        req.set(http::field::host, endpoint.host + ":" + std::to_string(endpoint.port));
        req.set(http::field::user_agent, "zeppelin-verifier/0.1");
        req.set(http::field::connection, "close");
        run_step([&](auto handler) { http::async_write(stream, req, handler); });
        if (ec) return finish(false, why("request failed"));
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(kMaxBody);
        run_step([&](auto handler) { http::async_read(stream, buffer, parser, handler); });
        if (ec) return finish(false, why("no valid HTTP response"));
        const auto& res = parser.get();
        const unsigned status = res.result_int();
        if (status != spec.status)
            return finish(false, "HTTP " + std::to_string(status) + ", expected " + std::to_string(spec.status));
        if (spec.body_sha256 && sha256(res.body()) != *spec.body_sha256)
            return finish(false, "HTTP " + std::to_string(status) + " but the body hash differs");
        return finish(true, "HTTP " + std::to_string(status));
    } catch (const std::exception& e) {
        return finish(false, std::string{"probe error: "} + e.what());
    }
}

}  // namespace zeppelin::probe
