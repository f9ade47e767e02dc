#include "zeppelin/eth/secp256k1.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {
namespace {

constexpr std::string_view kKey46 = "0x4646464646464646464646464646464646464646464646464646464646464646";

TEST(Secp256k1, RejectsOutOfRangeKeys) {
    EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(64, '0')).error().code(), Errc::invalid_key);
    // n itself and n+1 are out of range; n-1 is the largest valid key.
    EXPECT_FALSE(PrivateKey::from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));
    EXPECT_FALSE(PrivateKey::from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142"));
    EXPECT_TRUE(PrivateKey::from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"));
    EXPECT_FALSE(PrivateKey::from_hex("0x46"));
    EXPECT_FALSE(PrivateKey::from_hex("zz"));
}

// Expected addresses produced once with cast 1.7.1 (`cast wallet address --private-key K`).
TEST(Secp256k1, AddressesMatchCast) {
    struct V {
        std::string_view key, address;
    } vectors[] = {
        {kKey46, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"},
        {"0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "0xFCAd0B19bB29D4674531d6f115237E16AfCE377c"},
        {"0x0000000000000000000000000000000000000000000000000000000000000001",
         "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"},
        {"0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
         "0x80C0dbf239224071c59dD8970ab9d542E3414aB2"},
    };
    for (const auto& v : vectors) EXPECT_EQ(to_checksum(PrivateKey::from_hex(v.key)->address()), v.address);
}

TEST(Secp256k1, GeneratedKeysAreDistinctAndUsable) {
    auto a = PrivateKey::generate().value();
    auto b = PrivateKey::generate().value();
    EXPECT_NE(a.secret(), b.secret());
    auto digest = keccak256(std::string_view{"zeppelin"});
    auto sig = a.sign(digest).value();
    EXPECT_EQ(recover_address(digest, sig).value(), a.address());
}

TEST(Secp256k1, SignaturesAreLowSAndRecoverable) {
    auto key = PrivateKey::from_hex(kKey46).value();
    for (int i = 0; i < 64; ++i) {
        auto digest = keccak256(std::string_view{std::to_string(i)});
        auto sig = key.sign(digest).value();
        EXPECT_TRUE(sig.is_canonical());
        EXPECT_EQ(recover_public_key(digest, sig).value(), key.public_key());
        auto wrong = sig;
        wrong.y_parity ^= 1;
        auto other = recover_address(digest, wrong);
        if (other) {
            EXPECT_NE(*other, key.address());
        }
    }
}

TEST(Secp256k1, HighSIsNotCanonical) {
    auto key = PrivateKey::from_hex(kKey46).value();
    auto sig = key.sign(keccak256(std::string_view{"x"})).value();
    auto s = from_be(sig.s.view()).value();
    sig.s = to_be32(curve_order() - s);
    EXPECT_FALSE(sig.is_canonical());
}

// EIP-191 personal_sign; expected values from cast 1.7.1:
//   cast hash-message "hello"; cast wallet sign --private-key 0x4646.. "hello"
TEST(Secp256k1, PersonalSignMatchesCast) {
    auto h = personal_message_hash(std::string_view{"hello"});
    EXPECT_EQ(to_hex(h), "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
    auto sig = PrivateKey::from_hex(kKey46)->sign(h).value();
    EXPECT_EQ(to_hex(sig.to_rsv()),
              "0xf63c93dc642a4839770b35abf9cb304ac2f1b5463d9a9abd87546feaa0af992e659cf087c433e45c45f6135cb819ab1922c63"
              "59dbb1b8c8d7a54141de2cd4beb1b");
    auto back = Signature::from_rsv(sig.to_rsv().view()).value();
    EXPECT_EQ(back, sig);
    EXPECT_EQ(recover_address(h, back).value(), PrivateKey::from_hex(kKey46)->address());
}

TEST(Secp256k1, RsvParsingRejectsBadV) {
    Bytes b(65, 1);
    b[64] = 29;
    EXPECT_EQ(Signature::from_rsv(b).error().code(), Errc::invalid_signature);
    EXPECT_FALSE(Signature::from_rsv(Bytes(64, 1)));
}

TEST(Secp256k1, EcdhIsSymmetric) {
    auto a = PrivateKey::generate().value();
    auto b = PrivateKey::generate().value();
    auto ab = a.ecdh_raw_x(b.public_key()).value();
    auto ba = b.ecdh_raw_x(a.public_key()).value();
    EXPECT_EQ(ab, ba);
    // A custom hash sees the same point from both sides.
    auto hash = [](const Hash32& x, const Hash32& y, Hash32& out) {
        Bytes xy(x.begin(), x.end());
        xy.insert(xy.end(), y.begin(), y.end());
        out = keccak256(xy);
        return true;
    };
    EXPECT_EQ(a.ecdh(b.public_key(), hash).value(), b.ecdh(a.public_key(), hash).value());
    auto refuse = [](const Hash32&, const Hash32&, Hash32&) { return false; };
    EXPECT_FALSE(a.ecdh(b.public_key(), refuse));
}

// k = 1: the public key is the generator G, so ECDH(1, P) has P's x coordinate.
TEST(Secp256k1, EcdhWithKeyOneIsPeerX) {
    auto one = PrivateKey::from_hex("0x0000000000000000000000000000000000000000000000000000000000000001").value();
    EXPECT_EQ(to_hex(one.public_key()),
              "0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
              "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
    auto peer = PrivateKey::from_hex(kKey46)->public_key();
    EXPECT_EQ(one.ecdh_raw_x(peer).value(), fixed_from<32>(peer.view().first(32)));
}

TEST(Secp256k1, PublicKeyParsing) {
    auto pk = PrivateKey::from_hex(kKey46)->public_key();
    EXPECT_EQ(parse_public_key(pk.view()).value(), pk);
    auto c = compress(pk).value();
    EXPECT_EQ(parse_public_key(c.view()).value(), pk);
    Bytes full(65, 0x04);
    std::copy(pk.begin(), pk.end(), full.begin() + 1);
    EXPECT_EQ(parse_public_key(full).value(), pk);
    auto bad = pk;
    bad[63] ^= 1;
    EXPECT_EQ(parse_public_key(bad.view()).error().code(), Errc::invalid_key);
    EXPECT_FALSE(parse_public_key(Bytes(10, 1)));
}

}  // namespace
}  // namespace zeppelin::eth
