#include "zeppelin/eth/sender.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <thread>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {

namespace {

bool message_has(const Error& e, std::string_view needle) {
    std::string m = e.message();
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return m.find(needle) != std::string::npos;
}

bool is_nonce_too_low(const Error& e) {
    return e.code() == Errc::rpc_error && (message_has(e, "nonce too low") || message_has(e, "nonce has already been used"));
}

/// A fresh transaction refused because its nonce is already used: mined ("nonce too low"), or
/// held by another pending transaction in the pool, which the node reports as an underpriced
/// replacement. Either way the account's nonce moved behind the sender's back.
bool is_nonce_taken(const Error& e) {
    return is_nonce_too_low(e) || (e.code() == Errc::rpc_error && message_has(e, "replacement transaction underpriced"));
}

bool is_transport_error(const Error& e) { return e.code() == Errc::rpc_unreachable || e.code() == Errc::timeout; }

u256 bumped(const u256& v, unsigned percent) {
    const u256 b = v * (100 + percent) / 100;
    return b > v ? b : u256{v + 1};
}

}  // namespace

Signer make_key_signer(const PrivateKey& key) {
    return [key](const Transaction& unsigned_tx) -> Result<SignedTx> {
        Transaction tx = unsigned_tx;
        ZP_CHECK(sign_transaction(tx, key));
        auto raw = ZP_TRY(tx.encode());
        const Hash32 hash = keccak256(raw);
        return SignedTx{std::move(raw), hash};
    };
}

TxSender::TxSender(RpcClient& rpc, const Address& from, std::uint64_t chain_id, Signer signer, SenderOptions options)
    : rpc_{rpc}, from_{from}, chain_id_{chain_id}, signer_{std::move(signer)}, options_{std::move(options)} {
    options_.fee_bump_percent = std::max(options_.fee_bump_percent, 10u);
}

Result<std::unique_ptr<TxSender>> TxSender::create(RpcClient& rpc, const PrivateKey& key, SenderOptions options) {
    const auto chain = ZP_TRY(rpc.chain_id());
    return std::make_unique<TxSender>(rpc, key.address(), chain, make_key_signer(key), std::move(options));
}

std::optional<std::uint64_t> TxSender::next_nonce() const {
    std::lock_guard lock{mutex_};
    return next_nonce_;
}

void TxSender::resync_nonce() {
    std::lock_guard lock{mutex_};
    next_nonce_.reset();
}

Result<SignedTx> TxSender::sign(const Transaction& tx) const {
    auto s = signer_(tx);
    if (!s) return s.error().wrap("cannot sign the transaction from " + to_checksum(from_));
    return s;
}

Result<SignedTx> TxSender::sign_for_broadcast(const Transaction& tx, const BroadcastHook& hook) const {
    auto signed_tx = ZP_TRY(sign(tx));
    if (const auto& before = hook ? hook : options_.before_broadcast) {
        auto journaled = before(signed_tx, tx);
        if (!journaled)
            return journaled.error().wrap("transaction " + to_hex(signed_tx.hash) + " (nonce " +
                                          std::to_string(tx.nonce) + ") from " + to_checksum(from_) + " was not sent");
    }
    return signed_tx;
}

Result<SentTx> TxSender::send(const TxRequest& request) {
    auto pending = ZP_TRY(submit(request));
    return wait(std::move(pending));
}

