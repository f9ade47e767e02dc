#include "zeppelin/market/dispatcher.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/http.hpp"
#include "zeppelin/market/abi_reader.hpp"
#include "zeppelin/market/contract_io.hpp"
#include "zeppelin/market/artifacts.hpp"

namespace zeppelin::market {
namespace {

using eth::abi::Kind;
using eth::abi::Value;

const eth::abi::Function& function(std::string_view name) {
    const auto* f = worker_dispatcher_abi().function(name);
    if (f == nullptr)
        throw Exception{Error{Errc::internal, "the embedded WorkerDispatcher ABI has no function " + std::string{name}}};
    return *f;
}

/// Encodes a call whose argument types are fixed by the typed API: cannot fail unless the
/// embedded ABI and this file disagree (a build defect, caught by the tests).
Bytes encode(std::string_view name, std::vector<Value> args) {
    return eth::abi::encode_call(function(name), args).value();
}

Value u(const u256& v, unsigned bits = 256) { return Value::uint_(v, bits); }
Value id(std::uint64_t v) { return Value::uint_(u256{v}); }

Value requirements_value(const Requirements& r) {
    return Value::tuple({u(r.cpu_millicores, 32), u(r.memory_mb, 32), u(r.duration, 32), u(r.period_seconds, 32),
                         u(r.max_price_per_second, 64), u(r.verifiers, 8), u(r.min_reputation, 16),
                         Value::address(r.preferred_worker), Value::fixed_bytes(r.image_digest),
                         Value::fixed_bytes(r.probe_spec_hash)});
}


using detail::Reader;

Requirements read_requirements(Reader& outer) {
    Reader r = outer.tuple();
    Requirements q;
    q.cpu_millicores = r.num<std::uint32_t>();
    q.memory_mb = r.num<std::uint32_t>();
    q.duration = r.num<std::uint32_t>();
    q.period_seconds = r.num<std::uint32_t>();
    q.max_price_per_second = r.num<std::uint64_t>();
    q.verifiers = r.num<std::uint8_t>();
    q.min_reputation = r.num<std::uint16_t>();
    q.preferred_worker = r.address();
    q.image_digest = r.hash();
    q.probe_spec_hash = r.hash();
    outer.absorb(r);
    return q;
}


using u64 = std::uint64_t;

using detail::offer_values;
using detail::read_offer;
using EventTable = detail::EventTable<DispatcherEvent>;

EventTable make_decoders() {
    EventTable d{worker_dispatcher_abi(), "WorkerDispatcher"};
    auto add = [&](std::string_view name, EventTable::Build build) { d.add(name, std::move(build)); };
    add("WorkerRegistered", [](Reader& r) -> DispatcherEvent {
        WorkerRegistered e;
        e.worker_id = r.num<u64>();
        e.owner = r.address();
        e.offer = read_offer(r);
        e.stake = r.big();
        return e;
    });
    add("WorkerUpdated", [](Reader& r) -> DispatcherEvent {
        WorkerUpdated e;
        e.worker_id = r.num<u64>();
        e.offer = read_offer(r);
        return e;
    });
    add("WorkerPaused", [](Reader& r) -> DispatcherEvent { return WorkerPaused{r.num<u64>()}; });
    add("WorkerResumed", [](Reader& r) -> DispatcherEvent { return WorkerResumed{r.num<u64>()}; });
    add("StakeAdded", [](Reader& r) -> DispatcherEvent {
        StakeAdded e;
        e.worker_id = r.num<u64>();
        e.amount = r.big();
        e.stake = r.big();
        return e;
    });
    add("WorkerUnregistered", [](Reader& r) -> DispatcherEvent {
        WorkerUnregistered e;
        e.worker_id = r.num<u64>();
        e.cool_down_end = r.num<u64>();
        return e;
    });
    add("StakeWithdrawn", [](Reader& r) -> DispatcherEvent {
        StakeWithdrawn e;
        e.worker_id = r.num<u64>();
        e.owner = r.address();
        e.amount = r.big();
        return e;
    });
    add("WorkerSlashed", [](Reader& r) -> DispatcherEvent {
        WorkerSlashed e;
        e.worker_id = r.num<u64>();
        e.agreement_id = r.num<u64>();
        e.amount = r.big();
        e.stake = r.big();
        return e;
    });
    add("AgreementCreated", [](Reader& r) -> DispatcherEvent {
        AgreementCreated e;
        e.agreement_id = r.num<u64>();
        e.client = r.address();
        e.worker_id = r.num<u64>();
        e.verifier_ids = r.u32s();
        e.requirements = read_requirements(r);
        e.price_per_second = r.num<u64>();
        e.deposit = r.big();
        e.accept_deadline = r.num<u64>();
        return e;
    });
    add("AgreementReassigned", [](Reader& r) -> DispatcherEvent {
        AgreementReassigned e;
        e.agreement_id = r.num<u64>();
        e.previous_worker_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.verifier_ids = r.u32s();
        e.price_per_second = r.num<u64>();
        e.accept_deadline = r.num<u64>();
        return e;
    });
    add("AgreementDeclined", [](Reader& r) -> DispatcherEvent {
        AgreementDeclined e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        return e;
    });
    add("AgreementAccepted", [](Reader& r) -> DispatcherEvent {
        AgreementAccepted e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.start_deadline = r.num<u64>();
        return e;
    });
    add("AgreementStarted", [](Reader& r) -> DispatcherEvent {
        AgreementStarted e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.started_at = r.num<u64>();
        return e;
    });
    add("AgreementStopped", [](Reader& r) -> DispatcherEvent {
        AgreementStopped e;
        e.agreement_id = r.num<u64>();
        e.billable_periods = r.num<u64>();
        return e;
    });
    add("AgreementRefunded", [](Reader& r) -> DispatcherEvent {
        AgreementRefunded e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.reason = r.num<std::uint8_t>();
        return e;
    });
    add("MessagePosted", [](Reader& r) -> DispatcherEvent {
        MessagePosted e;
        e.agreement_id = r.num<u64>();
        e.sender = r.address();
        e.recipient = r.address();
        e.ciphertext = r.bytes();
        return e;
    });
    add("VerificationProvided", [](Reader& r) -> DispatcherEvent {
        VerificationProvided e;
        e.agreement_id = r.num<u64>();
        e.verifier_id = r.num<u64>();
        e.first_period = r.num<u64>();
        e.ok_bits = r.big();
        e.reported_bits = r.big();
        return e;
    });
    add("AgreementSettled", [](Reader& r) -> DispatcherEvent {
        AgreementSettled e;
        e.agreement_id = r.num<u64>();
        e.worker_id = r.num<u64>();
        e.paid_periods = r.num<u64>();
        e.failed_periods = r.num<u64>();
        e.worker_payment = r.big();
        e.client_refund = r.big();
        e.slashed = r.big();
        return e;
    });
    add("PaymentRedeemed", [](Reader& r) -> DispatcherEvent {
        PaymentRedeemed e;
        e.agreement_id = r.num<u64>();
        e.worker = r.address();
        e.amount = r.big();
        return e;
    });
    add("RefundClaimed", [](Reader& r) -> DispatcherEvent {
        RefundClaimed e;
        e.agreement_id = r.num<u64>();
        e.client = r.address();
        e.amount = r.big();
        return e;
    });
    return d;
}

const EventTable& decoders() {
    static const EventTable d = make_decoders();
    return d;
}

}  // namespace

std::string_view to_string(WorkerStatus s) noexcept {
    switch (s) {
        case WorkerStatus::none: return "none";
        case WorkerStatus::active: return "active";
        case WorkerStatus::paused: return "paused";
        case WorkerStatus::unregistering: return "unregistering";
        case WorkerStatus::removed: return "removed";
    }
    return "unknown";
}

std::string_view to_string(AgreementStatus s) noexcept {
    switch (s) {
        case AgreementStatus::none: return "none";
        case AgreementStatus::assigned: return "assigned";
        case AgreementStatus::accepted: return "accepted";
        case AgreementStatus::running: return "running";
        case AgreementStatus::settled: return "settled";
        case AgreementStatus::refunded: return "refunded";
    }
    return "unknown";
}

DispatcherConfig DispatcherConfig::production_defaults() {
    const u256 ether{1'000'000'000'000'000'000ULL};
    return {ether, 3600, 3600, 3600, 604800, 500, 10000};
}

DispatcherConfig DispatcherConfig::devnet_defaults() {
    const u256 ether{1'000'000'000'000'000'000ULL};
    return {ether, 600, 600, 600, 60, 500, 10000};
}

Bytes deploy_data(const DispatcherConfig& c) {
    const auto& ctor = function("constructor");
    const std::vector<Value> args{u(c.min_stake),   u(c.accept_window),    u(c.start_window), u(c.report_window),
                                  u(c.cool_down),   u(c.verifier_fee_bps), u(c.slash_bps)};
    auto encoded = eth::abi::encode(eth::abi::types_of(ctor.inputs), args).value();
    Bytes data = worker_dispatcher_creation_code();
    data.insert(data.end(), encoded.begin(), encoded.end());
    return data;
}

namespace calls {
Bytes register_worker(const WorkerOffer& offer) { return encode("registerWorker", offer_values(offer)); }
Bytes update_worker(const WorkerOffer& offer) { return encode("updateWorker", offer_values(offer)); }
Bytes pause_worker() { return encode("pauseWorker", {}); }
Bytes resume_worker() { return encode("resumeWorker", {}); }
Bytes unregister_worker() { return encode("unregisterWorker", {}); }
Bytes withdraw_stake() { return encode("withdrawStake", {}); }
Bytes add_stake() { return encode("addStake", {}); }
Bytes buy_contract(const Requirements& req) { return encode("buyContract", {requirements_value(req)}); }
Bytes accept_agreement(std::uint64_t a) { return encode("acceptAgreement", {id(a)}); }
Bytes decline_agreement(std::uint64_t a) { return encode("declineAgreement", {id(a)}); }
Bytes reassign_agreement(std::uint64_t a) { return encode("reassignAgreement", {id(a)}); }
Bytes start_agreement(std::uint64_t a) { return encode("startAgreement", {id(a)}); }
Bytes cancel_agreement(std::uint64_t a) { return encode("cancelAgreement", {id(a)}); }
Bytes expire_agreement(std::uint64_t a) { return encode("expireAgreement", {id(a)}); }
Bytes stop_agreement(std::uint64_t a) { return encode("stopAgreement", {id(a)}); }
Bytes post_message(std::uint64_t a, const Address& recipient, ByteView ciphertext) {
    return encode("postMessage", {id(a), Value::address(recipient), Value::bytes(ciphertext)});
}
Bytes provide_verification(std::uint64_t a, std::uint64_t first_period, const u256& ok_bits, const u256& reported_bits) {
    return encode("provideVerification", {id(a), id(first_period), u(ok_bits), u(reported_bits)});
}
Bytes redeem_payment(std::uint64_t a) { return encode("redeemPayment", {id(a)}); }
Bytes claim_refund(std::uint64_t a) { return encode("claimRefund", {id(a)}); }
Bytes settle_agreement(std::uint64_t a) { return encode("settleAgreement", {id(a)}); }
}  // namespace calls

std::uint64_t buy_contract_gas_limit(std::uint64_t estimate) noexcept {
    return estimate + estimate * 30 / 100 + 50'000;
}

std::string_view event_name(const DispatcherEvent& e) noexcept {
    return decoders().name_of(e);
}

Result<DispatcherEvent> decode_event(const eth::Log& log) {
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
        for (const auto& e : worker_dispatcher_abi().errors) d.add(e);
        return d;
    }();
    return decoder;
}

