// Ethereum JSON-RPC 2.0 client over HTTP.
//
// Errors a caller can branch on (Error::code()):
//   Errc::rpc_unreachable  the node cannot be reached (after the configured retries)
//   Errc::timeout          the node accepted the request but did not answer in time
//   Errc::rpc_bad_reply    the reply is not a valid JSON-RPC reply (garbage, HTML, HTTP 500, wrong id)
//   Errc::rpc_error        the node answered with a JSON-RPC error object (code and message in the text)
//   Errc::reverted         the EVM reverted; Error(string), Panic(uint256) and known custom errors decoded
//
// Transport failures are retried with exponential backoff: failures before the request reached
// the node (connection refused, connect timeout) always; failures after it was sent only for
// idempotent calls (every read method, and eth_sendRawTransaction, whose replay is recognized
// by its hash). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/http.hpp"
#include "zeppelin/eth/revert.hpp"
#include "zeppelin/eth/transaction.hpp"

namespace zeppelin::eth {

// ---------------------------------------------------------------- typed values

/// A block selector: "latest", "pending", "earliest", "safe", "finalized" or a number.
class BlockTag {
public:
    static BlockTag latest() { return BlockTag{"latest"}; }
    static BlockTag pending() { return BlockTag{"pending"}; }
    static BlockTag earliest() { return BlockTag{"earliest"}; }
    static BlockTag safe() { return BlockTag{"safe"}; }
    static BlockTag finalized() { return BlockTag{"finalized"}; }
    static BlockTag number(std::uint64_t n);
    [[nodiscard]] const std::string& str() const noexcept { return text_; }

private:
    explicit BlockTag(std::string t) : text_{std::move(t)} {}
    std::string text_;
};

struct Log {
    Address address;
    std::vector<Hash32> topics;
    Bytes data;
    std::uint64_t block_number{0};
    Hash32 block_hash;
    Hash32 transaction_hash;
    std::uint64_t transaction_index{0};
    std::uint64_t log_index{0};
    bool removed{false};
};

struct Receipt {
    Hash32 transaction_hash;
    bool status{false};  // true = success (status 0x1)
    std::uint64_t block_number{0};
    Hash32 block_hash;
    std::uint64_t transaction_index{0};
    Address from;
    std::optional<Address> to;
    std::uint64_t gas_used{0};
    std::uint64_t cumulative_gas_used{0};
    u256 effective_gas_price;
    std::optional<Address> contract_address;
    std::vector<Log> logs;
};

/// The header fields needed to follow the chain and notice re-orgs.
struct BlockHeader {
    std::uint64_t number{0};
    Hash32 hash;
    Hash32 parent_hash;
    std::uint64_t timestamp{0};
    std::optional<u256> base_fee_per_gas;  // absent before London
    std::uint64_t gas_limit{0};
    std::uint64_t gas_used{0};
};

/// A signed transaction as eth_getTransactionByHash reports it. Every field of `tx` is checked
/// against `hash` (the re-encoded transaction must hash to it) and `from` against the signer
/// recovered from the signature, so a node cannot misreport what was signed.
struct TransactionInfo {
    Transaction tx;  // with its signature
    Hash32 hash;
    Address from;
    std::optional<std::uint64_t> block_number;  // absent while pending
    std::optional<Hash32> block_hash;
    std::optional<std::uint64_t> transaction_index;
};

/// eth_call / eth_estimateGas arguments.
struct CallRequest {
    std::optional<Address> from;
    std::optional<Address> to;  // absent = contract creation
    Bytes data;
    std::optional<u256> value;
    std::optional<std::uint64_t> gas;
};

/// EIP-1559 fees to offer: max_fee = 2 * base_fee + priority_fee (what common wallets do, so a
/// transaction stays includable through six consecutive full blocks).
struct FeeSuggestion {
    u256 base_fee;      // of the next block
    u256 max_priority_fee;
    u256 max_fee;
};

/// eth_getLogs filter over an inclusive block range.
struct LogFilter {
    std::uint64_t from_block{0};
    std::uint64_t to_block{0};
    std::vector<Address> addresses;  // empty = any
    /// topics[i]: nullopt = any value at position i; otherwise any of the listed values.
    std::vector<std::optional<std::vector<Hash32>>> topics;
};

// ---------------------------------------------------------------- options

struct RpcOptions {
    HttpOptions http{};
    /// Extra attempts after a retryable transport failure (0 = no retry).
    unsigned max_retries{4};
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{2000};
    /// Errors the decoder should know besides Error(string) and Panic(uint256), e.g.
    /// "InsufficientPayment(uint256,uint256)" (see revert.hpp).
    std::vector<std::string> known_errors;
};

/// Whether a request may be sent again after it possibly reached the node.
enum class Idempotent : bool { no = false, yes = true };

// ---------------------------------------------------------------- reply parsing (fuzzed)

/// A decoded JSON-RPC error object.
struct RpcErrorObject {
    std::int64_t code{0};
    std::string message;
    std::optional<std::string> data_text;  // "data" when it is a string (revert data is hex)
};

/// Parses one JSON-RPC 2.0 reply body for request `id`: returns the "result" member, or an
/// Error: Errc::rpc_bad_reply (not JSON, not an object, wrong id, neither result nor error),
/// or Errc::rpc_error / Errc::reverted built from the error object. Never throws.
Result<nlohmann::json> parse_reply(std::string_view body, std::uint64_t id, const RevertDecoder* decoder = nullptr);

/// Builds the Error for a JSON-RPC error object (reverts decoded when data carries revert bytes).
Error error_from_object(const RpcErrorObject& e, const RevertDecoder* decoder);

// JSON value helpers (strict: quantities are "0x"-prefixed hex without excess digits).
Result<u256> json_quantity(const nlohmann::json& v, std::string_view what);
Result<std::uint64_t> json_u64(const nlohmann::json& v, std::string_view what);
Result<Bytes> json_bytes(const nlohmann::json& v, std::string_view what);
Result<Address> json_address(const nlohmann::json& v, std::string_view what);
Result<Hash32> json_hash(const nlohmann::json& v, std::string_view what);

Result<Log> parse_log(const nlohmann::json& v);
Result<Receipt> parse_receipt(const nlohmann::json& v);
Result<BlockHeader> parse_block_header(const nlohmann::json& v);
/// A transaction object (types 0, 1 and 2; others are Errc::unsupported). Errc::rpc_bad_reply
/// when a field is malformed, the fields do not hash to "hash", or "from" is not the signer.
Result<TransactionInfo> parse_transaction(const nlohmann::json& v);

// ---------------------------------------------------------------- client

class RpcClient final {
public:
    /// `url` is "http://host:port[/path]".
    static Result<std::unique_ptr<RpcClient>> connect(std::string_view url, RpcOptions options = {});

