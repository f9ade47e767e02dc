// The NAT-PMP backend (RFC 6886) over libnatpmp (Debian 12: 20150609). libnatpmp retries a
// request on its own schedule (250 ms doubling, 9 tries: about a minute); here every request is
// bounded by DiscoverOptions::timeout instead, waiting on the socket with poll().
//
// NAT-PMP cannot list mappings: a node keeps the Mapping values it got and unmaps them later
// (lifetime 0 for the internal port, which is how RFC 6886 §3.4 deletes a mapping).
#include <arpa/inet.h>
#define ENABLE_STRNATPMPERR 1  // declares strnatpmperr(), which Debian's libnatpmp exports
#include <natpmp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "zeppelin/portmap/detail.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::portmap {
namespace detail {

Errc natpmp_errc(int code) noexcept {
    switch (code) {
        case NATPMP_ERR_CANNOTGETGATEWAY:
        case NATPMP_ERR_NOGATEWAYSUPPORT: return Errc::no_gateway;
        case NATPMP_ERR_NOTAUTHORIZED:
        case NATPMP_ERR_NETWORKFAILURE:
        case NATPMP_ERR_OUTOFRESOURCES: return Errc::mapping_refused;
        case NATPMP_ERR_UNSUPPORTEDVERSION:
        case NATPMP_ERR_UNSUPPORTEDOPCODE:
        case NATPMP_ERR_UNDEFINEDERROR:
        case NATPMP_ERR_WRONGPACKETSOURCE: return Errc::protocol;
        case NATPMP_ERR_INVALIDARGS: return Errc::invalid_argument;
        default: return Errc::io;
    }
}

Error natpmp_error(int code, std::string_view what) {
    std::string m{"NAT-PMP: "};
    m += what;
    m += ": ";
    switch (code) {
        // Words for the answers a person meets; libnatpmp's own text for the rest.
        case NATPMP_ERR_CANNOTGETGATEWAY: m += "this host has no default gateway"; break;
        case NATPMP_ERR_NOGATEWAYSUPPORT: m += "the gateway does not speak NAT-PMP (port 5351 closed)"; break;
        case NATPMP_ERR_NOTAUTHORIZED: m += "the gateway refused: not authorized (mapping disabled or port not allowed)"; break;
        case NATPMP_ERR_NETWORKFAILURE: m += "the gateway has no usable internet connection (network failure)"; break;
        case NATPMP_ERR_OUTOFRESOURCES: m += "the gateway is out of resources (mapping table full)"; break;
        default: {
            const char* t = strnatpmperr(code);
            m += t != nullptr ? t : "unknown error";
        }
    }
    m += " (" + std::to_string(code) + ")";
    return Error{natpmp_errc(code), std::move(m)};
}

}  // namespace detail

namespace {

std::string ipv4_text(in_addr a) {
    std::array<char, INET_ADDRSTRLEN> buf{};
    ::inet_ntop(AF_INET, &a, buf.data(), static_cast<socklen_t>(buf.size()));
    return buf.data();
}

class Session final {
public:
    Session() = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() {
        if (open_) closenatpmp(&p_);
    }
    int open(bool force, in_addr_t gateway) {
        const int r = initnatpmp(&p_, force ? 1 : 0, gateway);
        open_ = r >= 0;
        return r;
    }
    natpmp_t* get() noexcept { return &p_; }

private:
    natpmp_t p_{};
    bool open_{false};
};

class NatpmpBackend final : public Backend {
public:
    NatpmpBackend(std::unique_ptr<Session> session, std::chrono::milliseconds timeout)
        : session_{std::move(session)}, timeout_{timeout} {
        natpmp_t* p = session_->get();
        gateway_.method = Method::natpmp;
        gateway_.address = ipv4_text(in_addr{p->gateway});
        sockaddr_in local{};
        socklen_t len = sizeof local;
        if (::getsockname(p->s, reinterpret_cast<sockaddr*>(&local), &len) == 0) gateway_.local_address = ipv4_text(local.sin_addr);
    }

    Result<void> init() {
        auto ext = external_address();
        if (!ext) return std::move(ext).error();
        gateway_.external_address = *ext;
        return {};
    }

    [[nodiscard]] const Gateway& gateway() const override { return gateway_; }

    Result<std::string> external_address() override {
        const int s = sendpublicaddressrequest(session_->get());
        if (s < 0) return detail::natpmp_error(s, "asking " + gateway_.address + " for its external address");
        natpmpresp_t resp{};
        ZP_CHECK(await(resp, "asking " + gateway_.address + " for its external address"));
        if (resp.type != NATPMP_RESPTYPE_PUBLICADDRESS)
            return make_error(Errc::protocol, "NAT-PMP: gateway " + gateway_.address + " answered the wrong request type");
        gateway_.detail = "epoch " + std::to_string(resp.epoch);
        gateway_.external_address = ipv4_text(resp.pnu.publicaddress.addr);
        return gateway_.external_address;
    }

