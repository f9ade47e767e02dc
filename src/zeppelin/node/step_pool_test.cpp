#include "zeppelin/node/step_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace zeppelin::node;
using namespace std::chrono_literals;

namespace {
// Waits (bounded) until `done` holds.
template <class F>
bool eventually(F done) {
    for (int i = 0; i < 500; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(2ms);
    }
    return done();
}
}  // namespace

TEST(StepPool, NeverRunsTwoStepsOfOneKeyAtOnce) {
    StepPool pool{4};
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    std::atomic<int> runs{0};
    for (int i = 0; i < 50; ++i) {
        pool.post(7, [&] {
            const int now = ++inside;
            most = std::max(most.load(), now);
            std::this_thread::sleep_for(1ms);
            --inside;
            ++runs;
        });
    }
    ASSERT_TRUE(eventually([&] { return pool.busy() == 0; }));
    EXPECT_EQ(most.load(), 1);
    EXPECT_GE(runs.load(), 1);
    EXPECT_LE(runs.load(), 2);  // one queued, at most one more for posts during the run
}

TEST(StepPool, AnEventDuringAStepRunsItOnceMore) {
    StepPool pool{2};
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<int> runs{0};
    pool.post(1, [&] {
        ++runs;
        entered.set_value();
        released.wait();
    });
    entered.get_future().wait();
    pool.post(1, [&] { ++runs; });  // arrives while the first runs
    pool.post(1, [&] { ++runs; });  // merged with the one before
    release.set_value();
    ASSERT_TRUE(eventually([&] { return pool.busy() == 0; }));
    EXPECT_EQ(runs.load(), 2);
}

TEST(StepPool, KeysRunInParallelAndAThrowingStepDoesNotStopThePool) {
    StepPool pool{2};
    std::atomic<int> runs{0};
    pool.post(1, [] { throw std::runtime_error{"boom"}; });
    for (std::uint64_t k = 2; k < 20; ++k) pool.post(k, [&] { ++runs; });
    ASSERT_TRUE(eventually([&] { return runs.load() == 18; }));
}

TEST(DeadlineQueue, TheEarliestWakeUpOfAKeyWinsAndDueKeysComeOnce) {
    DeadlineQueue q;
    const auto t0 = DeadlineQueue::Clock::now();
    q.schedule(1, t0 + 5s);
    q.schedule(1, t0 + 2s);  // earlier: replaces
    q.schedule(1, t0 + 9s);  // later: ignored
    q.schedule(2, t0 + 3s);
    q.schedule(3, t0 + 1s);
    EXPECT_EQ(q.size(), 3U);
    EXPECT_EQ(*q.next(), t0 + 1s);
    EXPECT_TRUE(q.take_due(t0).empty());
    EXPECT_EQ(q.take_due(t0 + 2s), (std::vector<std::uint64_t>{3, 1}));
    EXPECT_TRUE(q.take_due(t0 + 2s).empty());
    q.cancel(2);
    EXPECT_TRUE(q.take_due(t0 + 10s).empty());
    EXPECT_FALSE(q.next().has_value());
    // Every second of a minute, many keys: each comes exactly once, in time order.
    for (std::uint64_t k = 0; k < 600; ++k) q.schedule(k, t0 + std::chrono::milliseconds{(k * 37) % 60'000});
    std::vector<std::uint64_t> all;
    for (int s = 0; s <= 60; ++s) {
        const auto due = q.take_due(t0 + std::chrono::seconds{s});
        all.insert(all.end(), due.begin(), due.end());
    }
    EXPECT_EQ(all.size(), 600U);
    EXPECT_EQ(q.size(), 0U);
}
