// Port mapping for a node behind a home NAT router: find the gateway (UPnP IGD through SSDP,
// then NAT-PMP, then PCP), learn its external address, and open ports on it with a lease, renewed by the
// caller before it runs out and removed when no longer needed.
//
// Every mapping's description carries a tag "zeppelin/<node id>/<purpose>", so a restarted node
// finds what a crashed predecessor left on a UPnP router (remove_stale) and leaves other
// programs' mappings alone. NAT-PMP (RFC 6886) and PCP (RFC 6887) have no listing: a node
// remembers those mappings itself (the Mapping values, e.g. in its database) and unmaps them on
// restart.
//
// No mapping possible is a typed error the caller branches on:
//   Errc::no_gateway       nothing answered (no UPnP IGD, no NAT-PMP gateway)
//   Errc::double_nat       a gateway answered, but its external address is itself private/shared
//                          (RFC 1918, RFC 6598 carrier-grade NAT...): a mapping there does not
//                          make this host reachable from the internet
//   Errc::mapping_refused  the gateway refused (port taken by another host, not authorized, full)
//   Errc::timeout / io / protocol   the gateway stopped answering or answered nonsense
// and the message says why in words, with what each protocol answered.
//
// Blocking calls, bounded by DiscoverOptions::timeout each; not thread-safe (one PortMapper per
// thread, or a lock around it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/result.hpp"

namespace zeppelin::portmap {

enum class Protocol : std::uint8_t { tcp, udp };
/// Which protocol the gateway was reached with.
enum class Method : std::uint8_t { upnp_igd, natpmp, pcp };

std::string_view to_string(Protocol p) noexcept;   // "TCP" / "UDP"
std::string_view to_string(Method m) noexcept;     // "UPnP IGD" / "NAT-PMP" / "PCP"
std::optional<Protocol> parse_protocol(std::string_view text) noexcept;  // "tcp"/"TCP"/"udp"/"UDP"

struct Gateway {
    Method method{Method::upnp_igd};
    std::string address;           // the gateway's LAN address
    std::string local_address;     // this host's LAN address, the internal client of mappings
    std::string external_address;  // the gateway's WAN address: where the internet reaches us
    std::string detail;            // for logs: UPnP control URL and service type, or NAT-PMP epoch
};

struct MappingRequest {
    Protocol protocol{Protocol::tcp};
    std::uint16_t internal_port{0};
    /// Wanted external port; 0: the internal port if free, else any the gateway offers.
    std::uint16_t external_port{0};
    std::chrono::seconds lease{3600};
    /// What the port is for ("transfer", "log", "service-8080"...): [A-Za-z0-9._-], in the tag.
    std::string purpose;
};

struct Mapping {
    Method method{Method::upnp_igd};
    Protocol protocol{Protocol::tcp};
    std::string internal_address;
    std::uint16_t internal_port{0};
    std::string external_address;
    std::uint16_t external_port{0};
    std::chrono::seconds lease{0};  // granted (UPnP: remaining when listed); 0 = permanent
    std::string description;

    friend bool operator==(const Mapping&, const Mapping&) = default;
};

/// The tag in a mapping's description.
struct Tag {
    std::string node_id;
    std::string purpose;
    friend bool operator==(const Tag&, const Tag&) = default;
};

/// Longest description this library writes: miniupnpd keeps 64 bytes, many routers fewer.
inline constexpr std::size_t kMaxDescription = 63;

/// "zeppelin/<node id>/<purpose>"; invalid_argument if either part is empty, has characters
/// outside [A-Za-z0-9._-], or the whole exceeds kMaxDescription.
Result<std::string> make_description(std::string_view node_id, std::string_view purpose);
/// The tag of a description this library wrote, nullopt for anything else.
std::optional<Tag> parse_description(std::string_view description) noexcept;

/// True for IPv4 addresses that cannot be reached from the internet because they sit behind
/// another NAT or are not routable at all: 0/8, 10/8, 100.64/10 (RFC 6598), 127/8, 169.254/16,
/// 172.16/12, 192.168/16. Documentation ranges (RFC 5737) count as public: the network lab uses
/// 198.51.100.0/24 as its "internet". nullopt if `address` is not a dotted IPv4 address.
std::optional<bool> is_private_ipv4(std::string_view address) noexcept;

/// This host's own IPv4 addresses that are not private (is_private_ipv4 false), from its
/// interfaces: a host with one is reachable without any mapping (its firewall permitting).
std::vector<std::string> public_local_addresses();

/// When to renew a lease granted for `lease`: halfway, as RFC 6886 §3.3 recommends for NAT-PMP
/// clients; 0 (permanent) gives nullopt.
std::optional<std::chrono::seconds> renew_after(std::chrono::seconds lease) noexcept;

/// The mappings among `all` that carry `node_id`'s tag and are not in `keep` (same protocol and
/// external port).
std::vector<Mapping> select_stale(std::span<const Mapping> all, std::string_view node_id,
                                  std::span<const Mapping> keep);

/// A node's leases and when each is due for renewal (halfway through, renew_after), on the
/// caller's clock. The caller renews what due() returns through PortMapper::renew and tracks the
/// result again; a permanent mapping (lease 0) is never due.
class Leases final {
public:
    using Clock = std::chrono::steady_clock;

