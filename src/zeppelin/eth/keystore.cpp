#include "zeppelin/eth/keystore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <span>

#include <cryptopp/aes.h>
#include <cryptopp/modes.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {
namespace {

using nlohmann::json;

// Bounds on what a keystore may ask for. The standard settings (n = 2^18, r = 8, p = 1; or
// c = 262144) are well inside; a hostile file cannot make us allocate more than 1 GiB or
// spend more than ~8x the standard work.
constexpr std::uint64_t kMaxScryptMemory = 1ull << 30;
constexpr std::uint64_t kMaxScryptWork = 1ull << 24;  // n * r * p
constexpr std::uint64_t kMaxPbkdf2Rounds = 10'000'000;

/// Wipes a byte buffer when it goes out of scope.
class Wiped final {
public:
    explicit Wiped(std::size_t n) : bytes_(n) {}
    ~Wiped() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
    Wiped(const Wiped&) = delete;
    Wiped& operator=(const Wiped&) = delete;
    std::uint8_t* data() noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] ByteView view() const noexcept { return bytes_; }

private:
    Bytes bytes_;
};

Error bad(std::string msg) { return Error{Errc::invalid_argument, "keystore: " + std::move(msg)}; }

Result<Bytes> random_bytes(std::size_t n) {
    Bytes b(n);
    if (RAND_bytes(b.data(), static_cast<int>(n)) != 1)
        return Error{Errc::internal, "the system random number generator failed"};
    return b;
}

// scrypt's core (RFC 7914 sections 3-5), used only for parameters OpenSSL refuses: RFC 7914
// requires N < 2^(16 r), which geth's Go implementation does not enforce, so keystores with, e.g.,
// n = 2^18 and r = 1 exist (the original Web3 Secret Storage scrypt vector is one).
std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void salsa20_8(std::uint32_t b[16]) {
    std::uint32_t x[16];
    std::memcpy(x, b, sizeof x);
    for (int i = 0; i < 8; i += 2) {
        x[4] ^= rotl(x[0] + x[12], 7);   x[8] ^= rotl(x[4] + x[0], 9);
        x[12] ^= rotl(x[8] + x[4], 13);  x[0] ^= rotl(x[12] + x[8], 18);
        x[9] ^= rotl(x[5] + x[1], 7);    x[13] ^= rotl(x[9] + x[5], 9);
        x[1] ^= rotl(x[13] + x[9], 13);  x[5] ^= rotl(x[1] + x[13], 18);
        x[14] ^= rotl(x[10] + x[6], 7);  x[2] ^= rotl(x[14] + x[10], 9);
        x[6] ^= rotl(x[2] + x[14], 13);  x[10] ^= rotl(x[6] + x[2], 18);
        x[3] ^= rotl(x[15] + x[11], 7);  x[7] ^= rotl(x[3] + x[15], 9);
        x[11] ^= rotl(x[7] + x[3], 13);  x[15] ^= rotl(x[11] + x[7], 18);
        x[1] ^= rotl(x[0] + x[3], 7);    x[2] ^= rotl(x[1] + x[0], 9);
        x[3] ^= rotl(x[2] + x[1], 13);   x[0] ^= rotl(x[3] + x[2], 18);
        x[6] ^= rotl(x[5] + x[4], 7);    x[7] ^= rotl(x[6] + x[5], 9);
        x[4] ^= rotl(x[7] + x[6], 13);   x[5] ^= rotl(x[4] + x[7], 18);
        x[11] ^= rotl(x[10] + x[9], 7);  x[8] ^= rotl(x[11] + x[10], 9);
        x[9] ^= rotl(x[8] + x[11], 13);  x[10] ^= rotl(x[9] + x[8], 18);
        x[12] ^= rotl(x[15] + x[14], 7); x[13] ^= rotl(x[12] + x[15], 9);
        x[14] ^= rotl(x[13] + x[12], 13); x[15] ^= rotl(x[14] + x[13], 18);
    }
    for (int i = 0; i < 16; ++i) b[i] += x[i];
}

// B (2r blocks of 16 words) -> BlockMix(B), using y as scratch of the same size.
void block_mix(std::uint32_t* b, std::uint32_t* y, std::size_t r) {
    std::uint32_t x[16];
    std::memcpy(x, b + (2 * r - 1) * 16, sizeof x);
    for (std::size_t i = 0; i < 2 * r; ++i) {
        for (int k = 0; k < 16; ++k) x[k] ^= b[i * 16 + static_cast<std::size_t>(k)];
        salsa20_8(x);
        // even blocks go to the first half, odd ones to the second
        std::memcpy(y + ((i % 2) * r + i / 2) * 16, x, sizeof x);
    }
    std::memcpy(b, y, 2 * r * 16 * sizeof(std::uint32_t));
}

