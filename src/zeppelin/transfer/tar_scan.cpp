#include "zeppelin/transfer/tar_scan.hpp"

#include <algorithm>
#include <cstring>

namespace zeppelin::transfer {

namespace {

constexpr std::size_t kMaxMeta = 1 << 20;

Error hostile(std::string msg) {
    return Error{Errc::hostile_archive, "layer tar: " + std::move(msg)};
}

std::string field(const std::uint8_t* p, std::size_t n) {
    std::size_t len = 0;
    while (len < n && p[len] != 0) ++len;
    return std::string(reinterpret_cast<const char*>(p), len);
}

// Parses a numeric tar field: octal (space/NUL padded) or GNU base-256 (high bit set).
bool parse_number(const std::uint8_t* p, std::size_t n, std::uint64_t& out) {
    out = 0;
    if (n > 0 && (p[0] & 0x80U) != 0) {
        if ((p[0] & 0x40U) != 0) return false;  // negative
        std::uint64_t v = p[0] & 0x3fU;
        for (std::size_t i = 1; i < n; ++i) {
            if (v > (UINT64_MAX >> 8)) return false;
            v = (v << 8) | p[i];
        }
        out = v;
        return true;
    }
    std::size_t i = 0;
    while (i < n && p[i] == ' ') ++i;
    for (; i < n; ++i) {
        auto c = p[i];
        if (c >= '0' && c <= '7') {
            if (out > (UINT64_MAX >> 3)) return false;
            out = (out << 3) | static_cast<std::uint64_t>(c - '0');
        } else if (c == ' ' || c == 0) {
            break;
        } else {
            return false;
        }
    }
    for (; i < n; ++i)
        if (p[i] != ' ' && p[i] != 0) return false;
    return true;  // an all-blank field reads as 0, as GNU tar does
}

}  // namespace

std::string path_problem(std::string_view path) {
    if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
    if (!path.empty() && path.front() == '/') return "is an absolute path";
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (path.substr(start, end - start) == "..") return "has a '..' component";
        start = end + 1;
    }
    return {};
}

Result<void> LayerScanner::feed(ByteView data) {
    std::size_t i = 0;
    while (i < data.size()) {
        switch (state_) {
            case State::end:
                return {};  // bytes after the end-of-archive marker are ignored by extractors
            case State::header: {
                auto take = std::min(data.size() - i, block_.size() - block_fill_);
                std::memcpy(block_.data() + block_fill_, data.data() + i, take);
                block_fill_ += take;
                i += take;
                if (block_fill_ == block_.size()) {
                    block_fill_ = 0;
                    ZP_CHECK(on_header());
                }
                break;
            }
            case State::payload: {
                auto take = static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - i, remaining_));
                if (meta_type_ != 0) meta_.append(reinterpret_cast<const char*>(data.data() + i), take);
                remaining_ -= take;
                i += take;
                if (remaining_ == 0) {
                    state_ = padding_ > 0 ? State::padding : State::header;
                    if (meta_type_ != 0) ZP_CHECK(on_meta_complete());
                }
                break;
            }
            case State::padding: {
                auto take = static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - i, padding_));
                padding_ -= take;
                i += take;
                if (padding_ == 0) state_ = State::header;
                break;
            }
        }
    }
    return {};
}

Result<void> LayerScanner::finish() const {
    if (state_ == State::end) return {};
    if (state_ == State::header && block_fill_ == 0 && zero_blocks_ > 0) return {};  // one zero block
    if (state_ == State::header && block_fill_ == 0 && entries_ == 0 && zero_blocks_ == 0)
        return hostile("empty stream, not a tar archive");
    return hostile("stream ends inside an entry (truncated layer)");
}

