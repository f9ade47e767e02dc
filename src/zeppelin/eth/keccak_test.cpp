#include "zeppelin/eth/keccak.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"

using namespace zeppelin;

TEST(Keccak, KnownVectors) {
    // Empty-input hash (the well-known Keccak-256 of ""), as used for empty code hashes.
    EXPECT_EQ(to_hex(eth::keccak256(std::string_view{})),
              "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    // Function selector source: keccak("transfer(address,uint256)") starts with a9059cbb.
    EXPECT_EQ(to_hex(eth::keccak256(std::string_view{"transfer(address,uint256)"})).substr(0, 10), "0xa9059cbb");
}
