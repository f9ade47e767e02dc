#include "zeppelin/eth/address.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace zeppelin::eth {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Test vectors from EIP-55 (https://eips.ethereum.org/EIPS/eip-55).
TEST(Address, Eip55Vectors) {
    const char* vectors[] = {
        "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    for (std::string v : vectors) {
        auto a = parse_address(v);
        ASSERT_TRUE(a) << v << ": " << a.error().message();
        EXPECT_EQ(to_checksum(*a), v);
        EXPECT_EQ(parse_address(lower(v)).value(), *a);
    }
}

TEST(Address, AcceptsUpperLowerAndNoPrefix) {
    auto a = parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").value();
    EXPECT_EQ(parse_address("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").value(), a);
    EXPECT_EQ(parse_address("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").value(), a);
    EXPECT_TRUE(has_valid_checksum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
    EXPECT_FALSE(has_valid_checksum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
}

TEST(Address, RejectsBadChecksumAndShape) {
    auto bad = parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD");  // last letter flipped
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
    EXPECT_NE(bad.error().message().find("checksum"), std::string::npos);
    EXPECT_FALSE(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"));    // 19 bytes
    EXPECT_FALSE(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00"));  // 21 bytes
    EXPECT_FALSE(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg"));
    EXPECT_FALSE(parse_address(""));
}

}  // namespace
}  // namespace zeppelin::eth