Result<PendingTx> TxSender::submit(const TxRequest& request) {
    Transaction tx;
    tx.type = TxType::dynamic_fee;
    tx.chain_id = chain_id_;
    tx.to = request.to;
    tx.value = request.value;
    tx.data = request.data;
    if (request.gas_limit) {
        tx.gas_limit = *request.gas_limit;
    } else {
        CallRequest call{from_, request.to, request.data, request.value, std::nullopt};
        auto estimate = rpc_.estimate_gas(call);
        if (!estimate && is_transport_error(estimate.error())) resync_nonce();
        if (!estimate) return estimate.error().wrap("cannot estimate gas for a transaction from " + to_checksum(from_));
        tx.gas_limit = *estimate + *estimate * options_.gas_margin_percent / 100;
    }
    auto fees_or = rpc_.suggest_fees();
    if (!fees_or) {
        // The node may have restarted (a devnet starts over): read the nonce again next time.
        if (is_transport_error(fees_or.error())) resync_nonce();
        return fees_or.error();
    }
    const auto& fees = *fees_or;
    tx.max_priority_fee_per_gas = fees.max_priority_fee;
    tx.max_fee_per_gas = fees.max_fee;
    if (options_.max_fee_cap && tx.max_fee_per_gas > *options_.max_fee_cap) {
        if (fees.base_fee > *options_.max_fee_cap)
            return Error{Errc::limit_exceeded, "the base fee (" + to_dec(fees.base_fee) +
                                                   " wei) is above the configured max fee cap (" +
                                                   to_dec(*options_.max_fee_cap) + " wei)"};
        tx.max_fee_per_gas = *options_.max_fee_cap;
        tx.max_priority_fee_per_gas = std::min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas);
    }

    std::lock_guard lock{mutex_};
    for (int attempt = 0;; ++attempt) {
        if (!next_nonce_) next_nonce_ = ZP_TRY(rpc_.get_transaction_count(from_, BlockTag::pending()));
        tx.nonce = *next_nonce_;
        const auto signed_tx = ZP_TRY(sign_for_broadcast(tx, request.before_broadcast));
        auto sent = rpc_.send_raw_transaction(signed_tx.raw);
        if (sent) {
            ++*next_nonce_;
            const auto now = std::chrono::steady_clock::now();
            return PendingTx{std::move(tx), {signed_tx.hash}, now, now, request.before_broadcast};
        }
        const auto& err = sent.error();
        if (is_nonce_taken(err) && attempt < 3) {  // someone else used our nonces: resync
            next_nonce_.reset();
            continue;
        }
        // After a transport failure we cannot know whether the node took the transaction.
        if (is_transport_error(err)) next_nonce_.reset();
        return err.wrap("cannot send transaction (nonce " + std::to_string(tx.nonce) + ") from " + to_checksum(from_));
    }
}

Result<void> TxSender::bump_and_resend(PendingTx& pending) {
    Transaction tx = pending.tx;
    tx.max_priority_fee_per_gas = bumped(tx.max_priority_fee_per_gas, options_.fee_bump_percent);
    tx.max_fee_per_gas = bumped(tx.max_fee_per_gas, options_.fee_bump_percent);
    // Follow the market if it moved further than our bump.
    if (auto fees = rpc_.suggest_fees()) {
        tx.max_fee_per_gas = std::max(tx.max_fee_per_gas, fees->max_fee);
        tx.max_priority_fee_per_gas = std::max(tx.max_priority_fee_per_gas, fees->max_priority_fee);
    }
    if (tx.max_fee_per_gas < tx.max_priority_fee_per_gas) tx.max_fee_per_gas = tx.max_priority_fee_per_gas;
    if (options_.max_fee_cap && tx.max_fee_per_gas > *options_.max_fee_cap) return {};  // at the cap: keep waiting
    std::lock_guard lock{mutex_};  // before_broadcast runs under the lock, like in submit
    const auto signed_tx = ZP_TRY(sign_for_broadcast(tx, pending.before_broadcast));
    pending.last_sent = std::chrono::steady_clock::now();
    auto sent = rpc_.send_raw_transaction(signed_tx.raw);
    if (!sent) {
        // An earlier version got mined meanwhile: the receipt poll will find it.
        if (is_nonce_too_low(sent.error())) return {};
        // The node wants a larger raise: remember the raised fees so the next bump goes higher.
        if (message_has(sent.error(), "underpriced")) {
            pending.tx = std::move(tx);
            return {};
        }
        return sent.error().wrap("cannot send the replacement of transaction nonce " + std::to_string(tx.nonce));
    }
    pending.tx = std::move(tx);
    pending.hashes.push_back(signed_tx.hash);
    return {};
}

