// TxSender's crash-safety hooks against a real anvil: before_broadcast sees every signed
// version before the node does (and can stop it), and a restarted process sends a journaled
// raw transaction again (rebroadcast) and waits for it (wait_for) without a duplicate.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "accounts.hpp"
#include "anvil.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"

namespace zeppelin::eth {
namespace {

using namespace std::chrono_literals;
using test::account;
using test::Anvil;
using test::key;

/// What a daemon's journal would hold: every version, and whether the node knew it when journaled.
struct Journal {
    std::vector<SignedTx> entries;
    std::vector<bool> known_to_node;
    bool fail{false};
};

SenderOptions journaling(RpcClient& rpc, Journal& journal) {
    auto o = test::fast_options();
    o.before_broadcast = [&rpc, &journal](const SignedTx& signed_tx, const Transaction& tx) -> Result<void> {
        EXPECT_EQ(keccak256(signed_tx.raw), signed_tx.hash);
        EXPECT_EQ(decode_transaction(signed_tx.raw).value().nonce, tx.nonce);
        journal.entries.push_back(signed_tx);
        journal.known_to_node.push_back(rpc.get_transaction(signed_tx.hash).value().has_value());
        if (journal.fail) return Error{Errc::io, "journal: disk full"};
        return {};
    };
    return o;
}

TEST(SenderJournal, HookSeesEachTransactionBeforeTheNode) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    Journal journal;
    auto sender = TxSender::create(*rpc, key(0), journaling(*rpc, journal)).value();
    for (std::uint64_t i = 0; i < 2; ++i) {
        auto sent = sender->send(TxRequest{account(1), 1, {}, std::nullopt});
        ASSERT_TRUE(sent) << sent.error().message();
        ASSERT_EQ(journal.entries.size(), i + 1);
        EXPECT_EQ(journal.entries.back().hash, sent->receipt.transaction_hash);
        EXPECT_FALSE(journal.known_to_node.back());
    }
}

// anvil mining only on demand, a journaling sender that replaces after 300 ms, and one
// transaction submitted: it stays pending until the test mines.
struct SenderJournalStuck : ::testing::Test {
    Anvil anvil;
    std::unique_ptr<RpcClient> rpc = RpcClient::connect(anvil.url()).value();
    Journal journal;
    std::unique_ptr<TxSender> sender;
    PendingTx pending;
    void SetUp() override {
        ASSERT_TRUE(anvil::set_automine(*rpc, false));
        auto options = journaling(*rpc, journal);
        options.resend_after = 300ms;
        sender = TxSender::create(*rpc, key(0), options).value();
        auto submitted = sender->submit(TxRequest{account(1), 777, {}, 21000});
        ASSERT_TRUE(submitted) << submitted.error().message();
        pending = std::move(*submitted);
    }
};

TEST_F(SenderJournalStuck, FeeBumpedReplacementsAreJournaledToo) {
    Result<SentTx> result{Error{Errc::internal, "not run"}};
    std::thread waiter{[&] { result = sender->wait(std::move(pending)); }};
    std::this_thread::sleep_for(1000ms);
    ASSERT_TRUE(anvil::mine(*rpc));
    waiter.join();
    ASSERT_TRUE(result) << result.error().message();
    ASSERT_GE(result->replacements, 1u);
    ASSERT_EQ(journal.entries.size(), result->hashes.size());
    for (std::size_t i = 0; i < journal.entries.size(); ++i) {
        EXPECT_EQ(journal.entries[i].hash, result->hashes[i]);
        EXPECT_FALSE(journal.known_to_node[i]);
    }
}

TEST(SenderJournal, HookErrorKeepsTheTransactionFromTheNodeAndTheNonceFree) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    Journal journal;
    journal.fail = true;
    auto sender = TxSender::create(*rpc, key(0), journaling(*rpc, journal)).value();
    auto refused = sender->send(TxRequest{account(1), 1, {}, 21000});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::io);
    EXPECT_NE(refused.error().message().find("journal: disk full"), std::string::npos) << refused.error().message();
    EXPECT_NE(refused.error().message().find("was not sent"), std::string::npos) << refused.error().message();
    ASSERT_EQ(journal.entries.size(), 1u);
    EXPECT_EQ(rpc->get_transaction(journal.entries[0].hash).value(), std::nullopt);
    EXPECT_EQ(rpc->get_transaction_count(account(0), BlockTag::pending()).value(), 0u);
    EXPECT_EQ(sender->next_nonce(), 0u);

    journal.fail = false;
    auto sent = sender->send(TxRequest{account(1), 1, {}, 21000});
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(sent->nonce, 0u);  // the refused transaction did not use it up
    EXPECT_EQ(journal.entries.back().hash, sent->receipt.transaction_hash);
}

