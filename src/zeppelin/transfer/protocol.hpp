// The image transfer protocol, spoken inside a TLS 1.3 connection (see tls.hpp) whose external
// PSK is the agreement's 32-byte transfer secret and whose PSK identity is the agreement id.
//
// Framing: every message is  [type: u8][length: u32 big-endian][payload: length bytes],
// length <= kMaxPayload. Integers are big-endian; str16/str32 = length (u16/u32) + UTF-8 bytes.
//
//   client -> worker  HELLO      u16 version(1 or 2), str16 agreement id, 32B config digest,
//                                u32 config length + config JSON, u32 n, n x (32B diff-id, u64 size),
//                                version 2 only: u8 has_spec (0/1), then if 1: u16 spec length
//                                (1..kMaxSpec) + probe spec JSON, 32B salt
//   worker -> client  OFFER      u32 n, n x u64 offset: bytes of layer i the worker already holds
//                                (== size: cached, skip it; 0 < offset < size: resume from there)
//                     or STATUS  error (wrong digest, limit, replayed secret, busy...)
//   client -> worker  LAYER      u32 index, u64 offset (must equal the offered one), u8 codec
//                                (0 = raw, 1 = one zstd stream for the rest of this layer)
//                     DATA*      a piece of the (possibly compressed) layer bytes
//                     LAYER_END  u32 index
//                     ... one LAYER/DATA*/LAYER_END run per missing distinct diff-id ...
//                     DONE       (empty)
//   worker -> client  STATUS     u8 ok, u16 Errc, str32 message   (final answer, then close)
//
// The worker checks, before it accepts any layer byte: identity == agreement id; sha256(config)
// == the committed config digest; the HELLO's diff-ids == the config's rootfs.diff_ids; the sum
// of sizes <= the agreement's byte limit. While receiving it decompresses, hashes, scans the
// layer tar (tar_scan.hpp) and appends to a partial file; at LAYER_END the size and sha256 must
// equal the diff-id, and only then is the layer committed to the cache (atomic rename). A
// dropped connection keeps partial files (per agreement), so the next HELLO is offered their
// length and the client resumes mid-layer; finished layers are never sent again.
//
// The spec in a version-2 HELLO is the client's probe spec and the salt of its on-chain commit
// (protocol v2, issue 12): it travels here, inside the session only the holder of the transfer
// secret can open, instead of in an on-chain message. This layer only bounds its size; the node
// checks it against the agreement's commit (IncomingImage::spec, server.hpp). Every HELLO of a
// session carries it again (a resumed transfer too), also when no layer needs sending. A worker
// still accepts a version-1 HELLO (an older client, whose spec comes on chain).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::transfer::protocol {

constexpr std::uint16_t kVersion = 2;     ///< what this client sends
constexpr std::uint16_t kMinVersion = 1;  ///< the oldest HELLO a worker accepts (no spec)
constexpr std::size_t kHeaderSize = 5;
constexpr std::size_t kMaxPayload = 4U << 20;
constexpr std::size_t kMaxConfig = 1U << 20;
constexpr std::size_t kMaxLayers = 1024;
/// A probe spec, as the node's private messages bound one (messages.hpp kMaxText).
constexpr std::size_t kMaxSpec = 4096;

enum class FrameType : std::uint8_t { hello = 1, offer = 2, layer = 3, data = 4, layer_end = 5, done = 6, status = 7 };
enum class Codec : std::uint8_t { raw = 0, zstd = 1 };

struct LayerRef {
    Digest diff_id;
    std::uint64_t size{0};
    bool operator==(const LayerRef&) const = default;
};
/// The client's probe spec and the salt of its commit (spec_commit = keccak(salt || keccak(spec))).
struct SpecReveal {
    std::string spec;  ///< probe spec JSON, 1..kMaxSpec bytes
    Hash32 salt{};
    bool operator==(const SpecReveal&) const = default;
};
struct Hello {
    std::uint16_t version{kVersion};
    std::string agreement_id;
    Digest config_digest;
    Bytes config;
    std::vector<LayerRef> layers;
    std::optional<SpecReveal> spec;  ///< version 2 only (a version-1 HELLO encodes without it)
    bool operator==(const Hello&) const = default;
};
struct Offer {
    std::vector<std::uint64_t> offsets;
    bool operator==(const Offer&) const = default;
};
struct LayerBegin {
    std::uint32_t index{0};
    std::uint64_t offset{0};
    Codec codec{Codec::raw};
    bool operator==(const LayerBegin&) const = default;
};
struct Data {
    Bytes bytes;
    bool operator==(const Data&) const = default;
};
struct LayerEnd {
    std::uint32_t index{0};
    bool operator==(const LayerEnd&) const = default;
};
struct Done {
    bool operator==(const Done&) const = default;
};
struct Status {
    bool ok{true};
    Errc code{Errc::internal};
    std::string message;
    bool operator==(const Status&) const = default;
    [[nodiscard]] Error to_error() const { return Error{code, message}; }
};

using Message = std::variant<Hello, Offer, LayerBegin, Data, LayerEnd, Done, Status>;

struct FrameHeader {
    FrameType type{FrameType::hello};
    std::uint32_t length{0};
};

/// Writes a frame header into out[0..5).
void write_header(std::uint8_t* out, FrameType type, std::uint32_t length) noexcept;
/// Validates a frame header (known type, length within kMaxPayload).
Result<FrameHeader> parse_header(ByteView header);

/// The whole frame (header + payload) for a message.
Bytes encode(const Message& m);
/// Strict decoding of one payload: every field in range, no trailing bytes.
Result<Message> decode(FrameType type, ByteView payload);
/// Whether a spec may travel in a HELLO (not empty, at most kMaxSpec bytes); the error says why not.
Result<void> check_spec(const SpecReveal& s);

const char* type_name(FrameType t) noexcept;

}  // namespace zeppelin::transfer::protocol
