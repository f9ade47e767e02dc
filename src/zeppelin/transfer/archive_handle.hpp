// RAII owners of libarchive read/write handles (internal to the transfer library).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>

namespace zeppelin::transfer::detail {

/// Owns one libarchive handle made by `New` and released by `Free` (read or write side).
template <archive* (*New)(), int (*Free)(archive*)>
class ArchiveHandle final {
  public:
    ArchiveHandle() : a_{New()} {}
    ~ArchiveHandle() {
        if (a_ != nullptr) Free(a_);
    }
    ArchiveHandle(const ArchiveHandle&) = delete;
    ArchiveHandle& operator=(const ArchiveHandle&) = delete;
    [[nodiscard]] archive* get() const noexcept { return a_; }
    [[nodiscard]] std::string error() const {
        const char* e = archive_error_string(a_);
        return e != nullptr ? e : "unknown libarchive error";
    }

  private:
    archive* a_;
};

using ArchiveReader = ArchiveHandle<archive_read_new, archive_read_free>;
using ArchiveWriter = ArchiveHandle<archive_write_new, archive_write_free>;

class Entry final {
  public:
    Entry() : e_{archive_entry_new()} {}
    ~Entry() { archive_entry_free(e_); }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    [[nodiscard]] archive_entry* get() const noexcept { return e_; }

  private:
    archive_entry* e_;
};

}  // namespace zeppelin::transfer::detail
