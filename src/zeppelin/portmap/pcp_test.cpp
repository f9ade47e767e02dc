// PCP (RFC 6887) packets against vectors written out by hand from the RFC's layout (§7.1 request
// header, §7.2 response header, §11.1 MAP data), the result codes in words, and the default
// gateway from /proc/net/route. miniupnpd answering them is tested in tests/netlab.
#include "zeppelin/portmap/pcp.hpp"

#include <gtest/gtest.h>

#include <set>

namespace zeppelin::portmap::pcp {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes zeros(std::size_t n) { return Bytes(n, 0); }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
const Nonce kNonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const Bytes kNonceBytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

TEST(PcpPacket, MapRequestLayout) {
    MapRequest q;
    q.lifetime = 600;
    q.client_address = "192.168.77.10";
    q.nonce = kNonce;
    q.protocol = Protocol::tcp;
    q.internal_port = 40080;
    q.suggested_external_port = 40080;
    const Bytes want = cat({
        {0x02, 0x01, 0x00, 0x00},                          // version 2, R=0 opcode MAP, reserved
        {0x00, 0x00, 0x02, 0x58},                          // requested lifetime 600
        zeros(10), {0xff, 0xff, 192, 168, 77, 10},         // client address ::ffff:192.168.77.10
        kNonceBytes,                                       // mapping nonce
        {6, 0, 0, 0},                                      // protocol TCP, reserved
        {0x9c, 0x90, 0x9c, 0x90},                          // internal port, suggested external port 40080
        zeros(10), {0xff, 0xff, 0, 0, 0, 0},               // suggested external address: any IPv4
    });
    const auto got = encode_map(q);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, want);
    EXPECT_EQ(got->size(), kMapPacketSize);

    // A deletion of a UDP mapping (lifetime 0) at a suggested address.
    q.lifetime = 0;
    q.protocol = Protocol::udp;
    q.suggested_external_address = "198.51.100.1";
    const auto del = encode_map(q);
    ASSERT_TRUE(del);
    EXPECT_EQ(Bytes(del->begin() + 4, del->begin() + 8), zeros(4));
    EXPECT_EQ((*del)[36], 17);
    EXPECT_EQ(Bytes(del->begin() + 54, del->end()), (Bytes{0xff, 0xff, 198, 51, 100, 1}));
}

TEST(PcpPacket, RequestsRefuseWhatIsNoIpv4Address) {
    MapRequest q;
    q.internal_port = 1;
    EXPECT_EQ(encode_map(q).error().code(), Errc::invalid_argument);  // no client address
    q.client_address = "fe80::1";
    EXPECT_EQ(encode_map(q).error().code(), Errc::invalid_argument);
    q.client_address = "192.168.77.10";
    q.suggested_external_address = "router";
    EXPECT_EQ(encode_map(q).error().code(), Errc::invalid_argument);
}

TEST(PcpPacket, MapResponseLayout) {
    const Bytes answer = cat({
        {0x02, 0x81, 0x00, 0x00},                          // version 2, R=1 opcode MAP, reserved, SUCCESS
        {0x00, 0x00, 0x02, 0x58},                          // lifetime 600
        {0x00, 0x00, 0x00, 0x2a},                          // epoch 42
        zeros(12),                                         // reserved
        kNonceBytes,
        {6, 0, 0, 0},
        {0x9c, 0x90, 0x9c, 0x91},                          // internal 40080, assigned external 40081
        zeros(10), {0xff, 0xff, 198, 51, 100, 1},          // assigned external address
    });
    const auto r = decode_map(answer);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->result, 0);
    EXPECT_EQ(r->lifetime, 600U);
    EXPECT_EQ(r->epoch, 42U);
    EXPECT_EQ(r->nonce, kNonce);
    EXPECT_EQ(r->protocol, 6);
    EXPECT_EQ(r->internal_port, 40080);
    EXPECT_EQ(r->external_port, 40081);
    EXPECT_EQ(r->external_address, "198.51.100.1");

    // An IPv6 external address is no IPv4 one: none.
    Bytes v6 = answer;
    v6[54] = 0x20;
    EXPECT_EQ(decode_map(v6)->external_address, "");
}

