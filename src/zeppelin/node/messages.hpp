// The private messages the parties of an agreement exchange through the chain's event log
// (WorkerDispatcherV2.postMessage, or the envelopes acceptAgreement, startAgreement and
// drawVerifiers carry -> MessagePosted), DESIGN.md protocol step 4.
//
// Each message is a small JSON document sealed with ECIES (eth/ecies.hpp) to the recipient's
// secp256k1 public key, with
//     aad = "zeppelin/msg/v1" || uint256(agreementId) || sender || recipient
// (the envelope format's own version) so an envelope copied into another agreement, or re-posted by
// another account, does not open. The chain authenticates the sender (msg.sender is in the event),
// so a recipient also checks that the sender plays the role the message needs (only the worker
// announces endpoints, only the client reveals the spec); the node does that, this file only
// encodes and seals. market/protocol_v2.hpp packs one envelope per recipient of a transaction.
//
//   worker -> client     transfer   {"type":"transfer","host","port","secret","logs_port"}  where to send the image
//   worker -> client     service    {"type":"service","host","port"}            where the work is served (in the
//                                   start; again if the worker's router changed its address)
//   worker -> client     rejected   {"type":"rejected","reason"}                the image failed verification
//   client -> worker     spec       {"type":"spec","spec","salt"}               the spec behind the salted commit
//                                   (sent by older clients; a client now reveals it in the image
//                                   transfer's HELLO, transfer/protocol.hpp; a worker takes both)
//   worker -> verifiers  brief      {"type":"brief","spec","salt","host","port"}  what to probe, and where (in
//                                   the verifiers' draw; again to a re-drawn set or after a move)
// A recipient of "spec" or "brief" checks spec_commit(spec, salt) against the agreement's commit
// (matches_commit) before it believes either. Any other type ("probe", v1's) is refused as unknown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::node::msg {

/// The longest text field of a message (a probe spec, a host, a reason), in bytes.
inline constexpr std::size_t kMaxText = 4096;

struct TransferOffer {
    std::string host;
    std::uint16_t port{0};
    Hash32 secret{};  // the 32-byte TLS PSK of the image transfer (single use)
    std::uint16_t logs_port{0};  // where the work's output is served (log_channel.hpp); 0 = nowhere
    bool operator==(const TransferOffer&) const = default;
};
struct ServiceReady {
    std::string host;
    std::uint16_t port{0};
    bool operator==(const ServiceReady&) const = default;
};
struct ImageRejected {
    std::string reason;
    bool operator==(const ImageRejected&) const = default;
};

struct SpecReveal {
    std::string spec_json;  // probe::canonical_json
    Hash32 salt{};
    bool operator==(const SpecReveal&) const = default;
};
struct VerifierBrief {
    std::string spec_json;
    Hash32 salt{};
    std::string host;  // the service's announced external endpoint
    std::uint16_t port{0};
    bool operator==(const VerifierBrief&) const = default;
};

using Payload = std::variant<TransferOffer, ServiceReady, ImageRejected, SpecReveal, VerifierBrief>;

/// "transfer", "service", "rejected", "spec", "brief".
std::string_view type_name(const Payload& p) noexcept;

/// The JSON document of a payload.
std::string encode(const Payload& p);
/// Strict decoding: known type, every field present and in range, size-limited.
Result<Payload> decode(std::string_view json);

/// The associated data binding an envelope to its agreement, sender and recipient.
Bytes associated_data(std::uint64_t agreement_id, const Address& sender, const Address& recipient);

/// Encodes and seals a payload to `recipient_key` (whose address is `recipient`).
Result<Bytes> seal(const eth::PublicKey& recipient_key, std::uint64_t agreement_id, const Address& sender,
                   const Address& recipient, const Payload& payload);
/// Opens and decodes an envelope addressed to `me`. Errc::auth_failed if it was not sealed for this
/// key, agreement, sender and recipient (or was altered); Errc::invalid_argument if malformed.
Result<Payload> open(const eth::PrivateKey& me, std::uint64_t agreement_id, const Address& sender,
                     const Address& recipient, ByteView envelope);

/// Whether `spec_json` with `salt` opens the agreement's salted commit (v2's buyContract).
bool matches_commit(std::string_view spec_json, const Hash32& salt, const Hash32& commit);

/// One v2 message to several parties: each payload sealed to its recipient (in recipient-bit
/// order, as the contract expects) and packed with 2-byte lengths. Errc::invalid_argument when an
/// envelope passes the contract's 1,024 bytes per recipient.
struct Sealed {
    Address recipient{};
    eth::PublicKey key{};
    Payload payload;
};
Result<Bytes> seal_all(std::uint64_t agreement_id, const Address& sender, const std::vector<Sealed>& to);

}  // namespace zeppelin::node::msg
