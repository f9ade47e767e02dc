// Keystore interop through the CLIs: `zeppelin wallet import/list/address` against cast 1.7.1's
// `cast wallet new` / `cast wallet address --keystore` (node_modules/.bin/cast). The random
// `tx sign` / `wallet address` comparisons live in gen_tx.cpp (the differential harness).
// ZEPPELIN_BIN / ZEPPELIN_CAST override the binaries' paths.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return (v != nullptr && *v != '\0') ? std::string{v} : fallback;
}

std::string zeppelin_bin() { return env_or("ZEPPELIN_BIN", ZEPPELIN_BIN); }
std::string cast_bin() { return env_or("ZEPPELIN_CAST", std::string{ZEPPELIN_SOURCE_DIR} + "/node_modules/.bin/cast"); }

using Outcome = zeppelin::test::CommandResult;

// Arguments are paths under the temp directory, hex and fixed words, so plain concatenation is safe.
Outcome run(const std::string& cmd) { return zeppelin::test::run_command(cmd + " 2>/dev/null"); }

class WalletInterop : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(cast_bin())) GTEST_SKIP() << "cast not found at " << cast_bin();
        if (!fs::exists(zeppelin_bin())) GTEST_SKIP() << "zeppelin not found at " << zeppelin_bin();
    }
};

// Keystores across the two tools, through the CLI: zeppelin imports a key and cast opens the
// file; cast creates a keystore and zeppelin lists and opens it; wrong passwords fail cleanly.
TEST_F(WalletInterop, KeystoresInteroperateWithCast) {
    const fs::path dir = fs::temp_directory_path() / ("zp-diff-ks-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const std::string env = "ZEPPELIN_KEYSTORE_DIR=" + dir.string() + " ZP_TEST_PW=pa55word ";
    const std::string key = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const std::string address = "0xFCAd0B19bB29D4674531d6f115237E16AfCE377c";  // cast wallet address of key

    auto imported = run(env + zeppelin_bin() + " --json wallet import --light-kdf --password-env ZP_TEST_PW "
                                               "--private-key " + key);
    ASSERT_EQ(imported.status, 0) << imported.out;
    auto file = nlohmann::json::parse(imported.out).at("file").get<std::string>();
    EXPECT_EQ(nlohmann::json::parse(imported.out).at("address"), address);
    EXPECT_EQ(run(cast_bin() + " wallet address --keystore " + file + " --password pa55word").out, address + "\n");
    EXPECT_NE(run(cast_bin() + " wallet address --keystore " + file + " --password wrong").status, 0);
    // Importing the same key twice is refused.
    EXPECT_NE(run(env + zeppelin_bin() + " wallet import --password-env ZP_TEST_PW --private-key " + key).status, 0);

    auto created = run(cast_bin() + " wallet new " + dir.string() + " --unsafe-password pa55word");
    ASSERT_EQ(created.status, 0);
    auto pos = created.out.find("Address:");
    ASSERT_NE(pos, std::string::npos);
    auto cast_address = created.out.substr(created.out.find("0x", pos), 42);
    auto list = run(env + zeppelin_bin() + " --json wallet list");
    ASSERT_EQ(list.status, 0);
    auto entries = nlohmann::json::parse(list.out);
    ASSERT_EQ(entries.size(), 2u);
    for (const auto& e : entries) {
        auto f = e.at("file").get<std::string>();
        auto opened = run(env + zeppelin_bin() + " wallet address --password-env ZP_TEST_PW --keystore " + f);
        EXPECT_EQ(opened.status, 0);
        EXPECT_TRUE(opened.out == address + "\n" || opened.out == cast_address + "\n") << opened.out;
    }
    auto wrong = run("ZP_TEST_PW=nope " + zeppelin_bin() + " wallet address --password-env ZP_TEST_PW --keystore " +
                     entries[0].at("file").get<std::string>());
    EXPECT_EQ(wrong.status, 1);
    fs::remove_all(dir);
}

}  // namespace