TEST(PcpPacket, ErrorAnswersAndNonsense) {
    // NOT_AUTHORIZED with the header alone (lifetime: wait 30 s before asking again).
    const Bytes refused = cat({{0x02, 0x81, 0x00, 0x02}, {0, 0, 0, 30}, {0, 0, 0, 5}, zeros(12)});
    const auto r = decode_map(refused);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->result, static_cast<std::uint8_t>(ResultCode::not_authorized));
    EXPECT_EQ(r->lifetime, 30U);
    EXPECT_EQ(r->nonce, Nonce{});

    // A NAT-PMP gateway's answer (version 0): no PCP here, in words.
    const auto natpmp = decode_map(Bytes{0x00, 0x80, 0x00, 0x01, 0, 0, 0, 5, 0, 0, 0, 0});
    ASSERT_FALSE(natpmp);
    EXPECT_EQ(natpmp.error().code(), Errc::no_gateway);
    EXPECT_NE(natpmp.error().message().find("NAT-PMP"), std::string::npos);

    Bytes ok = cat({{0x02, 0x81, 0x00, 0x00}, zeros(56)});
    EXPECT_TRUE(decode_map(ok));
    for (const auto& bad : {Bytes(ok.begin(), ok.begin() + 20),             // shorter than a header
                            cat({ok, {0, 0}}),                              // not a multiple of 4
                            Bytes(ok.begin(), ok.begin() + 24),             // success without MAP data
                            cat({{0x01, 0x81, 0, 0}, zeros(56)}),           // version 1
                            cat({{0x02, 0x01, 0, 0}, zeros(56)}),           // a request (R=0)
                            cat({{0x02, 0x82, 0, 0}, zeros(56)})}) {        // PEER, not MAP
        const auto d = decode_map(bad);
        ASSERT_FALSE(d) << bad.size();
        EXPECT_EQ(d.error().code(), Errc::protocol) << d.error().message();
    }
}

TEST(PcpPacket, ResultCodesInWords) {
    EXPECT_EQ(result_text(0), "SUCCESS");
    EXPECT_NE(result_text(2).find("NOT_AUTHORIZED: the gateway refused"), std::string::npos);
    EXPECT_NE(result_text(8).find("mapping table is full"), std::string::npos);
    EXPECT_NE(result_text(12).find("another NAT"), std::string::npos);
    EXPECT_EQ(result_text(200), "result code 200 (not defined by RFC 6887)");
    for (std::uint8_t c = 1; c <= 13; ++c) EXPECT_EQ(result_text(c).find("not defined"), std::string::npos) << int{c};
    EXPECT_EQ(result_errc(2), Errc::mapping_refused);
    EXPECT_EQ(result_errc(1), Errc::no_gateway);
    EXPECT_EQ(result_errc(4), Errc::no_gateway);
    EXPECT_EQ(result_errc(12), Errc::double_nat);
    EXPECT_EQ(result_errc(3), Errc::protocol);
}

TEST(PcpPacket, NoncesAreStablePerTagAndDifferAcrossTags) {
    const auto a = nonce_for("zeppelin/70997970c51812dc-436216aa/transfer");
    EXPECT_EQ(a, nonce_for("zeppelin/70997970c51812dc-436216aa/transfer"));  // a restarted node finds it again
    std::set<Nonce> seen{a};
    for (const auto* d : {"zeppelin/70997970c51812dc-436216aa/log", "zeppelin/70997970c51812dc-436216ab/transfer",
                          "zeppelin/70997970c51812dc-436216aa/svc-1", "zeppelin/70997970c51812dc-436216aa/svc-2", ""})
        EXPECT_TRUE(seen.insert(nonce_for(d)).second) << d;
    EXPECT_NE(a, Nonce{});
}

TEST(PcpGateway, FromProcNetRoute) {
    const std::string text =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth0\t00000000\t014DA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
    EXPECT_EQ(default_gateway(text), "192.168.77.1");
    EXPECT_FALSE(default_gateway("Iface\tDestination\tGateway\n"
                                 "eth0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"));
    EXPECT_FALSE(default_gateway(""));
    EXPECT_FALSE(default_gateway("Iface\tDestination\tGateway\neth0\t00000000\tZZZZZZZZ\t0003\n"));
}

}  // namespace
}  // namespace zeppelin::portmap::pcp
