#include "zeppelin/eth/rpc.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kMaxJsonDepth = 256;

// The start of a reply for an error message: at most 120 characters, control characters escaped.
std::string snippet(std::string_view s) {
    constexpr std::size_t kMax = 120;
    std::string out;
    constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x20 || u >= 0x7f) {
            if (u == '\n' || u == '\r' || u == '\t') {
                out += ' ';
                continue;
            }
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += s[i];
        }
    }
    if (s.size() > kMax) out += "...";
    return out;
}

std::string lower(std::string_view s) {
    std::string out{s};
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

std::string duration_text(std::chrono::steady_clock::duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms < 1000) return std::to_string(ms) + " ms";
    return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + " s";
}

bool is_revert_error(const RpcErrorObject& e) {
    const auto m = lower(e.message);
    return e.code == 3 || contains(m, "execution reverted") || contains(m, "revert");
}

json call_object(const CallRequest& c) {
    json o = json::object();
    if (c.from) o["from"] = to_hex(*c.from);
    if (c.to) o["to"] = to_hex(*c.to);
    o["data"] = to_hex(c.data);
    if (c.value) o["value"] = to_hex_quantity(*c.value);
    if (c.gas) o["gas"] = to_hex_quantity(*c.gas);
    return o;
}

const json* member(const json& obj, const char* name) {
    auto it = obj.find(name);
    return it == obj.end() ? nullptr : &*it;
}

template <class T, class F>
Result<T> required(const json& obj, const char* name, F&& parse) {
    const json* m = member(obj, name);
    if (!m) return Error{Errc::rpc_bad_reply, std::string{"missing field \""} + name + "\""};
    return parse(*m, name);
}

bool looks_like_too_many_results(std::string_view message) {
    const auto m = lower(message);
    return contains(m, "more than") || contains(m, "too many") || contains(m, "limit exceeded") ||
           contains(m, "range too large") || contains(m, "block range") || contains(m, "too large") ||
           contains(m, "response size") || contains(m, "exceed") || contains(m, "query timeout");
}

// Adds "bad reply from <url> to <method>" to a value-parsing error.
template <class T>
Result<T> in_reply(Result<T> r, const std::string& url, std::string_view method) {
    if (r || r.error().code() != Errc::rpc_bad_reply) return r;
    return r.error().wrap("bad reply from the Ethereum node at " + url + " to " + std::string{method});
}

}  // namespace

BlockTag BlockTag::number(std::uint64_t n) { return BlockTag{to_hex_quantity(n)}; }

// ---------------------------------------------------------------- JSON values

Result<u256> json_quantity(const json& v, std::string_view what) {
    if (!v.is_string()) return Error{Errc::rpc_bad_reply, std::string{what} + " is not a hex quantity string"};
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s.size() > 66 || !is_hex(s))
        return Error{Errc::rpc_bad_reply, std::string{what} + " is not a hex quantity: \"" + snippet(s) + "\""};
    auto r = parse_u256(s);
    if (!r) return Error{Errc::rpc_bad_reply, std::string{what} + ": " + r.error().message()};
    return *r;
}

Result<std::uint64_t> json_u64(const json& v, std::string_view what) {
    auto q = ZP_TRY(json_quantity(v, what));
    if (q > std::numeric_limits<std::uint64_t>::max())
        return Error{Errc::rpc_bad_reply, std::string{what} + " does not fit in 64 bits"};
    return static_cast<std::uint64_t>(q);
}

Result<Bytes> json_bytes(const json& v, std::string_view what) {
    if (!v.is_string()) return Error{Errc::rpc_bad_reply, std::string{what} + " is not a hex data string"};
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return Error{Errc::rpc_bad_reply, std::string{what} + " is not 0x-prefixed hex: \"" + snippet(s) + "\""};
    auto b = from_hex(s);
    if (!b) return Error{Errc::rpc_bad_reply, std::string{what} + ": " + b.error().message()};
    return std::move(*b);
}

Result<Address> json_address(const json& v, std::string_view what) {
    auto b = ZP_TRY(json_bytes(v, what));
    if (b.size() != 20)
        return Error{Errc::rpc_bad_reply, std::string{what} + " is not a 20-byte address (" +
                                              std::to_string(b.size()) + " bytes)"};
    return fixed_from<20>(b);
}

