#include "zeppelin/runtime/engine.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>

#include "zeppelin/runtime/json_stream.hpp"

namespace zeppelin::runtime {

using nlohmann::json;

// ---------------------------------------------------------------- helpers

std::string url_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_' ||
            u == '.' || u == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

namespace {

/// A container id/name or an image reference, checked before it goes into a URL path.
Result<std::string> path_segment(std::string_view what, std::string_view value, bool image_ref) {
    if (value.empty()) return Error{Errc::invalid_argument, std::string{what} + " is empty"};
    if (value.size() > 512) return Error{Errc::invalid_argument, std::string{what} + " is too long"};
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
                        u == '_' || u == '.' || (image_ref && (u == '/' || u == ':' || u == '@'));
        if (!ok)
            return Error{Errc::invalid_argument,
                         std::string{what} + " \"" + std::string{value} + "\" contains a character not allowed there"};
    }
    if (value.find("..") != std::string_view::npos)
        return Error{Errc::invalid_argument, std::string{what} + " \"" + std::string{value} + "\" contains \"..\""};
    return std::string{value};
}

std::string str(const json& j, std::string_view key) {
    if (!j.is_object()) return {};
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return {};
    return it->get<std::string>();
}

std::int64_t i64(const json& j, std::string_view key) {
    if (!j.is_object()) return 0;
    auto it = j.find(key);
    if (it == j.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_number_unsigned())
        return static_cast<std::int64_t>(
            std::min<std::uint64_t>(it->get<std::uint64_t>(), static_cast<std::uint64_t>(INT64_MAX)));
    return 0;
}

std::uint64_t u64(const json& j, std::string_view key) {
    const auto v = i64(j, key);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

bool boolean(const json& j, std::string_view key) {
    if (!j.is_object()) return false;
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

const json& member(const json& j, std::string_view key) {
    static const json null_value;
    if (!j.is_object()) return null_value;
    auto it = j.find(key);
    return it == j.end() ? null_value : *it;
}

std::vector<std::string> strings(const json& j) {
    std::vector<std::string> out;
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::map<std::string, std::string> string_map(const json& j) {
    std::map<std::string, std::string> out;
    if (!j.is_object()) return out;
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it->is_string()) out.emplace(it.key(), it->get<std::string>());
    return out;
}

std::uint16_t port_number(std::string_view text) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || v > 65535) return 0;
    return static_cast<std::uint16_t>(v);
}

std::string strip_slash(std::string s) {
    if (!s.empty() && s.front() == '/') s.erase(0, 1);
    return s;
}

Error status_error(const HttpReply& reply, std::string_view what) {
    const Errc code = reply.status == 404 ? Errc::not_found : Errc::engine_error;
    return Error{
        code, std::string{what} + ": " + engine_message(reply.body) + " (HTTP " + std::to_string(reply.status) + ")"};
}

Result<json> parse_body(const HttpReply& reply, std::string_view what) {
    if (reply.body.empty()) return json{};
    auto j = json::parse(reply.body, nullptr, false);
    if (j.is_discarded())
        return Error{Errc::engine_error, std::string{what} +
                                             ": the container engine replied with text that is not JSON: \"" +
                                             reply.body.substr(0, 200) + "\""};
    return j;
}

std::string filters_json(const std::map<std::string, std::vector<std::string>>& filters) {
    json f = json::object();
    for (const auto& [k, v] : filters)
        if (!v.empty()) f[k] = v;
    return f.dump();
}

bool has_labels(const std::vector<std::string>& wanted, const std::map<std::string, std::string>& labels) {
    return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& l) {
        const auto eq = l.find('=');
        auto it = labels.find(l.substr(0, eq));
        return it != labels.end() && (eq == std::string::npos || it->second == l.substr(eq + 1));
    });
}

bool matches(const EventFilter& filter, const EngineEvent& e) {
    auto in = [](const std::vector<std::string>& set, const std::string& v) {
        return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
    };
    // Event attributes carry the container's labels.
    return in(filter.types, e.type) && in(filter.events, e.action) && has_labels(filter.labels, e.attributes);
}

}  // namespace

// ---------------------------------------------------------------- Engine

Engine::Engine(EngineAddress address, EngineOptions options)
    : options_{std::move(options)}, http_{std::move(address), options_.max_reply_bytes} {}

Result<Engine> Engine::from_environment(EngineOptions options) {
    auto address = ZP_TRY(EngineAddress::from_environment());
    return Engine{std::move(address), std::move(options)};
}

