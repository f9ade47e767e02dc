// How parties reach a worker: the ports it opens on the router in front of it (UPnP IGD or
// NAT-PMP through src/zeppelin/portmap), their leases, and the address it announces.
//
//   plan_mapping(options)   whether to map at all, decided before asking any router:
//                           off; --public-host given (the operator forwards by hand); servers on
//                           loopback only (the devnet: nobody outside could connect anyway)
//   Reachability            the mappings of one node, each under a purpose ("transfer", "log",
//                           "svc-<agreement>"), tagged with the node's runtime id so that a restarted
//                           node removes what a crashed predecessor left (UPnP: by tag on the router;
//                           NAT-PMP, which cannot list: the mappings remembered in the node's store),
//                           renewed halfway through their lease by a small thread
//
// The node's side (NodeContext::start_reachability and the rest, reachability.cpp) decides what a
// worker nobody can reach does: it pauses its offer in the market and says why (log, API status).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "zeppelin/core/result.hpp"
#include "zeppelin/node/node.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::node {

/// What the node makes of its place in the network.
enum class ReachState : std::uint8_t {
    local,           // servers on loopback: a single-machine market (the devnet), nothing to map
    manual,          // --public-host given: the operator forwards the ports
    off,             // --port-mapping off
    mapped,          // the router maps this node's ports; parties get its external address
    public_address,  // no gateway, but this host has a public address of its own
    unreachable,     // no mapping possible and no --public-host: the worker must not take work
};
std::string_view to_string(ReachState s) noexcept;

/// Whether to ask a router at all, and through which protocols; `reason` says why not (one log line).
struct MappingPlan {
    bool map{false};
    ReachState otherwise{ReachState::local};  // the state when not mapping
    portmap::DiscoverOptions discover;
    std::string reason;
};
MappingPlan plan_mapping(const NodeOptions& o);

/// A port of `range` that `usable` accepts, trying from the `start`-th (modulo the size) round
/// the range once; nullopt when none is.
std::optional<std::uint16_t> draw_port(const PortRange& range, std::uint64_t start,
                                       const std::function<bool(std::uint16_t)>& usable);

/// True when a TCP listener could bind `ip`:`port` now.
bool tcp_port_free(const std::string& ip, std::uint16_t port);

/// The purpose under which a service port of agreement `id` is mapped.
std::string service_purpose(std::uint64_t id);

/// What the gateway's fresh answer about its external address means for mappings made for `held`:
/// the same address; another public one (a new DHCP lease of the router: map again, announce it);
/// a private or shared one (the router is now behind another NAT: nobody outside reaches the
/// mappings); or no usable answer (the gateway did not answer, or not with an IPv4 address: keep
/// what is held and ask again later).
enum class ExternalChange : std::uint8_t { same, changed, now_private, no_answer };
ExternalChange judge_external(std::string_view held, const Result<std::string>& asked) noexcept;

/// The outcome of asking the gateway again (Reachability::check_external).
struct ExternalCheck {
    ExternalChange change{ExternalChange::no_answer};
    std::string before;   // the address the mappings were made for
    std::string after;    // the gateway's answer ("" without one)
    std::string detail;   // why there was no answer, or what was done, in words
};

/// One node's port mappings on its gateway. Thread-safe (one lock around the mapper).
class Reachability final {
public:
    using Clock = std::chrono::steady_clock;
    /// Where the node keeps its mappings (the store's settings), to remove them after a crash.
    struct Persist {
        std::function<std::optional<std::string>()> load;
        std::function<void(const std::string&)> save;
    };

    Reachability(std::string node_id, std::chrono::seconds lease, Persist persist);
    ~Reachability();
    Reachability(const Reachability&) = delete;
    Reachability& operator=(const Reachability&) = delete;

    /// Takes the found gateway and removes what this node left on it before (a crash): UPnP by
    /// tag, NAT-PMP the remembered mappings. Returns how many it removed.
    std::size_t attach(portmap::PortMapper mapper);
    [[nodiscard]] bool has_gateway() const;
    [[nodiscard]] std::optional<portmap::Gateway> gateway() const;

    /// Maps `internal_port` (TCP) for `purpose`; the same port again returns the mapping held, another
    /// replaces it. The external port is the internal one when the router has it free.
    Result<portmap::Mapping> map(const std::string& purpose, std::uint16_t internal_port, Clock::time_point now);
    /// Removes the mapping of `purpose`, if any (failures are logged: the lease ends it anyway).
    void unmap(const std::string& purpose);
    /// Removes every mapping (the node stops).
    void unmap_all();
    [[nodiscard]] std::optional<portmap::Mapping> mapping(const std::string& purpose) const;
    [[nodiscard]] std::vector<std::string> purposes() const;

    /// Renews the leases due at `now` (halfway through); a renewal that fails is tried again at the
    /// next call. Before renewing, it asks the gateway for its external address (check_external).
    /// Returns the purposes whose external address or port changed (the router lost the mapping,
    /// or its address changed).
    std::vector<std::string> renew_due(Clock::time_point now);
    /// Asks the gateway for its external address. Changed to another public address: every mapping
    /// is made again (the answers carry the new address), the node announces the new address to new
    /// agreements (unless it announces --public-host) and says so in its state's reason; now private:
    /// the state becomes unreachable (the node's re-check pauses its offer). Logged in words.
    ExternalCheck check_external(Clock::time_point now);
    [[nodiscard]] std::optional<Clock::time_point> next_due() const;

    /// What this node makes of its place in the network, and why, for logs and the API.
    void set_state(ReachState s, std::string why, std::string announced_host);
    [[nodiscard]] ReachState state() const;
    [[nodiscard]] std::string reason() const;
    [[nodiscard]] std::string announced_host() const;
    [[nodiscard]] nlohmann::json view() const;

    /// A thread that renews leases when due and calls `periodic` every `every` (re-checks);
    /// `moved` hears the purposes whose external address or port a renewal changed.
    void start_thread(std::chrono::seconds every, std::function<void()> periodic,
                      std::function<void(const std::vector<std::string>&)> moved = {});
    void stop_thread();

private:
    void save_locked() const;
    ExternalCheck check_external_locked(Clock::time_point now, std::vector<std::string>& changed);

    std::string node_id_;
    std::chrono::seconds lease_;
    Persist persist_;
    mutable std::mutex mu_;
    std::optional<portmap::PortMapper> mapper_;
    std::map<std::string, portmap::Mapping> by_purpose_;
    std::map<std::string, Clock::time_point> failed_renewals_;
    portmap::Leases leases_;
    std::string external_;  // the gateway's external address the mappings were made for
    ReachState state_{ReachState::local};
    std::string why_;
    std::string announced_;

    std::mutex thread_mu_;
    std::condition_variable wake_;
    bool stopping_{false};
    std::thread thread_;
};

}  // namespace zeppelin::node
