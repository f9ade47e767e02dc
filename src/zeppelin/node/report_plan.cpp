#include "zeppelin/node/report_plan.hpp"

#include <algorithm>

namespace zeppelin::node {

namespace {
constexpr std::int64_t kGraceMs = 1000;
}

std::uint64_t periods_per_report(std::int64_t interval_ms, std::int64_t period_ms) {
    if (period_ms <= 0 || interval_ms <= period_ms) return 1;
    return static_cast<std::uint64_t>(interval_ms / period_ms);
}

ReportPlan plan_report(std::int64_t now_ms, std::int64_t start_ms, std::int64_t period_ms, std::uint64_t billable,
                       std::uint64_t through, std::uint64_t per_report) {
    ReportPlan p;
    per_report = std::max<std::uint64_t>(per_report, 1);
    if (period_ms > 0 && now_ms >= start_ms + kGraceMs)
        p.ended = std::min<std::uint64_t>(billable, static_cast<std::uint64_t>((now_ms - start_ms - kGraceMs) / period_ms));
    p.last = p.ended >= billable;
    p.send = p.ended > through && (p.last || p.ended - through >= per_report);
    if (!p.last) {
        const auto from = p.send ? p.ended : through;
        const auto target = std::min<std::uint64_t>(billable, from + per_report);
        p.next_ms = start_ms + static_cast<std::int64_t>(target) * period_ms + kGraceMs;
    }
    return p;
}

}  // namespace zeppelin::node
