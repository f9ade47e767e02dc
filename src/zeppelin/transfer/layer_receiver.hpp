// The storage side of the transfer server: one layer's bytes from the wire to a verified
// partial file in the cache. (Decompress) -> size check -> [writer thread: sha256 -> tar scan ->
// file], resumable from the bytes already on disk. The session (handshake, frames, agreement
// states) stays in server.cpp; this file knows nothing of agreements or the protocol's order.
// Internal to the transfer library.
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/digest.hpp"
#include "zeppelin/transfer/protocol.hpp"
#include "zeppelin/transfer/tar_scan.hpp"

namespace zeppelin::transfer::detail {

inline constexpr std::size_t kIoBlock = 1 << 20;

// A block of received layer bytes: the first `size` bytes of `bytes`. The vector never shrinks,
// so reusing it costs no zero-filling.
struct Block {
    Bytes bytes;
    std::size_t size{0};
    /// Room for n bytes (only grows), and size = n.
    std::uint8_t* fit(std::size_t n) {
        if (bytes.size() < n) bytes.resize(n);
        size = n;
        return bytes.data();
    }
};

// Blocks kept for the next layer of the connection: fresh memory costs page faults.
using BlockPool = std::vector<Block>;

class DStream final {
  public:
    DStream() : d_{ZSTD_createDCtx()} {}
    ~DStream() { ZSTD_freeDCtx(d_); }
    DStream(const DStream&) = delete;
    DStream& operator=(const DStream&) = delete;
    ZSTD_DCtx* get() const noexcept { return d_; }

  private:
    ZSTD_DCtx* d_;
};

class Fd final {
  public:
    explicit Fd(int fd = -1) : fd_{fd} {}
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    void reset(int fd = -1);
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

class WriterThread;

// Receives one layer: (decompress) -> size check -> [writer thread: sha256 -> tar scan -> partial file].
class LayerReceiver {
  public:
    LayerReceiver(std::size_t index, const Digest& diff_id, std::uint64_t size, std::filesystem::path partial,
                  BlockPool& pool);
    ~LayerReceiver();
    LayerReceiver(const LayerReceiver&) = delete;
    LayerReceiver& operator=(const LayerReceiver&) = delete;

    /// Opens the partial file at `offset` (the bytes before it are re-hashed and re-scanned).
    Result<void> open(std::uint64_t offset, protocol::Codec codec);
    /// A block to read the next raw DATA payload into (then pass it to data_raw()).
    Block buffer();
    Result<void> data_raw(Block payload);
    Result<void> data_zstd(ByteView in);
    /// Verifies the partial file, ready for commit.
    Result<void> finish();
    void discard();

    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    [[nodiscard]] const std::filesystem::path& partial() const noexcept { return partial_; }

  private:
    std::string where() const;
    Result<void> scan(ByteView chunk);
    Result<void> count(std::size_t n);

    std::size_t index_;
    Digest diff_id_;
    std::uint64_t size_;
    std::filesystem::path partial_;
    Fd fd_;
    protocol::Codec codec_{protocol::Codec::raw};
    std::uint64_t received_{0};
    Sha256 hash_;
    LayerScanner scanner_;
    DStream dstream_;
    bool zstd_done_{false};
    BlockPool& pool_;
    std::unique_ptr<WriterThread> writer_;  // declared last: stopped before the fd closes
};

}  // namespace zeppelin::transfer::detail
