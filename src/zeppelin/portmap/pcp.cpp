// PCP (RFC 6887) MAP client: the packet layout and a backend over one UDP socket connected to
// the gateway's port 5351. Layout (§7.1, §7.2, §11.1), all integers in network byte order:
//
//   request header (24)   version(1)=2 | R=0,opcode(1) | reserved(2) | requested lifetime(4) |
//                         client IP address(16, IPv4-mapped IPv6 ::ffff:a.b.c.d)
//   response header (24)  version(1)=2 | R=1,opcode(1) | reserved(1) | result code(1) |
//                         lifetime(4) | epoch time(4) | reserved(12)
//   MAP data (36)         nonce(12) | protocol(1) | reserved(3) | internal port(2) |
//                         suggested (request) / assigned (response) external port(2) and
//                         external IP address(16)
#include "zeppelin/portmap/pcp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace zeppelin::portmap {
namespace pcp {

namespace {

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
           b[at + 3];
}

/// An IPv4 address as the 16 bytes of ::ffff:a.b.c.d (§5: how PCP carries IPv4); "" is 0.0.0.0.
bool put_ipv4_mapped(std::vector<std::uint8_t>& b, std::size_t at, const std::string& ip) {
    in_addr a{};
    if (!ip.empty() && ::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
    b[at + 10] = 0xff;
    b[at + 11] = 0xff;
    std::memcpy(&b[at + 12], &a.s_addr, 4);  // s_addr is in network order already
    return true;
}

std::string get_ipv4_mapped(std::span<const std::uint8_t> b, std::size_t at) {
    for (std::size_t i = 0; i < 10; ++i)
        if (b[at + i] != 0) return "";
    if (b[at + 10] != 0xff || b[at + 11] != 0xff) return "";
    in_addr a{};
    std::memcpy(&a.s_addr, &b[at + 12], 4);
    std::array<char, INET_ADDRSTRLEN> buf{};
    ::inet_ntop(AF_INET, &a, buf.data(), static_cast<socklen_t>(buf.size()));
    return buf.data();
}

}  // namespace

std::string result_text(std::uint8_t code) {
    switch (static_cast<ResultCode>(code)) {
        case ResultCode::success:
            return "SUCCESS";
        case ResultCode::unsupp_version:
            return "UNSUPP_VERSION: the gateway does not speak PCP version 2";
        case ResultCode::not_authorized:
            return "NOT_AUTHORIZED: the gateway refused (mapping disabled, or the port is not allowed)";
        case ResultCode::malformed_request:
            return "MALFORMED_REQUEST: the gateway could not read the request";
        case ResultCode::unsupp_opcode:
            return "UNSUPP_OPCODE: the gateway does not support MAP";
        case ResultCode::unsupp_option:
            return "UNSUPP_OPTION: the gateway does not support a mandatory option";
        case ResultCode::malformed_option:
            return "MALFORMED_OPTION: the gateway could not read an option";
        case ResultCode::network_failure:
            return "NETWORK_FAILURE: the gateway has no usable external address now";
        case ResultCode::no_resources:
            return "NO_RESOURCES: the gateway's mapping table is full";
        case ResultCode::unsupp_protocol:
            return "UNSUPP_PROTOCOL: the gateway does not map this protocol";
        case ResultCode::user_ex_quota:
            return "USER_EX_QUOTA: this host has used up its share of mappings";
        case ResultCode::cannot_provide_external:
            return "CANNOT_PROVIDE_EXTERNAL: the suggested external port or address is taken";
        case ResultCode::address_mismatch:
            return "ADDRESS_MISMATCH: the gateway sees another source address than the one in the request (another NAT "
                   "between)";
        case ResultCode::excessive_remote_peers:
            return "EXCESSIVE_REMOTE_PEERS: too many remote peers";
    }
    return "result code " + std::to_string(code) + " (not defined by RFC 6887)";
}

Errc result_errc(std::uint8_t code) noexcept {
    switch (static_cast<ResultCode>(code)) {
        case ResultCode::success:
            return Errc::protocol;  // not an error: callers check first
        case ResultCode::unsupp_version:
        case ResultCode::unsupp_opcode:
            return Errc::no_gateway;  // no PCP MAP here: the next protocol
        case ResultCode::not_authorized:
        case ResultCode::network_failure:
        case ResultCode::no_resources:
        case ResultCode::unsupp_protocol:
        case ResultCode::user_ex_quota:
        case ResultCode::cannot_provide_external:
        case ResultCode::excessive_remote_peers:
            return Errc::mapping_refused;
        case ResultCode::address_mismatch:
            return Errc::double_nat;
        case ResultCode::malformed_request:
        case ResultCode::unsupp_option:
        case ResultCode::malformed_option:
            return Errc::protocol;
    }
    return Errc::protocol;
}

Result<std::vector<std::uint8_t>> encode_map(const MapRequest& r) {
    std::vector<std::uint8_t> b(kMapPacketSize, 0);
    b[0] = kVersion;
    b[1] = kOpcodeMap;  // R = 0: a request
    put32(b, 4, r.lifetime);
    if (r.client_address.empty() || !put_ipv4_mapped(b, 8, r.client_address))
        return make_error(Errc::invalid_argument,
                          "PCP: client address '" + r.client_address + "' is not an IPv4 address");
    std::copy(r.nonce.begin(), r.nonce.end(), b.begin() + kHeaderSize);
    b[kHeaderSize + 12] = r.protocol == Protocol::tcp ? kProtocolTcp : kProtocolUdp;
    put16(b, kHeaderSize + 16, r.internal_port);
    put16(b, kHeaderSize + 18, r.suggested_external_port);
    if (!put_ipv4_mapped(b, kHeaderSize + 20, r.suggested_external_address))
        return make_error(Errc::invalid_argument, "PCP: suggested external address '" + r.suggested_external_address +
                                                      "' is not an IPv4 address");
    return b;
}

Result<MapResponse> decode_map(std::span<const std::uint8_t> p) {
    if (p.size() >= 2 && p[0] == 0)
        return make_error(Errc::no_gateway, "PCP: the gateway answered in NAT-PMP (version 0): it does not speak PCP");
    if (p.size() < kHeaderSize || p.size() > kMaxPacket || p.size() % 4 != 0)
        return make_error(Errc::protocol, "PCP: an answer of " + std::to_string(p.size()) +
                                              " bytes (a response is 24 to 1100, a multiple of 4)");
    if (p[0] != kVersion)
        return make_error(Errc::protocol, "PCP: an answer of version " + std::to_string(p[0]) + ", not 2");
    if ((p[1] & kResponseBit) == 0 || (p[1] & 0x7f) != kOpcodeMap)
        return make_error(Errc::protocol, "PCP: not a MAP response (opcode byte " + std::to_string(p[1]) + ")");
    MapResponse r;
    r.result = p[3];
    r.lifetime = get32(p, 4);
    r.epoch = get32(p, 8);
    if (p.size() < kMapPacketSize) {
        if (r.result == 0) return make_error(Errc::protocol, "PCP: a successful MAP response without its MAP data");
        return r;  // an error answer may carry the header alone
    }
    std::copy(p.begin() + kHeaderSize, p.begin() + kHeaderSize + kNonceSize, r.nonce.begin());
    r.protocol = p[kHeaderSize + 12];
    r.internal_port = get16(p, kHeaderSize + 16);
    r.external_port = get16(p, kHeaderSize + 18);
    r.external_address = get_ipv4_mapped(p, kHeaderSize + 20);
    return r;
}

Nonce nonce_for(std::string_view description) noexcept {
    // Three rounds of 64-bit FNV-1a with different offsets, 4 bytes of each: a stable 96-bit value
    // of the tag (it identifies the mapping's owner to the gateway; it is no secret).
    Nonce n{};
    for (std::size_t round = 0; round < 3; ++round) {
        std::uint64_t h = 0xcbf29ce484222325ULL ^ (0x9e3779b97f4a7c15ULL * (round + 1));
        for (const char c : description) {
            h ^= static_cast<std::uint8_t>(c);
            h *= 0x100000001b3ULL;
        }
        for (std::size_t i = 0; i < 4; ++i) n[round * 4 + i] = static_cast<std::uint8_t>(h >> (8 * (7 - i)));
    }
    return n;
}

std::optional<std::string> default_gateway(std::string_view text) {
    std::istringstream in{std::string{text}};
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
        std::istringstream f{line};
        std::string iface, dest, gw, flags;
        if (!(f >> iface >> dest >> gw >> flags)) continue;
        if (dest != "00000000" || gw.size() != 8) continue;
        unsigned long v = 0;
        try {
            v = std::stoul(gw, nullptr, 16);
        } catch (...) {
            continue;
        }
        if (v == 0) continue;
        // The column is the address's bytes in memory order of a little-endian host: a.b.c.d is
        // printed as DDCCBBAA.
        in_addr a{};
        a.s_addr = htonl(((v & 0xff) << 24) | ((v >> 8 & 0xff) << 16) | ((v >> 16 & 0xff) << 8) | (v >> 24 & 0xff));
        std::array<char, INET_ADDRSTRLEN> buf{};
        ::inet_ntop(AF_INET, &a, buf.data(), static_cast<socklen_t>(buf.size()));
        return std::string{buf.data()};
    }
    return std::nullopt;
}

}  // namespace pcp

