// Unit tests: digests, the layer tar scanner, protocol frames, progress rendering.
// (Archive, cache and socket tests live in tests/transfer/.)
#include <gtest/gtest.h>

#include <cstring>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/transfer/digest.hpp"
#include "zeppelin/transfer/progress.hpp"
#include "zeppelin/transfer/protocol.hpp"
#include "zeppelin/transfer/tar_scan.hpp"

using namespace zeppelin;
using namespace zeppelin::transfer;

namespace {

// FIPS 180-2 Appendix B.1 test vector.
TEST(Digest, Sha256Vector) {
    EXPECT_EQ(digest_string(sha256(as_view(std::string{"abc"}))),
              "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256 h;
    h.update(as_view(std::string{"a"}));
    h.update(as_view(std::string{"bc"}));
    EXPECT_EQ(h.finish(), sha256(as_view(std::string{"abc"})));
}

TEST(Digest, Parse) {
    auto d = sha256(as_view(std::string{"x"}));
    EXPECT_EQ(parse_digest(digest_string(d)).value(), d);
    EXPECT_FALSE(parse_digest("sha512:00"));
    EXPECT_FALSE(parse_digest("sha256:" + std::string(63, 'a')));
    EXPECT_FALSE(parse_digest("sha256:0x" + std::string(62, 'a')));
}

// A ustar header block written by hand (POSIX.1-2017 pax "ustar Interchange Format").
Bytes header(const std::string& name, char type, std::uint64_t size, const std::string& link = "") {
    Bytes h(512, 0);
    std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(reinterpret_cast<char*>(h.data() + 100), 8, "%07o", 0644);
    std::snprintf(reinterpret_cast<char*>(h.data() + 124), 12, "%011llo", static_cast<unsigned long long>(size));
    h[156] = static_cast<std::uint8_t>(type);
    std::memcpy(h.data() + 157, link.data(), std::min<std::size_t>(link.size(), 100));
    std::memcpy(h.data() + 257,
                "ustar\0"
                "00",
                8);
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (auto b : h) sum += b;
    std::snprintf(reinterpret_cast<char*>(h.data() + 148), 8, "%06o", sum);
    return h;
}

Bytes tar_of(std::vector<Bytes> parts) {
    Bytes out;
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    out.resize(out.size() + 1024, 0);
    return out;
}

Result<void> scan(const Bytes& tar, std::size_t piece = 7) {
    LayerScanner s;
    for (std::size_t i = 0; i < tar.size(); i += piece)
        ZP_CHECK(s.feed({tar.data() + i, std::min(piece, tar.size() - i)}));
    return s.finish();
}

TEST(LayerScanner, AcceptsOrdinaryLayer) {
    Bytes body(700, 'x');
    body.resize(1024, 0);
    auto t =
        tar_of({header("etc/", '5', 0), header("etc/hosts", '0', 700), body, header("bin/sh", '2', 0, "/bin/busybox"),
                header("bin/ash", '1', 0, "bin/sh"), header("etc/.wh.old", '0', 0)});
    EXPECT_TRUE(scan(t));
    EXPECT_TRUE(scan(t, 512 * 3 + 1));
}

TEST(LayerScanner, RejectsHostileEntries) {
    struct Case {
        Bytes tar;
        const char* text;
    };
    std::vector<Case> cases = {
        {tar_of({header("../etc/passwd", '0', 0)}), "'..' component"},
        {tar_of({header("/etc/passwd", '0', 0)}), "absolute path"},
        {tar_of({header("dev/sda", '4', 0)}), "block device"},
        {tar_of({header("dev/tty", '3', 0)}), "character device"},
        {tar_of({header("p", '6', 0)}), "fifo"},
        {tar_of({header("x", '1', 0, "../../etc/shadow")}), "hard link"},
        {tar_of({header("x", 'S', 0)}), "unsupported tar type"},
    };
    for (const auto& c : cases) {
        auto r = scan(c.tar);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code(), Errc::hostile_archive);
        EXPECT_NE(r.error().message().find(c.text), std::string::npos) << r.error().message();
    }
}

TEST(LayerScanner, PaxAndGnuLongNamesAreChecked) {
    std::string rec = " path=../../escape\n";
    rec = std::to_string(rec.size() + 2) + rec;
    Bytes pax(rec.begin(), rec.end());
    pax.resize(512, 0);
    auto t = tar_of({header("PaxHeaders/x", 'x', rec.size()), pax, header("innocent", '0', 0)});
    auto r = scan(t);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("escape"), std::string::npos) << r.error().message();

