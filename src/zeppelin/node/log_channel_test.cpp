// The encrypted log channel: output streams as it is produced (follow), only the agreement's key
// opens it, and the end of the output ends the stream.
#include "zeppelin/node/log_channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace zeppelin::node {
namespace {

using namespace std::chrono_literals;

LogQuery query(bool follow, std::optional<std::uint32_t> tail = std::nullopt,
               std::optional<std::int64_t> since_ns = std::nullopt, bool timestamps = false) {
    return LogQuery{follow, timestamps, tail, since_ns};
}

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
    auto r = fetch_logs({"127.0.0.1", server->port()}, 7, logs_key(secret(1)), query(true), [&](std::string_view chunk) {
        got += chunk;
        std::lock_guard lock{mu};
        first_seen = true;
        cv.notify_all();
        return true;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(got, "first line\nsecond line\n");

    // The transfer secret itself, another agreement's key, an unknown agreement: no handshake.
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 7, secret(1), LogQuery{}, [](std::string_view) { return true; }));
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 7, logs_key(secret(2)), LogQuery{}, [](std::string_view) { return true; }));
    EXPECT_FALSE(fetch_logs({"127.0.0.1", server->port()}, 8, logs_key(secret(1)), LogQuery{}, [](std::string_view) { return true; }));
}

TEST(LogChannel, AFailingSourceIsAnErrorAfterTheOutputItSent) {
    auto server = LogServer::start(
                      "127.0.0.1", 0, [](std::uint64_t) { return std::optional{logs_key(secret(3))}; },
                      [](std::uint64_t, bool, const LogSinkFn& sink) -> Result<void> {
                          sink("2026-12-02T17:00:00Z last words\n");
                          return make_error(Errc::not_found, "no container for agreement 1");
                      })
                      .value();
    std::string got;
    const auto r = fetch_logs({"127.0.0.1", server->port()}, 1, logs_key(secret(3)), LogQuery{}, [&](std::string_view c) {
        got += c;
        return true;
    });
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("no container for agreement 1"), std::string::npos) << r.error().message();
    EXPECT_EQ(got, "last words\n");
}

/// Output written at second 1, 2, 3, 3 (two lines in the same nanosecond), then, following, 4 and 5.
Result<void> scripted_source(bool follow, const LogSinkFn& sink) {
    // Chunks cut through lines, as an engine's frames may.
    for (std::string_view chunk : {"2026-12-02T17:00:01.000000001Z one\n2026-12-02T17:00:02.5Z tw", "o\n",
                                   "2026-12-02T18:00:03+01:00 three\n2026-12-02T17:00:03Z three again\n"})
        if (!sink(chunk)) return {};
    if (!follow) return {};
    if (!sink("2026-12-02T17:00:04Z four\n")) return {};
    sink("2026-12-02T17:00:05Z five, no newline");
    return {};
}

std::string answer(const LogQuery& q) {
    std::string out;
    const auto r = answer_log_query(q, scripted_source, [&](std::string_view c) {
        out += c;
        return true;
    });
    EXPECT_TRUE(r) << r.error().message();
    return out;
}

TEST(LogQuery, TailSinceAndTimestampsLikeDockerLogs) {
    EXPECT_EQ(answer(query(false)), "one\ntwo\nthree\nthree again\n");
    EXPECT_EQ(answer(query(true)), "one\ntwo\nthree\nthree again\nfour\nfive, no newline");
    EXPECT_EQ(answer(query(false, 2)), "three\nthree again\n");
    EXPECT_EQ(answer(query(false, 0)), "");
    // After the tail, following sends each later line once (none of the history again, even the
    // two lines sharing the last time).
    EXPECT_EQ(answer(query(true, 1)), "three again\nfour\nfive, no newline");
    EXPECT_EQ(answer(query(true, 0)), "four\nfive, no newline");
    const auto at_2 = parse_rfc3339_ns("2026-12-02T17:00:02Z").value();
    EXPECT_EQ(answer(query(false, std::nullopt, at_2)), "two\nthree\nthree again\n");
    EXPECT_EQ(answer(query(false, 5, at_2 + 600'000'000)), "three\nthree again\n");
    EXPECT_EQ(answer(query(false, 1, std::nullopt, true)), "2026-12-02T17:00:03Z three again\n");
    // Output without times (an engine that gave none) passes as it is.
    std::string out;
    ASSERT_TRUE(answer_log_query(query(false, std::nullopt, at_2),
                                 [](bool, const LogSinkFn& sink) -> Result<void> {
                                     sink("plain line\n");
                                     return {};
                                 },
                                 [&](std::string_view c) {
                                     out += c;
                                     return true;
                                 }));
    EXPECT_EQ(out, "plain line\n");
}

TEST(LogQuery, EachBatchOfLinesGoesOutAsItArrives) {
    std::vector<std::string> batches;
    ASSERT_TRUE(answer_log_query(query(true), scripted_source, [&](std::string_view c) {
        batches.emplace_back(c);
        return true;
    }));
    const std::vector<std::string> expected{"one\n", "two\n", "three\nthree again\n", "four\n", "five, no newline"};
    EXPECT_EQ(batches, expected);
}

TEST(LogQuery, QueryTravelsToTheWorker) {
    auto server = LogServer::start(
                      "127.0.0.1", 0, [](std::uint64_t) { return std::optional{logs_key(secret(4))}; },
                      [](std::uint64_t, bool follow, const LogSinkFn& sink) { return scripted_source(follow, sink); })
                      .value();
    std::string got;
    ASSERT_TRUE(fetch_logs({"127.0.0.1", server->port()}, 2, logs_key(secret(4)),
                           query(true, 1, parse_rfc3339_ns("2026-12-02T17:00:00Z"), true),
                           [&](std::string_view c) {
                               got += c;
                               return true;
                           }));
    EXPECT_EQ(got, "2026-12-02T17:00:03Z three again\n2026-12-02T17:00:04Z four\n2026-12-02T17:00:05Z five, no newline");
}

TEST(LogQuery, ParsesRfc3339Times) {
    EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), 1'500'000'000);
    EXPECT_EQ(parse_rfc3339_ns("1970-01-01T01:00:00+01:00"), 0);
    EXPECT_EQ(parse_rfc3339_ns("2026-12-02T17:36:31.123456789Z"), 1'796'232'991'123'456'789);
    for (const char* bad : {"", "2026-12-02", "2026-12-02T17:36:31", "2026-13-02T17:36:31Z", "2026-12-02T17:36:31.Z", "x026-12-02T17:36:31Z",
                            "2026-12-02T17:36:31Zjunk"})
        EXPECT_FALSE(parse_rfc3339_ns(bad)) << bad;
}

TEST(LogChannel, KeyIsDerivedNotTheTransferSecret) {
    EXPECT_NE(logs_key(secret(1)), secret(1));
    EXPECT_EQ(logs_key(secret(1)), logs_key(secret(1)));
    EXPECT_NE(logs_key(secret(1)), logs_key(secret(2)));
}

}  // namespace
}  // namespace zeppelin::node
