// The chain identity rule: which difference is which, which of them mean the recorded agreements
// are gone (and their containers are stopped), the words a person reads, the record in the store,
// the archive a reset leaves, and when the run-time check is due.
#include "zeppelin/node/chain_identity.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "support/test_image.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/node/store.hpp"

namespace zeppelin::node {
namespace {

namespace fs = std::filesystem;

Hash32 h(std::uint8_t b) {
    Hash32 x{};
    x.bytes.fill(b);
    return x;
}

ChainIdentity devnet() {
    ChainIdentity id;
    id.chain_id = 31337;
    id.genesis = h(0x11);
    id.dispatcher = eth::parse_address("0x5FbDB2315678afecb367f032d93F642f64180aa3").value();
    id.code_hash = h(0x22);
    return id;
}

TEST(ChainIdentity, SameIdentityIsNoMismatch) { EXPECT_EQ(compare(devnet(), devnet()), Mismatch::none); }

TEST(ChainIdentity, EachFieldIsItsOwnMismatchAndTheChainComesFirst) {
    auto other = devnet();
    other.code_hash = h(0x33);
    EXPECT_EQ(compare(devnet(), other), Mismatch::code);
    other.dispatcher = eth::parse_address("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512").value();
    EXPECT_EQ(compare(devnet(), other), Mismatch::dispatcher);
    other.genesis = h(0x44);  // a fresh devnet: same id, same address and code, another genesis
    EXPECT_EQ(compare(devnet(), other), Mismatch::genesis);
    other.chain_id = 8453;
    EXPECT_EQ(compare(devnet(), other), Mismatch::chain_id);
}

TEST(ChainIdentity, AFreshDevnetWithTheSameDeploymentIsAMismatch) {
    // `zeppelin devnet up` after `down` redeploys from the same account and nonce: same address,
    // same code; only the genesis tells the chains apart.
    auto fresh = devnet();
    fresh.genesis = h(0x55);
    EXPECT_EQ(compare(devnet(), fresh), Mismatch::genesis);
}

TEST(ChainIdentity, OnlyAResetChainOrVanishedCodeEndsTheRecordedAgreements) {
    EXPECT_TRUE(agreements_gone(Mismatch::genesis));
    EXPECT_TRUE(agreements_gone(Mismatch::code));
    EXPECT_FALSE(agreements_gone(Mismatch::none));
    EXPECT_FALSE(agreements_gone(Mismatch::chain_id));    // another chain: the recorded one may run elsewhere
    EXPECT_FALSE(agreements_gone(Mismatch::dispatcher));  // another deployment configured: the old one may be there
}

TEST(ChainIdentity, EmptyCodeHashIsKeccakOfNothing) {
    // keccak256("") — Ethereum's hash of empty code (Yellow Paper: an account without code).
    EXPECT_EQ(to_hex(empty_code_hash()), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(ChainIdentity, TheMessageNamesBothIdentitiesAndTheWayOut) {
    auto fresh = devnet();
    fresh.genesis = h(0x55);
    fresh.code_hash = empty_code_hash();
    const auto text = describe(Mismatch::genesis, devnet(), fresh);
    EXPECT_NE(text.find(to_hex(devnet().genesis)), std::string::npos) << text;
    EXPECT_NE(text.find(to_hex(fresh.genesis)), std::string::npos) << text;
    EXPECT_NE(text.find("started afresh"), std::string::npos) << text;
    EXPECT_NE(text.find("no code"), std::string::npos) << text;
    EXPECT_NE(text.find("--reset-chain"), std::string::npos) << text;
    EXPECT_NE(text.find("stopped acting"), std::string::npos) << text;

    auto elsewhere = devnet();
    elsewhere.chain_id = 8453;
    const auto other = describe(Mismatch::chain_id, devnet(), elsewhere);
    EXPECT_NE(other.find("id 8453, not 31337"), std::string::npos) << other;
    EXPECT_NE(other.find("left running"), std::string::npos) << other;
}

TEST(ChainIdentity, JsonRoundTripAndBadRecords) {
    const auto j = to_json(devnet());
    EXPECT_EQ(j["chain_id"], 31337);
    EXPECT_EQ(j["dispatcher"], "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    EXPECT_EQ(identity_from_json(j).value(), devnet());
    auto bad = j;
    bad.erase("genesis");
    EXPECT_FALSE(identity_from_json(bad));
    bad = j;
    bad["code_hash"] = "0x12";
    EXPECT_FALSE(identity_from_json(bad));
    EXPECT_FALSE(identity_from_json(nlohmann::json::array()));
}

TEST(ChainIdentity, RecordSurvivesReopeningTheStore) {
    test::TempDir dir;
    const auto path = (dir.path() / "state.sqlite").string();
    {
        auto s = Store::open(path).value();
        EXPECT_FALSE(load_identity(*s).value());
        save_identity(*s, devnet()).value();
    }
    auto s = Store::open(path).value();
    EXPECT_EQ(load_identity(*s).value(), devnet());
    s->set(kChainIdentityKey, "not json").value();
    EXPECT_FALSE(load_identity(*s));  // a damaged record is an error, never "nothing recorded"
}

TEST(ChainIdentity, ArchiveMovesTheStateAndNamesTheChain) {
    test::TempDir dir;
    {
        auto s = Store::open((dir.path() / "state.sqlite").string()).value();
        save_identity(*s, devnet()).value();
    }
    std::ofstream{dir.path() / "api-token"} << "kept\n";
    const auto dest = archive_state(dir.path(), devnet(), 1'800'000'000).value();
    EXPECT_EQ(dest.parent_path(), dir.path() / "archive");
    EXPECT_EQ(dest.filename().string(), "chain31337-11111111-20270115T080000Z");
    EXPECT_FALSE(fs::exists(dir.path() / "state.sqlite"));
    EXPECT_TRUE(fs::exists(dest / "state.sqlite"));
    EXPECT_TRUE(fs::exists(dir.path() / "api-token"));  // only the chain's state moves
    auto archived = Store::open((dest / "state.sqlite").string()).value();
    EXPECT_EQ(load_identity(*archived).value(), devnet());
    // A second reset in the same second gets its own directory.
    { auto s = Store::open((dir.path() / "state.sqlite").string()).value(); }
    const auto again = archive_state(dir.path(), devnet(), 1'800'000'000).value();
    EXPECT_NE(again, dest);
    EXPECT_TRUE(fs::exists(again / "state.sqlite"));
}

TEST(ChainGuard, HaltKeepsTheFirstReasonAndNeverResumesByItself) {
    ChainGuard g;
    EXPECT_FALSE(g.halted());
    EXPECT_FALSE(g.halt_state());
    auto fresh = devnet();
    fresh.genesis = h(0x55);
    g.halt({Mismatch::genesis, fresh, "first", false});
    g.halt({Mismatch::chain_id, devnet(), "second", false});
    EXPECT_TRUE(g.halted());
    EXPECT_EQ(g.halt_state()->message, "first");
    EXPECT_EQ(g.halt_state()->mismatch, Mismatch::genesis);
    EXPECT_FALSE(g.halt_state()->work_stopped);
    g.mark_work_stopped();
    EXPECT_TRUE(g.halt_state()->work_stopped);
}

TEST(ChainGuard, PeriodicCheckIsDueOncePerInterval) {
    ChainGuard g;
    const std::chrono::steady_clock::time_point t0{std::chrono::hours{1}};
    EXPECT_TRUE(g.check_due(t0));  // never checked
    g.mark_checked(t0);
    EXPECT_FALSE(g.check_due(t0 + ChainGuard::kCheckInterval - std::chrono::seconds{1}));
    EXPECT_TRUE(g.check_due(t0 + ChainGuard::kCheckInterval));
}

}  // namespace
}  // namespace zeppelin::node
