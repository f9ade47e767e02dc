// Container image archives and their on-chain identity.
//
// Accepted inputs: a docker-archive tar (`docker save`, `podman save`: manifest.json, the config
// JSON, one tar per layer, possibly gzip/zstd/xz-compressed, legacy layouts with symlinked
// duplicate layers) and an OCI image layout tar (oci-layout, index.json, blobs/sha256/...).
// The outer archive itself may be compressed. Everything is read with libarchive as a stream;
// nothing is extracted to disk.
//
// Identity (what a client commits to on chain): the image config digest = sha256 of the config
// JSON bytes, and the config's rootfs.diff_ids = sha256 of each *uncompressed* layer tar.
// inspect_image() recomputes both from the bytes and fails unless they agree with the archive's
// own claims, so the identity it returns is the one a worker will verify again on receipt.
//
// Hostile archives are rejected (Errc::hostile_archive unless said):
//   outer tar: absolute names, ".." components, symlinks/hard links leaving the tree, device
//   nodes, fifos, sockets, duplicate names, truncated or corrupt data, too many entries;
//   manifests that lie: missing config or layer, layer count != diff-id count, a config whose
//   digest differs from its name or descriptor (Errc::digest_mismatch), a layer whose content
//   differs from its diff-id (Errc::digest_mismatch), OCI blob size/digest mismatch;
//   limits (Errc::limit_exceeded): image/JSON size, layer count, decompression ratio;
//   each layer's own tar is scanned with LayerScanner (see tar_scan.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::transfer {

struct ImageLimits {
    std::uint64_t max_image_bytes = 64ULL << 30;  ///< sum of uncompressed layer sizes
    std::uint64_t max_json_bytes = 4ULL << 20;    ///< manifest / config / index size
    std::size_t max_layers = 256;
    std::uint64_t max_entries = 4096;         ///< members of the outer archive
    std::uint64_t max_ratio = 100;            ///< uncompressed/compressed, beyond ratio_floor
    std::uint64_t ratio_floor = 32ULL << 20;  ///< ratio is only checked beyond this many bytes
};

enum class ArchiveFormat { docker_archive, oci_layout };

struct LayerInfo {
    Digest diff_id;                     ///< sha256 of the uncompressed layer tar (from the config)
    std::uint64_t size{0};              ///< uncompressed size in bytes (measured)
    std::string blob;                   ///< member of the archive holding it (links resolved)
    std::optional<Digest> blob_digest;  ///< OCI: digest of the stored (maybe compressed) blob
    std::optional<std::uint64_t> blob_size;
};

struct ImageInfo {
    ArchiveFormat format{ArchiveFormat::docker_archive};
    Bytes config;          ///< the config JSON, exactly as stored
    Digest config_digest;  ///< sha256(config)
    std::vector<LayerInfo> layers;
    std::vector<std::string> repo_tags;

    [[nodiscard]] std::uint64_t total_bytes() const noexcept;
    [[nodiscard]] std::vector<Digest> diff_ids() const;
};

// ---- JSON documents (strict, no exceptions; fuzzed by fuzz/image_manifest_fuzz.cpp) ----

struct ImageConfig {
    std::vector<Digest> diff_ids;
};
/// Parses an image config: requires rootfs.type == "layers" and rootfs.diff_ids.
Result<ImageConfig> parse_image_config(ByteView json, const ImageLimits& limits = {});

struct DockerManifest {
    std::string config;
    std::vector<std::string> layers;
    std::vector<std::string> repo_tags;
    bool operator==(const DockerManifest&) const = default;
};
/// Parses docker-archive manifest.json; exactly one image is accepted.
Result<DockerManifest> parse_docker_manifest(ByteView json, const ImageLimits& limits = {});
std::string encode_docker_manifest(const DockerManifest& m);

struct OciDescriptor {
    std::string media_type;
    Digest digest;
    std::uint64_t size{0};
    bool operator==(const OciDescriptor&) const = default;
};
struct OciManifest {
    OciDescriptor config;
    std::vector<OciDescriptor> layers;
    bool operator==(const OciManifest&) const = default;
};
/// index.json (or a nested image index): its manifest descriptors.
Result<std::vector<OciDescriptor>> parse_oci_index(ByteView json, const ImageLimits& limits = {});
Result<OciManifest> parse_oci_manifest(ByteView json, const ImageLimits& limits = {});

// ---- archives ----

/// Reads and verifies an image archive (two streaming passes). See the file comment.
Result<ImageInfo> inspect_image(const std::filesystem::path& archive, const ImageLimits& limits = {});

/// Receives the uncompressed tar bytes of layers, one layer at a time.
class LayerSink {
  public:
    virtual ~LayerSink() = default;
    virtual Result<void> begin(std::size_t layer_index) = 0;
    virtual Result<void> data(ByteView chunk) = 0;
    virtual Result<void> end(std::size_t layer_index) = 0;
};

/// Streams the uncompressed tar of every wanted layer of an inspected image, in archive order,
/// each distinct blob once (begin() gets the first wanted layer index using that blob).
/// Chunks are up to 1 MiB. Checks decompression limits; does not hash.
Result<void> stream_layers(const std::filesystem::path& archive, const ImageInfo& image,
                           const std::vector<bool>& wanted, LayerSink& sink, const ImageLimits& limits = {});

/// Writes a docker-archive tar (manifest.json, <config hex>.json, <diff-id hex>.tar per distinct
/// layer) that `POST /images/load` accepts. Written to a temp file beside `out`, then renamed.
Result<void> write_docker_archive(const std::filesystem::path& out, ByteView config,
                                  const std::vector<Digest>& diff_ids,
                                  const std::vector<std::filesystem::path>& layer_files,
                                  const std::vector<std::string>& repo_tags = {});

}  // namespace zeppelin::transfer
