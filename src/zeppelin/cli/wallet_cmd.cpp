// `zeppelin wallet ...`: keys and keystores.
//
//   wallet new       create a key, store it encrypted (keystore v3) in the keystore directory
//   wallet import    store an existing private key (from --private-key or stdin)
//   wallet list      the keystores in the directory (address and file name)
//   wallet address   the address of --private-key (byte-identical to `cast wallet address`) or of
//                    a --keystore file (decrypted with its password)
//   wallet balance   an address's balance from a JSON-RPC node
//
// Keystore directory: --keystore-dir, else $ZEPPELIN_KEYSTORE_DIR, else ~/.zeppelin/keystore.
// Passwords: --password-file F (first line), --password-env NAME, else $ZEPPELIN_PASSWORD if
// set, else a prompt on the terminal (/dev/tty) with echo off.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keystore.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;

/// A string that is wiped when destroyed (passwords, key text).
class Secret final {
public:
    Secret() = default;
    explicit Secret(std::string s) : s_{std::move(s)} {}
    ~Secret() { OPENSSL_cleanse(s_.data(), s_.size()); }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    Secret(Secret&& o) noexcept : s_{std::move(o.s_)} {}
    [[nodiscard]] const std::string& str() const noexcept { return s_; }

private:
    std::string s_;
};

