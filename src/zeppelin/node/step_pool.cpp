#include "zeppelin/node/step_pool.hpp"

#include <exception>

#include <spdlog/spdlog.h>

namespace zeppelin::node {

StepPool::StepPool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

StepPool::~StepPool() {
    {
        std::lock_guard lock{mu_};
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void StepPool::post(std::uint64_t key, std::function<void()> job) {
    {
        std::lock_guard lock{mu_};
        if (stop_) return;
        if (auto it = busy_.find(key); it != busy_.end()) {
            if (it->second.running) it->second.again = std::move(job);
            return;
        }
        busy_.emplace(key, State{});
        queue_.emplace_back(key, std::move(job));
    }
    cv_.notify_one();
}

std::size_t StepPool::busy() const {
    std::lock_guard lock{mu_};
    return busy_.size();
}

void StepPool::loop() {
    for (;;) {
        std::pair<std::uint64_t, std::function<void()>> item;
        {
            std::unique_lock lock{mu_};
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            item = std::move(queue_.front());
            queue_.pop_front();
            busy_[item.first].running = true;
        }
        try {
            item.second();
        } catch (const std::exception& e) {
            spdlog::error("agreement {}: step failed: {}", item.first, e.what());
        }
        bool requeued = false;
        {
            std::lock_guard lock{mu_};
            auto it = busy_.find(item.first);
            if (it->second.again && !stop_) {
                queue_.emplace_back(item.first, std::move(it->second.again));
                it->second = State{};
                requeued = true;
            } else {
                busy_.erase(it);
            }
        }
        if (requeued) cv_.notify_one();
    }
}

void DeadlineQueue::schedule(std::uint64_t key, Clock::time_point at) {
    std::lock_guard lock{mu_};
    if (auto it = at_.find(key); it != at_.end()) {
        if (it->second <= at) return;
        for (auto [b, e] = order_.equal_range(it->second); b != e; ++b)
            if (b->second == key) {
                order_.erase(b);
                break;
            }
        it->second = at;
    } else {
        at_.emplace(key, at);
    }
    order_.emplace(at, key);
}

void DeadlineQueue::cancel(std::uint64_t key) {
    std::lock_guard lock{mu_};
    const auto it = at_.find(key);
    if (it == at_.end()) return;
    for (auto [b, e] = order_.equal_range(it->second); b != e; ++b)
        if (b->second == key) {
            order_.erase(b);
            break;
        }
    at_.erase(it);
}

std::vector<std::uint64_t> DeadlineQueue::take_due(Clock::time_point now) {
    std::lock_guard lock{mu_};
    std::vector<std::uint64_t> due;
    while (!order_.empty() && order_.begin()->first <= now) {
        due.push_back(order_.begin()->second);
        at_.erase(order_.begin()->second);
        order_.erase(order_.begin());
    }
    return due;
}

std::optional<DeadlineQueue::Clock::time_point> DeadlineQueue::next() const {
    std::lock_guard lock{mu_};
    if (order_.empty()) return std::nullopt;
    return order_.begin()->first;
}

std::size_t DeadlineQueue::size() const {
    std::lock_guard lock{mu_};
    return at_.size();
}

}  // namespace zeppelin::node