eth::Revert decode_revert(ByteView data) { return revert_decoder().decode(data); }

Result<void> add_errors_to(eth::RpcClient& rpc) { return rpc.add_error_abi(worker_dispatcher_abi_json()); }

// ------------------------------------------------------------------------------ Dispatcher

Result<std::vector<Value>> Dispatcher::view(std::string_view name, std::vector<Value> args,
                                            const eth::BlockTag& at) const {
    return detail::call_view(rpc_, address_, function(name), args, at, revert_decoder(),
                             [](const eth::Revert& r) { return r.text; });
}

Result<DispatcherConfig> Dispatcher::config(const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view("config", {}, at));
    Reader r{v, "config"};
    DispatcherConfig c{r.big(), r.big(), r.big(), r.big(), r.big(), r.big(), r.big()};
    ZP_CHECK(r.done());
    return c;
}

namespace {
Result<std::uint64_t> single_u64(const std::vector<Value>& v, std::string_view what) {
    Reader r{v, what};
    const auto n = r.num<std::uint64_t>();
    ZP_CHECK(r.done());
    return n;
}
}  // namespace

Result<std::uint64_t> Dispatcher::worker_count(const eth::BlockTag& at) const {
    return single_u64(ZP_TRY(view("workerCount", {}, at)), "workerCount");
}
Result<std::uint64_t> Dispatcher::active_worker_count(const eth::BlockTag& at) const {
    return single_u64(ZP_TRY(view("activeWorkerCount", {}, at)), "activeWorkerCount");
}
Result<std::uint64_t> Dispatcher::agreement_count(const eth::BlockTag& at) const {
    return single_u64(ZP_TRY(view("agreementCount", {}, at)), "agreementCount");
}
Result<std::uint64_t> Dispatcher::worker_id_of(const Address& owner, const eth::BlockTag& at) const {
    return single_u64(ZP_TRY(view("workerIdOf", {Value::address(owner)}, at)), "workerIdOf");
}
Result<std::uint64_t> Dispatcher::reputation_of(std::uint64_t worker_id, const eth::BlockTag& at) const {
    return single_u64(ZP_TRY(view("reputationOf", {id(worker_id)}, at)), "reputationOf");
}