std::string trim_line_end(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string trim(std::string s) {
    s = trim_line_end(std::move(s));
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

/// The controlling terminal, opened for a prompt; echo restored on destruction.
class Terminal final {
public:
    Terminal() : fd_{::open("/dev/tty", O_RDWR | O_CLOEXEC)} {}
    ~Terminal() {
        if (echo_off_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
        if (fd_ >= 0) ::close(fd_);
    }
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    [[nodiscard]] bool ok() const noexcept { return fd_ >= 0; }

    /// Prints `prompt` and reads one line without echoing it.
    Secret read_hidden(std::string_view prompt) {
        write_all(prompt);
        termios t{};
        if (::tcgetattr(fd_, &saved_) == 0) {
            t = saved_;
            t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            t.c_lflag |= ECHONL;
            echo_off_ = ::tcsetattr(fd_, TCSAFLUSH, &t) == 0;
        }
        std::string line;
        char c = 0;
        while (true) {
            auto n = ::read(fd_, &c, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0 || c == '\n') break;
            line += c;
        }
        if (echo_off_) {
            ::tcsetattr(fd_, TCSAFLUSH, &saved_);
            echo_off_ = false;
        }
        Secret s{trim_line_end(std::move(line))};
        OPENSSL_cleanse(line.data(), line.size());
        return s;
    }

private:
    void write_all(std::string_view s) {
        while (!s.empty()) {
            auto n = ::write(fd_, s.data(), s.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    int fd_{-1};
    termios saved_{};
    bool echo_off_{false};
};

struct PasswordOptions {
    std::string file;
    std::string env;
};

void add_password_options(CLI::App* cmd, PasswordOptions& o) {
    cmd->add_option("--password-file", o.file, "Read the keystore password from the first line of this file");
    cmd->add_option("--password-env", o.env, "Read the keystore password from this environment variable");
}

/// The password from the configured source; `confirm` asks twice on a prompt (new keys).
Secret get_password(const PasswordOptions& o, bool confirm) {
    if (!o.file.empty()) {
        std::ifstream in{o.file};
        if (!in) fail(Errc::io, "cannot read the password file " + o.file);
        std::string line;
        std::getline(in, line);
        return Secret{trim_line_end(std::move(line))};
    }
    if (!o.env.empty()) {
        const char* v = std::getenv(o.env.c_str());
        if (v == nullptr) fail(Errc::invalid_argument, "environment variable " + o.env + " (from --password-env) is not set");
        return Secret{v};
    }
    if (const char* v = std::getenv("ZEPPELIN_PASSWORD")) return Secret{v};
    Terminal tty;
    if (!tty.ok())
        fail(Errc::invalid_argument,
             "no password given and no terminal to ask on: use --password-file, --password-env or ZEPPELIN_PASSWORD");
    auto first = tty.read_hidden(confirm ? "New keystore password: " : "Keystore password: ");
    if (confirm) {
        if (first.str().empty()) fail(Errc::invalid_argument, "refusing an empty password");
        auto again = tty.read_hidden("Repeat the password: ");
        if (again.str() != first.str()) fail(Errc::invalid_argument, "the two passwords differ");
    }
    return first;
}

struct DirOptions {
    std::string dir;
};

void add_dir_option(CLI::App* cmd, DirOptions& o) {
    cmd->add_option("--keystore-dir", o.dir,
                    "Keystore directory (default: $ZEPPELIN_KEYSTORE_DIR or ~/.zeppelin/keystore)");
}

fs::path keystore_dir(const DirOptions& o) {
    if (!o.dir.empty()) return o.dir;
    if (const char* v = std::getenv("ZEPPELIN_KEYSTORE_DIR"); v != nullptr && *v != '\0') return v;
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0')
        fail(Errc::invalid_argument, "HOME is not set; give --keystore-dir or ZEPPELIN_KEYSTORE_DIR");
    return fs::path{home} / ".zeppelin" / "keystore";
}

struct Entry {
    fs::path file;
    std::optional<Address> address;  // from the file's "address" field, when present
};

std::vector<Entry> list_keystores(const fs::path& dir) {
    std::vector<Entry> out;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_regular_file(ec)) continue;
        const auto name = e.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        auto text = eth::read_keystore_text(e.path());
        if (!text) continue;
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("version")) continue;  // not a keystore
        Entry entry{e.path(), std::nullopt};
        if (auto a = eth::keystore_address(*text)) entry.address = *a;
        out.push_back(std::move(entry));
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.file < b.file; });
    if (ec) fail(Errc::io, "cannot list " + dir.string() + ": " + ec.message());
    return out;
}

void print_created(const eth::PrivateKey& key, const fs::path& file) {
    const auto address = eth::to_checksum(key.address());
    if (global_options().json) {
        std::cout << nlohmann::json{{"address", address}, {"file", file.string()}}.dump(2) << '\n';
    } else {
        std::cout << "Address:  " << address << '\n' << "Keystore: " << file.string() << '\n';
    }
}

eth::ScryptParams kdf_params(bool light) { return light ? eth::ScryptParams::light() : eth::ScryptParams::standard(); }

void store(const eth::PrivateKey& key, const DirOptions& d, const PasswordOptions& p, bool light) {
    const auto dir = keystore_dir(d);
    for (const auto& e : list_keystores(dir))
        if (e.address == key.address())
            fail(Errc::already_exists, eth::to_checksum(key.address()) + " is already in the keystore (" +
                                           e.file.filename().string() + ")");
    auto password = get_password(p, true);
    auto file = or_throw(eth::write_keystore_file(dir, key, password.str(), kdf_params(light)));
    print_created(key, file);
}

Secret read_private_key_input() {
    if (::isatty(STDIN_FILENO)) {
        Terminal tty;
        if (tty.ok()) return tty.read_hidden("Private key (hex): ");
    }
    std::string all{std::istreambuf_iterator<char>{std::cin}, std::istreambuf_iterator<char>{}};
    Secret s{trim(all)};
    OPENSSL_cleanse(all.data(), all.size());
    return s;
}

eth::PrivateKey parse_key(const std::string& text) {
    auto k = eth::PrivateKey::from_hex(trim(text));
    if (!k) fail(Errc::invalid_key, "invalid private key: " + k.error().message());
    return std::move(k).value();
}

/// --keystore: a file path, or a file name / address in the keystore directory.
fs::path resolve_keystore(const std::string& what, const DirOptions& d) {
    if (fs::exists(what)) return what;
    const auto dir = keystore_dir(d);
    if (fs::exists(dir / what)) return dir / what;
    if (auto a = eth::parse_address(what)) {
        for (const auto& e : list_keystores(dir))
            if (e.address == *a) return e.file;
        fail(Errc::not_found, "no keystore for " + eth::to_checksum(*a) + " in " + dir.string());
    }
    fail(Errc::not_found, "keystore \"" + what + "\" not found (neither a file nor in " + dir.string() + ")");
}

struct Options {
    DirOptions dir;
    PasswordOptions password;
    std::string private_key;
    std::string keystore;
    std::string address;
    bool light{false};
    bool ether{false};
    std::string rpc_url;
};

}  // namespace

void add_wallet_commands(CLI::App& app) {
    auto* group = app.add_subcommand("wallet", "Keys and encrypted keystores");
    group->require_subcommand(1);
    auto o = std::make_shared<Options>();

    auto* create = group->add_subcommand("new", "Create a new key and store it in an encrypted keystore");
    add_dir_option(create, o->dir);
    add_password_options(create, o->password);
    create->add_flag("--light-kdf", o->light,
                     "Faster, weaker encryption (scrypt n=4096, geth's 'light'); for throw-away test keys");
    create->callback([o] {
        auto key = or_throw(eth::PrivateKey::generate());
        store(key, o->dir, o->password, o->light);
    });

    auto* import = group->add_subcommand("import", "Store an existing private key in an encrypted keystore");
    add_dir_option(import, o->dir);
    add_password_options(import, o->password);
    import->add_option("--private-key", o->private_key,
                       "The key (hex); read from stdin (or asked for on a terminal) when left out");
    import->add_flag("--light-kdf", o->light, "Faster, weaker encryption (scrypt n=4096); for test keys");
    import->callback([o] {
        std::optional<eth::PrivateKey> key;
        if (!o->private_key.empty()) {
            key = parse_key(o->private_key);
        } else {
            auto text = read_private_key_input();
            if (text.str().empty()) usage_error("no private key given (use --private-key or stdin)");
            key = parse_key(text.str());
        }
        store(*key, o->dir, o->password, o->light);
    });

    auto* list = group->add_subcommand("list", "List the keystores in the keystore directory");
    add_dir_option(list, o->dir);
    list->callback([o] {
        const auto dir = keystore_dir(o->dir);
        auto entries = list_keystores(dir);
        if (global_options().json) {
            auto arr = nlohmann::json::array();
            for (const auto& e : entries)
                arr.push_back({{"address", e.address ? nlohmann::json(eth::to_checksum(*e.address)) : nlohmann::json()},
                               {"file", e.file.string()}});
            std::cout << arr.dump(2) << '\n';
            return;
        }
        if (entries.empty()) {
            std::cerr << "No keystores in " << dir.string() << " (create one with `zeppelin wallet new`)\n";
            return;
        }
        for (const auto& e : entries)
            std::cout << (e.address ? eth::to_checksum(*e.address) : std::string{"(address not stored)"}) << "  "
                      << e.file.filename().string() << '\n';
    });

    auto* address = group->add_subcommand("address", "Print the address of a private key or keystore");
    address->add_option("--private-key", o->private_key, "Private key (hex)");
    address->add_option("--keystore", o->keystore, "Keystore file, or a file name/address in the keystore directory");
    add_dir_option(address, o->dir);
    add_password_options(address, o->password);
    address->callback([o] {
        std::optional<eth::PrivateKey> key;
        if (!o->private_key.empty()) {
            key = parse_key(o->private_key);
        } else if (!o->keystore.empty()) {
            auto file = resolve_keystore(o->keystore, o->dir);
            auto text = or_throw(eth::read_keystore_text(file));
            auto password = get_password(o->password, false);
            key = or_throw(eth::decrypt_keystore(text, password.str()), file.filename().string());
        } else {
            usage_error("give --private-key or --keystore");
        }
        const auto a = eth::to_checksum(key->address());
        if (global_options().json) std::cout << nlohmann::json{{"address", a}}.dump(2) << '\n';
        else std::cout << a << '\n';
    });

    auto* balance = group->add_subcommand("balance", "Print an address's balance in wei (like `cast balance`)");
    balance->add_option("address", o->address, "Address (0x...)")->required();
    balance->add_option("--rpc-url", o->rpc_url,
                        "JSON-RPC endpoint (default: $ZEPPELIN_RPC_URL or http://127.0.0.1:8545)");
    balance->add_flag("--ether,-e", o->ether, "Print the balance in ether instead of wei");
    balance->callback([o] {
        auto who = or_throw(eth::parse_address(o->address), "address");
        std::string url = o->rpc_url;
        if (url.empty()) url = global_options().rpc_url;
        if (url.empty())
            if (const char* v = std::getenv("ZEPPELIN_RPC_URL")) url = v;
        if (url.empty()) url = "http://127.0.0.1:8545";
        auto client = or_throw(eth::RpcClient::connect(url), "cannot use the RPC endpoint " + url);
        auto wei = or_throw(client->get_balance(who), "cannot read the balance from " + url);
        if (global_options().json) {
            std::cout << nlohmann::json{{"address", eth::to_checksum(who)}, {"wei", to_dec(wei)},
                                        {"ether", format_units(wei, 18)}}
                             .dump(2)
                      << '\n';
        } else {
            std::cout << (o->ether ? format_units(wei, 18) : to_dec(wei)) << '\n';
        }
    });
}

}  // namespace zeppelin::cli
