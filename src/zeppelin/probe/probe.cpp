#include "zeppelin/probe/probe.hpp"

#include <openssl/evp.h>

#include "zeppelin/net/http_client.hpp"

namespace zeppelin::probe {
namespace {

using Clock = std::chrono::steady_clock;

// Bodies larger than this are not read to the end: a probe is a health check, not a download.
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;

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
        // One deadline covers the request and its reply; resolve and connect each within `timeout`.
        const auto deadline = net::deadline_after(timeout);
        auto why = [&](const char* what, const net::Failure& f) {
            return std::string{what} + ": " + (f.fault == net::Fault::timeout ? std::string{"timed out"} : f.message);
        };
        net::HttpConnection c;
        if (auto f = c.connect(net::TcpEndpoint{endpoint.host, endpoint.port}, timeout)) {
            if (f->step == net::Step::resolve) return finish(false, "cannot resolve " + endpoint.host + ": " + f->message);
            return finish(false, why("connect failed", *f));
        }
        if (spec.kind == Spec::Kind::tcp) return finish(true, "TCP connect ok");

        net::Request req;
        req.target = spec.path;
        req.fields = {{"Host", endpoint.host + ":" + std::to_string(endpoint.port)},
                      {"User-Agent", "zeppelin-verifier/0.1"}};
        req.keep_alive = false;  // Connection: close
        if (auto f = c.write(req, deadline)) return finish(false, why("request failed", *f));
        auto head = c.read_head(deadline);
        if (auto* f = std::get_if<net::Failure>(&head)) return finish(false, why("no valid HTTP response", *f));
        auto body = c.read_body(kMaxBody, deadline);
        if (auto* f = std::get_if<net::Failure>(&body)) return finish(false, why("no valid HTTP response", *f));
        const unsigned status = std::get<net::ResponseHead>(head).status;
        if (status != spec.status)
            return finish(false, "HTTP " + std::to_string(status) + ", expected " + std::to_string(spec.status));
        if (spec.body_sha256 && sha256(std::get<std::string>(body)) != *spec.body_sha256)
            return finish(false, "HTTP " + std::to_string(status) + " but the body hash differs");
        return finish(true, "HTTP " + std::to_string(status));
    } catch (const std::exception& e) {
        return finish(false, std::string{"probe error: "} + e.what());
    }
}

}  // namespace zeppelin::probe
