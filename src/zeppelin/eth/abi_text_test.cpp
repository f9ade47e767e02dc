// Expected strings below were produced by Foundry's cast 1.7.1 (`cast abi-encode`,
// `cast abi-decode`) for the same inputs.
#include "zeppelin/eth/abi_text.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::eth::abi {
namespace {

Value P(std::string_view type, std::string_view text) { return parse_value(parse_type(type).value(), text).value(); }
bool fails(std::string_view type, std::string_view text) {
    auto r = parse_value(parse_type(type).value(), text);
    if (r) return false;
    EXPECT_EQ(r.error().code(), Errc::abi_invalid_value);
    return true;
}
std::string enc(std::string_view type, std::string_view text) {
    auto t = parse_type(type).value();
    return to_hex(encode_single(t, P(type, text), {.check_ranges = false}).value());
}

TEST(AbiText, Numbers) {
    EXPECT_EQ(P("uint256", "1ether").number, u256{"1000000000000000000"});
    EXPECT_EQ(P("uint256", "1.5ether").number, u256{"1500000000000000000"});
    EXPECT_EQ(P("uint256", "1e18").number, u256{"1000000000000000000"});
    EXPECT_EQ(P("uint256", "1.5e1").number, 15);
    EXPECT_EQ(P("uint256", "1e-1ether").number, u256{"100000000000000000"});
    EXPECT_EQ(P("uint256", "0x1 gwei").number, 1000000000);
    EXPECT_EQ(P("uint256", "20 gwei").number, u256{"20000000000"});
    EXPECT_EQ(P("uint8", "0X10").number, 16);
    EXPECT_EQ(P("uint8", "0b101").number, 5);
    EXPECT_EQ(P("uint8", "0o17").number, 15);
    EXPECT_EQ(P("uint256", "007").number, 7);
    EXPECT_EQ(P("uint256", "1E2").number, 100);
    EXPECT_EQ(P("uint256", "1e+2").number, 100);
    EXPECT_EQ(P("uint256", "5 ").number, 5);
    EXPECT_EQ(P("uint256", "115792089237316195423570985008687907853269984665640564039457584007913129639935").number,
              ~u256{0});
    for (auto bad : {"1.0", "15e-1", "1e", "+5", " 5", "0x", "1.", ".5", "1 gwei ", "1abc", "-1",
                     "115792089237316195423570985008687907853269984665640564039457584007913129639936", "0b12"})
        EXPECT_TRUE(fails("uint256", bad)) << bad;
    EXPECT_TRUE(fails("uint8", "256"));
}

TEST(AbiText, SignedNumbers) {
    EXPECT_EQ(enc("int256", "-1.5 gwei"), "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffa697d100");
    EXPECT_EQ(enc("int256", "-0x10"), "0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0");
    EXPECT_EQ(enc("int256", "+5"), "0x0000000000000000000000000000000000000000000000000000000000000005");
    // cast only checks the magnitude against N bits: int8 accepts -200
    EXPECT_EQ(enc("int8", "-200"), "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff38");
    EXPECT_TRUE(fails("int8", "-256"));
    EXPECT_TRUE(fails("int8", "128"));
    EXPECT_EQ(P("int8", "127").number, 127);
    EXPECT_TRUE(P("int256", "-57896044618658097711785492504343953926634992332820282019728792003956564819968").is_negative());
    EXPECT_TRUE(fails("int256", "57896044618658097711785492504343953926634992332820282019728792003956564819968"));
}

TEST(AbiText, HexKinds) {
    EXPECT_EQ(to_hex(P("address", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").data),
              "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    EXPECT_TRUE(fails("address", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"));
    EXPECT_EQ(to_hex(P("bytes2", "ABCD").data), "0xabcd");
    EXPECT_TRUE(fails("bytes2", "0XABCD"));
    EXPECT_TRUE(fails("bytes3", "0xab"));
    EXPECT_TRUE(P("bytes", "0x").data.empty());
    EXPECT_TRUE(fails("bytes", ""));
    EXPECT_TRUE(fails("bytes", "0x123"));
    EXPECT_TRUE(P("bool", "true").as_bool());
    EXPECT_TRUE(fails("bool", "True"));
    EXPECT_TRUE(fails("bool", "1"));
}

TEST(AbiText, StringsArraysTuples) {
    EXPECT_EQ(P("string", "").as_string(), "");
    EXPECT_EQ(P("string", "'a'").as_string(), "a");
    EXPECT_EQ(P("string", " hello  ").as_string(), " hello");
    auto arr = P("string[]", "[a, b ,'c d']");
    ASSERT_EQ(arr.items.size(), 3u);
    EXPECT_EQ(arr.items[1].as_string(), "b");
    EXPECT_EQ(arr.items[2].as_string(), "c d");
    EXPECT_EQ(P("string[]", "[a,]").items.size(), 1u);
    EXPECT_EQ(P("string[]", "[ ]").items.size(), 0u);
    EXPECT_EQ(P("uint256[]", "[ 1 , 2 ]").items.size(), 2u);
    auto t = P("(uint8,(string,bytes1[2]))[]", "[(1,(hi,[0x01,0x02])),(2,(\"a b\",[0x03,0x04]))]");
    ASSERT_EQ(t.items.size(), 2u);
    EXPECT_EQ(t.items[1].items[1].items[0].as_string(), "a b");
    EXPECT_TRUE(fails("(uint256,string)", " ( 1 , x ) "));
    EXPECT_EQ(P("(uint256,string)", " ( 1 , x )").items[1].as_string(), "x");
    EXPECT_TRUE(fails("uint256[2]", "[1]"));
    EXPECT_TRUE(fails("uint256[]", "[1,,2]"));
}

TEST(AbiText, FormatsLikeCast) {
    EXPECT_EQ(format_uint_exp(0), "0");
    EXPECT_EQ(format_uint_exp(9999), "9999");
    EXPECT_EQ(format_uint_exp(10000), "10000 [1e4]");
    EXPECT_EQ(format_uint_exp(1234567890), "1234567890 [1.234e9]");
    EXPECT_EQ(format_uint_exp(u256{"1000000000000000000"}), "1000000000000000000 [1e18]");
    EXPECT_EQ(format_value(Value::int_(-1000000000000000000LL)), "-1000000000000000000 [-1e18]");
    EXPECT_EQ(format_value(Value::int_(-5, 8)), "-5");
    EXPECT_EQ(format_value(Value::address(fixed_from_hex<20>("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").value())),
              "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    EXPECT_EQ(format_value(Value::string("he\"llo\\n \xC3\xBC")), "\"he\\\"llo\\\\n \xC3\xBC\"");
    EXPECT_EQ(rust_debug_string(std::string_view{"\0\x80\xff\t\x7f", 5}), "\"\\0\xEF\xBF\xBD\xEF\xBF\xBD\\t\\u{7f}\"");
    auto v = Value::array({Value::tuple({Value::uint_(1, 8), Value::tuple({Value::string("hi"),
                                          Value::fixed_array({Value::fixed_bytes(from_hex("01").value()),
                                                              Value::fixed_bytes(from_hex("02").value())})})})});
    EXPECT_EQ(format_value(v), "[(1, (\"hi\", [0x01, 0x02]))]");
    EXPECT_EQ(format_value(Value::boolean(false)), "false");
}

