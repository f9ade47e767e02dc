// The HTTP server's value types (Request, Response and its kinds of body), server-sent events,
// and the API token: what handlers build, apart from the server that serves them (http_server.cpp).
#include "zeppelin/node/http_server.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::node {

std::string_view Request::header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string_view{} : std::string_view{it->second};
}

Response Response::json(unsigned status, const nlohmann::json& value) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

Response Response::error(unsigned status, std::string_view message) {
    return json(status, {{"error", std::string{message}}});
}

Response Response::error(const Error& e) {
    switch (e.code()) {
        case Errc::invalid_argument:
        case Errc::invalid_hex:
        case Errc::overflow: return error(400, e.message());
        case Errc::not_found: return error(404, e.message());
        case Errc::already_exists: return error(409, e.message());
        case Errc::auth_failed: return error(403, e.message());
        case Errc::limit_exceeded: return error(413, e.message());
        case Errc::rpc_unreachable: return error(502, e.message());
        case Errc::timeout: return error(504, e.message());
        default: return error(500, e.message());
    }
}

Response Response::file_body(std::string content_type, std::filesystem::path path) {
    Response r;
    r.content_type = std::move(content_type);
    r.file = std::move(path);
    return r;
}

Response Response::streaming(std::string content_type, StreamProducer producer) {
    Response r;
    r.content_type = std::move(content_type);
    r.stream = std::move(producer);
    return r;
}

Response Response::fallible_stream(std::string content_type, FallibleStreamProducer producer) {
    Response r;
    r.content_type = std::move(content_type);
    r.lazy_head = true;
    r.stream_error = std::make_shared<std::optional<Error>>();
    r.stream = [producer = std::move(producer), error = r.stream_error](const ChunkWriter& write) {
        if (auto res = producer(write); !res) *error = res.error();
    };
    return r;
}

std::string sse_event(std::string_view data, std::string_view event) {
    std::string out;
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    std::size_t start = 0;
    while (true) {  // one "data:" line per line of `data` (an empty line included)
        const auto end = data.find('\n', start);
        out.append("data: ").append(data.substr(start, end == std::string_view::npos ? end : end - start)).append("\n");
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return out + "\n";
}

Result<std::string> generate_api_token() {
    Hash32 bytes;
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        return Error{Errc::internal, "the system's random number generator failed"};
    return to_hex(bytes, false);
}

bool secrets_equal(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace zeppelin::node
