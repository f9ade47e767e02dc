#include "zeppelin/eth/ecies.hpp"

#include <gtest/gtest.h>

using namespace zeppelin;
using namespace zeppelin::eth;

namespace {
const Bytes kAad = to_bytes(std::string_view{"agreement-7"});
}

TEST(Ecies, SealOpenRoundTrip) {
    auto alice = PrivateKey::generate().value();
    for (std::size_t n : {0u, 1u, 31u, 1000u}) {
        Bytes msg(n, 0x5a);
        auto env = ecies::seal(alice.public_key(), msg, kAad).value();
        EXPECT_EQ(env.size(), n + ecies::kOverhead);
        EXPECT_EQ(ecies::open(alice, env, kAad).value(), msg);
    }
}

TEST(Ecies, EachMessageHasItsOwnKey) {
    auto alice = PrivateKey::generate().value();
    Bytes msg(40, 1);
    EXPECT_NE(ecies::seal(alice.public_key(), msg, kAad).value(), ecies::seal(alice.public_key(), msg, kAad).value());
}

TEST(Ecies, RefusesWrongKeyContextOrTampering) {
    auto alice = PrivateKey::generate().value();
    auto mallory = PrivateKey::generate().value();
    Bytes msg = to_bytes(std::string_view{"endpoint 127.0.0.1:9000"});
    auto env = ecies::seal(alice.public_key(), msg, kAad).value();

    EXPECT_EQ(ecies::open(mallory, env, kAad).error().code(), Errc::auth_failed);
    EXPECT_EQ(ecies::open(alice, env, to_bytes(std::string_view{"agreement-8"})).error().code(), Errc::auth_failed);
    for (std::size_t i : {std::size_t{40}, env.size() - 1, std::size_t{50}}) {
        auto bad = env;
        bad[i] ^= 1;
        EXPECT_EQ(ecies::open(alice, bad, kAad).error().code(), Errc::auth_failed) << i;
    }
    auto bad_point = env;
    bad_point[1] = 0x07;  // not a compressed-point prefix
    EXPECT_EQ(ecies::open(alice, bad_point, kAad).error().code(), Errc::invalid_argument);
    EXPECT_EQ(ecies::open(alice, Bytes(10, 0), kAad).error().code(), Errc::invalid_argument);
    auto bad_version = env;
    bad_version[0] = 2;
    EXPECT_EQ(ecies::open(alice, bad_version, kAad).error().code(), Errc::invalid_argument);
}
