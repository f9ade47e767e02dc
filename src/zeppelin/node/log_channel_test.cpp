// The encrypted log channel: output streams as it is produced (follow), only the agreement's key
// opens it, and the end of the output ends the stream.
#include "zeppelin/node/log_channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace zeppelin::node {
namespace {

using namespace std::chrono_literals;

transfer::Secret secret(std::uint8_t b) {
    transfer::Secret s{};
    s.bytes.fill(b);
    return s;
}

TEST(LogChannel, StreamsOutputAsItIsProducedToTheKeyHolderOnly) {
    std::mutex mu;
    std::condition_variable cv;
    bool first_seen = false;
    auto server = LogServer::start(
                      "127.0.0.1", 0,
                      [](std::uint64_t id) -> std::optional<transfer::Secret> {
                          if (id == 7) return logs_key(secret(1));
                          return std::nullopt;
                      },
                      [&](std::uint64_t id, bool follow, const LogSinkFn& sink) -> Result<void> {
                          EXPECT_EQ(id, 7U);
                          EXPECT_TRUE(follow);
                          if (!sink("first line\n")) return {};
                          // The second line is produced only after the client saw the first:
                          // following must not wait for the output to end (or a buffer to fill).
                          std::unique_lock lock{mu};
                          if (!cv.wait_for(lock, 10s, [&] { return first_seen; }))
                              return make_error(Errc::timeout, "the first line never arrived");
                          sink("second line\n");
                          return {};
                      })
                      .value();
    std::string got;
    auto r = fetch_logs({"127.0.0.1", server->port()}, 7, logs_key(secret(1)), true, [&](std::string_view chunk) {
        got += chunk;
        std::lock_guard lock{mu};
        first_seen = true;
        cv.notify_all();
        return true;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(got, "first line\nsecond line\n");

    // The transfer secret itself, another agreement's key, an unknown agreement: no handshake.
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 7, secret(1), false, [](std::string_view) { return true; }));
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 7, logs_key(secret(2)), false, [](std::string_view) { return true; }));
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 8, logs_key(secret(1)), false, [](std::string_view) { return true; }));
}

TEST(LogChannel, AFailingSourceIsReportedInTheStream) {
    auto server = LogServer::start(
                      "127.0.0.1", 0, [](std::uint64_t) { return std::optional{logs_key(secret(3))}; },
                      [](std::uint64_t, bool, const LogSinkFn&) -> Result<void> {
                          return make_error(Errc::not_found, "no container for agreement 1");
                      })
                      .value();
    std::string got;
    ASSERT_TRUE(fetch_logs({"127.0.0.1", server->port()}, 1, logs_key(secret(3)), false, [&](std::string_view c) {
        got += c;
        return true;
    }));
    EXPECT_NE(got.find("no container for agreement 1"), std::string::npos) << got;
}

TEST(LogChannel, KeyIsDerivedNotTheTransferSecret) {
    EXPECT_NE(logs_key(secret(1)), secret(1));
    EXPECT_EQ(logs_key(secret(1)), logs_key(secret(1)));
    EXPECT_NE(logs_key(secret(1)), logs_key(secret(2)));
}

}  // namespace
}  // namespace zeppelin::node
