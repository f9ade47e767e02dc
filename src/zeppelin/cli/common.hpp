// Helpers shared by the command groups: errors as exceptions with context (the CLI's outer
// layer turns them into words), reading a key from a keystore or an environment variable.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

#include "zeppelin/core/result.hpp"
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
