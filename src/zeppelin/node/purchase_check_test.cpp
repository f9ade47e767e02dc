// The purchase checks against a market snapshot: the newcomer's refusals of issue 14 (a price below
// every worker, a period that does not divide the duration, too many verifiers, a zero duration, a
// port the image does not expose, too little money) each as a sentence with numbers, and v2's
// rules as data.
#include "zeppelin/node/purchase_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t kGwei = 1'000'000'000;

/// Three workers priced 1, 2 and 3 gwei/s, 1000 millicores and 1024 MB each, a day at most.
MarketSnapshot three_workers() {
    MarketSnapshot m;
    for (std::uint64_t i = 1; i <= 3; ++i) m.workers.push_back(WorkerOffer{i, i * kGwei, 86'400, 1000, 1024, 500});
    return m;
}

PurchasePlan good_plan() {
    PurchasePlan p;
    p.duration = 60;
    p.period = 10;
    p.verifiers = 1;
    p.max_price_per_second = 2 * kGwei;
    p.cpu_millicores = 500;
    p.memory_mb = 256;
    return p;
}

std::vector<std::string> codes(const PurchaseVerdict& v) {
    std::vector<std::string> out;
    for (const auto& r : v.refusals) out.push_back(r.code);
    return out;
}

const PurchaseRules kV1 = PurchaseRules::v1(500);

TEST(PurchaseCheck, AGoodPlanPassesWithItsDepositAndCheapestWorker) {
    const auto v = check_purchase(good_plan(), three_workers(), kV1);
    EXPECT_TRUE(v.ok()) << v.text();
    // 6 periods * (2 gwei * 10 s + 1 verifier * 5 % of that) = 6 * 21 gwei
    EXPECT_EQ(v.deposit, u256{126 * kGwei});
    EXPECT_EQ(v.eligible_workers, 2U);
    ASSERT_TRUE(v.cheapest);
    EXPECT_EQ(v.cheapest->id, 1U);
    EXPECT_EQ(v.workers_needed, 2U);
}

TEST(PurchaseCheck, APriceBelowEveryWorkerNamesTheCheapest) {
    auto p = good_plan();
    p.max_price_per_second = kGwei / 2;
    const auto v = check_purchase(p, three_workers(), kV1);
    ASSERT_EQ(codes(v), std::vector<std::string>{"price_below_market"});
    EXPECT_EQ(v.refusals[0].message,
              "the cheapest fitting worker (worker 1) asks 1 gwei/s, above your highest price of 500000000 wei/s: raise --max-price to "
              "at least 1 gwei/s");
}

TEST(PurchaseCheck, APeriodThatDoesNotDivideTheDurationSuggestsOnesThatDo) {
    auto p = good_plan();
    p.duration = 95;
    const auto v = check_purchase(p, three_workers(), kV1);
    ASSERT_EQ(codes(v), std::vector<std::string>{"period_does_not_divide"});
    EXPECT_EQ(v.refusals[0].message,
              "the duration, 95 s, is not a whole number of 10 s periods: use a duration of 100 s or 90 s, or a period that divides it");
    p.period = 5;
    p.duration = 60;
    EXPECT_EQ(codes(check_purchase(p, three_workers(), kV1)), std::vector<std::string>{"period_too_short"});
}

TEST(PurchaseCheck, TooManyVerifiersForTheMarket) {
    auto p = good_plan();
    p.verifiers = 3;
    const auto v = check_purchase(p, three_workers(), kV1);
    ASSERT_EQ(codes(v), std::vector<std::string>{"not_enough_workers"});
    EXPECT_EQ(v.refusals[0].message,
              "1 worker and 3 verifiers need 4 active workers other than yours; the market has 3: ask for at most 2 verifiers");
    // The buyer's own worker counts for nothing.
    auto m = three_workers();
    m.client_worker_id = 2;
    p.verifiers = 2;
    EXPECT_THAT(check_purchase(p, m, kV1).text(), HasSubstr("the market has 2: ask for at most 1 verifier"));
    // ... and a registered but paused one still costs one, as the contract counts.
    m = three_workers();
    m.client_worker_id = 7;
    EXPECT_THAT(check_purchase(p, m, kV1).text(),
                HasSubstr("the market has 2 (the contract sets one aside since yours is registered but not active): ask for at most 1 verifier"));
    p.verifiers = 1;
    EXPECT_TRUE(check_purchase(p, m, kV1).ok());
}

TEST(PurchaseCheck, AZeroDurationIsRefusedNotPricedAtZero) {
    auto p = good_plan();
    p.duration = 0;
    const auto v = check_purchase(p, three_workers(), kV1);
    ASSERT_EQ(codes(v), std::vector<std::string>{"zero_duration"});
    EXPECT_EQ(v.refusals[0].message, "the duration is 0: ask for at least one period (10 s)");
    EXPECT_EQ(v.deposit, 0);
}

TEST(PurchaseCheck, APortTheImageDoesNotExpose) {
    auto p = good_plan();
    p.port = 80;
    p.exposed_ports = std::vector<std::uint16_t>{8080, 9090};
    EXPECT_EQ(check_purchase(p, three_workers(), kV1).text(), "the image does not expose port 80; it exposes 8080, 9090: use --port 8080");
    p.exposed_ports = std::vector<std::uint16_t>{};
    EXPECT_THAT(check_purchase(p, three_workers(), kV1).text(), HasSubstr("exposes no TCP port"));
    p.port = 8080;
    p.exposed_ports = std::vector<std::uint16_t>{8080};
    EXPECT_TRUE(check_purchase(p, three_workers(), kV1).ok());
}

TEST(PurchaseCheck, ResourcesAndDurationNobodyOffers) {
    auto p = good_plan();
    p.cpu_millicores = 4000;
    p.memory_mb = 8192;
    EXPECT_EQ(check_purchase(p, three_workers(), kV1).text(),
              "no active worker offers 4000 millicores and 8192 MB; the most offered are 1000 millicores and 1024 MB: ask for at most "
              "that (--cpu, --memory)");
    p = good_plan();
    p.duration = 2 * 86'400;
    p.period = 60;
    EXPECT_EQ(codes(check_purchase(p, three_workers(), kV1)), std::vector<std::string>{"duration_too_long"});
    EXPECT_EQ(codes(check_purchase(good_plan(), MarketSnapshot{}, kV1)), std::vector<std::string>{"no_active_worker"});
}

TEST(PurchaseCheck, TheBalanceMustCoverTheEscrowAndTheGas) {
    auto m = three_workers();
    m.balance = u256{100 * kGwei};
    m.gas_cost = u256{10 * kGwei};
    const auto v = check_purchase(good_plan(), m, kV1);
    ASSERT_EQ(codes(v), std::vector<std::string>{"balance_too_low"});
    EXPECT_EQ(v.refusals[0].message,
              "the escrow of 126 gwei and up to 10 gwei of gas need 136 gwei; your account holds 100 gwei: fund it with 36 gwei more, "
              "or lower the duration, the price or the verifiers");
    m.balance = u256{136 * kGwei};
    EXPECT_TRUE(check_purchase(good_plan(), m, kV1).ok());
}

TEST(PurchaseCheck, SeveralProblemsAreAllSaid) {
    auto p = good_plan();
    p.period = 7;
    p.verifiers = 9;
    p.max_price_per_second = 0;
    EXPECT_EQ(codes(check_purchase(p, three_workers(), kV1)),
              (std::vector<std::string>{"period_too_short", "verifiers_out_of_range", "zero_price"}));
}

TEST(PurchaseCheck, V2RulesAreData) {
    const auto v2 = PurchaseRules::v2(500, u256{100 * kGwei});
    auto m = three_workers();
    m.workers.push_back(WorkerOffer{4, kGwei, 86'400, 1000, 1024, 500});
    m.workers.push_back(WorkerOffer{5, kGwei, 86'400, 1000, 1024, 500});
    auto p = good_plan();
    p.duration = 3600;
    p.verifiers = 1;
    EXPECT_EQ(check_purchase(p, m, v2).text(), "1 verifier asked for; the contract takes from 3 to 5");
    p.verifiers = 4;
    EXPECT_EQ(check_purchase(p, m, v2).text(), "4 verifiers cannot form a majority; the contract takes an odd number: ask for 5");
    p.verifiers = 3;
    EXPECT_TRUE(check_purchase(p, m, v2).ok()) << check_purchase(p, m, v2).text();
    // 60 s at 2 gwei/s: each verifier earns 6 periods * 1 gwei = 6 gwei < 100 gwei.
    p.duration = 60;
    EXPECT_EQ(check_purchase(p, m, v2).text(),
              "each verifier would earn 6 gwei in all, below the contract's minimum of 100 gwei: raise the price or the duration");
    // Four active workers can give 3 verifiers, but five are needed for 5.
    p.duration = 3600;
    p.verifiers = 5;
    m.workers.pop_back();
    EXPECT_THAT(check_purchase(p, m, v2).text(), HasSubstr("the market has 4: ask for at most 3 verifiers"));
}

}  // namespace
}  // namespace zeppelin::node
