// Typed bindings to the WorkerDispatcher contract (contracts/src/WorkerDispatcher.sol):
//   * calldata encoders for every state-changing function (namespace calls),
//   * read views through eth_call (class Dispatcher),
//   * typed decoding of every event (DispatcherEvent + decode_event), enough to rebuild the
//     contract's state from its logs,
//   * revert decoding with the contract's custom errors ("NoEligibleWorker(activeWorkers: 0)").
// Ids, timestamps and period counts are std::uint64_t (the contract keeps them far smaller);
// money is u256 wei.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/revert.hpp"
#include "zeppelin/market/revert_words.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"

namespace zeppelin::market {

// ------------------------------------------------------------------------------ types

enum class WorkerStatus : std::uint8_t { none = 0, active, paused, unregistering, removed };
enum class AgreementStatus : std::uint8_t { none = 0, assigned, accepted, running, settled, refunded };
std::string_view to_string(WorkerStatus s) noexcept;
std::string_view to_string(AgreementStatus s) noexcept;

/// Reasons carried by AgreementRefunded.
inline constexpr std::uint8_t kRefundCancelled = 1;   // client cancelled before start
inline constexpr std::uint8_t kRefundNoWorker = 2;    // reassignment found no eligible worker
inline constexpr std::uint8_t kRefundNotStarted = 3;  // accepted but not started in time

/// What a client asks for in buyContract.
struct Requirements {
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    std::uint32_t duration{0};        // seconds, a multiple of period_seconds
    std::uint32_t period_seconds{0};  // >= 10
    std::uint64_t max_price_per_second{0};  // wei
    std::uint8_t verifiers{1};
    std::uint16_t min_reputation{0};  // permille
    Address preferred_worker{};       // zero = none
    Hash32 image_digest{};
    Hash32 probe_spec_hash{};
    bool operator==(const Requirements&) const = default;
};

/// A worker's offer (registerWorker / updateWorker).
struct WorkerOffer {
    std::uint64_t price_per_second{0};  // wei
    std::uint32_t max_duration{0};      // seconds
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    Bytes public_key;  // 64 bytes: uncompressed secp256k1 x || y
    bool operator==(const WorkerOffer&) const = default;
};

struct WorkerView {
    Address owner{};
    WorkerStatus status{WorkerStatus::none};
    std::uint64_t price_per_second{0};
    std::uint32_t max_duration{0};
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    u256 stake{0};
    std::uint64_t open_agreements{0};
    std::uint64_t cool_down_end{0};
    bool assignable{false};
    Bytes public_key;  // 64 bytes, empty for an unknown worker
};

struct AgreementView {
    Address client{};
    AgreementStatus status{AgreementStatus::none};
    std::uint32_t worker_id{0};
    std::vector<std::uint32_t> verifier_ids;
    std::uint64_t price_per_second{0};
    std::uint64_t max_price_per_second{0};
    std::uint32_t period_seconds{0};
    std::uint32_t periods{0};
    std::uint32_t billable_periods{0};
    std::uint64_t accept_deadline{0};  // set while assigned
    std::uint64_t start_deadline{0};   // set while accepted
    std::uint64_t started_at{0};       // set once running
    u256 deposit{0};
    std::uint64_t paid_periods{0};
    u256 client_refund{0};
    bool worker_redeemed{false};
    bool client_refunded{false};
};

struct Reputation {
    std::uint64_t verified_periods{0};
    std::uint64_t failed_periods{0};
    std::uint64_t completed_agreements{0};
    std::uint64_t failed_agreements{0};
    bool operator==(const Reputation&) const = default;
};

/// Constructor parameters (and what config() returns).
struct DispatcherConfig {
    u256 min_stake{0};        // wei
    u256 accept_window{0};    // seconds
    u256 start_window{0};     // seconds
    u256 report_window{0};    // seconds
    u256 cool_down{0};        // seconds
    u256 verifier_fee_bps{0};
    u256 slash_bps{0};
    bool operator==(const DispatcherConfig&) const = default;

