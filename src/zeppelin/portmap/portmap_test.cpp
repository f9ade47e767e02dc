// Unit tests of the port-mapping logic: tags, address classes, lease timing, discovery order and
// its errors, stale-mapping removal — over a fake gateway. The real routers (miniupnpd through
// libminiupnpc and libnatpmp) are exercised by tests/netlab/portmap_lab_test.cpp.
#include <miniupnpc/upnpcommands.h>
#include <natpmp.h>

#include <gtest/gtest.h>

#include <map>

#include "zeppelin/portmap/detail.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::portmap {
namespace {

using namespace std::chrono_literals;

TEST(PortmapTag, RoundTrips) {
    const auto d = make_description("0x1234abcd", "transfer");
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(*d, "zeppelin/0x1234abcd/transfer");
    EXPECT_EQ(parse_description(*d), (Tag{"0x1234abcd", "transfer"}));
}

TEST(PortmapTag, RefusesBadParts) {
    EXPECT_EQ(make_description("", "x").error().code(), Errc::invalid_argument);
    EXPECT_EQ(make_description("node", "").error().code(), Errc::invalid_argument);
    EXPECT_EQ(make_description("no de", "x").error().code(), Errc::invalid_argument);
    EXPECT_EQ(make_description("node", "a/b").error().code(), Errc::invalid_argument);
    const std::string long_id(60, 'a');
    EXPECT_EQ(make_description(long_id, "transfer").error().code(), Errc::invalid_argument);
}

TEST(PortmapTag, IgnoresForeignDescriptions) {
    EXPECT_FALSE(parse_description("Skype UDP at 192.168.1.5:3333"));
    EXPECT_FALSE(parse_description("zeppelin/"));
    EXPECT_FALSE(parse_description("zeppelin/node"));
    EXPECT_FALSE(parse_description("zeppelin//x"));
    EXPECT_FALSE(parse_description("zeppelin/node/"));
    EXPECT_FALSE(parse_description("zeppelin/no de/x"));
    EXPECT_FALSE(parse_description("NAT-PMP 40000 tcp"));  // what miniupnpd calls NAT-PMP mappings
}

TEST(PortmapAddress, PrivateRanges) {
    for (const char* a : {"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254",
                          "127.0.0.1", "169.254.1.1", "0.0.0.0"})
        EXPECT_EQ(is_private_ipv4(a), true) << a;
    for (const char* a : {"8.8.8.8", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "192.169.0.1",
                          "198.51.100.1", "203.0.113.7", "11.0.0.1"})
        EXPECT_EQ(is_private_ipv4(a), false) << a;
    for (const char* a : {"", "1.2.3", "256.1.1.1", "::1", "example.org", "1.2.3.4 ", "01234567890123456789"})
        EXPECT_FALSE(is_private_ipv4(a).has_value()) << a;
}

TEST(PortmapLease, RenewsHalfway) {
    EXPECT_EQ(renew_after(3600s), 1800s);
    EXPECT_EQ(renew_after(1s), 1s);
    EXPECT_EQ(renew_after(0s), std::nullopt);  // permanent
}

TEST(PortmapDetail, UrlHost) {
    EXPECT_EQ(detail::url_host("http://192.168.77.1:5000/ctl/IPConn"), "192.168.77.1");
    EXPECT_EQ(detail::url_host("http://router.lan/ctl"), "router.lan");
    EXPECT_EQ(detail::url_host("http://[fe80::1]:5000/x"), "fe80::1");
    EXPECT_EQ(detail::url_host(""), "");
}

TEST(PortmapDetail, Numbers) {
    EXPECT_EQ(detail::parse_port("40000"), 40000);
    EXPECT_EQ(detail::parse_port("65535"), 65535);
    EXPECT_FALSE(detail::parse_port("0"));
    EXPECT_FALSE(detail::parse_port("65536"));
    EXPECT_FALSE(detail::parse_port(""));
    EXPECT_FALSE(detail::parse_port("12a"));
    EXPECT_EQ(detail::parse_lease("0"), 0U);
    EXPECT_EQ(detail::parse_lease("604800"), 604800U);
    EXPECT_FALSE(detail::parse_lease("-1"));
    EXPECT_FALSE(detail::parse_lease("4294967296"));
}

TEST(PortmapDetail, ErrorCategories) {
    EXPECT_EQ(detail::upnp_errc(718), Errc::mapping_refused);  // ConflictInMappingEntry
    EXPECT_EQ(detail::upnp_errc(606), Errc::mapping_refused);
    EXPECT_EQ(detail::upnp_errc(714), Errc::not_found);
    EXPECT_EQ(detail::upnp_errc(UPNPCOMMAND_HTTP_ERROR), Errc::io);
    EXPECT_EQ(detail::upnp_errc(UPNPCOMMAND_INVALID_RESPONSE), Errc::protocol);
    const auto e = detail::upnp_error(718, "mapping TCP 1.2.3.4:40000 -> 192.168.1.2:40000");
    EXPECT_NE(e.message().find("ConflictInMappingEntry"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("718"), std::string::npos) << e.message();

    EXPECT_EQ(detail::natpmp_errc(NATPMP_ERR_NOGATEWAYSUPPORT), Errc::no_gateway);
    EXPECT_EQ(detail::natpmp_errc(NATPMP_ERR_CANNOTGETGATEWAY), Errc::no_gateway);
    EXPECT_EQ(detail::natpmp_errc(NATPMP_ERR_NOTAUTHORIZED), Errc::mapping_refused);
    EXPECT_EQ(detail::natpmp_errc(NATPMP_ERR_OUTOFRESOURCES), Errc::mapping_refused);
    EXPECT_EQ(detail::natpmp_errc(NATPMP_ERR_RECVFROM), Errc::io);
    const auto n = detail::natpmp_error(NATPMP_ERR_NOTAUTHORIZED, "mapping TCP 40000");
    EXPECT_NE(n.message().find("not authorized"), std::string::npos) << n.message();
}

// ---- a fake gateway ------------------------------------------------------------------------------

struct FakeGateway {
    Gateway gw;
    std::map<std::pair<Protocol, std::uint16_t>, Mapping> table;  // by (protocol, external port)
    std::optional<Error> fail_add;
    bool can_list{true};
    int adds{0};
};

class FakeBackend final : public Backend {
public:
    explicit FakeBackend(FakeGateway& g) : g_{g} {}
    [[nodiscard]] const Gateway& gateway() const override { return g_.gw; }
    Result<std::string> external_address() override { return g_.gw.external_address; }
    Result<Mapping> add(const MappingRequest& r, const std::string& description) override {
        ++g_.adds;
        if (g_.fail_add) return *g_.fail_add;
        Mapping m{g_.gw.method, r.protocol, g_.gw.local_address, r.internal_port, g_.gw.external_address,
                  r.external_port != 0 ? r.external_port : r.internal_port, r.lease, description};
        g_.table[{m.protocol, m.external_port}] = m;
        return m;
    }
    Result<void> remove(const Mapping& m) override {
        g_.table.erase({m.protocol, m.external_port});
        return {};
    }
    Result<std::vector<Mapping>> list() override {
        if (!g_.can_list) return make_error(Errc::unsupported, "cannot list");
        std::vector<Mapping> v;
        for (const auto& [k, m] : g_.table) v.push_back(m);
        return v;
    }

private:
    FakeGateway& g_;
};

FakeGateway home_router(Method m = Method::upnp_igd, std::string ext = "198.51.100.1") {
    FakeGateway g;
    g.gw = Gateway{m, "192.168.77.1", "192.168.77.10", std::move(ext), "fake"};
    return g;
}

Probe probe_of(FakeGateway& g) {
    return [&g]() -> Result<std::unique_ptr<Backend>> { return std::unique_ptr<Backend>{std::make_unique<FakeBackend>(g)}; };
}
Probe failing(Errc code, std::string message) {
    return [=]() -> Result<std::unique_ptr<Backend>> { return make_error(code, message); };
}

TEST(PortmapDiscover, TakesTheFirstUsableGateway) {
    auto natpmp = home_router(Method::natpmp);
    const std::vector<Probe> probes{failing(Errc::no_gateway, "UPnP IGD: no device answered SSDP within 2000 ms"),
                                    probe_of(natpmp)};
    auto pm = PortMapper::discover_with("node1", probes, false);
    ASSERT_TRUE(pm) << pm.error().message();
    EXPECT_EQ(pm->gateway().method, Method::natpmp);
    EXPECT_EQ(pm->gateway().external_address, "198.51.100.1");
}

TEST(PortmapDiscover, NothingAnswersIsNoGatewayWithEveryReason) {
    const std::vector<Probe> probes{failing(Errc::no_gateway, "UPnP IGD: no device answered SSDP within 2000 ms"),
                                    failing(Errc::no_gateway, "NAT-PMP: gateway 192.168.77.1 did not answer within 2000 ms")};
    auto pm = PortMapper::discover_with("node1", probes, false);
    ASSERT_FALSE(pm);
    EXPECT_EQ(pm.error().code(), Errc::no_gateway);
    EXPECT_NE(pm.error().message().find("SSDP"), std::string::npos) << pm.error().message();
    EXPECT_NE(pm.error().message().find("NAT-PMP"), std::string::npos) << pm.error().message();
}

TEST(PortmapDiscover, PrivateExternalAddressIsDoubleNat) {
    auto upnp = home_router(Method::upnp_igd, "10.0.0.2");
    const std::vector<Probe> probes{probe_of(upnp),
                                    failing(Errc::no_gateway, "NAT-PMP: gateway 192.168.77.1 did not answer within 2000 ms")};
    auto pm = PortMapper::discover_with("node1", probes, false);
    ASSERT_FALSE(pm);
    EXPECT_EQ(pm.error().code(), Errc::double_nat);
    EXPECT_NE(pm.error().message().find("10.0.0.2"), std::string::npos) << pm.error().message();
    // ...unless the caller says a private external address is what it wants (a LAN-only setup).
    auto allowed = PortMapper::discover_with("node1", probes, true);
    ASSERT_TRUE(allowed) << allowed.error().message();
    EXPECT_EQ(allowed->gateway().external_address, "10.0.0.2");
}

TEST(PortmapDiscover, DoubleNatOnUpnpFallsBackToNatpmp) {
    auto upnp = home_router(Method::upnp_igd, "100.64.1.2");
    auto natpmp = home_router(Method::natpmp, "198.51.100.1");
    const std::vector<Probe> probes{probe_of(upnp), probe_of(natpmp)};
    auto pm = PortMapper::discover_with("node1", probes, false);
    ASSERT_TRUE(pm) << pm.error().message();
    EXPECT_EQ(pm->gateway().method, Method::natpmp);
}

TEST(PortmapDiscover, AGatewayErrorIsNotNoGateway) {
    const std::vector<Probe> probes{failing(Errc::protocol, "UPnP IGD: the gateway's description names no WAN connection service")};
    auto pm = PortMapper::discover_with("node1", probes, false);
    ASSERT_FALSE(pm);
    EXPECT_EQ(pm.error().code(), Errc::protocol);
}

TEST(PortmapDiscover, RefusesABadNodeId) {
    auto g = home_router();
    const std::vector<Probe> probes{probe_of(g)};
    EXPECT_EQ(PortMapper::discover_with("", probes, false).error().code(), Errc::invalid_argument);
    EXPECT_EQ(PortMapper::discover_with("a b", probes, false).error().code(), Errc::invalid_argument);
    EXPECT_EQ(PortMapper::discover_with(std::string(33, 'n'), probes, false).error().code(), Errc::invalid_argument);
}

TEST(PortmapMapper, MapsRenewsUnmaps) {
    auto g = home_router();
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    auto m = pm.map({Protocol::tcp, 40000, 0, 600s, "transfer"});
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->external_port, 40000);
    EXPECT_EQ(m->description, "zeppelin/node1/transfer");
    EXPECT_EQ(m->lease, 600s);
    auto r = pm.renew(*m);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(g.adds, 2);
    EXPECT_EQ(r->external_port, 40000);
    EXPECT_EQ(r->lease, 600s);
    ASSERT_TRUE(pm.unmap(*r));
    EXPECT_TRUE(g.table.empty());
}

TEST(PortmapMapper, RefusesBadRequestsWithoutAskingTheGateway) {
    auto g = home_router();
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    EXPECT_EQ(pm.map({Protocol::tcp, 0, 0, 600s, "transfer"}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(pm.map({Protocol::tcp, 40000, 0, -1s, "transfer"}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(pm.map({Protocol::tcp, 40000, 0, 600s, "bad purpose"}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(g.adds, 0);
}

TEST(PortmapMapper, GatewayRefusalReachesTheCaller) {
    auto g = home_router();
    g.fail_add = make_error(Errc::mapping_refused, "UPnP IGD: ConflictInMappingEntry (718)");
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    auto m = pm.map({Protocol::tcp, 40000, 0, 600s, "transfer"});
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Errc::mapping_refused);
}

TEST(PortmapMapper, RenewRefusesAnotherNodesMapping) {
    auto g = home_router();
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    Mapping other{Method::upnp_igd, Protocol::tcp, "192.168.77.11", 40001, "198.51.100.1", 40001, 600s, "zeppelin/node2/log"};
    EXPECT_EQ(pm.renew(other).error().code(), Errc::invalid_argument);
}

TEST(PortmapMapper, RemoveStaleTakesOnlyOwnMappingsNotKept) {
    auto g = home_router();
    const Mapping foreign{Method::upnp_igd, Protocol::udp, "192.168.77.20", 3333, "198.51.100.1", 3333, 0s, "Skype UDP"};
    const Mapping other_node{Method::upnp_igd, Protocol::tcp, "192.168.77.11", 40001, "198.51.100.1", 40001, 600s,
                             "zeppelin/node2/transfer"};
    const Mapping crashed{Method::upnp_igd, Protocol::tcp, "192.168.77.10", 40002, "198.51.100.1", 40002, 500s,
                          "zeppelin/node1/transfer"};
    g.table[{foreign.protocol, foreign.external_port}] = foreign;
    g.table[{other_node.protocol, other_node.external_port}] = other_node;
    g.table[{crashed.protocol, crashed.external_port}] = crashed;
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    auto fresh = pm.map({Protocol::tcp, 40003, 0, 600s, "log"});
    ASSERT_TRUE(fresh);

    auto own = pm.list_own();
    ASSERT_TRUE(own);
    EXPECT_EQ(own->size(), 2U);

    const std::vector<Mapping> keep{*fresh};
    auto removed = pm.remove_stale(keep);
    ASSERT_TRUE(removed) << removed.error().message();
    ASSERT_EQ(removed->size(), 1U);
    EXPECT_EQ(removed->front(), crashed);
    EXPECT_EQ(g.table.size(), 3U);  // foreign, other node's, the fresh one
    EXPECT_TRUE(g.table.contains({Protocol::tcp, 40003}));
    EXPECT_TRUE(g.table.contains({Protocol::udp, 3333}));
    EXPECT_TRUE(g.table.contains({Protocol::tcp, 40001}));
}

TEST(PortmapMapper, RemoveStaleWithoutListingSaysSo) {
    auto g = home_router(Method::natpmp);
    g.can_list = false;
    PortMapper pm{"node1", std::make_unique<FakeBackend>(g)};
    EXPECT_EQ(pm.remove_stale().error().code(), Errc::unsupported);
}

TEST(PortmapSelectStale, MatchesByProtocolAndExternalPort) {
    const Mapping tcp{Method::upnp_igd, Protocol::tcp, "192.168.77.10", 40000, "x", 40000, 0s, "zeppelin/n/transfer"};
    Mapping udp = tcp;
    udp.protocol = Protocol::udp;
    const std::vector<Mapping> all{tcp, udp};
    const std::vector<Mapping> keep{tcp};
    const auto stale = select_stale(all, "n", keep);
    ASSERT_EQ(stale.size(), 1U);
    EXPECT_EQ(stale.front().protocol, Protocol::udp);
    EXPECT_TRUE(select_stale(all, "m", {}).empty());
}

TEST(PortmapLeases, DueHalfwayOnTheCallersClock) {
    const Leases::Clock::time_point t0{};
    const Mapping transfer{Method::natpmp, Protocol::tcp, "192.168.77.10", 40000, "198.51.100.1", 40000, 600s,
                           "zeppelin/n/transfer"};
    Mapping log = transfer;
    log.external_port = 40001;
    log.lease = 120s;
    Mapping permanent = transfer;
    permanent.external_port = 40002;
    permanent.lease = 0s;

    Leases l;
    EXPECT_FALSE(l.next_due());
    l.track(transfer, t0);
    l.track(log, t0);
    l.track(permanent, t0);
    EXPECT_EQ(l.all().size(), 3U);
    EXPECT_EQ(l.next_due(), t0 + 60s);
    EXPECT_TRUE(l.due(t0 + 59s).empty());
    auto due = l.due(t0 + 60s);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due.front(), log);

    // Renewed: tracked again from the renewal, the same port replaces the old entry.
    l.track(log, t0 + 61s);
    EXPECT_EQ(l.all().size(), 3U);
    EXPECT_EQ(l.next_due(), t0 + 121s);
    due = l.due(t0 + 300s);
    ASSERT_EQ(due.size(), 2U);  // both leased ones; never the permanent one

    l.forget(transfer);
    l.forget(log);
    EXPECT_FALSE(l.next_due());
    EXPECT_FALSE(l.empty());  // the permanent mapping is still there, to be unmapped at the end
    l.forget(permanent);
    EXPECT_TRUE(l.empty());
}

TEST(PortmapText, Names) {
    EXPECT_EQ(to_string(Protocol::tcp), "TCP");
    EXPECT_EQ(to_string(Method::natpmp), "NAT-PMP");
    EXPECT_EQ(parse_protocol("udp"), Protocol::udp);
    EXPECT_FALSE(parse_protocol("sctp"));
}

}  // namespace
}  // namespace zeppelin::portmap
