// The node's durable state: agreements, the transaction journal, seen messages, probes, settings;
// and that it all survives closing and reopening the database (what a restart after kill -9 sees).
#include "zeppelin/node/store.hpp"

#include <gtest/gtest.h>

#include "support/test_image.hpp"

namespace zeppelin::node {
namespace {

TEST(Store, AgreementsPersistAcrossReopen) {
    test::TempDir dir;
    const auto path = (dir.path() / "state.sqlite").string();
    {
        auto s = Store::open(path).value();
        LocalAgreement a;
        a.id = 5;
        a.role = Role::worker;
        a.phase = Phase::accepted;
        a.rec.container = "abc";
        s->put(a).value();
        a.id = 6;
        a.role = Role::verifier;
        a.phase = Phase::done;
        s->put(a).value();
    }
    auto s = Store::open(path).value();
    const auto a = s->get(5).value();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->role, Role::worker);
    EXPECT_EQ(a->phase, Phase::accepted);
    EXPECT_EQ(a->rec.container, "abc");
    EXPECT_FALSE(s->get(7).value());
    EXPECT_EQ(s->list(true).value().size(), 2U);
    EXPECT_EQ(s->list(false).value().size(), 1U) << "finished agreements are not open";
}

TEST(Store, JournalKeepsEveryVersionAndItsStatus) {
    test::TempDir dir;
    auto s = Store::open((dir.path() / "state.sqlite").string()).value();
    JournalTx t;
    t.hash.bytes[0] = 1;
    t.agreement_id = 3;
    t.action = "accept";
    t.nonce = 9;
    t.raw = {0x02, 0xf8};
    s->journal(t).value();
    auto bump = t;
    bump.hash.bytes[0] = 2;
    s->journal(bump).value();
    EXPECT_EQ(s->txs(TxStatus::pending).value().size(), 2U);
    s->set_tx_status(bump.hash, TxStatus::mined).value();
    s->set_tx_status(t.hash, TxStatus::replaced).value();
    const auto mine = s->txs_for(3, "accept").value();
    ASSERT_EQ(mine.size(), 2U);
    EXPECT_EQ(mine[0].hash, bump.hash) << "newest first";
    EXPECT_EQ(mine[0].status, TxStatus::mined);
    EXPECT_EQ(mine[0].raw, t.raw);
    EXPECT_TRUE(s->txs(TxStatus::pending).value().empty());
    EXPECT_TRUE(s->txs_for(3, "start").value().empty());
    EXPECT_EQ(s->txs_of(3).value().size(), 2U);
    EXPECT_TRUE(s->txs_of(4).value().empty());
}

TEST(Store, KnownAgreementsKeepTheirPurchase) {
    test::TempDir dir;
    auto s = Store::open((dir.path() / "state.sqlite").string()).value();
    EXPECT_FALSE(s->get_known(9).value());
    KnownAgreement k;
    k.id = 9;
    k.buy_tx.bytes[31] = 7;
    k.created_block = 123;
    k.requirements = {{"cpu_millicores", 500}, {"image_digest", "0xab"}};
    s->put_known(k).value();
    const auto back = s->get_known(9).value();
    ASSERT_TRUE(back);
    EXPECT_EQ(back->buy_tx, k.buy_tx);
    EXPECT_EQ(back->created_block, 123U);
    EXPECT_EQ(back->requirements, k.requirements);
}

TEST(Store, MessagesAreSeenOnce) {
    test::TempDir dir;
    auto s = Store::open((dir.path() / "state.sqlite").string()).value();
    EXPECT_FALSE(s->seen("0xaa:1").value());
    EXPECT_TRUE(s->mark_seen("0xaa:1").value());
    EXPECT_TRUE(s->seen("0xaa:1").value());
    EXPECT_FALSE(s->mark_seen("0xaa:1").value());
}

TEST(Store, ProbesAndSettings) {
    test::TempDir dir;
    auto s = Store::open((dir.path() / "state.sqlite").string()).value();
    s->add_probe(1, {0, true, "HTTP 200", 10}).value();
    s->add_probe(1, {1, false, "connection refused", 20}).value();
    s->add_probe(2, {0, true, "ok", 30}).value();
    const auto p = s->probes(1).value();
    ASSERT_EQ(p.size(), 2U);
    EXPECT_FALSE(p[1].ok);
    EXPECT_EQ(p[1].detail, "connection refused");
    EXPECT_FALSE(s->setting("x").value());
    s->set("x", "1").value();
    s->set("x", "2").value();
    EXPECT_EQ(s->setting("x").value().value(), "2");
}

TEST(Store, RolesParse) {
    for (auto r : {Role::client, Role::worker, Role::verifier}) EXPECT_EQ(parse_role(to_string(r)).value(), r);
    EXPECT_FALSE(parse_role("admin"));
}

}  // namespace
}  // namespace zeppelin::node