namespace {

class Socket final {
  public:
    explicit Socket(int fd) : fd_{fd} {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int fd() const noexcept { return fd_; }

  private:
    int fd_;
};

class PcpBackend final : public Backend {
  public:
    PcpBackend(std::unique_ptr<Socket> socket, std::string gateway, std::string local, std::uint16_t local_port,
               std::chrono::milliseconds timeout)
        : socket_{std::move(socket)}, local_port_{local_port}, timeout_{timeout} {
        gateway_.method = Method::pcp;
        gateway_.address = std::move(gateway);
        gateway_.local_address = std::move(local);
    }

    [[nodiscard]] const Gateway& gateway() const override { return gateway_; }

    // PCP has no request for the external address alone: a MAP of this client's own UDP port
    // (nothing else listens there) for the shortest lease, deleted again at once, answers it.
    Result<std::string> external_address() override {
        const auto tag = "zeppelin-pcp-address-probe/" + gateway_.local_address + ":" + std::to_string(local_port_);
        pcp::MapRequest q;
        q.lifetime = kProbeLifetime;
        q.client_address = gateway_.local_address;
        q.nonce = pcp::nonce_for(tag);
        q.protocol = Protocol::udp;
        q.internal_port = local_port_;
        const auto r = ZP_TRY(exchange(q, "asking " + gateway_.address + " for its external address"));
        q.lifetime = 0;
        q.suggested_external_port = r.external_port;
        (void)exchange(q, "deleting the address probe's mapping");  // its short lease ends it anyway
        if (r.external_address.empty())
            return make_error(Errc::protocol,
                              "PCP: gateway " + gateway_.address + " assigned no IPv4 external address");
        gateway_.external_address = r.external_address;
        return gateway_.external_address;
    }