Result<Hash32> json_hash(const json& v, std::string_view what) {
    auto b = ZP_TRY(json_bytes(v, what));
    if (b.size() != 32)
        return Error{Errc::rpc_bad_reply, std::string{what} + " is not a 32-byte hash (" +
                                              std::to_string(b.size()) + " bytes)"};
    return fixed_from<32>(b);
}

namespace {

// obj[name]: an array of 32-byte hashes. `what` names the array in errors, `item` an element.
Result<std::vector<Hash32>> required_hashes(const json& obj, const char* name, std::string_view what,
                                            std::string_view item) {
    const json* array = member(obj, name);
    if (!array || !array->is_array()) return Error{Errc::rpc_bad_reply, std::string{what} + " missing or not an array"};
    std::vector<Hash32> out;
    for (const auto& h : *array) out.push_back(ZP_TRY(json_hash(h, item)));
    return out;
}

}  // namespace

Result<Log> parse_log(const json& v) {
    if (!v.is_object()) return Error{Errc::rpc_bad_reply, "a log is not a JSON object"};
    Log log;
    log.address = ZP_TRY(required<Address>(v, "address", json_address));
    log.topics = ZP_TRY(required_hashes(v, "topics", "log topics", "log topic"));
    log.data = ZP_TRY(required<Bytes>(v, "data", json_bytes));
    auto opt_u64 = [&](const char* name) -> Result<std::uint64_t> {  // null while pending
        const json* m = member(v, name);
        if (!m || m->is_null()) return std::uint64_t{0};
        return json_u64(*m, name);
    };
    auto opt_hash = [&](const char* name) -> Result<Hash32> {
        const json* m = member(v, name);
        if (!m || m->is_null()) return Hash32{};
        return json_hash(*m, name);
    };
    log.block_number = ZP_TRY(opt_u64("blockNumber"));
    log.block_hash = ZP_TRY(opt_hash("blockHash"));
    log.transaction_hash = ZP_TRY(opt_hash("transactionHash"));
    log.transaction_index = ZP_TRY(opt_u64("transactionIndex"));
    log.log_index = ZP_TRY(opt_u64("logIndex"));
    if (const json* r = member(v, "removed"); r && !r->is_null()) {
        if (!r->is_boolean()) return Error{Errc::rpc_bad_reply, "log field \"removed\" is not a boolean"};
        log.removed = r->get<bool>();
    }
    return log;
}

Result<Receipt> parse_receipt(const json& v) {
    if (!v.is_object()) return Error{Errc::rpc_bad_reply, "the receipt is not a JSON object"};
    Receipt r;
    r.transaction_hash = ZP_TRY(required<Hash32>(v, "transactionHash", json_hash));
    const json* status = member(v, "status");
    if (!status) return Error{Errc::rpc_bad_reply, "the receipt has no status (pre-Byzantium chains are not supported)"};
    const auto st = ZP_TRY(json_u64(*status, "status"));
    if (st > 1) return Error{Errc::rpc_bad_reply, "receipt status is neither 0 nor 1"};
    r.status = st == 1;
    r.block_number = ZP_TRY(required<std::uint64_t>(v, "blockNumber", json_u64));
    r.block_hash = ZP_TRY(required<Hash32>(v, "blockHash", json_hash));
    r.transaction_index = ZP_TRY(required<std::uint64_t>(v, "transactionIndex", json_u64));
    r.from = ZP_TRY(required<Address>(v, "from", json_address));
    if (const json* to = member(v, "to"); to && !to->is_null()) r.to = ZP_TRY(json_address(*to, "to"));
    r.gas_used = ZP_TRY(required<std::uint64_t>(v, "gasUsed", json_u64));
    r.cumulative_gas_used = ZP_TRY(required<std::uint64_t>(v, "cumulativeGasUsed", json_u64));
    if (const json* p = member(v, "effectiveGasPrice"); p && !p->is_null())
        r.effective_gas_price = ZP_TRY(json_quantity(*p, "effectiveGasPrice"));
    if (const json* c = member(v, "contractAddress"); c && !c->is_null())
        r.contract_address = ZP_TRY(json_address(*c, "contractAddress"));
    const json* logs = member(v, "logs");
    if (!logs || !logs->is_array()) return Error{Errc::rpc_bad_reply, "receipt logs missing or not an array"};
    for (const auto& l : *logs) r.logs.push_back(ZP_TRY(parse_log(l)));
    return r;
}

