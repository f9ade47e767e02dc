// The API's request parsing: what `zeppelin run` (or the dashboard) may send, and the words for
// what it may not.
#include "zeppelin/node/api.hpp"

#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

TEST(ApiRunRequest, ParsesEveryField) {
    const auto r = parse_run_request(R"({"image":"/tmp/a.tar","duration":3600,"period":60,"verifiers":3,
        "max_price_per_second":"2000000000","probe":"http:/health","cpu_millicores":500,"memory_mb":256,
        "port":8080,"min_reputation":700})")
                       .value();
    EXPECT_EQ(r.image, "/tmp/a.tar");
    EXPECT_EQ(r.duration, 3600U);
    EXPECT_EQ(r.period, 60U);
    EXPECT_EQ(r.verifiers, 3U);
    EXPECT_EQ(r.max_price_per_second, u256{2'000'000'000});
    EXPECT_EQ(r.probe, "http:/health");
    EXPECT_EQ(r.port, std::optional<std::uint16_t>{8080});
    EXPECT_EQ(r.min_reputation, 700U);
}

TEST(ApiPurchaseReply, TheDepositIsTheChainsEscrow) {
    // Protocol v2's chain view has no "deposit": while the agreement is open its escrow holds it.
    const auto brief = nlohmann::json::parse(R"({"chain":{"status":"purchased","escrow":"69000000000"}})");
    EXPECT_EQ(purchase_reply(7, brief), nlohmann::json::parse(R"({"id":7,"deposit":"69000000000"})"));
    EXPECT_EQ(purchase_reply(8, nlohmann::json{}), nlohmann::json::parse(R"({"id":8})"));
}

TEST(ApiRunRequest, RefusesBadInputInWords) {
    const std::vector<std::pair<std::string, std::string>> bad{
        {"not json", "not a JSON object"},
        {R"({"max_price_per_second":"1"})", "'image' is required"},
        {R"({"image":"a"})", "'max_price_per_second' is required"},
        {R"({"image":"a","max_price_per_second":"1","verifiers":300})", "'verifiers'"},
        {R"({"image":"a","max_price_per_second":"1","duration":-5})", "'duration'"},
        {R"({"image":"a","max_price_per_second":"1","port":70000})", "'port'"},
        {R"({"image":"a","max_price_per_second":"1.5"})", ""},
        {R"({"image":"a","max_price_per_second":"1","preferred_worker":"0x12"})", "protocol v2 draws the worker at random"},
        {R"({"image":7,"max_price_per_second":"1"})", "'image' must be a string"},
    };
    for (const auto& [body, why] : bad) {
        const auto r = parse_run_request(body);
        ASSERT_FALSE(r) << body;
        EXPECT_NE(r.error().message().find(why), std::string::npos) << body << " -> " << r.error().message();
    }
}

}  // namespace
}  // namespace zeppelin::node