void ro_mix(std::uint8_t* block, std::size_t r, std::uint64_t n, std::vector<std::uint32_t>& v) {
    const std::size_t words = 32 * r;
    std::vector<std::uint32_t> x(words), y(words);
    for (std::size_t k = 0; k < words; ++k)
        x[k] = static_cast<std::uint32_t>(block[4 * k]) | static_cast<std::uint32_t>(block[4 * k + 1]) << 8 |
               static_cast<std::uint32_t>(block[4 * k + 2]) << 16 | static_cast<std::uint32_t>(block[4 * k + 3]) << 24;
    for (std::uint64_t i = 0; i < n; ++i) {
        std::memcpy(v.data() + i * words, x.data(), words * 4);
        block_mix(x.data(), y.data(), r);
    }
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t j = (static_cast<std::uint64_t>(x[words - 16 + 1]) << 32 | x[words - 16]) & (n - 1);
        for (std::size_t k = 0; k < words; ++k) x[k] ^= v[j * words + k];
        block_mix(x.data(), y.data(), r);
    }
    for (std::size_t k = 0; k < words; ++k)
        for (int b = 0; b < 4; ++b) block[4 * k + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(x[k] >> (8 * b));
    OPENSSL_cleanse(x.data(), words * 4);
    OPENSSL_cleanse(y.data(), words * 4);
}

Result<void> own_scrypt(std::string_view password, ByteView salt, std::uint64_t n, std::uint64_t r, std::uint64_t p,
                        Wiped& out) {
    const std::size_t block = 128 * static_cast<std::size_t>(r);
    Wiped b{block * static_cast<std::size_t>(p)};
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                          1, EVP_sha256(), static_cast<int>(b.size()), b.data()) != 1)
        return Error{Errc::internal, "keystore: scrypt key derivation failed"};
    std::vector<std::uint32_t> v(static_cast<std::size_t>(n) * 32 * static_cast<std::size_t>(r));
    for (std::uint64_t i = 0; i < p; ++i) ro_mix(b.data() + i * block, static_cast<std::size_t>(r), n, v);
    OPENSSL_cleanse(v.data(), v.size() * 4);
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), b.data(), static_cast<int>(b.size()), 1,
                          EVP_sha256(), static_cast<int>(out.size()), out.data()) != 1)
        return Error{Errc::internal, "keystore: scrypt key derivation failed"};
    return {};
}

}  // namespace

Result<void> scrypt_derive(std::string_view password, ByteView salt, std::uint64_t n, std::uint64_t r, std::uint64_t p,
                           std::span<std::uint8_t> out, bool builtin) {
    if (n < 2 || (n & (n - 1)) != 0) return bad("scrypt n must be a power of two greater than 1");
    if (r == 0 || p == 0) return bad("scrypt r and p must be positive");
    if (n > kMaxScryptMemory / 128 / r)
        return Error{Errc::limit_exceeded, "keystore: scrypt parameters need more than 1 GiB of memory"};
    if (n * r > kMaxScryptWork / p)
        return Error{Errc::limit_exceeded, "keystore: scrypt parameters demand too much work (n*r*p > 2^24)"};
    Wiped derived{out.size()};
    const bool rfc_bound_ok = 16 * r >= 64 || n < (std::uint64_t{1} << (16 * r));
    if (rfc_bound_ok && !builtin) {
        const std::uint64_t maxmem = 128 * r * (n + p + 2) + (1u << 20);
        if (EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), n, r, p, maxmem,
                           derived.data(), derived.size()) != 1)
            return Error{Errc::internal, "keystore: scrypt key derivation failed"};
    } else {
        ZP_CHECK(own_scrypt(password, salt, n, r, p, derived));
    }
    std::memcpy(out.data(), derived.data(), out.size());
    return {};
}

namespace {

Result<void> scrypt(std::string_view password, ByteView salt, std::uint64_t n, std::uint64_t r, std::uint64_t p,
                    Wiped& out) {
    return scrypt_derive(password, salt, n, r, p, std::span<std::uint8_t>{out.data(), out.size()}, false);
}

Result<void> pbkdf2(std::string_view password, ByteView salt, std::uint64_t c, Wiped& out) {
    if (c == 0 || c > kMaxPbkdf2Rounds) return bad("pbkdf2 iteration count must be between 1 and 10,000,000");
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                          static_cast<int>(salt.size()), static_cast<int>(c), EVP_sha256(),
                          static_cast<int>(out.size()), out.data()) != 1)
        return Error{Errc::internal, "keystore: pbkdf2 key derivation failed"};
    return {};
}

