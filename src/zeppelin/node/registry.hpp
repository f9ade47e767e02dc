// A read-only container registry on loopback: the pull half of the OCI distribution API (v2),
// serving images whose layers the transfer server has already verified, so that the local engine
// takes them with an ordinary pull.
//
// Why: `POST /images/load` makes Podman copy the uploaded archive to a temporary file, unpack it
// once while guessing its format, and only then import it; a pull from a registry reads each
// layer once. For a 100 MB image that is about half a second less between "image received" and
// "container started" (bench/run_to_service.sh), and no archive is assembled on our side.
//
//     auto registry = LocalRegistry::start().value();
//     auto ref = registry->publish({config_bytes, {{diff_id, path, size}, ...}}).value();
//     engine.pull_image(ref.reference, {.tls_verify = false});   // "127.0.0.1:PORT/zeppelin/<name>:latest"
//     registry->withdraw(ref.name);
//
// Exposure: it binds 127.0.0.1 only and answers GET/HEAD only. An image is reachable only under
// the random 128-bit name publish() drew, and only until withdraw(); every other path is a 404 in
// the registry's error format. Blobs are the files in the layer cache, whose names are the
// digests they were verified against; the engine checks every blob against the manifest's digest
// as it pulls, so a file changed on disk afterwards fails the pull instead of loading.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/node/http_server.hpp"
#include "zeppelin/transfer/cache.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::node {

struct RegistryLayer {
    transfer::Digest diff_id;        // sha256 of the uncompressed layer tar (served uncompressed)
    std::filesystem::path file;      // the verified layer in the cache
    std::uint64_t size{0};
    // Set: the layer is still arriving and this produces its bytes as they come (sent chunked). It
    // must hold back the end until the layer is verified, and return early (a short blob, which
    // the engine refuses) if it never is.
    StreamProducer live;
};

struct RegistryImage {
    Bytes config;  // the image config, byte for byte (its sha256 is the image id)
    std::vector<RegistryLayer> layers;
};

struct Published {
    std::string name;       // "zeppelin/<32 hex>"
    std::string reference;  // "127.0.0.1:<port>/zeppelin/<32 hex>:latest", what the engine pulls
};

/// Produces a layer that is still arriving in `cache` for `agreement_id`, as its bytes land in the
/// partial file, for RegistryLayer::live. The last byte is held back until the transfer server has
/// verified the whole layer (hash and contents) and committed it to the cache, so an engine pulling
/// it cannot finish the blob before then. Returns early, leaving the blob short, when `failed()`
/// says the transfer failed for good, when nothing more arrives for `stall` once the layer has begun
/// to arrive, or when the reader leaves.
void follow_layer(transfer::LayerCache& cache, const std::string& agreement_id, const transfer::Digest& diff_id,
                  std::uint64_t size, const ChunkWriter& write, const std::function<bool()>& failed,
                  std::chrono::milliseconds stall = std::chrono::seconds{60});

/// The Docker schema 2 manifest for an image of uncompressed layers (exposed for tests).
std::string registry_manifest(const RegistryImage& image);

class LocalRegistry final {
public:
    /// Starts listening on 127.0.0.1 (port 0: any free port).
    static Result<std::unique_ptr<LocalRegistry>> start(std::uint16_t port = 0);
    ~LocalRegistry();
    LocalRegistry(const LocalRegistry&) = delete;
    LocalRegistry& operator=(const LocalRegistry&) = delete;

    /// Offers `image` for pulling under a fresh random name. Files of layers that are not live must exist.
    Result<Published> publish(RegistryImage image);
    /// Stops offering it (idempotent).
    void withdraw(const std::string& name);

    [[nodiscard]] std::uint16_t port() const noexcept;

private:
    struct Entry {
        RegistryImage image;
        std::string manifest;
        std::string manifest_digest;  // "sha256:<hex>"
    };
    LocalRegistry();
    void install_routes();

    std::unique_ptr<HttpServer> server_;
    mutable std::mutex mu_;
    std::map<std::string, Entry> images_;  // by name without the "zeppelin/" prefix
};

}  // namespace zeppelin::node
