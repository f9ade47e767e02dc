#include "zeppelin/probe/schedule.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace zeppelin::probe {

std::uint64_t uniform(std::uint64_t bound) {
    if (bound == 0) throw std::invalid_argument{"uniform: bound must be positive"};
    // Rejection sampling: discard the top partial range so every value is equally likely.
    const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (;;) {
        std::uint64_t x = 0;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&x), sizeof x) != 1)
            throw std::runtime_error{"OS random number generator failed"};
        if (x < limit) return x % bound;
    }
}

std::vector<std::chrono::milliseconds> draw_period_schedule(const ScheduleConfig& config) {
    using std::chrono::milliseconds;
    auto window = std::chrono::duration_cast<milliseconds>(config.period - config.margin);
    if (window.count() <= 0) window = std::chrono::duration_cast<milliseconds>(config.period);
    std::vector<milliseconds> out;
    out.reserve(config.probes_per_period);
    for (unsigned i = 0; i < config.probes_per_period; ++i)
        out.emplace_back(static_cast<milliseconds::rep>(uniform(static_cast<std::uint64_t>(window.count()))));
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace zeppelin::probe
