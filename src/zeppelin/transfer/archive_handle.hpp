// RAII owners of libarchive read/write handles (internal to the transfer library).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>

namespace zeppelin::transfer::detail {

class ArchiveReader final {
  public:
    ArchiveReader() : a_{archive_read_new()} {}
    ~ArchiveReader() {
        if (a_ != nullptr) archive_read_free(a_);
    }
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;
    [[nodiscard]] archive* get() const noexcept { return a_; }
    [[nodiscard]] std::string error() const {
        const char* e = archive_error_string(a_);
        return e != nullptr ? e : "unknown libarchive error";
    }

  private:
    archive* a_;
};

class ArchiveWriter final {
  public:
    ArchiveWriter() : a_{archive_write_new()} {}
    ~ArchiveWriter() {
        if (a_ != nullptr) archive_write_free(a_);
    }
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;
    [[nodiscard]] archive* get() const noexcept { return a_; }
    [[nodiscard]] std::string error() const {
        const char* e = archive_error_string(a_);
        return e != nullptr ? e : "unknown libarchive error";
    }

  private:
    archive* a_;
};

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
