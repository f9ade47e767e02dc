// The node's durable state, in one SQLite database (db.hpp, WAL, synchronous=FULL):
//
//   agreements   the agreements this node plays a role in: role, phase, and the typed record of
//                what the role has learned and done (record.hpp; stored as JSON)
//   known        every agreement the chain announced: buy transaction and block, requirements (a worker
//                assigned later by reassignment needs them, and the client's key from the buy tx)
//   txs          the transaction journal: every signed transaction is written here BEFORE it is
//                sent, so a node killed at any moment re-sends the same bytes, never a new one
//   seen         messages already handled (transaction hash + log index)
//   probes       a verifier's probe outcomes per period
//
// Thread-safe: one mutex serializes every statement (the node's state is small; clarity wins).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/node/db.hpp"
#include "zeppelin/node/phase.hpp"
#include "zeppelin/node/record.hpp"

namespace zeppelin::node {

enum class Role { client, worker, verifier };
std::string_view to_string(Role r) noexcept;
Result<Role> parse_role(std::string_view s);

struct LocalAgreement {
    std::uint64_t id{0};
    Role role{Role::client};
    Phase phase{Phase::assigned};  // where the agreement stands for this node's role (phase.hpp)
    AgreementRecord rec;  // what the role learned and did (record.hpp)
    std::int64_t updated_at{0};  // unix seconds
    [[nodiscard]] bool finished() const noexcept { return is_final(phase); }
};

struct KnownAgreement {
    std::uint64_t id{0};
    Hash32 buy_tx{};
    std::uint64_t created_block{0};  // where AgreementCreated was emitted: its events start there
    nlohmann::json requirements = nlohmann::json::object();
};

enum class TxStatus { pending, mined, failed, replaced };
std::string_view to_string(TxStatus s) noexcept;

struct JournalTx {
    Hash32 hash{};
    std::uint64_t agreement_id{0};
    std::string action;
    std::uint64_t nonce{0};
    Bytes raw;
    TxStatus status{TxStatus::pending};
    std::int64_t created_at{0};
};

struct ProbeRecord {
    std::uint64_t period{0};
    bool ok{false};
    std::string detail;
    std::int64_t at_ms{0};
    /// The probe failed while this node could not reach the world either (its own outage): it
    /// says nothing about the service, and the period is not reported on its account.
    bool inconclusive{false};
};

class Store final {
public:
    /// Opens (creating) <path> and its schema.
    static Result<std::unique_ptr<Store>> open(const std::string& path);

    // agreements
    Result<void> put(const LocalAgreement& a);
    Result<std::optional<LocalAgreement>> get(std::uint64_t id);
    Result<std::vector<LocalAgreement>> list(bool include_finished = true);

    // known agreements
    Result<void> put_known(const KnownAgreement& k);
    Result<std::optional<KnownAgreement>> get_known(std::uint64_t id);

    // transaction journal
    Result<void> journal(const JournalTx& tx);
    Result<void> set_tx_status(const Hash32& hash, TxStatus status);
    /// Files a transaction under an agreement (a purchase learns its agreement id once mined).
    Result<void> set_tx_agreement(const Hash32& hash, std::uint64_t agreement_id);
    /// In nonce order; versions of one nonce (fee bumps) oldest first.
    Result<std::vector<JournalTx>> txs(std::optional<TxStatus> status = std::nullopt);
    /// Every transaction of one agreement, in nonce order.
    Result<std::vector<JournalTx>> txs_of(std::uint64_t agreement_id);
    /// Transactions for one (agreement, action), newest first.
    Result<std::vector<JournalTx>> txs_for(std::uint64_t agreement_id, const std::string& action);

    // messages
    /// true if `key` was not seen before (and is now marked seen).
    Result<bool> mark_seen(const std::string& key);
    Result<bool> seen(const std::string& key);

    // probes
    Result<void> add_probe(std::uint64_t agreement_id, const ProbeRecord& p);
    Result<std::vector<ProbeRecord>> probes(std::uint64_t agreement_id);

    // small key/value settings (e.g. the worker's registered offer)
    Result<void> set(const std::string& key, const std::string& value);
    Result<std::optional<std::string>> setting(const std::string& key);

private:
    explicit Store(Database db) : db_{std::move(db)} {}
    Database db_;
    std::mutex mutex_;
};

}  // namespace zeppelin::node
