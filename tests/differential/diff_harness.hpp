// Differential test harness: a case is one command line run through both `cast` and
// `zeppelin`; they must agree on success, and on stdout byte for byte when they succeed
// (error messages differ by design and are not compared).
//
// Adding a command: create tests/differential/gen_<name>.cpp with
//
//     #include "diff_harness.hpp"
//     namespace zeppelin::diff {
//     static std::vector<Case> gen_wallet_address(Rng& rng, std::size_t n) { ... }
//     ZEPPELIN_DIFF_GENERATOR(wallet_address, 1.0, gen_wallet_address);
//     }
//
// The weight sets the generator's share of ZEPPELIN_DIFF_CASES. CMake globs gen_*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace zeppelin::diff {

struct Case {
    std::vector<std::string> cast_args;      // argv after "cast"
    std::vector<std::string> zeppelin_args;  // argv after "zeppelin"
    std::optional<std::string> stdin_data;   // fed to both when set
    /// When true, a case only counts as passing if both tools succeed (used for inputs that
    /// are valid by construction, so a shared failure cannot hide a bug).
    bool must_succeed{false};
};

/// Same arguments for both tools: cast <cmd> args... / zeppelin util <cmd> args...
Case util_case(std::string cmd, std::vector<std::string> args, bool must_succeed = false);

class Rng {
public:
    explicit Rng(std::uint64_t seed) : gen_{seed} {}
    std::uint64_t next() { return gen_(); }
    /// Uniform in [lo, hi].
    std::size_t range(std::size_t lo, std::size_t hi) {
        return lo + static_cast<std::size_t>(gen_() % (hi - lo + 1));
    }
    bool chance(double p) { return std::uniform_real_distribution<double>{0.0, 1.0}(gen_) < p; }
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[range(0, v.size() - 1)];
    }
    std::string bytes(std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(gen_() & 0xff);
        return s;
    }
    std::string hex(std::size_t nbytes) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string s;
        for (std::size_t i = 0; i < 2 * nbytes; ++i) s += kHex[gen_() & 0xf];
        return s;
    }

private:
    std::mt19937_64 gen_;
};

using GeneratorFn = std::vector<Case> (*)(Rng&, std::size_t);

struct Generator {
    const char* name;
    double weight;
    GeneratorFn fn;
};

std::vector<Generator>& generators();

struct Registrar {
    Registrar(const char* name, double weight, GeneratorFn fn) { generators().push_back({name, weight, fn}); }
};

#define ZEPPELIN_DIFF_GENERATOR(name, weight, fn) \
    static const ::zeppelin::diff::Registrar zeppelin_diff_registrar_##name{#name, weight, fn}

// ---- running ----

struct RunResult {
    int exit_code{-1};
    std::string out;
};

/// Runs argv[0] with the given arguments (no shell), stdin from `input` or /dev/null, stderr
/// discarded. Returns exit code (or -signal) and stdout.
RunResult run_process(const std::vector<std::string>& argv, const std::optional<std::string>& input);

/// "'a b' c" style quoting for printing reproducible command lines.
std::string shell_join(const std::vector<std::string>& argv);

std::string hex_of(std::string_view bytes);

}  // namespace zeppelin::diff
