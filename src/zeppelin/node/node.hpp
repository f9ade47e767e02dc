// The Zeppelin node: one process per machine that plays every role of the protocol for one
// account (DESIGN.md; docs/ARCHITECTURE.md "The node").
//
//   auto node = Node::start(options).value();   // opens state, registers as a worker, recovers
//   node->run(stop_flag);                       // follows the chain until stop_flag is set
//
// How it works:
//   * The chain follower (follower.hpp) delivers the dispatcher's events (protocol v2); they are
//     triggers, never the truth: AgreementPurchased (then the draw's preview), WorkerDrawn and
//     VerifiersDrawn tell the node which agreements concern it (as client, worker or verifier);
//     MessagePosted carries private messages, one envelope per recipient (messages.hpp).
//   * Every agreement that concerns the node is stepped when an event or a moment it asked for
//     comes: the step re-reads the agreement (a cached view an event drops) and takes the next
//     action (accept with the offer, reveal the spec, run the work, check it against the spec,
//     start, brief the verifiers, probe, report a batch, settle, withdraw...). Steps are
//     idempotent, so a replayed event or a restart after `kill -9` does no harm.
//   * Every transaction is journaled (store.hpp) before it is sent; on start the node re-sends
//     journaled transactions that were never seen mined, never new ones.
//   * Steps run on a small thread pool, at most one at a time per agreement.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::node {

struct NodeContext;  // context.hpp
struct LogQuery;     // log_channel.hpp

/// How a worker opens its ports on the router in front of it (reachability.hpp).
enum class PortMapping : std::uint8_t {
    automatic,  // map unless everything is on loopback or --public-host was given (manual forwarding)
    upnp,       // UPnP IGD only
    natpmp,     // NAT-PMP only
    pcp,        // PCP only (RFC 6887; src/zeppelin/portmap/pcp.hpp)
    off,        // never map
};
std::optional<PortMapping> parse_port_mapping(std::string_view text) noexcept;
std::string_view to_string(PortMapping m) noexcept;

/// An inclusive range of TCP ports ("40000-40100", or one port "40000").
struct PortRange {
    std::uint16_t first{0};
    std::uint16_t last{0};
    [[nodiscard]] std::size_t size() const noexcept { return std::size_t{last} - first + 1; }
    friend bool operator==(const PortRange&, const PortRange&) = default;
};
Result<PortRange> parse_port_range(std::string_view text);

struct NodeOptions {
    std::filesystem::path data_dir;  // state.sqlite, layer cache, images
    std::string rpc_url;
    std::uint64_t chain_id{0};  // 0: ask the endpoint; otherwise checked against it
    Address dispatcher{};
    std::uint64_t deploy_block{0};
    std::optional<eth::PrivateKey> key;  // the account (required)
    // Adopt the chain the endpoint serves if it is not the recorded one: the old state is archived
    // (chain_identity.hpp). Without it, a node on another chain stops acting and says why.
    bool reset_chain{false};

