#include "zeppelin/node/api.hpp"

#include <charconv>
#include <chrono>
#include <limits>
#include <thread>

#include <nlohmann/json.hpp>

#include "zeppelin/eth/address.hpp"
#include "zeppelin/node/amounts.hpp"
#include "zeppelin/node/log_channel.hpp"
#include "zeppelin/node/metrics.hpp"

namespace zeppelin::node {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxUpload = std::size_t{512} << 20;  // POST /api/images; every other body: 1 MiB

Result<std::uint64_t> id_param(const Request& r) {
    const auto& s = r.params.at("id");
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
        return make_error(Errc::invalid_argument, "agreement id '" + s + "' is not a number");
    return std::stoull(s);
}

/// ?name=<whole number> within [lo, hi]; nullopt when absent, empty or "all".
Result<std::optional<std::int64_t>> query_integer(const Request& r, const char* name, std::int64_t lo, std::int64_t hi) {
    const auto it = r.query.find(name);
    if (it == r.query.end() || it->second.empty() || it->second == "all") return std::optional<std::int64_t>{};
    std::int64_t v = 0;
    const auto& text = it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
        return make_error(Errc::invalid_argument, std::string{"'"} + name + "' must be a whole number from " +
                                                      std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + text + "'");
    return std::optional<std::int64_t>{v};
}

Response reply(const Result<json>& r, unsigned ok = 200) {
    if (!r) {
        if (r.error().code() == Errc::reverted) return Response::error(422, r.error().message());
        return Response::error(r.error());
    }
    return Response::json(ok, *r);
}

template <class T>
Result<T> field(const json& j, const char* name, T fallback, bool required = false) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
        if (required) return make_error(Errc::invalid_argument, std::string{"'"} + name + "' is required");
        return fallback;
    }
    if constexpr (std::is_same_v<T, std::string>) {
        if (!it->is_string()) return make_error(Errc::invalid_argument, std::string{"'"} + name + "' must be a string");
        return it->get<std::string>();
    } else {
        if (!it->is_number_unsigned() || it->get<std::uint64_t>() > std::numeric_limits<T>::max())
            return make_error(Errc::invalid_argument, std::string{"'"} + name + "' must be a whole number in range");
        return static_cast<T>(it->get<std::uint64_t>());
    }
}

}  // namespace

json purchase_reply(std::uint64_t id, const json& brief) {
    json out{{"id", id}};
    if (!brief.is_object() || !brief.contains("chain")) return out;
    // The purchase's deposit (the node's record of it), else the escrow the chain holds for it.
    const auto& chain = brief["chain"];
    for (const char* key : {"deposit", "escrow"}) {
        if (!chain.contains(key) || !chain[key].is_string()) continue;
        if (auto wei = parse_u256(chain[key].get<std::string>())) put_amount(out, "deposit", *wei);
        break;
    }
    return out;
}

Result<RunRequest> parse_run_request(const std::string& body) {
    const auto j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error(Errc::invalid_argument, "the request body is not a JSON object");
    RunRequest r;
    r.image = ZP_TRY(field<std::string>(j, "image", "", true));
    r.duration = ZP_TRY(field<std::uint32_t>(j, "duration", r.duration));
    r.period = ZP_TRY(field<std::uint32_t>(j, "period", r.period));
    r.verifiers = ZP_TRY(field<std::uint8_t>(j, "verifiers", r.verifiers));
    r.probe = ZP_TRY(field<std::string>(j, "probe", r.probe));
    r.cpu_millicores = ZP_TRY(field<std::uint32_t>(j, "cpu_millicores", r.cpu_millicores));
    r.memory_mb = ZP_TRY(field<std::uint32_t>(j, "memory_mb", r.memory_mb));
    r.min_reputation = ZP_TRY(field<std::uint16_t>(j, "min_reputation", r.min_reputation));
    const auto price = ZP_TRY(field<std::string>(j, "max_price_per_second", "", true));
    r.max_price_per_second = ZP_TRY(parse_u256(price));
    if (j.contains("port")) r.port = ZP_TRY(field<std::uint16_t>(j, "port", 0));
    // v1's "preferred_worker" is gone: nobody steers who is drawn (protocol v2).
    if (j.contains("preferred_worker"))
        return make_error(Errc::invalid_argument, "'preferred_worker' is not supported: protocol v2 draws the worker at random");
    if (r.image.empty()) return make_error(Errc::invalid_argument, "'image' is empty");
    return r;
}

