// The pure parts of a worker's reachability: its options, drawing service ports from a range,
// whether to map at all, and the mappings' life (stale removal, renewal timing, persistence)
// over a fake gateway. The real router is tested in tests/netlab.
#include "zeppelin/node/reachability.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace zeppelin::node {
namespace {

using namespace std::chrono_literals;
using portmap::Mapping;
using portmap::Method;
using portmap::Protocol;

TEST(ReachabilityOptions, PortMappingModes) {
    EXPECT_EQ(parse_port_mapping("auto"), PortMapping::automatic);
    EXPECT_EQ(parse_port_mapping("upnp"), PortMapping::upnp);
    EXPECT_EQ(parse_port_mapping("natpmp"), PortMapping::natpmp);
    EXPECT_EQ(parse_port_mapping("off"), PortMapping::off);
    EXPECT_EQ(parse_port_mapping("pcp"), PortMapping::pcp);
    EXPECT_FALSE(parse_port_mapping("pmp"));
    EXPECT_FALSE(parse_port_mapping(""));
    for (auto m : {PortMapping::automatic, PortMapping::upnp, PortMapping::natpmp, PortMapping::pcp, PortMapping::off})
        EXPECT_EQ(parse_port_mapping(to_string(m)), m);
}

TEST(ReachabilityOptions, PortRanges) {
    EXPECT_EQ(parse_port_range("40000-40100").value(), (PortRange{40000, 40100}));
    EXPECT_EQ(parse_port_range("40000-40100")->size(), 101U);
    EXPECT_EQ(parse_port_range("8080").value(), (PortRange{8080, 8080}));
    EXPECT_EQ(parse_port_range("1-65535")->size(), 65535U);
    for (const auto* bad : {"", "-", "40100-40000", "0-10", "1-65536", "abc", "40000-", "-40000", "40000-40100x", " 1-2"}) {
        auto r = parse_port_range(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << bad;
    }
}

TEST(ReachabilityOptions, DrawsFromTheRangeRoundFromTheStart) {
    const PortRange r{40000, 40004};
    EXPECT_EQ(draw_port(r, 0, [](std::uint16_t) { return true; }), 40000);
    EXPECT_EQ(draw_port(r, 3, [](std::uint16_t) { return true; }), 40003);
    EXPECT_EQ(draw_port(r, 7, [](std::uint16_t) { return true; }), 40002);  // 7 mod 5
    // Taken ports are skipped, going round past the end.
    const std::set<std::uint16_t> taken{40003, 40004};
    EXPECT_EQ(draw_port(r, 3, [&](std::uint16_t p) { return taken.count(p) == 0; }), 40000);
    // Every port is tried once, none twice; none usable: nothing.
    std::map<std::uint16_t, int> tried;
    EXPECT_FALSE(draw_port(r, 12345, [&](std::uint16_t p) {
        ++tried[p];
        return false;
    }));
    EXPECT_EQ(tried.size(), 5U);
    for (const auto& [p, n] : tried) {
        EXPECT_GE(p, 40000);
        EXPECT_LE(p, 40004);
        EXPECT_EQ(n, 1);
    }
}

TEST(ReachabilityOptions, DevnetDefaultsDoNotMap) {
    NodeOptions o;  // everything on 127.0.0.1
    auto p = plan_mapping(o);
    EXPECT_FALSE(p.map);
    EXPECT_EQ(p.otherwise, ReachState::local);
    EXPECT_NE(p.reason.find("loopback"), std::string::npos) << p.reason;

    // A worker listening on its LAN: mapped, through both protocols.
    o.transfer_host = "0.0.0.0";
    o.service_ip = "0.0.0.0";
    p = plan_mapping(o);
    EXPECT_TRUE(p.map);
    EXPECT_TRUE(p.discover.upnp);
    EXPECT_TRUE(p.discover.natpmp);
    EXPECT_TRUE(p.discover.pcp);

    // --public-host given: manual forwarding, unless a protocol is asked for by name.
    o.public_host = "203.0.113.7";
    o.public_host_given = true;
    p = plan_mapping(o);
    EXPECT_FALSE(p.map);
    EXPECT_EQ(p.otherwise, ReachState::manual);
    EXPECT_NE(p.reason.find("--public-host 203.0.113.7"), std::string::npos) << p.reason;
    o.port_mapping = PortMapping::natpmp;
    p = plan_mapping(o);
    EXPECT_TRUE(p.map);
    EXPECT_FALSE(p.discover.upnp);
    EXPECT_TRUE(p.discover.natpmp);
    EXPECT_FALSE(p.discover.pcp);
    o.port_mapping = PortMapping::upnp;
    p = plan_mapping(o);
    EXPECT_TRUE(p.discover.upnp);
    EXPECT_FALSE(p.discover.natpmp);
    EXPECT_FALSE(p.discover.pcp);
    o.port_mapping = PortMapping::pcp;
    p = plan_mapping(o);
    EXPECT_TRUE(p.map);
    EXPECT_FALSE(p.discover.upnp);
    EXPECT_FALSE(p.discover.natpmp);
    EXPECT_TRUE(p.discover.pcp);

    o.port_mapping = PortMapping::off;
    o.public_host_given = false;
    p = plan_mapping(o);
    EXPECT_FALSE(p.map);
    EXPECT_EQ(p.otherwise, ReachState::off);
}

// ---- mappings over a fake gateway

struct FakeRouter {
    portmap::Gateway gw{Method::upnp_igd, "192.168.77.1", "192.168.77.10", "198.51.100.1", "fake"};
    std::map<std::pair<Protocol, std::uint16_t>, Mapping> table;
    int adds{0};
    int removes{0};
    bool fail_add{false};
    std::optional<std::uint16_t> move_to;  // the router "lost" the mapping: next add grants this port
};

class FakeBackend final : public portmap::Backend {
public:
    explicit FakeBackend(FakeRouter& r) : r_{r} {}
    [[nodiscard]] const portmap::Gateway& gateway() const override { return r_.gw; }
    Result<std::string> external_address() override {
        if (r_.gw.external_address.empty()) return make_error(Errc::timeout, "the router did not answer");
        return r_.gw.external_address;
    }
    Result<Mapping> add(const portmap::MappingRequest& q, const std::string& description) override {
        ++r_.adds;
        if (r_.fail_add) return make_error(Errc::timeout, "the router did not answer");
        std::uint16_t port = q.external_port != 0 ? q.external_port : q.internal_port;
        if (r_.move_to) {  // the old mapping is gone (a rebooted router), another port is granted
            r_.table.erase({q.protocol, port});
            port = *std::exchange(r_.move_to, std::nullopt);
        }
        Mapping m{r_.gw.method, q.protocol, r_.gw.local_address, q.internal_port, r_.gw.external_address, port, q.lease, description};
        r_.table[{m.protocol, m.external_port}] = m;
        return m;
    }
    Result<void> remove(const Mapping& m) override {
        ++r_.removes;
        r_.table.erase({m.protocol, m.external_port});
        return {};
    }
    Result<std::vector<Mapping>> list() override {
        if (r_.gw.method != Method::upnp_igd) return make_error(Errc::unsupported, "NAT-PMP and PCP cannot list");
        std::vector<Mapping> v;
        for (const auto& [k, m] : r_.table) v.push_back(m);
        return v;
    }

private:
    FakeRouter& r_;
};

constexpr const char* kNode = "f39fd6e51aad88f6-0a1b2c3d";

struct Saved {
    std::optional<std::string> text;
    Reachability::Persist persist() {
        return {[this] { return text; }, [this](const std::string& t) { text = t; }};
    }
};

TEST(Reachability, RemovesWhatAPredecessorLeftAndOnlyThat) {
    FakeRouter router;
    {
        portmap::PortMapper crashed{kNode, std::make_unique<FakeBackend>(router)};
        ASSERT_TRUE(crashed.map({Protocol::tcp, 40001, 0, 600s, "transfer"}));
        ASSERT_TRUE(crashed.map({Protocol::tcp, 40002, 0, 600s, "svc-7"}));
        portmap::PortMapper other{"someone-else", std::make_unique<FakeBackend>(router)};
        ASSERT_TRUE(other.map({Protocol::tcp, 40003, 0, 600s, "transfer"}));
    }
    Saved saved;
    Reachability r{kNode, 100s, saved.persist()};
    EXPECT_EQ(r.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)}), 2U);
    ASSERT_EQ(router.table.size(), 1U);
    EXPECT_EQ(router.table.begin()->second.external_port, 40003);
    EXPECT_EQ(saved.text, "[]");
}

