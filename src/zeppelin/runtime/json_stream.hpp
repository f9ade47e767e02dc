// The Docker Engine API streams progress as a sequence of JSON objects (one per line for Docker,
// back to back for some Podman versions). These helpers split such a stream and read the reply of
// POST /images/load.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/result.hpp"

namespace zeppelin::runtime {

/// Incremental splitter: feed() arbitrary pieces of the stream, get back each complete top-level
/// JSON value as soon as its last byte arrives. Whitespace between values is skipped.
class JsonStreamSplitter final {
  public:
    /// Appends `piece`; returns the values completed by it, or Errc::engine_error for bytes that are
    /// not JSON (or a value larger than `max_value_bytes`).
    Result<std::vector<nlohmann::json>> feed(std::string_view piece);
    /// True when no partial value is buffered (the stream ended cleanly).
    [[nodiscard]] bool idle() const noexcept { return pending_.empty(); }

    std::size_t max_value_bytes{4u * 1024u * 1024u};

  private:
    std::string pending_;
    std::size_t scanned_{0};
    int depth_{0};
    bool in_string_{false};
    bool escaped_{false};
};

/// Splits a complete stream of JSON values.
Result<std::vector<nlohmann::json>> split_json_stream(std::string_view text);

/// What POST /images/load reported.
struct LoadReport {
    std::vector<std::string> names;  // "Loaded image: a:b" (Podman may list several, comma-separated)
    std::vector<std::string> ids;    // "Loaded image ID: sha256:..." (Docker, for untagged images)
};

/// Reads the body of a 200 reply to POST /images/load. A stream element carrying "error" or
/// "errorDetail" becomes Errc::engine_error with the engine's message; a reply naming no image at all
/// is also an error.
Result<LoadReport> parse_load_reply(std::string_view body);

/// The human message of an engine error body ({"message": "..."} ), or the raw text, trimmed and
/// cut to a readable length.
std::string engine_message(std::string_view body);

}  // namespace zeppelin::runtime