Result<BlockHeader> parse_block_header(const json& v) {
    if (!v.is_object()) return Error{Errc::rpc_bad_reply, "the block is not a JSON object"};
    BlockHeader h;
    h.number = ZP_TRY(required<std::uint64_t>(v, "number", json_u64));
    h.hash = ZP_TRY(required<Hash32>(v, "hash", json_hash));
    h.parent_hash = ZP_TRY(required<Hash32>(v, "parentHash", json_hash));
    h.timestamp = ZP_TRY(required<std::uint64_t>(v, "timestamp", json_u64));
    if (const json* b = member(v, "baseFeePerGas"); b && !b->is_null())
        h.base_fee_per_gas = ZP_TRY(json_quantity(*b, "baseFeePerGas"));
    h.gas_limit = ZP_TRY(required<std::uint64_t>(v, "gasLimit", json_u64));
    h.gas_used = ZP_TRY(required<std::uint64_t>(v, "gasUsed", json_u64));
    return h;
}

namespace {

Result<TxType> transaction_type(const json& v) {
    const json* t = member(v, "type");
    if (!t || t->is_null()) return TxType::legacy;  // nodes from before EIP-2718 omit it
    const auto n = ZP_TRY(json_u64(*t, "type"));
    if (n > 2) return Error{Errc::unsupported, "transaction type " + std::to_string(n) + " is not supported"};
    return static_cast<TxType>(n);
}

Result<AccessList> parse_access_list(const json& v) {
    if (!v.is_array()) return Error{Errc::rpc_bad_reply, "accessList is not an array"};
    AccessList list;
    for (const auto& e : v) {
        if (!e.is_object()) return Error{Errc::rpc_bad_reply, "an accessList entry is not a JSON object"};
        AccessListEntry entry;
        entry.address = ZP_TRY(required<Address>(e, "address", json_address));
        entry.storage_keys = ZP_TRY(required_hashes(e, "storageKeys", "accessList storageKeys", "storage key"));
        list.push_back(std::move(entry));
    }
    return list;
}

// The signature: r, s, and the y parity from "yParity" and/or "v" (legacy: 27/28 or
// chainId * 2 + 35/36, which also gives the chain id; typed: 0/1). Both present must agree.
Result<Signature> parse_transaction_signature(const json& v, Transaction& tx) {
    Signature sig;
    sig.r = to_be32(ZP_TRY(required<u256>(v, "r", json_quantity)));
    sig.s = to_be32(ZP_TRY(required<u256>(v, "s", json_quantity)));
    std::optional<u256> parity;
    if (const json* y = member(v, "yParity"); y && !y->is_null()) parity = ZP_TRY(json_quantity(*y, "yParity"));
    if (const json* vj = member(v, "v"); vj && !vj->is_null()) {
        const u256 v_value = ZP_TRY(json_quantity(*vj, "v"));
        u256 from_v = v_value;
        if (tx.type == TxType::legacy) {
            if (v_value == 27 || v_value == 28) {
                from_v = v_value - 27;
                tx.chain_id.reset();  // pre-EIP-155: no replay protection, whatever "chainId" says
            } else if (v_value >= 35) {
                const u256 id = (v_value - 35) / 2;
                if (tx.chain_id && u256{*tx.chain_id} != id)
                    return Error{Errc::rpc_bad_reply, "chainId " + std::to_string(*tx.chain_id) +
                                                          " does not match the signature's v " + to_dec(v_value)};
                if (id > std::numeric_limits<std::uint64_t>::max())
                    return Error{Errc::rpc_bad_reply, "the chain id in v does not fit in 64 bits"};
                tx.chain_id = static_cast<std::uint64_t>(id);
                from_v = (v_value - 35) % 2;
            } else {
                return Error{Errc::rpc_bad_reply, "legacy signature v must be 27, 28 or chainId * 2 + 35/36, got " +
                                                      to_dec(v_value)};
            }
        }
        if (parity && *parity != from_v)
            return Error{Errc::rpc_bad_reply, "yParity " + to_dec(*parity) + " does not match v " + to_dec(v_value)};
        parity = from_v;
    } else if (tx.type == TxType::legacy) {
        return Error{Errc::rpc_bad_reply, "missing field \"v\""};
    }
    if (!parity) return Error{Errc::rpc_bad_reply, "missing field \"yParity\""};
    if (*parity > 1) return Error{Errc::rpc_bad_reply, "signature y parity is neither 0 nor 1"};
    sig.y_parity = static_cast<std::uint8_t>(*parity);
    return sig;
}

Error hash_mismatch(const Hash32& expected, const Hash32& actual) {
    return Error{Errc::rpc_bad_reply,
                 "transaction fields do not hash to " + to_hex(expected) + " (they hash to " + to_hex(actual) + ")"};
}

}  // namespace

