// Running one probe against a service endpoint (HTTP GET or TCP connect), with a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "zeppelin/probe/spec.hpp"

namespace zeppelin::probe {

struct Endpoint {
    std::string host;
    std::uint16_t port{0};
};

struct Outcome {
    bool ok{false};
    std::string detail;  // "HTTP 200", "connection refused", "body hash mismatch", ...
    std::chrono::milliseconds latency{0};
};

/// Probes `endpoint` as `spec` says. Never throws; a failure is an Outcome with ok == false.
Outcome run(const Spec& spec, const Endpoint& endpoint,
            std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

}  // namespace zeppelin::probe
