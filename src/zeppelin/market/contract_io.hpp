// The contract plumbing of the dispatcher's bindings beyond reading values (abi_reader.hpp): a
// view through eth_call with the contract's revert named, a table of typed event decoders, the
// worker offer's ABI shape, and deploying a creation transaction. Internal to market/.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/revert.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/abi_reader.hpp"
#include "zeppelin/market/contract_types.hpp"

namespace zeppelin::market::detail {

/// eth_call of view `fn` on `to`. A revert is simulated again to decode it with `decoder`, and
/// worded by `explain` ("getAgreement reverted: <explain(revert)>"); an empty reply means no
/// contract answers there.
Result<std::vector<Value>> call_view(eth::RpcClient& rpc, const Address& to, const eth::abi::Function& fn,
                                     const std::vector<Value>& args, const eth::BlockTag& at,
                                     const eth::RevertDecoder& decoder,
                                     const std::function<std::string(const eth::Revert&)>& explain);

/// The worker offer as registerWorker / updateWorker take it and WorkerRegistered / Updated carry
/// it.
std::vector<Value> offer_values(const WorkerOffer& o);
WorkerOffer read_offer(Reader& r);

/// Sends a contract-creation transaction, waits for its receipt and checks that code exists at
/// the new address; `name` words the errors.
Result<Deployed> deploy_contract(eth::RpcClient& rpc, eth::TxSender& sender, Bytes creation, std::string_view name);

/// A typed event decoder per ABI event, in the order of the variant `Event` (event_name indexes
/// it by the alternative's index).
template <class Event>
class EventTable {
public:
    using Build = std::function<Event(Reader&)>;

    EventTable(const eth::abi::JsonAbi& abi, std::string contract) : abi_{abi}, contract_{std::move(contract)} {}

    /// Adds the decoder of event `name`; the embedded ABI must have it (a build defect otherwise).
    void add(std::string_view name, Build build) {
        const auto* e = abi_.event(name);
        if (e == nullptr)
            throw Exception{Error{Errc::internal, "the embedded " + contract_ + " ABI has no event " + std::string{name}}};
        entries_.push_back({e, std::move(build)});
    }

    [[nodiscard]] std::string_view name_of(const Event& e) const noexcept {
        return e.index() < entries_.size() ? std::string_view{entries_[e.index()].event->name} : std::string_view{"?"};
    }

    /// Errc::not_found: topic0 is none of the contract's events; Errc::abi_decode: malformed.
    Result<Event> decode(const eth::Log& log) const {
        if (log.topics.empty()) return Error{Errc::not_found, "the log has no topics (not a " + contract_ + " event)"};
        for (const auto& d : entries_) {
            if (d.event->topic0() != log.topics[0]) continue;
            auto decoded = eth::abi::decode_log(*d.event, log.topics, log.data);
            if (!decoded) return decoded.error().wrap("cannot decode " + d.event->name + " event");
            Reader r{decoded->values, d.event->name};
            Event e = d.build(r);
            ZP_CHECK(r.done());
            return e;
        }
        return Error{Errc::not_found, "topic " + to_hex(log.topics[0]) + " is not a " + contract_ + " event"};
    }

    /// Every log of `logs` emitted by `address` (others skipped), decoded, with where it happened.
    template <class Record>
    Result<std::vector<Record>> decode_all(const Address& address, const std::vector<eth::Log>& logs) const {
        std::vector<Record> out;
        for (const auto& log : logs) {
            if (log.address != address) continue;
            auto e = decode(log);
            if (!e)
                return e.error().wrap("log " + std::to_string(log.log_index) + " of block " +
                                      std::to_string(log.block_number));
            out.push_back({std::move(e).value(), log.block_number, log.block_hash, log.transaction_hash, log.log_index,
                           log.removed});
        }
        return out;
    }

    [[nodiscard]] std::vector<Hash32> topics() const {
        std::vector<Hash32> t;
        for (const auto& d : entries_) t.push_back(d.event->topic0());
        return t;
    }

private:
    struct Entry {
        const eth::abi::Event* event;
        Build build;
    };
    const eth::abi::JsonAbi& abi_;
    std::string contract_;
    std::vector<Entry> entries_;
};

}  // namespace zeppelin::market::detail