Result<WorkerView> Dispatcher::get_worker(std::uint64_t worker_id, const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view("getWorker", {id(worker_id)}, at));
    Reader outer{v, "getWorker"};
    Reader r = outer.tuple();
    WorkerView w;
    w.owner = r.address();
    w.status = r.enumeration<WorkerStatus>(4);
    w.price_per_second = r.num<std::uint64_t>();
    w.max_duration = r.num<std::uint32_t>();
    w.cpu_millicores = r.num<std::uint32_t>();
    w.memory_mb = r.num<std::uint32_t>();
    w.stake = r.big();
    w.open_agreements = r.num<std::uint64_t>();
    w.cool_down_end = r.num<std::uint64_t>();
    w.assignable = r.boolean();
    w.public_key = r.bytes();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return w;
}

Result<Reputation> Dispatcher::reputation_counters(std::uint64_t worker_id, const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view("reputationCounters", {id(worker_id)}, at));
    Reader outer{v, "reputationCounters"};
    Reader r = outer.tuple();
    Reputation rep;
    rep.verified_periods = r.num<std::uint64_t>();
    rep.failed_periods = r.num<std::uint64_t>();
    rep.completed_agreements = r.num<std::uint64_t>();
    rep.failed_agreements = r.num<std::uint64_t>();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return rep;
}