TEST(Reachability, NatPmpAndPcpMappingsAreRememberedAndRemovedAfterACrash) {
  for (const auto method : {Method::natpmp, Method::pcp}) {
    SCOPED_TRACE(std::string{portmap::to_string(method)});
    FakeRouter router;
    router.gw.method = method;
    Saved saved;
    {
        Reachability before{kNode, 100s, saved.persist()};
        before.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)});
        ASSERT_TRUE(before.map("transfer", 40001, Reachability::Clock::now()));
        ASSERT_TRUE(before.map("log", 40002, Reachability::Clock::now()));
        // ...and the process dies: nothing unmapped.
    }
    ASSERT_EQ(router.table.size(), 2U);
    ASSERT_TRUE(saved.text);
    EXPECT_NE(saved.text->find("\"external_port\":40002"), std::string::npos) << *saved.text;
    Reachability after{kNode, 100s, saved.persist()};
    EXPECT_EQ(after.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)}), 2U);
    EXPECT_TRUE(router.table.empty());
    EXPECT_EQ(saved.text, "[]");
  }
}

TEST(Reachability, RenewsHalfwayRetriesFailuresAndFollowsAMovedPort) {
    FakeRouter router;
    Saved saved;
    Reachability r{kNode, 100s, saved.persist()};
    r.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)});
    const auto t0 = Reachability::Clock::time_point{} + 1000s;
    auto m = r.map("transfer", 40001, t0);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->external_port, 40001);
    EXPECT_EQ(r.next_due(), t0 + 50s);
    // The same port again: the mapping held, no second request.
    const int adds = router.adds;
    ASSERT_TRUE(r.map("transfer", 40001, t0 + 1s));
    EXPECT_EQ(router.adds, adds);

    EXPECT_TRUE(r.renew_due(t0 + 49s).empty());
    EXPECT_EQ(router.adds, adds) << "renewed before half the lease";
    EXPECT_TRUE(r.renew_due(t0 + 50s).empty());
    EXPECT_EQ(router.adds, adds + 1);
    EXPECT_EQ(r.next_due(), t0 + 100s);

    // The router stops answering: tried again an eighth of the lease later, not at every call.
    router.fail_add = true;
    EXPECT_TRUE(r.renew_due(t0 + 100s).empty());
    EXPECT_EQ(router.adds, adds + 2);
    EXPECT_EQ(r.next_due(), t0 + 112s);
    EXPECT_TRUE(r.renew_due(t0 + 105s).empty());
    EXPECT_EQ(router.adds, adds + 2);
    EXPECT_EQ(r.view()["mappings"][0].value("renewal_failing", false), true);

    // It answers again, having lost the mapping: the new external port is reported and kept.
    router.fail_add = false;
    router.move_to = 41001;
    const auto changed = r.renew_due(t0 + 112s);
    ASSERT_EQ(changed, std::vector<std::string>{"transfer"});
    EXPECT_EQ(r.mapping("transfer")->external_port, 41001);
    EXPECT_EQ(r.next_due(), t0 + 162s);
    EXPECT_NE(saved.text->find("41001"), std::string::npos);
    EXPECT_FALSE(r.view()["mappings"][0].contains("renewal_failing"));

    // Another internal port for the purpose replaces the mapping; unmap_all leaves nothing.
    ASSERT_TRUE(r.map("transfer", 40005, t0 + 120s));
    EXPECT_EQ(router.table.size(), 1U);
    ASSERT_TRUE(r.map("svc-3", 40006, t0 + 120s));
    r.unmap_all();
    EXPECT_TRUE(router.table.empty());
    EXPECT_FALSE(r.next_due());
    EXPECT_EQ(saved.text, "[]");
}

