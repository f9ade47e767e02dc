#include "zeppelin/cli/common.hpp"

#include <cstdlib>
#include <fstream>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/keystore.hpp"

namespace zeppelin::cli {

std::string amount_text(const u256& wei) {
    return format_amount(wei, global_options().exact ? AmountPrecision::exact : AmountPrecision::readable);
}

std::string amount_text(const nlohmann::json& object, const char* key) {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "-";
    return amount_text(or_throw(parse_u256(object[key].get<std::string>()), key));
}

std::string count_of(std::uint64_t n, std::string_view singular, std::string_view plural) {
    std::string word{n == 1 ? singular : (plural.empty() ? std::string{singular} + "s" : std::string{plural})};
    return std::to_string(n) + " " + word;
}

void add_key_options(CLI::App* cmd, KeyOptions& o) {
    cmd->add_option("--keystore", o.keystore, "Keystore file (Web3 Secret Storage v3) of the account");
    cmd->add_option("--password-file", o.password_file, "Read the keystore password from the first line of this file");
    cmd->add_option("--password-env", o.password_env, "Read the keystore password from this environment variable");
    cmd->add_option("--private-key-env", o.private_key_env,
                    "Read a hex private key from this environment variable instead of a keystore (scripts, tests)");
}

std::string read_password(const KeyOptions& o) {
    if (!o.password_file.empty()) {
        std::ifstream in{o.password_file};
        if (!in) fail(Errc::io, "cannot read the password file " + o.password_file);
        std::string line;
        std::getline(in, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    if (!o.password_env.empty()) {
        const char* v = std::getenv(o.password_env.c_str());
        if (v == nullptr) fail(Errc::invalid_argument, "environment variable " + o.password_env + " is not set");
        return v;
    }
    if (const char* v = std::getenv("ZEPPELIN_PASSWORD")) return v;
    usage_error("--keystore needs a password: use --password-file, --password-env or ZEPPELIN_PASSWORD");
}

eth::PrivateKey load_key(const KeyOptions& o) {
    if (!o.private_key_env.empty()) {
        const char* v = std::getenv(o.private_key_env.c_str());
        if (v == nullptr || *v == '\0') fail(Errc::invalid_argument, "environment variable " + o.private_key_env + " is not set");
        return or_throw(eth::PrivateKey::from_hex(v), "--private-key-env " + o.private_key_env);
    }
    if (o.keystore.empty()) usage_error("give the account's key with --keystore (or --private-key-env)");
    const auto text = or_throw(eth::read_keystore_text(o.keystore), "--keystore");
    return or_throw(eth::decrypt_keystore(text, read_password(o)), "cannot decrypt " + o.keystore);
}

}  // namespace zeppelin::cli
