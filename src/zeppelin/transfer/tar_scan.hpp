// A push-based scanner for the tar stream of one image layer (the uncompressed bytes that the
// diff-id hashes). It sees every byte exactly once, while the layer is hashed, and rejects
// entries that would be hostile when the container engine extracts the layer:
//
//   - names (after ustar prefix, GNU long-name and pax "path" records) that are absolute,
//     contain a ".." component, or contain a NUL;
//   - hard links whose target is absolute or contains ".." (a hard link must name a file
//     inside the layer tree);
//   - character and block device nodes and fifos;
//   - entry types other than regular file, hard link, symlink, directory, pax and GNU
//     long-name headers (e.g. GNU sparse or multi-volume entries);
//   - corrupt headers (bad checksum, size field not a number) and oversize metadata records
//     (> 1 MiB), and a stream that ends inside an entry (truncated).
//
// Symlink *targets* are allowed to be absolute: real images need them (/bin/sh -> /bin/busybox)
// and the engine resolves them inside the container's root, never on the host. Whiteouts
// (".wh.*") are ordinary names here.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::transfer {

class LayerScanner final {
  public:
    /// Feeds the next bytes of the layer tar. Returns hostile_archive on the first bad entry.
    Result<void> feed(ByteView data);
    /// Call after the last byte: fails if the stream ended inside a header or an entry.
    Result<void> finish() const;

    [[nodiscard]] std::uint64_t entries() const noexcept { return entries_; }
    [[nodiscard]] bool ended() const noexcept { return state_ == State::end; }

  private:
    enum class State { header, payload, padding, end };
    Result<void> on_header();
    Result<void> on_meta_complete();
    Result<void> check_entry(char type, const std::string& name, const std::string& link) const;

    State state_{State::header};
    std::array<std::uint8_t, 512> block_{};
    std::size_t block_fill_{0};
    std::uint64_t remaining_{0};  // payload bytes left in the current entry
    std::uint64_t padding_{0};    // padding bytes left after the payload
    char meta_type_{0};           // 'x', 'L', 'K', 'g' while collecting metadata, else 0
    std::string meta_;            // collected metadata payload
    std::string next_name_;       // pending long name / pax path for the next entry
    std::string next_link_;
    int zero_blocks_{0};
    std::uint64_t entries_{0};
};

/// Checks one path as found in an archive: relative, no ".." component, no NUL.
/// Returns an empty string when fine, else the reason.
std::string path_problem(std::string_view path);

}  // namespace zeppelin::transfer
