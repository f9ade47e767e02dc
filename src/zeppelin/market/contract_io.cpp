#include "zeppelin/market/contract_io.hpp"

#include "zeppelin/eth/address.hpp"

namespace zeppelin::market::detail {

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

}  // namespace zeppelin::market::detail
