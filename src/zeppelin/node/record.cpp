#include "zeppelin/node/record.hpp"

#include <set>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::node {

using json = nlohmann::json;

namespace {

// Keys of the stored document, in the order they are written.
const std::set<std::string, std::less<>> kKnown{
    "last_error", "lost_role",  "client_key",  "spec",           "service",   "image_refused", "image",
    "image_name", "image_digest", "submitted_ms", "transfer",    "transferred", "transfer_stats", "transfer_error",
    "first_ok_ms", "stopped", "secret",    "offered",     "hello",          "pull_tried", "received",     "exposed_ports",
    "planned_port", "service_port", "container", "announced",    "work_ended", "reported_through",
    "salt", "spec_check_since_ms", "briefed", "announced_host",
    "rejected",  // before image_refused: the client kept the reason (a string), the worker `true`
};

json host_port_json(const HostPort& h) { return json{{"host", h.host}, {"port", h.port}}; }

/// Reads `key` of `j` into `out` when present; a wrong type is an error naming the key.
template <class T>
Result<void> read(const json& j, std::string_view key, T& out) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    try {
        out = it->template get<T>();
    } catch (const json::exception& e) {
        return make_error(Errc::invalid_argument, "agreement record: field '" + std::string{key} + "': " + e.what());
    }
    return {};
}

template <class T>
Result<void> read_opt(const json& j, std::string_view key, std::optional<T>& out) {
    if (!j.contains(key) || j[std::string{key}].is_null()) return {};
    T v{};
    ZP_CHECK(read(j, key, v));
    out = std::move(v);
    return {};
}

Result<HostPort> read_host_port(const json& j, std::string_view what) {
    if (!j.is_object()) return make_error(Errc::invalid_argument, "agreement record: field '" + std::string{what} + "' is not an object");
    HostPort h;
    ZP_CHECK(read(j, "host", h.host));
    ZP_CHECK(read(j, "port", h.port));
    return h;
}

Result<Hash32> read_hash(const json& j, std::string_view what) {
    if (!j.is_string()) return make_error(Errc::invalid_argument, "agreement record: field '" + std::string{what} + "' is not a hex string");
    auto h = fixed_from_hex<32>(j.get<std::string>());
    if (!h) return h.error().wrap("agreement record: field '" + std::string{what} + "'");
    return *h;
}

}  // namespace

json to_json(const AgreementRecord& r) {
    json j = r.extra.is_object() ? r.extra : json::object();
    if (!r.last_error.empty()) j["last_error"] = r.last_error;
    if (r.lost_role) j["lost_role"] = true;
    if (r.client_key) j["client_key"] = *r.client_key;
    if (r.spec) j["spec"] = *r.spec;
    if (r.service) j["service"] = host_port_json(*r.service);
    if (r.image_refused) j["image_refused"] = *r.image_refused;
    if (!r.image.empty()) j["image"] = r.image;
    if (!r.image_name.empty()) j["image_name"] = r.image_name;
    if (!r.image_digest.empty()) j["image_digest"] = r.image_digest;
    if (r.submitted_ms != 0) j["submitted_ms"] = r.submitted_ms;
    if (r.transfer)
        j["transfer"] = json{{"host", r.transfer->host},           {"port", r.transfer->port},
                             {"secret", to_hex(r.transfer->secret)}, {"logs_port", r.transfer->logs_port},
                             {"worker_id", r.transfer->worker_id}};
    if (r.transferred) j["transferred"] = true;
    if (r.transfer_stats)
        j["transfer_stats"] = json{{"image_bytes", r.transfer_stats->image_bytes},
                                   {"wire_bytes", r.transfer_stats->wire_bytes},
                                   {"layers_sent", r.transfer_stats->layers_sent},
                                   {"layers_skipped", r.transfer_stats->layers_skipped},
                                   {"seconds", r.transfer_stats->seconds}};
    if (!r.transfer_error.empty()) j["transfer_error"] = r.transfer_error;
    if (r.first_ok_ms) j["first_ok_ms"] = *r.first_ok_ms;
    if (r.stopped) j["stopped"] = true;
    if (r.secret) j["secret"] = to_hex(*r.secret);
    if (!r.offered.empty()) j["offered"] = r.offered;
    if (r.hello) j["hello"] = true;
    if (r.pull_tried) j["pull_tried"] = true;
    if (r.received) {
        if (r.received->held) j["received"] = json{{"held", true}};
        else j["received"] = json{{"config", r.received->config_hex}, {"diff_ids", r.received->diff_ids}};
    }
    if (!r.exposed_ports.empty()) j["exposed_ports"] = r.exposed_ports;
    if (r.planned_port != 0) j["planned_port"] = r.planned_port;
    if (r.service_port != 0) j["service_port"] = r.service_port;
    if (!r.container.empty()) j["container"] = r.container;
    if (r.announced != 0) j["announced"] = r.announced;
    if (!r.announced_host.empty()) j["announced_host"] = r.announced_host;
    if (r.work_ended) j["work_ended"] = true;
    if (r.reported_through != 0) j["reported_through"] = r.reported_through;
    if (r.salt) j["salt"] = to_hex(*r.salt);
    if (r.spec_check_since_ms != 0) j["spec_check_since_ms"] = r.spec_check_since_ms;
    if (!r.briefed.empty()) j["briefed"] = r.briefed;
    return j;
}