    /// The contract's test configuration: 1 ether, 1 h, 1 h, 1 h, 7 days, 5 %, 100 %.
    static DispatcherConfig production_defaults();
    /// Short windows for a local devnet: 1 ether stake, accept 600 s, start 600 s,
    /// report 600 s, cool-down 60 s, verifier fee 5 %, slash 100 %.
    static DispatcherConfig devnet_defaults();
};

// ------------------------------------------------------------------------------ calldata

/// Creation code + ABI-encoded constructor arguments (a contract-creation transaction's data).
Bytes deploy_data(const DispatcherConfig& config);

namespace calls {
Bytes register_worker(const WorkerOffer& offer);  // payable: the stake
Bytes update_worker(const WorkerOffer& offer);
Bytes pause_worker();
Bytes resume_worker();
Bytes unregister_worker();
Bytes withdraw_stake();
Bytes add_stake();  // payable
Bytes buy_contract(const Requirements& req);  // payable: exactly quote(...)
Bytes accept_agreement(std::uint64_t agreement_id);
Bytes decline_agreement(std::uint64_t agreement_id);
Bytes reassign_agreement(std::uint64_t agreement_id);
Bytes start_agreement(std::uint64_t agreement_id);
Bytes cancel_agreement(std::uint64_t agreement_id);
Bytes expire_agreement(std::uint64_t agreement_id);
Bytes stop_agreement(std::uint64_t agreement_id);
Bytes post_message(std::uint64_t agreement_id, const Address& recipient, ByteView ciphertext);
Bytes provide_verification(std::uint64_t agreement_id, std::uint64_t first_period, const u256& ok_bits,
                           const u256& reported_bits);
Bytes redeem_payment(std::uint64_t agreement_id);
Bytes claim_refund(std::uint64_t agreement_id);
Bytes settle_agreement(std::uint64_t agreement_id);
}  // namespace calls

/// buyContract's gas estimate needs head-room: the assignment depends on the including block's
/// prevrandao (contracts/README.md). estimate + 30 % + 50,000.
std::uint64_t buy_contract_gas_limit(std::uint64_t estimate) noexcept;

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
struct WorkerSlashed { std::uint64_t worker_id{0}; std::uint64_t agreement_id{0}; u256 amount{0}; u256 stake{0}; };
struct AgreementCreated {
    std::uint64_t agreement_id{0};
    Address client{};
    std::uint64_t worker_id{0};
    std::vector<std::uint32_t> verifier_ids;
    Requirements requirements;
    std::uint64_t price_per_second{0};
    u256 deposit{0};
    std::uint64_t accept_deadline{0};
};
struct AgreementReassigned {
    std::uint64_t agreement_id{0};
    std::uint64_t previous_worker_id{0};
    std::uint64_t worker_id{0};
    std::vector<std::uint32_t> verifier_ids;
    std::uint64_t price_per_second{0};
    std::uint64_t accept_deadline{0};
};
struct AgreementDeclined { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; };
struct AgreementAccepted { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; std::uint64_t start_deadline{0}; };
struct AgreementStarted { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; std::uint64_t started_at{0}; };
struct AgreementStopped { std::uint64_t agreement_id{0}; std::uint64_t billable_periods{0}; };
struct AgreementRefunded { std::uint64_t agreement_id{0}; std::uint64_t worker_id{0}; std::uint8_t reason{0}; };
struct MessagePosted { std::uint64_t agreement_id{0}; Address sender{}; Address recipient{}; Bytes ciphertext; };
struct VerificationProvided {
    std::uint64_t agreement_id{0};
    std::uint64_t verifier_id{0};
    std::uint64_t first_period{0};
    u256 ok_bits{0};
    u256 reported_bits{0};
};
struct AgreementSettled {
    std::uint64_t agreement_id{0};
    std::uint64_t worker_id{0};
    std::uint64_t paid_periods{0};
    std::uint64_t failed_periods{0};
    u256 worker_payment{0};
    u256 client_refund{0};
    u256 slashed{0};
};
struct PaymentRedeemed { std::uint64_t agreement_id{0}; Address worker{}; u256 amount{0}; };
struct RefundClaimed { std::uint64_t agreement_id{0}; Address client{}; u256 amount{0}; };

using DispatcherEvent =
    std::variant<WorkerRegistered, WorkerUpdated, WorkerPaused, WorkerResumed, StakeAdded, WorkerUnregistered,
                 StakeWithdrawn, WorkerSlashed, AgreementCreated, AgreementReassigned, AgreementDeclined,
                 AgreementAccepted, AgreementStarted, AgreementStopped, AgreementRefunded, MessagePosted,
                 VerificationProvided, AgreementSettled, PaymentRedeemed, RefundClaimed>;

/// The Solidity name of an event ("AgreementCreated").
std::string_view event_name(const DispatcherEvent& e) noexcept;

/// Decodes one log of the dispatcher. Errc::not_found: topic0 is none of the dispatcher's
/// events (the log belongs to something else); Errc::abi_decode: malformed topics or data.
/// The caller checks log.address and log.removed.
Result<DispatcherEvent> decode_event(const eth::Log& log);

/// An event with where it happened (for ordering and re-org handling).
struct EventRecord {
    DispatcherEvent event;
    std::uint64_t block_number{0};
    Hash32 block_hash{};
    Hash32 transaction_hash{};
    std::uint64_t log_index{0};
    bool removed{false};
};

/// Decodes every log of `logs` emitted by `dispatcher` (other addresses are skipped).
Result<std::vector<EventRecord>> decode_events(const Address& dispatcher, const std::vector<eth::Log>& logs);

/// topic0 of every dispatcher event (for eth_getLogs filters).
std::vector<Hash32> event_topics();

// ------------------------------------------------------------------------------ reverts

/// A RevertDecoder that knows every custom error of the contract.
const eth::RevertDecoder& revert_decoder();
/// Decodes revert data: kind custom with error_name ("NoEligibleWorker") and args, and
/// text "NoEligibleWorker(activeWorkers: 0)".
eth::Revert decode_revert(ByteView data);
/// Teaches an RpcClient the contract's custom errors, so its Errc::reverted messages name them.
Result<void> add_errors_to(eth::RpcClient& rpc);

// ------------------------------------------------------------------------------ the contract

/// The result of simulating a call: return data, or the decoded revert.
struct CallOutcome {
    bool reverted{false};
    Bytes output;       // when !reverted
    eth::Revert revert;  // when reverted
};

/// eth_call of `data` to `to` from `from` with `value`, judged at the "pending" block: the output,
/// or the revert decoded with `decoder` (typed: error name + arguments). Errors only for transport
/// and node failures.
Result<CallOutcome> simulate_call(eth::RpcClient& rpc, const Address& to, const Address& from, ByteView data,
                                  const u256& value, const eth::RevertDecoder& decoder);

/// Reads a deployed dispatcher. Holds a reference to `rpc`, which must outlive it. Thread-safe
/// as far as the RpcClient is.
class Dispatcher final {
public:
    Dispatcher(eth::RpcClient& rpc, const Address& address) : rpc_{rpc}, address_{address} {}