    RpcClient(HttpUrl url, RpcOptions options);
    ~RpcClient();
    RpcClient(const RpcClient&) = delete;
    RpcClient& operator=(const RpcClient&) = delete;

    /// Generic call: returns the "result" member.
    Result<nlohmann::json> request(std::string_view method, const nlohmann::json& params,
                                   Idempotent idempotent = Idempotent::yes);

    Result<std::uint64_t> chain_id();
    Result<std::uint64_t> block_number();
    Result<u256> get_balance(const Address& who, const BlockTag& at = BlockTag::latest());
    Result<std::uint64_t> get_transaction_count(const Address& who, const BlockTag& at = BlockTag::latest());
    Result<Bytes> get_code(const Address& who, const BlockTag& at = BlockTag::latest());
    Result<u256> gas_price();
    Result<u256> max_priority_fee_per_gas();
    Result<std::uint64_t> estimate_gas(const CallRequest& call);
    /// Suggests EIP-1559 fees from the next block's base fee (eth_feeHistory) and the node's
    /// tip suggestion (eth_maxPriorityFeePerGas, falling back to gasPrice - baseFee, then 1 gwei).
    Result<FeeSuggestion> suggest_fees();
    Result<Bytes> call(const CallRequest& call, const BlockTag& at = BlockTag::latest());
    /// Sends a signed raw transaction; returns its hash. A replay of a transaction the node
    /// already has ("already known", or "nonce too low" while the node knows this very hash)
    /// counts as success, which makes the retry safe.
    Result<Hash32> send_raw_transaction(ByteView raw);
    Result<std::optional<Receipt>> get_transaction_receipt(const Hash32& tx);
    /// eth_getTransactionByHash: nullopt when the node does not know the hash. The reply must
    /// hash to `hash` (Errc::rpc_bad_reply "transaction fields do not hash to ..." otherwise).
    Result<std::optional<TransactionInfo>> get_transaction(const Hash32& hash);
    /// Polls until the transaction has `confirmations` blocks on top of (and including) its
    /// block, or `timeout` passes (Errc::timeout).
    Result<Receipt> wait_for_receipt(const Hash32& tx, std::uint64_t confirmations = 1,
                                     std::chrono::milliseconds poll_interval = std::chrono::milliseconds{200},
                                     std::chrono::milliseconds timeout = std::chrono::seconds{120});
    Result<std::optional<BlockHeader>> get_block_header(const BlockTag& at);
    /// Logs over [from_block, to_block], asked for in chunks of at most `chunk_blocks` blocks;
    /// a chunk the node refuses as too large ("query returned more than N results", "block
    /// range too large", ...) is halved and asked again.
    Result<std::vector<Log>> get_logs(const LogFilter& filter, std::uint64_t chunk_blocks = 2000);

    [[nodiscard]] std::string url() const { return http_.url().to_string(); }
    [[nodiscard]] const RevertDecoder& revert_decoder() const noexcept { return decoder_; }
    /// Adds custom error signatures ("Name(type,...)") the revert decoder should recognize.
    /// Like add_error_abi, call it before the client is shared between threads.
    Result<void> add_known_errors(const std::vector<std::string>& signatures);
    /// Adds every "error" entry of a JSON ABI (solc output or an artifact with "abi").
    Result<void> add_error_abi(std::string_view json_abi);

private:
    Result<nlohmann::json> request_once(std::string_view method, const std::string& body, std::uint64_t id,
                                        bool idempotent, bool& retryable);

    RpcOptions options_;
    HttpClient http_;
    RevertDecoder decoder_;
    std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace zeppelin::eth
