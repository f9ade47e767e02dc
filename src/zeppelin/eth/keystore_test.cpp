#include "zeppelin/eth/keystore.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/process.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::eth {
namespace {

namespace fs = std::filesystem;

// Test vectors of the Web3 Secret Storage definition
// (https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/#test-vectors,
// formerly the ethereum/wiki "Web3-Secret-Storage-Definition" page): password "testpassword",
// secret 7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d.
constexpr std::string_view kSecret = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

constexpr std::string_view kPbkdf2Vector = R"({
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": { "iv": "6087dab2f9fdbbfaddc31a909735c1e6" },
    "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf": "pbkdf2",
    "kdfparams": {
      "c": 262144,
      "dklen": 32,
      "prf": "hmac-sha256",
      "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"
    },
    "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
})";

// The scrypt vector as published on ethereum.org today does not reproduce: scrypt("testpassword",
// salt 25710c2c.., n=2^18, r=8, p=1) is b4130dc8.. (OpenSSL and our built-in scrypt agree), not
// the page's "derived key" 7446f59e... We therefore use the scrypt vector of the original
// ethereum/wiki page (n=2^18, r=1, p=8; also in web3j's WalletTest), which does reproduce.
constexpr std::string_view kScryptVector = R"({
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": { "iv": "83dbcc02d8ccb40e466191a123791e0e" },
    "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    "kdf": "scrypt",
    "kdfparams": {
      "dklen": 32,
      "n": 262144,
      "r": 1,
      "p": 8,
      "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"
    },
    "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
})";

TEST(Keystore, Pbkdf2SpecVector) {
    auto key = decrypt_keystore(kPbkdf2Vector, "testpassword");
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(to_hex(key->secret(), false), kSecret);
    EXPECT_EQ(to_hex(key->address(), false), "008aeeda4d805471df9b2a5b0f38a0c3bcba786b");
}

TEST(Keystore, ScryptSpecVector) {
    auto key = decrypt_keystore(kScryptVector, "testpassword");
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(to_hex(key->secret(), false), kSecret);
}

// RFC 7914 section 12 test vectors, through OpenSSL and through the built-in implementation.
TEST(Keystore, ScryptRfc7914Vectors) {
    struct V {
        std::string_view password, salt;
        std::uint64_t n, r, p;
        std::string_view dk;
    } vectors[] = {
        {"password", "NaCl", 1024, 8, 16,
         "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83"
         "ee6d8360cbdfa2cc0640"},
        {"pleaseletmein", "SodiumChloride", 16384, 8, 1,
         "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d"
         "651e40dfcf017b45575887"},
    };
    for (const auto& v : vectors) {
        for (bool builtin : {false, true}) {
            Bytes out(64);
            ASSERT_TRUE(scrypt_derive(v.password, as_view(v.salt), v.n, v.r, v.p, out, builtin));
            EXPECT_EQ(to_hex(out, false), v.dk) << "builtin=" << builtin;
        }
    }
}

TEST(Keystore, BuiltinScryptMatchesOpenSsl) {
    for (std::uint64_t r : {1u, 2u, 3u}) {
        for (std::uint64_t p : {1u, 2u}) {
            Bytes a(32), b(32);
            ASSERT_TRUE(scrypt_derive("pw", as_view("salt"), 256, r, p, a, false));
            ASSERT_TRUE(scrypt_derive("pw", as_view("salt"), 256, r, p, b, true));
            EXPECT_EQ(a, b);
        }
    }
}

TEST(Keystore, WrongPassword) {
    EXPECT_EQ(decrypt_keystore(kPbkdf2Vector, "testpassworD").error().code(), Errc::wrong_password);
    EXPECT_EQ(decrypt_keystore(kScryptVector, "").error().code(), Errc::wrong_password);
}

TEST(Keystore, MalformedAndHostileFiles) {
    EXPECT_EQ(decrypt_keystore("not json", "x").error().code(), Errc::invalid_argument);
    EXPECT_EQ(decrypt_keystore("[]", "x").error().code(), Errc::invalid_argument);
    auto j = nlohmann::json::parse(kScryptVector);
    j["version"] = 2;
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::unsupported);
    j["version"] = 3;
    j["crypto"]["kdfparams"]["n"] = 1ull << 40;  // would need 128 TiB
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::limit_exceeded);
    j["crypto"]["kdfparams"]["n"] = 1000;  // not a power of two
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::invalid_argument);
    j = nlohmann::json::parse(kScryptVector);
    j["crypto"]["cipher"] = "aes-128-cbc";
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::unsupported);
    j = nlohmann::json::parse(kPbkdf2Vector);
    j["crypto"]["kdfparams"]["c"] = 1ull << 40;
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::invalid_argument);
    j = nlohmann::json::parse(kPbkdf2Vector);
    j["crypto"].erase("mac");
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::invalid_argument);
    // An "address" that does not match the key is refused.
    j = nlohmann::json::parse(kPbkdf2Vector);
    j["address"] = "0000000000000000000000000000000000000001";
    EXPECT_EQ(decrypt_keystore(j.dump(), "testpassword").error().code(), Errc::invalid_key);
}

