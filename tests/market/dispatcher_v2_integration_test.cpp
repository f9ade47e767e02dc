// Protocol v2 through the market library on a real anvil: deploy WorkerDispatcherV2 (and its
// registry module), register four workers, and walk whole agreements the way the nodes will:
// buy with a salted spec commit, the draw a block later, accept carrying the offer envelope,
// start carrying the endpoint, the verifier draw carrying one envelope per verifier, batched
// reports (two confirmations and one report with abstentions), settlement with the refund paid at once; and a
// worker rejecting a spec by revealing it. Every emitted event is decoded into its typed struct;
// views and money are checked to the wei; each transaction's gas is printed by kind.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "accounts.hpp"
#include "anvil.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/market/protocol_v2.hpp"

namespace zeppelin::market::v2 {
namespace {

using test::Anvil;
using test::fast_options;
using test::key;

const u256 kEther{1'000'000'000'000'000'000ULL};

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

template <class E>
std::vector<E> of_type(const std::vector<EventRecord>& records) {
    std::vector<E> out;
    for (const auto& r : records)
        if (const auto* e = std::get_if<E>(&r.event)) out.push_back(*e);
    return out;
}

struct Market {
    Anvil anvil;
    std::unique_ptr<eth::RpcClient> rpc;
    std::vector<std::unique_ptr<eth::TxSender>> senders;  // 0: client, 1..4: workers
    Deployed deployed;
    std::unique_ptr<Dispatcher> d;
    std::map<std::string, std::uint64_t> gas;  // by transaction kind
    std::map<std::uint64_t, std::size_t> account_of;  // worker id -> sender index

    Market() {
        rpc = eth::RpcClient::connect(anvil.url()).value();
        EXPECT_TRUE(add_errors_to(*rpc));
        for (std::size_t i = 0; i < 5; ++i) senders.push_back(eth::TxSender::create(*rpc, key(i), fast_options()).value());
        auto dep = deploy(*rpc, *senders[0], Config::devnet_defaults());
        if (!dep) throw std::runtime_error(dep.error().message());
        deployed = *dep;
        d = std::make_unique<Dispatcher>(*rpc, deployed.address);
    }

