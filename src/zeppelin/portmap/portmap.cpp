// The protocol-independent part of port mapping: tags, address classes, lease timing, the
// order of discovery and what "no mapping possible" means. The wire protocols live in
// upnp.cpp (libminiupnpc) and natpmp.cpp (libnatpmp).
#include "zeppelin/portmap/portmap.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace zeppelin::portmap {
namespace {

constexpr std::string_view kTagPrefix = "zeppelin/";
constexpr std::size_t kMaxNodeId = 32;

bool valid_tag_part(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
    });
}

bool same_mapping(const Mapping& a, const Mapping& b) noexcept {
    return a.protocol == b.protocol && a.external_port == b.external_port;
}

}  // namespace

std::string_view to_string(Protocol p) noexcept { return p == Protocol::tcp ? "TCP" : "UDP"; }

std::string_view to_string(Method m) noexcept {
    switch (m) {
        case Method::upnp_igd: return "UPnP IGD";
        case Method::natpmp: return "NAT-PMP";
        case Method::pcp: return "PCP";
    }
    return "UPnP IGD";
}

std::optional<Protocol> parse_protocol(std::string_view text) noexcept {
    if (text == "tcp" || text == "TCP") return Protocol::tcp;
    if (text == "udp" || text == "UDP") return Protocol::udp;
    return std::nullopt;
}

Result<std::string> make_description(std::string_view node_id, std::string_view purpose) {
    if (!valid_tag_part(node_id))
        return make_error(Errc::invalid_argument,
                          "node id for port mappings must be non-empty [A-Za-z0-9._-], got '" + std::string{node_id} + "'");
    if (!valid_tag_part(purpose))
        return make_error(Errc::invalid_argument, "mapping purpose must be non-empty [A-Za-z0-9._-], got '" +
                                                      std::string{purpose} + "'");
    std::string d{kTagPrefix};
    d += node_id;
    d += '/';
    d += purpose;
    if (d.size() > kMaxDescription)
        return make_error(Errc::invalid_argument, "mapping description '" + d + "' is longer than " +
                                                      std::to_string(kMaxDescription) +
                                                      " characters (routers truncate it): shorten the node id or purpose");
    return d;
}

std::optional<Tag> parse_description(std::string_view description) noexcept {
    if (!description.starts_with(kTagPrefix)) return std::nullopt;
    description.remove_prefix(kTagPrefix.size());
    const auto slash = description.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto node = description.substr(0, slash);
    const auto purpose = description.substr(slash + 1);
    if (!valid_tag_part(node) || !valid_tag_part(purpose)) return std::nullopt;
    return Tag{std::string{node}, std::string{purpose}};
}

std::optional<bool> is_private_ipv4(std::string_view address) noexcept {
    std::array<char, INET_ADDRSTRLEN> buf{};
    if (address.empty() || address.size() >= buf.size()) return std::nullopt;
    std::copy(address.begin(), address.end(), buf.begin());
    in_addr a{};
    if (::inet_pton(AF_INET, buf.data(), &a) != 1) return std::nullopt;
    const std::uint32_t v = ntohl(a.s_addr);
    struct Net {
        std::uint32_t base;
        unsigned bits;
    };
    static constexpr std::array<Net, 7> kPrivate{{
        {0x00000000U, 8},   // 0.0.0.0/8 "this network"
        {0x0A000000U, 8},   // 10.0.0.0/8 (RFC 1918)
        {0x64400000U, 10},  // 100.64.0.0/10 carrier-grade NAT (RFC 6598)
        {0x7F000000U, 8},   // 127.0.0.0/8 loopback
        {0xA9FE0000U, 16},  // 169.254.0.0/16 link-local
        {0xAC100000U, 12},  // 172.16.0.0/12 (RFC 1918)
        {0xC0A80000U, 16},  // 192.168.0.0/16 (RFC 1918)
    }};
    return std::any_of(kPrivate.begin(), kPrivate.end(), [v](const Net& n) {
        const std::uint32_t mask = ~std::uint32_t{0} << (32U - n.bits);
        return (v & mask) == n.base;
    });
}

std::vector<std::string> public_local_addresses() {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        sockaddr_in a{};
        std::memcpy(&a, i->ifa_addr, sizeof a);
        std::array<char, INET_ADDRSTRLEN> text{};
        if (::inet_ntop(AF_INET, &a.sin_addr, text.data(), static_cast<socklen_t>(text.size())) == nullptr) continue;
        if (is_private_ipv4(text.data()) == false) out.emplace_back(text.data());
    }
    ::freeifaddrs(list);
    return out;
}

std::optional<std::chrono::seconds> renew_after(std::chrono::seconds lease) noexcept {
    if (lease.count() <= 0) return std::nullopt;
    return std::max(std::chrono::seconds{1}, lease / 2);
}

std::vector<Mapping> select_stale(std::span<const Mapping> all, std::string_view node_id,
                                  std::span<const Mapping> keep) {
    std::vector<Mapping> out;
    for (const auto& m : all) {
        const auto tag = parse_description(m.description);
        if (!tag || tag->node_id != node_id) continue;
        if (std::any_of(keep.begin(), keep.end(), [&](const Mapping& k) { return same_mapping(k, m); })) continue;
        out.push_back(m);
    }
    return out;
}

// ---- Leases -----------------------------------------------------------------------------------

void Leases::track(const Mapping& m, Clock::time_point at) {
    forget(m);
    const auto after = renew_after(m.lease);
    entries_.push_back(Entry{m, after ? std::optional{at + *after} : std::nullopt});
}