void aes128_ctr(const std::uint8_t* key16, ByteView iv, ByteView in, std::uint8_t* out) {
    CryptoPP::CTR_Mode<CryptoPP::AES>::Encryption cipher;
    cipher.SetKeyWithIV(key16, 16, iv.data(), iv.size());
    cipher.ProcessData(out, in.data(), in.size());
}

Hash32 mac_of(ByteView derived, ByteView ciphertext) {
    Bytes body(derived.begin() + 16, derived.begin() + 32);
    body.insert(body.end(), ciphertext.begin(), ciphertext.end());
    return keccak256(body);
}

Result<const json*> member(const json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end()) return bad(std::string{"missing field \""} + name + "\"");
    return &*it;
}

Result<std::string> string_member(const json& obj, const char* name) {
    const json* v = ZP_TRY(member(obj, name));
    if (!v->is_string()) return bad(std::string{"field \""} + name + "\" must be a string");
    return v->get<std::string>();
}

Result<std::uint64_t> uint_member(const json& obj, const char* name) {
    const json* v = ZP_TRY(member(obj, name));
    if (!v->is_number_unsigned()) return bad(std::string{"field \""} + name + "\" must be a positive integer");
    return v->get<std::uint64_t>();
}

Result<Bytes> hex_member(const json& obj, const char* name) {
    auto s = ZP_TRY(string_member(obj, name));
    auto b = from_hex(s);
    if (!b) return bad(std::string{"field \""} + name + "\" is not hex");
    return std::move(b).value();
}

Result<json> parse_json(std::string_view text) {
    auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    return j;
}

std::string uuid_v4(ByteView r) {
    Bytes b(r.begin(), r.begin() + 16);
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
    auto h = to_hex(b, false);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace

Result<std::string> encrypt_keystore(const PrivateKey& key, std::string_view password, const ScryptParams& params) {
    auto salt = ZP_TRY(random_bytes(32));
    auto iv = ZP_TRY(random_bytes(16));
    auto id = ZP_TRY(random_bytes(16));
    Wiped derived{32};
    ZP_CHECK(scrypt(password, salt, params.n, params.r, params.p, derived));
    Bytes ciphertext(32);
    try {
        aes128_ctr(derived.data(), iv, key.secret().view(), ciphertext.data());
    } catch (const std::exception& e) {
        return Error{Errc::internal, std::string{"keystore: AES failed: "} + e.what()};
    }
    json j;
    j["address"] = to_hex(key.address(), false);
    j["crypto"] = {
        {"cipher", "aes-128-ctr"},
        {"ciphertext", to_hex(ciphertext, false)},
        {"cipherparams", {{"iv", to_hex(iv, false)}}},
        {"kdf", "scrypt"},
        {"kdfparams", {{"dklen", 32}, {"n", params.n}, {"p", params.p}, {"r", params.r}, {"salt", to_hex(salt, false)}}},
        {"mac", to_hex(mac_of(derived.view(), ciphertext), false)},
    };
    j["id"] = uuid_v4(id);
    j["version"] = 3;
    return j.dump();
}

Result<PrivateKey> decrypt_keystore(std::string_view text, std::string_view password) {
    auto j = ZP_TRY(parse_json(text));
    if (auto v = j.find("version"); v == j.end() || !v->is_number_unsigned() || v->get<std::uint64_t>() != 3)
        return Error{Errc::unsupported, "keystore: only version 3 keystores are supported"};
    const json* crypto = nullptr;
    if (auto c = j.find("crypto"); c != j.end()) crypto = &*c;
    else if (auto C = j.find("Crypto"); C != j.end()) crypto = &*C;  // older geth / MyEtherWallet spelling
    if (crypto == nullptr || !crypto->is_object()) return bad("missing \"crypto\" object");

    auto cipher = ZP_TRY(string_member(*crypto, "cipher"));
    if (cipher != "aes-128-ctr") return Error{Errc::unsupported, "keystore: unsupported cipher \"" + cipher + "\""};
    const json* cp = ZP_TRY(member(*crypto, "cipherparams"));
    if (!cp->is_object()) return bad("\"cipherparams\" must be an object");
    auto iv = ZP_TRY(hex_member(*cp, "iv"));
    if (iv.size() != 16) return bad("the AES IV must be 16 bytes");
    auto ciphertext = ZP_TRY(hex_member(*crypto, "ciphertext"));
    if (ciphertext.size() != 32) return bad("the ciphertext must be 32 bytes (one private key)");
    auto mac = ZP_TRY(hex_member(*crypto, "mac"));
    if (mac.size() != 32) return bad("the MAC must be 32 bytes");

    auto kdf = ZP_TRY(string_member(*crypto, "kdf"));
    const json* kp = ZP_TRY(member(*crypto, "kdfparams"));
    if (!kp->is_object()) return bad("\"kdfparams\" must be an object");
    auto dklen = ZP_TRY(uint_member(*kp, "dklen"));
    if (dklen < 32 || dklen > 128) return bad("kdfparams.dklen must be between 32 and 128");
    auto salt = ZP_TRY(hex_member(*kp, "salt"));
    if (salt.size() > 1024) return bad("the salt is longer than 1024 bytes");
    Wiped derived{static_cast<std::size_t>(dklen)};
    if (kdf == "scrypt") {
        auto n = ZP_TRY(uint_member(*kp, "n"));
        auto r = ZP_TRY(uint_member(*kp, "r"));
        auto p = ZP_TRY(uint_member(*kp, "p"));
        if (r > 0xffffffffu || p > 0xffffffffu) return bad("scrypt r or p is too large");
        ZP_CHECK(scrypt(password, salt, n, r, p, derived));
    } else if (kdf == "pbkdf2") {
        auto prf = ZP_TRY(string_member(*kp, "prf"));
        if (prf != "hmac-sha256") return Error{Errc::unsupported, "keystore: unsupported pbkdf2 prf \"" + prf + "\""};
        auto c = ZP_TRY(uint_member(*kp, "c"));
        ZP_CHECK(pbkdf2(password, salt, c, derived));
    } else {
        return Error{Errc::unsupported, "keystore: unsupported kdf \"" + kdf + "\" (scrypt and pbkdf2 are)"};
    }

    auto expected = mac_of(derived.view(), ciphertext);
    if (CRYPTO_memcmp(expected.data(), mac.data(), 32) != 0)
        return Error{Errc::wrong_password, "wrong password for this keystore (MAC mismatch)"};
    Wiped secret{32};
    try {
        aes128_ctr(derived.data(), iv, ciphertext, secret.data());
    } catch (const std::exception& e) {
        return Error{Errc::internal, std::string{"keystore: AES failed: "} + e.what()};
    }
    auto key = PrivateKey::from_bytes(secret.view());
    if (!key) return Error{Errc::invalid_key, "keystore decrypts to an invalid private key"};
    if (auto stated = keystore_address(text); stated && *stated != key->address())
        return Error{Errc::invalid_key, "keystore's \"address\" field does not match the key inside it"};
    return key;
}

Result<Address> keystore_address(std::string_view text) {
    auto j = ZP_TRY(parse_json(text));
    auto s = ZP_TRY(string_member(j, "address"));
    return parse_address(s);
}

std::string keystore_file_name(const Address& address, std::chrono::system_clock::time_point when) {
    using namespace std::chrono;
    const auto secs = time_point_cast<seconds>(when);
    auto nanos = duration_cast<nanoseconds>(when - secs).count();
    if (nanos < 0) nanos = 0;
    const std::time_t t = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "UTC--%04d-%02d-%02dT%02d-%02d-%02d.%09lldZ--", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(nanos));
    return std::string{buf} + to_hex(address, false);
}

