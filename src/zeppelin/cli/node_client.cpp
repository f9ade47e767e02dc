#include "zeppelin/cli/node_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "zeppelin/market/deployment.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Error unreachable(const NodeEndpoint& n, const std::string& what) {
    return make_error(Errc::rpc_unreachable, "cannot reach the node's API at " + n.host + ":" + std::to_string(n.port) +
                                                 " (" + what + "): is `zeppelin node` running?");
}

Errc errc_for(unsigned status) {
    switch (status) {
        case 400: return Errc::invalid_argument;
        case 401:
        case 403: return Errc::auth_failed;
        case 404: return Errc::not_found;
        case 409: return Errc::already_exists;
        case 422: return Errc::reverted;
        default: return Errc::internal;
    }
}

}  // namespace

Result<fs::path> node_data_dir(std::string_view explicit_dir) {
    if (!explicit_dir.empty()) return fs::path{explicit_dir};
    if (const char* e = std::getenv("ZEPPELIN_NODE_DIR"); e != nullptr && *e != '\0') return fs::path{e};
    return ZP_TRY(market::zeppelin_home()) / "node";
}

Result<NodeEndpoint> find_node(const fs::path& dir) {
    std::ifstream in{dir / "api.json"};
    if (!in)
        return make_error(Errc::not_found, "no node runs with data directory " + dir.string() +
                                               " (no api.json): start one with `zeppelin node`, or give --node DIR");
    std::stringstream ss;
    ss << in.rdbuf();
    const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("host") || !j.contains("port") || !j.contains("token"))
        return make_error(Errc::invalid_argument, (dir / "api.json").string() + " is malformed");
    NodeEndpoint e;
    e.host = j["host"].get<std::string>();
    e.port = j["port"].get<std::uint16_t>();
    e.token = j["token"].get<std::string>();
    e.address = j.value("address", std::string{});
    return e;
}

Result<void> write_private_file(const fs::path& file, std::string_view text) {
    const auto tmp = fs::path{file.string() + ".tmp"};
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io, "cannot write " + tmp.string() + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);  // an older tmp file may have had other bits
    bool ok = true;
    for (std::size_t done = 0; ok && done < text.size();) {
        const auto w = ::write(fd, text.data() + done, text.size() - done);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) done += static_cast<std::size_t>(w);
    }
    ok = ::close(fd) == 0 && ok;
    std::error_code ec;
    if (ok) fs::rename(tmp, file, ec);
    if (!ok || ec) {
        fs::remove(tmp, ec);
        return make_error(Errc::io, "cannot write " + file.string());
    }
    return {};
}

Result<void> write_node_endpoint(const fs::path& dir, const NodeEndpoint& e) {
    const nlohmann::json j{{"host", e.host}, {"port", e.port}, {"token", e.token}, {"address", e.address}};
    return write_private_file(dir / "api.json", j.dump(2) + "\n");
}

Result<nlohmann::json> api_call(const NodeEndpoint& node, std::string_view method, std::string_view target,
                                const nlohmann::json* body) {
    try {
        boost::asio::io_context io;
        tcp::resolver resolver{io};
        beast::tcp_stream stream{io};
        stream.expires_after(std::chrono::seconds{120});
        stream.connect(resolver.resolve(node.host, std::to_string(node.port)));
        http::request<http::string_body> req{http::string_to_verb(beast::string_view{method.data(), method.size()}), std::string{target}, 11};
        req.set(http::field::host, node.host);
        req.set(http::field::authorization, "Bearer " + node.token);
        if (body != nullptr) {
            req.set(http::field::content_type, "application/json");
            req.body() = body->dump();
        }
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        auto j = nlohmann::json::parse(res.body(), nullptr, false);
        const auto status = res.result_int();
        if (status / 100 != 2) {
            std::string message = j.is_object() && j.contains("error") && j["error"].is_string()
                                      ? j["error"].get<std::string>()
                                      : "HTTP " + std::to_string(status) + " " + std::string{res.reason()};
            return make_error(errc_for(status), message);
        }
        if (j.is_discarded()) return make_error(Errc::rpc_bad_reply, "the node answered something that is not JSON");
        return j;
    } catch (const boost::system::system_error& e) {
        return unreachable(node, e.code().message());
    }
}

Result<void> api_stream(const NodeEndpoint& node, std::string_view target,
                        const std::function<bool(std::string_view)>& sink) {
    try {
        boost::asio::io_context io;
        tcp::resolver resolver{io};
        beast::tcp_stream stream{io};
        stream.connect(resolver.resolve(node.host, std::to_string(node.port)));
        http::request<http::empty_body> req{http::verb::get, std::string{target}, 11};
        req.set(http::field::host, node.host);
        req.set(http::field::authorization, "Bearer " + node.token);
        req.set(http::field::te, "trailers");
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // (boost::none fails any Content-Length in Boost 1.81)
        http::read_header(stream, buffer, parser);
        const auto status = parser.get().result_int();
        char chunk[8192];
        std::string collected;
        while (!parser.is_done()) {
            parser.get().body().data = chunk;
            parser.get().body().size = sizeof chunk;
            beast::error_code ec;
            // read_some, not read: read() waits until the buffer is full (8 KB of output), which
            // held a followed stream back for many seconds.
            http::read_some(stream, buffer, parser, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) return unreachable(node, "the stream broke: " + ec.message());
            const auto n = sizeof chunk - parser.get().body().size;
            if (status / 100 != 2) {
                collected.append(chunk, n);
                continue;
            }
            if (n > 0 && !sink(std::string_view{chunk, n})) return {};
        }
        if (status / 100 != 2) {
            auto j = nlohmann::json::parse(collected, nullptr, false);
            return make_error(errc_for(status), j.is_object() && j.contains("error") && j["error"].is_string()
                                                    ? j["error"].get<std::string>()
                                                    : "HTTP " + std::to_string(status));
        }
        // A failure after the output began arrives as a trailer field.
        if (const auto it = parser.get().find("Zeppelin-Error"); it != parser.get().end())
            return make_error(Errc::io, std::string{it->value()});
        return {};
    } catch (const boost::system::system_error& e) {
        return unreachable(node, e.code().message());
    }
}

}  // namespace zeppelin::cli
