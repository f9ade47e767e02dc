#include "zeppelin/runtime/log_demux.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace zeppelin::runtime {
namespace {

std::string frame(std::uint8_t stream, std::string_view payload) {
    std::string f(8, '\0');
    f[0] = static_cast<char>(stream);
    const auto n = static_cast<std::uint32_t>(payload.size());
    f[4] = static_cast<char>(n >> 24);
    f[5] = static_cast<char>((n >> 16) & 0xff);
    f[6] = static_cast<char>((n >> 8) & 0xff);
    f[7] = static_cast<char>(n & 0xff);
    return f + std::string{payload};
}

struct Collected {
    std::string out;
    std::string err;
};

TEST(LogDemux, SplitsStdoutAndStderrAtEveryCut) {
    const std::string big(70000, 'x');  // frame size needs three bytes of the length field
    const std::string stream = frame(1, "hello\n") + frame(2, "oops\n") + frame(1, "") + frame(1, big) + frame(2, "!");
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{8},
                            std::size_t{9}, std::size_t{14}, std::size_t{15}, std::size_t{20}, stream.size() - 1}) {
        Collected c;
        LogDemuxer d{[&](LogStream s, std::string_view data) {
            (s == LogStream::stderr_ ? c.err : c.out).append(data);
            return true;
        }};
        ASSERT_TRUE(*d.feed(stream.substr(0, cut)));
        ASSERT_TRUE(*d.feed(stream.substr(cut)));
        EXPECT_TRUE(d.at_boundary());
        EXPECT_EQ(c.out, "hello\n" + big) << "cut " << cut;
        EXPECT_EQ(c.err, "oops\n!") << "cut " << cut;
    }
}

TEST(LogDemux, ByteByByte) {
    const std::string stream = frame(2, "ab") + frame(1, "cd");
    std::vector<std::pair<LogStream, std::string>> got;
    LogDemuxer d{[&](LogStream s, std::string_view data) {
        got.emplace_back(s, std::string{data});
        return true;
    }};
    for (char ch : stream) ASSERT_TRUE(*d.feed(std::string_view{&ch, 1}));
    std::string out, err;
    for (auto& [s, data] : got) (s == LogStream::stdout_ ? out : err) += data;
    EXPECT_EQ(out, "cd");
    EXPECT_EQ(err, "ab");
}

TEST(LogDemux, SinkCanStop) {
    int calls = 0;
    LogDemuxer d{[&](LogStream, std::string_view) { return ++calls < 1; }};
    auto r = d.feed(frame(1, "a") + frame(1, "b"));
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
    EXPECT_EQ(calls, 1);
}

TEST(LogDemux, RejectsTtyOutputAsFrames) {
    LogDemuxer d{[](LogStream, std::string_view) { return true; }};
    auto r = d.feed("hello world, this is raw TTY output\n");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    EXPECT_NE(r.error().message().find("TTY"), std::string::npos);
}

TEST(LogDemux, TruncatedStreamIsNotAtBoundary) {
    LogDemuxer d{[](LogStream, std::string_view) { return true; }};
    ASSERT_TRUE(*d.feed(frame(1, "hello").substr(0, 10)));
    EXPECT_FALSE(d.at_boundary());
}

}  // namespace
}  // namespace zeppelin::runtime
