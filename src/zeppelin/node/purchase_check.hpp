// Refusals explained before anything is sent: a purchase's requirements checked against a
// snapshot of the market (the offers of the active workers, the buyer's balance, the gas price)
// and the protocol's rules, each failed check a sentence that says what to change, with numbers.
//
//   const auto verdict = check_purchase(plan, snapshot, PurchaseRules::v2(fee_bps, min_verifier_pay));
//   for (const auto& r : verdict.refusals) ...   // {"price_below_market", "the cheapest worker ..."}
//
// One place for the CLI (`zeppelin run` through POST /api/agreements) and the dashboard ("Show the
// cost" through POST /api/agreements/check). The protocol's limits are data (PurchaseRules): "3 or
// 5 verifiers" and "too small to pay its verifiers" are fields, and each check is one entry of a
// table (purchase_check.cpp), so a new rule is one field and one entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zeppelin/core/u256.hpp"

namespace zeppelin::node {

/// The contract's limits on a purchase (contracts/src/v2/WorkerDispatcherV2.sol `_checkRequirements`
/// and `buyContract`, DispatcherStateV2.sol constants); the defaults are the contract's constants.
struct PurchaseRules {
    std::uint32_t min_period_seconds{10};
    std::uint32_t max_periods{10'080};
    unsigned min_verifiers{3};
    unsigned max_verifiers{5};
    bool odd_verifiers{true};       // a majority needs an odd count
    u256 min_verifier_pay{0};       // the verifiers' pay in all must reach this (wei; 0: not checked)
    std::uint16_t max_min_reputation{1000};
    u256 verifier_fee_bps{500};     // each verifier's reward per period: price * period * bps / 10000
    bool client_worker_excluded{true};  // the buyer's own worker neither works nor verifies for it

    /// The rules of a deployment: its verifier fee and minimum verifier pay (config()).
    static PurchaseRules v2(const u256& verifier_fee_bps, const u256& min_verifier_pay);
};

/// One active worker's offer, as the chain holds it.
struct WorkerOffer {
    std::uint64_t id{0};
    std::uint64_t price_per_second{0};
    std::uint32_t max_duration{0};
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    std::uint64_t reputation{500};  // permille
};

/// What the market and the buyer's account look like now.
struct MarketSnapshot {
    std::vector<WorkerOffer> workers;  // the assignable (active, staked) ones only
    std::uint64_t client_worker_id{0};  // the buyer's own worker id (0: it is none)
    std::optional<u256> balance;        // the buyer's; unset: not checked
    u256 gas_cost{0};                   // what buyContract's gas may cost at most (gas limit * max fee)
};

/// What is asked for.
struct PurchasePlan {
    std::uint32_t duration{0};
    std::uint32_t period{0};
    unsigned verifiers{0};
    u256 max_price_per_second{0};
    std::uint32_t cpu_millicores{0};
    std::uint32_t memory_mb{0};
    std::uint16_t min_reputation{0};
    std::optional<std::uint16_t> port;
    /// The image's exposed TCP ports; unset when the image was not looked at (or not found).
    std::optional<std::vector<std::uint16_t>> exposed_ports;
};

/// A check that failed: a stable code for programs and a sentence for people.
struct Refusal {
    std::string code;     // "price_below_market", "not_enough_workers", ...
    std::string message;  // what is wrong and what to change, with numbers
};

struct PurchaseVerdict {
    std::vector<Refusal> refusals;  // empty: the chain should take it
    u256 deposit{0};                // the escrow (0 when the terms cannot be priced)
    std::size_t eligible_workers{0};
    std::optional<WorkerOffer> cheapest;  // the cheapest eligible worker
    unsigned workers_needed{0};           // 1 + verifiers (+ the buyer's own worker, excluded)
    std::size_t active_workers{0};
    [[nodiscard]] bool ok() const noexcept { return refusals.empty(); }
    /// Every refusal's message, one per line.
    [[nodiscard]] std::string text() const;
};

/// The escrow buyContract takes: periods * (price * period + verifiers * reward).
u256 purchase_deposit(const PurchasePlan& plan, const PurchaseRules& rules);

/// Every check of the table in order; the market checks (workers, price, verifiers) only once the
/// terms themselves are valid.
PurchaseVerdict check_purchase(const PurchasePlan& plan, const MarketSnapshot& market, const PurchaseRules& rules);

}  // namespace zeppelin::node
