// Helpers shared by the command groups: errors as exceptions with context (the CLI's outer
// layer turns them into words), reading a key from a keystore or an environment variable.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::cli {

[[noreturn]] inline void fail(Errc code, std::string message) { throw Exception{Error{code, std::move(message)}}; }

template <class T>
T or_throw(Result<T> r, std::string_view what = {}) {
    if (!r) throw Exception{what.empty() ? r.error() : r.error().wrap(what)};
    return std::move(r).value();
}
inline void or_throw(Result<void> r, std::string_view what = {}) {
    if (!r) throw Exception{what.empty() ? r.error() : r.error().wrap(what)};
}

/// A usage error: a value on the command line that cannot be parsed, or options that do not go
/// together. Thrown before the command does anything; `zeppelin` prints the sentence on stderr and
/// exits 2 (run_cli), as it does for CLI11's own parse errors.
[[noreturn]] inline void usage_error(std::string message) { throw CLI::ValidationError(std::move(message)); }

/// r's value, or a usage error naming the option (`what`, like "--max-price") and why.
template <class T>
T usage_or(Result<T> r, std::string_view what) {
    if (!r) usage_error(r.error().wrap(what).message());
    return std::move(r).value();
}

/// An amount for people, with the one formatter (core/units.hpp): readable, or exact with --exact.
std::string amount_text(const u256& wei);
/// The amount in a JSON field holding wei as a decimal string; "-" if the field is missing.
std::string amount_text(const nlohmann::json& object, const char* key);
/// "1 period", "3 periods".
std::string count_of(std::uint64_t n, std::string_view singular, std::string_view plural = {});

/// Where an account's key comes from: a keystore file (password from --password-file,
/// --password-env or $ZEPPELIN_PASSWORD), or a hex private key in an environment variable
/// (for scripts and tests; never on the command line, where `ps` would show it).
struct KeyOptions {
    std::string keystore;
    std::string password_file;
    std::string password_env;
    std::string private_key_env;
};

void add_key_options(CLI::App* cmd, KeyOptions& o);
/// The keystore password from the configured source (no prompt).
std::string read_password(const KeyOptions& o);
eth::PrivateKey load_key(const KeyOptions& o);

}  // namespace zeppelin::cli
