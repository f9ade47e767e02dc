#include "zeppelin/runtime/address.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace zeppelin::runtime {
namespace {

TEST(EngineAddress, ParsesUnixUrlsAndBarePaths) {
    auto a = EngineAddress::parse("unix:///run/podman/podman.sock");
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(a->socket_path, "/run/podman/podman.sock");
    EXPECT_EQ(a->to_string(), "unix:///run/podman/podman.sock");
    auto b = EngineAddress::parse("/var/run/docker.sock");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->socket_path, "/var/run/docker.sock");
}

TEST(EngineAddress, RefusesRemoteAndRelativeAddresses) {
    auto tcp = EngineAddress::parse("tcp://127.0.0.1:2375");
    ASSERT_FALSE(tcp);
    EXPECT_EQ(tcp.error().code(), Errc::unsupported);
    EXPECT_NE(tcp.error().message().find("unix:///path"), std::string::npos);
    EXPECT_EQ(EngineAddress::parse("unix://relative.sock").error().code(), Errc::invalid_argument);
    EXPECT_EQ(EngineAddress::parse("").error().code(), Errc::invalid_argument);
    EXPECT_EQ(EngineAddress::parse("unix:///" + std::string(200, 'x')).error().code(), Errc::invalid_argument);
}

TEST(EngineAddress, EnvironmentOrder) {
    ::setenv("ZEPPELIN_DOCKER_HOST", "unix:///tmp/a.sock", 1);
    ::setenv("DOCKER_HOST", "unix:///tmp/b.sock", 1);
    auto a = EngineAddress::from_environment();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->socket_path, "/tmp/a.sock");
    ::unsetenv("ZEPPELIN_DOCKER_HOST");
    auto b = EngineAddress::from_environment();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->socket_path, "/tmp/b.sock");
    ::setenv("DOCKER_HOST", "tcp://host:2375", 1);
    auto c = EngineAddress::from_environment();
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("DOCKER_HOST"), std::string::npos);
    ::unsetenv("DOCKER_HOST");
    auto d = EngineAddress::from_environment();
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->socket_path.empty());
}

}  // namespace
}  // namespace zeppelin::runtime
