#include "zeppelin/node/report_plan.hpp"

#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

constexpr std::int64_t kStart = 1'700'000'000'000;

// Walks every second of an agreement (and the seconds around each boundary) the way the node's
// loop would: a step at each moment the plan asked for, plus a step every second to catch a plan
// that reports early or too late.
struct Walk {
    std::int64_t period_ms;
    std::uint64_t billable;
    std::uint64_t per_report;
    std::uint64_t stop_after{~0ULL};  // the client stops once this many periods began
};

void walk(const Walk& w) {
    std::uint64_t through = 0;
    std::uint64_t billable = w.billable;
    std::int64_t asked = 0;
    unsigned reports = 0;
    const auto end_ms = kStart + static_cast<std::int64_t>(w.billable) * w.period_ms + 5000;
    for (std::int64_t now = kStart - 2000; now <= end_ms; now += 250) {
        const auto begun = now < kStart ? 0 : static_cast<std::uint64_t>((now - kStart) / w.period_ms) + 1;
        if (begun > w.stop_after) billable = std::min<std::uint64_t>(billable, w.stop_after);
        const auto p = plan_report(now, kStart, w.period_ms, billable, through, w.per_report);
        // Never a period that has not ended (with its second of grace).
        ASSERT_LE(kStart + static_cast<std::int64_t>(p.ended) * w.period_ms + 1000, std::max(now, kStart + 1000))
            << "now=" << now - kStart;
        ASSERT_LE(p.ended, billable);
        if (p.send) {
            ASSERT_GT(p.ended, through);
            // Sent no later than the moment asked for earlier (a step then would have sent it).
            if (asked != 0 && !p.last) {
                ASSERT_LE(asked, now);
            }
            through = p.ended;
            ++reports;
        }
        if (!p.last) {
            ASSERT_GT(p.next_ms, now) << "the next moment is in the future";
            asked = p.next_ms;
        } else {
            ASSERT_EQ(p.next_ms, 0);
        }
    }
    EXPECT_EQ(through, billable) << "every billable period reported by the end";
    const auto expected_max = billable / w.per_report + 1;
    EXPECT_LE(reports, expected_max);
}

TEST(ReportPlan, EveryPeriodOnceAtTheCadenceAndTheRestAtTheEnd) {
    walk({10'000, 6, 1});
    walk({10'000, 6, 4});
    walk({60'000, 60, 10});
    walk({10'000, 7, 60});  // fewer periods than one report's worth: one report at the end
}

TEST(ReportPlan, ClientStopReportsTheBegunPeriodsAtOnce) {
    walk({10'000, 60, 10, 13});
    walk({10'000, 60, 10, 1});
}

TEST(ReportPlan, NothingBeforeTheFirstPeriodEnded) {
    for (std::int64_t t = -5000; t < 11'000; t += 100) {
        const auto p = plan_report(kStart + t, kStart, 10'000, 6, 0, 1);
        EXPECT_EQ(p.ended, 0U) << t;
        EXPECT_FALSE(p.send);
        EXPECT_EQ(p.next_ms, kStart + 11'000);
    }
    EXPECT_TRUE(plan_report(kStart + 11'000, kStart, 10'000, 6, 0, 1).send);
}

TEST(ReportPlan, ABacklogAfterAnOutageGoesInOneReport) {
    const auto p = plan_report(kStart + 45'500, kStart, 10'000, 6, 1, 60);
    EXPECT_EQ(p.ended, 4U);
    EXPECT_FALSE(p.send) << "3 periods gathered, the cadence wants 60 (or the end)";
    const auto end = plan_report(kStart + 61'000, kStart, 10'000, 6, 1, 60);
    EXPECT_TRUE(end.send);
    EXPECT_TRUE(end.last);
    EXPECT_EQ(end.ended, 6U);
}

TEST(ReportPlan, PeriodsPerReport) {
    EXPECT_EQ(periods_per_report(600'000, 60'000), 10U);
    EXPECT_EQ(periods_per_report(600'000, 7'000), 85U);
    EXPECT_EQ(periods_per_report(5'000, 10'000), 1U);
    EXPECT_EQ(periods_per_report(600'000, 0), 1U);
}

}  // namespace
}  // namespace zeppelin::node
