// Builds docker-archive / OCI test images (and hostile variants) with libarchive's writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::transfer::test {

struct TarEntry {
    std::string name;
    Bytes data;
    char type = '0';  // '0' file, '1' hardlink, '2' symlink, '3' char dev, '5' dir, '6' fifo
    std::string link;
};

enum class Compression { none, gzip };

/// A tar (optionally gzip-compressed) of the given entries.
Bytes make_tar(const std::vector<TarEntry>& entries, Compression c = Compression::none);
void write_file(const std::filesystem::path& p, ByteView data);
Bytes read_file(const std::filesystem::path& p);

/// A layer tar holding `files` files of `bytes_each` bytes: random, or compressible text.
Bytes make_layer(std::uint64_t seed, std::size_t files, std::size_t bytes_each, bool compressible);

/// A config JSON with the given diff-ids.
std::string make_config(const std::vector<Digest>& diff_ids);

struct BuiltImage {
    std::filesystem::path path;
    Digest config_digest;
    std::vector<Digest> diff_ids;
    std::uint64_t bytes{0};
};

/// docker-archive with the given layer tars (gzip-compressed inside the archive if asked).
/// `extra` members are appended (for hostile variants).
BuiltImage make_docker_archive(const std::filesystem::path& path, const std::vector<Bytes>& layers,
                               Compression layer_compression = Compression::none,
                               const std::vector<TarEntry>& extra = {});
/// OCI image layout tar.
BuiltImage make_oci_archive(const std::filesystem::path& path, const std::vector<Bytes>& layers,
                            Compression layer_compression = Compression::gzip);

}  // namespace zeppelin::transfer::test
