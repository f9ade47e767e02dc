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

#include "zeppelin/market/deployment.hpp"
#include "zeppelin/net/http_client.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kApiTimeout{120'000};
constexpr std::size_t kMaxReplyBytes = 8u * 1024u * 1024u;  // Beast's default for a reply body

net::Request api_request(const NodeEndpoint& node, std::string_view method, std::string_view target) {
    net::Request req;
    req.method = std::string{method};
    req.target = std::string{target};
    req.fields = {{"Host", node.host}, {"Authorization", "Bearer " + node.token}};
    return req;
}

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
    net::HttpConnection c;
    if (auto f = c.connect(net::TcpEndpoint{node.host, node.port}, kApiTimeout)) return unreachable(node, f->message);
    const auto deadline = net::deadline_after(kApiTimeout);
    auto req = api_request(node, method, target);
    if (body != nullptr) {
        req.fields.emplace_back("Content-Type", "application/json");
        req.body = body->dump();
    }
    if (auto f = c.write(req, deadline)) return unreachable(node, f->message);
    auto head = c.read_head(deadline);
    if (auto* f = std::get_if<net::Failure>(&head)) return unreachable(node, f->message);
    auto text = c.read_body(kMaxReplyBytes, deadline);
    if (auto* f = std::get_if<net::Failure>(&text)) return unreachable(node, f->message);
    c.close();
    const auto& h = std::get<net::ResponseHead>(head);
    auto j = nlohmann::json::parse(std::get<std::string>(text), nullptr, false);
    const auto status = h.status;
    if (status / 100 != 2) {
        std::string message = j.is_object() && j.contains("error") && j["error"].is_string()
                                  ? j["error"].get<std::string>()
                                  : "HTTP " + std::to_string(status) + " " + h.reason;
        return make_error(errc_for(status), message);
    }
    if (j.is_discarded()) return make_error(Errc::rpc_bad_reply, "the node answered something that is not JSON");
    return j;
}

Result<void> api_stream(const NodeEndpoint& node, std::string_view target,
                        const std::function<bool(std::string_view)>& sink) {
    net::HttpConnection c;
    if (auto f = c.connect(net::TcpEndpoint{node.host, node.port}, kApiTimeout)) return unreachable(node, f->message);
    auto req = api_request(node, "GET", target);
    req.fields.emplace_back("TE", "trailers");
    // No deadline: a followed log streams for as long as the agreement runs.
    if (auto f = c.write(req, net::kNever)) return unreachable(node, f->message);
    auto head = c.read_head(net::kNever);
    if (auto* f = std::get_if<net::Failure>(&head)) return unreachable(node, f->message);
    const auto status = std::get<net::ResponseHead>(head).status;
    char chunk[8192];
    std::string collected;
    // read_some hands over what arrived (a followed log trickles), never waiting for a full buffer.
    while (!c.body_done()) {
        const auto got = c.read_some(chunk, net::kNever);
        if (status / 100 != 2) {
            collected.append(chunk, got.size);
        } else if (got.size > 0 && !sink(std::string_view{chunk, got.size})) {
            return {};
        }
        if (got.failure) {
            if (status / 100 != 2) break;
            return unreachable(node, "the stream broke: " + got.failure->message);
        }
    }
    if (status / 100 != 2) {
        auto j = nlohmann::json::parse(collected, nullptr, false);
        return make_error(errc_for(status), j.is_object() && j.contains("error") && j["error"].is_string()
                                                ? j["error"].get<std::string>()
                                                : "HTTP " + std::to_string(status));
    }
    // A failure after the output began arrives as a trailer field.
    if (auto e = c.field("Zeppelin-Error")) return make_error(Errc::io, *e);
    return {};
}

}  // namespace zeppelin::cli