Result<AgreementRecord> record_from_json(const json& j) {
    if (!j.is_object()) return make_error(Errc::invalid_argument, "agreement record: not a JSON object");
    AgreementRecord r;
    ZP_CHECK(read(j, "last_error", r.last_error));
    ZP_CHECK(read(j, "lost_role", r.lost_role));
    ZP_CHECK(read_opt(j, "client_key", r.client_key));
    ZP_CHECK(read_opt(j, "spec", r.spec));
    if (j.contains("service")) r.service = ZP_TRY(read_host_port(j["service"], "service"));
    ZP_CHECK(read_opt(j, "image_refused", r.image_refused));
    if (!r.image_refused && j.contains("rejected")) {  // the spelling before image_refused
        const auto& old = j["rejected"];
        if (old.is_string()) r.image_refused = old.get<std::string>();
        else if (old.is_boolean() && old.get<bool>()) r.image_refused = std::string{};
    }
    ZP_CHECK(read(j, "image", r.image));
    ZP_CHECK(read(j, "image_name", r.image_name));
    ZP_CHECK(read(j, "image_digest", r.image_digest));
    ZP_CHECK(read(j, "submitted_ms", r.submitted_ms));
    if (j.contains("transfer")) {
        const auto& t = j["transfer"];
        const auto hp = ZP_TRY(read_host_port(t, "transfer"));
        OfferRecord o{hp.host, hp.port};
        if (!t.contains("secret")) return make_error(Errc::invalid_argument, "agreement record: field 'transfer' has no secret");
        o.secret = ZP_TRY(read_hash(t["secret"], "transfer.secret"));
        ZP_CHECK(read(t, "logs_port", o.logs_port));
        ZP_CHECK(read(t, "worker_id", o.worker_id));
        r.transfer = std::move(o);
    }
    ZP_CHECK(read(j, "transferred", r.transferred));
    if (j.contains("transfer_stats")) {
        const auto& s = j["transfer_stats"];
        TransferStatsRecord t;
        ZP_CHECK(read(s, "image_bytes", t.image_bytes));
        ZP_CHECK(read(s, "wire_bytes", t.wire_bytes));
        ZP_CHECK(read(s, "layers_sent", t.layers_sent));
        ZP_CHECK(read(s, "layers_skipped", t.layers_skipped));
        ZP_CHECK(read(s, "seconds", t.seconds));
        r.transfer_stats = t;
    }
    ZP_CHECK(read(j, "transfer_error", r.transfer_error));
    ZP_CHECK(read_opt(j, "first_ok_ms", r.first_ok_ms));
    ZP_CHECK(read(j, "stopped", r.stopped));
    if (j.contains("secret")) r.secret = ZP_TRY(read_hash(j["secret"], "secret"));
    ZP_CHECK(read(j, "offered", r.offered));
    ZP_CHECK(read(j, "hello", r.hello));
    ZP_CHECK(read(j, "pull_tried", r.pull_tried));
    if (j.contains("received")) {
        const auto& rc = j["received"];
        if (!rc.is_object()) return make_error(Errc::invalid_argument, "agreement record: field 'received' is not an object");
        ReceivedRecord got;
        ZP_CHECK(read(rc, "held", got.held));
        ZP_CHECK(read(rc, "config", got.config_hex));
        ZP_CHECK(read(rc, "diff_ids", got.diff_ids));
        r.received = std::move(got);
    }
    ZP_CHECK(read(j, "exposed_ports", r.exposed_ports));
    ZP_CHECK(read(j, "planned_port", r.planned_port));
    ZP_CHECK(read(j, "service_port", r.service_port));
    ZP_CHECK(read(j, "container", r.container));
    ZP_CHECK(read(j, "announced", r.announced));
    ZP_CHECK(read(j, "announced_host", r.announced_host));
    ZP_CHECK(read(j, "work_ended", r.work_ended));
    ZP_CHECK(read(j, "reported_through", r.reported_through));
    if (j.contains("salt")) r.salt = ZP_TRY(read_hash(j["salt"], "salt"));
    ZP_CHECK(read(j, "spec_check_since_ms", r.spec_check_since_ms));
    ZP_CHECK(read(j, "briefed", r.briefed));
    for (const auto& [key, value] : j.items())
        if (!kKnown.contains(key)) r.extra[key] = value;
    return r;
}

json public_json(const AgreementRecord& r) {
    json j = to_json(r);
    j.erase("secret");
    j.erase("salt");  // the client's until it reveals it
    if (j.contains("transfer")) j["transfer"].erase("secret");
    return j;
}

}  // namespace zeppelin::node
