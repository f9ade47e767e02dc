// WorkerDispatcher through the market library on a real anvil: deploy, register three workers,
// a whole agreement lifecycle (buy, accept, start, message, reports, redeem, refund), every
// emitted event decoded into its typed struct, views checked against the events, and reverts
// decoded into the contract's custom errors with their arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "accounts.hpp"
#include "anvil.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/rpc_anvil.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/dispatcher.hpp"

namespace zeppelin::market {
namespace {

using namespace std::chrono_literals;
using test::Anvil;
using test::kAnvilAccounts;

using test::key;
u256 ether(std::string_view text) { return parse_amount(text).value(); }
using test::fast_options;

template <class E>
std::vector<E> of_type(const std::vector<EventRecord>& records) {
    std::vector<E> out;
    for (const auto& r : records)
        if (const auto* e = std::get_if<E>(&r.event)) out.push_back(*e);
    return out;
}

std::vector<EventRecord> events_of(const Deployed& d, const eth::SentTx& sent) {
    EXPECT_TRUE(sent.receipt.status);
    return decode_events(d.address, sent.receipt.logs).value();
}

WorkerOffer offer_for(std::size_t account, std::uint64_t price) {
    const auto pub = key(account).public_key();
    return WorkerOffer{price, 86400, 4000, 8192, Bytes(pub.begin(), pub.end())};
}

Requirements small_job() {
    Requirements r;
    r.cpu_millicores = 1000;
    r.memory_mb = 1024;
    r.duration = 20;
    r.period_seconds = 10;
    r.max_price_per_second = 1'000'000'000;  // 1 gwei / s
    r.verifiers = 2;
    r.image_digest = Hash32{};
    r.image_digest[0] = 0xab;
    r.probe_spec_hash[31] = 0xcd;
    return r;
}

TEST(Artifact, EmbeddedAbiHasEveryFunctionEventAndError) {
    const auto& abi = worker_dispatcher_abi();
    EXPECT_NE(abi.function("buyContract"), nullptr);
    EXPECT_EQ(abi.events.size(), 20u);
    EXPECT_EQ(event_topics().size(), 20u);
    EXPECT_NE(abi.error("NoEligibleWorker"), nullptr);
    EXPECT_GT(worker_dispatcher_creation_code().size(), 10'000u);
    EXPECT_LE(worker_dispatcher_runtime_code().size(), 24'576u);  // EIP-170
}

TEST(Dispatcher, DeployRegisterBuyAndDecodeEveryEvent) {
    Anvil anvil;
    auto rpc = eth::RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(add_errors_to(*rpc));
    std::vector<std::unique_ptr<eth::TxSender>> senders;
    for (std::size_t i = 0; i < 4; ++i) senders.push_back(eth::TxSender::create(*rpc, key(i), fast_options()).value());
    auto& client = *senders[0];

    // Deploy through the library.
    const auto config = DispatcherConfig::production_defaults();
    auto deployed = deploy_dispatcher(*rpc, client, config);
    ASSERT_TRUE(deployed) << deployed.error().message();
    Dispatcher d{*rpc, deployed->address};
    EXPECT_EQ(d.config().value(), config);
    // Same length as the artifact's runtime code (the constructor fills immutables in, so not equal bytes).
    EXPECT_EQ(rpc->get_code(d.address()).value().size(), worker_dispatcher_runtime_code().size());
    EXPECT_EQ(d.worker_count().value(), 0u);

    // No worker yet: the purchase reverts with NoEligibleWorker(activeWorkers = 0).
    const Requirements req = small_job();
    const u256 price = d.quote(req).value();
    {
        auto sim = d.simulate(client.from(), calls::buy_contract(req), price).value();
        ASSERT_TRUE(sim.reverted);
        EXPECT_EQ(sim.revert.kind, eth::Revert::Kind::custom);
        EXPECT_EQ(sim.revert.error_name, "NoEligibleWorker");
        ASSERT_EQ(sim.revert.args.size(), 1u);
        EXPECT_EQ(sim.revert.args[0].number, 0);
        EXPECT_NE(sim.revert.text.find("NoEligibleWorker"), std::string::npos) << sim.revert.text;
        auto tx = d.buy_contract_tx(client.from(), req);
        ASSERT_FALSE(tx);
        EXPECT_EQ(tx.error().code(), Errc::reverted);
        EXPECT_NE(tx.error().message().find("NoEligibleWorker"), std::string::npos) << tx.error().message();
    }

    // Three workers (accounts 1..3), different prices.
    std::vector<EventRecord> all;
    std::map<std::uint64_t, std::size_t> account_of_worker;
    for (std::size_t i = 1; i <= 3; ++i) {
        const auto offer = offer_for(i, 100'000'000 * i);
        auto sent = senders[i]->send(d.tx(calls::register_worker(offer), ether("2ether")));
        ASSERT_TRUE(sent) << sent.error().message();
        const auto evs = events_of(*deployed, *sent);
        ASSERT_EQ(evs.size(), 1u);
        const auto& reg = std::get<WorkerRegistered>(evs[0].event);
        EXPECT_EQ(reg.worker_id, i);
        EXPECT_EQ(reg.owner, key(i).address());
        EXPECT_EQ(reg.offer, offer);
        EXPECT_EQ(reg.stake, ether("2ether"));
        EXPECT_EQ(event_name(evs[0].event), "WorkerRegistered");
        account_of_worker[reg.worker_id] = i;
        all.insert(all.end(), evs.begin(), evs.end());
    }
    EXPECT_EQ(d.worker_count().value(), 3u);
    EXPECT_EQ(d.worker_id_of(key(2).address()).value(), 2u);
    const auto w2 = d.get_worker(2).value();
    EXPECT_EQ(w2.owner, key(2).address());
    EXPECT_EQ(w2.status, WorkerStatus::active);
    EXPECT_TRUE(w2.assignable);
    EXPECT_EQ(w2.stake, ether("2ether"));
    EXPECT_EQ(w2.public_key, offer_for(2, 0).public_key);
    EXPECT_EQ(d.reputation_of(2).value(), 500u);
    EXPECT_EQ(d.reputation_counters(2).value(), Reputation{});

    // Pause / resume / add stake / update.
    {
        auto s = senders[3]->send(d.tx(calls::pause_worker())).value();
        EXPECT_EQ(std::get<WorkerPaused>(events_of(*deployed, s).at(0).event).worker_id, 3u);
        EXPECT_EQ(d.get_worker(3).value().status, WorkerStatus::paused);
        s = senders[3]->send(d.tx(calls::resume_worker())).value();
        EXPECT_EQ(std::get<WorkerResumed>(events_of(*deployed, s).at(0).event).worker_id, 3u);
        s = senders[3]->send(d.tx(calls::add_stake(), ether("1ether"))).value();
        const auto added = std::get<StakeAdded>(events_of(*deployed, s).at(0).event);
        EXPECT_EQ(added.amount, ether("1ether"));
        EXPECT_EQ(added.stake, ether("3ether"));
        s = senders[3]->send(d.tx(calls::update_worker(offer_for(3, 300'000'000)))).value();
        EXPECT_EQ(std::get<WorkerUpdated>(events_of(*deployed, s).at(0).event).offer, offer_for(3, 300'000'000));
    }

    // WrongPayment(sent, required) for a deposit one wei short.
    {
        auto sim = d.simulate(client.from(), calls::buy_contract(req), price - 1).value();
        ASSERT_TRUE(sim.reverted);
        EXPECT_EQ(sim.revert.error_name, "WrongPayment");
        ASSERT_EQ(sim.revert.args.size(), 2u);
        EXPECT_EQ(sim.revert.args[0].number, price - 1);
        EXPECT_EQ(sim.revert.args[1].number, price);
        EXPECT_EQ(sim.revert.text, "WrongPayment(sent: " + to_dec(price - 1) + ", required: " + to_dec(price) + ")");
    }

    // buyContract: one worker and two verifiers, i.e. all three.
    auto buy = d.buy_contract_tx(client.from(), req);
    ASSERT_TRUE(buy) << buy.error().message();
    EXPECT_EQ(buy->value, price);
    auto bought = client.send(*buy);
    ASSERT_TRUE(bought) << bought.error().message();
    auto evs = events_of(*deployed, *bought);
    ASSERT_EQ(evs.size(), 1u);
    const auto created = std::get<AgreementCreated>(evs[0].event);
    EXPECT_EQ(created.agreement_id, 1u);
    EXPECT_EQ(created.client, client.from());
    EXPECT_EQ(created.requirements, req);
    EXPECT_EQ(created.deposit, price);
    EXPECT_EQ(created.verifier_ids.size(), 2u);
    std::set<std::uint64_t> parties{created.worker_id, created.verifier_ids[0], created.verifier_ids[1]};
    EXPECT_EQ(parties, (std::set<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(evs[0].transaction_hash, bought->receipt.transaction_hash);
    all.insert(all.end(), evs.begin(), evs.end());

    const auto agreement = d.get_agreement(created.agreement_id).value();
    EXPECT_EQ(agreement.client, client.from());
    EXPECT_EQ(agreement.status, AgreementStatus::assigned);
    EXPECT_EQ(agreement.worker_id, created.worker_id);
    EXPECT_EQ(agreement.verifier_ids, created.verifier_ids);
    EXPECT_EQ(agreement.price_per_second, created.price_per_second);
    EXPECT_EQ(agreement.max_price_per_second, req.max_price_per_second);
    EXPECT_EQ(agreement.period_seconds, 10u);
    EXPECT_EQ(agreement.periods, 2u);
    EXPECT_EQ(agreement.accept_deadline, created.accept_deadline);
    EXPECT_EQ(agreement.deposit, price);
    EXPECT_EQ(d.agreement_count().value(), 1u);

    // Unknown agreement: a typed revert through the views too.
    auto unknown = d.get_agreement(99);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), Errc::reverted);
    EXPECT_NE(unknown.error().message().find("UnknownAgreement(agreementId: 99)"), std::string::npos)
        << unknown.error().message();

    // The rest of the lifecycle by the assigned worker and verifiers.
    const std::uint64_t id = created.agreement_id;
    auto& worker = *senders[account_of_worker[created.worker_id]];
    // Someone else cannot accept: NotWorker(agreementId, caller).
    {
        auto& other = *senders[account_of_worker[created.verifier_ids[0]]];
        auto sim = d.simulate(other.from(), calls::accept_agreement(id)).value();
        ASSERT_TRUE(sim.reverted);
        EXPECT_EQ(sim.revert.error_name, "NotWorker");
        EXPECT_EQ(sim.revert.args.at(1).as_address(), other.from());
    }
    auto step = [&](eth::TxSender& s, Bytes data) {
        auto sent = s.send(d.tx(std::move(data)));
        EXPECT_TRUE(sent) << sent.error().message();
        auto e = events_of(*deployed, *sent);
        all.insert(all.end(), e.begin(), e.end());
        return e;
    };
    auto e = step(worker, calls::accept_agreement(id));
    EXPECT_EQ(std::get<AgreementAccepted>(e.at(0).event).agreement_id, id);
    e = step(worker, calls::start_agreement(id));
    const auto started = std::get<AgreementStarted>(e.at(0).event);
    EXPECT_EQ(d.get_agreement(id).value().started_at, started.started_at);
    const Bytes secret{1, 2, 3, 4, 5};
    e = step(client, calls::post_message(id, worker.from(), secret));
    const auto msg = std::get<MessagePosted>(e.at(0).event);
    EXPECT_EQ(msg.sender, client.from());
    EXPECT_EQ(msg.recipient, worker.from());
    EXPECT_EQ(msg.ciphertext, secret);

    ASSERT_TRUE(eth::anvil::increase_time(*rpc, 25));
    ASSERT_TRUE(eth::anvil::mine(*rpc));
    for (auto vid : created.verifier_ids) {
        e = step(*senders[account_of_worker[vid]], calls::provide_verification(id, 0, 3, 3));
        const auto v = std::get<VerificationProvided>(e.at(0).event);
        EXPECT_EQ(v.verifier_id, vid);
        EXPECT_EQ(v.ok_bits, 3);
        EXPECT_EQ(v.reported_bits, 3);
    }
    e = step(worker, calls::redeem_payment(id));
    ASSERT_EQ(e.size(), 2u);
    const auto settled = std::get<AgreementSettled>(e[0].event);
    EXPECT_EQ(settled.paid_periods, 2u);
    EXPECT_EQ(settled.failed_periods, 0u);
    EXPECT_EQ(settled.worker_payment, u256{created.price_per_second} * 20);
    const auto redeemed = std::get<PaymentRedeemed>(e[1].event);
    EXPECT_EQ(redeemed.amount, settled.worker_payment);
    EXPECT_EQ(redeemed.worker, worker.from());
    e = step(client, calls::claim_refund(id));
    const auto refund = std::get<RefundClaimed>(e.at(0).event);
    EXPECT_EQ(refund.amount, settled.client_refund);
    const auto final_view = d.get_agreement(id).value();
    EXPECT_EQ(final_view.status, AgreementStatus::settled);
    EXPECT_TRUE(final_view.worker_redeemed);
    EXPECT_TRUE(final_view.client_refunded);
    EXPECT_EQ(final_view.client_refund, settled.client_refund);
    EXPECT_EQ(d.reputation_counters(created.worker_id).value().verified_periods, 2u);

    // Rebuilding from eth_getLogs gives the same events as the receipts, in order.
    eth::LogFilter filter;
    filter.from_block = deployed->block_number;
    filter.to_block = rpc->block_number().value();
    filter.addresses = {d.address()};
    filter.topics = {event_topics()};
    const auto logs = rpc->get_logs(filter).value();
    const auto rebuilt = decode_events(d.address(), logs).value();
    // `all` lacks the pause/resume/stake/update events (checked above); compare the rest.
    std::vector<std::string_view> names;
    for (const auto& r : rebuilt) names.push_back(event_name(r.event));
    EXPECT_EQ(std::count(names.begin(), names.end(), "WorkerRegistered"), 3);
    EXPECT_EQ(std::count(names.begin(), names.end(), "VerificationProvided"), 2);
    EXPECT_EQ(rebuilt.size(), all.size() + 4);
    EXPECT_EQ(of_type<AgreementCreated>(rebuilt).at(0).verifier_ids, created.verifier_ids);

    // A foreign log is not_found, a malformed one abi_decode.
    eth::Log foreign;
    foreign.topics = {Hash32{}};
    EXPECT_EQ(decode_event(foreign).error().code(), Errc::not_found);
    eth::Log bad = logs.front();
    bad.data.resize(3);
    EXPECT_EQ(decode_event(bad).error().code(), Errc::abi_decode);
}


// The paths the first test does not take: decline + reassignment, cancel (refund), stop, a
// failed report (slashing), unregistering and withdrawing the stake. Together the two tests
// see all 20 event kinds on chain.
TEST(Dispatcher, SimulatesAtTheNextBlocksTime) {
    // anvil mines only when a transaction comes: after time passed with no transaction, the latest
    // block is old. A call is judged at the time of the block that would include it ("pending"),
    // so a deadline that has passed in real time has passed for simulate() too.
    Anvil anvil;
    auto rpc = eth::RpcClient::connect(anvil.url()).value();
    ASSERT_TRUE(add_errors_to(*rpc));
    auto client = eth::TxSender::create(*rpc, key(0), fast_options()).value();
    auto deployed = deploy_dispatcher(*rpc, *client, DispatcherConfig::production_defaults()).value();
    Dispatcher d{*rpc, deployed.address};
    for (std::size_t i = 1; i <= 2; ++i) {  // a worker and a verifier
        auto w = eth::TxSender::create(*rpc, key(i), fast_options()).value();
        ASSERT_TRUE(w->send(d.tx(calls::register_worker(offer_for(i, 1000)), ether("2ether"))));
    }
    Requirements req = small_job();
    req.verifiers = 1;
    const auto sent = client->send(d.buy_contract_tx(client->from(), req).value()).value();
    const auto a = std::get<AgreementCreated>(events_of(deployed, sent).at(0).event);
    const auto before = d.simulate(client->from(), calls::reassign_agreement(a.agreement_id)).value();
    ASSERT_TRUE(before.reverted);
    EXPECT_EQ(before.revert.error_name, "DeadlineNotPassed");
    ASSERT_TRUE(eth::anvil::increase_time(*rpc, 3600 + 10));  // past the accept window, nothing mined
    const auto after = d.simulate(client->from(), calls::reassign_agreement(a.agreement_id)).value();
    EXPECT_FALSE(after.reverted) << after.revert.text;
}

TEST(Dispatcher, DeclineCancelStopSlashUnregisterWithdraw) {
    Anvil anvil;
    auto rpc = eth::RpcClient::connect(anvil.url()).value();
    std::vector<std::unique_ptr<eth::TxSender>> senders;
    for (std::size_t i = 0; i < 4; ++i) senders.push_back(eth::TxSender::create(*rpc, key(i), fast_options()).value());
    auto& client = *senders[0];
    auto deployed = deploy_dispatcher(*rpc, client, DispatcherConfig::production_defaults());
    ASSERT_TRUE(deployed) << deployed.error().message();
    Dispatcher d{*rpc, deployed->address};
    for (std::size_t i = 1; i <= 3; ++i)
        ASSERT_TRUE(senders[i]->send(d.tx(calls::register_worker(offer_for(i, 1000)), ether("2ether"))));
    auto by_id = [&](std::uint64_t worker_id) -> eth::TxSender& { return *senders.at(worker_id); };
    std::vector<EventRecord> seen;
    auto step = [&](eth::TxSender& s, eth::TxRequest tx) {
        auto sent = s.send(tx);
        EXPECT_TRUE(sent) << sent.error().message();
        if (!sent) return std::vector<EventRecord>{};
        auto e = events_of(*deployed, *sent);
        seen.insert(seen.end(), e.begin(), e.end());
        return e;
    };
    Requirements req = small_job();
    req.verifiers = 1;

    // A: the worker declines, another worker is assigned; the client cancels and takes its refund.
    auto e = step(client, d.buy_contract_tx(client.from(), req).value());
    const auto a = std::get<AgreementCreated>(e.at(0).event);
    e = step(by_id(a.worker_id), d.tx(calls::decline_agreement(a.agreement_id)));
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(std::get<AgreementDeclined>(e[0].event).worker_id, a.worker_id);
    const auto re = std::get<AgreementReassigned>(e[1].event);
    EXPECT_EQ(re.previous_worker_id, a.worker_id);
    EXPECT_NE(re.worker_id, a.worker_id);
    EXPECT_EQ(re.verifier_ids.size(), 1u);
    EXPECT_EQ(d.get_agreement(a.agreement_id).value().worker_id, re.worker_id);
    e = step(client, d.tx(calls::cancel_agreement(a.agreement_id)));
    const auto refunded = std::get<AgreementRefunded>(e.at(0).event);
    EXPECT_EQ(refunded.reason, kRefundCancelled);
    EXPECT_EQ(d.get_agreement(a.agreement_id).value().status, AgreementStatus::refunded);
    e = step(client, d.tx(calls::claim_refund(a.agreement_id)));
    EXPECT_EQ(std::get<RefundClaimed>(e.at(0).event).amount, a.deposit);

    // B: started, stopped after the first period began, reported failed by the verifier: slashed.
    e = step(client, d.buy_contract_tx(client.from(), req).value());
    const auto b = std::get<AgreementCreated>(e.at(0).event);
    step(by_id(b.worker_id), d.tx(calls::accept_agreement(b.agreement_id)));
    step(by_id(b.worker_id), d.tx(calls::start_agreement(b.agreement_id)));
    ASSERT_TRUE(eth::anvil::increase_time(*rpc, 5));
    e = step(client, d.tx(calls::stop_agreement(b.agreement_id)));
    EXPECT_EQ(std::get<AgreementStopped>(e.at(0).event).billable_periods, 1u);
    step(by_id(b.verifier_ids.at(0)), d.tx(calls::provide_verification(b.agreement_id, 0, 0, 1)));
    e = step(*senders[0], d.tx(calls::settle_agreement(b.agreement_id)));
    const auto settled = of_type<AgreementSettled>(e).at(0);
    EXPECT_EQ(settled.failed_periods, 1u);
    EXPECT_EQ(settled.paid_periods, 0u);
    const auto slashed = of_type<WorkerSlashed>(e).at(0);
    EXPECT_EQ(slashed.worker_id, b.worker_id);
    EXPECT_EQ(slashed.amount, settled.slashed);
    EXPECT_GT(slashed.amount, 0);
    EXPECT_EQ(d.get_worker(b.worker_id).value().stake, slashed.stake);
    EXPECT_EQ(d.reputation_counters(b.worker_id).value().failed_periods, 1u);

    // C: a worker unregisters and, after the 7-day cool-down, withdraws its stake.
    const std::uint64_t leaver = b.verifier_ids.at(0);
    e = step(by_id(leaver), d.tx(calls::unregister_worker()));
    const auto unreg = std::get<WorkerUnregistered>(e.at(0).event);
    EXPECT_EQ(d.get_worker(leaver).value().status, WorkerStatus::unregistering);
    {
        auto sim = d.simulate(by_id(leaver).from(), calls::withdraw_stake()).value();
        ASSERT_TRUE(sim.reverted);
        EXPECT_EQ(sim.revert.error_name, "CoolDownNotOver");
        EXPECT_EQ(sim.revert.args.at(1).number, unreg.cool_down_end);
    }
    ASSERT_TRUE(eth::anvil::increase_time(*rpc, 7 * 24 * 3600 + 1));
    e = step(by_id(leaver), d.tx(calls::withdraw_stake()));
    const auto withdrawn = std::get<StakeWithdrawn>(e.at(0).event);
    EXPECT_EQ(withdrawn.owner, by_id(leaver).from());
    EXPECT_EQ(withdrawn.amount, ether("2ether"));
    EXPECT_EQ(d.get_worker(leaver).value().status, WorkerStatus::removed);

    std::set<std::string_view> kinds;
    for (const auto& r : seen) kinds.insert(event_name(r.event));
    for (std::string_view k : {"AgreementDeclined", "AgreementReassigned", "AgreementRefunded", "AgreementStopped",
                               "WorkerSlashed", "WorkerUnregistered", "StakeWithdrawn", "AgreementSettled"})
        EXPECT_TRUE(kinds.count(k)) << k;
}

}  // namespace
}  // namespace zeppelin::market
