// Typed bindings to protocol v2 (contracts/src/v2: WorkerDispatcherV2 + RegistryModuleV2, one
// address): calldata encoders for every state-changing function (namespace calls), read views
// through eth_call (class Dispatcher), typed decoding of every event, the custom errors, and the
// deployment. The protocol's off-chain formats (salted spec commits, multi-recipient envelopes,
// batched report words) are in protocol_v2.hpp.
//
// Life of an agreement (IWorkerDispatcherV2.sol):
//   buyContract → Purchased ─(block > drawBlock: draw / the drawn worker's accept)→ Assigned
//   → acceptAgreement(offer to the client) → Accepted → (image + spec off chain; the worker checks
//   the spec against its own service, or rejectSpec) → startAgreement(endpoint to the client) →
//   Starting ─(block > drawBlock: drawVerifiers(spec + endpoint to the verifiers))→ Running →
//   confirmBatch / submitReport per batch → settle → Settled. Exits: cancel, decline, reassign,
//   expire, rejectSpec, no eligible worker / verifiers → Ended.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/revert.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/contract_types.hpp"

namespace zeppelin::market::v2 {

// ------------------------------------------------------------------------------ constants
// DispatcherStateV2.sol; checked against the deployed contract by the integration test.

inline constexpr std::uint64_t kWordPeriods = 120;  // periods per report word
inline constexpr std::uint64_t kBatchWords = 12;    // report words per batch
inline constexpr std::uint64_t kBatchPeriods = kWordPeriods * kBatchWords;  // periods per report batch
inline constexpr std::uint8_t kMinVerifiers = 3;
inline constexpr std::uint8_t kMaxVerifiers = 5;
inline constexpr std::uint64_t kMaxPeriods = 10'080;
inline constexpr std::uint32_t kMinPeriodSeconds = 10;
inline constexpr std::uint64_t kMaxReassignments = 3;
inline constexpr std::size_t kMaxEnvelopeBytes = 1024;  // per recipient of a message

// ------------------------------------------------------------------------------ types

enum class WorkerStatus : std::uint8_t { none = 0, active, paused, unregistering };
enum class AgreementStatus : std::uint8_t { none = 0, purchased, assigned, accepted, starting, running, settled, ended };
enum class EndReason : std::uint8_t {
    none = 0,
    cancelled,
    no_eligible_worker,
    too_many_reassignments,
    spec_rejected,
    start_missed,
    no_verifiers
};
std::string_view to_string(WorkerStatus s) noexcept;
std::string_view to_string(AgreementStatus s) noexcept;
std::string_view to_string(EndReason r) noexcept;

/// What a client asks for in buyContract.
struct Requirements {
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    std::uint32_t duration{0};              // seconds, a multiple of period_seconds
    std::uint32_t period_seconds{0};        // >= kMinPeriodSeconds
    std::uint64_t max_price_per_second{0};  // wei: the highest price the client saw and accepts
    std::uint8_t verifiers{kMinVerifiers};  // odd, kMinVerifiers..kMaxVerifiers
    std::uint16_t min_reputation{0};        // permille
    Hash32 image_digest{};
    Hash32 spec_commit{};  // protocol_v2.hpp spec_commit(spec, salt)
    bool operator==(const Requirements&) const = default;
};

/// Constructor parameters (and what config() returns).
struct Config {
    u256 min_stake{0};
    u256 min_verifier_bond{0};
    u256 cancel_fee{0};
    u256 decline_fee{0};
    u256 min_verifier_pay{0};
    std::uint32_t accept_window{0};
    std::uint32_t start_window{0};
    std::uint32_t report_window{0};
    std::uint32_t cool_down{0};
    std::uint16_t verifier_fee_bps{0};
    std::uint16_t slash_bps{0};
    std::uint16_t penalty_bps{0};
    std::uint8_t draw_delay{0};
    bool operator==(const Config&) const = default;

