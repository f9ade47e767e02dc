// Runs every registered generator's cases through cast and zeppelin and compares.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "diff_harness.hpp"

namespace zeppelin::diff {
namespace {

std::size_t env_size(const char* name, std::size_t fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

std::set<std::string> env_only() {
    std::set<std::string> out;
    const char* v = std::getenv("ZEPPELIN_DIFF_ONLY");
    if (v == nullptr) return out;
    std::stringstream ss{v};
    std::string item;
    while (std::getline(ss, item, ',')) out.insert(item);
    return out;
}

struct Outcome {
    std::size_t cases{0}, both_ok{0}, both_failed{0}, mismatches{0};
};

TEST(Differential, ZeppelinUtilMatchesCast) {
    const std::string cast = ZEPPELIN_CAST;
    const std::string zeppelin = ZEPPELIN_BIN;
    if (!std::filesystem::exists(cast)) GTEST_SKIP() << "cast not installed at " << cast << " (run scripts/setup.sh)";
    ASSERT_TRUE(std::filesystem::exists(zeppelin)) << zeppelin;

    const std::size_t total = env_size("ZEPPELIN_DIFF_CASES", 2000);
    const std::uint64_t seed = env_size("ZEPPELIN_DIFF_SEED", 20151);
    const std::size_t jobs = std::max<std::size_t>(1, env_size("ZEPPELIN_DIFF_JOBS", 4));
    auto only = env_only();

    double weight_sum = 0;
    for (auto& g : generators())
        if (only.empty() || only.count(g.name)) weight_sum += g.weight;
    ASSERT_GT(weight_sum, 0.0) << "no generators selected";

    struct Item {
        const char* generator;
        Case c;
    };
    std::vector<Item> items;
    Rng rng{seed};
    for (auto& g : generators()) {
        if (!only.empty() && !only.count(g.name)) continue;
        auto n = static_cast<std::size_t>(static_cast<double>(total) * g.weight / weight_sum + 0.5);
        for (auto& c : g.fn(rng, n)) items.push_back({g.name, std::move(c)});
    }

    std::mutex mu;
    std::map<std::string, Outcome> outcomes;
    std::vector<std::string> reports;
    std::atomic<std::size_t> next{0};
    auto start = std::chrono::steady_clock::now();
    auto worker = [&] {
        while (true) {
            auto i = next.fetch_add(1);
            if (i >= items.size()) return;
            const auto& it = items[i];
            std::vector<std::string> cast_argv{cast}, zep_argv{zeppelin};
            cast_argv.insert(cast_argv.end(), it.c.cast_args.begin(), it.c.cast_args.end());
            zep_argv.insert(zep_argv.end(), it.c.zeppelin_args.begin(), it.c.zeppelin_args.end());
            auto a = run_process(cast_argv, it.c.stdin_data);
            auto b = run_process(zep_argv, it.c.stdin_data);
            bool a_ok = a.exit_code == 0, b_ok = b.exit_code == 0;
            bool same = a_ok == b_ok && (!a_ok || a.out == b.out);
            if (it.c.must_succeed && !(a_ok && b_ok)) same = false;
            if (b.exit_code < 0) same = false;  // zeppelin crashed on a signal
            std::lock_guard lock{mu};
            auto& o = outcomes[it.generator];
            ++o.cases;
            if (a_ok && b_ok) ++o.both_ok;
            if (!a_ok && !b_ok) ++o.both_failed;
            if (!same) {
                ++o.mismatches;
                if (reports.size() < 25) {
                    std::string r = std::string{"[" } + it.generator + "] " + shell_join(zep_argv) + "\n";
                    if (it.c.stdin_data) r += "  stdin: 0x" + hex_of(*it.c.stdin_data) + "\n";
                    r += "  cast     (exit " + std::to_string(a.exit_code) + "): " + a.out;
                    if (a.out.empty() || a.out.back() != '\n') r += "\n";
                    r += "  zeppelin (exit " + std::to_string(b.exit_code) + "): " + b.out;
                    if (b.out.empty() || b.out.back() != '\n') r += "\n";
                    reports.push_back(std::move(r));
                }
            }
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t j = 0; j < jobs; ++j) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::size_t mismatches = 0;
    for (auto& [name, o] : outcomes) {
        std::printf("differential %-14s cases=%zu both_ok=%zu both_failed=%zu mismatches=%zu\n", name.c_str(), o.cases,
                    o.both_ok, o.both_failed, o.mismatches);
        mismatches += o.mismatches;
    }
    std::printf("differential total cases=%zu in %.1f s (seed %llu, %zu jobs)\n", items.size(), secs,
                static_cast<unsigned long long>(seed), jobs);
    for (auto& r : reports) std::printf("MISMATCH %s", r.c_str());
    EXPECT_EQ(mismatches, 0u) << "reproduce with ZEPPELIN_DIFF_SEED=" << seed;
}

}  // namespace
}  // namespace zeppelin::diff