Result<AgreementView> Dispatcher::get_agreement(std::uint64_t agreement_id, const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view("getAgreement", {id(agreement_id)}, at));
    Reader outer{v, "getAgreement"};
    Reader r = outer.tuple();
    AgreementView a;
    a.client = r.address();
    a.status = r.enumeration<AgreementStatus>(5);
    a.worker_id = r.num<std::uint32_t>();
    a.verifier_ids = r.u32s();
    a.price_per_second = r.num<std::uint64_t>();
    a.max_price_per_second = r.num<std::uint64_t>();
    a.period_seconds = r.num<std::uint32_t>();
    a.periods = r.num<std::uint32_t>();
    a.billable_periods = r.num<std::uint32_t>();
    a.accept_deadline = r.num<std::uint64_t>();
    a.start_deadline = r.num<std::uint64_t>();
    a.started_at = r.num<std::uint64_t>();
    a.deposit = r.big();
    a.paid_periods = r.num<std::uint64_t>();
    a.client_refund = r.big();
    a.worker_redeemed = r.boolean();
    a.client_refunded = r.boolean();
    outer.absorb(r);
    ZP_CHECK(outer.done());
    return a;
}

Result<u256> Dispatcher::quote(std::uint64_t max_price_per_second, std::uint32_t duration, std::uint32_t period_seconds,
                               std::uint8_t verifiers, const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view(
        "quote", {u(max_price_per_second, 64), u(duration, 32), u(period_seconds, 32), u(verifiers, 8)}, at));
    Reader r{v, "quote"};
    const u256 q = r.big();
    ZP_CHECK(r.done());
    return q;
}