TEST(AbiText, UnicodeEscapesLikeRust) {
    // cast 1.7.1: abi-decode of "x<char>x" for each of these code points
    EXPECT_EQ(rust_debug_string("x\xC2\xA0x"), "\"x\\u{a0}x\"");          // U+00A0 no-break space (Zs)
    EXPECT_EQ(rust_debug_string("x\xCC\x81x"), "\"x\\u{301}x\"");         // U+0301 combining acute (extend)
    EXPECT_EQ(rust_debug_string("x\xEF\xBB\xBFx"), "\"x\\u{feff}x\"");   // U+FEFF (Cf)
    EXPECT_EQ(rust_debug_string("x\xCD\xB8x"), "\"x\\u{378}x\"");         // U+0378 unassigned
    EXPECT_EQ(rust_debug_string("x\xF0\x9F\x8F\xBBx"), "\"x\xF0\x9F\x8F\xBBx\"");  // U+1F3FB printed as is
    EXPECT_EQ(rust_debug_string("x\xE4\xB8\xADx"), "\"x\xE4\xB8\xADx\"");  // U+4E2D
    EXPECT_EQ(rust_debug_string("\xF4\x8F\xBF\xBF"), "\"\\u{10ffff}\"");
    // invalid UTF-8: one U+FFFD per maximal invalid prefix (E2 82 then 'A'; lone F0)
    EXPECT_EQ(rust_debug_string("\xE2\x82" "A\xF0"), "\"\xEF\xBF\xBD" "A\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace zeppelin::eth::abi