HttpTimeouts Engine::timeouts(std::chrono::milliseconds total) const {
    return HttpTimeouts{options_.connect_timeout, total, total};
}

Result<HttpReply> Engine::send(const HttpRequest& request, std::chrono::milliseconds total) const {
    return http_.exchange(request, timeouts(total));
}

Result<nlohmann::json> Engine::call(std::string_view method, std::string_view path_and_query,
                                    const std::optional<nlohmann::json>& body) const {
    HttpRequest req;
    req.method = std::string{method};
    req.target = path(path_and_query);
    if (body) {
        req.content_type = "application/json";
        req.body = body->dump();
    }
    const std::string what =
        std::string{method} + " " + std::string{path_and_query.substr(0, path_and_query.find('?'))};
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    if (reply.status < 200 || reply.status >= 300) return status_error(reply, what);
    return parse_body(reply, what);
}

Result<void> Engine::ping() const {
    HttpRequest req;
    req.target = path("/_ping");
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    if (reply.status != 200) return status_error(reply, "ping");
    std::string_view body = reply.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    if (body != "OK")
        return Error{Errc::engine_error, "container engine at " + address().to_string() + " answered the ping with \"" +
                                             std::string{body.substr(0, 100)} +
                                             "\" instead of OK: is this socket a Docker API endpoint?"};
    return {};
}

Result<EngineVersion> Engine::version() const {
    auto j = ZP_TRY(call("GET", "/version"));
    EngineVersion v;
    v.version = str(j, "Version");
    v.api_version = str(j, "ApiVersion");
    v.os = str(j, "Os");
    v.arch = str(j, "Arch");
    for (const auto& c : member(j, "Components"))
        if (str(c, "Name").find("Podman") != std::string::npos) v.podman = true;
    if (v.version.empty() && v.api_version.empty())
        return Error{Errc::engine_error, "container engine's /version reply has no version: is " +
                                             address().to_string() + " a Docker API endpoint?"};
    return v;
}

// ---------------------------------------------------------------- images

Result<LoadedImage> Engine::finish_load(const Result<HttpReply>& reply) const {
    if (!reply) return reply.error().wrap("loading the image");
    if (reply->status < 200 || reply->status >= 300) {
        return Error{Errc::engine_error,
                     "the container engine refused the image archive: " + engine_message(reply->body) + " (HTTP " +
                         std::to_string(reply->status) + ")"};
    }
    auto report = ZP_TRY(parse_load_reply(reply->body));
    LoadedImage out;
    out.names = report.names;
    // Resolve the image id (its config digest) by inspecting what was loaded.
    const std::string ref = !report.ids.empty() ? report.ids.front() : report.names.front();
    auto info = inspect_image(ref);
    if (!info) return info.error().wrap("the engine loaded " + ref + " but cannot describe it");
    out.id = info->id;
    if (out.names.empty()) out.names = info->repo_tags;
    return out;
}

Result<LoadedImage> Engine::load_image(const std::filesystem::path& archive) const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(archive, ec);
    if (ec) return Error{Errc::io, "cannot read image archive " + archive.string() + ": " + ec.message()};
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(archive.c_str(), "rb"), &std::fclose};
    if (!file) return Error{Errc::io, "cannot open image archive " + archive.string()};
    std::FILE* f = file.get();
    auto source = [f, &archive](std::span<char> buffer) -> Result<std::size_t> {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), f);
        if (n == 0 && std::ferror(f)) return Error{Errc::io, "error reading image archive " + archive.string()};
        return n;
    };
    return load_image(source, size);
}

Result<LoadedImage> Engine::load_image(BodySource source, std::optional<std::uint64_t> size) const {
    HttpRequest req;
    req.method = "POST";
    req.target = path("/images/load?quiet=1");
    req.content_type = "application/x-tar";
    req.source = std::move(source);
    req.source_size = size;
    // The engine imports the whole archive before replying: allow load_timeout for the reply, and
    // request_timeout of silence while uploading.
    HttpTimeouts t{options_.connect_timeout, options_.load_timeout, options_.load_timeout};
    return finish_load(http_.exchange(req, t));
}

