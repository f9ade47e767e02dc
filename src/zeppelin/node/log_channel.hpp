// The work's output, streamed from the worker to the client over an encrypted, mutually
// authenticated channel (`zeppelin logs`): TLS 1.3 with an external PSK (transfer/tls.hpp), the
// PSK derived from the agreement's transfer secret that only client and worker know:
//     logs key = SHA-256("zeppelin/logs/v1" || transfer secret),   PSK identity = "logs:<agreement id>"
// The client sends its query (LogQuery: one flags byte, bit 0 follow, bit 1 timestamps, bit 2 a
// u32 tail follows, bit 3 an i64 "since" in unix nanoseconds follows; big-endian), the worker
// streams the container's stdout and stderr until the end (or, following, until the container
// stops or the client leaves), line by line as it is written.
// Frames: u32 big-endian length + bytes; a zero length ends the stream; a length with the top bit
// set carries the worker's error message (the stream ends with it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/tls.hpp"

namespace zeppelin::node {

using LogSinkFn = std::function<bool(std::string_view chunk)>;

/// What `zeppelin logs` asks for, like `docker logs`.
struct LogQuery {
    bool follow{false};                    // keep streaming until the work stops or the reader leaves
    bool timestamps{false};                // each line starts with its RFC 3339 time and a space
    std::optional<std::uint32_t> tail;     // only the last N lines written before the call
    std::optional<std::int64_t> since_ns;  // only lines written at or after this time (unix ns)
};

/// A source of output whose lines each begin with their RFC 3339 time and a space (the Docker
/// Engine API's logs with timestamps=1), read once (follow false) or followed.
using TimestampedSource = std::function<Result<void>(bool follow, const LogSinkFn& sink)>;

/// Answers a query from a timestamped source: lines before `since` dropped, the last `tail` lines
/// of what was written before the call (then, following, every new line exactly once), the time
/// stripped unless asked for. Each batch of whole lines goes to `out` as soon as it arrives.
Result<void> answer_log_query(const LogQuery& query, const TimestampedSource& source, const LogSinkFn& out);

/// "2026-12-02T17:36:31.123456789Z" or "...+01:00" -> unix nanoseconds (nullopt if not RFC 3339).
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view text);

transfer::Secret logs_key(const transfer::Secret& transfer_secret);

class LogServer final {
public:
    /// The logs key of an agreement this worker serves, or nullopt (the handshake then fails).
    using Lookup = std::function<std::optional<transfer::Secret>(std::uint64_t agreement)>;
    /// Streams an agreement's output into the sink, each line with its time (TimestampedSource).
    using Source = std::function<Result<void>(std::uint64_t agreement, bool follow, const LogSinkFn& sink)>;

    static Result<std::unique_ptr<LogServer>> start(const std::string& host, std::uint16_t port, Lookup lookup,
                                                    Source source);
    ~LogServer();
    LogServer(const LogServer&) = delete;
    LogServer& operator=(const LogServer&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    void stop();

    struct Impl;

private:
    explicit LogServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Client side: connects and streams the output into `sink`. An error the worker reports (no
/// container, ...) comes back as an error, after the output it sent before.
Result<void> fetch_logs(const transfer::Endpoint& worker, std::uint64_t agreement, const transfer::Secret& key,
                        const LogQuery& query, const LogSinkFn& sink);

}  // namespace zeppelin::node
