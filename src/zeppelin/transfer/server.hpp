// Worker side of the image transfer (protocol in protocol.hpp, channel in tls.hpp).
//
//   auto server = transfer::Server::start({.cache_dir = dir}).value();
//   server->expect(agreement_id, secret, committed_config_digest, max_bytes);
//   // tell the client server->port() (encrypted, through the chain's event log)
//   auto image = server->wait(agreement_id, 10min);   // or ServerOptions::on_complete
//   runtime.load(image->archive);                    // a verified docker-archive tar
//
// Rules: one connection at a time per agreement; a connection that drops (io/timeout) leaves
// the agreement open so the client can resume; a completed transfer burns the secret (a later
// connection with it is answered "already used"); a verification failure (digest, hostile
// layer, limit) fails the agreement for good. An unknown agreement id or a wrong secret fails
// the TLS handshake.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/cache.hpp"
#include "zeppelin/transfer/digest.hpp"
#include "zeppelin/transfer/protocol.hpp"
#include "zeppelin/transfer/tls.hpp"

namespace zeppelin::transfer {

struct ReceivedImage {
    std::string agreement_id;
    Digest config_digest;
    Bytes config;
    std::vector<Digest> diff_ids;
    std::filesystem::path archive;  ///< docker-archive tar ready for POST /images/load (empty if not assembled)
    std::uint64_t image_bytes{0};   ///< sum of layer sizes
    std::uint64_t wire_bytes{0};    ///< TCP payload bytes received+sent over all connections (TLS included)
    std::size_t layers_received{0};
    std::size_t layers_cached{0};
    std::size_t connections{0};
};

/// An image whose transfer is beginning: its config verified against the committed digest, its
/// layer sizes within the agreement's limit. Its layers are still to come (or to resume).
struct IncomingImage {
    std::string agreement_id;
    Bytes config;
    std::vector<Digest> diff_ids;
    std::vector<std::uint64_t> sizes;  ///< per layer, as diff_ids
    /// The client's probe spec and salt, as its HELLO carried them (protocol.hpp): only the holder
    /// of the agreement's secret sends them, but nothing here checks them against the agreement's
    /// commit (the callback's owner does). None from a version-1 client.
    std::optional<protocol::SpecReveal> spec;
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  ///< 0 = any free port (see Server::port())
    std::filesystem::path cache_dir;
    std::uint64_t cache_max_bytes = 32ULL << 30;
    std::filesystem::path image_dir;  ///< where assembled archives go; default <cache_dir>/images
    std::chrono::milliseconds io_timeout{30'000};
    bool assemble_archive = true;
    std::function<void(const std::string& agreement_id, const Result<ReceivedImage>&)> on_complete;
    /// Called on every connection once its HELLO is accepted, before any layer flows (on the
    /// connection's thread; return quickly). A layer's file enters the cache (LayerCache::path_of)
    /// only once it is complete and verified; until then it grows at LayerCache::partial_path.
    /// Also when the worker holds every layer already (nothing is sent): the HELLO's spec always
    /// arrives here.
    std::function<void(const IncomingImage&)> on_hello;
};

class Server final {
  public:
    static Result<std::unique_ptr<Server>> start(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;

    /// Registers an agreement: the client must present `secret` (32 bytes, single use), an image
    /// whose config digest is `config_digest`, of at most `max_bytes` uncompressed layer bytes.
    Result<void> expect(const std::string& agreement_id, const Secret& secret, const Digest& config_digest,
                        std::uint64_t max_bytes);
    /// Blocks until the agreement's transfer completed or failed for good, or the timeout.
    Result<ReceivedImage> wait(const std::string& agreement_id, std::chrono::milliseconds timeout);
    /// Forgets an agreement (e.g. cancelled on chain) and its partial files.
    void forget(const std::string& agreement_id);

    LayerCache& cache() noexcept;
    void stop();

    struct Impl;
    explicit Server(std::unique_ptr<Impl> impl);

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace zeppelin::transfer
