#include "zeppelin/eth/rlp.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"

using namespace zeppelin;
using namespace zeppelin::eth;

namespace {
Bytes h(std::string_view s) { return from_hex(s).value(); }
rlp::Item str(std::string_view s) { return rlp::Item::string(to_bytes(s)); }
}  // namespace

// Examples from the RLP specification (ethereum.org, "Recursive-length prefix (RLP) serialization").
TEST(Rlp, SpecExamples) {
    EXPECT_EQ(rlp::encode(str("dog")), h("83646f67"));
    EXPECT_EQ(rlp::encode(rlp::Item::list({str("cat"), str("dog")})), h("c88363617483646f67"));
    EXPECT_EQ(rlp::encode(str("")), h("80"));
    EXPECT_EQ(rlp::encode(rlp::Item::list({})), h("c0"));
    EXPECT_EQ(rlp::encode_uint(0), h("80"));
    EXPECT_EQ(rlp::encode(rlp::Item::string({0x00})), h("00"));
    EXPECT_EQ(rlp::encode(rlp::Item::string({0x0f})), h("0f"));
    EXPECT_EQ(rlp::encode(rlp::Item::string({0x04, 0x00})), h("820400"));
    EXPECT_EQ(rlp::encode_uint(1024), h("820400"));
    // The set-theoretical representation of three: [ [], [[]], [ [], [[]] ] ]
    auto e = rlp::Item::list({});
    auto three = rlp::Item::list({e, rlp::Item::list({e}), rlp::Item::list({e, rlp::Item::list({e})})});
    EXPECT_EQ(rlp::encode(three), h("c7c0c1c0c3c0c1c0"));
    const std::string lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
    auto enc = rlp::encode(str(lorem));
    ASSERT_EQ(enc.size(), lorem.size() + 2);
    EXPECT_EQ(enc[0], 0xb8);
    EXPECT_EQ(enc[1], 0x38);
}

TEST(Rlp, RoundTrips) {
    auto e = rlp::Item::list({});
    std::vector<rlp::Item> items = {
        str(""), str("a"), rlp::Item::string({0x80}), str(std::string(55, 'x')), str(std::string(56, 'y')),
        str(std::string(70000, 'z')), rlp::Item::list({str("cat"), rlp::Item::list({str("dog"), e})}),
    };
    for (const auto& item : items) {
        auto bytes = rlp::encode(item);
        auto back = rlp::decode(bytes);
        ASSERT_TRUE(back) << back.error().message();
        EXPECT_EQ(*back, item);
    }
}

TEST(Rlp, Integers) {
    const auto two = h("8204008180");
    rlp::Reader r{two};
    EXPECT_EQ(r.read_uint().value(), 1024);
    EXPECT_EQ(r.read_uint().value(), 0x80);
    EXPECT_TRUE(r.empty());
    const auto leading = h("820004");
    rlp::Reader lead{leading};
    EXPECT_EQ(lead.read_uint().error().code(), Errc::rlp_leading_zero);
    const auto long_int = rlp::encode_string(Bytes(33, 1));
    rlp::Reader big{long_int};
    EXPECT_EQ(big.read_uint().error().code(), Errc::rlp_overflow);
}

TEST(Rlp, RejectsNonCanonical) {
    // single byte < 0x80 wrapped in a length prefix
    EXPECT_EQ(rlp::decode(h("8105")).error().code(), Errc::rlp_non_canonical_size);
    // long form for a short string
    EXPECT_EQ(rlp::decode(h("b803646f67")).error().code(), Errc::rlp_non_canonical_size);
    // long form length with a leading zero
    EXPECT_EQ(rlp::decode(h("b90038" + std::string(112, 'a'))).error().code(), Errc::rlp_leading_zero);
    // long-form list for a short payload
    EXPECT_EQ(rlp::decode(h("f837")).error().code(), Errc::rlp_non_canonical_size);
    EXPECT_EQ(rlp::decode(h("f800")).error().code(), Errc::rlp_leading_zero);
}

TEST(Rlp, RejectsTruncatedAndTrailing) {
    EXPECT_EQ(rlp::decode({}).error().code(), Errc::rlp_input_too_short);
    EXPECT_EQ(rlp::decode(h("83646f")).error().code(), Errc::rlp_input_too_short);
    EXPECT_EQ(rlp::decode(h("c88363617483646f")).error().code(), Errc::rlp_input_too_short);
    EXPECT_EQ(rlp::decode(h("b9")).error().code(), Errc::rlp_input_too_short);
    EXPECT_EQ(rlp::decode(h("bfffffffffffffffff")).error().code(), Errc::rlp_input_too_short);
    EXPECT_EQ(rlp::decode(h("8080")).error().code(), Errc::rlp_trailing_bytes);
    // a list whose payload holds a truncated item
    EXPECT_EQ(rlp::decode(h("c283aa")).error().code(), Errc::rlp_input_too_short);
}

TEST(Rlp, TypeMismatch) {
    const auto list = h("c0");
    const auto string = h("80");
    rlp::Reader r{list};
    EXPECT_EQ(r.read_string().error().code(), Errc::rlp_unexpected_list);
    rlp::Reader s{string};
    EXPECT_EQ(s.read_list().error().code(), Errc::rlp_unexpected_string);
}

TEST(Rlp, DepthLimit) {
    Bytes deep;
    // 200 nested empty lists: c1 c1 ... c0 (each wraps the next)
    const std::size_t n = 200;
    Bytes inner = h("c0");
    for (std::size_t i = 0; i < n; ++i) inner = rlp::encode_list(inner);
    EXPECT_EQ(rlp::decode(inner).error().code(), Errc::rlp_overflow);
}
