// The worker's content-addressed layer cache: one file per verified layer tar, named by its
// diff-id, in <dir>/layers/. Size-bounded with least-recently-used eviction (use order persists
// through file mtimes). Layers enter only through commit(), after their sha256 was verified,
// by an atomic rename from <dir>/partial/. Partial files are kept per agreement so a dropped
// transfer resumes where it stopped and cannot be poisoned by another agreement's client.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::transfer {

class LayerCache final {
  public:
    static Result<std::unique_ptr<LayerCache>> open(const std::filesystem::path& dir, std::uint64_t max_bytes);
    LayerCache(std::filesystem::path dir, std::uint64_t max_bytes) : dir_{std::move(dir)}, max_bytes_{max_bytes} {}
    LayerCache(const LayerCache&) = delete;
    LayerCache& operator=(const LayerCache&) = delete;

    /// True if the layer is cached (and marks it recently used). Its size goes to *size.
    bool contains(const Digest& diff_id, std::uint64_t* size = nullptr);
    [[nodiscard]] std::filesystem::path path_of(const Digest& diff_id) const;

    /// Partial file of a layer being received for an agreement (its directory is created).
    Result<std::filesystem::path> partial_path(const std::string& agreement_id, const Digest& diff_id) const;
    void drop_partials(const std::string& agreement_id) const;

    /// Moves a verified file into the cache (atomic rename), then evicts LRU unpinned layers
    /// until the cache fits its bound. The committed layer is pinned once for the caller.
    Result<void> commit(const std::filesystem::path& verified_file, const Digest& diff_id, std::uint64_t size);

    /// Pinned layers are never evicted (a transfer or an archive assembly uses them).
    void pin(const Digest& diff_id);
    void unpin(const Digest& diff_id);

    [[nodiscard]] std::uint64_t total_bytes() const;
    [[nodiscard]] std::size_t layer_count() const;
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  private:
    struct Entry {
        std::uint64_t size{0};
        std::uint64_t last_use{0};
        int pins{0};
    };
    void evict_locked();

    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
    mutable std::mutex mu_;
    std::map<Digest, Entry> entries_;
    std::uint64_t total_{0};
    std::uint64_t clock_{0};
};

}  // namespace zeppelin::transfer
