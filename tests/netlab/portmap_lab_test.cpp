// The port-mapping library against a real home router: Debian's miniupnpd in the network lab
// (tests/netlab/lab.sh). The test thread enters the namespace of the worker behind the router,
// discovers the gateway, maps a port to a listener there, and a thread in the public client's
// namespace connects to the router's external address and exchanges bytes; after the mapping is
// removed the same connection must fail. Once over UPnP IGD, once over NAT-PMP, then the router
// without either (no mapping possible) and a restarted node cleaning up after its predecessor.
//
// Needs root (network namespaces); skipped, with a message, only when not root. The lab gets
// its own prefix (zplt-) so that a lab a developer has up by hand is left alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::portmap {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "zplt-";
constexpr const char* kRunDir = "/tmp/zplt-lab";
constexpr const char* kRouterWan = "198.51.100.1";
constexpr const char* kHome = "192.168.77.10";
constexpr const char* kClient = "198.51.100.20";

std::string lab(const std::string& args) {
    return std::string{"ZPL_PREFIX="} + kPrefix + " ZPL_RUN_DIR=" + kRunDir + " bash " ZEPPELIN_SOURCE_DIR "/tests/netlab/lab.sh " + args;
}

int run(const std::string& command) {
    const int rc = std::system(command.c_str());  // NOLINT: a test driving the lab script
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Output {
    int status{-1};
    std::string out;
};

/// Runs COMMAND on a lab host; its standard output.
Output on_host(const std::string& host, const std::string& command) {
    Output o;
    FILE* p = ::popen((lab("exec " + host + " " + command)).c_str(), "r");
    if (p == nullptr) return o;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
    const int rc = ::pclose(p);
    o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return o;
}

/// Runs `zeppelin ARGS` on a lab host.
Output cli_on(const std::string& host, const std::string& args, const std::string& env = {}) {
    return on_host(host, (env.empty() ? "" : "env " + env + " ") + ZEPPELIN_CLI_PATH " " + args);
}

nlohmann::json json_of(const Output& o) {
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << o.out;
    return j;
}

/// A file descriptor, closed at the end of scope.
class Fd final {
public:
    explicit Fd(int fd = -1) : fd_{fd} {}
    Fd(Fd&& o) noexcept : fd_{std::exchange(o.fd_, -1)} {}
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_;
};

/// Moves the calling thread into a lab host's network namespace for the scope's lifetime.
class InNamespace final {
public:
    explicit InNamespace(const std::string& host)
        : self_{::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)},
          target_{::open(("/run/netns/" + std::string{kPrefix} + host).c_str(), O_RDONLY | O_CLOEXEC)} {
        ok_ = self_ && target_ && ::setns(target_.get(), CLONE_NEWNET) == 0;
    }
    InNamespace(const InNamespace&) = delete;
    InNamespace& operator=(const InNamespace&) = delete;
    ~InNamespace() {
        if (ok_) (void)::setns(self_.get(), CLONE_NEWNET);
    }
    [[nodiscard]] bool ok() const { return ok_; }

private:
    Fd self_;
    Fd target_;
    bool ok_{false};
};

sockaddr_in ipv4(const char* address, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    return a;
}

Fd listen_on(std::uint16_t port) {
    Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    const int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto a = ipv4("0.0.0.0", port);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(s.get(), 4) != 0) return Fd{};
    return s;
}

