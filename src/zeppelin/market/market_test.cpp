// Offline checks of the deployment record: JSON round trip and where it is kept. (The bindings'
// selectors, topics and errors are checked in protocol_v2_test.cpp.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/market/deployment.hpp"

namespace zeppelin::market {
namespace {

TEST(Deployment, JsonRoundTripAndPaths) {
    Deployment d{31337, "http://127.0.0.1:8545", fixed_from_hex<20>("0x5FbDB2315678afecb367f032d93F642f64180aa3").value(),
                 1, fixed_from_hex<20>("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").value(), Hash32{}};
    EXPECT_EQ(parse_deployment(deployment_to_json(d)).value(), d);
    EXPECT_EQ(parse_deployment("{}").error().code(), Errc::invalid_argument);
    EXPECT_EQ(parse_deployment("nope").error().code(), Errc::invalid_argument);

    const auto dir = std::filesystem::temp_directory_path() / "zeppelin-market-deployment-test";
    ::setenv("ZEPPELIN_HOME", dir.c_str(), 1);
    ::unsetenv("ZEPPELIN_DEPLOYMENT");
    EXPECT_EQ(deployment_path().value(), dir / "devnet" / "deployment.json");
    EXPECT_EQ(deployment_path("x.json").value(), std::filesystem::path{"x.json"});
    ::setenv("ZEPPELIN_DEPLOYMENT", "/tmp/y.json", 1);
    EXPECT_EQ(deployment_path().value(), std::filesystem::path{"/tmp/y.json"});
    ::unsetenv("ZEPPELIN_DEPLOYMENT");
    EXPECT_EQ(load_deployment(dir / "missing.json").error().code(), Errc::not_found);
    ASSERT_TRUE(save_deployment(dir / "devnet" / "deployment.json", d));
    EXPECT_EQ(load_deployment(dir / "devnet" / "deployment.json").value(), d);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zeppelin::market
