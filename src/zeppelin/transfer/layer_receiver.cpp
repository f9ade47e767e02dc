#include "zeppelin/transfer/layer_receiver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace zeppelin::transfer::detail {

namespace fs = std::filesystem;
namespace proto = protocol;

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

namespace {

Result<void> write_fd(int fd, ByteView data, const fs::path& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error{Errc::io, "writing '" + path.string() + "': " + std::strerror(errno)};
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace

// A second thread that hashes, scans and writes received layer bytes while the connection
// thread keeps reading and decrypting: a bounded set of 1 MiB blocks passes between them
// (moved, not copied), taken from and given back to the connection's pool.
class WriterThread final {
  public:
    using Consume = std::function<Result<void>(ByteView)>;
    WriterThread(Consume consume, BlockPool& pool, std::size_t buffers = 4)
        : consume_{std::move(consume)}, pool_{pool} {
        for (std::size_t i = 0; i < buffers; ++i) {
            if (pool_.empty()) {
                free_.emplace_back();
                free_.back().bytes.resize(kIoBlock);  // grows if a peer sends bigger frames
            } else {
                free_.push_back(std::move(pool_.back()));
                pool_.pop_back();
            }
        }
        thread_ = std::thread([this] { run(); });
    }
    ~WriterThread() {
        (void)drain();
        for (auto& b : free_) pool_.push_back(std::move(b));
    }
    WriterThread(const WriterThread&) = delete;
    WriterThread& operator=(const WriterThread&) = delete;

    /// A free block (stale contents): fit() it to the bytes it will hold.
    Block acquire() {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [&] { return !free_.empty(); });
        Block b = std::move(free_.back());
        free_.pop_back();
        return b;
    }
    Result<void> submit(Block b) {
        std::lock_guard lock{mu_};
        if (error_) {
            free_.push_back(std::move(b));
            cv_.notify_all();
            return *error_;
        }
        full_.push_back(std::move(b));
        cv_.notify_all();
        return {};
    }
    void recycle(Block b) {
        std::lock_guard lock{mu_};
        free_.push_back(std::move(b));
        cv_.notify_all();
    }
    /// Waits until everything submitted was consumed; returns the first consumer error.
    Result<void> drain() {
        {
            std::lock_guard lock{mu_};
            closed_ = true;
            cv_.notify_all();
        }
        if (thread_.joinable()) thread_.join();
        if (error_) return *error_;
        return {};
    }

  private:
    void run() {
        std::unique_lock lock{mu_};
        for (;;) {
            cv_.wait(lock, [&] { return !full_.empty() || closed_; });
            if (full_.empty()) return;
            Block b = std::move(full_.front());
            full_.pop_front();
            bool failed = error_.has_value();
            lock.unlock();
            std::optional<Error> e;
            if (!failed)
                if (auto r = consume_({b.bytes.data(), b.size}); !r) e = r.error();
            lock.lock();
            if (e && !error_) error_ = std::move(e);
            free_.push_back(std::move(b));
            cv_.notify_all();
        }
    }

    Consume consume_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Block> full_;
    std::vector<Block> free_;
    std::optional<Error> error_;
    bool closed_{false};
    BlockPool& pool_;
    std::thread thread_;
};

// ---- LayerReceiver ----------------------------------------------------------------------

LayerReceiver::LayerReceiver(std::size_t index, const Digest& diff_id, std::uint64_t size, fs::path partial,
                             BlockPool& pool)
    : index_{index}, diff_id_{diff_id}, size_{size}, partial_{std::move(partial)}, pool_{pool} {}

LayerReceiver::~LayerReceiver() { writer_.reset(); }

Result<void> LayerReceiver::open(std::uint64_t offset, proto::Codec codec) {
    codec_ = codec;
    fd_.reset(::open(partial_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd_.get() < 0) return Error{Errc::io, "cannot open '" + partial_.string() + "': " + std::strerror(errno)};
    // Rebuild the running hash and the tar scanner from the bytes already on disk.
    Bytes buf(offset > 0 ? kIoBlock : 0);
    std::uint64_t have = 0;
    while (have < offset) {
        auto n = ::read(fd_.get(), buf.data(),
                        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), offset - have)));
        if (n <= 0)
            return Error{Errc::protocol,
                         "resume offset " + std::to_string(offset) + " is beyond the partial layer"};
        ByteView chunk{buf.data(), static_cast<std::size_t>(n)};
        hash_.update(chunk);
        ZP_CHECK(scan(chunk));
        have += static_cast<std::uint64_t>(n);
    }
    // Truncate only what lies beyond the offset: on ext4, truncating a file to zero (even an
    // empty one) makes close() write the whole layer back synchronously (auto_da_alloc).
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0 ||
        (st.st_size != static_cast<off_t>(offset) && ::ftruncate(fd_.get(), static_cast<off_t>(offset)) != 0) ||
        ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
        return Error{Errc::io, "cannot position '" + partial_.string() + "'"};
    received_ = offset;
    if (codec_ == proto::Codec::zstd) {
        ZSTD_DCtx_reset(dstream_.get(), ZSTD_reset_session_and_parameters);
        ZSTD_DCtx_setParameter(dstream_.get(), ZSTD_d_windowLogMax, 27);
        zstd_done_ = false;
    }
    writer_ = std::make_unique<WriterThread>(
        [this](ByteView chunk) -> Result<void> {
            hash_.update(chunk);
            ZP_CHECK(scan(chunk));
            return write_fd(fd_.get(), chunk, partial_);
        },
        pool_);
    return {};
}