/// Connects with a bounded wait; an empty Fd if it did not connect.
Fd connect_to(const char* address, std::uint16_t port, std::chrono::milliseconds timeout) {
    Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    const auto a = ipv4(address, port);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) return Fd{};
    pollfd p{s.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return Fd{};
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Fd{};
    ::fcntl(s.get(), F_SETFL, 0);  // blocking again, for the exchange
    timeval tv{3, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

std::string read_some(int fd) {
    std::array<char, 64> buf{};
    const auto n = ::recv(fd, buf.data(), buf.size(), 0);
    return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string{};
}

/// From the public client's host: connect to the router's external address and port, send
/// "ping", expect "pong". Returns what went wrong, or nullopt when the exchange worked.
std::optional<std::string> client_exchange(std::uint16_t external_port, std::chrono::milliseconds timeout) {
    InNamespace in{"client"};
    if (!in.ok()) return "cannot enter the client's namespace";
    Fd s = connect_to(kRouterWan, external_port, timeout);
    if (!s) return "cannot connect to " + std::string{kRouterWan} + ":" + std::to_string(external_port);
    if (::send(s.get(), "ping", 4, MSG_NOSIGNAL) != 4) return "send failed";
    const auto answer = read_some(s.get());
    if (answer != "pong") return "answer was '" + answer + "'";
    return std::nullopt;
}

/// On the worker's side (the calling thread is in its namespace): accept one connection within
/// `timeout`, check where it comes from, answer "pong" to "ping".
std::optional<std::string> serve_once(int listener, std::chrono::milliseconds timeout) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "no connection arrived";
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    Fd c{::accept(listener, reinterpret_cast<sockaddr*>(&peer), &len)};
    if (!c) return "accept failed";
    std::array<char, INET_ADDRSTRLEN> from{};
    ::inet_ntop(AF_INET, &peer.sin_addr, from.data(), from.size());
    // The router forwards (DNAT) without rewriting the source: the worker sees the real client.
    if (std::string{from.data()} != kClient) return "connection came from " + std::string{from.data()};
    timeval tv{3, 0};
    ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (read_some(c.get()) != "ping") return "did not receive ping";
    if (::send(c.get(), "pong", 4, MSG_NOSIGNAL) != 4) return "send failed";
    return std::nullopt;
}

class PortmapLab : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0) return;
        lab_up_ = run(lab("up")) == 0;
        mode_ = "upnp+natpmp";
    }
    static void TearDownTestSuite() {
        if (::geteuid() != 0) return;
        EXPECT_EQ(run(lab("down")), 0);
        // Nothing of the lab is left behind.
        EXPECT_NE(run("ip netns list | grep -q '^" + std::string{kPrefix} + "'"), 0) << "lab namespaces left after down";
    }

    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "the network lab needs root (network namespaces, nftables, miniupnpd); run as root to test "
                            "port mapping against a real router";
        ASSERT_TRUE(lab_up_) << "tests/netlab/lab.sh up failed (see its output above)";
    }

    /// Puts the router's miniupnpd in `mode` (lab.sh router MODE) unless it already is.
    static void router(const std::string& mode) {
        if (mode_ == mode) return;
        ASSERT_EQ(run(lab("router " + mode)), 0);
        mode_ = mode;
    }

    /// The whole cycle on a discovered gateway: map a port to a listener on the worker, reach it
    /// from the public client, renew, reach it again, unmap, and see the client fail.
    static void map_reach_renew_unmap(PortMapper& pm, std::uint16_t port) {
        Fd listener = listen_on(port);
        ASSERT_TRUE(listener) << "cannot listen on " << port << " in the worker's namespace";

        auto m = pm.map({Protocol::tcp, port, 0, 120s, "transfer"});
        ASSERT_TRUE(m) << m.error().message();
        EXPECT_EQ(m->internal_address, kHome);
        EXPECT_EQ(m->internal_port, port);
        EXPECT_EQ(m->external_address, kRouterWan);
        EXPECT_NE(m->external_port, 0);
        EXPECT_GT(m->lease.count(), 0);
        EXPECT_LE(m->lease, 120s);

        {
            auto client = std::async(std::launch::async, client_exchange, m->external_port, 3000ms);
            const auto served = serve_once(listener.get(), 5000ms);
            const auto seen = client.get();
            EXPECT_FALSE(seen) << "client: " << *seen;
            EXPECT_FALSE(served) << "worker: " << *served;
        }

        auto renewed = pm.renew(*m);
        ASSERT_TRUE(renewed) << renewed.error().message();
        EXPECT_EQ(renewed->external_port, m->external_port);
        EXPECT_GT(renewed->lease.count(), 0);
        {
            auto client = std::async(std::launch::async, client_exchange, renewed->external_port, 3000ms);
            const auto served = serve_once(listener.get(), 5000ms);
            const auto seen = client.get();
            EXPECT_FALSE(seen) << "client after renew: " << *seen;
            EXPECT_FALSE(served) << "worker after renew: " << *served;
        }

        ASSERT_TRUE(pm.unmap(*renewed));
        // The router now drops the connection attempt: unsolicited inbound with no mapping.
        const auto after = client_exchange(renewed->external_port, 1500ms);
        EXPECT_TRUE(after.has_value()) << "the client still reaches the worker after the mapping was removed";
        pollfd p{listener.get(), POLLIN, 0};
        EXPECT_EQ(::poll(&p, 1, 0), 0) << "a connection reached the worker after unmap";
    }

    static inline bool lab_up_{false};
    static inline std::string mode_;
};

