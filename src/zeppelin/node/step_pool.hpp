// Where the node's agreement steps run, and when.
//
//   StepPool      a small fixed pool of threads that runs at most one step per agreement at a time;
//                 an event that arrives while its agreement's step runs makes it run once more.
//   DeadlineQueue the moments each agreement asked to be stepped again (a probe instant, a report
//                 time, a deadline of the contract): the node's loop wakes exactly those that are
//                 due, instead of stepping every open agreement every second.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace zeppelin::node {

class StepPool final {
public:
    explicit StepPool(unsigned threads);
    ~StepPool();
    StepPool(const StepPool&) = delete;
    StepPool& operator=(const StepPool&) = delete;

    /// Queues `job` unless a job of `key` is already queued; if one is running, `job` runs once
    /// more after it (an event that arrives during a step is never lost).
    void post(std::uint64_t key, std::function<void()> job);
    /// Keys queued or running now.
    [[nodiscard]] std::size_t busy() const;

private:
    void loop();

    struct State {
        bool running{false};
        std::function<void()> again;  // set: run once more when the running job ends
    };

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::uint64_t, std::function<void()>>> queue_;
    std::map<std::uint64_t, State> busy_;
    std::vector<std::thread> threads_;
    bool stop_{false};
};

/// One pending wake-up per key: the earliest asked for wins. Thread-safe.
class DeadlineQueue final {
public:
    using Clock = std::chrono::steady_clock;

    /// Asks for `key` to be woken at `at` (kept if earlier than the one it has).
    void schedule(std::uint64_t key, Clock::time_point at);
    /// Forgets `key`'s wake-up (its agreement ended).
    void cancel(std::uint64_t key);
    /// Removes and returns the keys due at `now`, earliest first.
    std::vector<std::uint64_t> take_due(Clock::time_point now);
    /// The earliest pending wake-up, if any.
    [[nodiscard]] std::optional<Clock::time_point> next() const;
    [[nodiscard]] std::size_t size() const;

private:
    mutable std::mutex mu_;
    std::map<std::uint64_t, Clock::time_point> at_;            // key -> when
    std::multimap<Clock::time_point, std::uint64_t> order_;    // when -> key
};

}  // namespace zeppelin::node
