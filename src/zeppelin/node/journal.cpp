#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/market/revert_words.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

/// Sends one dispatcher transaction for (agreement, action), at most once: a mined one is not
/// sent again, a journaled pending one is re-broadcast and awaited, and the call is simulated
/// first so that a transaction that would revert is never sent (its revert comes back as
/// Errc::reverted with the contract's custom error in words). Returns the mined receipt (for a
/// transaction mined before, by an earlier call or process, only its hash is filled in).
Result<eth::Receipt> NodeContext::transact(std::uint64_t agreement, const std::string& action, eth::TxRequest request) {
    ZP_CHECK(check_chain(*this, "a transaction about to be sent"));  // never one on another chain (chain_identity.hpp)
    const auto journaled = ZP_TRY(store->txs_for(agreement, action));
    for (const auto& t : journaled)
        if (t.status == TxStatus::mined) {
            eth::Receipt r;
            r.transaction_hash = t.hash;
            r.status = true;
            return r;
        }
    std::vector<JournalTx> pending;
    std::copy_if(journaled.begin(), journaled.end(), std::back_inserter(pending),
                 [](const JournalTx& t) { return t.status == TxStatus::pending; });
    if (!pending.empty()) {
        if (auto r = settle_journaled(pending)) return r;
    }
    auto simulated = dispatcher->simulate(me, request.data, request.value);
    if (!simulated) return explain_funds(simulated.error(), request);
    const auto& sim = *simulated;
    if (sim.reverted) {
        // Decided on the decoded custom error, never on its text: these only mean "not yet".
        const auto& name = sim.revert.error_name;
        const bool not_yet = sim.revert.kind == eth::Revert::Kind::custom &&
                             (name == "SettlementTooEarly" || name == "DeadlineNotPassed" || name == "DrawNotReady" ||
                              name == "ReportTooEarly");
        return make_error(not_yet ? Errc::too_early : Errc::reverted, market::explain_revert(sim.revert));
    }
    request.before_broadcast = journal_hook(agreement, action);
    auto sent = sender->send(request);
    if (!sent) {
        metrics.counter("zeppelin_transactions_total", "Transactions sent by this node").inc({{"action", action_kind(action)}, {"result", "error"}});
        return explain_funds(sent.error(), request);
    }
    return record(agreement, action, {}, *sent);
}

namespace {

constexpr std::uint64_t kGasBoundWhenUnestimated = 500'000;

bool is_insufficient_funds(const Error& e) {
    std::string m = e.message();
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return m.find("insufficient funds") != std::string::npos;
}

std::string insufficient_funds_sentence(const Address& account, const u256& balance, const u256& value, const u256& gas_cost) {
    const u256 needed = value + gas_cost;
    std::string s = "account " + eth::to_checksum(account) + " holds " + format_amount(balance) + "; this needs " +
                    format_amount(needed) + " (" + format_amount(value) + " sent with it and up to " + format_amount(gas_cost) +
                    " for gas)";
    if (needed > balance) s += ": send it at least " + format_amount(needed - balance) + " more";
    return s;
}

}  // namespace

/// The RPC's "insufficient funds for gas * price + value" as a sentence with the account's balance
/// and what the transaction needs; any other error unchanged.
Error NodeContext::explain_funds(const Error& e, const eth::TxRequest& request) {
    if (!is_insufficient_funds(e)) return e;
    const auto balance = rpc->get_balance(me);
    if (!balance) return e;
    std::uint64_t gas = request.gas_limit ? *request.gas_limit : 0;
    if (gas == 0) {
        // Estimated as a call the account could pay for; a call that needs the value cannot be
        // estimated without it, so a bound (a worker's registration costs ~250k gas) stands in.
        auto est = rpc->estimate_gas(eth::CallRequest{me, request.to, request.data, std::nullopt, std::nullopt});
        gas = est ? *est : kGasBoundWhenUnestimated;
    }
    u256 fee = 0;
    if (auto f = rpc->suggest_fees()) fee = f->max_fee;
    return Error{e.code(), insufficient_funds_sentence(me, *balance, request.value, u256{gas} * fee)};
}