Result<std::string> Engine::pull_image(std::string_view reference, const PullOptions& options) const {
    // Podman answers its own ping; Docker has no such path. (Not version(): Podman's takes a second.)
    HttpRequest probe;
    probe.target = "/v4.0.0/libpod/_ping";
    const bool podman = ZP_TRY(send(probe, options_.request_timeout)).status == 200;
    HttpRequest req;
    req.method = "POST";
    const std::string ref{reference};
    if (podman) {
        // Podman's own API: its compatible endpoint insists on TLS for every registry.
        req.target = "/v4.0.0/libpod/images/pull?quiet=true&reference=" + url_encode(ref) +
                     "&tlsVerify=" + (options.tls_verify ? "true" : "false");
    } else {
        const auto slash = ref.rfind('/');
        const auto colon = ref.rfind(':');
        const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
        req.target = path("/images/create?fromImage=" + url_encode(tagged ? ref.substr(0, colon) : ref) +
                          "&tag=" + url_encode(tagged ? ref.substr(colon + 1) : std::string{"latest"}));
    }
    const std::string what = "pulling " + ref;
    // The engine streams progress while it pulls: allow load_timeout for the whole reply.
    auto reply = http_.exchange(req, HttpTimeouts{options_.connect_timeout, options_.load_timeout, options_.load_timeout});
    if (!reply) return reply.error().wrap(what);
    if (reply->status < 200 || reply->status >= 300) return status_error(*reply, what);
    // Errors that come after the reply started arrive as {"error": ...} elements of the stream.
    for (const auto& v : ZP_TRY(split_json_stream(reply->body))) {
        if (!v.is_object()) continue;
        if (auto err = v.find("error"); err != v.end() && err->is_string() && !err->get<std::string>().empty())
            return Error{Errc::engine_error, what + ": " + err->get<std::string>()};
    }
    auto info = inspect_image(ref);
    if (!info) return info.error().wrap("the engine pulled " + ref + " but cannot describe it");
    return info->id;
}

Result<void> Engine::export_image(std::string_view ref, const std::filesystem::path& out) const {
    const auto name = ZP_TRY(path_segment("image reference", ref, true));
    const auto tmp = std::filesystem::path{out.string() + ".partial"};
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return Error{Errc::io, "cannot write " + tmp.string() + ": " + std::strerror(errno)};
    bool write_failed = false;
    BodySink sink = [&](std::string_view piece) {
        if (std::fwrite(piece.data(), 1, piece.size(), f) != piece.size()) {
            write_failed = true;
            return false;
        }
        return true;
    };
    HttpRequest req;
    req.target = path("/images/" + name + "/get");
    auto reply = http_.exchange(req, HttpTimeouts{options_.connect_timeout, options_.load_timeout, options_.request_timeout},
                                sink);
    const bool closed = std::fclose(f) == 0;
    auto fail = [&](Error e) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return e;
    };
    if (!reply) return fail(reply.error().wrap("exporting image " + name));
    if (reply->status == 404) return fail(Error{Errc::not_found, "the container engine has no image " + name});
    if (reply->status != 200) return fail(status_error(*reply, "exporting image " + name));
    if (write_failed || !closed) return fail(Error{Errc::io, "cannot write " + tmp.string()});
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) return fail(Error{Errc::io, "cannot rename " + tmp.string() + " to " + out.string() + ": " + ec.message()});
    return {};
}

Result<ImageInfo> Engine::inspect_image(std::string_view ref) const {
    const auto name = ZP_TRY(path_segment("image reference", ref, true));
    auto j = call("GET", "/images/" + name + "/json");
    if (!j) {
        if (j.error().code() == Errc::not_found)
            return Error{Errc::not_found, "no image " + name + " in the container engine"};
        return j.error();
    }
    ImageInfo info;
    info.id = str(*j, "Id");
    info.repo_tags = strings(member(*j, "RepoTags"));
    info.diff_ids = strings(member(member(*j, "RootFS"), "Layers"));
    info.size = i64(*j, "Size");
    info.os = str(*j, "Os");
    info.architecture = str(*j, "Architecture");
    for (const auto& [port, _] : member(member(*j, "Config"), "ExposedPorts").items()) {
        const auto slash = port.find('/');
        if (slash == std::string::npos || port.substr(slash + 1) != "tcp") continue;
        unsigned n = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + slash, n);
        if (ec == std::errc{} && end == port.data() + slash && n > 0 && n <= 65535)
            info.exposed_tcp_ports.push_back(static_cast<std::uint16_t>(n));
    }
    std::sort(info.exposed_tcp_ports.begin(), info.exposed_tcp_ports.end());
    if (info.id.empty()) return Error{Errc::engine_error, "image inspect reply for " + name + " has no Id"};
    if (!info.id.starts_with("sha256:")) info.id = "sha256:" + info.id;
    return info;
}