    std::string longname = std::string(150, 'a') + "/../../../x";
    Bytes ln(longname.begin(), longname.end());
    ln.resize(512, 0);
    auto g = tar_of({header("././@LongLink", 'L', longname.size()), ln, header("short", '0', 0)});
    EXPECT_FALSE(scan(g));
}

TEST(LayerScanner, RejectsCorruptAndTruncated) {
    auto t = tar_of({header("a", '0', 100)});
    t[10] ^= 1;  // checksum no longer matches
    auto r = scan(t);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("checksum"), std::string::npos);
    Bytes body(512, 'b');
    auto cut = tar_of({header("a", '0', 512), body});
    cut.resize(700);
    r = scan(cut);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("truncated"), std::string::npos);
}

TEST(Protocol, RoundTripsEveryMessage) {
    protocol::Hello hello;
    hello.agreement_id = "0xabc";
    hello.config_digest = sha256(as_view(std::string{"c"}));
    hello.config = to_bytes(std::string{"{}"});
    hello.layers = {{sha256(as_view(std::string{"l"})), 12345}};
    hello.spec = protocol::SpecReveal{R"({"kind":"tcp"})", {}};
    std::vector<protocol::Message> msgs = {hello,
                                           protocol::Offer{{0, 77}},
                                           protocol::LayerBegin{3, 99, protocol::Codec::zstd},
                                           protocol::Data{to_bytes(std::string{"payload"})},
                                           protocol::LayerEnd{3},
                                           protocol::Done{},
                                           protocol::Status{false, Errc::digest_mismatch, "bad layer"}};
    for (const auto& m : msgs) {
        auto frame = protocol::encode(m);
        auto h = protocol::parse_header(frame).value();
        ASSERT_EQ(h.length + protocol::kHeaderSize, frame.size());
        auto back = protocol::decode(h.type, ByteView{frame}.subspan(protocol::kHeaderSize)).value();
        EXPECT_EQ(back, m);
    }
}

TEST(Protocol, RejectsMalformed) {
    auto frame = protocol::encode(protocol::LayerEnd{1});
    frame.push_back(0);
    EXPECT_EQ(protocol::decode(protocol::FrameType::layer_end, ByteView{frame}.subspan(5)).error().code(),
              Errc::protocol);
    std::uint8_t big[5] = {4, 0xff, 0xff, 0xff, 0xff};
    EXPECT_FALSE(protocol::parse_header(ByteView{big, 5}));
    std::uint8_t unknown[5] = {9, 0, 0, 0, 0};
    EXPECT_FALSE(protocol::parse_header(ByteView{unknown, 5}));
    std::uint8_t badcodec[13] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    EXPECT_FALSE(protocol::decode(protocol::FrameType::layer, ByteView{badcodec, 13}));
}

protocol::Hello hello_with(std::optional<protocol::SpecReveal> spec, std::uint16_t version = protocol::kVersion) {
    protocol::Hello h;
    h.version = version;
    h.agreement_id = "42";
    h.config_digest = sha256(as_view(std::string{"c"}));
    h.config = to_bytes(std::string{"{}"});
    h.layers = {{sha256(as_view(std::string{"l"})), 9}};
    h.spec = std::move(spec);
    return h;
}

Result<protocol::Message> decode_frame(const Bytes& frame) {
    return protocol::decode(protocol::FrameType::hello, ByteView{frame}.subspan(protocol::kHeaderSize));
}

protocol::SpecReveal spec_of(std::string text) {
    protocol::SpecReveal s{std::move(text), {}};
    s.salt.bytes.fill(0x5a);
    return s;
}