Result<TransactionInfo> parse_transaction(const json& v) {
    if (!v.is_object()) return Error{Errc::rpc_bad_reply, "the transaction is not a JSON object"};
    TransactionInfo info;
    Transaction& tx = info.tx;
    tx.type = ZP_TRY(transaction_type(v));
    info.hash = ZP_TRY(required<Hash32>(v, "hash", json_hash));
    info.from = ZP_TRY(required<Address>(v, "from", json_address));
    if (const json* c = member(v, "chainId"); c && !c->is_null()) tx.chain_id = ZP_TRY(json_u64(*c, "chainId"));
    else if (tx.type != TxType::legacy) return Error{Errc::rpc_bad_reply, "missing field \"chainId\""};
    tx.nonce = ZP_TRY(required<std::uint64_t>(v, "nonce", json_u64));
    if (tx.type == TxType::dynamic_fee) {
        tx.max_priority_fee_per_gas = ZP_TRY(required<u256>(v, "maxPriorityFeePerGas", json_quantity));
        tx.max_fee_per_gas = ZP_TRY(required<u256>(v, "maxFeePerGas", json_quantity));
    } else {
        tx.gas_price = ZP_TRY(required<u256>(v, "gasPrice", json_quantity));
    }
    tx.gas_limit = ZP_TRY(required<std::uint64_t>(v, "gas", json_u64));
    if (const json* to = member(v, "to"); to && !to->is_null()) tx.to = ZP_TRY(json_address(*to, "to"));
    tx.value = ZP_TRY(required<u256>(v, "value", json_quantity));
    tx.data = ZP_TRY(required<Bytes>(v, "input", json_bytes));
    if (tx.type != TxType::legacy) {
        if (const json* al = member(v, "accessList"); al && !al->is_null()) tx.access_list = ZP_TRY(parse_access_list(*al));
    }
    tx.signature = ZP_TRY(parse_transaction_signature(v, tx));
    if (const json* b = member(v, "blockNumber"); b && !b->is_null()) info.block_number = ZP_TRY(json_u64(*b, "blockNumber"));
    if (const json* b = member(v, "blockHash"); b && !b->is_null()) info.block_hash = ZP_TRY(json_hash(*b, "blockHash"));
    if (const json* i = member(v, "transactionIndex"); i && !i->is_null())
        info.transaction_index = ZP_TRY(json_u64(*i, "transactionIndex"));

    const Hash32 computed = ZP_TRY(tx.hash());
    if (computed != info.hash) return hash_mismatch(info.hash, computed);
    auto signer = recover_sender(tx);
    if (!signer) return Error{Errc::rpc_bad_reply, "transaction " + to_hex(info.hash) + ": " + signer.error().message()};
    if (*signer != info.from)
        return Error{Errc::rpc_bad_reply, "transaction " + to_hex(info.hash) + " claims to be from " + to_hex(info.from) +
                                              " but was signed by " + to_hex(*signer)};
    return info;
}

// ---------------------------------------------------------------- reply parsing

Error error_from_object(const RpcErrorObject& e, const RevertDecoder* decoder) {
    if (is_revert_error(e)) {
        if (e.data_text) {
            auto data = from_hex(*e.data_text);
            if (data) {
                RevertDecoder empty;
                const auto rev = (decoder ? decoder : &empty)->decode(*data);
                return Error{Errc::reverted, "execution reverted: " + rev.text};
            }
        }
        return Error{Errc::reverted, snippet(e.message)};
    }
    std::string m = "the node returned error " + std::to_string(e.code) + ": " + snippet(e.message);
    if (e.data_text) m += " (data: " + snippet(*e.data_text) + ")";
    return Error{Errc::rpc_error, std::move(m)};
}

