// Which chain, and which deployment on it, a node works with — and what it does when the endpoint
// starts serving another one (docs/ARCHITECTURE.md "Chain identity").
//
// A chain is named by its id and its genesis block's hash (a fresh devnet keeps the id 31337 but
// gets a new genesis; a real network never changes either), a deployment by the dispatcher's
// address and the keccak-256 of its runtime code. The node records the four in its store at its
// first start, compares them at every start (chain id, genesis, code: three requests) and while
// running (the genesis only: once every kCheckInterval, whenever the follower is about to rewind
// for a re-org, which is also how a chain that went backwards shows, and before every transaction,
// which costs several requests anyway), so an idle node's request rate is unchanged.
//
// On a difference the node stops acting: no transaction, no step, no event handled; it says so in
// words with both identities (log, GET /api/status, `zeppelin node status`, the dashboard) and
// keeps all its data. When the difference means the recorded agreements are gone from the chain
// (same id, another genesis: the chain was reset; or the dispatcher's code vanished), the worker
// also stops the containers of its open agreements — nobody will pay for them. Another chain id
// or another configured dispatcher may be a configuration mistake while the old chain lives on:
// its containers keep running. `zeppelin node --reset-chain` adopts the chain it finds: the old
// state is moved to <data-dir>/archive/ and the node starts afresh.
//
//   ChainIdentity            the record
//   compare(), describe()    the pure rule (unit-tested)
//   ChainGuard               the node's view of it at run time (a member of NodeContext)
//   check_chain_at_start(), check_chain(), chain_tick(), chain_status()
//                            the hooks: Node::start, the follower, the run loop, the API
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/rpc.hpp"

namespace zeppelin::node {

struct NodeContext;  // context.hpp
class Store;         // store.hpp

struct ChainIdentity {
    std::uint64_t chain_id{0};
    Hash32 genesis{};     // hash of block 0
    Address dispatcher{};
    Hash32 code_hash{};   // keccak256 of the dispatcher's runtime code (keccak256 of nothing: no code)
    friend bool operator==(const ChainIdentity&, const ChainIdentity&) = default;
};

/// The first difference, in this order (a different chain explains every difference after it).
enum class Mismatch {
    none,
    chain_id,    // the endpoint serves another chain
    genesis,     // same id, another genesis block: the chain was started afresh
    dispatcher,  // another deployment is configured
    code,        // the dispatcher's code changed or vanished (same chain, same address)
};

[[nodiscard]] Mismatch compare(const ChainIdentity& recorded, const ChainIdentity& observed) noexcept;
/// Whether the recorded agreements are certainly gone from the chain observed: then nobody will
/// pay for their work, and a worker stops it. Not for another chain id or another configured
/// dispatcher: the recorded chain or deployment may live on, reached elsewhere.
[[nodiscard]] bool agreements_gone(Mismatch m) noexcept;
[[nodiscard]] std::string_view to_string(Mismatch m) noexcept;
/// keccak256 of no bytes: the code hash of an address without code.
[[nodiscard]] Hash32 empty_code_hash();
/// One line a person can act on: both identities, what the difference means, what to do.
[[nodiscard]] std::string describe(Mismatch m, const ChainIdentity& recorded, const ChainIdentity& observed);

[[nodiscard]] nlohmann::json to_json(const ChainIdentity& id);
Result<ChainIdentity> identity_from_json(const nlohmann::json& j);

/// The store's record (settings key kChainIdentityKey), if any.
inline constexpr const char* kChainIdentityKey = "chain_identity";
Result<std::optional<ChainIdentity>> load_identity(Store& store);
Result<void> save_identity(Store& store, const ChainIdentity& id);

/// Reads the identity the endpoint serves: chain id, genesis and (if `with_code`) the dispatcher's
/// code hash; without it, code_hash is left zero.
Result<ChainIdentity> observe_identity(eth::RpcClient& rpc, const Address& dispatcher, bool with_code = true);

/// Moves state.sqlite (and its -wal/-shm) of `data_dir` to data_dir/archive/<name>/ where name
/// tells the chain and the time; returns that directory. The caller has closed the database.
Result<std::filesystem::path> archive_state(const std::filesystem::path& data_dir, const ChainIdentity& old,
                                            std::int64_t unix_seconds);

/// The node's run-time view: what it recorded, and whether (and why) it stopped acting.
class ChainGuard final {
public:
    static constexpr std::chrono::minutes kCheckInterval{10};

    struct Halt {
        Mismatch mismatch{Mismatch::none};
        ChainIdentity observed;
        std::string message;  // describe()
        bool work_stopped{false};  // the containers of the vanished agreements were ended
    };

    void set_recorded(const ChainIdentity& id);
    [[nodiscard]] std::optional<ChainIdentity> recorded() const;
    /// Stops the node acting; the first halt's reason stays (a node never resumes by itself).
    void halt(Halt h);
    [[nodiscard]] bool halted() const noexcept { return halted_.load(); }
    [[nodiscard]] std::optional<Halt> halt_state() const;
    void mark_work_stopped();
    /// True once every kCheckInterval from `now` (and at the first call), counting from the last mark.
    [[nodiscard]] bool check_due(std::chrono::steady_clock::time_point now) const;
    void mark_checked(std::chrono::steady_clock::time_point now);

private:
    mutable std::mutex mu_;
    std::optional<ChainIdentity> recorded_;
    std::optional<Halt> halt_;
    std::atomic<bool> halted_{false};
    std::optional<std::chrono::steady_clock::time_point> last_check_;
};

// ---- the hooks (chain_identity.cpp, over NodeContext)

/// Node::start, once the store and the RPC client are open, before anything else reads or writes
/// chain-dependent state: records the identity at the first start; on a difference either adopts
/// the new chain (opt.reset_chain: the old containers are ended, the old state archived, a fresh
/// store opened and recorded) or halts the node. Fails only when the chain cannot be read, or when
/// there is no contract at the dispatcher address on a first start.
Result<void> check_chain_at_start(NodeContext& n);
/// The genesis against the record (one request; also before every transaction, so that none is
/// sent to a chain that replaced the node's own between two checks); on a difference the node halts (and the code is
/// read once more for the report). Returns an error when halted or when the chain cannot be read,
/// so the follower does not rewind over a chain it cannot vouch for.
Result<void> check_chain(NodeContext& n, std::string_view why);
/// Once per turn of the run loop: the periodic check when due, and while halted the one-time end
/// of the vanished agreements' containers. Returns true while the node must not act.
bool chain_tick(NodeContext& n);
/// For GET /api/status: {"state": "ok"|"mismatch", "recorded", "observed", "mismatch", "message"}.
nlohmann::json chain_status(const NodeContext& n);

}  // namespace zeppelin::node