Result<Dispatcher::Reports> Dispatcher::get_reports(std::uint64_t agreement_id, std::uint64_t verifier_index,
                                                    std::uint64_t first_period, const eth::BlockTag& at) const {
    const auto v = ZP_TRY(view("getReports", {id(agreement_id), id(verifier_index), id(first_period)}, at));
    Reader r{v, "getReports"};
    Reports rep{r.big(), r.big()};
    ZP_CHECK(r.done());
    return rep;
}

Result<CallOutcome> simulate_call(eth::RpcClient& rpc, const Address& to, const Address& from, ByteView data,
                                  const u256& value, const eth::RevertDecoder& decoder) {
    // A direct request (not RpcClient::call) because the typed revert needs the raw revert data.
    const auto url = ZP_TRY(eth::HttpUrl::parse(rpc.url()));
    eth::HttpClient http{url, eth::HttpOptions{}};
    nlohmann::json call{{"from", eth::to_checksum(from)}, {"to", eth::to_checksum(to)}, {"data", to_hex(data)}};
    if (value != 0) call["value"] = to_hex_quantity(value);
    // At "pending": the call is judged at the time of the block that would include it. Deadlines
    // and periods depend on block.timestamp, and on a chain that mines only on demand (anvil's
    // automine) "latest" may be minutes old, so a reassignment or a report would look too early.
    const nlohmann::json body{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "eth_call"}, {"params", {call, "pending"}}};
    auto reply = http.post(body.dump());
    if (auto* err = std::get_if<eth::HttpError>(&reply)) return err->error.wrap("eth_call to " + rpc.url());
    const auto& text = std::get<eth::HttpResponse>(reply).body;
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Error{Errc::rpc_bad_reply, "eth_call: the reply is not a JSON object"};
    CallOutcome outcome;
    if (j.contains("result")) {
        outcome.output = ZP_TRY(eth::json_bytes(j["result"], "eth_call result"));
        return outcome;
    }
    if (!j.contains("error") || !j["error"].is_object())
        return Error{Errc::rpc_bad_reply, "eth_call: the reply has neither result nor error"};
    const auto& e = j["error"];
    const std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    if (e.contains("data") && e["data"].is_string()) {
        auto bytes = from_hex(e["data"].get<std::string>());
        if (bytes) {
            outcome.reverted = true;
            outcome.revert = decoder.decode(*bytes);
            return outcome;
        }
    }
    if (message.find("revert") != std::string::npos) {
        outcome.reverted = true;
        outcome.revert.text = message;
        return outcome;
    }
    return Error{Errc::rpc_error, "eth_call failed: " + message};
}

Result<CallOutcome> Dispatcher::simulate(const Address& from, ByteView data, const u256& value) const {
    return simulate_call(rpc_, address_, from, data, value, revert_decoder());
}

Result<eth::TxRequest> Dispatcher::buy_contract_tx(const Address& from, const Requirements& req) const {
    const u256 value = ZP_TRY(quote(req));
    Bytes data = calls::buy_contract(req);
    auto estimate = rpc_.estimate_gas(eth::CallRequest{from, address_, data, value, std::nullopt});
    if (!estimate) {
        if (estimate.error().code() == Errc::reverted) {
            auto sim = simulate(from, data, value);
            if (sim && sim->reverted) return Error{Errc::reverted, "buyContract would revert: " + explain_revert(sim->revert)};
        }
        return estimate.error().wrap("cannot estimate gas for buyContract");
    }
    eth::TxRequest tx{address_, value, std::move(data), buy_contract_gas_limit(*estimate)};
    return tx;
}

Result<Deployed> deploy_dispatcher(eth::RpcClient& rpc, eth::TxSender& sender, const DispatcherConfig& config) {
    return detail::deploy_contract(rpc, sender, deploy_data(config), "WorkerDispatcher");
}

}  // namespace zeppelin::market
