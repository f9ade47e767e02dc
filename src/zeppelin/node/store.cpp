#include "zeppelin/node/store.hpp"

#include <chrono>

namespace zeppelin::node {
namespace {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS agreements(
  id INTEGER PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS known(
  id INTEGER PRIMARY KEY, buy_tx BLOB NOT NULL, created_block INTEGER NOT NULL, requirements TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs(
  hash BLOB PRIMARY KEY, agreement INTEGER NOT NULL, action TEXT NOT NULL, nonce INTEGER NOT NULL,
  raw BLOB NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS txs_action ON txs(agreement, action);
CREATE TABLE IF NOT EXISTS seen(key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS probes(
  agreement INTEGER NOT NULL, period INTEGER NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS probes_agreement ON probes(agreement, period);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

Result<TxStatus> parse_tx_status(std::string_view s) {
    for (auto st : {TxStatus::pending, TxStatus::mined, TxStatus::failed, TxStatus::replaced})
        if (to_string(st) == s) return st;
    return make_error(Errc::invalid_argument, "unknown transaction status '" + std::string{s} + "'");
}

Result<LocalAgreement> read_agreement(Statement& st) {
    LocalAgreement a;
    a.id = static_cast<std::uint64_t>(st.column_int(0));
    a.role = ZP_TRY(parse_role(st.column_text(1)));
    const auto phase_text = st.column_text(2);
    const auto phase = parse_phase(phase_text);
    if (!phase)
        return make_error(Errc::internal, "agreement " + std::to_string(a.id) + " has an unknown state '" + phase_text + "'");
    a.phase = *phase;
    const auto doc = nlohmann::json::parse(st.column_text(3), nullptr, false);
    if (doc.is_discarded()) return make_error(Errc::internal, "corrupt data of agreement " + std::to_string(a.id));
    auto rec = record_from_json(doc);
    if (!rec) return rec.error().wrap("agreement " + std::to_string(a.id));
    a.rec = std::move(*rec);
    a.updated_at = st.column_int(4);
    return a;
}

Result<JournalTx> read_tx(Statement& st) {
    JournalTx t;
    const auto h = st.column_blob(0);
    if (h.size() != 32) return make_error(Errc::internal, "corrupt transaction journal");
    std::copy(h.begin(), h.end(), t.hash.bytes.begin());
    t.agreement_id = static_cast<std::uint64_t>(st.column_int(1));
    t.action = st.column_text(2);
    t.nonce = static_cast<std::uint64_t>(st.column_int(3));
    t.raw = st.column_blob(4);
    t.status = ZP_TRY(parse_tx_status(st.column_text(5)));
    t.created_at = st.column_int(6);
    return t;
}

Bytes blob(const Hash32& h) { return Bytes(h.bytes.begin(), h.bytes.end()); }

}  // namespace

std::string_view to_string(Role r) noexcept {
    switch (r) {
        case Role::client: return "client";
        case Role::worker: return "worker";
        case Role::verifier: return "verifier";
    }
    return "?";
}

Result<Role> parse_role(std::string_view s) {
    for (auto r : {Role::client, Role::worker, Role::verifier})
        if (to_string(r) == s) return r;
    return make_error(Errc::invalid_argument, "unknown role '" + std::string{s} + "'");
}

std::string_view to_string(TxStatus s) noexcept {
    switch (s) {
        case TxStatus::pending: return "pending";
        case TxStatus::mined: return "mined";
        case TxStatus::failed: return "failed";
        case TxStatus::replaced: return "replaced";
    }
    return "?";
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    auto db = ZP_TRY(Database::open(path));
    ZP_CHECK(db.exec(kSchema));
    return std::unique_ptr<Store>{new Store{std::move(db)}};
}

Result<void> Store::put(const LocalAgreement& a) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare(
        "INSERT INTO agreements(id, role, state, data, updated_at) VALUES(?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET role=excluded.role, state=excluded.state, data=excluded.data, "
        "updated_at=excluded.updated_at"));
    return st.run({static_cast<std::int64_t>(a.id), std::string{to_string(a.role)}, std::string{phase_value(a.phase)}, to_json(a.rec).dump(),
                   now_seconds()});
}

Result<std::optional<LocalAgreement>> Store::get(std::uint64_t id) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("SELECT id, role, state, data, updated_at FROM agreements WHERE id = ?"));
    ZP_CHECK(st.bind({static_cast<std::int64_t>(id)}));
    if (!ZP_TRY(st.step())) return std::optional<LocalAgreement>{};
    return std::optional<LocalAgreement>{ZP_TRY(read_agreement(st))};
}

Result<std::vector<LocalAgreement>> Store::list(bool include_finished) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare(include_finished
                                     ? "SELECT id, role, state, data, updated_at FROM agreements ORDER BY id"
                                     : "SELECT id, role, state, data, updated_at FROM agreements WHERE state <> 'done' "
                                       "ORDER BY id"));
    std::vector<LocalAgreement> out;
    while (ZP_TRY(st.step())) out.push_back(ZP_TRY(read_agreement(st)));
    return out;
}

Result<void> Store::put_known(const KnownAgreement& k) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("INSERT OR REPLACE INTO known(id, buy_tx, created_block, requirements) VALUES(?,?,?,?)"));
    return st.run({static_cast<std::int64_t>(k.id), blob(k.buy_tx), static_cast<std::int64_t>(k.created_block),
                   k.requirements.dump()});
}

