#include "zeppelin/node/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <thread>

using namespace zeppelin::node;

TEST(Metrics, RendersTextFormatWithEscaping) {
    Metrics m;
    const auto sent = m.counter("zeppelin_transactions_sent_total", "Transactions sent, by action.");
    sent.inc({{"action", "accept"}});
    sent.inc({{"action", "accept"}}, 2);
    sent.inc({{"action", "buy"}});
    sent.inc({{"action", "buy"}}, -5);  // ignored: counters only go up
    const auto running = m.gauge("zeppelin_running_jobs", "Jobs running.\nNow, with \\ backslash.");
    running.set(4);
    running.add(-1.5);
    const auto odd = m.gauge("zeppelin_odd", "Label escaping.");
    odd.set(1, {{"zone", "b"}, {"path", "C:\\x \"q\"\nend"}});  // label order does not matter
    odd.set(INFINITY, {{"path", "inf"}});
    EXPECT_EQ(m.render(),
              "# HELP zeppelin_odd Label escaping.\n"
              "# TYPE zeppelin_odd gauge\n"
              "zeppelin_odd{path=\"C:\\\\x \\\"q\\\"\\nend\",zone=\"b\"} 1\n"
              "zeppelin_odd{path=\"inf\"} +Inf\n"
              "# HELP zeppelin_running_jobs Jobs running.\\nNow, with \\\\ backslash.\n"
              "# TYPE zeppelin_running_jobs gauge\n"
              "zeppelin_running_jobs 2.5\n"
              "# HELP zeppelin_transactions_sent_total Transactions sent, by action.\n"
              "# TYPE zeppelin_transactions_sent_total counter\n"
              "zeppelin_transactions_sent_total{action=\"accept\"} 3\n"
              "zeppelin_transactions_sent_total{action=\"buy\"} 1\n");
}

TEST(Metrics, RejectsInvalidNamesAndTypeClashes) {
    Metrics m;
    EXPECT_THROW(m.counter("9lives", ""), std::invalid_argument);
    EXPECT_THROW(m.counter("a-b", ""), std::invalid_argument);
    const auto c = m.counter("ok:total", "");
    EXPECT_THROW(m.gauge("ok:total", ""), std::invalid_argument);
    EXPECT_THROW(c.inc({{"bad:label", "x"}}), std::invalid_argument);
    EXPECT_THROW(c.inc({{"a", "x"}, {"a", "y"}}), std::invalid_argument);
    m.counter("ok:total", "again").inc();  // same type: the same family
    EXPECT_NE(m.render().find("ok:total 1\n"), std::string::npos);
}

TEST(Metrics, CountsFromManyThreads) {
    Metrics m;
    const auto c = m.counter("hits_total", "Hits.");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([c] {
            for (int i = 0; i < 1000; ++i) c.inc({{"k", "v"}});
        });
    for (auto& t : threads) t.join();
    EXPECT_NE(m.render().find("hits_total{k=\"v\"} 4000\n"), std::string::npos);
}
