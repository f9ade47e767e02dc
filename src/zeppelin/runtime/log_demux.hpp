// Container logs as the Docker Engine API sends them for a container without a TTY: a sequence of
// frames, each an 8-byte header {stream, 0, 0, 0, size as big-endian u32} followed by `size` bytes
// of output from that stream (Docker Engine API, "Stream format" under ContainerAttach).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"

namespace zeppelin::runtime {

enum class LogStream : std::uint8_t { stdin_ = 0, stdout_ = 1, stderr_ = 2 };

std::string_view to_string(LogStream s) noexcept;

/// Receives demultiplexed output; returns false to stop.
using LogSink = std::function<bool(LogStream stream, std::string_view data)>;

/// Incremental demultiplexer: feed() pieces of any size (headers may be split across pieces); each
/// frame's payload is passed to the sink as it arrives (a large frame may come in several calls).
class LogDemuxer final {
  public:
    explicit LogDemuxer(LogSink sink) : sink_{std::move(sink)} {}

    /// Returns true to continue, false when the sink asked to stop; Errc::engine_error for a header
    /// with an unknown stream type.
    Result<bool> feed(std::string_view piece);

    /// True when the stream ended on a frame boundary.
    [[nodiscard]] bool at_boundary() const noexcept { return header_used_ == 0 && remaining_ == 0; }

  private:
    LogSink sink_;
    std::array<unsigned char, 8> header_{};
    std::size_t header_used_{0};
    std::uint32_t remaining_{0};  // payload bytes left in the current frame
    LogStream current_{LogStream::stdout_};
};

}  // namespace zeppelin::runtime