Result<std::optional<KnownAgreement>> Store::get_known(std::uint64_t id) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("SELECT buy_tx, created_block, requirements FROM known WHERE id = ?"));
    ZP_CHECK(st.bind({static_cast<std::int64_t>(id)}));
    if (!ZP_TRY(st.step())) return std::optional<KnownAgreement>{};
    KnownAgreement k;
    k.id = id;
    const auto h = st.column_blob(0);
    if (h.size() == 32) std::copy(h.begin(), h.end(), k.buy_tx.bytes.begin());
    k.created_block = static_cast<std::uint64_t>(st.column_int(1));
    k.requirements = nlohmann::json::parse(st.column_text(2), nullptr, false);
    if (k.requirements.is_discarded()) return make_error(Errc::internal, "corrupt requirements of agreement " + std::to_string(id));
    return std::optional<KnownAgreement>{std::move(k)};
}

Result<void> Store::journal(const JournalTx& tx) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare(
        "INSERT OR REPLACE INTO txs(hash, agreement, action, nonce, raw, status, created_at) VALUES(?,?,?,?,?,?,?)"));
    return st.run({blob(tx.hash), static_cast<std::int64_t>(tx.agreement_id), tx.action,
                   static_cast<std::int64_t>(tx.nonce), tx.raw, std::string{to_string(tx.status)}, now_seconds()});
}

Result<void> Store::set_tx_status(const Hash32& hash, TxStatus status) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("UPDATE txs SET status = ? WHERE hash = ?"));
    return st.run({std::string{to_string(status)}, blob(hash)});
}

Result<void> Store::set_tx_agreement(const Hash32& hash, std::uint64_t agreement_id) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("UPDATE txs SET agreement = ? WHERE hash = ?"));
    return st.run({static_cast<std::int64_t>(agreement_id), blob(hash)});
}

Result<std::vector<JournalTx>> Store::txs(std::optional<TxStatus> status) {
    std::lock_guard lock{mutex_};
    const char* base = "SELECT hash, agreement, action, nonce, raw, status, created_at FROM txs";
    auto st = ZP_TRY(db_.prepare(status ? std::string{base} + " WHERE status = ? ORDER BY nonce, rowid" :
                                          std::string{base} + " ORDER BY nonce, rowid"));
    if (status) ZP_CHECK(st.bind({std::string{to_string(*status)}}));
    std::vector<JournalTx> out;
    while (ZP_TRY(st.step())) out.push_back(ZP_TRY(read_tx(st)));
    return out;
}

Result<std::vector<JournalTx>> Store::txs_of(std::uint64_t agreement_id) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare(
        "SELECT hash, agreement, action, nonce, raw, status, created_at FROM txs WHERE agreement = ? ORDER BY nonce"));
    ZP_CHECK(st.bind({static_cast<std::int64_t>(agreement_id)}));
    std::vector<JournalTx> out;
    while (ZP_TRY(st.step())) out.push_back(ZP_TRY(read_tx(st)));
    return out;
}

Result<std::vector<JournalTx>> Store::txs_for(std::uint64_t agreement_id, const std::string& action) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare(
        "SELECT hash, agreement, action, nonce, raw, status, created_at FROM txs WHERE agreement = ? AND action = ? "
        "ORDER BY rowid DESC"));
    ZP_CHECK(st.bind({static_cast<std::int64_t>(agreement_id), action}));
    std::vector<JournalTx> out;
    while (ZP_TRY(st.step())) out.push_back(ZP_TRY(read_tx(st)));
    return out;
}

Result<bool> Store::mark_seen(const std::string& key) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("INSERT OR IGNORE INTO seen(key) VALUES(?)"));
    ZP_CHECK(st.run({key}));
    return db_.changes() == 1;
}

Result<bool> Store::seen(const std::string& key) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("SELECT 1 FROM seen WHERE key = ?"));
    ZP_CHECK(st.bind({key}));
    return ZP_TRY(st.step());
}

Result<void> Store::add_probe(std::uint64_t agreement_id, const ProbeRecord& p) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("INSERT INTO probes(agreement, period, ok, detail, at_ms) VALUES(?,?,?,?,?)"));
    // `ok` holds the outcome: 0 failed, 1 ok, 2 inconclusive (older stores hold only 0 and 1).
    const std::int64_t outcome = p.ok ? 1 : p.inconclusive ? 2 : 0;
    return st.run({static_cast<std::int64_t>(agreement_id), static_cast<std::int64_t>(p.period), outcome, p.detail,
                   p.at_ms});
}

Result<std::vector<ProbeRecord>> Store::probes(std::uint64_t agreement_id) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(
        db_.prepare("SELECT period, ok, detail, at_ms FROM probes WHERE agreement = ? ORDER BY period, at_ms"));
    ZP_CHECK(st.bind({static_cast<std::int64_t>(agreement_id)}));
    std::vector<ProbeRecord> out;
    while (ZP_TRY(st.step()))
        out.push_back(ProbeRecord{static_cast<std::uint64_t>(st.column_int(0)), st.column_int(1) == 1,
                                  st.column_text(2), st.column_int(3), st.column_int(1) == 2});
    return out;
}

Result<void> Store::set(const std::string& key, const std::string& value) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES(?,?)"));
    return st.run({key, value});
}

Result<std::optional<std::string>> Store::setting(const std::string& key) {
    std::lock_guard lock{mutex_};
    auto st = ZP_TRY(db_.prepare("SELECT value FROM settings WHERE key = ?"));
    ZP_CHECK(st.bind({key}));
    if (!ZP_TRY(st.step())) return std::optional<std::string>{};
    return std::optional<std::string>{st.column_text(0)};
}

}  // namespace zeppelin::node
