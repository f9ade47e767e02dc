#include "zeppelin/eth/revert.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::eth {
namespace {

Bytes hex(std::string_view h) { return from_hex(h).value(); }

// Error(string) with "Not enough Ether provided." — the example in the Solidity docs
// ("Control Structures > Error handling: Assert, Require, Revert and Exceptions").
constexpr std::string_view kDocsErrorString =
    "0x08c379a0"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "000000000000000000000000000000000000000000000000000000000000001a"
    "4e6f7420656e6f7567682045746865722070726f76696465642e000000000000";

TEST(Revert, ErrorStringFromTheSolidityDocs) {
    const auto data = hex(kDocsErrorString);
    EXPECT_EQ(decode_error_string(data), "Not enough Ether provided.");
    const auto r = RevertDecoder{}.decode(data);
    EXPECT_EQ(r.kind, Revert::Kind::error_string);
    EXPECT_EQ(r.text, "Not enough Ether provided.");
}

TEST(Revert, ErrorStringRejectsTruncatedAndOutOfRangeData) {
    auto data = hex(kDocsErrorString);
    data.resize(data.size() - 10);  // string bytes cut short
    EXPECT_FALSE(decode_error_string(data));
    auto bad_offset = hex(kDocsErrorString);
    bad_offset[4 + 31] = 0xff;  // offset far beyond the data
    EXPECT_FALSE(decode_error_string(bad_offset));
    auto huge_len = hex(kDocsErrorString);
    for (std::size_t i = 4 + 32; i < 4 + 56; ++i) huge_len[i] = 0xff;
    EXPECT_FALSE(decode_error_string(huge_len));
    EXPECT_FALSE(decode_error_string(hex("0x08c379a0")));
    // Whatever it is, the decoder still says something useful.
    EXPECT_EQ(RevertDecoder{}.decode(huge_len).kind, Revert::Kind::unknown);
}

TEST(Revert, ControlCharactersAreEscaped) {
    const auto data = hex(
        "0x08c379a0"
        "0000000000000000000000000000000000000000000000000000000000000020"
        "0000000000000000000000000000000000000000000000000000000000000003"
        "611b5b0000000000000000000000000000000000000000000000000000000000");
    EXPECT_EQ(RevertDecoder{}.decode(data).text, "a\\x1b[");
}

TEST(Revert, Panic) {
    const auto data = hex("0x4e487b710000000000000000000000000000000000000000000000000000000000000011");
    EXPECT_EQ(decode_panic_code(data), u256{0x11});
    EXPECT_EQ(RevertDecoder{}.decode(data).text, "panic 0x11 (arithmetic underflow or overflow)");
    EXPECT_EQ(panic_meaning(0x32), "array index out of bounds");
    EXPECT_EQ(panic_meaning(0x99), "unknown panic code");
    EXPECT_FALSE(decode_panic_code(hex("0x4e487b7100")));
}

TEST(Revert, CustomErrors) {
    // InsufficientPayment(uint256 sent, uint256 needed): selector = keccak256("InsufficientPayment(uint256,uint256)")[0..4]
    RevertDecoder d;
    ASSERT_TRUE(d.add_signature("error InsufficientPayment(uint256 sent, uint256 needed)"));
    ASSERT_TRUE(d.add_signature("Unauthorized(address)"));
    const auto sel = d.errors().at(0).selector();
    Bytes data(sel.begin(), sel.end());
    const auto args = hex(
        "0000000000000000000000000000000000000000000000000000000000000001"
        "0000000000000000000000000000000000000000000000000de0b6b3a7640000");
    data.insert(data.end(), args.begin(), args.end());
    const auto r = d.decode(data);
    EXPECT_EQ(r.kind, Revert::Kind::custom);
    EXPECT_EQ(r.error_name, "InsufficientPayment");
    EXPECT_EQ(r.text, "InsufficientPayment(sent: 1, needed: 1000000000000000000)");

    const auto sel2 = d.errors().at(1).selector();
    Bytes data2(sel2.begin(), sel2.end());
    const auto addr = hex("000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    data2.insert(data2.end(), addr.begin(), addr.end());
    EXPECT_EQ(d.decode(data2).text, "Unauthorized(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)");

    // Unknown selector: selector and raw data.
    const auto unknown = hex("0xdeadbeef0102");
    EXPECT_EQ(d.decode(unknown).text, "custom error 0xdeadbeef (not a known error; data 0xdeadbeef0102)");
    EXPECT_EQ(d.decode({}).text, "no reason given (empty revert data)");
    EXPECT_EQ(d.decode(hex("0x0102")).text, "unrecognized revert data 0x0102");
    EXPECT_FALSE(d.add_signature("not a signature"));
}

TEST(Revert, FormatsValues) {
    EXPECT_EQ(format_abi_value(abi::Value::int_(-5)), "-5");
    EXPECT_EQ(format_abi_value(abi::Value::boolean(true)), "true");
    EXPECT_EQ(format_abi_value(abi::Value::string("hi")), "\"hi\"");
    EXPECT_EQ(format_abi_value(abi::Value::bytes(hex("0xabcd"))), "0xabcd");
    EXPECT_EQ(format_abi_value(abi::Value::array({abi::Value::uint_(1), abi::Value::uint_(2)})), "[1, 2]");
    EXPECT_EQ(format_abi_value(abi::Value::tuple({abi::Value::uint_(1), abi::Value::boolean(false)})), "(1, false)");
}

}  // namespace
}  // namespace zeppelin::eth