Result<json> parse_reply(std::string_view body, std::uint64_t id, const RevertDecoder* decoder) {
    bool too_deep = false;
    json::parser_callback_t depth_guard = [&too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxJsonDepth) too_deep = true;
        return !too_deep;
    };
    json j = json::parse(body.begin(), body.end(), depth_guard, /*allow_exceptions=*/false);
    if (too_deep) return Error{Errc::rpc_bad_reply, "the reply nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    if (j.is_discarded()) {
        if (body.empty()) return Error{Errc::rpc_bad_reply, "the reply is empty"};
        return Error{Errc::rpc_bad_reply, "the reply is not JSON (it starts with \"" + snippet(body) + "\")"};
    }
    if (j.is_array()) return Error{Errc::rpc_bad_reply, "a batch (array) reply to a single request"};
    if (!j.is_object()) return Error{Errc::rpc_bad_reply, "the reply is not a JSON object: " + snippet(body)};
    const json* version = member(j, "jsonrpc");
    if (!version || !version->is_string() || version->get_ref<const std::string&>() != "2.0")
        return Error{Errc::rpc_bad_reply, "the reply is not JSON-RPC 2.0 (no \"jsonrpc\": \"2.0\")"};
    const json* result = member(j, "result");
    const json* error = member(j, "error");
    if (result && error) return Error{Errc::rpc_bad_reply, "the reply has both \"result\" and \"error\""};
    const json* reply_id = member(j, "id");
    const bool id_matches = reply_id && reply_id->is_number_unsigned() && reply_id->get<std::uint64_t>() == id;
    // A server that could not parse the request answers with "id": null and an error.
    const bool null_id_error = error && reply_id && reply_id->is_null();
    if (!id_matches && !null_id_error)
        return Error{Errc::rpc_bad_reply, "the reply id " + (reply_id ? snippet(reply_id->dump()) : std::string{"(missing)"}) +
                                              " does not match the request id " + std::to_string(id)};
    if (error) {
        if (!error->is_object()) return Error{Errc::rpc_bad_reply, "the reply's \"error\" is not an object"};
        RpcErrorObject e;
        const json* code = member(*error, "code");
        const json* message = member(*error, "message");
        if (!code || !code->is_number_integer() || !message || !message->is_string())
            return Error{Errc::rpc_bad_reply, "the reply's error object lacks an integer code or a message: " +
                                                  snippet(error->dump())};
        e.code = code->get<std::int64_t>();
        e.message = message->get<std::string>();
        if (const json* data = member(*error, "data"); data && data->is_string()) e.data_text = data->get<std::string>();
        return error_from_object(e, decoder);
    }
    if (!result) return Error{Errc::rpc_bad_reply, "the reply has neither \"result\" nor \"error\""};
    return std::move(j["result"]);
}

// ---------------------------------------------------------------- client

Result<std::unique_ptr<RpcClient>> RpcClient::connect(std::string_view url, RpcOptions options) {
    auto parsed = ZP_TRY(HttpUrl::parse(url));
    auto client = std::make_unique<RpcClient>(std::move(parsed), std::move(options));
    ZP_CHECK(client->add_known_errors(client->options_.known_errors));
    return client;
}

RpcClient::RpcClient(HttpUrl url, RpcOptions options) : options_{std::move(options)}, http_{std::move(url), options_.http} {}

RpcClient::~RpcClient() = default;

Result<void> RpcClient::add_known_errors(const std::vector<std::string>& signatures) {
    for (const auto& s : signatures) ZP_CHECK(decoder_.add_signature(s));
    return {};
}

Result<void> RpcClient::add_error_abi(std::string_view json_abi) { return decoder_.add_json_abi(json_abi); }

