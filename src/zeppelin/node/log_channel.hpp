// The work's output, streamed from the worker to the client over an encrypted, mutually
// authenticated channel (`zeppelin logs`): TLS 1.3 with an external PSK (transfer/tls.hpp), the
// PSK derived from the agreement's transfer secret that only client and worker know:
//     logs key = SHA-256("zeppelin/logs/v1" || transfer secret),   PSK identity = "logs:<agreement id>"
// The client sends one byte (bit 0: follow), the worker streams the container's stdout and
// stderr until the end (or, following, until the container stops or the client leaves).
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

transfer::Secret logs_key(const transfer::Secret& transfer_secret);

class LogServer final {
public:
    /// The logs key of an agreement this worker serves, or nullopt (the handshake then fails).
    using Lookup = std::function<std::optional<transfer::Secret>(std::uint64_t agreement)>;
    /// Streams an agreement's output into the sink.
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

/// Client side: connects and streams the output into `sink`.
Result<void> fetch_logs(const transfer::Endpoint& worker, std::uint64_t agreement, const transfer::Secret& key,
                        bool follow, const LogSinkFn& sink);

}  // namespace zeppelin::node
