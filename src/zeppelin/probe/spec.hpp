// Probe specifications: how a verifier checks a service. The client commits to
// keccak256(canonical_json(spec)) on chain (the agreement's probe-spec hash) and sends the spec
// itself to verifiers encrypted, so a verifier can check it received the spec the client paid for.
//
// Text form (CLI):   http:/health             GET /health, expect status 200
//                    http:/health,status=204  expect another status
//                    http:/,body-sha256=<hex> also require the body's SHA-256
//                    tcp                      a TCP connect succeeds
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::probe {

struct Spec {
    enum class Kind { http, tcp };
    Kind kind{Kind::http};
    std::string path{"/"};                // http only; starts with '/'
    unsigned status{200};                 // http only
    std::optional<Hash32> body_sha256;    // http only

    bool operator==(const Spec&) const = default;
};

/// Parses the text form above.
Result<Spec> parse_spec(std::string_view text);
/// The text form (parse_spec(to_string(s)) == s).
std::string to_string(const Spec& spec);

/// Canonical JSON (sorted keys, no spaces): the bytes whose keccak256 is committed on chain.
std::string canonical_json(const Spec& spec);
Result<Spec> from_json(std::string_view json);

}  // namespace zeppelin::probe