    /// Starts (or, for the same protocol and external port, restarts) tracking `m`, granted at `at`.
    void track(const Mapping& m, Clock::time_point at);
    void forget(const Mapping& m);
    /// The mappings whose renewal time has come at `now`.
    [[nodiscard]] std::vector<Mapping> due(Clock::time_point now) const;
    /// The earliest renewal time, if any lease is tracked.
    [[nodiscard]] std::optional<Clock::time_point> next_due() const;
    [[nodiscard]] std::vector<Mapping> all() const;
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

private:
    struct Entry {
        Mapping mapping;
        std::optional<Clock::time_point> renew_at;
    };
    std::vector<Entry> entries_;
};

/// A gateway reached through one protocol. The real ones wrap libminiupnpc and libnatpmp; tests
/// use fakes.
class Backend {
public:
    virtual ~Backend() = default;
    [[nodiscard]] virtual const Gateway& gateway() const = 0;
    /// Asks the gateway again for its external address (it may change: a new DHCP lease); an
    /// answer becomes gateway().external_address and the address of mappings made from then on.
    virtual Result<std::string> external_address() = 0;
    /// Adds (or, for the same internal client and ports, refreshes) a mapping.
    virtual Result<Mapping> add(const MappingRequest& request, const std::string& description) = 0;
    virtual Result<void> remove(const Mapping& mapping) = 0;
    /// Every mapping on the gateway (UPnP); Errc::unsupported where the protocol cannot list.
    virtual Result<std::vector<Mapping>> list() = 0;
};

struct DiscoverOptions {
    /// Per protocol: SSDP wait, then each UPnP/NAT-PMP request.
    std::chrono::milliseconds timeout{2000};
    bool upnp{true};
    bool natpmp{true};
    /// PCP (RFC 6887, pcp.hpp), tried after UPnP IGD and NAT-PMP.
    bool pcp{true};
    /// Network interface (name or IPv4 address) to send SSDP on; empty: the system's choice.
    std::string interface;
    /// NAT-PMP and PCP gateway address; empty: the default route's gateway.
    std::string natpmp_gateway;
    /// Accept a gateway whose external address is private (double NAT). Off: such a gateway is
    /// Errc::double_nat, because a mapping there leaves the host unreachable.
    bool allow_private_external{false};
};

/// One attempt at finding a gateway, as discover() tries them in order.
using Probe = std::function<Result<std::unique_ptr<Backend>>()>;

class PortMapper final {
public:
    /// Finds a gateway: UPnP IGD first, then NAT-PMP, then PCP (as options allow), and checks its external
    /// address. `node_id` tags every mapping: [A-Za-z0-9._-], at most 32 characters.
    static Result<PortMapper> discover(std::string node_id, const DiscoverOptions& options = {});
    /// The same over given probes (tests); the first that yields a usable gateway wins.
    static Result<PortMapper> discover_with(std::string node_id, std::span<const Probe> probes,
                                            bool allow_private_external);

    PortMapper(std::string node_id, std::unique_ptr<Backend> backend);
    PortMapper(PortMapper&&) noexcept = default;
    PortMapper& operator=(PortMapper&&) noexcept = default;
    PortMapper(const PortMapper&) = delete;
    PortMapper& operator=(const PortMapper&) = delete;
    ~PortMapper() = default;

    [[nodiscard]] const Gateway& gateway() const { return backend_->gateway(); }
    [[nodiscard]] const std::string& node_id() const { return node_id_; }
    Result<std::string> external_address() { return backend_->external_address(); }

    /// Opens a port; the returned Mapping says which external port the gateway granted, for how
    /// long. Keep it: renew() and unmap() take it.
    Result<Mapping> map(const MappingRequest& request);
    /// Extends the lease of `mapping` by its original length; the result may carry a new
    /// external port if the gateway lost the old one (a router reboot).
    Result<Mapping> renew(const Mapping& mapping);
    Result<void> unmap(const Mapping& mapping);
    /// This node's mappings on the gateway (UPnP only; NAT-PMP: Errc::unsupported).
    Result<std::vector<Mapping>> list_own();
    /// Removes every mapping of this node on the gateway not in `keep` (what a crashed
    /// predecessor left); returns what it removed. NAT-PMP: Errc::unsupported (unmap the
    /// remembered Mappings instead).
    Result<std::vector<Mapping>> remove_stale(std::span<const Mapping> keep = {});

private:
    std::string node_id_;
    std::unique_ptr<Backend> backend_;
};

/// The real backends (libminiupnpc, libnatpmp, and PCP of our own: pcp.hpp). Exposed for tools
/// that want one protocol only.
Result<std::unique_ptr<Backend>> probe_upnp(const DiscoverOptions& options);
Result<std::unique_ptr<Backend>> probe_natpmp(const DiscoverOptions& options);
Result<std::unique_ptr<Backend>> probe_pcp(const DiscoverOptions& options);

}  // namespace zeppelin::portmap