Result<json> RpcClient::request(std::string_view method, const json& params, Idempotent idempotent) {
    const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
    const std::string body = json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
    const auto start = std::chrono::steady_clock::now();
    auto backoff = options_.backoff_initial;
    for (unsigned attempt = 0;; ++attempt) {
        bool retryable = false;
        auto r = request_once(method, body, id, static_cast<bool>(idempotent), retryable);
        if (r || !retryable) return r;
        if (attempt >= options_.max_retries) {
            const auto& err = r.error();
            std::string m = err.message();
            m += " (" + std::to_string(attempt + 1) + (attempt == 0 ? " attempt" : " attempts") + " over " +
                 duration_text(std::chrono::steady_clock::now() - start) + ")";
            return Error{err.code(), std::move(m)};
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, options_.backoff_max);
    }
}

Result<json> RpcClient::request_once(std::string_view method, const std::string& body, std::uint64_t id,
                                     bool idempotent, bool& retryable) {
    retryable = false;
    const std::string where = http_.url().to_string();
    auto outcome = http_.post(body);
    if (auto* err = std::get_if<HttpError>(&outcome)) {
        const Errc code = err->error.code();
        // Before the request reached the node a retry is always safe; afterwards only for
        // idempotent requests.
        retryable = code != Errc::rpc_bad_reply && (err->stage == HttpFailure::connect || idempotent);
        if (code == Errc::timeout)
            return Error{Errc::timeout, "the Ethereum node at " + where + " did not answer " + std::string{method} +
                                            ": " + err->error.message()};
        if (code == Errc::rpc_bad_reply)
            return Error{Errc::rpc_bad_reply, "bad reply from the Ethereum node at " + where + " to " +
                                                  std::string{method} + ": " + err->error.message()};
        return Error{Errc::rpc_unreachable, "cannot reach the Ethereum node at " + where + ": " + err->error.message()};
    }
    auto& res = std::get<HttpResponse>(outcome);
    if (res.status != 200) {
        // Some nodes send JSON-RPC errors with a 4xx/5xx status; prefer the error object.
        auto parsed = parse_reply(res.body, id, &decoder_);
        if (!parsed && (parsed.error().code() == Errc::rpc_error || parsed.error().code() == Errc::reverted))
            return parsed.error().wrap(std::string{method} + " failed");
        const bool overloaded = res.status == 429 || res.status == 502 || res.status == 503 || res.status == 504;
        retryable = overloaded && idempotent;
        std::string m = "bad reply from the Ethereum node at " + where + " to " + std::string{method} + ": HTTP " +
                        std::to_string(res.status) + (res.reason.empty() ? "" : " " + res.reason);
        if (!res.body.empty()) m += " (body: \"" + snippet(res.body) + "\")";
        return Error{overloaded ? Errc::rpc_unreachable : Errc::rpc_bad_reply, std::move(m)};
    }
    auto parsed = parse_reply(res.body, id, &decoder_);
    if (parsed) return parsed;
    const auto& e = parsed.error();
    if (e.code() == Errc::rpc_bad_reply)
        return e.wrap("bad reply from the Ethereum node at " + where + " to " + std::string{method});
    if (e.code() == Errc::reverted) return parsed;
    return e.wrap(std::string{method} + " failed");
}

// ---------------------------------------------------------------- methods

Result<std::uint64_t> RpcClient::chain_id() {
    auto r = ZP_TRY(request("eth_chainId", json::array()));
    return in_reply(json_u64(r, "chain id"), url(), "eth_chainId");
}

Result<std::uint64_t> RpcClient::block_number() {
    auto r = ZP_TRY(request("eth_blockNumber", json::array()));
    return in_reply(json_u64(r, "block number"), url(), "eth_blockNumber");
}

Result<u256> RpcClient::get_balance(const Address& who, const BlockTag& at) {
    auto r = ZP_TRY(request("eth_getBalance", json::array({to_hex(who), at.str()})));
    return in_reply(json_quantity(r, "balance"), url(), "eth_getBalance");
}

Result<std::uint64_t> RpcClient::get_transaction_count(const Address& who, const BlockTag& at) {
    auto r = ZP_TRY(request("eth_getTransactionCount", json::array({to_hex(who), at.str()})));
    return in_reply(json_u64(r, "transaction count"), url(), "eth_getTransactionCount");
}

Result<Bytes> RpcClient::get_code(const Address& who, const BlockTag& at) {
    auto r = ZP_TRY(request("eth_getCode", json::array({to_hex(who), at.str()})));
    return in_reply(json_bytes(r, "code"), url(), "eth_getCode");
}

