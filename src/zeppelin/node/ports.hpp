// What the role steps ask of the world outside the node, as narrow interfaces.
//
// The client, worker and verifier steps (client_role.cpp, worker_role.cpp, verifier_role.cpp) reach
// the chain, the container engine, the clock and the services they probe only through these. The
// node plugs in the live implementations (ports.cpp: the journal and the dispatcher, the Docker
// Engine API, the system clock, a real probe); the roles' unit tests plug in fakes and walk every
// transition, failure paths included, without a chain or an engine (client_role_test.cpp,
// worker_role_test.cpp, verifier_role_test.cpp; the fakes are in roles_fixture.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/secp256k1.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/node/messages.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::node {

/// The chain as a role sees it: one agreement's state, transactions sent at most once per
/// (agreement, action) (messages travel in them, sealed by the role), the identities messages are
/// sealed to, and the few reads a role needs beyond its agreement.
class ChainPort {
  public:
    virtual ~ChainPort() = default;
    /// The agreement as the chain has it now (a cached copy, dropped by every event naming it).
    virtual Result<market::v2::AgreementView> agreement(std::uint64_t id) = 0;
    /// Sends one dispatcher call for (agreement, action), at most once (journal.cpp's transact):
    /// a call that would revert is not sent and comes back as Errc::reverted, or Errc::too_early
    /// for the contract's "not yet" errors.
    virtual Result<eth::Receipt> send(std::uint64_t id, const std::string& action, Bytes data) = 0;
    /// A registered worker's owner and public key (verifiers are workers).
    virtual Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker) = 0;
    /// The agreement's client's public key (recovered from its purchase).
    virtual Result<eth::PublicKey> client_key(std::uint64_t id) = 0;
    /// Whether verifier `index` of the agreement has reported (or confirmed) `batch`.
    virtual Result<bool> reported(std::uint64_t id, std::uint64_t batch, std::uint64_t index) = 0;
    /// The verifiers a verifier draw in the next block picks (empty: not ready, or too few).
    virtual Result<std::vector<std::uint32_t>> preview_verifiers(std::uint64_t id) = 0;
    /// What this node's account can take out with withdraw().
    virtual Result<u256> credit() = 0;
};

/// The container engine as the worker sees it: images by content address, one container per agreement.
class WorkPort {
  public:
    virtual ~WorkPort() = default;
    /// The image `ref` ("sha256:<config digest>") if the engine holds it; Errc::not_found otherwise.
    virtual Result<runtime::ImageInfo> image(const std::string& ref) = 0;
    /// The container of an agreement; Errc::not_found when there is none.
    virtual Result<runtime::RunningWork> find(const std::string& agreement) = 0;
    virtual Result<runtime::RunningWork> start(const runtime::WorkSpec& spec) = 0;
    /// Removes the agreement's container (at once; the image is kept for a later agreement).
    virtual Result<void> end(const std::string& agreement) = 0;
};

/// Time, and reaching a service: what a step measures the world with.
class WorldPort {
  public:
    virtual ~WorldPort() = default;
    /// Unix time in milliseconds.
    virtual std::int64_t now_ms() = 0;
    virtual probe::Outcome probe(const probe::Spec& spec, const probe::Endpoint& endpoint,
                                 std::chrono::milliseconds timeout) = 0;
    /// Whether this node reaches the world now: its chain endpoint accepts a TCP connection
    /// within a few seconds. A failed probe is the service's failure only if it does; otherwise
    /// the node's own link is in doubt and the probe is inconclusive (issue 14).
    virtual bool reaches_world() = 0;
};

}  // namespace zeppelin::node
