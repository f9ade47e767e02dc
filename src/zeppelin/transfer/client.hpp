// Client side of the image transfer: sends an image archive to a worker's transfer::Server.
//
//   auto info = transfer::inspect_image("app.tar").value();      // identity for buyContract
//   ... info.config_digest goes on chain; the secret and the worker's endpoint come privately ...
//   transfer::SendOptions opt;
//   transfer::ProgressRenderer bar{stderr, isatty(2)};
//   opt.progress = std::ref(bar);
//   auto stats = transfer::send_image({host, port}, agreement_id, secret, "app.tar", info, opt);
//
// Only layers the worker lacks are sent (each distinct diff-id once); layers are zstd-compressed
// unless a 1 MiB sample compresses worse than 95%; after a dropped connection the client
// reconnects (max_attempts) and resumes: finished layers are skipped and a partly sent layer
// continues at the worker's offset. SendOptions::spec reveals the client's probe spec to the
// worker in the same session (protocol.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/progress.hpp"
#include "zeppelin/transfer/protocol.hpp"
#include "zeppelin/transfer/tls.hpp"

namespace zeppelin::transfer {

struct SendOptions {
    std::chrono::milliseconds io_timeout{30'000};
    /// The TCP connect alone: a worker whose router drops the connection (a NAT without the port
    /// forwarded) is known unreachable after this, not after io_timeout.
    std::chrono::milliseconds connect_timeout{10'000};
    bool compress = true;
    int zstd_level = 1;  ///< fast level: on a LAN the link, not the ratio, limits
    int zstd_workers = -1;  ///< -1: auto (half the cores when there are >= 4, else 0)
    int max_attempts = 5;
    std::chrono::milliseconds retry_delay{200};
    ProgressCallback progress;
    ImageLimits limits;
    /// The client's probe spec and salt, sent in every HELLO of the session (protocol.hpp): the
    /// worker learns them even when it holds every layer. Refused before connecting when empty or
    /// larger than protocol::kMaxSpec.
    std::optional<protocol::SpecReveal> spec;
    /// Test hook: the first connection is cut after this many bytes written (0 = never).
    std::uint64_t test_drop_after_bytes = 0;
};

struct SendStats {
    std::uint64_t image_bytes{0};       ///< sum of distinct layer sizes
    std::uint64_t layer_bytes_sent{0};  ///< uncompressed layer bytes streamed (all attempts)
    std::uint64_t wire_bytes{0};        ///< TCP payload bytes both ways, TLS records included
    std::uint64_t resumed_from{0};      ///< bytes of partly sent layers the worker kept
    std::size_t layers_sent{0};
    std::size_t layers_skipped{0};  ///< already held by the worker
    std::size_t layers_compressed{0};
    int attempts{0};
    double seconds{0};
};

Result<SendStats> send_image(const Endpoint& worker, const std::string& agreement_id, const Secret& secret,
                             const std::filesystem::path& image, const ImageInfo& info,
                             const SendOptions& options = {});

/// Inspects the archive first (see inspect_image), then sends it.
Result<SendStats> send_image(const Endpoint& worker, const std::string& agreement_id, const Secret& secret,
                             const std::filesystem::path& image, const SendOptions& options = {});

}  // namespace zeppelin::transfer