Result<u256> RpcClient::gas_price() {
    auto r = ZP_TRY(request("eth_gasPrice", json::array()));
    return in_reply(json_quantity(r, "gas price"), url(), "eth_gasPrice");
}

Result<u256> RpcClient::max_priority_fee_per_gas() {
    auto r = ZP_TRY(request("eth_maxPriorityFeePerGas", json::array()));
    return in_reply(json_quantity(r, "max priority fee"), url(), "eth_maxPriorityFeePerGas");
}

Result<std::uint64_t> RpcClient::estimate_gas(const CallRequest& call) {
    // At "pending", like the transaction it prices: time-dependent code sees the next block's time.
    auto r = ZP_TRY(request("eth_estimateGas", json::array({call_object(call), "pending"})));
    return in_reply(json_u64(r, "gas estimate"), url(), "eth_estimateGas");
}

Result<FeeSuggestion> RpcClient::suggest_fees() {
    FeeSuggestion f;
    // The base fee of the next block: the last entry of eth_feeHistory's baseFeePerGas.
    auto hist = request("eth_feeHistory", json::array({"0x1", "latest", json::array()}));
    if (hist) {
        const json* fees = hist->is_object() ? member(*hist, "baseFeePerGas") : nullptr;
        if (!fees || !fees->is_array() || fees->empty())
            return Error{Errc::rpc_bad_reply, "eth_feeHistory reply from " + url() + " has no baseFeePerGas"};
        f.base_fee = ZP_TRY(json_quantity(fees->back(), "baseFeePerGas"));
    } else if (hist.error().code() == Errc::rpc_error) {  // no eth_feeHistory: the latest block's base fee
        auto head = ZP_TRY(get_block_header(BlockTag::latest()));
        if (!head || !head->base_fee_per_gas)
            return Error{Errc::unsupported, "the chain at " + url() + " has no EIP-1559 base fee"};
        f.base_fee = *head->base_fee_per_gas;
    } else {
        return hist.error();
    }
    auto tip = max_priority_fee_per_gas();
    if (tip) {
        f.max_priority_fee = *tip;
    } else if (tip.error().code() == Errc::rpc_error) {
        auto price = ZP_TRY(gas_price());
        f.max_priority_fee = price > f.base_fee ? u256{price - f.base_fee} : u256{1'000'000'000};
    } else {
        return tip.error();
    }
    const u256 twice_base = ZP_TRY(checked_mul(f.base_fee, 2));
    f.max_fee = ZP_TRY(checked_add(twice_base, f.max_priority_fee));
    return f;
}

Result<Bytes> RpcClient::call(const CallRequest& c, const BlockTag& at) {
    auto r = ZP_TRY(request("eth_call", json::array({call_object(c), at.str()})));
    return in_reply(json_bytes(r, "eth_call result"), url(), "eth_call");
}

Result<Hash32> RpcClient::send_raw_transaction(ByteView raw) {
    const Hash32 hash = keccak256(raw);
    auto r = request("eth_sendRawTransaction", json::array({to_hex(raw)}), Idempotent::yes);
    if (r) return in_reply(json_hash(*r, "transaction hash"), url(), "eth_sendRawTransaction");
    const auto& err = r.error();
    if (err.code() != Errc::rpc_error) return err;
    const auto m = lower(err.message());
    // A replay of a transaction the node already holds (our own retry after a lost reply).
    if (contains(m, "already known") || contains(m, "known transaction") || contains(m, "already imported") ||
        contains(m, "alreadyknown"))
        return hash;
    // The nonce was used: success if it was used by this very transaction.
    if (contains(m, "nonce too low") || contains(m, "nonce has already been used")) {
        auto known = request("eth_getTransactionByHash", json::array({to_hex(hash)}));
        if (known && !known->is_null()) return hash;
    }
    return err;
}

Result<std::optional<Receipt>> RpcClient::get_transaction_receipt(const Hash32& tx) {
    auto r = ZP_TRY(request("eth_getTransactionReceipt", json::array({to_hex(tx)})));
    if (r.is_null()) return std::optional<Receipt>{};
    auto receipt = parse_receipt(r);
    if (!receipt) return receipt.error().wrap("bad receipt for " + to_hex(tx) + " from " + url());
    return std::optional<Receipt>{std::move(*receipt)};
}

Result<std::optional<TransactionInfo>> RpcClient::get_transaction(const Hash32& hash) {
    auto r = ZP_TRY(request("eth_getTransactionByHash", json::array({to_hex(hash)})));
    if (r.is_null()) return std::optional<TransactionInfo>{};
    auto info = parse_transaction(r);
    if (!info) return info.error().wrap("bad transaction " + to_hex(hash) + " from " + url());
    if (info->hash != hash) return hash_mismatch(hash, info->hash).wrap("bad transaction from " + url());
    return std::optional<TransactionInfo>{std::move(*info)};
}

Result<Receipt> RpcClient::wait_for_receipt(const Hash32& tx, std::uint64_t confirmations,
                                            std::chrono::milliseconds poll_interval,
                                            std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto receipt = ZP_TRY(get_transaction_receipt(tx));
        if (receipt) {
            if (confirmations <= 1) return std::move(*receipt);
            const auto head = ZP_TRY(block_number());
            if (head >= receipt->block_number && head - receipt->block_number + 1 >= confirmations) {
                // Re-read: a re-org may have moved the transaction meanwhile.
                auto again = ZP_TRY(get_transaction_receipt(tx));
                if (again && again->block_hash == receipt->block_hash) return std::move(*again);
            }
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            return Error{Errc::timeout, "transaction " + to_hex(tx) + (receipt ? " did not reach " + std::to_string(confirmations) + " confirmations" : std::string{" was not mined"}) +
                                            " within " + duration_text(timeout) + " (node " + url() + ")"};
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll_interval, deadline - now));
    }
}