TEST(Protocol, HelloCarriesTheProbeSpecAndSalt) {
    const auto with = hello_with(spec_of(R"({"kind":"tcp"})"));
    const auto back = std::get<protocol::Hello>(decode_frame(protocol::encode(with)).value());
    ASSERT_TRUE(back.spec);
    EXPECT_EQ(back.spec->spec, R"({"kind":"tcp"})");
    EXPECT_EQ(back.spec->salt, with.spec->salt);
    // Without a spec (a plain image transfer): the flag says so.
    EXPECT_FALSE(std::get<protocol::Hello>(decode_frame(protocol::encode(hello_with(std::nullopt))).value()).spec);
    // The largest spec allowed travels whole.
    const auto largest = hello_with(spec_of(std::string(protocol::kMaxSpec, 'x')));
    EXPECT_EQ(std::get<protocol::Hello>(decode_frame(protocol::encode(largest)).value()), largest);
}

TEST(Protocol, AcceptsAVersionOneHelloWithoutSpec) {
    // An older client: its spec comes on chain; its HELLO has no spec section, and round-trips.
    const auto v1 = hello_with(std::nullopt, 1);
    const auto frame = protocol::encode(v1);
    EXPECT_EQ(frame.size(), protocol::encode(hello_with(std::nullopt)).size() - 1) << "no spec flag in version 1";
    EXPECT_EQ(std::get<protocol::Hello>(decode_frame(frame).value()), v1);
    auto v3 = protocol::encode(hello_with(std::nullopt));
    v3[protocol::kHeaderSize + 1] = 3;
    const auto r = decode_frame(v3);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unsupported);
    EXPECT_EQ(r.error().message(), "protocol version 3 is not supported (1 to 2 are)");
}

TEST(Protocol, RefusesAMalformedOrOversizedSpecInWords) {
    // What an honest client would refuse to send.
    EXPECT_EQ(protocol::check_spec(spec_of(std::string(protocol::kMaxSpec + 1, 'x'))).error().message(),
              "the probe spec is 4097 bytes, more than the 4096 bytes that travel with the image");
    EXPECT_EQ(protocol::check_spec(spec_of("")).error().message(), "the probe spec is empty");
    // And what the worker refuses to decode, the same words in a malformed-HELLO error.
    const auto refused = [](const Bytes& frame) {
        const auto r = decode_frame(frame);
        EXPECT_FALSE(r);
        return r ? std::string{} : r.error().message();
    };
    EXPECT_EQ(refused(protocol::encode(hello_with(spec_of(std::string(protocol::kMaxSpec + 1, 'x'))))),
              "malformed HELLO message: the probe spec is 4097 bytes, more than the 4096 bytes that travel with the image");
    EXPECT_EQ(refused(protocol::encode(hello_with(spec_of("")))), "malformed HELLO message: the probe spec is empty");
    auto flag = protocol::encode(hello_with(std::nullopt));
    flag.back() = 2;
    EXPECT_EQ(refused(flag), "malformed HELLO message: spec flag 2 is not 0 or 1");
    auto cut = protocol::encode(hello_with(spec_of("{}")));
    cut.resize(cut.size() - 1);  // one byte of the salt missing
    EXPECT_EQ(refused(cut), "malformed HELLO message: truncated probe spec");
    auto no_flag = protocol::encode(hello_with(std::nullopt));
    no_flag.pop_back();
    EXPECT_EQ(refused(no_flag), "malformed HELLO message: truncated before the spec flag");
    auto extra = protocol::encode(hello_with(spec_of("{}")));
    extra.push_back(0);
    EXPECT_EQ(refused(extra), "malformed HELLO message: 1 trailing bytes");
}

TEST(Progress, RendersLikeDockerPush) {
    Progress p;
    p.layers = {{sha256(as_view(std::string{"a"})), 1000, 1000, LayerProgress::State::exists},
                {sha256(as_view(std::string{"b"})), 2'000'000, 1'000'000, LayerProgress::State::pushing}};
    p.bytes_total = 2'001'000;
    p.bytes_done = 1'001'000;
    p.rate = 500'000;
    p.eta_seconds = 2;
    auto lines = ProgressRenderer::render(p, 10);
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0], "ca978112ca1b: Layer already exists");
    EXPECT_EQ(lines[1], "3e23e8160039: Pushing [=====>    ]  1.0MB/2.0MB");
    EXPECT_EQ(lines[2], "total 1.0MB/2.0MB  500.0kB/s  ETA 0:02");
    EXPECT_EQ(human_bytes(999), "999B");
    EXPECT_EQ(human_bytes(1'073'741'824), "1.0GB");
}

}  // namespace
