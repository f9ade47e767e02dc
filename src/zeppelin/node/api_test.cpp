// The API's request parsing: what `zeppelin run` (or the dashboard) may send, and the words for
// what it may not.
#include "zeppelin/node/api.hpp"

#include <regex>

#include <gtest/gtest.h>

#include "zeppelin/node/amounts.hpp"
#include "zeppelin/node/context.hpp"

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
    EXPECT_EQ(purchase_reply(7, brief), nlohmann::json::parse(R"({"id":7,"deposit":"69000000000","deposit_text":"69 gwei"})"));
    // The deposit the node recorded from the purchase comes first (the escrow falls to 0 once settled).
    const auto settled = nlohmann::json::parse(R"({"chain":{"status":"settled","escrow":"0","deposit":"138000000000"}})");
    EXPECT_EQ(purchase_reply(9, settled)["deposit"], "138000000000");
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

// Every amount of an answer: exact wei (the machine field, as before) and beside it the same amount
// for people from the CLI's formatter (core/units.hpp), never a run of wei digits.
TEST(ApiAmounts, EachAmountIsExactWeiWithItsReadableTextBeside) {
    market::v2::AgreementView v;
    v.price_per_second = 1'500'000'000;       // 1.5 gwei
    v.max_price_per_second = 2'000'000'000;   // 2 gwei
    v.escrow = u256{594'000'000'000ULL};      // the issue's "594000000000 wei"
    v.worker_lock = u256{9'999'345'342'028'252'515ULL};
    const auto j = view_json(v);
    EXPECT_EQ(j["escrow"], "594000000000");
    EXPECT_EQ(j["escrow_text"], "594 gwei");
    EXPECT_EQ(j["price_per_second"], "1500000000");
    EXPECT_EQ(j["price_per_second_text"], "1.5 gwei");
    EXPECT_EQ(j["max_price_per_second_text"], "2 gwei");
    EXPECT_EQ(j["worker_lock"], "9999345342028252515");
    EXPECT_EQ(j["worker_lock_text"], "9.9993 ETH");

    market::v2::WorkerView w;
    w.price_per_second = 3'000'000'000;
    w.stake = u256{1'000'000'000'000'000'000ULL};
    const auto wj = worker_json(5, w, market::v2::Reputation{});
    EXPECT_EQ(wj["stake"], "1000000000000000000");
    EXPECT_EQ(wj["stake_text"], "1 ETH");
    EXPECT_EQ(wj["price_per_second_text"], "3 gwei");

    // Every *_text field is a readable amount: no run of 11 or more digits, a unit at the end.
    const std::regex long_digits{"[0-9]{11,}"};
    for (const auto* one : {&j, &wj})
        for (const auto& [key, value] : one->items()) {
            if (!key.ends_with("_text")) continue;
            const auto text = value.get<std::string>();
            EXPECT_FALSE(std::regex_search(text, long_digits)) << key << ": " << text;
            EXPECT_TRUE(text.ends_with(" wei") || text.ends_with(" gwei") || text.ends_with(" ETH")) << key << ": " << text;
            EXPECT_TRUE(one->contains(key.substr(0, key.size() - 5))) << key << " has no exact field beside it";
        }
}

TEST(ApiAmounts, SumsOfTheDashboardAreExactAndFormattedByTheSameFormatter) {
    const auto r = amounts_json("594000000000,1000000000000000000,1").value();
    ASSERT_EQ(r["amounts"].size(), 3U);
    EXPECT_EQ(r["amounts"][0], (nlohmann::json{{"wei", "594000000000"}, {"text", "594 gwei"}}));
    EXPECT_EQ(r["amounts"][2]["text"], "1 wei");
    EXPECT_EQ(r["total"]["wei"], "1000000594000000001");
    EXPECT_EQ(r["total"]["text"], "1 ETH");
    EXPECT_EQ(amounts_json("").value()["total"]["text"], "0 wei");
    // 2^64 + 1 and beyond: no floating point anywhere.
    EXPECT_EQ(amounts_json("18446744073709551615,2").value()["total"]["wei"], "18446744073709551617");
    for (const auto* bad : {"1,,2", "-5", "1.5", "0x10", "12gwei", " 1"}) {
        const auto e = amounts_json(bad);
        ASSERT_FALSE(e) << bad;
        EXPECT_NE(e.error().message().find("whole numbers of wei"), std::string::npos) << e.error().message();
    }
    EXPECT_FALSE(amounts_json(std::string(79, '9')));
    std::string many;
    for (int i = 0; i < 1001; ++i) many += (i ? ",1" : "1");
    EXPECT_NE(amounts_json(many).error().message().find("more than 1000"), std::string::npos);
}

}  // namespace
}  // namespace zeppelin::node