    Result<Mapping> add(const MappingRequest& request, const std::string& description) override {
        pcp::MapRequest q;
        q.lifetime =
            static_cast<std::uint32_t>(std::clamp<std::chrono::seconds::rep>(request.lease.count(), 1, 0xFFFFFFFF));
        q.client_address = gateway_.local_address;
        q.nonce = pcp::nonce_for(description);
        q.protocol = request.protocol;
        q.internal_port = request.internal_port;
        q.suggested_external_port = request.external_port != 0 ? request.external_port : request.internal_port;
        q.suggested_external_address = gateway_.external_address;
        const auto what = "mapping " + std::string{to_string(request.protocol)} + " " +
                          std::to_string(q.suggested_external_port) + " -> " + gateway_.local_address + ":" +
                          std::to_string(request.internal_port);
        const auto r = ZP_TRY(exchange(q, what));
        if (r.external_port == 0 || r.lifetime == 0)
            return make_error(Errc::mapping_refused, "PCP: " + what + ": the gateway granted no port");
        if (!r.external_address.empty()) gateway_.external_address = r.external_address;
        Mapping m;
        m.method = Method::pcp;
        m.protocol = request.protocol;
        m.internal_address = gateway_.local_address;
        m.internal_port = request.internal_port;
        m.external_address = gateway_.external_address;
        m.external_port = r.external_port;
        m.lease = std::chrono::seconds{r.lifetime};
        m.description = description;  // kept on this side only (its nonce is derived from it)
        return m;
    }

    Result<void> remove(const Mapping& mapping) override {
        pcp::MapRequest q;
        q.lifetime = 0;  // §15: a lifetime of 0 deletes the mapping
        q.client_address = gateway_.local_address;
        q.nonce = pcp::nonce_for(mapping.description);
        q.protocol = mapping.protocol;
        q.internal_port = mapping.internal_port;
        q.suggested_external_port = mapping.external_port;
        const auto r = exchange(
            q, "removing " + std::string{to_string(mapping.protocol)} + " " + std::to_string(mapping.external_port));
        if (!r) return r.error();
        return {};
    }

    Result<std::vector<Mapping>> list() override {
        return make_error(Errc::unsupported,
                          "PCP cannot list mappings: unmap the ones this node remembers (its saved Mapping values)");
    }

  private:
    static constexpr std::uint32_t kProbeLifetime = 10;  // seconds; gateways may raise it to their minimum

