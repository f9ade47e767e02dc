#include "zeppelin/eth/http.hpp"

#include <gtest/gtest.h>

namespace zeppelin::eth {
namespace {

TEST(HttpUrl, Parses) {
    auto u = HttpUrl::parse("http://127.0.0.1:8545").value();
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, 8545);
    EXPECT_EQ(u.target, "/");
    EXPECT_EQ(u.to_string(), "http://127.0.0.1:8545");

    u = HttpUrl::parse("HTTP://node.example/v3/key?x=1").value();
    EXPECT_EQ(u.host, "node.example");
    EXPECT_EQ(u.port, 80);
    EXPECT_EQ(u.target, "/v3/key?x=1");
    EXPECT_EQ(u.to_string(), "http://node.example:80/v3/key?x=1");

    u = HttpUrl::parse("http://[::1]:8545/rpc").value();
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 8545);
    EXPECT_EQ(u.to_string(), "http://[::1]:8545/rpc");

    u = HttpUrl::parse("http://localhost?a").value();
    EXPECT_EQ(u.target, "/?a");
}

TEST(HttpUrl, RejectsWithClearErrors) {
    auto e = HttpUrl::parse("https://mainnet.example");
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), Errc::unsupported);
    for (const char* bad : {"", "ws://x", "127.0.0.1:8545", "http://", "http://:80", "http://h:0", "http://h:65536",
                            "http://h:12x", "http://u:p@h", "http://[::1"}) {
        auto r = HttpUrl::parse(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code(), Errc::invalid_argument) << bad;
        }
    }
}

}  // namespace
}  // namespace zeppelin::eth