TEST(ReachabilityExternal, JudgesTheGatewaysAnswer) {
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"198.51.100.1"}), ExternalChange::same);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"198.51.100.2"}), ExternalChange::changed);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"203.0.113.9"}), ExternalChange::changed);
    // Behind another NAT now: RFC 1918 and RFC 6598 (carrier-grade NAT) addresses.
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"10.1.2.3"}), ExternalChange::now_private);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"100.64.0.7"}), ExternalChange::now_private);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"192.168.1.1"}), ExternalChange::now_private);
    // No answer, or one that is no IPv4 address: nothing to announce, keep what is held.
    EXPECT_EQ(judge_external("198.51.100.1", make_error(Errc::timeout, "no answer")), ExternalChange::no_answer);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{""}), ExternalChange::no_answer);
    EXPECT_EQ(judge_external("198.51.100.1", std::string{"2001:db8::1"}), ExternalChange::no_answer);
}

TEST(ReachabilityExternal, ANewAddressIsMappedAgainAnnouncedAndSaidInWords) {
    FakeRouter router;
    Saved saved;
    Reachability r{kNode, 100s, saved.persist()};
    r.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)});
    const auto t0 = Reachability::Clock::time_point{} + 1000s;
    ASSERT_TRUE(r.map("transfer", 40001, t0));
    ASSERT_TRUE(r.map("log", 40002, t0));
    r.set_state(ReachState::mapped, "ports mapped on the router 192.168.77.1 (UPnP IGD): parties reach this node at 198.51.100.1",
                "198.51.100.1");

    // Unchanged: nothing asked of the router but its address.
    const int adds = router.adds;
    auto c = r.check_external(t0 + 5s);
    EXPECT_EQ(c.change, ExternalChange::same);
    EXPECT_EQ(router.adds, adds);

    // The router got a new address: both mappings made again, with it; announced; said.
    router.gw.external_address = "198.51.100.2";
    c = r.check_external(t0 + 10s);
    EXPECT_EQ(c.change, ExternalChange::changed);
    EXPECT_EQ(c.before, "198.51.100.1");
    EXPECT_EQ(c.after, "198.51.100.2");
    EXPECT_EQ(router.adds, adds + 2);
    EXPECT_EQ(r.mapping("transfer")->external_address, "198.51.100.2");
    EXPECT_EQ(r.mapping("log")->external_address, "198.51.100.2");
    EXPECT_EQ(r.announced_host(), "198.51.100.2");
    EXPECT_EQ(r.state(), ReachState::mapped);
    EXPECT_NE(r.reason().find("reach this node at 198.51.100.2 (the router's external address changed from 198.51.100.1)"),
              std::string::npos) << r.reason();
    EXPECT_NE(c.detail.find("2 of 2 mapping(s) made again; new agreements are told 198.51.100.2"), std::string::npos) << c.detail;
    EXPECT_NE(saved.text->find("198.51.100.2"), std::string::npos);
    // The leases start again from the new mapping.
    EXPECT_EQ(r.next_due(), t0 + 60s);
    EXPECT_EQ(r.view()["gateway"]["external_address"], "198.51.100.2");

    // A renewal asks first: a change between checks is found when the leases are due.
    router.gw.external_address = "198.51.100.3";
    const auto changed = r.renew_due(t0 + 60s);
    EXPECT_EQ(changed, (std::vector<std::string>{"log", "transfer"}));
    EXPECT_EQ(r.mapping("transfer")->external_address, "198.51.100.3");
    EXPECT_EQ(r.announced_host(), "198.51.100.3");
    EXPECT_EQ(r.next_due(), t0 + 110s) << "renewed once, not again in the same call";

    // The router stops answering: nothing changes.
    router.gw.external_address = "";
    c = r.check_external(t0 + 70s);
    EXPECT_EQ(c.change, ExternalChange::no_answer);
    EXPECT_EQ(r.announced_host(), "198.51.100.3");

    // Behind another NAT now: unreachable, and why.
    router.gw.external_address = "100.64.3.4";
    c = r.check_external(t0 + 80s);
    EXPECT_EQ(c.change, ExternalChange::now_private);
    EXPECT_EQ(r.state(), ReachState::unreachable);
    EXPECT_NE(r.reason().find("changed from 198.51.100.3 to 100.64.3.4, a private address"), std::string::npos) << r.reason();
}

