#include "zeppelin/probe/probe.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <thread>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/probe/schedule.hpp"

using namespace zeppelin;
using namespace zeppelin::probe;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A one-thread HTTP server on 127.0.0.1 that answers every request with a fixed reply
// (or, with `silent`, accepts and never answers).
class TinyServer {
public:
    TinyServer(std::string reply, bool silent = false)
        : reply_{std::move(reply)}, silent_{silent}, acceptor_{io_, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}} {
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread{[this] { serve(); }};
    }
    ~TinyServer() {
        // A blocking accept() is not woken by close() from another thread: connect once instead.
        stop_ = true;
        boost::system::error_code ec;
        asio::io_context wake_io;
        tcp::socket wake{wake_io};
        wake.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port_}, ec);
        thread_.join();
    }
    std::uint16_t port() const { return port_; }

private:
    void serve() {
        while (!stop_) {
            tcp::socket s{io_};
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec || stop_) return;
            if (silent_) {
                held_.push_back(std::move(s));
                continue;
            }
            char buf[4096];
            s.read_some(asio::buffer(buf), ec);  // one read is enough for a small GET
            asio::write(s, asio::buffer(reply_), ec);
            s.shutdown(tcp::socket::shutdown_both, ec);
        }
    }
    std::string reply_;
    bool silent_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_{0};
    std::atomic<bool> stop_{false};
    std::vector<tcp::socket> held_;
    std::thread thread_;
};

std::string http_reply(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

std::uint16_t closed_port() {
    asio::io_context io;
    tcp::acceptor a{io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
    return a.local_endpoint().port();  // closed again when `a` goes away
}

}  // namespace

TEST(ProbeSpec, ParsesAndPrints) {
    auto s = parse_spec("http:/health").value();
    EXPECT_EQ(s.kind, Spec::Kind::http);
    EXPECT_EQ(s.path, "/health");
    EXPECT_EQ(s.status, 200u);
    EXPECT_EQ(to_string(s), "http:/health");
    auto t = parse_spec("http:/x,status=204,body-sha256=" + std::string(64, 'a')).value();
    EXPECT_EQ(t.status, 204u);
    ASSERT_TRUE(t.body_sha256);
    EXPECT_EQ(parse_spec(to_string(t)).value(), t);
    EXPECT_EQ(parse_spec("tcp").value().kind, Spec::Kind::tcp);
    EXPECT_EQ(parse_spec("http:").value().path, "/");
}

TEST(ProbeSpec, RejectsBadSpecs) {
    for (const char* bad : {"ftp:/x", "http:health", "http:/a b", "http:/x,status=99", "http:/x,status=abc",
                            "http:/x,body-sha256=12", "http:/x,colour=red", "http:/x,status"}) {
        auto r = parse_spec(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_NE(r.error().message().find("invalid probe"), std::string::npos);
    }
}

TEST(ProbeSpec, CanonicalJsonIsStableAndRoundTrips) {
    auto s = parse_spec("http:/health").value();
    EXPECT_EQ(canonical_json(s), R"({"kind":"http","path":"/health","status":200})");
    EXPECT_EQ(from_json(canonical_json(s)).value(), s);
    EXPECT_EQ(canonical_json(parse_spec("tcp").value()), R"({"kind":"tcp"})");
    EXPECT_FALSE(from_json("[]"));
    EXPECT_FALSE(from_json(R"({"kind":"http","path":"nope","status":200})"));
}

TEST(Probe, HttpStatusAndBody) {
    TinyServer ok{http_reply(200, "hello")};
    auto r = run(parse_spec("http:/").value(), {"127.0.0.1", ok.port()});
    EXPECT_TRUE(r.ok) << r.detail;
    EXPECT_EQ(r.detail, "HTTP 200");

    // sha256("hello")
    const std::string hello_sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    EXPECT_TRUE(run(parse_spec("http:/,body-sha256=" + hello_sha).value(), {"127.0.0.1", ok.port()}).ok);
    auto wrong = run(parse_spec("http:/,body-sha256=" + std::string(64, '0')).value(), {"127.0.0.1", ok.port()});
    EXPECT_FALSE(wrong.ok);
    EXPECT_NE(wrong.detail.find("body hash"), std::string::npos);

    TinyServer err{http_reply(500, "boom")};
    auto bad = run(parse_spec("http:/").value(), {"127.0.0.1", err.port()});
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.detail, "HTTP 500, expected 200");
}

TEST(Probe, FailsCleanlyOnDeadOrSilentOrGarbage) {
    auto dead = run(parse_spec("http:/").value(), {"127.0.0.1", closed_port()}, std::chrono::milliseconds{2000});
    EXPECT_FALSE(dead.ok);
    EXPECT_NE(dead.detail.find("connect failed"), std::string::npos) << dead.detail;

    TinyServer silent{"", true};
    auto slow = run(parse_spec("http:/").value(), {"127.0.0.1", silent.port()}, std::chrono::milliseconds{300});
    EXPECT_FALSE(slow.ok);

    TinyServer garbage{"this is not http\r\n\r\n"};
    EXPECT_FALSE(run(parse_spec("http:/").value(), {"127.0.0.1", garbage.port()}).ok);
}

TEST(Probe, Tcp) {
    TinyServer any{http_reply(200, "")};
    EXPECT_TRUE(run(parse_spec("tcp").value(), {"127.0.0.1", any.port()}).ok);
    EXPECT_FALSE(run(parse_spec("tcp").value(), {"127.0.0.1", closed_port()}).ok);
}

TEST(Schedule, WithinWindowAndSorted) {
    ScheduleConfig c{std::chrono::seconds{60}, 5, std::chrono::seconds{10}};
    for (int i = 0; i < 200; ++i) {
        auto s = draw_period_schedule(c);
        ASSERT_EQ(s.size(), 5u);
        EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
        for (auto t : s) {
            EXPECT_GE(t.count(), 0);
            EXPECT_LT(t, std::chrono::milliseconds{50000});
        }
    }
}

TEST(Schedule, UniformHasNoObviousBias) {
    // 10 buckets, 20000 draws: chi-square with 9 degrees of freedom must stay below 27.88,
    // the 0.1% critical value (NIST/SEMATECH e-Handbook, table of chi-square critical values).
    std::array<int, 10> buckets{};
    const int n = 20000;
    for (int i = 0; i < n; ++i) ++buckets[uniform(10)];
    double chi = 0;
    for (int b : buckets) chi += (b - n / 10.0) * (b - n / 10.0) / (n / 10.0);
    EXPECT_LT(chi, 27.88);
}
