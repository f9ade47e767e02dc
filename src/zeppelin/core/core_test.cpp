#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/core/units.hpp"

using namespace zeppelin;

TEST(Hex, RoundTrip) {
    auto b = from_hex("0x00ff10").value();
    EXPECT_EQ(b, (Bytes{0x00, 0xff, 0x10}));
    EXPECT_EQ(to_hex(b), "0x00ff10");
    EXPECT_EQ(from_hex("ABcd").value(), (Bytes{0xab, 0xcd}));
    EXPECT_EQ(from_hex("0x").value(), Bytes{});
}

TEST(Hex, Rejects) {
    EXPECT_EQ(from_hex("0x123").error().code(), Errc::invalid_hex);
    EXPECT_EQ(from_hex("0xzz").error().code(), Errc::invalid_hex);
    EXPECT_FALSE((fixed_from_hex<20>("0x00")));
}

TEST(U256, ParseAndPrint) {
    EXPECT_EQ(parse_u256("0").value(), 0);
    EXPECT_EQ(parse_u256("0x7b").value(), 123);
    auto max = parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639935").value();
    EXPECT_EQ(max, ~u256{0});
    EXPECT_EQ(to_hex_quantity(max), "0x" + std::string(64, 'f'));
    EXPECT_EQ(parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639936").error().code(),
              Errc::overflow);
    EXPECT_EQ(parse_u256("0x1" + std::string(64, '0')).error().code(), Errc::overflow);
    EXPECT_FALSE(parse_u256("-1"));
    EXPECT_FALSE(parse_u256(""));
    EXPECT_FALSE(parse_u256("1 "));
    EXPECT_EQ(to_hex_quantity(0), "0x0");
    EXPECT_EQ(to_hex_quantity(255), "0xff");
    EXPECT_EQ(to_hex_quantity(256), "0x100");
}

TEST(U256, BigEndian) {
    EXPECT_EQ(to_be_minimal(0), Bytes{});
    EXPECT_EQ(to_be_minimal(0x0102), (Bytes{1, 2}));
    EXPECT_EQ(from_be(to_be32(123456789)).value(), 123456789);
    EXPECT_FALSE(from_be(Bytes(33, 1)));
}

TEST(U256, Checked) {
    auto max = ~u256{0};
    EXPECT_FALSE(checked_add(max, 1));
    EXPECT_FALSE(checked_mul(max, 2));
    EXPECT_EQ(checked_mul(u256{1} << 128, (u256{1} << 127)).value(), u256{1} << 255);
}

TEST(Units, Parse) {
    EXPECT_EQ(parse_amount("1.5ether").value(), u256{1500000000000000000ull});
    EXPECT_EQ(parse_amount("20gwei").value(), u256{20000000000ull});
    EXPECT_EQ(parse_amount("20 gwei").value(), u256{20000000000ull});
    EXPECT_EQ(parse_amount("0.000000001 ether").value(), u256{1000000000ull});
    EXPECT_EQ(parse_amount("100").value(), 100);
    EXPECT_EQ(parse_amount("0x64").value(), 100);
    EXPECT_EQ(parse_amount(".5gwei").value(), u256{500000000});
    EXPECT_EQ(parse_amount("1.50000ether").value(), u256{1500000000000000000ull});
    EXPECT_FALSE(parse_amount("1.5"));  // half a wei
    EXPECT_FALSE(parse_amount("0.0000000001gwei"));
    EXPECT_FALSE(parse_amount("1.5bananas"));
    EXPECT_FALSE(parse_amount("1..5ether"));
    EXPECT_FALSE(parse_amount("ether"));
}

TEST(Units, Format) {
    EXPECT_EQ(format_units(u256{1500000000000000000ull}, 18), "1.5");
    EXPECT_EQ(format_units(0, 18), "0");
    EXPECT_EQ(format_units(1, 18), "0.000000000000000001");
    EXPECT_EQ(format_units(u256{20000000000ull}, 9), "20");
    EXPECT_EQ(format_ether_human(u256{20000000000ull}), "20 gwei");
    EXPECT_EQ(format_ether_human(u256{1500000000000000000ull}), "1.5 ETH");
    // Round trip on a large value.
    auto v = parse_u256("123456789012345678901234567890").value();
    EXPECT_EQ(parse_units(format_units(v, 18), 18).value(), v);
}

TEST(Units, FormatAmountPicksTheUnitThatReadsBest) {
    EXPECT_EQ(format_amount(0), "0 wei");
    EXPECT_EQ(format_amount(999'999'999), "999999999 wei");
    EXPECT_EQ(format_amount(u256{594'000'000'000ull}), "594 gwei");
    EXPECT_EQ(format_amount(u256{304'500'000'000ull}), "304.5 gwei");
    EXPECT_EQ(format_amount(u256{1'000'000'000'000'000ull}), "0.001 ETH");
    const auto balance = parse_u256("9999345342028252515").value();
    EXPECT_EQ(format_amount(balance), "9.9993 ETH");
    EXPECT_EQ(format_amount(balance, AmountPrecision::exact), "9.999345342028252515 ETH");
    // Rounding half up, carrying into the whole part and into the next unit.
    EXPECT_EQ(format_amount(parse_u256("1234550000000000000").value()), "1.2346 ETH");
    EXPECT_EQ(format_amount(parse_u256("9999990000000000000").value()), "10 ETH");
    EXPECT_EQ(format_amount(parse_u256("999999999999999").value()), "0.001 ETH");
    EXPECT_EQ(format_amount(u256{1'234'567'891ull}), "1.2346 gwei");
    EXPECT_EQ(format_amount(u256{1'234'567'891ull}, AmountPrecision::exact), "1.234567891 gwei");
    // The whole part is never cut.
    EXPECT_EQ(format_amount(parse_u256("123456789000000000000000").value()), "123457 ETH");
}