TEST(Keystore, WritesWhatItReads) {
    auto key = PrivateKey::generate().value();
    auto text = encrypt_keystore(key, "correct horse", ScryptParams::light()).value();
    auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["address"], to_hex(key.address(), false));
    EXPECT_EQ(j["crypto"]["kdf"], "scrypt");
    EXPECT_EQ(j["crypto"]["kdfparams"]["n"], 4096);
    EXPECT_TRUE(std::regex_match(j["id"].get<std::string>(),
                                 std::regex{"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"}));
    EXPECT_EQ(decrypt_keystore(text, "correct horse").value(), key);
    EXPECT_EQ(decrypt_keystore(text, "correct horsE").error().code(), Errc::wrong_password);
    EXPECT_EQ(keystore_address(text).value(), key.address());
}

TEST(Keystore, StandardParamsRoundTrip) {
    auto key = PrivateKey::generate().value();
    auto text = encrypt_keystore(key, "pw").value();
    EXPECT_EQ(nlohmann::json::parse(text)["crypto"]["kdfparams"]["n"], 262144);
    EXPECT_EQ(decrypt_keystore(text, "pw").value(), key);
}

TEST(Keystore, FileNameLikeGeth) {
    auto a = parse_address("0x7ef5a6135f1fd6a02593eedc869c6d41d934aef8").value();
    std::chrono::system_clock::time_point t{std::chrono::seconds{1458651475} + std::chrono::nanoseconds{920751759}};
    EXPECT_EQ(keystore_file_name(a, t), "UTC--2016-03-22T12-57-55.920751759Z--7ef5a6135f1fd6a02593eedc869c6d41d934aef8");
}

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("zp-keystore-test-" + to_hex(PrivateKey::generate()->secret(), false).substr(0, 12));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

TEST(Keystore, WriteFileModes) {
    TempDir tmp;
    auto key = PrivateKey::generate().value();
    auto dir = tmp.path / "ks";
    auto file = write_keystore_file(dir, key, "pw", ScryptParams::light()).value();
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
    EXPECT_EQ(decrypt_keystore(read_keystore_text(file).value(), "pw").value(), key);
}

// Interop with cast 1.7.1 (node_modules/.bin/cast), skipped when cast is not installed.
std::string run(const std::string& cmd) { return test::run_command(cmd).out; }

fs::path cast_path() { return fs::path{ZEPPELIN_SOURCE_DIR} / "node_modules/.bin/cast"; }

TEST(Keystore, ReadsCastKeystore) {
    if (!fs::exists(cast_path())) GTEST_SKIP() << "cast not installed";
    TempDir tmp;
    auto out = run(cast_path().string() + " wallet new " + tmp.path.string() + " --unsafe-password 'pa ss' 2>&1");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex{"Address:\\s+(0x[0-9a-fA-F]{40})"})) << out;
    const std::string address = m[1];
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(tmp.path)) files.push_back(e.path());
    ASSERT_EQ(files.size(), 1u);
    auto key = decrypt_keystore(read_keystore_text(files[0]).value(), "pa ss");
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(to_checksum(key->address()), address);
    EXPECT_EQ(decrypt_keystore(read_keystore_text(files[0]).value(), "pass").error().code(), Errc::wrong_password);
}

TEST(Keystore, CastReadsOurKeystore) {
    if (!fs::exists(cast_path())) GTEST_SKIP() << "cast not installed";
    TempDir tmp;
    auto key = PrivateKey::generate().value();
    for (auto params : {ScryptParams::light()}) {
        auto file = write_keystore_file(tmp.path, key, "s3cret", params).value();
        auto out = run(cast_path().string() + " wallet address --keystore " + file.string() + " --password s3cret 2>&1");
        EXPECT_EQ(out, to_checksum(key.address()) + "\n");
        fs::remove(file);
    }
}

}  // namespace
}  // namespace zeppelin::eth