    // worker side
    bool worker{true};                 // register and serve (false: client only)
    u256 stake{0};                     // 0: the contract's minimum
    std::uint64_t price_per_second{1'000'000'000};  // wei (1 gwei/s)
    std::uint32_t max_duration{86'400};
    std::uint32_t cpu_millicores{1000};
    std::uint32_t memory_mb{1024};
    std::string public_host{"127.0.0.1"};  // how others reach this machine (transfer and services)
    bool public_host_given{false};         // --public-host was set: the operator forwards by hand
    std::string transfer_host{"127.0.0.1"};  // where the transfer server listens
    std::uint16_t transfer_port{0};        // 0: any free port
    std::string service_ip{"127.0.0.1"};   // where containers' ports are published ("0.0.0.0": everywhere)
    std::uint16_t log_port{0};             // the work's output channel (0: any free port)
    std::optional<PortRange> service_ports;  // host ports of services are drawn from here (unset: any free)
    PortMapping port_mapping{PortMapping::automatic};
    std::chrono::seconds port_mapping_lease{3600};  // asked of the router; renewed halfway
    // A worker no client has connected to this long after its transfer offer says so and checks
    // its own reachability again (reachability.cpp: watch_first_contact).
    std::chrono::seconds unreached_after{60};
    std::uint64_t max_image_bytes{8ULL << 30};
    // How received images reach the engine: pulled from this node's loopback registry while they
    // arrive (true), or loaded as an archive once complete, for an engine that cannot reach this
    // machine's 127.0.0.1 (Docker in a VM, a remote daemon).
    bool pull_images{true};
    // Images this worker brought into the engine are kept for later agreements (which then start at
    // once); beyond this many, the least recently used go when an agreement ends.
    std::size_t keep_images{8};

    // verifier side
    unsigned probes_per_period{2};

    std::uint64_t confirmations{0};
    /// How often the chain is asked for new blocks and a pending transaction for its receipt.
    /// Unset: 50 ms on a local development chain (chain id 31337: anvil, hardhat), where blocks are
    /// mined on demand, and 1 s elsewhere, where blocks come every few seconds at best.
    std::optional<std::chrono::milliseconds> poll;
    unsigned step_threads{6};
};

/// What `zeppelin run` asks the client's node to buy.
struct RunRequest {
    std::string image;  // archive path on this machine, or an image the local engine holds
    std::uint32_t duration{3600};
    std::uint32_t period{60};
    std::uint8_t verifiers{3};  // protocol v2: odd, 3 to 5
    u256 max_price_per_second{0};
    std::string probe{"tcp"};
    std::uint32_t cpu_millicores{500};
    std::uint32_t memory_mb{256};
    std::optional<std::uint16_t> port;  // the service port; must be one the image exposes
    std::uint16_t min_reputation{0};
};

class Node final {
public:
    static Result<std::unique_ptr<Node>> start(NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Follows the chain and reconciles agreements until `stop` becomes true.
    void run(const std::atomic<bool>& stop);

    [[nodiscard]] const Address& address() const noexcept;

    // ---- for the local API and the CLI (thread-safe) ----
    Result<nlohmann::json> status();
    Result<nlohmann::json> agreements();
    /// One agreement: local state, chain view, transfer progress; unless `brief`, also its
    /// requirements, payments (a log scan), this node's transactions, resource use and probes.
    Result<nlohmann::json> agreement(std::uint64_t id, bool brief = false);
    /// Buys an agreement for `request` and returns its id; the node carries it on from there.
    Result<std::uint64_t> submit_run(const RunRequest& request);
    /// What submit_run would refuse, said before anything is sent: the image (found, its ports),
    /// the probe, and the terms against the market now (purchase_check.hpp). {"ok", "refusals":
    /// [{"code", "message"}], "deposit", "eligible_workers", "active_workers", "workers_needed", "cheapest"?}
    Result<nlohmann::json> check_run(const RunRequest& request);
    /// Keeps an uploaded image archive (the dashboard's upload) after checking it like any archive
    /// (hostile entries, digests); returns {"path", "config_digest", "bytes"} to run it from.
    /// `file_name` (the uploader's, reduced to a safe base name) names the copy.
    Result<nlohmann::json> store_upload(std::string_view archive_bytes, std::string_view file_name = "image.tar");
    /// The client ends its agreement: stops it when running, cancels it before.
    Result<nlohmann::json> stop_agreement(std::uint64_t id);
    /// This node's worker registration: change the offer (unset fields keep their value), pause,
    /// resume, unregister (the stake is withdrawable after the cool-down). Each returns status().
    struct OfferChange {
        std::optional<std::uint64_t> price_per_second;
        std::optional<std::uint32_t> max_duration;
        std::optional<std::uint32_t> cpu_millicores;
        std::optional<std::uint32_t> memory_mb;
    };
    Result<nlohmann::json> update_offer(const OfferChange& change);
    Result<nlohmann::json> worker_action(std::string_view action);  // "pause", "resume", "unregister", "withdraw"
    /// What buyContract would escrow for these terms (wei), and the config it depends on.
    Result<nlohmann::json> quote(const u256& max_price_per_second, std::uint32_t duration, std::uint32_t period,
                                 std::uint8_t verifiers);
    Result<nlohmann::json> market_workers();
    Result<nlohmann::json> market_agreements();
    /// The work's output, as `query` asks: from the engine on the worker, over the encrypted log
    /// channel on the client. Errors before any output (unknown id, the worker unreachable) come
    /// back before the sink is called.
    Result<void> logs(std::uint64_t id, const LogQuery& query, const std::function<bool(std::string_view)>& sink);
    /// Prometheus text exposition of the node's counters.
    std::string metrics_text();

private:
    explicit Node(std::unique_ptr<NodeContext> ctx);
    std::unique_ptr<NodeContext> ctx_;
};

}  // namespace zeppelin::node