    /// The parameters of the contract's tests (V2Base.sol): 1 ether stake, 0.01 ether bond,
    /// 0.0005 ether cancel/decline fees, 0.0001 ether minimum verifier pay, 1 h windows, 7 days
    /// cool-down, 5 % fee, 100 % slash, 200 % penalty, draws 2 blocks after the commit.
    static Config production_defaults();
    /// The same stake and fees, short windows for a local devnet (accept and start 600 s, reports
    /// 60 s, cool-down 60 s), a verifier's minimum pay of 1 gwei (devnet prices are a few gwei per
    /// second, demos last seconds) and draws 1 block after the commit.
    static Config devnet_defaults();
};

struct WorkerView {
    Address owner{};
    WorkerStatus status{WorkerStatus::none};
    std::uint64_t price_per_second{0};
    std::uint32_t max_duration{0};
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    u256 stake{0};   // locked included
    u256 locked{0};  // by open agreements (exposure + bonds)
    std::uint64_t changed_at{0};  // block of the last change (draw eligibility)
    std::uint64_t cool_down_end{0};
    Bytes public_key;  // 64 bytes x || y
};

struct Reputation {
    std::uint64_t verified_periods{0};
    std::uint64_t failed_periods{0};
    std::uint64_t completed_agreements{0};
    std::uint64_t failed_agreements{0};
    std::uint64_t declined{0};
    std::uint64_t specs_rejected{0};
    bool operator==(const Reputation&) const = default;
};

struct AgreementView {
    Address client{};
    AgreementStatus status{AgreementStatus::none};
    std::uint32_t worker_id{0};
    std::vector<std::uint32_t> verifier_ids;  // once running
    std::uint64_t price_per_second{0};
    std::uint64_t max_price_per_second{0};
    std::uint32_t period_seconds{0};
    std::uint32_t periods{0};
    std::uint32_t billable_periods{0};
    std::uint64_t draw_block{0};  // purchased: the worker draw's block; starting: the verifiers'
    std::uint64_t deadline{0};    // assigned: accept by; accepted: start by; running+: started at
    u256 escrow{0};
    u256 worker_lock{0};
    u256 verifier_bond{0};
    std::uint64_t reassignments{0};
    Hash32 spec_commit{};