Result<void> Engine::tag_image(std::string_view ref, std::string_view repo, std::string_view tag) const {
    const auto name = ZP_TRY(path_segment("image reference", ref, true));
    HttpRequest req;
    req.method = "POST";
    req.target = path("/images/" + name + "/tag?repo=" + url_encode(repo) + "&tag=" + url_encode(tag));
    const auto reply = ZP_TRY(send(req, options_.request_timeout));  // 201, and a body that is not JSON
    if (reply.status < 200 || reply.status >= 300) return status_error(reply, "tagging image " + name);
    return {};
}

Result<void> Engine::remove_image(std::string_view ref, bool force) const {
    const auto name = ZP_TRY(path_segment("image reference", ref, true));
    auto r = call("DELETE", "/images/" + name + (force ? "?force=1" : "?force=0"));
    if (!r) {
        if (r.error().code() == Errc::not_found) return Error{Errc::not_found, "no image " + name + " to remove"};
        return r.error();
    }
    return {};
}

// ---------------------------------------------------------------- containers

Result<std::string> Engine::create_container(const nlohmann::json& config, std::string_view name) const {
    std::string target = "/containers/create";
    if (!name.empty()) target += "?name=" + ZP_TRY(path_segment("container name", name, false));
    HttpRequest req;
    req.method = "POST";
    req.target = path(target);
    req.content_type = "application/json";
    req.body = config.dump();
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    // Docker answers a name conflict with 409; Podman 4 with 500 "... is already in use".
    if (reply.status == 409 ||
        (reply.status == 500 && engine_message(reply.body).find("already in use") != std::string::npos))
        return Error{Errc::already_exists,
                     "cannot create container " + std::string{name} + ": " + engine_message(reply.body)};
    if (reply.status == 404) return Error{Errc::not_found, "cannot create container: " + engine_message(reply.body)};
    if (reply.status != 201 && reply.status != 200) return status_error(reply, "creating a container");
    auto j = ZP_TRY(parse_body(reply, "creating a container"));
    auto id = str(j, "Id");
    if (id.empty()) return Error{Errc::engine_error, "container create reply has no Id: " + reply.body.substr(0, 200)};
    return id;
}

Result<void> Engine::start_container(std::string_view id) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    HttpRequest req;
    req.method = "POST";
    req.target = path("/containers/" + c + "/start");
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    if (reply.status == 204 || reply.status == 304 || reply.status == 200) return {};
    return status_error(reply, "starting container " + c);
}

Result<ContainerInfo> parse_container_info(const nlohmann::json& j) {
    if (!j.is_object()) return Error{Errc::engine_error, "container inspect reply is not a JSON object"};
    ContainerInfo info;
    info.id = str(j, "Id");
    if (info.id.empty()) return Error{Errc::engine_error, "container inspect reply has no Id"};
    info.name = strip_slash(str(j, "Name"));
    info.image_id = str(j, "Image");
    const json& config = member(j, "Config");
    info.image = str(config, "Image");
    info.labels = string_map(member(config, "Labels"));
    info.tty = boolean(config, "Tty");
    const json& state = member(j, "State");
    info.state.status = str(state, "Status");
    info.state.running = boolean(state, "Running");
    info.state.restarting = boolean(state, "Restarting");
    info.state.oom_killed = boolean(state, "OOMKilled");
    info.state.dead = boolean(state, "Dead");
    info.state.exit_code = static_cast<int>(i64(state, "ExitCode"));
    info.state.pid = static_cast<int>(i64(state, "Pid"));
    info.state.error = str(state, "Error");
    info.state.started_at = str(state, "StartedAt");
    info.state.finished_at = str(state, "FinishedAt");
    info.restart_count = static_cast<int>(i64(j, "RestartCount"));
    const json& host = member(j, "HostConfig");
    info.memory = i64(host, "Memory");
    info.memory_swap = i64(host, "MemorySwap");
    info.nano_cpus = i64(host, "NanoCpus");
    info.pids_limit = i64(host, "PidsLimit");
    const json& ports = member(member(j, "NetworkSettings"), "Ports");
    if (ports.is_object()) {
        for (auto it = ports.begin(); it != ports.end(); ++it) {
            const std::string& key = it.key();  // "8080/tcp"
            const auto slash = key.find('/');
            const auto container_port = port_number(std::string_view{key}.substr(0, slash));
            const std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
            if (!it->is_array()) continue;
            for (const auto& b : *it) {
                PublishedPort p;
                p.container_port = container_port;
                p.protocol = proto;
                p.host_ip = str(b, "HostIp");
                p.host_port = port_number(str(b, "HostPort"));
                info.ports.push_back(std::move(p));
            }
        }
    }
    return info;
}

