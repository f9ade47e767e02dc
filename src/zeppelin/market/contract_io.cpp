#include "zeppelin/market/contract_io.hpp"

#include <nlohmann/json.hpp>

#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/http.hpp"

namespace zeppelin::market {

Result<CallOutcome> simulate_call(eth::RpcClient& rpc, const Address& to, const Address& from, ByteView data,
                                  const u256& value, const eth::RevertDecoder& decoder) {
    // A direct request (not RpcClient::call) because the typed revert needs the raw revert data.
    const auto url = ZP_TRY(eth::HttpUrl::parse(rpc.url()));
    eth::HttpClient http{url, eth::HttpOptions{}};
    nlohmann::json call{{"from", eth::to_checksum(from)}, {"to", eth::to_checksum(to)}, {"data", to_hex(data)}};
    if (value != 0) call["value"] = to_hex_quantity(value);
    // At "pending": the call is judged at the time of the block that would include it. Deadlines
    // and periods depend on block.timestamp, and on a chain that mines only on demand (anvil's
    // automine) "latest" may be minutes old, so a reassignment or a report would look too early.
    const nlohmann::json body{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "eth_call"}, {"params", {call, "pending"}}};
    auto reply = http.post(body.dump());
    if (auto* err = std::get_if<eth::HttpError>(&reply)) return err->error.wrap("eth_call to " + rpc.url());
    const auto& text = std::get<eth::HttpResponse>(reply).body;
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Error{Errc::rpc_bad_reply, "eth_call: the reply is not a JSON object"};
    CallOutcome outcome;
    if (j.contains("result")) {
        outcome.output = ZP_TRY(eth::json_bytes(j["result"], "eth_call result"));
        return outcome;
    }
    if (!j.contains("error") || !j["error"].is_object())
        return Error{Errc::rpc_bad_reply, "eth_call: the reply has neither result nor error"};
    const auto& e = j["error"];
    const std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    if (e.contains("data") && e["data"].is_string()) {
        auto bytes = from_hex(e["data"].get<std::string>());
        if (bytes) {
            outcome.reverted = true;
            outcome.revert = decoder.decode(*bytes);
            return outcome;
        }
    }
    if (message.find("revert") != std::string::npos) {
        outcome.reverted = true;
        outcome.revert.text = message;
        return outcome;
    }
    return Error{Errc::rpc_error, "eth_call failed: " + message};
}

namespace detail {

Result<std::vector<Value>> call_view(eth::RpcClient& rpc, const Address& to, const eth::abi::Function& fn,
                                     const std::vector<Value>& args, const eth::BlockTag& at,
                                     const eth::RevertDecoder& decoder,
                                     const std::function<std::string(const eth::Revert&)>& explain) {
    const Bytes data = eth::abi::encode_call(fn, args).value();
    auto out = rpc.call(eth::CallRequest{std::nullopt, to, data, std::nullopt, std::nullopt}, at);
    if (!out) {
        if (out.error().code() == Errc::reverted) {  // name the contract's custom error
            auto sim = simulate_call(rpc, to, Address{}, data, 0, decoder);
            if (sim && sim->reverted) return Error{Errc::reverted, fn.name + " reverted: " + explain(sim->revert)};
        }
        return out.error().wrap(fn.name + " on " + eth::to_checksum(to));
    }
    if (out->empty())
        return Error{Errc::not_found, "no contract answers at " + eth::to_checksum(to) + " (empty reply to " + fn.name + ")"};
    auto values = eth::abi::decode_output(fn, *out);
    if (!values) return values.error().wrap("cannot decode the reply of " + fn.name);
    return values;
}

std::vector<Value> offer_values(const WorkerOffer& o) {
    return {Value::uint_(o.price_per_second, 64), Value::uint_(o.max_duration, 32), Value::uint_(o.cpu_millicores, 32),
            Value::uint_(o.memory_mb, 32), Value::bytes(o.public_key)};
}

WorkerOffer read_offer(Reader& r) {
    WorkerOffer o;
    o.price_per_second = r.num<std::uint64_t>();
    o.max_duration = r.num<std::uint32_t>();
    o.cpu_millicores = r.num<std::uint32_t>();
    o.memory_mb = r.num<std::uint32_t>();
    o.public_key = r.bytes();
    return o;
}

Result<Deployed> deploy_contract(eth::RpcClient& rpc, eth::TxSender& sender, Bytes creation, std::string_view name) {
    const std::string what{name};
    auto sent = sender.send(eth::TxRequest{std::nullopt, 0, std::move(creation), std::nullopt});
    if (!sent) return sent.error().wrap("cannot deploy " + what);
    const auto& receipt = sent->receipt;
    if (!receipt.status)
        return Error{Errc::reverted, "the " + what + " deployment " + to_hex(receipt.transaction_hash) + " reverted"};
    if (!receipt.contract_address) return Error{Errc::rpc_bad_reply, "the deployment receipt has no contract address"};
    const auto code = ZP_TRY(rpc.get_code(*receipt.contract_address));
    if (code.empty())
        return Error{Errc::not_found, "no code at " + eth::to_checksum(*receipt.contract_address) + " after deployment"};
    return Deployed{*receipt.contract_address, receipt.block_number, receipt.transaction_hash, receipt.gas_used};
}

}  // namespace detail
}  // namespace zeppelin::market