    [[nodiscard]] const Address& address() const noexcept { return address_; }
    [[nodiscard]] eth::RpcClient& rpc() const noexcept { return rpc_; }

    Result<DispatcherConfig> config(const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<std::uint64_t> worker_count(const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<std::uint64_t> active_worker_count(const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<std::uint64_t> agreement_count(const eth::BlockTag& at = eth::BlockTag::latest()) const;
    /// 0 if `owner` never registered.
    Result<std::uint64_t> worker_id_of(const Address& owner, const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<WorkerView> get_worker(std::uint64_t worker_id, const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<Reputation> reputation_counters(std::uint64_t worker_id,
                                           const eth::BlockTag& at = eth::BlockTag::latest()) const;
    /// Permille, Laplace-smoothed (a new worker has 500).
    Result<std::uint64_t> reputation_of(std::uint64_t worker_id, const eth::BlockTag& at = eth::BlockTag::latest()) const;
    /// Errc::reverted "UnknownAgreement(agreementId: N)" for an unknown id.
    Result<AgreementView> get_agreement(std::uint64_t agreement_id,
                                        const eth::BlockTag& at = eth::BlockTag::latest()) const;
    /// The exact payment buyContract requires.
    Result<u256> quote(std::uint64_t max_price_per_second, std::uint32_t duration, std::uint32_t period_seconds,
                       std::uint8_t verifiers, const eth::BlockTag& at = eth::BlockTag::latest()) const;
    Result<u256> quote(const Requirements& req, const eth::BlockTag& at = eth::BlockTag::latest()) const {
        return quote(req.max_price_per_second, req.duration, req.period_seconds, req.verifiers, at);
    }
    struct Reports {
        u256 ok_bits{0};
        u256 reported_bits{0};
    };
    Result<Reports> get_reports(std::uint64_t agreement_id, std::uint64_t verifier_index, std::uint64_t first_period,
                                const eth::BlockTag& at = eth::BlockTag::latest()) const;

    /// eth_call of `data` from `from` with `value`, returning the output or the decoded revert
    /// (typed: error name + arguments). Errors only for transport / node failures.
    Result<CallOutcome> simulate(const Address& from, ByteView data, const u256& value = 0) const;

    /// A transaction request to the dispatcher (for eth::TxSender::send).
    [[nodiscard]] eth::TxRequest tx(Bytes data, const u256& value = 0) const {
        return eth::TxRequest{address_, value, std::move(data), std::nullopt};
    }
    /// buyContract as a transaction: value = quote(req), gas = estimate with head-room
    /// (buy_contract_gas_limit). Reverts (e.g. NoEligibleWorker) come back as Errc::reverted.
    Result<eth::TxRequest> buy_contract_tx(const Address& from, const Requirements& req) const;

private:
    Result<std::vector<eth::abi::Value>> view(std::string_view function, std::vector<eth::abi::Value> args,
                                              const eth::BlockTag& at) const;

    eth::RpcClient& rpc_;
    Address address_;
};

/// Deploys a dispatcher through `sender`, waits for the receipt and checks that code exists at
/// the new address.
struct Deployed {
    Address address{};
    std::uint64_t block_number{0};
    Hash32 transaction_hash{};
    std::uint64_t gas_used{0};
};
Result<Deployed> deploy_dispatcher(eth::RpcClient& rpc, eth::TxSender& sender, const DispatcherConfig& config);

}  // namespace zeppelin::market
