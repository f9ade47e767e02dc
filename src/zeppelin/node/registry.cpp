#include "zeppelin/node/registry.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/node/http_server.hpp"

namespace zeppelin::node {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kManifestType = "application/vnd.docker.distribution.manifest.v2+json";
constexpr std::string_view kConfigType = "application/vnd.docker.container.image.v1+json";
constexpr std::string_view kLayerType = "application/vnd.docker.image.rootfs.diff.tar";  // uncompressed

// The distribution spec's error body: {"errors": [{"code", "message"}]}.
Response registry_error(unsigned status, std::string_view code, std::string_view message) {
    return Response::json(status, {{"errors", json::array({{{"code", code}, {"message", message}}})}});
}

}  // namespace

void follow_layer(transfer::LayerCache& cache, const std::string& agreement_id, const transfer::Digest& diff_id,
                  std::uint64_t size, const ChunkWriter& write, const std::function<bool()>& failed,
                  std::chrono::milliseconds stall) {
    const auto final_path = cache.path_of(diff_id);
    const auto partial = cache.partial_path(agreement_id, diff_id);
    if (!partial || size == 0) return;
    struct Fd {
        int fd{-1};
        ~Fd() {
            if (fd >= 0) ::close(fd);
        }
    } f;
    bool on_final = false;
    std::uint64_t sent = 0;
    std::vector<char> buffer(std::size_t{1} << 20);
    auto last_progress = std::chrono::steady_clock::now();
    while (sent < size) {
        std::error_code ec;
        if (!on_final && fs::exists(final_path, ec)) {
            // Verified and committed: read the cache's file from here on (the partial file renamed,
            // or another transfer's copy of the same bytes).
            if (f.fd >= 0) ::close(f.fd);
            f.fd = ::open(final_path.c_str(), O_RDONLY | O_CLOEXEC);
            on_final = true;
        } else if (f.fd < 0) {
            f.fd = ::open(partial->c_str(), O_RDONLY | O_CLOEXEC);
        }
        struct stat st {};
        const std::uint64_t have = f.fd >= 0 && ::fstat(f.fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
        const std::uint64_t limit = on_final ? std::min(have, size) : std::min(have, size - 1);
        if (limit > sent) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(limit - sent, buffer.size()));
            const auto n = ::pread(f.fd, buffer.data(), want, static_cast<off_t>(sent));
            if (n <= 0 || !write({buffer.data(), static_cast<std::size_t>(n)})) return;
            sent += static_cast<std::uint64_t>(n);
            last_progress = std::chrono::steady_clock::now();
            continue;
        }
        if (on_final) return;  // the cache's file is shorter than the layer: leave the blob short
        // The stall counts once this layer has begun to arrive: an engine asks for several blobs at
        // once, and the client sends them one after the other.
        if (f.fd < 0) last_progress = std::chrono::steady_clock::now();
        if (failed() || std::chrono::steady_clock::now() - last_progress > stall || !write({})) return;
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
}

std::string registry_manifest(const RegistryImage& image) {
    json layers = json::array();
    for (const auto& l : image.layers)
        layers.push_back({{"mediaType", kLayerType}, {"size", l.size}, {"digest", transfer::digest_string(l.diff_id)}});
    const json m{{"schemaVersion", 2},
                 {"mediaType", kManifestType},
                 {"config",
                  {{"mediaType", kConfigType},
                   {"size", image.config.size()},
                   {"digest", transfer::digest_string(transfer::sha256(image.config))}}},
                 {"layers", std::move(layers)}};
    return m.dump();
}

LocalRegistry::LocalRegistry() = default;

LocalRegistry::~LocalRegistry() {
    if (server_) server_->stop();
}

Result<std::unique_ptr<LocalRegistry>> LocalRegistry::start(std::uint16_t port) {
    std::unique_ptr<LocalRegistry> r{new LocalRegistry{}};
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.max_body_bytes = 0;  // GET/HEAD only
    o.io_timeout = std::chrono::milliseconds{60000};
    r->server_ = std::make_unique<HttpServer>(o);
    r->install_routes();
    ZP_CHECK(r->server_->start());
    return r;
}

std::uint16_t LocalRegistry::port() const noexcept {
    return server_->port();
}

Result<Published> LocalRegistry::publish(RegistryImage image) {
    for (const auto& l : image.layers) {
        std::error_code ec;
        if (!l.live && !fs::is_regular_file(l.file, ec))
            return make_error(Errc::not_found, "layer " + transfer::short_digest(l.diff_id) + " is not in the cache (" +
                                                   l.file.string() + ")");
    }
    const auto random = ZP_TRY(generate_api_token());
    const std::string id = random.substr(0, 32);
    Entry e;
    e.manifest = registry_manifest(image);
    e.manifest_digest = transfer::digest_string(transfer::sha256(as_view(e.manifest)));
    e.image = std::move(image);
    {
        std::lock_guard lock{mu_};
        images_[id] = std::move(e);
    }
    return Published{"zeppelin/" + id, "127.0.0.1:" + std::to_string(port()) + "/zeppelin/" + id + ":latest"};
}

void LocalRegistry::withdraw(const std::string& name) {
    constexpr std::string_view prefix = "zeppelin/";
    std::lock_guard lock{mu_};
    images_.erase(name.starts_with(prefix) ? name.substr(prefix.size()) : name);
}

void LocalRegistry::install_routes() {
    // The API version check every client starts with.
    server_->route("GET", "/v2/", [](const Request&) {
        Response r = Response::json(200, json::object());
        r.headers.emplace_back("Docker-Distribution-API-Version", "registry/2.0");
        return r;
    });
    server_->route("GET", "/v2/zeppelin/{name}/manifests/{reference}", [this](const Request& req) {
        std::lock_guard lock{mu_};
        const auto it = images_.find(req.params.at("name"));
        if (it == images_.end()) return registry_error(404, "NAME_UNKNOWN", "no such repository");
        const auto& ref = req.params.at("reference");
        if (ref != "latest" && ref != it->second.manifest_digest)
            return registry_error(404, "MANIFEST_UNKNOWN", "no manifest " + ref);
        Response r;
        r.content_type = std::string{kManifestType};
        r.body = it->second.manifest;
        r.headers.emplace_back("Docker-Content-Digest", it->second.manifest_digest);
        r.headers.emplace_back("Docker-Distribution-API-Version", "registry/2.0");
        return r;
    });
    server_->route("GET", "/v2/zeppelin/{name}/blobs/{digest}", [this](const Request& req) {
        std::lock_guard lock{mu_};
        const auto it = images_.find(req.params.at("name"));
        if (it == images_.end()) return registry_error(404, "NAME_UNKNOWN", "no such repository");
        const auto digest = transfer::parse_digest(req.params.at("digest"));
        if (!digest) return registry_error(400, "DIGEST_INVALID", digest.error().message());
        const auto& image = it->second.image;
        Response r;
        if (*digest == transfer::sha256(image.config)) {
            r.content_type = std::string{kConfigType};
            r.body.assign(image.config.begin(), image.config.end());
        } else {
            const auto layer = std::find_if(image.layers.begin(), image.layers.end(),
                                            [&](const RegistryLayer& l) { return l.diff_id == *digest; });
            if (layer == image.layers.end()) return registry_error(404, "BLOB_UNKNOWN", "no blob " + req.params.at("digest"));
            r = layer->live ? Response::streaming("application/octet-stream", layer->live)
                            : Response::file_body("application/octet-stream", layer->file);
        }
        r.headers.emplace_back("Docker-Content-Digest", req.params.at("digest"));
        return r;
    });
}

}  // namespace zeppelin::node
