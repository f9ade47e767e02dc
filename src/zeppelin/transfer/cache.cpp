#include "zeppelin/transfer/cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::transfer {

namespace fs = std::filesystem;

namespace {
std::string agreement_dir_name(const std::string& agreement_id) {
    return to_hex(sha256(as_view(agreement_id)), false).substr(0, 32);
}
}  // namespace

Result<std::unique_ptr<LayerCache>> LayerCache::open(const fs::path& dir, std::uint64_t max_bytes) {
    std::error_code ec;
    for (const auto* sub : {"layers", "partial", "images"}) {
        fs::create_directories(dir / sub, ec);
        if (ec) return Error{Errc::io, "cannot create cache directory '" + (dir / sub).string() + "': " + ec.message()};
    }
    auto cache = std::make_unique<LayerCache>(dir, max_bytes);
    struct Found {
        Digest d;
        std::uint64_t size;
        fs::file_time_type mtime;
    };
    std::vector<Found> found;
    for (const auto& e : fs::directory_iterator(dir / "layers", ec)) {
        auto name = e.path().filename().string();
        auto d = fixed_from_hex<32>(name);
        if (!e.is_regular_file() || name.size() != 64 || !d) {
            fs::remove(e.path(), ec);  // temp leftovers from a crash
            continue;
        }
        found.push_back({*d, e.file_size(), e.last_write_time()});
    }
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
    for (const auto& f : found) {
        cache->entries_[f.d] = Entry{f.size, ++cache->clock_, 0};
        cache->total_ += f.size;
    }
    std::lock_guard lock{cache->mu_};
    cache->evict_locked();
    return cache;
}

fs::path LayerCache::path_of(const Digest& d) const {
    return dir_ / "layers" / to_hex(d, false);
}

bool LayerCache::contains(const Digest& d, std::uint64_t* size) {
    std::lock_guard lock{mu_};
    auto it = entries_.find(d);
    if (it == entries_.end()) return false;
    it->second.last_use = ++clock_;
    if (size != nullptr) *size = it->second.size;
    ::utimensat(AT_FDCWD, path_of(d).c_str(), nullptr, 0);  // persist the use order
    return true;
}

Result<fs::path> LayerCache::partial_path(const std::string& agreement_id, const Digest& d) const {
    auto dir = dir_ / "partial" / agreement_dir_name(agreement_id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Error{Errc::io, "cannot create '" + dir.string() + "': " + ec.message()};
    return dir / (to_hex(d, false) + ".part");
}

void LayerCache::drop_partials(const std::string& agreement_id) const {
    std::error_code ec;
    fs::remove_all(dir_ / "partial" / agreement_dir_name(agreement_id), ec);
}

Result<void> LayerCache::commit(const fs::path& file, const Digest& d, std::uint64_t size) {
    std::lock_guard lock{mu_};
    std::error_code ec;
    fs::rename(file, path_of(d), ec);
    if (ec) return Error{Errc::io, "cannot commit layer " + digest_string(d) + " to the cache: " + ec.message()};
    auto& e = entries_[d];
    if (e.last_use == 0) total_ += size;
    e.size = size;
    e.last_use = ++clock_;
    ++e.pins;
    evict_locked();
    return {};
}

void LayerCache::pin(const Digest& d) {
    std::lock_guard lock{mu_};
    if (auto it = entries_.find(d); it != entries_.end()) ++it->second.pins;
}

void LayerCache::unpin(const Digest& d) {
    std::lock_guard lock{mu_};
    if (auto it = entries_.find(d); it != entries_.end() && it->second.pins > 0) --it->second.pins;
    evict_locked();
}

void LayerCache::evict_locked() {
    while (total_ > max_bytes_) {
        auto victim = entries_.end();
        for (auto it = entries_.begin(); it != entries_.end(); ++it)
            if (it->second.pins == 0 && (victim == entries_.end() || it->second.last_use < victim->second.last_use))
                victim = it;
        if (victim == entries_.end()) return;  // everything in use: over budget until unpinned
        std::error_code ec;
        fs::remove(path_of(victim->first), ec);
        total_ -= victim->second.size;
        entries_.erase(victim);
    }
}

std::uint64_t LayerCache::total_bytes() const {
    std::lock_guard lock{mu_};
    return total_;
}

std::size_t LayerCache::layer_count() const {
    std::lock_guard lock{mu_};
    return entries_.size();
}

}  // namespace zeppelin::transfer
