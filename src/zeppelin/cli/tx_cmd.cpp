// `zeppelin tx ...`: offline transaction tools.
//
//   tx sign    build and sign an EIP-1559 transaction; prints the raw transaction, byte-identical
//              to `cast mktx` (cast 1.7.1) given the same inputs.
//   tx decode  decode a raw transaction and recover its sender (like `cast decode-tx`).
#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/transaction.hpp"

namespace zeppelin::cli {
namespace {

std::uint64_t parse_u64_option(const std::string& text, std::string_view what) {
    auto v = parse_u256(text);
    if (!v) usage_error(fmt::format("{} must be a whole number, got \"{}\"", what, text));
    auto n = to_u64(*v);
    if (!n) usage_error(fmt::format("{} \"{}\" is too large", what, text));
    return *n;
}

struct SignOptions {
    std::string private_key;
    std::string chain_id;
    std::string nonce;
    std::string gas_limit;
    std::string max_fee;
    std::string priority_fee;
    std::string to;
    std::string value{"0"};
    std::string data;
};

void run_sign(const SignOptions& o) {
    auto key = usage_or(eth::PrivateKey::from_hex(o.private_key), "--private-key");
    eth::Transaction tx;
    tx.type = eth::TxType::dynamic_fee;
    tx.chain_id = parse_u64_option(o.chain_id, "--chain-id");
    tx.nonce = parse_u64_option(o.nonce, "--nonce");
    tx.gas_limit = parse_u64_option(o.gas_limit, "--gas-limit");
    tx.max_fee_per_gas = usage_or(parse_amount(o.max_fee), "--max-fee");
    tx.max_priority_fee_per_gas = usage_or(parse_amount(o.priority_fee), "--priority-fee");
    if (tx.max_priority_fee_per_gas > tx.max_fee_per_gas)
        usage_error("--priority-fee must not exceed --max-fee (EIP-1559: the priority fee is part of the maximum fee)");
    if (!o.to.empty()) tx.to = usage_or(eth::parse_address(o.to), "--to");
    tx.value = usage_or(parse_amount(o.value), "--value");
    if (!o.data.empty()) tx.data = usage_or(from_hex(o.data), "--data");
    if (!tx.to && tx.data.empty())
        usage_error("give --to, or --data with contract init code to create a contract");
    auto signed_ok = eth::sign_transaction(tx, key);
    if (!signed_ok) throw Exception{signed_ok.error()};
    auto raw = or_throw(tx.encode(), "encoding");
    if (global_options().json) {
        nlohmann::json j{{"raw", to_hex(raw)},
                         {"hash", to_hex(or_throw(tx.hash(), "hashing"))},
                         {"from", eth::to_checksum(key.address())}};
        std::cout << j.dump(2) << '\n';
    } else {
        std::cout << to_hex(raw) << '\n';
    }
}

std::string type_name(eth::TxType t) {
    switch (t) {
        case eth::TxType::legacy: return "legacy";
        case eth::TxType::access_list: return "eip2930";
        case eth::TxType::dynamic_fee: return "eip1559";
    }
    return "unknown";
}

void run_decode(const std::string& raw_hex) {
    auto raw = or_throw(from_hex(raw_hex), "raw transaction");
    auto tx = or_throw(eth::decode_transaction(raw), "cannot decode the transaction");
    auto sender = eth::recover_sender(tx);
    nlohmann::json j;
    j["type"] = type_name(tx.type);
    j["hash"] = to_hex(or_throw(tx.hash(), "hashing"));
    j["from"] = sender ? nlohmann::json(eth::to_checksum(*sender)) : nlohmann::json(nullptr);
    j["chainId"] = tx.chain_id ? nlohmann::json(*tx.chain_id) : nlohmann::json(nullptr);
    j["nonce"] = tx.nonce;
    if (tx.type == eth::TxType::dynamic_fee) {
        j["maxFeePerGas"] = to_dec(tx.max_fee_per_gas);
        j["maxPriorityFeePerGas"] = to_dec(tx.max_priority_fee_per_gas);
    } else {
        j["gasPrice"] = to_dec(tx.gas_price);
    }
    j["gas"] = tx.gas_limit;
    j["to"] = tx.to ? nlohmann::json(eth::to_checksum(*tx.to)) : nlohmann::json(nullptr);
    j["value"] = to_dec(tx.value);
    j["input"] = to_hex(tx.data);
    auto al = nlohmann::json::array();
    for (const auto& e : tx.access_list) {
        auto keys = nlohmann::json::array();
        for (const auto& k : e.storage_keys) keys.push_back(to_hex(k));
        al.push_back({{"address", eth::to_checksum(e.address)}, {"storageKeys", keys}});
    }
    j["accessList"] = al;
    j["r"] = to_hex(tx.signature->r);
    j["s"] = to_hex(tx.signature->s);
    j["yParity"] = tx.signature->y_parity;
    std::cout << j.dump(2) << '\n';
    if (!sender) fmt::print(stderr, "warning: cannot recover the sender: {}\n", sender.error().message());
}

}  // namespace

void add_tx_commands(CLI::App& app) {
    auto* group = app.add_subcommand("tx", "Build, sign and inspect transactions (offline)");
    group->require_subcommand(1);

    auto opts = std::make_shared<SignOptions>();
    auto* sign = group->add_subcommand(
        "sign", "Sign an EIP-1559 transaction and print it raw (same bytes as `cast mktx`)");
    sign->add_option("--private-key", opts->private_key, "Signing key, 32 bytes of hex")->required();
    sign->add_option("--chain-id", opts->chain_id, "Chain id (1 = mainnet, 31337 = anvil)")->required();
    sign->add_option("--nonce", opts->nonce, "Sender's nonce")->required();
    sign->add_option("--gas-limit", opts->gas_limit, "Gas limit")->required();
    sign->add_option("--max-fee", opts->max_fee, "Max fee per gas, in wei or with a unit (20gwei)")->required();
    sign->add_option("--priority-fee", opts->priority_fee, "Max priority fee per gas (1gwei)")->required();
    sign->add_option("--to", opts->to, "Recipient address; leave out to create a contract from --data");
    sign->add_option("--value", opts->value, "Ether to send, in wei or with a unit (1.5ether)");
    sign->add_option("--data", opts->data, "Calldata (or init code), 0x-prefixed hex");
    sign->callback([opts] { run_sign(*opts); });

    auto raw = std::make_shared<std::string>();
    auto* decode = group->add_subcommand("decode", "Decode a raw transaction and recover its sender (JSON)");
    decode->add_option("raw", *raw, "Raw transaction, 0x-prefixed hex")->required();
    decode->callback([raw] { run_decode(*raw); });
}

}  // namespace zeppelin::cli