    /// Sends `q` and waits for the answer with its nonce, for at most timeout_: sent again
    /// halfway (RFC 6887 §8.1.1's first retransmission after 3 s is longer than the whole bound).
    Result<pcp::MapResponse> exchange(const pcp::MapRequest& q, const std::string& what) {
        const auto packet = ZP_TRY(pcp::encode_map(q));
        const auto start = std::chrono::steady_clock::now();
        const auto deadline = start + timeout_;
        auto resend = start;
        std::array<std::uint8_t, pcp::kMaxPacket + 4> buf{};
        for (;;) {
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline)
                return make_error(Errc::no_gateway, "PCP: " + what + ": gateway " + gateway_.address +
                                                        " did not answer on port 5351 within " +
                                                        std::to_string(timeout_.count()) + " ms");
            if (now >= resend) {
                if (::send(socket_->fd(), packet.data(), packet.size(), 0) < 0 && errno != ECONNREFUSED)
                    return make_error(
                        Errc::io, "PCP: " + what + ": sending to " + gateway_.address + ": " + std::strerror(errno));
                resend = now + timeout_ / 2;
            }
            const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, resend) - now);
            pollfd fd{socket_->fd(), POLLIN, 0};
            if (::poll(&fd, 1, static_cast<int>(std::max<std::int64_t>(wait.count(), 1))) <= 0) continue;
            const auto n = ::recv(socket_->fd(), buf.data(), buf.size(), 0);
            if (n < 0) {
                if (errno == ECONNREFUSED)  // an ICMP port unreachable: nothing listens on 5351
                    return make_error(Errc::no_gateway, "PCP: " + what + ": gateway " + gateway_.address +
                                                            " does not speak PCP (port 5351 closed)");
                continue;
            }
            auto r = pcp::decode_map(std::span<const std::uint8_t>{buf.data(), static_cast<std::size_t>(n)});
            if (!r) {
                if (r.error().code() == Errc::no_gateway) return r.error().wrap("PCP: " + what);
                continue;  // not an answer to us: keep waiting (§8.3)
            }
            if (r->result != 0) {
                // An error answer may carry no opcode data: only a successful one must echo the nonce.
                if (r->nonce != pcp::Nonce{} && r->nonce != q.nonce) continue;
                return make_error(pcp::result_errc(r->result), "PCP: " + what + ": gateway " + gateway_.address +
                                                                   " answered " + pcp::result_text(r->result));
            }
            if (r->nonce != q.nonce || r->internal_port != q.internal_port)
                continue;  // §11.3: another request's answer
            gateway_.detail = "epoch " + std::to_string(r->epoch);
            return *r;
        }
    }

    std::unique_ptr<Socket> socket_;
    std::uint16_t local_port_;
    std::chrono::milliseconds timeout_;
    Gateway gateway_;
};

}  // namespace

Result<std::unique_ptr<Backend>> probe_pcp(const DiscoverOptions& options) {
    std::string gw = options.natpmp_gateway;
    if (gw.empty()) {
        std::ifstream f{"/proc/net/route"};
        std::stringstream text;
        text << f.rdbuf();
        auto found = pcp::default_gateway(text.str());
        if (!found) return make_error(Errc::no_gateway, "PCP: this host has no IPv4 default gateway");
        gw = *found;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(pcp::kServerPort);
    if (::inet_pton(AF_INET, gw.c_str(), &to.sin_addr) != 1)
        return make_error(Errc::invalid_argument, "PCP gateway '" + gw + "' is not an IPv4 address");
    auto socket = std::make_unique<Socket>(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (socket->fd() < 0)
        return make_error(Errc::io, std::string{"PCP: opening a UDP socket: "} + std::strerror(errno));
    if (::connect(socket->fd(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0)
        return make_error(Errc::no_gateway, "PCP: no route to the gateway " + gw + ": " + std::strerror(errno));
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(socket->fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0)
        return make_error(Errc::io, std::string{"PCP: reading the socket's address: "} + std::strerror(errno));
    std::array<char, INET_ADDRSTRLEN> buf{};
    ::inet_ntop(AF_INET, &local.sin_addr, buf.data(), static_cast<socklen_t>(buf.size()));
    auto backend =
        std::make_unique<PcpBackend>(std::move(socket), gw, buf.data(), ntohs(local.sin_port), options.timeout);
    ZP_CHECK(backend->external_address());
    return std::unique_ptr<Backend>{std::move(backend)};
}

}  // namespace zeppelin::portmap
