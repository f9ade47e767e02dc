// The purchase checks against a market snapshot: the newcomer's refusals of issue 14 (a price below
// every worker, a period that does not divide the duration, too many verifiers, a zero duration, a
// port the image does not expose, too little money) each as a sentence with numbers, and the
// contract's verifier rules as data.
#include "zeppelin/node/purchase_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t kGwei = 1'000'000'000;

/// Five workers priced 1 to 5 gwei/s, 1000 millicores and 1024 MB each, a day at most.
MarketSnapshot five_workers() {
    MarketSnapshot m;
    for (std::uint64_t i = 1; i <= 5; ++i) m.workers.push_back(WorkerOffer{i, i * kGwei, 86'400, 1000, 1024, 500});
    return m;
}

PurchasePlan good_plan() {
    PurchasePlan p;
    p.duration = 60;
    p.period = 10;
    p.verifiers = 3;
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

/// The contract's rules with a 5% verifier fee and no minimum verifier pay (tested on its own below).
const PurchaseRules kRules = PurchaseRules::v2(500, 0);

TEST(PurchaseCheck, AGoodPlanPassesWithItsDepositAndCheapestWorker) {
    const auto v = check_purchase(good_plan(), five_workers(), kRules);
    EXPECT_TRUE(v.ok()) << v.text();
    // 6 periods * (2 gwei * 10 s + 3 verifiers * 5 % of that) = 6 * 23 gwei
    EXPECT_EQ(v.deposit, u256{138 * kGwei});
    EXPECT_EQ(v.eligible_workers, 2U);
    ASSERT_TRUE(v.cheapest);
    EXPECT_EQ(v.cheapest->id, 1U);
    EXPECT_EQ(v.workers_needed, 4U);
}

TEST(PurchaseCheck, APriceBelowEveryWorkerNamesTheCheapest) {
    auto p = good_plan();
    p.max_price_per_second = kGwei / 2;
    const auto v = check_purchase(p, five_workers(), kRules);
    ASSERT_EQ(codes(v), std::vector<std::string>{"price_below_market"});
    EXPECT_EQ(v.refusals[0].message,
              "the cheapest fitting worker (worker 1) asks 1 gwei/s, above your highest price of 500000000 wei/s: raise --max-price to "
              "at least 1 gwei/s");
}

TEST(PurchaseCheck, APeriodThatDoesNotDivideTheDurationSuggestsOnesThatDo) {
    auto p = good_plan();
    p.duration = 95;
    const auto v = check_purchase(p, five_workers(), kRules);
    ASSERT_EQ(codes(v), std::vector<std::string>{"period_does_not_divide"});
    EXPECT_EQ(v.refusals[0].message,
              "the duration, 95 s, is not a whole number of 10 s periods: use a duration of 100 s or 90 s, or a period that divides it");
    p.period = 5;
    p.duration = 60;
    EXPECT_EQ(codes(check_purchase(p, five_workers(), kRules)), std::vector<std::string>{"period_too_short"});
}

TEST(PurchaseCheck, TooManyVerifiersForTheMarket) {
    auto p = good_plan();
    p.verifiers = 5;
    const auto v = check_purchase(p, five_workers(), kRules);
    ASSERT_EQ(codes(v), std::vector<std::string>{"not_enough_workers"});
    EXPECT_EQ(v.refusals[0].message,
              "1 worker and 5 verifiers need 6 active workers other than yours; the market has 5: ask for at most 3 verifiers");
    // The buyer's own worker counts for nothing.
    auto m = five_workers();
    m.client_worker_id = 2;
    EXPECT_THAT(check_purchase(p, m, kRules).text(), HasSubstr("the market has 4: ask for at most 3 verifiers"));
    m.workers.pop_back();
    p.verifiers = 3;
    EXPECT_THAT(check_purchase(p, m, kRules).text(), HasSubstr("the market has 3: wait until 4 are active"));
    // ... and a registered but inactive one takes nothing from the others (the draw skips it).
    m = five_workers();
    m.workers.pop_back();
    m.client_worker_id = 7;
    EXPECT_TRUE(check_purchase(p, m, kRules).ok()) << check_purchase(p, m, kRules).text();
}

TEST(PurchaseCheck, AZeroDurationIsRefusedNotPricedAtZero) {
    auto p = good_plan();
    p.duration = 0;
    const auto v = check_purchase(p, five_workers(), kRules);
    ASSERT_EQ(codes(v), std::vector<std::string>{"zero_duration"});
    EXPECT_EQ(v.refusals[0].message, "the duration is 0: ask for at least one period (10 s)");
    EXPECT_EQ(v.deposit, 0);
}

TEST(PurchaseCheck, APortTheImageDoesNotExpose) {
    auto p = good_plan();
    p.port = 80;
    p.exposed_ports = std::vector<std::uint16_t>{8080, 9090};
    EXPECT_EQ(check_purchase(p, five_workers(), kRules).text(), "the image does not expose port 80; it exposes 8080, 9090: use --port 8080");
    p.exposed_ports = std::vector<std::uint16_t>{};
    EXPECT_THAT(check_purchase(p, five_workers(), kRules).text(), HasSubstr("exposes no TCP port"));
    p.port = 8080;
    p.exposed_ports = std::vector<std::uint16_t>{8080};
    EXPECT_TRUE(check_purchase(p, five_workers(), kRules).ok());
}

TEST(PurchaseCheck, ResourcesAndDurationNobodyOffers) {
    auto p = good_plan();
    p.cpu_millicores = 4000;
    p.memory_mb = 8192;
    EXPECT_EQ(check_purchase(p, five_workers(), kRules).text(),
              "no active worker offers 4000 millicores and 8192 MB; the most offered are 1000 millicores and 1024 MB: ask for at most "
              "that (--cpu, --memory)");
    p = good_plan();
    p.duration = 2 * 86'400;
    p.period = 60;
    EXPECT_EQ(codes(check_purchase(p, five_workers(), kRules)), std::vector<std::string>{"duration_too_long"});
    EXPECT_EQ(codes(check_purchase(good_plan(), MarketSnapshot{}, kRules)), std::vector<std::string>{"no_active_worker"});
}

TEST(PurchaseCheck, TheBalanceMustCoverTheEscrowAndTheGas) {
    auto m = five_workers();
    m.balance = u256{100 * kGwei};
    m.gas_cost = u256{10 * kGwei};
    const auto v = check_purchase(good_plan(), m, kRules);
    ASSERT_EQ(codes(v), std::vector<std::string>{"balance_too_low"});
    EXPECT_EQ(v.refusals[0].message,
              "the escrow of 138 gwei and up to 10 gwei of gas need 148 gwei; your account holds 100 gwei: fund it with 48 gwei more, "
              "or lower the duration, the price or the verifiers");
    m.balance = u256{148 * kGwei};
    EXPECT_TRUE(check_purchase(good_plan(), m, kRules).ok());
}

TEST(PurchaseCheck, SeveralProblemsAreAllSaid) {
    auto p = good_plan();
    p.period = 7;
    p.verifiers = 9;
    p.max_price_per_second = 0;
    EXPECT_EQ(codes(check_purchase(p, five_workers(), kRules)),
              (std::vector<std::string>{"period_too_short", "verifiers_out_of_range", "zero_price"}));
}

TEST(PurchaseCheck, TheContractsVerifierRulesAreData) {
    const auto rules = PurchaseRules::v2(500, u256{100 * kGwei});
    auto m = five_workers();
    auto p = good_plan();
    p.duration = 3600;
    p.verifiers = 1;
    EXPECT_EQ(check_purchase(p, m, rules).text(), "1 verifier asked for; the contract takes from 3 to 5");
    p.verifiers = 4;
    EXPECT_EQ(check_purchase(p, m, rules).text(), "4 verifiers cannot form a majority; the contract takes an odd number: ask for 5");
    p.verifiers = 3;
    EXPECT_TRUE(check_purchase(p, m, rules).ok()) << check_purchase(p, m, rules).text();
    // 60 s at 2 gwei/s: each verifier earns 6 periods * 1 gwei = 6 gwei < 100 gwei.
    p.duration = 60;
    EXPECT_EQ(check_purchase(p, m, rules).text(),
              "each verifier would earn 6 gwei in all, below the contract's minimum of 100 gwei: raise the price or the duration");
    // Four active workers can give 3 verifiers, but five are needed for 5.
    p.duration = 3600;
    p.verifiers = 5;
    m.workers.pop_back();
    EXPECT_THAT(check_purchase(p, m, rules).text(), HasSubstr("the market has 4: ask for at most 3 verifiers"));
}

}  // namespace
}  // namespace zeppelin::node