Result<ContainerInfo> Engine::inspect_container(std::string_view id) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    auto j = call("GET", "/containers/" + c + "/json");
    if (!j) {
        if (j.error().code() == Errc::not_found) return Error{Errc::not_found, "no container " + c};
        return j.error();
    }
    return parse_container_info(*j);
}

Result<void> Engine::stop_container(std::string_view id, std::chrono::seconds grace) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    const auto g = std::max<std::int64_t>(0, grace.count());
    HttpRequest req;
    req.method = "POST";
    req.target = path("/containers/" + c + "/stop?t=" + std::to_string(g));
    auto reply = ZP_TRY(send(req, std::chrono::seconds{g} + options_.request_timeout));
    if (reply.status == 204 || reply.status == 304 || reply.status == 200) return {};
    if (reply.status == 404) return Error{Errc::not_found, "no container " + c + " to stop"};
    return status_error(reply, "stopping container " + c);
}

Result<void> Engine::kill_container(std::string_view id, std::string_view signal) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    HttpRequest req;
    req.method = "POST";
    req.target = path("/containers/" + c + "/kill?signal=" + url_encode(signal));
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    if (reply.status == 204 || reply.status == 200) return {};
    if (reply.status == 404) return Error{Errc::not_found, "no container " + c + " to kill"};
    return status_error(reply, "killing container " + c);
}

Result<void> Engine::remove_container(std::string_view id, bool force) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    HttpRequest req;
    req.method = "DELETE";
    req.target = path("/containers/" + c + (force ? "?force=1&v=1" : "?v=1"));
    auto reply = ZP_TRY(send(req, options_.request_timeout));
    if (reply.status == 204 || reply.status == 200) return {};
    if (reply.status == 404) return Error{Errc::not_found, "no container " + c + " to remove"};
    return status_error(reply, "removing container " + c);
}

Result<WaitResult> Engine::wait_container(std::string_view id, std::chrono::milliseconds timeout) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    HttpRequest req;
    req.method = "POST";
    req.target = path("/containers/" + c + "/wait?condition=not-running");
    auto reply = http_.exchange(req, HttpTimeouts{options_.connect_timeout, timeout, timeout});
    if (!reply) {
        if (reply.error().code() == Errc::timeout)
            return Error{Errc::timeout,
                         "container " + c + " still running after " + std::to_string(timeout.count()) + " ms"};
        return reply.error();
    }
    if (reply->status == 404) return Error{Errc::not_found, "no container " + c + " to wait for"};
    if (reply->status != 200) return status_error(*reply, "waiting for container " + c);
    // Docker may stream whitespace before the object; take the last JSON value.
    auto values = ZP_TRY(split_json_stream(reply->body));
    if (values.empty()) return Error{Errc::engine_error, "empty reply waiting for container " + c};
    const json& j = values.back();
    WaitResult w;
    w.exit_code = static_cast<int>(i64(j, "StatusCode"));
    w.error = str(member(j, "Error"), "Message");
    return w;
}

Result<void> Engine::logs(std::string_view id, const LogOptions& options, const LogSink& sink) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    auto info = ZP_TRY(inspect_container(c));
    std::string q = "/containers/" + c + "/logs?stdout=" + (options.stdout_ ? "1" : "0") +
                    "&stderr=" + (options.stderr_ ? "1" : "0") + "&follow=" + (options.follow ? "1" : "0") +
                    "&timestamps=" + (options.timestamps ? "1" : "0");
    if (options.tail) q += "&tail=" + std::to_string(*options.tail);
    HttpRequest req;
    req.target = path(q);
    std::optional<Error> sink_error;
    LogDemuxer demux{sink};
    BodySink body_sink = [&](std::string_view piece) {
        if (info.tty) return sink(LogStream::stdout_, piece);
        auto more = demux.feed(piece);
        if (!more) {
            sink_error = more.error();
            return false;
        }
        return *more;
    };
    auto reply =
        http_.exchange(req, HttpTimeouts{options_.connect_timeout, options.timeout, options.timeout}, body_sink);
    if (sink_error) return *sink_error;
    if (!reply) return reply.error().wrap("reading the logs of container " + c);
    if (reply->status == 404) return Error{Errc::not_found, "no container " + c + " to read logs from"};
    if (reply->status != 200) return status_error(*reply, "reading the logs of container " + c);
    return {};
}