Result<std::filesystem::path> write_keystore_file(const std::filesystem::path& dir, const PrivateKey& key,
                                                  std::string_view password, const ScryptParams& params) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) return Error{Errc::io, "cannot create keystore directory " + dir.string() + ": " + ec.message()};
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    auto text = ZP_TRY(encrypt_keystore(key, password, params));
    auto path = dir / keystore_file_name(key.address());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Error{errno == EEXIST ? Errc::already_exists : Errc::io,
                             "cannot create " + path.string() + ": " + std::strerror(errno)};
    std::size_t done = 0;
    while (done < text.size()) {
        auto w = ::write(fd, text.data() + done, text.size() - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            ::close(fd);
            std::filesystem::remove(path, ec);
            return Error{Errc::io, "cannot write " + path.string() + ": " + std::strerror(saved)};
        }
        done += static_cast<std::size_t>(w);
    }
    const bool synced = ::fsync(fd) == 0;
    if (::close(fd) != 0 || !synced) return Error{Errc::io, "cannot write " + path.string() + " to disk"};
    return path;
}

Result<std::string> read_keystore_text(const std::filesystem::path& file) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    if (ec) return Error{Errc::not_found, "cannot read keystore " + file.string() + ": " + ec.message()};
    if (size > (1u << 20)) return bad(file.string() + " is larger than 1 MiB; not a keystore");
    std::ifstream in{file, std::ios::binary};
    if (!in) return Error{Errc::io, "cannot open " + file.string()};
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    if (!in) return Error{Errc::io, "cannot read " + file.string()};
    return text;
}

}  // namespace zeppelin::eth
