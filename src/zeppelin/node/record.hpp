// What this node has learned and done about one agreement, typed: one record per agreement row
// (store.hpp), read once by a step and changed through NodeContext::update. JSON exists only in the
// store's serialization (to_json / record_from_json) and in the API's view of it (public_json).
//
// The fields are grouped by the role that writes them; a node plays one role per agreement. Keys in
// the stored JSON are the field names, as they were when the record was a free JSON document, so
// rows written by earlier versions read unchanged (two old spellings are mapped: see record.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"

namespace zeppelin::node {

struct HostPort {
    std::string host;
    std::uint16_t port{0};
    bool operator==(const HostPort&) const = default;
};

/// The worker's transfer offer, as the client keeps it.
struct OfferRecord {
    std::string host;
    std::uint16_t port{0};
    Hash32 secret{};            // the transfer's single-use key: never shown by the API
    std::uint16_t logs_port{0};  // 0: the worker serves no output
    std::uint64_t worker_id{0};  // who offered: an offer of a replaced worker is not used
    bool operator==(const OfferRecord&) const = default;
};

struct TransferStatsRecord {
    std::uint64_t image_bytes{0};
    std::uint64_t wire_bytes{0};
    std::uint64_t layers_sent{0};
    std::uint64_t layers_skipped{0};
    double seconds{0};
    bool operator==(const TransferStatsRecord&) const = default;
};

/// The image a worker has for an agreement: one the engine held already, or one received and verified.
struct ReceivedRecord {
    bool held{false};
    std::string config_hex;             // the image config's bytes (received images)
    std::vector<std::string> diff_ids;  // "sha256:<hex>", bottom layer first
    bool operator==(const ReceivedRecord&) const = default;
};

struct AgreementRecord {
    // ---- every role
    std::string last_error;                 // the last failed step's reason ("" after none)
    bool lost_role{false};                  // reassigned away: the role's step cleans up and ends
    std::optional<std::string> client_key;  // hex, recovered once from the purchase
    std::optional<std::string> spec;        // the probe specification (client: chosen; worker, verifier: received)
    std::optional<Hash32> salt;             // the salt of the spec's commit (client: drawn; worker, verifier: received)
    std::optional<HostPort> service;        // where the worker said the service is (client, verifier)
    /// Why the worker refused the image (client: from its message; worker: what it sent).
    std::optional<std::string> image_refused;

    // ---- client
    std::string image;         // the archive sent
    std::string image_name;    // as the user named it
    std::string image_digest;  // "sha256:<config digest>"
    std::int64_t submitted_ms{0};
    std::optional<OfferRecord> transfer;
    bool transferred{false};
    std::optional<TransferStatsRecord> transfer_stats;
    std::string transfer_error;  // the last transfer attempt's failure ("" after none)
    std::optional<std::int64_t> first_ok_ms;  // the service's first answer, as the client measured it
    /// Stopped on chain (`zeppelin stop`, or the contract's AgreementStopped however it was sent): the
    /// agreement is "stopping" until it settles, also when it was stopped in its last period (when
    /// the chain's view shows no cut in the billable periods) and across restarts.
    bool stopped{false};

    // ---- worker
    std::optional<Hash32> secret;  // the transfer key, drawn once and stored before it is sent
    std::string offered;           // "<transfer port>:<log port>" of the offer made
    bool hello{false};             // the client's transfer showed the image config
    bool pull_tried{false};
    std::optional<ReceivedRecord> received;
    std::vector<std::uint16_t> exposed_ports;
    std::uint16_t planned_port{0};  // the host port chosen for the service (0: none yet)
    std::uint16_t service_port{0};  // where the running container is published (0: not running)
    std::string container;
    std::uint16_t announced{0};     // the service port announced to the parties (the router's, when mapped)
    std::string announced_host;     // the host announced with it; another one now: the parties are told
    bool work_ended{false};
    std::int64_t spec_check_since_ms{0};  // the first probe of its own service with the client's spec
    std::vector<std::uint32_t> briefed;   // the verifiers the briefs were sealed to

    // ---- verifier
    std::uint64_t reported_through{0};  // batches [0, reported_through) are reported (or their window closed)

    /// Keys this version does not know (written by a newer one): kept, never dropped.
    nlohmann::json extra = nlohmann::json::object();

    bool operator==(const AgreementRecord&) const = default;
};

nlohmann::json to_json(const AgreementRecord& r);
/// Errc::invalid_argument naming the field when a known key has the wrong type.
Result<AgreementRecord> record_from_json(const nlohmann::json& j);
/// What a person may see: the record without its secrets.
nlohmann::json public_json(const AgreementRecord& r);

}  // namespace zeppelin::node
