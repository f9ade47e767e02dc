// The UPnP IGD backend over libminiupnpc (Debian 12: 2.2.4, API 17): SSDP discovery, then SOAP
// calls on the WANIPConnection (or WANPPPConnection) service of the gateway.
//
// UPNP_GetValidIGD's verdict is not taken as is: 2.2.4 calls the lab router (miniupnpd with a
// STUN-checked WAN address) "not connected" although GetStatusInfo answers "Connected". Any IGD it
// finds (answers 1 and 2) is asked for its status and external address here, and
// PortMapper::discover_with judges that address (private -> double NAT).
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include <array>
#include <charconv>
#include <memory>
#include <string>

#include "zeppelin/portmap/detail.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::portmap {
namespace detail {

std::string url_host(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    url = url.substr(0, url.find('/'));
    if (url.starts_with('[')) {
        const auto close = url.find(']');
        return std::string{url.substr(1, close == std::string_view::npos ? url.size() - 1 : close - 1)};
    }
    return std::string{url.substr(0, url.find(':'))};
}

std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
    unsigned v = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty() || v == 0 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

std::optional<std::uint32_t> parse_lease(std::string_view text) noexcept {
    std::uint32_t v = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty()) return std::nullopt;
    return v;
}

Errc upnp_errc(int code) noexcept {
    switch (code) {
        case UPNPCOMMAND_SUCCESS: return Errc::internal;  // not an error; callers never pass it
        case UPNPCOMMAND_HTTP_ERROR: return Errc::io;
        case UPNPCOMMAND_INVALID_RESPONSE: return Errc::protocol;
        case UPNPCOMMAND_INVALID_ARGS: return Errc::invalid_argument;
        case UPNPCOMMAND_MEM_ALLOC_ERROR: return Errc::internal;
        case UPNPCOMMAND_UNKNOWN_ERROR: return Errc::io;
        case 402: return Errc::invalid_argument;  // Invalid Args
        case 714: return Errc::not_found;          // NoSuchEntryInArray
        case 713: return Errc::not_found;          // SpecifiedArrayIndexInvalid
        case 501:                                  // Action Failed (miniupnpd: its permission rules)
        case 606:                                  // Action not authorized
        case 715:                                  // WildCardNotPermittedInSrcIP
        case 716:                                  // WildCardNotPermittedInExtPort
        case 718:                                  // ConflictInMappingEntry: another host has it
        case 724:                                  // SamePortValuesRequired
        case 725:                                  // OnlyPermanentLeasesSupported
        case 726:                                  // RemoteHostOnlySupportsWildcard
        case 727:                                  // ExternalPortOnlySupportsWildcard
        case 728:                                  // NoPortMapsAvailable
        case 729: return Errc::mapping_refused;    // ConflictWithOtherMechanisms
        default: return code > 0 ? Errc::mapping_refused : Errc::io;
    }
}

Error upnp_error(int code, std::string_view what) {
    const char* text = strupnperror(code);
    std::string m{"UPnP IGD: "};
    m += what;
    m += ": ";
    m += text != nullptr ? text : "unknown error";
    m += " (" + std::to_string(code) + ")";
    return Error{upnp_errc(code), std::move(m)};
}

}  // namespace detail

namespace {

struct DevlistFree {
    void operator()(UPNPDev* d) const noexcept { freeUPNPDevlist(d); }
};
using Devlist = std::unique_ptr<UPNPDev, DevlistFree>;

/// Owns the URLs UPNP_GetValidIGD fills in.
class Urls final {
public:
    Urls() = default;
    Urls(const Urls&) = delete;
    Urls& operator=(const Urls&) = delete;
    ~Urls() {
        if (filled_) FreeUPNPUrls(&urls_);
    }
    UPNPUrls* get() noexcept { return &urls_; }
    void set_filled() noexcept { filled_ = true; }
    [[nodiscard]] const char* control() const noexcept { return urls_.controlURL; }

private:
    UPNPUrls urls_{};
    bool filled_{false};
};

std::string proto_text(Protocol p) { return std::string{to_string(p)}; }

class UpnpBackend final : public Backend {
public:
    UpnpBackend(std::unique_ptr<Urls> urls, const IGDdatas& data, std::string lan_address)
        : urls_{std::move(urls)}, service_{data.first.servicetype} {
        gateway_.method = Method::upnp_igd;
        gateway_.address = detail::url_host(urls_->control() != nullptr ? urls_->control() : "");
        gateway_.local_address = std::move(lan_address);
        gateway_.detail = std::string{urls_->control() != nullptr ? urls_->control() : ""} + " (" + service_ + ")";
    }