Result<std::vector<ContainerSummary>> Engine::list_containers(const std::vector<std::string>& labels,
                                                              bool include_stopped) const {
    std::string q = std::string{"/containers/json?all="} + (include_stopped ? "1" : "0");
    if (!labels.empty()) q += "&filters=" + url_encode(filters_json({{"label", labels}}));
    auto j = ZP_TRY(call("GET", q));
    if (!j.is_array()) return Error{Errc::engine_error, "container list reply is not a JSON array"};
    std::vector<ContainerSummary> out;
    for (const auto& e : j) {
        ContainerSummary s;
        s.id = str(e, "Id");
        const auto names = strings(member(e, "Names"));
        if (!names.empty()) s.name = strip_slash(names.front());
        s.image = str(e, "Image");
        s.image_id = str(e, "ImageID");
        s.state = str(e, "State");
        s.status = str(e, "Status");
        s.labels = string_map(member(e, "Labels"));
        for (const auto& p : member(e, "Ports")) {
            PublishedPort port;
            port.container_port = static_cast<std::uint16_t>(std::clamp<std::int64_t>(i64(p, "PrivatePort"), 0, 65535));
            port.host_port = static_cast<std::uint16_t>(std::clamp<std::int64_t>(i64(p, "PublicPort"), 0, 65535));
            port.host_ip = str(p, "IP");
            port.protocol = str(p, "Type");
            s.ports.push_back(std::move(port));
        }
        // A filter the engine ignored must not leak foreign containers to the caller.
        if (!s.id.empty() && has_labels(labels, s.labels)) out.push_back(std::move(s));
    }
    return out;
}

Result<ContainerStats> Engine::stats(std::string_view id) const {
    const auto c = ZP_TRY(path_segment("container id", id, false));
    auto j = call("GET", "/containers/" + c + "/stats?stream=false");
    if (!j) {
        if (j.error().code() == Errc::not_found) return Error{Errc::not_found, "no container " + c};
        return j.error();
    }
    ContainerStats s;
    s.pids = u64(member(*j, "pids_stats"), "current");
    s.memory_usage = u64(member(*j, "memory_stats"), "usage");
    s.memory_limit = u64(member(*j, "memory_stats"), "limit");
    return s;
}

Result<void> Engine::events(const EventFilter& filter, std::chrono::milliseconds timeout, const EventSink& sink) const {
    std::string q = "/events";
    // The "event" filter is applied here, not by the engine: Podman 4.3 returns nothing when it is
    // given. Types and labels are checked again here too, for engines that ignore a filter.
    std::map<std::string, std::vector<std::string>> f{{"type", filter.types}, {"label", filter.labels}};
    q += "?filters=" + url_encode(filters_json(f));
    if (filter.since) q += "&since=" + std::to_string(*filter.since);
    HttpRequest req;
    req.target = path(q);
    JsonStreamSplitter splitter;
    std::optional<Error> stream_error;
    BodySink body_sink = [&](std::string_view piece) {
        auto values = splitter.feed(piece);
        if (!values) {
            stream_error = values.error();
            return false;
        }
        for (const auto& v : *values) {
            EngineEvent e;
            e.type = str(v, "Type");
            e.action = str(v, "Action");
            if (e.action.empty()) e.action = str(v, "status");
            const json& actor = member(v, "Actor");
            e.id = str(actor, "ID");
            if (e.id.empty()) e.id = str(v, "id");
            e.attributes = string_map(member(actor, "Attributes"));
            e.time_nano = i64(v, "timeNano");
            if (!matches(filter, e)) continue;
            if (!sink(e)) return false;
        }
        return true;
    };
    auto reply = http_.exchange(req, HttpTimeouts{options_.connect_timeout, timeout, timeout}, body_sink);
    if (stream_error) return *stream_error;
    if (!reply) return reply.error().wrap("listening to container engine events");
    if (reply->status != 200) return status_error(*reply, "listening to container engine events");
    return {};
}

}  // namespace zeppelin::runtime