Block LayerReceiver::buffer() { return writer_->acquire(); }

Result<void> LayerReceiver::data_raw(Block payload) {
    if (codec_ != proto::Codec::raw) {
        writer_->recycle(std::move(payload));
        return Error{Errc::protocol, "internal: raw data on a compressed layer"};
    }
    if (auto r = count(payload.size); !r) {
        writer_->recycle(std::move(payload));
        return r;
    }
    return writer_->submit(std::move(payload));
}

Result<void> LayerReceiver::data_zstd(ByteView in) {
    if (codec_ != proto::Codec::zstd) return Error{Errc::protocol, "internal: compressed data on a raw layer"};
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    for (;;) {
        Block out = writer_->acquire();
        ZSTD_outBuffer ob{out.fit(kIoBlock), kIoBlock, 0};
        auto rc = ZSTD_decompressStream(dstream_.get(), &ob, &ib);
        if (ZSTD_isError(rc)) {
            writer_->recycle(std::move(out));
            return Error{Errc::protocol, where() + ": zstd stream is corrupt: " + ZSTD_getErrorName(rc)};
        }
        zstd_done_ = rc == 0;
        const bool full = ob.pos == ob.size;
        out.size = ob.pos;
        if (auto r = count(out.size); !r) {
            writer_->recycle(std::move(out));
            return r;
        }
        if (out.size == 0)
            writer_->recycle(std::move(out));
        else
            ZP_CHECK(writer_->submit(std::move(out)));
        if (ib.pos == ib.size && !full) return {};  // input consumed, nothing left buffered
    }
}

Result<void> LayerReceiver::finish() {
    auto drained = writer_->drain();
    writer_.reset();
    if (!drained) {
        discard();
        return drained.error();
    }
    if (codec_ == proto::Codec::zstd && !zstd_done_ && received_ < size_)
        return Error{Errc::protocol, where() + ": zstd stream ended early"};
    if (received_ != size_)
        return Error{Errc::hostile_archive, where() + " is truncated: got " + std::to_string(received_) + " of " +
                                                std::to_string(size_) + " bytes"};
    auto got = hash_.finish();
    if (got != diff_id_) {
        discard();
        return Error{Errc::digest_mismatch, where() + " hashes to " + digest_string(got) +
                                                " but the image config's diff-id is " + digest_string(diff_id_)};
    }
    if (auto r = scanner_.finish(); !r) {
        discard();
        return r.error().wrap(where());
    }
    fd_.reset();
    return {};
}

void LayerReceiver::discard() {
    writer_.reset();
    fd_.reset();
    std::error_code ec;
    fs::remove(partial_, ec);
}

std::string LayerReceiver::where() const {
    return "layer " + std::to_string(index_) + " (" + short_digest(diff_id_) + ")";
}

Result<void> LayerReceiver::scan(ByteView chunk) {
    if (auto r = scanner_.feed(chunk); !r) return r.error().wrap(where());
    return {};
}

Result<void> LayerReceiver::count(std::size_t n) {
    if (received_ + n > size_)
        return Error{Errc::limit_exceeded,
                     where() + " is larger than its declared " + std::to_string(size_) + " bytes"};
    received_ += n;
    return {};
}

}  // namespace zeppelin::transfer::detail
