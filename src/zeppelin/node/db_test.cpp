#include "zeppelin/node/db.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace zeppelin;
using namespace zeppelin::node;

namespace {
std::string temp_db() {
    auto dir = std::filesystem::temp_directory_path() / ("zp-db-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto p = dir / "state.sqlite";
    std::filesystem::remove(p);
    return p.string();
}
}  // namespace

TEST(Database, RoundTripsValuesAndSurvivesReopen) {
    auto path = temp_db();
    {
        auto db = Database::open(path).value();
        db.exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)").value();
        auto ins = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)").value();
        ins.run({std::int64_t{42}, std::string{"hello"}, Bytes{1, 2, 3}, nullptr}).value();
    }
    auto db = Database::open(path).value();
    auto q = db.prepare("SELECT i, s, b, n FROM t").value();
    ASSERT_TRUE(q.step().value());
    EXPECT_EQ(q.column_int(0), 42);
    EXPECT_EQ(q.column_text(1), "hello");
    EXPECT_EQ(q.column_blob(2), (Bytes{1, 2, 3}));
    EXPECT_TRUE(q.column_is_null(3));
    EXPECT_FALSE(q.step().value());
}

TEST(Database, TransactionRollsBackOnError) {
    auto db = Database::open(temp_db()).value();
    db.exec("CREATE TABLE t (i INTEGER)").value();
    auto r = db.transaction([&]() -> Result<void> {
        ZP_CHECK(db.exec("INSERT INTO t VALUES (1)"));
        return Error{Errc::internal, "abort"};
    });
    EXPECT_FALSE(r);
    auto q = db.prepare("SELECT COUNT(*) FROM t").value();
    ASSERT_TRUE(q.step().value());
    EXPECT_EQ(q.column_int(0), 0);
}

TEST(Database, ClearErrors) {
    auto db = Database::open(temp_db()).value();
    auto bad = db.prepare("SELEC nonsense");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("cannot prepare"), std::string::npos);
    auto nowhere = Database::open("/nonexistent-dir/x/state.sqlite");
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code(), Errc::io);
}