Result<void> LayerScanner::on_header() {
    const auto* h = block_.data();
    if (std::all_of(block_.begin(), block_.end(), [](std::uint8_t b) { return b == 0; })) {
        if (++zero_blocks_ == 2) state_ = State::end;
        return {};
    }
    if (zero_blocks_ > 0) return hostile("data after an end-of-archive block");
    std::uint64_t stored = 0;
    if (!parse_number(h + 148, 8, stored)) return hostile("header checksum field is not a number");
    std::uint64_t sum_unsigned = 0;
    std::int64_t sum_signed = 0;
    for (std::size_t k = 0; k < 512; ++k) {
        std::uint8_t b = (k >= 148 && k < 156) ? std::uint8_t{' '} : h[k];
        sum_unsigned += b;
        sum_signed += static_cast<std::int8_t>(b);
    }
    if (stored != sum_unsigned && static_cast<std::int64_t>(stored) != sum_signed)
        return hostile("header checksum mismatch after entry " + std::to_string(entries_) +
                       " (corrupt or not a tar archive)");
    std::uint64_t size = 0;
    if (!parse_number(h + 124, 12, size)) return hostile("size field of a header is not a number");
    char type = static_cast<char>(h[156]);
    std::string name = field(h, 100);
    if (std::memcmp(h + 257, "ustar", 5) == 0) {
        auto prefix = field(h + 345, 155);
        if (!prefix.empty()) name = prefix + "/" + name;
    }
    std::string link = field(h + 157, 100);

    remaining_ = size;
    padding_ = (512 - size % 512) % 512;
    state_ = size > 0 ? State::payload : State::header;

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (size > kMaxMeta) return hostile("metadata record of " + std::to_string(size) + " bytes is too large");
        meta_type_ = type;
        meta_.clear();
        if (size == 0) return on_meta_complete();
        return {};
    }
    meta_type_ = 0;
    if (!next_name_.empty()) name = std::move(next_name_);
    if (!next_link_.empty()) link = std::move(next_link_);
    next_name_.clear();
    next_link_.clear();
    ++entries_;
    // Links, directories and devices carry no payload even if the size field says so;
    // extractors skip the declared size anyway, and so do we.
    return check_entry(type, name, link);
}

Result<void> LayerScanner::on_meta_complete() {
    auto type = meta_type_;
    meta_type_ = 0;
    if (type == 'L' || type == 'K') {
        auto v = meta_.substr(0, meta_.find('\0'));
        (type == 'L' ? next_name_ : next_link_) = v;
        return {};
    }
    // pax records: "<len> <key>=<value>\n"
    std::size_t pos = 0;
    while (pos < meta_.size()) {
        std::size_t sp = meta_.find(' ', pos);
        if (sp == std::string::npos) return hostile("malformed pax record");
        std::uint64_t len = 0;
        for (std::size_t k = pos; k < sp; ++k) {
            char c = meta_[k];
            if (c < '0' || c > '9' || len > kMaxMeta) return hostile("malformed pax record length");
            len = len * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (len <= sp - pos + 1 || pos + len > meta_.size() || meta_[pos + len - 1] != '\n')
            return hostile("malformed pax record");
        std::string_view rec{meta_.data() + sp + 1, pos + len - 1 - (sp + 1)};
        auto eq = rec.find('=');
        if (eq == std::string_view::npos) return hostile("malformed pax record (no '=')");
        auto key = rec.substr(0, eq);
        auto value = rec.substr(eq + 1);
        if (type == 'x') {
            if (key == "path") next_name_ = std::string{value};
            if (key == "linkpath") next_link_ = std::string{value};
        }
        if (key.substr(0, 10) == "GNU.sparse") return hostile("GNU sparse entries are not accepted");
        pos += len;
    }
    return {};
}

Result<void> LayerScanner::check_entry(char type, const std::string& name, const std::string& link) const {
    auto where = [&] { return "entry '" + name.substr(0, 200) + "'"; };
    if (name.empty()) return hostile("entry with an empty name");
    if (auto p = path_problem(name); !p.empty()) return hostile(where() + " " + p);
    switch (type) {
        case '0':
        case '\0':
        case '7':
        case '5':
        case '2':  // symlink: target may be absolute, resolved inside the container root
            return {};
        case '1':
            if (link.empty()) return hostile(where() + " is a hard link without a target");
            if (auto p = path_problem(link); !p.empty())
                return hostile(where() + " is a hard link whose target '" + link.substr(0, 200) + "' " + p);
            return {};
        case '3':
            return hostile(where() + " is a character device");
        case '4':
            return hostile(where() + " is a block device");
        case '6':
            return hostile(where() + " is a fifo");
        default:
            return hostile(where() + " has unsupported tar type '" + std::string(1, type) + "'");
    }
}

}  // namespace zeppelin::transfer