TEST(ReachabilityExternal, APublicHostGivenStaysWhatIsAnnounced) {
    FakeRouter router;
    Reachability r{kNode, 100s, {}};
    r.attach(portmap::PortMapper{kNode, std::make_unique<FakeBackend>(router)});
    ASSERT_TRUE(r.map("transfer", 40001, Reachability::Clock::now()));
    r.set_state(ReachState::mapped, "mapped; parties reach this node at zeppelin.example.org", "zeppelin.example.org");
    router.gw.external_address = "198.51.100.2";
    const auto c = r.check_external(Reachability::Clock::now());
    EXPECT_EQ(c.change, ExternalChange::changed);
    EXPECT_EQ(r.mapping("transfer")->external_address, "198.51.100.2");
    EXPECT_EQ(r.announced_host(), "zeppelin.example.org");
    EXPECT_NE(c.detail.find("still told zeppelin.example.org (--public-host)"), std::string::npos) << c.detail;
}

TEST(Reachability, NoGatewayMapsNothingAndSaysWhy) {
    Reachability r{kNode, 100s, {}};
    auto m = r.map("transfer", 40001, Reachability::Clock::now());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Errc::no_gateway);
    r.set_state(ReachState::unreachable, "nobody can reach this worker: no port-mapping gateway", "127.0.0.1");
    const auto v = r.view();
    EXPECT_EQ(v["state"], "unreachable");
    EXPECT_EQ(v["reachable"], false);
    EXPECT_EQ(v["reason"], "nobody can reach this worker: no port-mapping gateway");
    EXPECT_FALSE(v.contains("gateway"));
}

}  // namespace
}  // namespace zeppelin::node