Result<SentTx> TxSender::wait(PendingTx pending) {
    const auto deadline = pending.first_sent + options_.timeout;
    for (;;) {
        for (auto it = pending.hashes.rbegin(); it != pending.hashes.rend(); ++it) {
            auto receipt = ZP_TRY(rpc_.get_transaction_receipt(*it));
            if (!receipt) continue;
            const auto now = std::chrono::steady_clock::now();
            const auto left = deadline > now ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)
                                             : std::chrono::milliseconds{0};
            SentTx out;
            out.receipt = options_.confirmations <= 1
                              ? std::move(*receipt)
                              : ZP_TRY(rpc_.wait_for_receipt(*it, options_.confirmations, options_.poll_interval, left));
            out.nonce = pending.tx.nonce;
            out.replacements = static_cast<unsigned>(pending.hashes.size() - 1);
            out.hashes = std::move(pending.hashes);
            out.max_fee_per_gas = pending.tx.max_fee_per_gas;
            out.max_priority_fee_per_gas = pending.tx.max_priority_fee_per_gas;
            return out;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            std::string m = "transaction nonce " + std::to_string(pending.tx.nonce) + " from " + to_checksum(from_) +
                            " was not mined within the timeout; sent as";
            for (const auto& h : pending.hashes) m += " " + to_hex(h);
            return Error{Errc::timeout, std::move(m)};
        }
        if (now - pending.last_sent >= options_.resend_after) {
            // A node that lost its pool (restarted devnet) may expect a lower nonce than ours.
            const auto pending_count = ZP_TRY(rpc_.get_transaction_count(from_, BlockTag::pending()));
            if (pending_count < pending.tx.nonce) {
                resync_nonce();
                return Error{Errc::invalid_transaction,
                             "the node expects nonce " + std::to_string(pending_count) + " from " + to_checksum(from_) +
                                 " but the transaction has nonce " + std::to_string(pending.tx.nonce) +
                                 ": the node lost transactions (restarted?); the nonce was resynced, send again"};
            }
            // If the nonce is already used on chain and none of our versions holds it, another
            // transaction took it: waiting longer cannot help.
            const auto mined_count = ZP_TRY(rpc_.get_transaction_count(from_, BlockTag::latest()));
            if (mined_count > pending.tx.nonce) {
                bool ours = false;
                for (const auto& h : pending.hashes) ours = ours || ZP_TRY(rpc_.get_transaction_receipt(h)).has_value();
                if (!ours)
                    return Error{Errc::invalid_transaction,
                                 "nonce " + std::to_string(pending.tx.nonce) + " of " + to_checksum(from_) +
                                     " was used by another transaction sent outside this sender"};
                continue;  // mined meanwhile: the next round picks up the receipt
            }
            ZP_CHECK(bump_and_resend(pending));
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(options_.poll_interval, deadline - now));
    }
}

Result<Hash32> TxSender::rebroadcast(ByteView raw) {
    const Hash32 hash = keccak256(raw);
    auto decoded = decode_transaction(raw);
    if (!decoded) return decoded.error().wrap("cannot send transaction " + to_hex(hash) + " again");
    const auto signer = ZP_TRY(recover_sender(*decoded));
    if (signer != from_)
        return Error{Errc::invalid_argument, "transaction " + to_hex(hash) + " is from " + to_checksum(signer) +
                                                 ", not from this sender's account " + to_checksum(from_)};
    const std::uint64_t nonce = decoded->nonce;
    std::lock_guard lock{mutex_};
    auto sent = rpc_.send_raw_transaction(raw);
    if (sent) {
        if (next_nonce_ && *next_nonce_ <= nonce) next_nonce_.reset();  // we were behind: read it again
        return hash;
    }
    const auto& err = sent.error();
    if (is_nonce_too_low(err)) {
        // Mined long ago (nodes may forget old transactions but keep receipts), or the nonce
        // went to another transaction.
        if (ZP_TRY(rpc_.get_transaction_receipt(hash))) return hash;
        return Error{Errc::invalid_transaction, "nonce " + std::to_string(nonce) + " of " + to_checksum(from_) +
                                                    " was used by another transaction: " + to_hex(hash) +
                                                    " can never be mined"};
    }
    if (is_transport_error(err)) next_nonce_.reset();
    return err.wrap("cannot send transaction " + to_hex(hash) + " (nonce " + std::to_string(nonce) + ") from " +
                    to_checksum(from_) + " again");
}

Result<SentTx> TxSender::wait_for(const std::vector<Hash32>& hashes, BroadcastHook before_broadcast) {
    if (hashes.empty()) return Error{Errc::invalid_argument, "no transaction hashes to wait for"};
    for (auto it = hashes.rbegin(); it != hashes.rend(); ++it) {
        auto info = ZP_TRY(rpc_.get_transaction(*it));
        if (!info) continue;
        if (info->from != from_ || info->tx.type != TxType::dynamic_fee || info->tx.chain_id != chain_id_)
            return Error{Errc::invalid_argument,
                         "transaction " + to_hex(*it) + " (type " + std::to_string(int(info->tx.type)) + " from " +
                             to_checksum(info->from) + ") is not one this sender sends (type 2 from " +
                             to_checksum(from_) + " on chain " + std::to_string(chain_id_) + ")"};
        PendingTx pending;
        pending.tx = std::move(info->tx);
        pending.tx.signature.reset();
        pending.hashes = hashes;
        pending.first_sent = pending.last_sent = std::chrono::steady_clock::now();
        pending.before_broadcast = std::move(before_broadcast);
        return wait(std::move(pending));
    }
    std::string m = "the node at " + rpc_.url() + " knows none of the transactions";
    for (const auto& h : hashes) m += " " + to_hex(h);
    return Error{Errc::not_found, m + " (send the raw transaction again with rebroadcast first)"};
}

}  // namespace zeppelin::eth