void Leases::forget(const Mapping& m) {
    std::erase_if(entries_, [&](const Entry& e) { return same_mapping(e.mapping, m); });
}

std::vector<Mapping> Leases::due(Clock::time_point now) const {
    std::vector<Mapping> out;
    for (const auto& e : entries_)
        if (e.renew_at && *e.renew_at <= now) out.push_back(e.mapping);
    return out;
}

std::optional<Leases::Clock::time_point> Leases::next_due() const {
    std::optional<Clock::time_point> next;
    for (const auto& e : entries_)
        if (e.renew_at && (!next || *e.renew_at < *next)) next = e.renew_at;
    return next;
}

std::vector<Mapping> Leases::all() const {
    std::vector<Mapping> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.mapping);
    return out;
}

// ---- PortMapper -------------------------------------------------------------------------------

PortMapper::PortMapper(std::string node_id, std::unique_ptr<Backend> backend)
    : node_id_{std::move(node_id)}, backend_{std::move(backend)} {}

Result<PortMapper> PortMapper::discover(std::string node_id, const DiscoverOptions& options) {
    std::vector<Probe> probes;
    if (options.upnp) probes.emplace_back([&options] { return probe_upnp(options); });
    if (options.natpmp) probes.emplace_back([&options] { return probe_natpmp(options); });
    if (options.pcp) probes.emplace_back([&options] { return probe_pcp(options); });
    if (probes.empty())
        return make_error(Errc::no_gateway, "no port mapping possible: UPnP IGD, NAT-PMP and PCP are all switched off");
    return discover_with(std::move(node_id), probes, options.allow_private_external);
}

Result<PortMapper> PortMapper::discover_with(std::string node_id, std::span<const Probe> probes,
                                             bool allow_private_external) {
    if (!valid_tag_part(node_id) || node_id.size() > kMaxNodeId)
        return make_error(Errc::invalid_argument, "node id for port mappings must be 1.." + std::to_string(kMaxNodeId) +
                                                      " characters of [A-Za-z0-9._-], got '" + node_id + "'");
    // Each protocol's answer, for the message when none is usable.
    std::string reasons;
    bool any_gateway = false;
    bool gateway_error = false;
    for (const auto& probe : probes) {
        auto backend = probe();
        if (!backend) {
            if (!reasons.empty()) reasons += "; ";
            reasons += backend.error().message();
            if (backend.error().code() != Errc::no_gateway) gateway_error = true;
            continue;
        }
        const Gateway& gw = (*backend)->gateway();
        const auto priv = is_private_ipv4(gw.external_address);
        if (!priv) {
            any_gateway = true;
            if (!reasons.empty()) reasons += "; ";
            reasons += std::string{to_string(gw.method)} + " gateway " + gw.address + " reports no usable external address ('" +
                       gw.external_address + "')";
            continue;
        }
        if (*priv && !allow_private_external) {
            any_gateway = true;
            if (!reasons.empty()) reasons += "; ";
            reasons += std::string{to_string(gw.method)} + " gateway " + gw.address + " has the private external address " +
                       gw.external_address + ": it is itself behind another NAT, so a mapping there would not make this host reachable";
            continue;
        }
        return PortMapper{std::move(node_id), std::move(backend).value()};
    }
    const Errc code = any_gateway ? Errc::double_nat : gateway_error ? Errc::protocol : Errc::no_gateway;
    if (reasons.empty()) reasons = "no protocol was tried";
    return make_error(code, "no port mapping possible: " + reasons);
}

Result<Mapping> PortMapper::map(const MappingRequest& request) {
    if (request.internal_port == 0) return make_error(Errc::invalid_argument, "mapping: internal port 0");
    if (request.lease.count() < 0) return make_error(Errc::invalid_argument, "mapping: negative lease");
    const auto description = ZP_TRY(make_description(node_id_, request.purpose));
    auto m = backend_->add(request, description);
    if (!m) return std::move(m).error();
    return m;
}

Result<Mapping> PortMapper::renew(const Mapping& mapping) {
    const auto tag = parse_description(mapping.description);
    if (!tag || tag->node_id != node_id_)
        return make_error(Errc::invalid_argument,
                          "renew: mapping '" + mapping.description + "' was not made by node " + node_id_);
    MappingRequest r;
    r.protocol = mapping.protocol;
    r.internal_port = mapping.internal_port;
    r.external_port = mapping.external_port;
    r.lease = mapping.lease;
    r.purpose = tag->purpose;
    return backend_->add(r, mapping.description);
}

Result<void> PortMapper::unmap(const Mapping& mapping) { return backend_->remove(mapping); }

Result<std::vector<Mapping>> PortMapper::list_own() {
    const auto all = ZP_TRY(backend_->list());
    std::vector<Mapping> own;
    for (const auto& m : all) {
        const auto tag = parse_description(m.description);
        if (tag && tag->node_id == node_id_) own.push_back(m);
    }
    return own;
}

Result<std::vector<Mapping>> PortMapper::remove_stale(std::span<const Mapping> keep) {
    const auto all = ZP_TRY(backend_->list());
    auto stale = select_stale(all, node_id_, keep);
    for (const auto& m : stale) {
        auto r = backend_->remove(m);
        if (!r) return r.error().wrap("removing a stale mapping (" + m.description + ")");
    }
    return stale;
}

}  // namespace zeppelin::portmap
