// PCP, the Port Control Protocol (RFC 6887), MAP opcode only: what Debian's libminiupnpc and
// libnatpmp do not speak. The packet layout as pure functions (encode a MAP request, decode a MAP
// response), the result codes in words, and the default gateway from /proc/net/route; the backend
// that sends them (UDP to the gateway's port 5351) is probe_pcp() in portmap.hpp.
//
// Every constant names the section of RFC 6887 it comes from.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/result.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::portmap::pcp {

inline constexpr std::uint16_t kServerPort = 5351;  // §19.1: the PCP server's UDP port
inline constexpr std::uint8_t kVersion = 2;         // §9: PCP is version 2 (NAT-PMP is 0)
inline constexpr std::uint8_t kOpcodeMap = 1;       // §19.2: MAP
inline constexpr std::uint8_t kResponseBit = 0x80;  // §7.1/§7.2: R, the opcode byte's top bit
inline constexpr std::size_t kHeaderSize = 24;      // §7.1 request / §7.2 response header
inline constexpr std::size_t kMapPayloadSize = 36;  // §11.1: MAP opcode data
inline constexpr std::size_t kMapPacketSize = kHeaderSize + kMapPayloadSize;  // 60
inline constexpr std::size_t kMaxPacket = 1100;                               // §7: no PCP message is longer
inline constexpr std::uint8_t kProtocolTcp = 6;                               // §11.1: IANA protocol numbers
inline constexpr std::uint8_t kProtocolUdp = 17;
inline constexpr std::size_t kNonceSize = 12;  // §11.1: 96-bit mapping nonce

using Nonce = std::array<std::uint8_t, kNonceSize>;

/// §7.4 result codes.
enum class ResultCode : std::uint8_t {
    success = 0,
    unsupp_version = 1,
    not_authorized = 2,
    malformed_request = 3,
    unsupp_opcode = 4,
    unsupp_option = 5,
    malformed_option = 6,
    network_failure = 7,
    no_resources = 8,
    unsupp_protocol = 9,
    user_ex_quota = 10,
    cannot_provide_external = 11,
    address_mismatch = 12,
    excessive_remote_peers = 13,
};
/// "NOT_AUTHORIZED: the gateway refused (mapping disabled, or the port is not allowed)", and
/// "result code 200 (not defined by RFC 6887)" for others.
std::string result_text(std::uint8_t code);
/// The category a caller branches on (portmap.hpp): refused, no gateway, protocol.
Errc result_errc(std::uint8_t code) noexcept;

struct MapRequest {
    std::uint32_t lifetime{0};   // seconds; 0 deletes the mapping (§15)
    std::string client_address;  // this host's IPv4 address, as the gateway sees the packet's source
    Nonce nonce{};
    Protocol protocol{Protocol::tcp};
    std::uint16_t internal_port{0};
    std::uint16_t suggested_external_port{0};  // 0: any
    std::string suggested_external_address;    // "": any (the all-zeros IPv4 address, §11.1)
};

/// The 60 bytes of a MAP request; invalid_argument for an address that is not dotted IPv4.
Result<std::vector<std::uint8_t>> encode_map(const MapRequest& request);

struct MapResponse {
    std::uint8_t result{0};     // ResultCode
    std::uint32_t lifetime{0};  // granted; on an error, how long before asking again
    std::uint32_t epoch{0};     // the server's epoch time (§8.5)
    Nonce nonce{};
    std::uint8_t protocol{0};
    std::uint16_t internal_port{0};
    std::uint16_t external_port{0};
    std::string external_address;  // dotted IPv4 ("" when not an IPv4-mapped address)
};

/// Reads a MAP response. An error answer may be its 24-byte header alone (the opcode data then
/// stay zero); protocol error for anything else that is not a PCP MAP response (a NAT-PMP answer,
/// version 0, says so in words).
Result<MapResponse> decode_map(std::span<const std::uint8_t> packet);

/// The nonce of the mapping tagged `description` ("zeppelin/<node id>/<purpose>"): derived from
/// the tag, so that a restarted node renews and deletes what its predecessor made (the gateway
/// ties a mapping to its nonce, §11.1). Not secret against a host on the LAN that knows the tag.
Nonce nonce_for(std::string_view description) noexcept;

/// The IPv4 default gateway in the text of /proc/net/route (the first default route's
/// little-endian hex Gateway column), nullopt when none.
std::optional<std::string> default_gateway(std::string_view proc_net_route);

}  // namespace zeppelin::portmap::pcp
