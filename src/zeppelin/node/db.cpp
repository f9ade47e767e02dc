#include "zeppelin/node/db.hpp"

namespace zeppelin::node {
namespace {
Error sql_error(sqlite3* db, std::string_view what) {
    return Error{Errc::io, "database: " + std::string{what} + ": " + (db ? sqlite3_errmsg(db) : "out of memory")};
}
}  // namespace

Result<Database> Database::open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        auto e = sql_error(db, "cannot open " + path);
        sqlite3_close(db);
        return e;
    }
    Database d{db};
    sqlite3_busy_timeout(db, 5000);
    ZP_CHECK(d.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
    return d;
}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        if (db_) sqlite3_close(db_);
        db_ = other.db_;
        other.db_ = nullptr;
    }
    return *this;
}

Database::~Database() {
    if (db_) sqlite3_close(db_);
}

Result<void> Database::exec(std::string_view sql) {
    std::string s{sql};
    char* msg = nullptr;
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "unknown error";
        sqlite3_free(msg);
        return Error{Errc::io, "database: " + m};
    }
    return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
        return sql_error(db_, "cannot prepare \"" + std::string{sql} + "\"");
    return Statement{stmt, db_};
}

Statement::~Statement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Result<void> Statement::bind(const std::vector<Value>& params) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const int idx = static_cast<int>(i + 1);
        int rc = std::visit(
            [&](const auto& v) -> int {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt_, idx);
                else if constexpr (std::is_same_v<T, std::int64_t>) return sqlite3_bind_int64(stmt_, idx, v);
                else if constexpr (std::is_same_v<T, std::string>)
                    return sqlite3_bind_text(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
                else return sqlite3_bind_blob(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
            },
            params[i]);
        if (rc != SQLITE_OK) return sql_error(db_, "cannot bind parameter " + std::to_string(idx));
    }
    return {};
}

Result<bool> Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sql_error(db_, "step failed");
}

Result<void> Statement::run(const std::vector<Value>& params) {
    ZP_CHECK(bind(params));
    while (ZP_TRY(step())) {
    }
    return {};
}

std::int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }

std::string Statement::column_text(int i) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))} : std::string{};
}

Bytes Statement::column_blob(int i) const {
    auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
    return p ? Bytes(p, p + sqlite3_column_bytes(stmt_, i)) : Bytes{};
}

bool Statement::column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

}  // namespace zeppelin::node
