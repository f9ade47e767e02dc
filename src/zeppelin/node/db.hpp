// A thin RAII wrapper over SQLite (WAL mode, busy timeout, prepared statements, transactions).
// The node keeps all its state here so that `kill -9` at any moment loses nothing that was
// committed: every state transition is one transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::node {

class Statement;

class Database final {
public:
    /// Opens (creating if needed) the database at `path`, in WAL mode with synchronous=FULL.
    static Result<Database> open(const std::string& path);

    Database(Database&& other) noexcept : db_{other.db_} { other.db_ = nullptr; }
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    /// Runs one or more statements without results.
    Result<void> exec(std::string_view sql);
    Result<Statement> prepare(std::string_view sql);

    /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it returns an error.
    template <class F>
    Result<void> transaction(F&& body) {
        ZP_CHECK(exec("BEGIN IMMEDIATE"));
        Result<void> r = body();
        if (!r) {
            (void)exec("ROLLBACK");
            return r;
        }
        return exec("COMMIT");
    }

    std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }
    int changes() const noexcept { return sqlite3_changes(db_); }
    sqlite3* handle() const noexcept { return db_; }

private:
    explicit Database(sqlite3* db) : db_{db} {}
    sqlite3* db_{nullptr};
};

/// A value bound to or read from a statement.
using Value = std::variant<std::nullptr_t, std::int64_t, std::string, Bytes>;

class Statement final {
public:
    Statement(Statement&& other) noexcept : stmt_{other.stmt_}, db_{other.db_} { other.stmt_ = nullptr; }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;
    ~Statement();

    /// Binds parameters 1..n in order (resetting the statement first).
    Result<void> bind(const std::vector<Value>& params);
    /// Steps once: true if a row is available, false when done.
    Result<bool> step();
    /// Runs to completion (for INSERT/UPDATE/DELETE).
    Result<void> run(const std::vector<Value>& params = {});

    std::int64_t column_int(int i) const;
    std::string column_text(int i) const;
    Bytes column_blob(int i) const;
    bool column_is_null(int i) const;

private:
    friend class Database;
    Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_{stmt}, db_{db} {}
    sqlite3_stmt* stmt_{nullptr};
    sqlite3* db_{nullptr};
};

}  // namespace zeppelin::node
