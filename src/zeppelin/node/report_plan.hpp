// When a verifier reports: a pure function of the clock and the agreement's timing, so that every
// second of every period can be tested without a chain.
//
// A period counts as ended one second after its last second (clock skew between the verifier and
// the block's timestamp). One report covers every period ended since the last report; it is sent
// once `per_report` periods gathered, and for the rest as soon as the last billable period ended
// (the end, or the client's stop, which lowers `billable`).
#pragma once

#include <cstdint>

namespace zeppelin::node {

struct ReportPlan {
    std::uint64_t ended{0};  // periods [0, ended) have ended
    bool send{false};        // report periods [through, ended) now
    bool last{false};        // every billable period has ended
    std::int64_t next_ms{0}; // unix ms of the next report moment (0: none, `last`)
};

/// `through`: periods [0, through) are reported already. Times in unix milliseconds.
ReportPlan plan_report(std::int64_t now_ms, std::int64_t start_ms, std::int64_t period_ms, std::uint64_t billable,
                       std::uint64_t through, std::uint64_t per_report);

/// Periods per report for a report interval: at least one.
std::uint64_t periods_per_report(std::int64_t interval_ms, std::int64_t period_ms);

}  // namespace zeppelin::node