TEST_F(PortmapLab, UnsolicitedInboundIsDropped) {
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    Fd listener = listen_on(40050);
    ASSERT_TRUE(listener);
    // Neither the router's external port (no mapping) nor the private address reach the worker.
    EXPECT_TRUE(client_exchange(40050, 1000ms).has_value());
    pollfd p{listener.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
}

TEST_F(PortmapLab, UpnpIgdMapsReachesRenewsRemoves) {
    router("upnp+natpmp");
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    DiscoverOptions o;
    o.timeout = 1500ms;
    o.natpmp = false;
    auto pm = PortMapper::discover("labnode", o);
    ASSERT_TRUE(pm) << pm.error().message();
    ASSERT_EQ(pm->gateway().method, Method::upnp_igd);
    EXPECT_EQ(pm->gateway().address, "192.168.77.1");
    EXPECT_EQ(pm->gateway().local_address, kHome);
    EXPECT_EQ(pm->gateway().external_address, kRouterWan);
    auto ext = pm->external_address();
    ASSERT_TRUE(ext) << ext.error().message();
    EXPECT_EQ(*ext, kRouterWan);
    map_reach_renew_unmap(*pm, 40100);
}

TEST_F(PortmapLab, NatPmpMapsReachesRenewsRemoves) {
    router("natpmp");  // UPnP off on the router: discovery falls through to NAT-PMP
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    DiscoverOptions o;
    o.timeout = 1500ms;
    auto pm = PortMapper::discover("labnode", o);
    ASSERT_TRUE(pm) << pm.error().message();
    ASSERT_EQ(pm->gateway().method, Method::natpmp) << "UPnP is off on the router";
    EXPECT_EQ(pm->gateway().address, "192.168.77.1");
    EXPECT_EQ(pm->gateway().local_address, kHome);
    EXPECT_EQ(pm->gateway().external_address, kRouterWan);
    map_reach_renew_unmap(*pm, 40200);
    EXPECT_EQ(pm->remove_stale().error().code(), Errc::unsupported);
}

TEST_F(PortmapLab, RestartedNodeRemovesWhatItsPredecessorLeft) {
    router("upnp+natpmp");
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    DiscoverOptions o;
    o.timeout = 1500ms;
    o.natpmp = false;
    {
        // The "crashed" node: maps two ports and never unmaps them.
        auto before = PortMapper::discover("labnode", o);
        ASSERT_TRUE(before) << before.error().message();
        ASSERT_TRUE(before->map({Protocol::tcp, 40301, 0, 600s, "transfer"}));
        ASSERT_TRUE(before->map({Protocol::udp, 40302, 0, 600s, "log"}));
    }
    // Another program's mapping on the same router, which must survive.
    auto other = PortMapper::discover("othernode", o);
    ASSERT_TRUE(other) << other.error().message();
    auto foreign = other->map({Protocol::tcp, 40303, 0, 600s, "service"});
    ASSERT_TRUE(foreign) << foreign.error().message();

    auto after = PortMapper::discover("labnode", o);
    ASSERT_TRUE(after) << after.error().message();
    auto fresh = after->map({Protocol::tcp, 40304, 0, 600s, "transfer"});
    ASSERT_TRUE(fresh) << fresh.error().message();
    const std::vector<Mapping> keep{*fresh};
    auto removed = after->remove_stale(keep);
    ASSERT_TRUE(removed) << removed.error().message();
    EXPECT_EQ(removed->size(), 2U);
    auto own = after->list_own();
    ASSERT_TRUE(own) << own.error().message();
    ASSERT_EQ(own->size(), 1U);
    EXPECT_EQ(own->front().external_port, 40304);
    auto theirs = other->list_own();
    ASSERT_TRUE(theirs) << theirs.error().message();
    EXPECT_EQ(theirs->size(), 1U);
    EXPECT_TRUE(after->unmap(*fresh));
    EXPECT_TRUE(other->unmap(*foreign));
}

TEST_F(PortmapLab, PcpMapsReachesRenewsRemoves) {
    router("natpmp");  // miniupnpd's enable_natpmp answers NAT-PMP and PCP on 5351
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    DiscoverOptions o;
    o.timeout = 1500ms;
    o.upnp = false;
    o.natpmp = false;  // our own RFC 6887 client only
    auto pm = PortMapper::discover("labnode", o);
    ASSERT_TRUE(pm) << pm.error().message();
    ASSERT_EQ(pm->gateway().method, Method::pcp);
    EXPECT_EQ(pm->gateway().address, "192.168.77.1");
    EXPECT_EQ(pm->gateway().local_address, kHome);
    EXPECT_EQ(pm->gateway().external_address, kRouterWan);
    map_reach_renew_unmap(*pm, 40300);
    EXPECT_EQ(pm->remove_stale().error().code(), Errc::unsupported);

    // A restarted node deletes what its predecessor mapped: same tag, same nonce.
    auto m = pm->map({Protocol::tcp, 40301, 0, 120s, "log"});
    ASSERT_TRUE(m) << m.error().message();
    auto again = PortMapper::discover("labnode", o);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(again->unmap(*m)) << "the gateway refused to delete a mapping of the same tag";
}

TEST_F(PortmapLab, NoMappingPossibleSaysWhy) {
    router("none");  // a router without UPnP IGD and NAT-PMP
    InNamespace home{"home"};
    ASSERT_TRUE(home.ok());
    DiscoverOptions o;
    o.timeout = 1000ms;
    auto pm = PortMapper::discover("labnode", o);
    ASSERT_FALSE(pm);
    EXPECT_EQ(pm.error().code(), Errc::no_gateway) << pm.error().message();
    EXPECT_NE(pm.error().message().find("UPnP IGD"), std::string::npos) << pm.error().message();
    EXPECT_NE(pm.error().message().find("NAT-PMP"), std::string::npos) << pm.error().message();

    // `zeppelin net check` on the worker's host says so, and fails.
    const auto check = cli_on("home", "net check --json --timeout-ms 1000");
    EXPECT_EQ(check.status, 1) << check.out;
    const auto j = json_of(check);
    EXPECT_EQ(j.value("mapping_possible", true), false) << check.out;
    EXPECT_EQ(j.value("error", ""), "no port-mapping gateway") << check.out;
    EXPECT_NE(j.value("advice", "").find("--public-host"), std::string::npos) << check.out;
    router("upnp+natpmp");
}

TEST_F(PortmapLab, NetCheckCliReportsTheGateway) {
    router("upnp+natpmp");
    const auto check = cli_on("home", "net check --json --timeout-ms 1500");
    ASSERT_EQ(check.status, 0) << check.out;
    const auto j = json_of(check);
    EXPECT_EQ(j["gateway"].value("protocol", ""), "UPnP IGD") << check.out;
    EXPECT_EQ(j["gateway"].value("external_address", ""), kRouterWan) << check.out;
    EXPECT_EQ(j["gateway"].value("local_address", ""), kHome) << check.out;
    EXPECT_EQ(j.value("mapping_possible", false), true) << check.out;
    EXPECT_EQ(j["test_mapping"].value("removed", false), true) << check.out;

    // The words a person reads, through NAT-PMP this time.
    const auto text = cli_on("home", "net check --no-upnp --timeout-ms 1500");
    ASSERT_EQ(text.status, 0) << text.out;
    EXPECT_NE(text.out.find("gateway: NAT-PMP at 192.168.77.1"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("external address: 198.51.100.1"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("removed again"), std::string::npos) << text.out;

    // The worker on its own host: no gateway, but a public address, so no mapping is needed.
    const auto own = cli_on("worker", "net check --json --timeout-ms 500");
    ASSERT_EQ(own.status, 0) << own.out;
    const auto o = json_of(own);
    EXPECT_EQ(o.value("mapping_possible", true), false) << own.out;
    EXPECT_EQ(o["public_addresses"], nlohmann::json::array({"198.51.100.40"})) << own.out;
}

TEST_F(PortmapLab, DevnetOnTheChainHostServesOtherHosts) {
    // `zeppelin devnet up --host` on the chain's host, mining every 2 s like an L2; the client's
    // host reaches its RPC across the lab's public segment.
    const std::string env = std::string{"ZEPPELIN_HOME="} + kRunDir + "/chain-home ZEPPELIN_DEPLOYMENT=";
    const auto up = cli_on("chain", "devnet up --host 198.51.100.10 --port 8545 --block-time 2 --json", env);
    ASSERT_EQ(up.status, 0) << up.out;
    const auto j = json_of(up);
    EXPECT_EQ(j.value("rpc_url", ""), "http://198.51.100.10:8545") << up.out;
    EXPECT_EQ(j.value("block_time", 0), 2) << up.out;
    EXPECT_TRUE(j.contains("dispatcher")) << up.out;

    const auto rpc = on_host("client", "curl -s -m 3 -H 'content-type: application/json' --data "
                                       "'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[]}' "
                                       "http://198.51.100.10:8545");
    EXPECT_NE(rpc.out.find("0x7a69"), std::string::npos) << "client host -> chain host RPC: " << rpc.out;

    const auto down = cli_on("chain", "devnet down", env);
    EXPECT_EQ(down.status, 0) << down.out;
}

}  // namespace
}  // namespace zeppelin::portmap