    /// The paid clock's start (running and settled agreements), else 0.
    [[nodiscard]] std::uint64_t started_at() const noexcept {
        return status == AgreementStatus::running || status == AgreementStatus::settled ? deadline : 0;
    }
    /// The end of the last billable period (running and settled agreements), else 0.
    [[nodiscard]] std::uint64_t end_of_service() const noexcept {
        return started_at() == 0 ? 0 : started_at() + std::uint64_t{billable_periods} * period_seconds;
    }
};

// ------------------------------------------------------------------------------ calldata

/// Creation code + ABI-encoded constructor arguments.
Bytes deploy_data(const Config& config);

namespace calls {
Bytes register_worker(const WorkerOffer& offer);  // payable: the stake (>= min_stake)
Bytes update_worker(const WorkerOffer& offer);
Bytes pause_worker();
Bytes resume_worker();
Bytes add_stake();  // payable
Bytes unregister_worker();
Bytes withdraw_stake(const u256& amount);
Bytes withdraw();  // the caller's credits (refunds)
Bytes buy_contract(const Requirements& req);  // payable: exactly quote(...)
Bytes draw(std::uint64_t agreement_id);
/// `envelopes`: protocol_v2.hpp pack_envelopes for the client (bit 0), or empty.
Bytes accept_agreement(std::uint64_t agreement_id, ByteView envelopes);
Bytes decline_agreement(std::uint64_t agreement_id);
Bytes reassign_agreement(std::uint64_t agreement_id);
Bytes reject_spec(std::uint64_t agreement_id, ByteView spec, const Hash32& salt);
Bytes start_agreement(std::uint64_t agreement_id, ByteView envelopes);
/// `envelopes`: one per verifier in order (only the worker may pass them), or empty.
Bytes draw_verifiers(std::uint64_t agreement_id, ByteView envelopes);
Bytes cancel_agreement(std::uint64_t agreement_id);
Bytes expire_agreement(std::uint64_t agreement_id);
Bytes stop_agreement(std::uint64_t agreement_id);
Bytes post_message(std::uint64_t agreement_id, const u256& recipients, ByteView envelopes);
Bytes confirm_batch(std::uint64_t agreement_id, std::uint64_t batch);
Bytes submit_report(std::uint64_t agreement_id, std::uint64_t batch, const std::vector<u256>& ok_words,
                    const std::vector<u256>& voted_words);
Bytes settle(std::uint64_t agreement_id);
}  // namespace calls

// ------------------------------------------------------------------------------ events

struct WorkerRegistered {
    std::uint64_t worker_id{0};
    Address owner{};
    WorkerOffer offer;
    u256 stake{0};
};
struct WorkerUpdated {
    std::uint64_t worker_id{0};
    WorkerOffer offer;
};
struct WorkerPaused { std::uint64_t worker_id{0}; };
struct WorkerResumed { std::uint64_t worker_id{0}; };
struct StakeAdded { std::uint64_t worker_id{0}; u256 amount{0}; u256 stake{0}; };
struct WorkerUnregistered { std::uint64_t worker_id{0}; std::uint64_t cool_down_end{0}; };
struct StakeWithdrawn { std::uint64_t worker_id{0}; Address owner{}; u256 amount{0}; };
/// reason: 1 declined / did not answer, 2 did not start, 3 failed periods, 4 verifier dissent or silence.
struct StakeBurned { std::uint64_t worker_id{0}; std::uint64_t agreement_id{0}; u256 amount{0}; std::uint8_t reason{0}; };
struct AgreementPurchased {
    std::uint64_t agreement_id{0};
    Address client{};
    Requirements requirements;
    u256 deposit{0};
    std::uint64_t draw_block{0};
};
struct DrawRescheduled { std::uint64_t agreement_id{0}; std::uint64_t draw_block{0}; };
struct WorkerDrawn {
    std::uint64_t agreement_id{0};
    std::uint64_t worker_id{0};
    std::uint64_t price_per_second{0};
    std::uint64_t accept_deadline{0};
};
struct AgreementDeclined { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; std::uint64_t redraw_block{0}; };
struct AgreementAccepted {
    std::uint64_t agreement_id{0};
    std::uint64_t worker_id{0};
    u256 locked{0};
    std::uint64_t start_deadline{0};
};
struct AgreementStarted { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; std::uint64_t verifier_draw_block{0}; };
struct VerifiersDrawn {
    std::uint64_t agreement_id{0};
    std::vector<std::uint32_t> verifier_ids;
    u256 bond{0};
    std::uint64_t started_at{0};
};
struct AgreementStopped { std::uint64_t agreement_id{0}; std::uint64_t billable_periods{0}; };
struct AgreementEnded { std::uint64_t agreement_id{0}; EndReason reason{EndReason::none}; u256 client_refund{0}; u256 burned{0}; };
struct SpecRejected { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; Bytes spec; Hash32 salt{}; };
struct MessagePosted { std::uint64_t agreement_id{0}; Address sender{}; u256 recipients{0}; Bytes envelopes; };
struct BatchReported {
    std::uint64_t agreement_id{0};
    std::uint64_t verifier_id{0};
    std::uint64_t batch{0};
    std::vector<u256> ok_words;
    std::vector<u256> voted_words;
};
struct BatchConfirmed { std::uint64_t agreement_id{0}; std::uint64_t verifier_id{0}; std::uint64_t batch{0}; };
struct AgreementSettled {
    std::uint64_t agreement_id{0};
    std::uint64_t worker_id{0};
    std::uint64_t paid_periods{0};
    std::uint64_t failed_periods{0};
    u256 worker_payment{0};
    u256 client_refund{0};
    u256 burned{0};
};
struct VerifierSettled {
    std::uint64_t agreement_id{0};
    std::uint64_t verifier_id{0};
    u256 reward{0};
    u256 penalty{0};
    std::uint64_t silent_periods{0};
};
struct Withdrawn { Address account{}; u256 amount{0}; };

using Event = std::variant<WorkerRegistered, WorkerUpdated, WorkerPaused, WorkerResumed, StakeAdded, WorkerUnregistered,
                           StakeWithdrawn, StakeBurned, AgreementPurchased, DrawRescheduled, WorkerDrawn,
                           AgreementDeclined, AgreementAccepted, AgreementStarted, VerifiersDrawn, AgreementStopped,
                           AgreementEnded, SpecRejected, MessagePosted, BatchReported, BatchConfirmed,
                           AgreementSettled, VerifierSettled, Withdrawn>;

/// The Solidity name of an event ("WorkerDrawn").
std::string_view event_name(const Event& e) noexcept;
/// Errc::not_found: topic0 is none of v2's events; Errc::abi_decode: malformed topics or data.
Result<Event> decode_event(const eth::Log& log);

struct EventRecord {
    Event event;
    std::uint64_t block_number{0};
    Hash32 block_hash{};
    Hash32 transaction_hash{};
    std::uint64_t log_index{0};
    bool removed{false};
};
/// Decodes every log of `logs` emitted by `dispatcher` (other addresses are skipped).
Result<std::vector<EventRecord>> decode_events(const Address& dispatcher, const std::vector<eth::Log>& logs);
/// topic0 of every v2 event (for eth_getLogs filters).
std::vector<Hash32> event_topics();

// ------------------------------------------------------------------------------ reverts

const eth::RevertDecoder& revert_decoder();
eth::Revert decode_revert(ByteView data);
Result<void> add_errors_to(eth::RpcClient& rpc);

// ------------------------------------------------------------------------------ the contract

/// Reads a deployed v2 dispatcher. Holds a reference to `rpc`, which must outlive it.
class Dispatcher final {
public:
    Dispatcher(eth::RpcClient& rpc, const Address& address) : rpc_{rpc}, address_{address} {}

