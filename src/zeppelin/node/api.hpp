// The node's local HTTP API (for `zeppelin run/ps/inspect/logs/stop/market` and the dashboard),
// on http_server.hpp. JSON in and out; errors as {"error": "..."} with a fitting status.
//
//   GET  /api/status                  the node: account, chain, worker registration, balance
//   GET  /api/agreements              this node's agreements (any role)
//   POST /api/agreements              buy one: {"image", "duration", "period", "verifiers",
//                                     "max_price_per_second" (wei, decimal string), "probe",
//                                     "cpu_millicores", "memory_mb", "port"?, "preferred_worker"?}
//   POST /api/agreements/check        the same body: what the purchase would be refused for, before
//                                     anything is sent ({"ok", "refusals": [{"code", "message"}],
//                                     "deposit", "max_price_per_second", "eligible_workers",
//                                     "active_workers", "cheapest"?})
//   POST /api/images                  upload an image archive (body: the tar, <= 512 MiB); answers
//                                     {"path", "name", "config_digest", "bytes"} to use as "image"
//                                     above; ?name=web.tar: the file's own name, which names it
//   GET  /api/agreements/{id}         one agreement: local state, chain view, progress, probes,
//                                     payments (from the contract's events), this node's transactions,
//                                     and for running work on a worker its resource use;
//                                     ?brief=1: only local state, chain view and progress (for pollers)
//   POST /api/agreements/{id}/stop    the client ends it early (cancels it before it runs)
//   GET  /api/agreements/{id}/logs    the work's output (?follow=1 streams); token required
//   POST /api/worker                  change this node's offer {"price_per_second" (wei string),
//                                     "max_duration", "cpu_millicores", "memory_mb"} (any subset)
//   POST /api/worker/{action}         pause | resume | unregister | withdraw (the stake, after the cool-down)
//   GET  /api/quote?max_price_per_second=&duration=&period=&verifiers=   the escrow buyContract needs
//   GET  /api/amounts?wei=A,B,...     each amount and their exact sum, formatted for people
//   GET  /api/market/workers          every registered worker with its reputation
//   GET  /api/market/agreements       the latest agreements on chain
//   GET  /api/events                  server-sent events: an "agreements" snapshot every second
//   GET  /metrics                     Prometheus text format
// Every amount is exact wei in a decimal string ("deposit": "594000000000"; these fields do not
// change) with the same amount for people beside it, from the CLI's formatter ("deposit_text":
// "594 gwei"; amounts.hpp).
// Anything that changes state needs `Authorization: Bearer <token>`; the API binds to loopback
// unless told otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "zeppelin/core/result.hpp"
#include "zeppelin/node/http_server.hpp"
#include "zeppelin/node/node.hpp"

namespace zeppelin::node {

struct ApiOptions {
    std::string host{"127.0.0.1"};
    std::uint16_t port{0};
    std::string token;
    std::string web_dir;  // static files of the dashboard, served under / when set
};

class Api final {
public:
    static Result<std::unique_ptr<Api>> start(Node& node, const ApiOptions& options);
    [[nodiscard]] std::uint16_t port() const noexcept { return server_->port(); }

private:
    explicit Api(std::unique_ptr<HttpServer> server) : server_{std::move(server)} {}
    std::unique_ptr<HttpServer> server_;
};

/// Parses the body of POST /api/agreements.
Result<RunRequest> parse_run_request(const std::string& body);

/// The answer of POST /api/agreements: the new agreement's id and its deposit, which protocol v2's
/// chain view holds as the escrow (`brief`: GET /api/agreements/ID?brief=1, or null).
nlohmann::json purchase_reply(std::uint64_t id, const nlohmann::json& brief);

}  // namespace zeppelin::node