    Result<void> check_connected() {
        std::array<char, 64> status{};
        std::array<char, 64> last_error{};
        unsigned uptime = 0;
        const int r = UPNP_GetStatusInfo(urls_->control(), service_.c_str(), status.data(), &uptime, last_error.data());
        if (r != UPNPCOMMAND_SUCCESS) return detail::upnp_error(r, "asking " + gateway_.address + " for its status");
        if (std::string_view{status.data()} != "Connected")
            return make_error(Errc::no_gateway, "UPnP IGD: gateway " + gateway_.address +
                                                    " reports its internet connection as '" + status.data() +
                                                    "' (last error: " + last_error.data() + ")");
        auto ext = external_address();
        if (!ext) return std::move(ext).error();
        gateway_.external_address = *ext;
        return {};
    }

    [[nodiscard]] const Gateway& gateway() const override { return gateway_; }

    Result<std::string> external_address() override {
        std::array<char, 40> ip{};
        const int r = UPNP_GetExternalIPAddress(urls_->control(), service_.c_str(), ip.data());
        if (r != UPNPCOMMAND_SUCCESS) return detail::upnp_error(r, "asking " + gateway_.address + " for its external address");
        if (ip[0] == '\0')
            return make_error(Errc::no_gateway, "UPnP IGD: gateway " + gateway_.address + " has no external address");
        gateway_.external_address = ip.data();
        return gateway_.external_address;
    }

    Result<Mapping> add(const MappingRequest& request, const std::string& description) override {
        const std::string in_port = std::to_string(request.internal_port);
        const std::uint16_t want = request.external_port != 0 ? request.external_port : request.internal_port;
        std::string ext_port = std::to_string(want);
        const std::string proto = proto_text(request.protocol);
        std::string lease = std::to_string(request.lease.count());
        const auto what = [&] {
            return "mapping " + proto + " " + gateway_.external_address + ":" + ext_port + " -> " + gateway_.local_address +
                   ":" + in_port;
        };
        int r = UPNP_AddPortMapping(urls_->control(), service_.c_str(), ext_port.c_str(), in_port.c_str(),
                                    gateway_.local_address.c_str(), description.c_str(), proto.c_str(), nullptr,
                                    lease.c_str());
        if (r == 725 && lease != "0") {  // OnlyPermanentLeasesSupported (IGDv1 routers): the caller unmaps
            lease = "0";
            r = UPNP_AddPortMapping(urls_->control(), service_.c_str(), ext_port.c_str(), in_port.c_str(),
                                    gateway_.local_address.c_str(), description.c_str(), proto.c_str(), nullptr,
                                    lease.c_str());
        }
        if (r == 718 && request.external_port == 0) {
            // The internal port's number is taken on the gateway by another host: any port will do.
            std::array<char, 6> reserved{};
            r = UPNP_AddAnyPortMapping(urls_->control(), service_.c_str(), ext_port.c_str(), in_port.c_str(),
                                       gateway_.local_address.c_str(), description.c_str(), proto.c_str(), nullptr,
                                       lease.c_str(), reserved.data());
            if (r == UPNPCOMMAND_SUCCESS) ext_port = reserved.data();
        }
        if (r != UPNPCOMMAND_SUCCESS) return detail::upnp_error(r, what());
        const auto granted = detail::parse_port(ext_port);
        if (!granted) return make_error(Errc::protocol, "UPnP IGD: gateway granted the invalid port '" + ext_port + "'");

        Mapping m;
        m.method = Method::upnp_igd;
        m.protocol = request.protocol;
        m.internal_address = gateway_.local_address;
        m.internal_port = request.internal_port;
        m.external_address = gateway_.external_address;
        m.external_port = *granted;
        m.lease = std::chrono::seconds{detail::parse_lease(lease).value_or(0)};
        m.description = description;
        // The router may shorten the lease (miniupnpd: max_lifetime); what it keeps is what counts.
        if (auto entry = specific(m.protocol, m.external_port); entry && entry->lease.count() > 0 && entry->lease < m.lease)
            m.lease = entry->lease;
        return m;
    }

    Result<void> remove(const Mapping& mapping) override {
        const std::string ext_port = std::to_string(mapping.external_port);
        const std::string proto = proto_text(mapping.protocol);
        const int r = UPNP_DeletePortMapping(urls_->control(), service_.c_str(), ext_port.c_str(), proto.c_str(), nullptr);
        if (r == UPNPCOMMAND_SUCCESS || r == 714) return {};  // 714: already gone (expired, router rebooted)
        return detail::upnp_error(r, "removing " + proto + " " + ext_port);
    }