eth::BroadcastHook NodeContext::journal_hook(std::uint64_t agreement, const std::string& action) {
    return [store = store.get(), agreement, action](const eth::SignedTx& stx, const eth::Transaction& tx) -> Result<void> {
        JournalTx j;
        j.hash = stx.hash;
        j.raw = stx.raw;
        j.nonce = tx.nonce;
        j.agreement_id = agreement;
        j.action = action;
        return store->journal(j);
    };
}

std::string NodeContext::action_kind(const std::string& action) { return action.substr(0, action.find(':')); }

Result<eth::Receipt> NodeContext::call(std::uint64_t agreement, const std::string& action, Bytes data, const u256& value) {
    auto r = transact(agreement, action, dispatcher->tx(std::move(data), value));
    invalidate(agreement);  // what this node's own transaction changed is read again
    return r;
}

/// Writes what became of every version of a transaction to the journal and the metrics.
Result<eth::Receipt> NodeContext::record(std::uint64_t agreement, const std::string& action, const std::vector<JournalTx>& known,
                            const eth::SentTx& sent) {
    const auto& receipt = sent.receipt;
    std::vector<Hash32> hashes = sent.hashes;
    for (const auto& t : known) hashes.push_back(t.hash);
    for (const auto& h : hashes)
        (void)store->set_tx_status(h, h != receipt.transaction_hash ? TxStatus::replaced
                                      : receipt.status              ? TxStatus::mined
                                                                    : TxStatus::failed);
    metrics.counter("zeppelin_transactions_total", "Transactions sent by this node").inc({{"action", action_kind(action)}, {"result", receipt.status ? "mined" : "reverted"}});
    metrics.counter("zeppelin_gas_used_total", "Gas used by this node's transactions").inc({}, static_cast<double>(receipt.gas_used));
    if (!receipt.status)
        return make_error(Errc::reverted, action + ": transaction " + to_hex(receipt.transaction_hash) + " reverted");
    spdlog::info("agreement {}: {} mined in block {} ({} gas)", agreement, action, receipt.block_number, receipt.gas_used);
    return receipt;
}

/// Brings journaled versions of one transaction (same nonce) to their end after a restart: the
/// newest signed bytes are sent again, never a fresh transaction, and awaited (replaced with
/// higher fees if stuck) by the sender itself.
Result<eth::Receipt> NodeContext::settle_journaled(const std::vector<JournalTx>& versions) {
    const auto& newest = versions.back();
    if (auto again = sender->rebroadcast(newest.raw); again)
        spdlog::info("re-sent journaled transaction {} ({} of agreement {})", to_hex(newest.hash), newest.action,
                     newest.agreement_id);
    std::vector<Hash32> hashes;
    for (const auto& v : versions) hashes.push_back(v.hash);
    auto sent = sender->wait_for(hashes, journal_hook(newest.agreement_id, newest.action));
    if (!sent) {
        // The node knows none of them: the nonce went to another transaction.
        if (sent.error().code() == Errc::not_found)
            for (const auto& h : hashes) ZP_CHECK(store->set_tx_status(h, TxStatus::replaced));
        return sent.error().wrap("journaled transaction " + to_hex(newest.hash));
    }
    return record(newest.agreement_id, newest.action, versions, *sent);
}

/// On start: every journaled transaction not known to be mined is settled, one nonce at a time.
void NodeContext::recover_journal() {
    auto pending = store->txs(TxStatus::pending);  // in nonce order, versions oldest first
    if (!pending) {
        spdlog::error("cannot read the transaction journal: {}", pending.error().message());
        return;
    }
    for (auto it = pending->begin(); it != pending->end();) {
        const auto end = std::find_if(it, pending->end(), [&](const JournalTx& t) { return t.nonce != it->nonce; });
        if (auto r = settle_journaled({it, end}); !r) spdlog::warn("{}", r.error().message());
        it = end;
    }
    sender->resync_nonce();
}

}  // namespace zeppelin::node
