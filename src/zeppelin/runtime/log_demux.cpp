#include "zeppelin/runtime/log_demux.hpp"

#include <algorithm>

namespace zeppelin::runtime {

std::string_view to_string(LogStream s) noexcept {
    switch (s) {
        case LogStream::stdin_:
            return "stdin";
        case LogStream::stdout_:
            return "stdout";
        case LogStream::stderr_:
            return "stderr";
    }
    return "unknown";
}

Result<bool> LogDemuxer::feed(std::string_view piece) {
    while (!piece.empty()) {
        if (remaining_ == 0) {
            const std::size_t take = std::min(header_.size() - header_used_, piece.size());
            std::copy_n(piece.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_used_));
            header_used_ += take;
            piece.remove_prefix(take);
            if (header_used_ < header_.size()) break;
            header_used_ = 0;
            if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0)
                return Error{Errc::engine_error, "container log stream has a bad frame header (stream type " +
                                                     std::to_string(header_[0]) +
                                                     "); was the container started with a TTY?"};
            current_ = static_cast<LogStream>(header_[0]);
            remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                         (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
            continue;
        }
        const std::size_t take = std::min<std::size_t>(remaining_, piece.size());
        remaining_ -= static_cast<std::uint32_t>(take);
        const auto data = piece.substr(0, take);
        piece.remove_prefix(take);
        if (!sink_(current_, data)) return false;
    }
    return true;
}

}  // namespace zeppelin::runtime
