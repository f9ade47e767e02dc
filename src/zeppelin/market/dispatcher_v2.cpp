#include "zeppelin/market/dispatcher_v2.hpp"

#include <functional>
#include <utility>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/market/abi_reader.hpp"
#include "zeppelin/market/contract_io.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/revert_words.hpp"

namespace zeppelin::market::v2 {
namespace {

using detail::Reader;
using eth::abi::Value;
using u64 = std::uint64_t;

const eth::abi::Function& function(std::string_view name) {
    const auto* f = dispatcher_v2_abi().function(name);
    if (f == nullptr)
        throw Exception{Error{Errc::internal, "the embedded WorkerDispatcherV2 ABI has no function " + std::string{name}}};
    return *f;
}

/// Encodes a call whose argument types are fixed by the typed API (a mismatch with the embedded
/// ABI is a build defect, caught by the tests).
Bytes encode(std::string_view name, std::vector<Value> args) { return eth::abi::encode_call(function(name), args).value(); }

Value u(const u256& v, unsigned bits = 256) { return Value::uint_(v, bits); }
Value id(std::uint64_t v) { return Value::uint_(u256{v}); }

Value requirements_value(const Requirements& r) {
    return Value::tuple({u(r.cpu_millicores, 32), u(r.memory_mb, 32), u(r.duration, 32), u(r.period_seconds, 32),
                         u(r.max_price_per_second, 64), u(r.verifiers, 8), u(r.min_reputation, 16),
                         Value::fixed_bytes(r.image_digest), Value::fixed_bytes(r.spec_commit)});
}


Value words(const std::vector<u256>& ws) {
    std::vector<Value> items;
    items.reserve(ws.size());
    for (const auto& w : ws) items.push_back(u(w));
    return Value::array(std::move(items));
}

Requirements read_requirements(Reader& outer) {
    Reader r = outer.tuple();
    Requirements q;
    q.cpu_millicores = r.num<std::uint32_t>();
    q.memory_mb = r.num<std::uint32_t>();
    q.duration = r.num<std::uint32_t>();
    q.period_seconds = r.num<std::uint32_t>();
    q.max_price_per_second = r.num<u64>();
    q.verifiers = r.num<std::uint8_t>();
    q.min_reputation = r.num<std::uint16_t>();
    q.image_digest = r.hash();
    q.spec_commit = r.hash();
    outer.absorb(r);
    return q;
}


using detail::offer_values;
using detail::read_offer;
using EventTable = detail::EventTable<Event>;

EventTable make_decoders() {
    EventTable d{dispatcher_v2_abi(), "WorkerDispatcherV2"};
    auto add = [&](std::string_view name, EventTable::Build build) { d.add(name, std::move(build)); };
    add("WorkerRegistered", [](Reader& r) -> Event {
        WorkerRegistered e;
        e.worker_id = r.num<u64>();
        e.owner = r.address();
        e.offer = read_offer(r);
        e.stake = r.big();
        return e;
    });
    add("WorkerUpdated", [](Reader& r) -> Event {
        WorkerUpdated e;
        e.worker_id = r.num<u64>();
        e.offer = read_offer(r);
        return e;
    });
    add("WorkerPaused", [](Reader& r) -> Event { return WorkerPaused{r.num<u64>()}; });
    add("WorkerResumed", [](Reader& r) -> Event { return WorkerResumed{r.num<u64>()}; });
    add("StakeAdded", [](Reader& r) -> Event {
        StakeAdded e;
        e.worker_id = r.num<u64>();
        e.amount = r.big();
        e.stake = r.big();
        return e;
    });
    add("WorkerUnregistered", [](Reader& r) -> Event {
        WorkerUnregistered e;
        e.worker_id = r.num<u64>();
        e.cool_down_end = r.num<u64>();
        return e;
    });
    add("StakeWithdrawn", [](Reader& r) -> Event {
        StakeWithdrawn e;
        e.worker_id = r.num<u64>();
        e.owner = r.address();
        e.amount = r.big();
        return e;
    });
    add("StakeBurned", [](Reader& r) -> Event {
        StakeBurned e;
        e.worker_id = r.num<u64>();
        e.agreement_id = r.num<u64>();
        e.amount = r.big();
        e.reason = r.num<std::uint8_t>();
        return e;
    });
    add("AgreementPurchased", [](Reader& r) -> Event {
        AgreementPurchased e;
        e.agreement_id = r.num<u64>();
        e.client = r.address();
        e.requirements = read_requirements(r);
        e.deposit = r.big();
        e.draw_block = r.num<u64>();
        return e;
    });
    add("DrawRescheduled", [](Reader& r) -> Event {
        DrawRescheduled e;
        e.agreement_id = r.num<u64>();
        e.draw_block = r.num<u64>();
        return e;
    });
    add("WorkerDrawn", [](Reader& r) -> Event {
        WorkerDrawn e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.price_per_second = r.num<u64>();
        e.accept_deadline = r.num<u64>();
        return e;
    });
    add("AgreementDeclined", [](Reader& r) -> Event {
        AgreementDeclined e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.redraw_block = r.num<u64>();
        return e;
    });
    add("AgreementAccepted", [](Reader& r) -> Event {
        AgreementAccepted e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.locked = r.big();
        e.start_deadline = r.num<u64>();
        return e;
    });
    add("AgreementStarted", [](Reader& r) -> Event {
        AgreementStarted e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.verifier_draw_block = r.num<u64>();
        return e;
    });
    add("VerifiersDrawn", [](Reader& r) -> Event {
        VerifiersDrawn e;
        e.agreement_id = r.num<u64>();
        e.verifier_ids = r.u32s();
        e.bond = r.big();
        e.started_at = r.num<u64>();
        return e;
    });
    add("AgreementStopped", [](Reader& r) -> Event {
        AgreementStopped e;
        e.agreement_id = r.num<u64>();
        e.billable_periods = r.num<u64>();
        return e;
    });
    add("AgreementEnded", [](Reader& r) -> Event {
        AgreementEnded e;
        e.agreement_id = r.num<u64>();
        e.reason = r.enumeration<EndReason>(static_cast<std::uint8_t>(EndReason::no_verifiers));
        e.client_refund = r.big();
        e.burned = r.big();
        return e;
    });
    add("SpecRejected", [](Reader& r) -> Event {
        SpecRejected e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.spec = r.bytes();
        e.salt = r.hash();
        return e;
    });
    add("MessagePosted", [](Reader& r) -> Event {
        MessagePosted e;
        e.agreement_id = r.num<u64>();
        e.sender = r.address();
        e.recipients = r.big();
        e.envelopes = r.bytes();
        return e;
    });
    add("BatchReported", [](Reader& r) -> Event {
        BatchReported e;
        e.agreement_id = r.num<u64>();
        e.verifier_id = r.num<u64>();
        e.batch = r.num<u64>();
        e.ok_words = r.u256s();
        e.voted_words = r.u256s();
        return e;
    });
    add("BatchConfirmed", [](Reader& r) -> Event {
        BatchConfirmed e;
        e.agreement_id = r.num<u64>();
        e.verifier_id = r.num<u64>();
        e.batch = r.num<u64>();
        return e;
    });
    add("AgreementSettled", [](Reader& r) -> Event {
        AgreementSettled e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.paid_periods = r.num<u64>();
        e.failed_periods = r.num<u64>();
        e.worker_payment = r.big();
        e.client_refund = r.big();
        e.burned = r.big();
        return e;
    });
    add("VerifierSettled", [](Reader& r) -> Event {
        VerifierSettled e;
        e.agreement_id = r.num<u64>();
        e.verifier_id = r.num<u64>();
        e.reward = r.big();
        e.penalty = r.big();
        e.silent_periods = r.num<u64>();
        return e;
    });
    add("Withdrawn", [](Reader& r) -> Event {
        Withdrawn e;
        e.account = r.address();
        e.amount = r.big();
        return e;
    });
    return d;
}

const EventTable& decoders() {
    static const EventTable d = make_decoders();
    return d;
}

Result<u64> single_u64(const std::vector<Value>& v, std::string_view what) {
    Reader r{v, what};
    const auto n = r.num<u64>();
    ZP_CHECK(r.done());
    return n;
}

Result<u256> single_u256(const std::vector<Value>& v, std::string_view what) {
    Reader r{v, what};
    const auto n = r.big();
    ZP_CHECK(r.done());
    return n;
}

}  // namespace

std::string_view to_string(WorkerStatus s) noexcept {
    switch (s) {
        case WorkerStatus::none: return "none";
        case WorkerStatus::active: return "active";
        case WorkerStatus::paused: return "paused";
        case WorkerStatus::unregistering: return "unregistering";
    }
    return "unknown";
}

std::string_view to_string(AgreementStatus s) noexcept {
    switch (s) {
        case AgreementStatus::none: return "none";
        case AgreementStatus::purchased: return "purchased";
        case AgreementStatus::assigned: return "assigned";
        case AgreementStatus::accepted: return "accepted";
        case AgreementStatus::starting: return "starting";
        case AgreementStatus::running: return "running";
        case AgreementStatus::settled: return "settled";
        case AgreementStatus::ended: return "ended";
    }
    return "unknown";
}

std::string_view to_string(EndReason r) noexcept {
    switch (r) {
        case EndReason::none: return "none";
        case EndReason::cancelled: return "cancelled by the client";
        case EndReason::no_eligible_worker: return "no eligible worker";
        case EndReason::too_many_reassignments: return "declined or unanswered too many times";
        case EndReason::spec_rejected: return "the worker rejected the probe spec";
        case EndReason::start_missed: return "the worker did not start in time";
        case EndReason::no_verifiers: return "not enough eligible verifiers";
    }
    return "unknown";
}

Config Config::production_defaults() {
    const u256 milli{1'000'000'000'000'000ULL};  // 0.001 ether
    Config c;
    c.min_stake = milli * 1000;
    c.min_verifier_bond = milli * 10;
    c.cancel_fee = milli / 2;
    c.decline_fee = milli / 2;
    c.min_verifier_pay = milli / 10;
    c.accept_window = 3600;
    c.start_window = 3600;
    c.report_window = 3600;
    c.cool_down = 7 * 24 * 3600;
    c.verifier_fee_bps = 500;
    c.slash_bps = 10'000;
    c.penalty_bps = 20'000;
    c.draw_delay = 2;
    return c;
}

Config Config::devnet_defaults() {
    Config c = production_defaults();
    c.accept_window = 600;
    c.start_window = 600;
    c.report_window = 60;  // reports go 1 s after a batch ends: a silent verifier delays settling by a minute
    c.cool_down = 60;
    c.min_verifier_pay = 1'000'000'000;  // 1 gwei: devnet prices are a few gwei per second, demos last seconds
    c.draw_delay = 1;
    return c;
}

Bytes deploy_data(const Config& c) {
    const auto& ctor = function("constructor");
    const std::vector<Value> args{Value::tuple({u(c.min_stake, 96), u(c.min_verifier_bond, 96), u(c.cancel_fee, 96),
                                                u(c.decline_fee, 96), u(c.min_verifier_pay, 96), u(c.accept_window, 32),
                                                u(c.start_window, 32), u(c.report_window, 32), u(c.cool_down, 32),
                                                u(c.verifier_fee_bps, 16), u(c.slash_bps, 16), u(c.penalty_bps, 16),
                                                u(c.draw_delay, 8)})};
    auto encoded = eth::abi::encode(eth::abi::types_of(ctor.inputs), args).value();
    Bytes data = dispatcher_v2_creation_code();
    data.insert(data.end(), encoded.begin(), encoded.end());
    return data;
}

namespace calls {
Bytes register_worker(const WorkerOffer& offer) { return encode("registerWorker", offer_values(offer)); }
Bytes update_worker(const WorkerOffer& offer) { return encode("updateWorker", offer_values(offer)); }
Bytes pause_worker() { return encode("pauseWorker", {}); }
Bytes resume_worker() { return encode("resumeWorker", {}); }
Bytes add_stake() { return encode("addStake", {}); }
Bytes unregister_worker() { return encode("unregisterWorker", {}); }
Bytes withdraw_stake(const u256& amount) { return encode("withdrawStake", {u(amount)}); }
Bytes withdraw() { return encode("withdraw", {}); }
Bytes buy_contract(const Requirements& req) { return encode("buyContract", {requirements_value(req)}); }
Bytes draw(std::uint64_t a) { return encode("draw", {id(a)}); }
Bytes accept_agreement(std::uint64_t a, ByteView envelopes) {
    return encode("acceptAgreement", {id(a), Value::bytes(envelopes)});
}
Bytes decline_agreement(std::uint64_t a) { return encode("declineAgreement", {id(a)}); }
Bytes reassign_agreement(std::uint64_t a) { return encode("reassignAgreement", {id(a)}); }
Bytes reject_spec(std::uint64_t a, ByteView spec, const Hash32& salt) {
    return encode("rejectSpec", {id(a), Value::bytes(spec), Value::fixed_bytes(salt)});
}
Bytes start_agreement(std::uint64_t a, ByteView envelopes) {
    return encode("startAgreement", {id(a), Value::bytes(envelopes)});
}
Bytes draw_verifiers(std::uint64_t a, ByteView envelopes) {
    return encode("drawVerifiers", {id(a), Value::bytes(envelopes)});
}
Bytes cancel_agreement(std::uint64_t a) { return encode("cancelAgreement", {id(a)}); }
Bytes expire_agreement(std::uint64_t a) { return encode("expireAgreement", {id(a)}); }
Bytes stop_agreement(std::uint64_t a) { return encode("stopAgreement", {id(a)}); }
Bytes post_message(std::uint64_t a, const u256& recipients, ByteView envelopes) {
    return encode("postMessage", {id(a), u(recipients), Value::bytes(envelopes)});
}
Bytes confirm_batch(std::uint64_t a, std::uint64_t batch) { return encode("confirmBatch", {id(a), id(batch)}); }
Bytes submit_report(std::uint64_t a, std::uint64_t batch, const std::vector<u256>& ok_words,
                    const std::vector<u256>& voted_words) {
    return encode("submitReport", {id(a), id(batch), words(ok_words), words(voted_words)});
}
Bytes settle(std::uint64_t a) { return encode("settle", {id(a)}); }
}  // namespace calls

std::string_view event_name(const Event& e) noexcept {
    return decoders().name_of(e);
}

Result<Event> decode_event(const eth::Log& log) {
    return decoders().decode(log);
}

Result<std::vector<EventRecord>> decode_events(const Address& dispatcher, const std::vector<eth::Log>& logs) {
    return decoders().decode_all<EventRecord>(dispatcher, logs);
}

std::vector<Hash32> event_topics() {
    return decoders().topics();
}

const eth::RevertDecoder& revert_decoder() {
    static const eth::RevertDecoder decoder = [] {
        eth::RevertDecoder d;
        for (const auto& e : dispatcher_v2_abi().errors) d.add(e);
        return d;
    }();
    return decoder;
}

eth::Revert decode_revert(ByteView data) { return revert_decoder().decode(data); }

Result<void> add_errors_to(eth::RpcClient& rpc) { return rpc.add_error_abi(dispatcher_v2_abi_json()); }

// ------------------------------------------------------------------------------ Dispatcher

Result<std::vector<Value>> Dispatcher::view(std::string_view name, std::vector<Value> args, const Tag& at) const {
    return detail::call_view(rpc_, address_, function(name), args, at, revert_decoder(),
                             [](const eth::Revert& r) { return explain_revert(r); });
}

Result<Config> Dispatcher::config(const Tag& at) const {
    const auto v = ZP_TRY(view("config", {}, at));
    Reader outer{v, "config"};
    Reader r = outer.tuple();
    Config c;
    c.min_stake = r.big();
    c.min_verifier_bond = r.big();
    c.cancel_fee = r.big();
    c.decline_fee = r.big();
    c.min_verifier_pay = r.big();
    c.accept_window = r.num<std::uint32_t>();
    c.start_window = r.num<std::uint32_t>();
    c.report_window = r.num<std::uint32_t>();
    c.cool_down = r.num<std::uint32_t>();
    c.verifier_fee_bps = r.num<std::uint16_t>();
    c.slash_bps = r.num<std::uint16_t>();
    c.penalty_bps = r.num<std::uint16_t>();
    c.draw_delay = r.num<std::uint8_t>();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return c;
}

Result<u64> Dispatcher::worker_count(const Tag& at) const {
    return single_u64(ZP_TRY(view("workerCount", {}, at)), "workerCount");
}
Result<u64> Dispatcher::agreement_count(const Tag& at) const {
    return single_u64(ZP_TRY(view("agreementCount", {}, at)), "agreementCount");
}
Result<u64> Dispatcher::worker_id_of(const Address& owner, const Tag& at) const {
    return single_u64(ZP_TRY(view("workerIdOf", {Value::address(owner)}, at)), "workerIdOf");
}
Result<u64> Dispatcher::reputation_of(std::uint64_t worker_id, const Tag& at) const {
    return single_u64(ZP_TRY(view("reputationOf", {id(worker_id)}, at)), "reputationOf");
}
Result<u256> Dispatcher::credit_of(const Address& account, const Tag& at) const {
    return single_u256(ZP_TRY(view("creditOf", {Value::address(account)}, at)), "creditOf");
}
Result<u256> Dispatcher::total_burned(const Tag& at) const {
    return single_u256(ZP_TRY(view("totalBurned", {}, at)), "totalBurned");
}
Result<u64> Dispatcher::preview_worker(std::uint64_t agreement_id, const Tag& at) const {
    return single_u64(ZP_TRY(view("previewWorker", {id(agreement_id)}, at)), "previewWorker");
}

Result<std::vector<std::uint32_t>> Dispatcher::preview_verifiers(std::uint64_t agreement_id, const Tag& at) const {
    const auto v = ZP_TRY(view("previewVerifiers", {id(agreement_id)}, at));
    Reader r{v, "previewVerifiers"};
    auto ids = r.u32s();
    ZP_CHECK(r.done());
    return ids;
}

Result<WorkerView> Dispatcher::get_worker(std::uint64_t worker_id, const Tag& at) const {
    const auto v = ZP_TRY(view("getWorker", {id(worker_id)}, at));
    Reader outer{v, "getWorker"};
    Reader r = outer.tuple();
    WorkerView w;
    w.owner = r.address();
    w.status = r.enumeration<WorkerStatus>(static_cast<std::uint8_t>(WorkerStatus::unregistering));
    w.price_per_second = r.num<u64>();
    w.max_duration = r.num<std::uint32_t>();
    w.cpu_millicores = r.num<std::uint32_t>();
    w.memory_mb = r.num<std::uint32_t>();
    w.stake = r.big();
    w.locked = r.big();
    w.changed_at = r.num<u64>();
    w.cool_down_end = r.num<u64>();
    w.public_key = r.bytes();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return w;
}

Result<Reputation> Dispatcher::reputation_counters(std::uint64_t worker_id, const Tag& at) const {
    const auto v = ZP_TRY(view("reputationCounters", {id(worker_id)}, at));
    Reader outer{v, "reputationCounters"};
    Reader r = outer.tuple();
    Reputation rep;
    rep.verified_periods = r.num<u64>();
    rep.failed_periods = r.num<u64>();
    rep.completed_agreements = r.num<u64>();
    rep.failed_agreements = r.num<u64>();
    rep.declined = r.num<u64>();
    rep.specs_rejected = r.num<u64>();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return rep;
}

Result<AgreementView> Dispatcher::get_agreement(std::uint64_t agreement_id, const Tag& at) const {
    const auto v = ZP_TRY(view("getAgreement", {id(agreement_id)}, at));
    Reader outer{v, "getAgreement"};
    Reader r = outer.tuple();
    AgreementView a;
    a.client = r.address();
    a.status = r.enumeration<AgreementStatus>(static_cast<std::uint8_t>(AgreementStatus::ended));
    a.worker_id = r.num<std::uint32_t>();
    a.verifier_ids = r.u32s();
    a.price_per_second = r.num<u64>();
    a.max_price_per_second = r.num<u64>();
    a.period_seconds = r.num<std::uint32_t>();
    a.periods = r.num<std::uint32_t>();
    a.billable_periods = r.num<std::uint32_t>();
    a.draw_block = r.num<u64>();
    a.deadline = r.num<u64>();
    a.escrow = r.big();
    a.worker_lock = r.big();
    a.verifier_bond = r.big();
    a.reassignments = r.num<u64>();
    a.spec_commit = r.hash();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return a;
}

Result<u256> Dispatcher::quote(const Requirements& req, const Tag& at) const {
    return single_u256(ZP_TRY(view("quote",
                                   {u(req.max_price_per_second, 64), u(req.duration, 32), u(req.period_seconds, 32),
                                    u(req.verifiers, 8)},
                                   at)),
                       "quote");
}

Result<Dispatcher::Report> Dispatcher::get_report(std::uint64_t agreement_id, std::uint64_t word,
                                                  std::uint64_t verifier_index, const Tag& at) const {
    const auto v = ZP_TRY(view("getReport", {id(agreement_id), id(word), id(verifier_index)}, at));
    Reader r{v, "getReport"};
    Report rep;
    rep.submitted = r.boolean();
    rep.ok_bits = r.big();
    rep.voted_bits = r.big();
    ZP_CHECK(r.done());
    return rep;
}

Result<CallOutcome> Dispatcher::simulate(const Address& from, ByteView data, const u256& value) const {
    return simulate_call(rpc_, address_, from, data, value, revert_decoder());
}

Result<eth::TxRequest> Dispatcher::buy_contract_tx(const Address& from, const Requirements& req) const {
    const u256 value = ZP_TRY(quote(req));
    Bytes data = calls::buy_contract(req);
    auto sim = ZP_TRY(simulate(from, data, value));
    if (sim.reverted)
        return Error{Errc::reverted, "buyContract would revert: " + explain_revert(sim.revert)};
    return eth::TxRequest{address_, value, std::move(data), std::nullopt};
}

Result<Deployed> deploy(eth::RpcClient& rpc, eth::TxSender& sender, const Config& config) {
    return detail::deploy_contract(rpc, sender, deploy_data(config), "WorkerDispatcherV2");
}

}  // namespace zeppelin::market::v2