TEST_F(SenderJournalStuck, ReplacementHookErrorEndsTheWaitAndKeepsTheReplacementFromTheNode) {
    journal.fail = true;  // the original is journaled and sent; its replacement cannot be journaled
    auto waited = sender->wait(std::move(pending));
    ASSERT_FALSE(waited);
    EXPECT_EQ(waited.error().code(), Errc::io);
    EXPECT_NE(waited.error().message().find("journal: disk full"), std::string::npos) << waited.error().message();
    EXPECT_NE(waited.error().message().find("was not sent"), std::string::npos) << waited.error().message();
    ASSERT_EQ(journal.entries.size(), 2u);
    EXPECT_TRUE(rpc->get_transaction(journal.entries[0].hash).value().has_value());
    EXPECT_EQ(rpc->get_transaction(journal.entries[1].hash).value(), std::nullopt);
}

TEST(SenderJournal, RestartedProcessFinishesAJournaledTransactionWithoutADuplicate) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(anvil::set_automine(*rpc, false));
    Journal journal;
    {
        // The first process journals nonce 0 and is killed before broadcasting it (the hook's
        // error stands in for kill -9 between journal write and eth_sendRawTransaction) ...
        journal.fail = true;
        auto first = TxSender::create(*rpc, key(0), journaling(*rpc, journal)).value();
        ASSERT_FALSE(first->submit(TxRequest{account(1), 11, {}, 21000}));
    }
    ASSERT_EQ(journal.entries.size(), 1u);
    const SignedTx lost = journal.entries[0];
    {
        // ... so the next process sends the journaled raw transaction, never a fresh one.
        auto second = TxSender::create(*rpc, key(0), test::fast_options()).value();
        auto hash = second->rebroadcast(lost.raw);
        ASSERT_TRUE(hash) << hash.error().message();
        EXPECT_EQ(*hash, lost.hash);
        // Killed again after the broadcast: sending it once more is harmless (already known).
        EXPECT_EQ(second->rebroadcast(lost.raw).value(), lost.hash);
    }
    auto third = TxSender::create(*rpc, key(0), test::fast_options()).value();
    EXPECT_EQ(third->rebroadcast(lost.raw).value(), lost.hash);
    Result<SentTx> waited{Error{Errc::internal, "not run"}};
    std::thread waiter{[&] { waited = third->wait_for(lost.hash); }};
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(anvil::mine(*rpc));
    waiter.join();
    ASSERT_TRUE(waited) << waited.error().message();
    EXPECT_EQ(waited->receipt.transaction_hash, lost.hash);
    EXPECT_EQ(waited->nonce, 0u);
    EXPECT_EQ(waited->replacements, 0u);

    // Mined: rebroadcasting it is still fine and creates nothing new.
    const auto head = rpc->block_number().value();
    EXPECT_EQ(third->rebroadcast(lost.raw).value(), lost.hash);
    ASSERT_TRUE(anvil::mine(*rpc));
    EXPECT_EQ(rpc->get_block_header(BlockTag::latest()).value().value().number, head + 1);
    EXPECT_EQ(rpc->get_transaction_count(account(0), BlockTag::pending()).value(), 1u);
    EXPECT_EQ(rpc->get_transaction_count(account(0)).value(), 1u);
    // Waiting for it again returns at once.
    EXPECT_EQ(third->wait_for(lost.hash).value().receipt.transaction_hash, lost.hash);
}

TEST(SenderJournal, RebroadcastRecognizesForeignAndStaleTransactions) {
    Anvil anvil;
    auto rpc = RpcClient::connect(anvil.url()).value();
    auto sender = TxSender::create(*rpc, key(0), test::fast_options()).value();
    ASSERT_TRUE(sender->send(TxRequest{account(1), 1, {}, 21000}));  // nonce 0 is used

    // A journaled version of nonce 0 that lost to the one that was mined.
    Transaction stale;
    stale.chain_id = test::kAnvilChainId;
    stale.nonce = 0;
    stale.max_priority_fee_per_gas = 1'000'000'000u;
    stale.max_fee_per_gas = 10'000'000'000u;
    stale.gas_limit = 21000;
    stale.to = account(2);
    const auto stale_signed = make_key_signer(key(0))(stale).value();
    auto r = sender->rebroadcast(stale_signed.raw);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_transaction);
    EXPECT_NE(r.error().message().find("nonce 0 of " + to_checksum(account(0)) + " was used by another transaction"),
              std::string::npos)
        << r.error().message();
    auto wait_stale = sender->wait_for(stale_signed.hash);  // the node never saw it
    ASSERT_FALSE(wait_stale);
    EXPECT_EQ(wait_stale.error().code(), Errc::not_found);

    // Another account's transaction is not this sender's to send.
    const auto foreign = make_key_signer(key(1))(stale).value();
    auto f = sender->rebroadcast(foreign.raw);
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(sender->rebroadcast(Bytes{0x02, 0xc0}));  // not a transaction

    // The sender's own nonce bookkeeping is unaffected.
    auto next = sender->send(TxRequest{account(1), 1, {}, 21000});
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(next->nonce, 1u);
}

}  // namespace
}  // namespace zeppelin::eth