    Result<Mapping> add(const MappingRequest& request, const std::string& description) override {
        const std::uint16_t suggested = request.external_port != 0 ? request.external_port : request.internal_port;
        const auto lifetime = static_cast<std::uint32_t>(std::clamp<std::chrono::seconds::rep>(request.lease.count(), 1, 0xFFFFFFFF));
        const std::string what = "mapping " + std::string{to_string(request.protocol)} + " " + std::to_string(suggested) +
                                 " -> " + gateway_.local_address + ":" + std::to_string(request.internal_port);
        const int s = sendnewportmappingrequest(session_->get(), wire(request.protocol), request.internal_port, suggested, lifetime);
        if (s < 0) return detail::natpmp_error(s, what);
        natpmpresp_t resp{};
        ZP_CHECK(await(resp, what));
        const auto want_type = request.protocol == Protocol::tcp ? NATPMP_RESPTYPE_TCPPORTMAPPING : NATPMP_RESPTYPE_UDPPORTMAPPING;
        if (resp.type != want_type || resp.pnu.newportmapping.privateport != request.internal_port)
            return make_error(Errc::protocol, "NAT-PMP: gateway " + gateway_.address + " answered another request");
        if (resp.pnu.newportmapping.mappedpublicport == 0 || resp.pnu.newportmapping.lifetime == 0)
            return make_error(Errc::mapping_refused, "NAT-PMP: " + what + ": the gateway granted no port");
        Mapping m;
        m.method = Method::natpmp;
        m.protocol = request.protocol;
        m.internal_address = gateway_.local_address;
        m.internal_port = request.internal_port;
        m.external_address = gateway_.external_address;
        m.external_port = resp.pnu.newportmapping.mappedpublicport;
        m.lease = std::chrono::seconds{resp.pnu.newportmapping.lifetime};
        m.description = description;  // kept on this side only: NAT-PMP carries none
        return m;
    }

    Result<void> remove(const Mapping& mapping) override {
        const std::string what = "removing " + std::string{to_string(mapping.protocol)} + " " + std::to_string(mapping.external_port);
        const int s = sendnewportmappingrequest(session_->get(), wire(mapping.protocol), mapping.internal_port, 0, 0);
        if (s < 0) return detail::natpmp_error(s, what);
        natpmpresp_t resp{};
        return await(resp, what);
    }

    Result<std::vector<Mapping>> list() override {
        return make_error(Errc::unsupported,
                          "NAT-PMP cannot list mappings: unmap the ones this node remembers (its saved Mapping values)");
    }

private:
    static int wire(Protocol p) noexcept { return p == Protocol::tcp ? NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP; }

    /// Waits for the answer to the request just sent, retrying as libnatpmp schedules, for at
    /// most timeout_.
    Result<void> await(natpmpresp_t& resp, const std::string& what) {
        natpmp_t* p = session_->get();
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        for (;;) {
            timeval tv{};
            getnatpmprequesttimeout(p, &tv);
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return make_error(Errc::no_gateway, "NAT-PMP: " + what + ": gateway " + gateway_.address + " did not answer within " +
                                                        std::to_string(timeout_.count()) + " ms");
            const auto retry_ms = static_cast<long long>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
            pollfd fd{p->s, POLLIN, 0};
            ::poll(&fd, 1, static_cast<int>(std::clamp<long long>(std::min<long long>(retry_ms, left.count()), 0, 60000)));
            const int r = readnatpmpresponseorretry(p, &resp);
            if (r == NATPMP_TRYAGAIN) continue;
            if (r < 0) return detail::natpmp_error(r, what);
            return {};
        }
    }

    std::unique_ptr<Session> session_;
    std::chrono::milliseconds timeout_;
    Gateway gateway_;
};

}  // namespace

Result<std::unique_ptr<Backend>> probe_natpmp(const DiscoverOptions& options) {
    auto session = std::make_unique<Session>();
    in_addr_t forced = 0;
    if (!options.natpmp_gateway.empty()) {
        in_addr a{};
        if (::inet_pton(AF_INET, options.natpmp_gateway.c_str(), &a) != 1)
            return make_error(Errc::invalid_argument, "NAT-PMP gateway '" + options.natpmp_gateway + "' is not an IPv4 address");
        forced = a.s_addr;
    }
    const int r = session->open(!options.natpmp_gateway.empty(), forced);
    if (r < 0) return detail::natpmp_error(r, "opening a session");
    auto backend = std::make_unique<NatpmpBackend>(std::move(session), options.timeout);
    ZP_CHECK(backend->init());
    return std::unique_ptr<Backend>{std::move(backend)};
}

}  // namespace zeppelin::portmap