Result<std::unique_ptr<Api>> Api::start(Node& node, const ApiOptions& options) {
    HttpServerOptions so;
    so.host = options.host;
    so.port = options.port;
    so.api_token = options.token;
    auto server = std::make_unique<HttpServer>(so);
    auto& s = *server;
    s.route("GET", "/api/status", [&node](const Request&) { return reply(node.status()); });
    s.route("GET", "/api/agreements", [&node](const Request&) { return reply(node.agreements()); });
    s.route("POST", "/api/agreements", [&node](const Request& r) {
        auto req = parse_run_request(r.body);
        if (!req) return Response::error(req.error());
        auto id = node.submit_run(*req);
        if (!id) return reply(id.error());
        auto a = node.agreement(*id, /*brief=*/true);
        return Response::json(201, purchase_reply(*id, a ? *a : json{}));
    });
    // What POST /api/agreements would refuse, and the escrow, before anything is sent.
    s.route("POST", "/api/agreements/check", [&node](const Request& r) {
        auto req = parse_run_request(r.body);
        if (!req) return Response::error(req.error());
        return reply(node.check_run(*req));
    });
    s.route("POST", "/api/images", [&node](const Request& r) {
        if (r.body.empty()) return Response::error(400, "the request body must be an image archive (docker save / OCI layout tar)");
        const auto name = r.query.contains("name") ? r.query.at("name") : std::string{"image.tar"};
        auto stored = node.store_upload(r.body, name);
        if (!stored) {
            const auto c = stored.error().code();
            if (c == Errc::io || c == Errc::internal) return Response::error(stored.error());
            return Response::error(400, stored.error().message());
        }
        return Response::json(201, *stored);
    }, Auth::token_for_writes, kMaxUpload);
    s.route("GET", "/api/agreements/{id}", [&node](const Request& r) {
        auto id = id_param(r);
        if (!id) return Response::error(id.error());
        return reply(node.agreement(*id, r.query.contains("brief") && r.query.at("brief") != "0"));
    });
    s.route("POST", "/api/agreements/{id}/stop", [&node](const Request& r) {
        auto id = id_param(r);
        if (!id) return Response::error(id.error());
        return reply(node.stop_agreement(*id));
    });
    // The work's output, like `docker logs`: ?follow=1, ?tail=N, ?since=<unix ns>, ?timestamps=1.
    // An error before any output is an error answer (404 unknown agreement, 502 worker unreachable);
    // after it, the "Zeppelin-Error" trailer.
    s.route(
        "GET", "/api/agreements/{id}/logs",
        [&node](const Request& r) {
            auto id = id_param(r);
            if (!id) return Response::error(id.error());
            auto flag = [&](const char* name) { return r.query.contains(name) && r.query.at(name) != "0"; };
            LogQuery q;
            q.follow = flag("follow");
            q.timestamps = flag("timestamps");
            auto tail = query_integer(r, "tail", 0, std::numeric_limits<std::uint32_t>::max());
            if (!tail) return Response::error(tail.error());
            if (*tail) q.tail = static_cast<std::uint32_t>(**tail);
            auto since = query_integer(r, "since", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
            if (!since) return Response::error(since.error());
            q.since_ns = *since;
            const auto agreement = *id;
            return Response::fallible_stream("text/plain; charset=utf-8", [&node, agreement, q](const ChunkWriter& write) -> Result<void> {
                auto res = node.logs(agreement, q, [&](std::string_view chunk) { return write(chunk); });
                if (!res && res.error().code() == Errc::io) return Error{Errc::rpc_unreachable, res.error().message()};  // 502
                return res;
            });
        },
        Auth::token_always);
    s.route("POST", "/api/worker", [&node](const Request& r) {
        const auto j = json::parse(r.body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return Response::error(400, "the request body is not a JSON object");
        Node::OfferChange c;
        auto price = field<std::string>(j, "price_per_second", "");
        if (!price) return Response::error(price.error());
        if (!price->empty()) {
            auto p = parse_u256(*price);
            if (!p || *p > std::numeric_limits<std::uint64_t>::max() || *p == 0)
                return Response::error(400, "'price_per_second' must be a positive whole number of wei (a decimal string)");
            c.price_per_second = static_cast<std::uint64_t>(*p);
        }
        for (auto [name, slot] : {std::pair{"max_duration", &c.max_duration}, std::pair{"cpu_millicores", &c.cpu_millicores},
                                  std::pair{"memory_mb", &c.memory_mb}}) {
            if (!j.contains(name)) continue;
            auto v = field<std::uint32_t>(j, name, 0);
            if (!v) return Response::error(v.error());
            *slot = *v;
        }
        return reply(node.update_offer(c));
    });
    s.route("POST", "/api/worker/{action}", [&node](const Request& r) { return reply(node.worker_action(r.params.at("action"))); });
    s.route("GET", "/api/quote", [&node](const Request& r) {
        auto num = [&](const char* k) -> Result<u256> {
            if (!r.query.contains(k)) return make_error(Errc::invalid_argument, std::string{"query parameter '"} + k + "' is required");
            return parse_u256(r.query.at(k));
        };
        auto price = num("max_price_per_second");
        auto duration = num("duration");
        auto period = num("period");
        auto verifiers = num("verifiers");
        for (const auto* v : {&price, &duration, &period, &verifiers})
            if (!*v) return Response::error(400, v->error().message());
        if (*duration > 0xffffffffU || *period > 0xffffffffU || *verifiers > 255U)
            return Response::error(400, "duration, period or verifiers out of range");
        return reply(node.quote(*price, static_cast<std::uint32_t>(*duration), static_cast<std::uint32_t>(*period),
                                static_cast<std::uint8_t>(*verifiers)));
    });
    // Live updates for the dashboard: an `agreements` event (the GET /api/agreements list) every
    // second, an `error` event when it cannot be read; ends when the client leaves or the server stops.
    s.route("GET", "/api/events", [&node](const Request&) {
        return Response::streaming("text/event-stream", [&node](const ChunkWriter& write) {
            for (;;) {
                const auto list = node.agreements();
                const auto event = list ? sse_event(list->dump(), "agreements")
                                        : sse_event(json{{"error", list.error().message()}}.dump(), "error");
                if (!write(event)) return;
                for (int i = 0; i < 10; ++i) {
                    std::this_thread::sleep_for(std::chrono::milliseconds{100});
                    if (!write("")) return;
                }
            }
        });
    });
    s.route("GET", "/api/amounts", [](const Request& r) {
        const auto it = r.query.find("wei");
        if (it == r.query.end()) return Response::error(400, "query parameter 'wei' is required (whole numbers of wei, separated by commas)");
        return reply(amounts_json(it->second));
    });
    s.route("GET", "/api/market/workers", [&node](const Request&) { return reply(node.market_workers()); });
    s.route("GET", "/api/market/agreements", [&node](const Request&) { return reply(node.market_agreements()); });
    s.route("GET", "/metrics", [&node](const Request&) {
        Response r;
        r.content_type = std::string{Metrics::kContentType};
        r.body = node.metrics_text();
        return r;
    });
    if (!options.web_dir.empty()) s.serve_static("/", options.web_dir);
    ZP_CHECK(s.start());
    return std::unique_ptr<Api>{new Api{std::move(server)}};
}

}  // namespace zeppelin::node