Result<std::optional<BlockHeader>> RpcClient::get_block_header(const BlockTag& at) {
    auto r = ZP_TRY(request("eth_getBlockByNumber", json::array({at.str(), false})));
    if (r.is_null()) return std::optional<BlockHeader>{};
    auto h = parse_block_header(r);
    if (!h) return h.error().wrap("bad block " + at.str() + " from " + url());
    return std::optional<BlockHeader>{std::move(*h)};
}

Result<std::vector<Log>> RpcClient::get_logs(const LogFilter& filter, std::uint64_t chunk_blocks) {
    std::vector<Log> out;
    if (filter.from_block > filter.to_block) return out;
    json base = json::object();
    if (filter.addresses.size() == 1) {
        base["address"] = to_hex(filter.addresses[0]);
    } else if (!filter.addresses.empty()) {
        json a = json::array();
        for (const auto& addr : filter.addresses) a.push_back(to_hex(addr));
        base["address"] = std::move(a);
    }
    json topics = json::array();
    for (const auto& t : filter.topics) {
        if (!t) {
            topics.push_back(nullptr);
        } else {
            json alts = json::array();
            for (const auto& h : *t) alts.push_back(to_hex(h));
            topics.push_back(std::move(alts));
        }
    }
    base["topics"] = std::move(topics);

    std::uint64_t chunk = std::max<std::uint64_t>(chunk_blocks, 1);
    std::uint64_t from = filter.from_block;
    for (;;) {
        const std::uint64_t span_left = filter.to_block - from;  // blocks after `from`
        const std::uint64_t to = from + std::min(chunk - 1, span_left);
        json q = base;
        q["fromBlock"] = to_hex_quantity(from);
        q["toBlock"] = to_hex_quantity(to);
        auto r = request("eth_getLogs", json::array({q}));
        if (!r && r.error().code() == Errc::rpc_error && to > from && looks_like_too_many_results(r.error().message())) {
            chunk = std::max<std::uint64_t>((to - from + 1) / 2, 1);
            continue;
        }
        if (!r) return r.error();
        if (!r->is_array())
            return Error{Errc::rpc_bad_reply, "eth_getLogs reply from " + url() + " is not an array"};
        for (const auto& l : *r) {
            auto log = parse_log(l);
            if (!log) return log.error().wrap("bad log from " + url());
            out.push_back(std::move(*log));
        }
        if (to == filter.to_block) break;
        from = to + 1;
    }
    return out;
}

}  // namespace zeppelin::eth
