// A thread-safe registry of Prometheus counters and gauges with labels, rendered in the text
// exposition format 0.0.4 (served by the node's /metrics route).
//
//     Metrics metrics;
//     const auto sent = metrics.counter("zeppelin_transactions_sent_total", "Transactions sent.");
//     sent.inc({{"action", "accept"}});
//     const auto running = metrics.gauge("zeppelin_running_jobs", "Containers running now.");
//     running.set(3);
//     server.route("GET", "/metrics", [&](const Request&) {
//         Response r; r.content_type = Metrics::kContentType; r.body = metrics.render(); return r;
//     });
//
// Metric and label names are fixed by the code, so an invalid one (or a name registered twice
// with different types) is a programming error: std::invalid_argument. Label values are any text.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zeppelin::node {

class Metrics final {
public:
    /// Label name/value pairs; their order does not matter.
    using Labels = std::vector<std::pair<std::string, std::string>>;
    enum class Type { counter, gauge };
    static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

    struct Family;

    /// A handle to a counter family, valid as long as the registry; copyable, thread-safe.
    class Counter {
    public:
        /// Adds `by` (>= 0; a negative amount is ignored: counters never go down).
        void inc(const Labels& labels = {}, double by = 1) const;

    private:
        friend class Metrics;
        Counter(Metrics& m, Family& f) : metrics_{&m}, family_{&f} {}
        Metrics* metrics_;
        Family* family_;
    };

    class Gauge {
    public:
        void set(double value, const Labels& labels = {}) const;
        void add(double by, const Labels& labels = {}) const;

    private:
        friend class Metrics;
        Gauge(Metrics& m, Family& f) : metrics_{&m}, family_{&f} {}
        Metrics* metrics_;
        Family* family_;
    };

    Metrics() = default;
    Metrics(const Metrics&) = delete;  // handles point into it
    Metrics& operator=(const Metrics&) = delete;

    /// Registers (or returns the already registered) family `name`.
    Counter counter(const std::string& name, std::string help);
    Gauge gauge(const std::string& name, std::string help);

    /// Every family in name order: # HELP, # TYPE, then one line per label set.
    [[nodiscard]] std::string render() const;

    struct Family {
        Type type;
        std::string help;
        std::map<Labels, double> series;  // labels sorted by name
    };

private:
    Family& family(const std::string& name, std::string help, Type type);
    void update(Family& f, const Labels& labels, double value, bool add);

    mutable std::mutex mutex_;
    std::map<std::string, Family> families_;
};

}  // namespace zeppelin::node