    std::vector<EventRecord> send(std::size_t who, const std::string& kind, Bytes data, const u256& value = 0) {
        auto sent = senders[who]->send(d->tx(std::move(data), value));
        if (!sent) throw std::runtime_error(kind + ": " + sent.error().message());
        EXPECT_TRUE(sent->receipt.status) << kind;
        gas[kind] += sent->receipt.gas_used;
        return decode_events(d->address(), sent->receipt.logs).value();
    }
    std::size_t sender_of(std::uint64_t worker_id) { return account_of.at(worker_id); }
    /// Money the contract holds for someone: every stake and every credit.
    u256 owed(const std::vector<Address>& accounts) {
        u256 total = 0;
        for (std::uint64_t w = 1; w <= d->worker_count().value(); ++w) total += d->get_worker(w).value().stake;
        for (const auto& a : accounts) total += d->credit_of(a).value();
        return total;
    }
};

Requirements job(const Hash32& commit) {
    Requirements r;
    r.cpu_millicores = 500;
    r.memory_mb = 256;
    r.duration = 60;
    r.period_seconds = 10;
    r.max_price_per_second = 10'000'000'000;  // 10 gwei/s
    r.verifiers = 3;
    r.image_digest[0] = 0xab;
    r.spec_commit = commit;
    return r;
}

void register_workers(Market& m) {
    for (std::size_t i = 1; i <= 4; ++i) {
        const auto pub = key(i).public_key();
        const WorkerOffer offer{1'000'000'000 * i, 86400, 2000, 4096, Bytes(pub.begin(), pub.end())};
        const auto evs = m.send(i, "registerWorker", calls::register_worker(offer), kEther);
        const auto reg = of_type<WorkerRegistered>(evs);
        ASSERT_EQ(reg.size(), 1U);
        EXPECT_EQ(reg[0].offer, offer);
        m.account_of[reg[0].worker_id] = i;
    }
    ASSERT_TRUE(eth::anvil::mine(*m.rpc, 1));  // registrations before the purchase's block
}

TEST(DispatcherV2, DeployedAsEmbeddedWithItsConfigAndConstants) {
    Market m;
    EXPECT_EQ(m.d->config().value(), Config::devnet_defaults());
    EXPECT_LE(dispatcher_v2_runtime_code().size(), 24'576U);  // EIP-170
    EXPECT_EQ(m.d->worker_count().value(), 0U);
    // An unknown agreement reads as none; a purchase before any worker reverts in words.
    EXPECT_EQ(m.d->get_agreement(9).value().status, AgreementStatus::none);
    auto tx = m.d->buy_contract_tx(m.senders[0]->from(), job(spec_commit(text("{}"), Hash32{})));
    ASSERT_TRUE(tx) << tx.error().message();  // the draw happens later: a purchase needs no worker yet
    Requirements bad = job(Hash32{});
    bad.verifiers = 2;
    auto refused = m.d->buy_contract_tx(m.senders[0]->from(), bad);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("InvalidRequirements"), std::string::npos) << refused.error().message();
}

TEST(DispatcherV2, AWholeAgreementAsTheNodesWillRunIt) {
    Market m;
    register_workers(m);
    const auto client = m.senders[0]->from();
    const auto spec = text(R"({"kind":"http","path":"/","status":200})");
    Hash32 salt{};
    salt[7] = 0x42;
    const auto req = job(spec_commit(spec, salt));
    const u256 deposit = m.d->quote(req).value();
    const u256 contract_before = m.rpc->get_balance(m.d->address()).value();

    // Buy: the worker is drawn from a block after the purchase.
    auto evs = m.send(0, "buyContract", calls::buy_contract(req), deposit);
    const auto bought = of_type<AgreementPurchased>(evs).at(0);
    EXPECT_EQ(bought.requirements, req);
    EXPECT_EQ(bought.deposit, deposit);
    const auto id = bought.agreement_id;
    EXPECT_EQ(m.d->preview_worker(id).value(), 0U);  // the next block is the draw block: no hash yet
    ASSERT_TRUE(eth::anvil::mine(*m.rpc, 1));
    const auto worker = m.d->preview_worker(id).value();
    ASSERT_NE(worker, 0U);
    const auto w = m.sender_of(worker);

    // Accept carries the transfer offer to the client.
    const auto offer = pack_envelopes({text("sealed offer for the client")}).value();
    evs = m.send(w, "acceptAgreement", calls::accept_agreement(id, offer));
    ASSERT_EQ(of_type<WorkerDrawn>(evs).size(), 1U);  // the accept executed the draw
    const auto accepted = of_type<AgreementAccepted>(evs).at(0);
    EXPECT_EQ(accepted.worker_id, worker);
    auto posted = of_type<MessagePosted>(evs).at(0);
    EXPECT_EQ(posted.recipients, kClientBit);
    EXPECT_EQ(*envelope_for(kClientBit, kClientBit, posted.envelopes).value(), text("sealed offer for the client"));
    auto view = m.d->get_agreement(id).value();
    EXPECT_EQ(view.status, AgreementStatus::accepted);
    EXPECT_EQ(view.worker_lock, accepted.locked);
    EXPECT_EQ(view.spec_commit, req.spec_commit);

    // Start carries the endpoint to the client; verifiers are drawn from a later block, and the
    // worker's drawVerifiers carries the spec and endpoint to each of them.
    evs = m.send(w, "startAgreement", calls::start_agreement(id, pack_envelopes({text("endpoint")}).value()));
    ASSERT_EQ(of_type<AgreementStarted>(evs).size(), 1U);
    ASSERT_TRUE(eth::anvil::mine(*m.rpc, 1));
    const auto preview = m.d->preview_verifiers(id).value();
    ASSERT_EQ(preview.size(), 3U);
    evs = m.send(w, "drawVerifiers",
                 calls::draw_verifiers(id, pack_envelopes({text("v0"), text("v1"), text("v2")}).value()));
    const auto drawn = of_type<VerifiersDrawn>(evs).at(0);
    EXPECT_EQ(drawn.verifier_ids, preview);
    posted = of_type<MessagePosted>(evs).at(0);
    EXPECT_EQ(posted.recipients, all_verifiers(3));
    EXPECT_EQ(*envelope_for(all_verifiers(3), verifier_bit(2), posted.envelopes).value(), text("v2"));
    view = m.d->get_agreement(id).value();
    EXPECT_EQ(view.status, AgreementStatus::running);
    EXPECT_EQ(view.started_at(), drawn.started_at);
    EXPECT_EQ(view.verifier_ids, drawn.verifier_ids);

    // A report before the batch ended is refused with the second it opens.
    const auto v0 = m.sender_of(drawn.verifier_ids[0]);
    const auto early = m.d->simulate(m.senders[v0]->from(), calls::confirm_batch(id, 0)).value();
    ASSERT_TRUE(early.reverted);
    EXPECT_EQ(early.revert.error_name, "ReportTooEarly");
    EXPECT_EQ(early.revert.args.at(1).number, report_opens_at(drawn.started_at, 10, 6, 0));

    // After the last period: two confirmations and one report that abstains on two periods.
    ASSERT_TRUE(eth::anvil::increase_time(*m.rpc, 61));
    ASSERT_TRUE(eth::anvil::mine(*m.rpc, 1));
    m.send(v0, "confirmBatch", calls::confirm_batch(id, 0));
    m.send(m.sender_of(drawn.verifier_ids[1]), "confirmBatch", calls::confirm_batch(id, 0));
    const auto report = report_batch(0, 6, [](std::uint64_t p) { return p == 2 || p == 3 ? Vote::abstain : Vote::ok; });
    ASSERT_FALSE(report.confirm);
    const auto v2 = m.sender_of(drawn.verifier_ids[2]);
    evs = m.send(v2, "submitReport", calls::submit_report(id, 0, report.ok_words, report.voted_words));
    EXPECT_EQ(of_type<BatchReported>(evs).at(0).voted_words, report.voted_words);
    const auto read = m.d->get_report(id, 0, 2).value();
    EXPECT_TRUE(read.submitted);
    EXPECT_EQ(read.voted_bits, report.voted_words[0]);
    EXPECT_TRUE(m.d->get_report(id, 0, 0).value().submitted);  // a confirmation reads as all ok

    // Settlement: every period paid; the abstaining verifier earns for 4 votes and loses nothing.
    evs = m.send(0, "settle", calls::settle(id));
    const auto settled = of_type<AgreementSettled>(evs).at(0);
    EXPECT_EQ(settled.paid_periods, 6U);
    EXPECT_EQ(settled.failed_periods, 0U);
    EXPECT_EQ(settled.burned, 0);
    const u256 period_price = u256{view.price_per_second} * 10;
    EXPECT_EQ(settled.worker_payment, period_price * 6);
    const u256 reward = period_price * 500 / 10'000;
    const auto paid = of_type<VerifierSettled>(evs);
    ASSERT_EQ(paid.size(), 3U);
    EXPECT_EQ(paid[0].reward, reward * 6);
    EXPECT_EQ(paid[2].reward, reward * 4);
    EXPECT_EQ(paid[2].penalty, 0);
    EXPECT_EQ(paid[2].silent_periods, 0U);
    EXPECT_EQ(settled.client_refund, deposit - settled.worker_payment - reward * 16);
    EXPECT_EQ(m.d->get_worker(worker).value().stake, kEther + settled.worker_payment);
    EXPECT_EQ(m.d->get_worker(worker).value().locked, 0);
    EXPECT_EQ(m.d->get_agreement(id).value().status, AgreementStatus::settled);

    // The client's refund left with the settlement (an account takes it at once): no credit, no
    // withdraw; the contract holds exactly what it owes.
    EXPECT_EQ(of_type<Withdrawn>(evs).at(0).account, client);
    EXPECT_EQ(of_type<Withdrawn>(evs).at(0).amount, settled.client_refund);
    EXPECT_EQ(m.d->credit_of(client).value(), 0);
    EXPECT_EQ(m.rpc->get_balance(m.d->address()).value(), contract_before + deposit - settled.client_refund);
    EXPECT_EQ(m.owed({client}), contract_before + deposit - settled.client_refund);

    std::uint64_t total = 0;
    for (const auto& [kind, g] : m.gas)
        if (kind != "registerWorker") total += g;
    std::printf("v2 agreement through the bindings (6 periods, 3 verifiers), gas by transaction kind:\n");
    for (const auto& [kind, g] : m.gas) std::printf("  %-16s %9llu\n", kind.c_str(), static_cast<unsigned long long>(g));
    std::printf("  %-16s %9llu  (all but registration)\n", "total", static_cast<unsigned long long>(total));
}

TEST(DispatcherV2, AWorkerRejectsASpecByRevealingItAndNobodyPays) {
    Market m;
    register_workers(m);
    const auto spec = text(R"({"kind":"http","path":"/never","status":200})");
    Hash32 salt{};
    salt[0] = 9;
    const auto req = job(spec_commit(spec, salt));
    const u256 deposit = m.d->quote(req).value();
    auto evs = m.send(0, "buyContract", calls::buy_contract(req), deposit);
    const auto id = of_type<AgreementPurchased>(evs).at(0).agreement_id;
    ASSERT_TRUE(eth::anvil::mine(*m.rpc, 1));
    const auto worker = m.d->preview_worker(id).value();
    const auto w = m.sender_of(worker);
    m.send(w, "acceptAgreement", calls::accept_agreement(id, {}));
    const u256 stake = m.d->get_worker(worker).value().stake;

    // The C++ commit is the contract's: a wrong salt does not open it.
    const auto wrong = m.d->simulate(m.senders[w]->from(), calls::reject_spec(id, spec, Hash32{})).value();
    ASSERT_TRUE(wrong.reverted);
    EXPECT_EQ(wrong.revert.error_name, "SpecMismatch");
    evs = m.send(w, "rejectSpec", calls::reject_spec(id, spec, salt));
    const auto rejected = of_type<SpecRejected>(evs).at(0);
    EXPECT_EQ(rejected.spec, spec);
    EXPECT_EQ(rejected.salt, salt);
    const auto ended = of_type<AgreementEnded>(evs).at(0);
    EXPECT_EQ(ended.reason, EndReason::spec_rejected);
    EXPECT_EQ(ended.client_refund, deposit);
    EXPECT_EQ(ended.burned, 0);
    EXPECT_EQ(m.d->get_worker(worker).value().stake, stake);
    EXPECT_EQ(m.d->get_worker(worker).value().locked, 0);
    EXPECT_EQ(m.d->reputation_counters(worker).value().specs_rejected, 1U);
}

}  // namespace
}  // namespace zeppelin::market::v2
