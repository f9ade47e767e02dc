// Sends EIP-1559 transactions from ONE account, for any number of concurrent callers.
//
//  * Nonces: read once from eth_getTransactionCount(pending), then assigned locally under a
//    mutex, in the order transactions reach the node (sign + send happen under the lock, so
//    nonces are contiguous). "nonce too low" resynchronizes from the node and retries.
//  * Fees: the node's suggestion (max_fee = 2 * base fee + tip, see RpcClient::suggest_fees).
//  * Stuck transactions: a transaction not mined within `resend_after` is signed again with the
//    same nonce and both fee fields raised by `fee_bump_percent` (nodes require >= 10%); the
//    first of the sent versions to be mined wins.
//  * Crash safety: SenderOptions::before_broadcast sees every signed version before the node
//    does, so a daemon can journal it; after a restart it sends the journaled raw transaction
//    again with rebroadcast() (never a fresh one, which would take a new nonce) and waits with
//    wait_for().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/secp256k1.hpp"
#include "zeppelin/eth/transaction.hpp"

namespace zeppelin::eth {

struct SignedTx {
    Bytes raw;
    Hash32 hash;
};

/// Signs a fully filled unsigned transaction (type 2, chain id, nonce, fees, gas) and returns
/// the raw bytes and hash. Lets keys live elsewhere (a keystore, a hardware wallet).
using Signer = std::function<Result<SignedTx>(const Transaction& unsigned_tx)>;

/// A Signer holding a private key in memory.
Signer make_key_signer(const PrivateKey& key);

/// Called after signing and before a version of a transaction is broadcast (see
/// SenderOptions::before_broadcast).
using BroadcastHook = std::function<Result<void>(const SignedTx& signed_tx, const Transaction& tx)>;

/// What to send. Without gas_limit the sender estimates it (plus a margin).
struct TxRequest {
    std::optional<Address> to;  // absent: contract creation
    u256 value{0};
    Bytes data;
    std::optional<std::uint64_t> gas_limit;
    /// For this transaction and its replacements, in place of SenderOptions::before_broadcast:
    /// what a caller needs to journal it (e.g. which agreement it belongs to) travels with it.
    BroadcastHook before_broadcast{};
};

struct SenderOptions {
    std::uint64_t confirmations{1};
    std::chrono::milliseconds poll_interval{200};
    /// A transaction still unmined after this long is replaced with higher fees.
    std::chrono::milliseconds resend_after{std::chrono::seconds{30}};
    /// Overall limit for a transaction to be mined (Errc::timeout after it).
    std::chrono::milliseconds timeout{std::chrono::minutes{10}};
    /// Raise of both fee fields per replacement, percent (at least 10, which nodes require).
    unsigned fee_bump_percent{15};
    /// Added to eth_estimateGas's answer, percent.
    unsigned gas_margin_percent{20};
    /// Never offer a max fee per gas above this (replacements stop there).
    std::optional<u256> max_fee_cap;
    /// Called under the sender's lock after signing and BEFORE eth_sendRawTransaction, for every
    /// version sent (originals and fee-bumped replacements), e.g. to journal it durably. An error
    /// stops that version from being sent: submit/send return the error and the nonce stays
    /// free for the next transaction; a replacement's error ends wait/send with it. `tx` holds
    /// the unsigned fields. Must not call back into the sender (its lock is held).
    BroadcastHook before_broadcast;
};

/// A transaction handed to the node, not yet known to be mined.
struct PendingTx {
    Transaction tx;               // unsigned fields of the latest version sent
    std::vector<Hash32> hashes;   // every version sent, oldest first
    std::chrono::steady_clock::time_point first_sent;
    std::chrono::steady_clock::time_point last_sent;
    BroadcastHook before_broadcast;  // the request's own, if it had one
};

struct SentTx {
    Receipt receipt;
    std::uint64_t nonce{0};
    std::vector<Hash32> hashes;  // every version sent; receipt.transaction_hash is one of them
    unsigned replacements{0};
    u256 max_fee_per_gas;        // of the latest version sent
    u256 max_priority_fee_per_gas;
};

class TxSender final {
public:
    TxSender(RpcClient& rpc, const Address& from, std::uint64_t chain_id, Signer signer, SenderOptions options = {});
    /// Reads the chain id from the node; signs with `key`.
    static Result<std::unique_ptr<TxSender>> create(RpcClient& rpc, const PrivateKey& key, SenderOptions options = {});

    TxSender(const TxSender&) = delete;
    TxSender& operator=(const TxSender&) = delete;

    /// Submits and waits for the receipt (with the configured confirmations). Thread-safe.
    Result<SentTx> send(const TxRequest& request);
    /// Estimates gas and fees, assigns a nonce, signs and hands the transaction to the node.
    Result<PendingTx> submit(const TxRequest& request);
    /// Waits for a submitted transaction, replacing it with higher fees while it is stuck.
    Result<SentTx> wait(PendingTx pending);

    /// Sends an already signed raw transaction of this account again (one journaled before a
    /// crash, see before_broadcast), without calling before_broadcast. A node that already has
    /// it or has mined it answers with its hash; a nonce used by another transaction is
    /// Errc::invalid_transaction.
    Result<Hash32> rebroadcast(ByteView raw);
    /// Waits for a transaction of this account sent earlier (possibly by a previous process),
    /// given the hashes of its versions (same nonce), like wait(): the fields are read back
    /// from the node (the newest version it knows), and a stuck one is replaced with higher
    /// fees. Errc::not_found when the node knows none of them (rebroadcast first).
    Result<SentTx> wait_for(const std::vector<Hash32>& hashes, BroadcastHook before_broadcast = {});
    Result<SentTx> wait_for(const Hash32& hash, BroadcastHook before_broadcast = {}) {
        return wait_for(std::vector<Hash32>{hash}, std::move(before_broadcast));
    }

    /// Forgets the local nonce; the next submit reads it from the node again.
    void resync_nonce();
    [[nodiscard]] const Address& from() const noexcept { return from_; }
    [[nodiscard]] std::optional<std::uint64_t> next_nonce() const;

private:
    Result<SignedTx> sign(const Transaction& tx) const;
    /// Signs and calls before_broadcast; the caller holds mutex_.
    Result<SignedTx> sign_for_broadcast(const Transaction& tx, const BroadcastHook& hook) const;
    Result<void> bump_and_resend(PendingTx& pending);

    RpcClient& rpc_;
    Address from_;
    std::uint64_t chain_id_;
    Signer signer_;
    SenderOptions options_;
    mutable std::mutex mutex_;
    std::optional<std::uint64_t> next_nonce_;  // guarded by mutex_
};

}  // namespace zeppelin::eth
