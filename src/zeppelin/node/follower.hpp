// Follows one contract's event logs from the chain, block range by block range, from the last
// block it processed (kept in SQLite), `confirmations` blocks behind the head.
//
// Re-orgs: the follower remembers the hash of every block it processed (the last kMaxRemembered).
// Before each step it checks that the newest remembered block is still on the chain; if not, it
// walks back to the newest block whose hash still matches (the fork point), forgets everything
// after it, and fetches again from there. Consumers therefore see some events twice after a
// re-org and must be idempotent; Zeppelin's node treats events as triggers and re-reads the
// contract's authoritative state before acting, so a replay is harmless.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/node/db.hpp"

namespace zeppelin::node {

struct FollowerConfig {
    Address contract;
    std::uint64_t start_block{0};      // first block to scan when nothing was processed yet
    std::uint64_t confirmations{0};    // process blocks up to head - confirmations
    std::uint64_t max_range{2000};     // blocks per eth_getLogs step
};

struct Batch {
    std::vector<eth::Log> logs;        // in chain order
    std::uint64_t from_block{0};       // inclusive
    std::uint64_t to_block{0};         // inclusive
    bool reorged{false};               // a re-org was detected and rewound before this batch
    bool has_range{false};             // false: caught up, nothing was fetched
    std::optional<Hash32> to_hash;     // to_block's hash, when it was the head read by next()
};

class Follower {
public:
    static constexpr std::uint64_t kMaxRemembered = 256;

    /// Creates its table in `db` if needed.
    static Result<Follower> open(eth::RpcClient& rpc, Database& db, FollowerConfig config);

    /// Fetches the next range of confirmed logs (empty if the follower is caught up).
    /// The range is NOT marked processed until commit(batch) is called, so a crash in between
    /// replays it.
    Result<Batch> next();
    /// Called when a re-org is seen, before anything is forgotten; an error stops next() there (the
    /// node checks that the chain is still its own: chain_identity.hpp).
    void set_before_rewind(std::function<Result<void>()> hook) { before_rewind_ = std::move(hook); }
    /// Marks the batch's blocks processed (remembering their hashes).
    Result<void> commit(const Batch& batch);

    /// The last processed block, or nullopt if none yet.
    Result<std::optional<std::uint64_t>> last_processed();
    /// The head as of the last next(), and the chain's block interval seen so far (0: unknown).
    [[nodiscard]] const std::optional<eth::BlockHeader>& head() const noexcept { return head_; }
    [[nodiscard]] std::chrono::milliseconds block_interval() const noexcept { return interval_; }

private:
    Follower(eth::RpcClient& rpc, Database& db, FollowerConfig config) : rpc_{&rpc}, db_{&db}, config_{config} {}
    Result<bool> rewind_if_reorged();
    Result<std::optional<Hash32>> remembered(std::uint64_t number);

    eth::RpcClient* rpc_;
    Database* db_;
    FollowerConfig config_;
    std::optional<eth::BlockHeader> head_;
    std::chrono::milliseconds interval_{0};
    std::function<Result<void>()> before_rewind_;
};

}  // namespace zeppelin::node
