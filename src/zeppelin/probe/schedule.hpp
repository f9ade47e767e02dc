// When a verifier probes. Each period gets `probes_per_period` instants drawn uniformly from
// the period (minus a margin at its end, left for reporting), from the OS CSPRNG: the worker
// cannot predict them, so serving only around predictable instants does not pay.
// A period is confirmed when every probe in it succeeded (a failed probe is retried once
// after a short pause, to tolerate a dropped packet, not an outage).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace zeppelin::probe {

struct ScheduleConfig {
    std::chrono::seconds period{600};
    unsigned probes_per_period{2};
    std::chrono::seconds margin{30};  // no probe in the last `margin` of a period
};

/// Offsets from the period's start, sorted, each in [0, period - margin).
std::vector<std::chrono::milliseconds> draw_period_schedule(const ScheduleConfig& config);

/// A uniform integer in [0, bound) from the OS CSPRNG (bound > 0), without modulo bias.
std::uint64_t uniform(std::uint64_t bound);

}  // namespace zeppelin::probe