    [[nodiscard]] const Address& address() const noexcept { return address_; }
    [[nodiscard]] eth::RpcClient& rpc() const noexcept { return rpc_; }

    using Tag = eth::BlockTag;
    Result<Config> config(const Tag& at = Tag::latest()) const;
    Result<std::uint64_t> worker_count(const Tag& at = Tag::latest()) const;
    Result<std::uint64_t> agreement_count(const Tag& at = Tag::latest()) const;
    /// 0 if `owner` never registered.
    Result<std::uint64_t> worker_id_of(const Address& owner, const Tag& at = Tag::latest()) const;
    Result<WorkerView> get_worker(std::uint64_t worker_id, const Tag& at = Tag::latest()) const;
    Result<Reputation> reputation_counters(std::uint64_t worker_id, const Tag& at = Tag::latest()) const;
    /// Permille; a new worker starts at 0 (a record is earned, not given).
    Result<std::uint64_t> reputation_of(std::uint64_t worker_id, const Tag& at = Tag::latest()) const;
    /// An unknown id reads as status none.
    Result<AgreementView> get_agreement(std::uint64_t agreement_id, const Tag& at = Tag::latest()) const;
    /// The exact payment buyContract requires.
    Result<u256> quote(const Requirements& req, const Tag& at = Tag::latest()) const;
    /// What `account` can take out with withdraw().
    Result<u256> credit_of(const Address& account, const Tag& at = Tag::latest()) const;
    Result<u256> total_burned(const Tag& at = Tag::latest()) const;
    /// The worker a draw in the next block picks (0: not ready, expired, nobody eligible). Judged
    /// at "pending": a draw of block c is ready from block c + 1, the block a transaction sent now
    /// lands in.
    Result<std::uint64_t> preview_worker(std::uint64_t agreement_id, const Tag& at = Tag::pending()) const;
    /// The verifiers a verifier draw in the next block picks (empty: not ready or too few).
    Result<std::vector<std::uint32_t>> preview_verifiers(std::uint64_t agreement_id, const Tag& at = Tag::pending()) const;
    struct Report {
        bool submitted{false};
        u256 ok_bits{0};
        u256 voted_bits{0};
    };
    /// Verifier `verifier_index`'s votes on report word `word` (a confirmed batch: all ok).
    Result<Report> get_report(std::uint64_t agreement_id, std::uint64_t word, std::uint64_t verifier_index,
                              const Tag& at = Tag::latest()) const;

    /// eth_call of `data` from `from` at "pending", with v2's errors decoded.
    Result<CallOutcome> simulate(const Address& from, ByteView data, const u256& value = 0) const;
    [[nodiscard]] eth::TxRequest tx(Bytes data, const u256& value = 0) const {
        return eth::TxRequest{address_, value, std::move(data), std::nullopt};
    }
    /// buyContract as a transaction: value = quote(req); a revert comes back as Errc::reverted
    /// with the contract's error in words.
    Result<eth::TxRequest> buy_contract_tx(const Address& from, const Requirements& req) const;

private:
    Result<std::vector<eth::abi::Value>> view(std::string_view function, std::vector<eth::abi::Value> args,
                                              const Tag& at) const;

    eth::RpcClient& rpc_;
    Address address_;
};

/// Deploys WorkerDispatcherV2 (which deploys its RegistryModuleV2) through `sender`, waits for
/// the receipt and checks that code exists at the new address.
Result<Deployed> deploy(eth::RpcClient& rpc, eth::TxSender& sender, const Config& config);

}  // namespace zeppelin::market::v2