    Result<std::vector<Mapping>> list() override {
        std::vector<Mapping> out;
        constexpr int kMaxEntries = 4096;  // a router's table; bounds the loop
        for (int i = 0; i < kMaxEntries; ++i) {
            std::array<char, 6> ext{};
            std::array<char, 16> client{};
            std::array<char, 6> in{};
            std::array<char, 4> proto{};
            std::array<char, 80> desc{};
            std::array<char, 4> enabled{};
            std::array<char, 64> remote{};
            std::array<char, 16> duration{};
            const std::string index = std::to_string(i);
            const int r = UPNP_GetGenericPortMappingEntry(urls_->control(), service_.c_str(), index.c_str(), ext.data(),
                                                          client.data(), in.data(), proto.data(), desc.data(),
                                                          enabled.data(), remote.data(), duration.data());
            if (r == 713 || r == 714) break;  // past the end (some routers answer 714)
            if (r != UPNPCOMMAND_SUCCESS) return detail::upnp_error(r, "listing mappings (entry " + index + ")");
            Mapping m;
            m.method = Method::upnp_igd;
            const auto p = parse_protocol(proto.data());
            const auto e = detail::parse_port(ext.data());
            const auto n = detail::parse_port(in.data());
            if (!p || !e || !n) continue;  // an entry this library cannot act on
            m.protocol = *p;
            m.external_port = *e;
            m.internal_port = *n;
            m.internal_address = client.data();
            m.external_address = gateway_.external_address;
            m.lease = std::chrono::seconds{detail::parse_lease(duration.data()).value_or(0)};
            m.description = desc.data();
            out.push_back(std::move(m));
        }
        return out;
    }

private:
    std::optional<Mapping> specific(Protocol p, std::uint16_t external_port) {
        std::array<char, 16> client{};
        std::array<char, 6> in{};
        std::array<char, 80> desc{};
        std::array<char, 4> enabled{};
        std::array<char, 16> duration{};
        const std::string ext = std::to_string(external_port);
        const std::string proto = proto_text(p);
        const int r = UPNP_GetSpecificPortMappingEntry(urls_->control(), service_.c_str(), ext.c_str(), proto.c_str(),
                                                       nullptr, client.data(), in.data(), desc.data(), enabled.data(),
                                                       duration.data());
        if (r != UPNPCOMMAND_SUCCESS) return std::nullopt;
        Mapping m;
        m.protocol = p;
        m.external_port = external_port;
        m.internal_address = client.data();
        m.internal_port = detail::parse_port(in.data()).value_or(0);
        m.lease = std::chrono::seconds{detail::parse_lease(duration.data()).value_or(0)};
        m.description = desc.data();
        return m;
    }

    std::unique_ptr<Urls> urls_;
    std::string service_;
    Gateway gateway_;
};

}  // namespace

Result<std::unique_ptr<Backend>> probe_upnp(const DiscoverOptions& options) {
    const auto ms = options.timeout.count();
    const int delay = static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(ms, 100, 60000));
    int error = 0;
    Devlist devices{upnpDiscover(delay, options.interface.empty() ? nullptr : options.interface.c_str(), nullptr,
                                 UPNP_LOCAL_PORT_ANY, 0, 2, &error)};
    if (!devices) {
        std::string why = "no device answered SSDP within " + std::to_string(delay) + " ms";
        if (error == UPNPDISCOVER_SOCKET_ERROR)
            why = "cannot send the SSDP search (socket error: no route for multicast, no network?)";
        else if (error != UPNPDISCOVER_SUCCESS)
            why = "SSDP discovery failed (" + std::to_string(error) + ")";
        return make_error(Errc::no_gateway, "UPnP IGD: " + why);
    }
    auto urls = std::make_unique<Urls>();
    IGDdatas data{};
    std::array<char, 64> lan{};
    const int r = UPNP_GetValidIGD(devices.get(), urls->get(), &data, lan.data(), static_cast<int>(lan.size()));
    if (r != 0) urls->set_filled();
    if (r == 0 || r == 3)
        return make_error(Errc::no_gateway, r == 0 ? "UPnP IGD: devices answered SSDP but none is an Internet Gateway Device"
                                                   : "UPnP IGD: a UPnP device answered but it is not an Internet Gateway Device");
    if (urls->control() == nullptr || data.first.servicetype[0] == '\0')
        return make_error(Errc::protocol, "UPnP IGD: the gateway's description names no WAN connection service");
    auto backend = std::make_unique<UpnpBackend>(std::move(urls), data, std::string{lan.data()});
    ZP_CHECK(backend->check_connected());
    return std::unique_ptr<Backend>{std::move(backend)};
}

}  // namespace zeppelin::portmap
