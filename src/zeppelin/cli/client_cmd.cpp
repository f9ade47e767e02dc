// The client commands, docker-like, all thin clients of the local node's API (node_client.hpp):
//   zeppelin run IMAGE|ARCHIVE --port 8080 --duration 1h --verifiers 3 --max-price 2gwei/s --probe http:/health
//   zeppelin ps [-a] | inspect ID | logs [-f] ID | stop ID | market workers|agreements
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <thread>

#include <fmt/core.h>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/cli/node_client.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/node/log_channel.hpp"
#include "zeppelin/probe/spec.hpp"
#include "zeppelin/transfer/progress.hpp"

namespace zeppelin::cli {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

NodeEndpoint connect() { return or_throw(find_node(or_throw(node_data_dir(global_options().node_dir)))); }

/// --node on the command itself (for its --help; the global --node is the same option).
void add_node_option(CLI::App* cmd) {
    cmd->add_option("--node", global_options().node_dir,
                    "Data directory of the node to talk to (default $ZEPPELIN_NODE_DIR or ~/.zeppelin/node)");
}

void print_json(const json& j) { fmt::print("{}\n", j.dump(2)); }

/// "90", "90s", "15m", "1h", "2d" -> seconds. 0 only when `zero_ok` (the node's purchase check
/// then says what a zero duration means).
std::uint32_t parse_duration(const std::string& text, std::string_view what, bool zero_ok = false) {
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
    const auto unit = text.substr(i);
    std::uint64_t mul = 0;
    if (unit.empty() || unit == "s") mul = 1;
    else if (unit == "m") mul = 60;
    else if (unit == "h") mul = 3600;
    else if (unit == "d") mul = 86400;
    if (i == 0 || mul == 0 || i > 9)
        usage_error(fmt::format("{}: \"{}\" is not a duration (like 90s, 15m, 1h, 2d)", what, text));
    const auto v = std::stoull(text.substr(0, i)) * mul;
    if (v == 0 && !zero_ok) usage_error(fmt::format("{}: \"{}\" is no time at all: give at least 1s", what, text));
    if (v > 0xffffffffULL) usage_error(fmt::format("{}: \"{}\" is more than {} s, the longest the contract takes", what, text, 0xffffffffULL));
    return static_cast<std::uint32_t>(v);
}

/// "256m", "1g", "512" (MB) -> MB.
std::uint32_t parse_megabytes(const std::string& text) {
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
    const auto unit = text.substr(i);
    std::uint64_t mul = 0;
    if (unit.empty() || unit == "m" || unit == "M" || unit == "MB") mul = 1;
    else if (unit == "g" || unit == "G" || unit == "GB") mul = 1024;
    if (i == 0 || mul == 0 || i > 7) usage_error("--memory: \"" + text + "\" is not a size (like 256m, 1g)");
    const auto mb = std::stoull(text.substr(0, i)) * mul;
    if (mb == 0) usage_error("--memory: \"" + text + "\" is no memory at all: give at least 1m");
    if (mb > 0xffffffffULL) usage_error("--memory: \"" + text + "\" is more than the contract can record");
    return static_cast<std::uint32_t>(mb);
}

struct RunOptions {
    std::string image;
    std::uint16_t port{0};
    std::string duration{"1h"};
    std::string period{"60s"};
    unsigned verifiers{3};
    std::string max_price{"2gwei/s"};
    std::string probe{"tcp"};
    std::uint32_t cpu{500};
    std::string memory{"256m"};
    unsigned min_reputation{0};
    bool detach{false};
    bool dry_run{false};
    std::string timeout{"10m"};
};

/// What the chain says was bought: the worker chosen, its price and the escrow, for people (stderr)
/// and for --json (fields added to `out`).
void announce_purchase(std::uint64_t id, const json& a, json& out) {
    if (!a.contains("chain") || !a["chain"].is_object()) return;
    const auto& c = a["chain"];
    std::string vs;
    for (const auto& v : c.value("verifier_ids", json::array())) vs += (vs.empty() ? "" : ", ") + std::to_string(v.get<unsigned>());
    out["worker_id"] = c.value("worker_id", 0U);
    out["price_per_second"] = c.value("price_per_second", std::string{"0"});
    out["verifier_ids"] = c.value("verifier_ids", json::array());
    // Protocol v2: the chain holds the deposit in escrow; the worker is drawn a block after the
    // purchase (among those at or below the highest price), the verifiers when it starts.
    out["deposit"] = c.value("escrow", std::string{"0"});
    if (c.value("worker_id", 0U) == 0) {
        fmt::print(stderr, "agreement {}: bought, {} escrowed; the worker is drawn among those at or below {}/s\n", id,
                   amount_text(c, "escrow"), amount_text(c, "max_price_per_second"));
        return;
    }
    fmt::print(stderr, "agreement {}: worker {} at {}/s, {} {}, {} escrowed\n", id, c.value("worker_id", 0U),
               amount_text(c, "price_per_second"), c.value("verifier_ids", json::array()).size() == 1 ? "verifier" : "verifiers",
               vs.empty() ? "none yet" : vs, amount_text(c, "escrow"));
}

/// --dry-run: what the node's purchase check says (node/purchase_check.hpp), nothing sent.
void dry_run(const NodeEndpoint& node, const json& req) {
    const auto v = or_throw(api_call(node, "POST", "/api/agreements/check", &req), "run --dry-run");
    if (global_options().json) print_json(v);
    if (!v.value("ok", false)) {
        std::string why;
        for (const auto& r : v["refusals"]) why += (why.empty() ? "" : "\n") + r["message"].get<std::string>();
        fail(Errc::invalid_argument, why);
    }
    if (global_options().json) return;
    const auto& c = v["cheapest"];
    fmt::print("would escrow {}; the cheapest of {} eligible {} is worker {} at {}/s\n", amount_text(v, "deposit"),
               v["eligible_workers"].get<unsigned>(), v["eligible_workers"].get<unsigned>() == 1 ? "worker" : "workers",
               c["worker_id"].get<unsigned>(), amount_text(c, "price_per_second"));
}

void run(const RunOptions& o) {
    // Every value is read before the node is asked anything: a usage error exits 2, nothing sent.
    const bool as_json = global_options().json;
    auto price_text = o.max_price;
    if (price_text.ends_with("/s")) price_text.resize(price_text.size() - 2);
    const auto price = usage_or(parse_amount(price_text), "--max-price");
    if (price > std::numeric_limits<std::uint64_t>::max()) usage_error("--max-price: \"" + o.max_price + "\" is more than the contract can record");
    const auto limit = std::chrono::seconds{parse_duration(o.timeout, "--timeout")};
    (void)usage_or(probe::parse_spec(o.probe), "--probe");
    json req{{"image", o.image},
             {"duration", parse_duration(o.duration, "--duration", true)},
             {"period", parse_duration(o.period, "--period", true)},
             {"verifiers", o.verifiers},
             {"max_price_per_second", to_dec(price)},
             {"probe", o.probe},
             {"cpu_millicores", o.cpu},
             {"memory_mb", parse_megabytes(o.memory)},
             {"min_reputation", o.min_reputation}};
    if (o.port != 0) req["port"] = o.port;
    const auto node = connect();
    if (o.dry_run) return dry_run(node, req);
    const auto started = std::chrono::steady_clock::now();
    const auto created = or_throw(api_call(node, "POST", "/api/agreements", &req), "run");
    const auto id = created["id"].get<std::uint64_t>();
    json bought{{"id", id}};
    announce_purchase(id, or_throw(api_call(node, "GET", "/api/agreements/" + std::to_string(id) + "?brief=1")), bought);
    if (o.detach) {
        if (as_json) fmt::print("{}\n", bought.dump());
        else fmt::print("{}\n", id);
        return;
    }
    std::string last_state;
    transfer::ProgressRenderer bar{stderr, ::isatty(2) == 1};
    std::uint64_t shown = ~0ULL;  // bytes of the last progress drawn
    for (;;) {
        const auto a = or_throw(api_call(node, "GET", "/api/agreements/" + std::to_string(id) + "?brief=1"));
        const auto state = a.value("state", std::string{});
        const auto& local = a["local"];
        // A failing transfer shows each new reason at once (with the worker's address).
        const auto problem = a.value("problem", std::string{});
        if (state + problem != last_state) {
            if (problem.empty()) fmt::print(stderr, "agreement {}: {}\n", id, a.value("state_label", state));
            else fmt::print(stderr, "agreement {}: {}: {}\n", id, a.value("state_label", state), problem);
            last_state = state + problem;
        }
        if (a.contains("progress") && state == "transferring") {
            transfer::Progress p;
            p.bytes_done = a["progress"].value("done", std::uint64_t{0});
            p.bytes_total = a["progress"].value("total", std::uint64_t{0});
            p.rate = a["progress"].value("rate", 0.0);
            p.eta_seconds = a["progress"].value("eta_seconds", -1.0);
            if (p.bytes_done != shown) bar(p);
            shown = p.bytes_done;
        }
        if (local.contains("service") && local.contains("first_ok_ms")) {
            const auto host = local["service"]["host"].get<std::string>();
            const auto port = local["service"]["port"].get<unsigned>();
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            if (as_json) {
                bought["host"] = host;
                bought["port"] = port;
                bought["seconds"] = secs;
                fmt::print("{}\n", bought.dump());
            } else {
                fmt::print(stderr, "agreement {}: serving after {:.1f} s\n", id, secs);
                fmt::print("{}:{}\n", host, port);
            }
            return;
        }
        if (state == "done" || state == "cancelled") {
            std::string why = local.value("transfer_error", std::string{});
            if (local.contains("image_refused") && local["image_refused"].is_string())
                why = "the worker refused the image: " + local["image_refused"].get<std::string>();
            if (why.empty()) why = local.value("last_error", std::string{"it ended before its service came up"});
            // Protocol v2: an agreement that ended before it ran ("ended", with a reason) refunds the escrow.
            const bool ended = a.contains("chain") && a["chain"].value("status", std::string{}) == "ended";
            fail(Errc::cancelled, fmt::format("agreement {} {}: {} ({})", id, state, why,
                                              ended ? "the escrow is refunded to you, less the cancellation fee if you cancelled"
                                                       : "what you are owed back: `zeppelin inspect " + std::to_string(id) + " --summary`"));
        }
        if (std::chrono::steady_clock::now() - started > limit)
            fail(Errc::timeout, fmt::format("agreement {} is not serving after {}; it goes on: `zeppelin inspect {}`", id, o.timeout, id));
        std::this_thread::sleep_for(50ms);
    }
}

std::string cell(const json& j, const char* key) {
    if (!j.contains(key)) return "-";
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

void ps(bool all) {
    auto list = or_throw(api_call(connect(), "GET", "/api/agreements"));
    if (!all) {
        json shown = json::array();
        for (auto& a : list)
            if (a.value("state", std::string{}) != "done") shown.push_back(std::move(a));
        list = std::move(shown);
    }
    if (global_options().json) {
        print_json(list);
        return;
    }
    fmt::print("{:<6} {:<9} {:<26} {:<22} {}\n", "ID", "ROLE", "STATE", "SERVICE", "IMAGE");
    for (const auto& a : list) {
        std::string service = "-";
        if (a.contains("service")) service = a["service"]["host"].get<std::string>() + ":" + std::to_string(a["service"]["port"].get<unsigned>());
        fmt::print("{:<6} {:<9} {:<26} {:<22} {}\n", a["id"].get<std::uint64_t>(), cell(a, "role"), cell(a, a.contains("state_label") ? "state_label" : "state"),
                   service, cell(a, "image"));
        if (a.contains("problem")) fmt::print("{:<6} {}\n", "", a["problem"].get<std::string>());  // why, under its row
    }
}

void market(const std::string& what) {
    const auto list = or_throw(api_call(connect(), "GET", "/api/market/" + what));
    if (global_options().json) {
        print_json(list);
        return;
    }
    if (what == "workers") {
        fmt::print("{:<4} {:<43} {:<13} {:>14} {:>6} {:>7} {:>9} {:>7}\n", "ID", "OWNER", "STATUS", "PRICE/S",
                   "CPU", "MEM", "VERIFIED", "FAILED");
        for (const auto& w : list)
            fmt::print("{:<4} {:<43} {:<13} {:>14} {:>6} {:>7} {:>9} {:>7}\n", w["id"].get<std::uint64_t>(),
                       cell(w, "owner"), cell(w, "status"),
                       amount_text(w, "price_per_second") + "/s",
                       w["cpu_millicores"].get<unsigned>(), w["memory_mb"].get<unsigned>(),
                       w["verified_periods"].get<std::uint64_t>(), w["failed_periods"].get<std::uint64_t>());
    } else {
        fmt::print("{:<6} {:<10} {:<7} {:<10} {:>8} {:>20}\n", "ID", "STATUS", "WORKER", "VERIFIERS", "PERIODS", "ESCROW");
        for (const auto& a : list) {
            std::string vs;
            for (const auto& v : a["verifier_ids"]) vs += (vs.empty() ? "" : ",") + std::to_string(v.get<unsigned>());
            fmt::print("{:<6} {:<10} {:<7} {:<10} {:>8} {:>20}\n", a["id"].get<std::uint64_t>(), cell(a, "status"),
                       a["worker_id"].get<unsigned>(), vs.empty() ? "-" : vs, a["billable_periods"].get<unsigned>(),
                       amount_text(a, "escrow"));
        }
    }
}

void print_summary(const json& a) {
    fmt::print("agreement {}: {} (this node is its {})\n", a["id"].get<std::uint64_t>(), a.value("state_label", a.value("state", std::string{})),
               a.value("role", std::string{}));
    if (a.contains("chain")) {
        const auto& c = a["chain"];
        std::string vs;
        for (const auto& v : c["verifier_ids"]) vs += (vs.empty() ? "" : ", ") + std::to_string(v.get<unsigned>());
        // Periods paid come from the settlement's event (payments), not the chain's view.
        const auto paid = a.contains("payments") ? a["payments"].value("paid_periods", 0U) : 0U;
        // Protocol v2 draws the worker a block after the purchase: until then, only the highest price.
        const auto worker = c["worker_id"].get<unsigned>();
        const auto who = worker == 0 ? fmt::format("the worker not drawn yet (at most {}/s)", amount_text(c, "max_price_per_second"))
                                     : fmt::format("worker {} at {}/s", worker, amount_text(c, "price_per_second"));
        fmt::print("  on chain: {}, {}, verifiers {}, {} of {} billable, {} paid\n", c["status"].get<std::string>(), who,
                   vs.empty() ? "not drawn yet" : vs, c["billable_periods"].get<unsigned>(),
                   count_of(c["periods"].get<unsigned>(), "period"), paid);
    }
    if (a.contains("payments")) {
        const auto& p = a["payments"];
        fmt::print("  escrow   {:>24}\n", amount_text(p, "deposit"));
        fmt::print("  worker   {:>24}\n", amount_text(p, "worker"));
        for (const auto& v : p["verifiers"]) {
            const bool penalized = v.contains("penalty") && v["penalty"].get<std::string>() != "0";
            fmt::print("  verifier {:>24}  (worker {}: {} reported, {} ok{})\n", amount_text(v, "reward"),
                       v["verifier_id"].get<unsigned>(), count_of(v["periods_reported"].get<unsigned>(), "period"),
                       v["periods_ok"].get<unsigned>(),
                       penalized ? fmt::format("; penalty {} for {}", amount_text(v, "penalty"),
                                               count_of(v.value("silent_periods", 0U), "silent period"))
                                 : std::string{});
        }
        fmt::print("  client   {:>24}  (refund)\n", amount_text(p, "client_refund"));
        if (p["slashed"].get<std::string>() != "0") fmt::print("  burned   {:>24}  (slashed stake or a fee: nobody receives it)\n", amount_text(p, "slashed"));
        if (p.contains("ended")) fmt::print("  ended before it ran: {}\n", p["ended"].get<std::string>());
        if (p.value("closed", false))
            fmt::print("  {}\n", p.value("balanced", false) ? "every wei of the escrow is accounted for"
                                                            : "WARNING: the payments do not add up to the escrow");
    }
}

/// What --summary shows, for --json: the chain's view and the payments (amounts in exact wei).
json summary_json(const json& a) {
    json out{{"id", a["id"]}, {"role", a.value("role", std::string{})}, {"state", a.value("state", std::string{})},
             {"state_label", a.value("state_label", std::string{})}};
    if (a.contains("chain")) out["chain"] = a["chain"];
    if (a.contains("payments")) out["payments"] = a["payments"];
    return out;
}

struct LogsOptions {
    std::uint64_t id{0};
    bool follow{false};
    std::string tail{"all"};
    std::string since;
    bool timestamps{false};
};

/// --since: "10m" (that long ago), "2026-12-02T17:00:00Z" (RFC 3339) or "1764694800" (unix seconds)
/// -> unix nanoseconds.
std::int64_t parse_since(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 12)
        return std::stoll(text) * 1'000'000'000;
    if (const auto t = node::parse_rfc3339_ns(text)) return *t;
    if (text.find_first_of("-:T") != std::string::npos)
        usage_error("--since: \"" + text + "\" is not an RFC 3339 time (like 2026-12-02T17:00:00Z)");
    const auto ago = std::chrono::seconds{parse_duration(text, "--since")};
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now - ago).count();
}

void logs(const LogsOptions& o) {
    std::string target = "/api/agreements/" + std::to_string(o.id) + "/logs?follow=" + (o.follow ? "1" : "0");
    if (o.tail != "all") {
        if (o.tail.empty() || o.tail.size() > 9 || o.tail.find_first_not_of("0123456789") != std::string::npos)
            usage_error("--tail: \"" + o.tail + "\" is not a number of lines (or \"all\")");
        target += "&tail=" + o.tail;
    }
    if (!o.since.empty()) target += "&since=" + std::to_string(parse_since(o.since));
    const bool as_json = global_options().json;
    if (o.timestamps || as_json) target += "&timestamps=1";
    std::string partial;  // --json: a line not ended yet
    auto print_lines = [&](std::string_view chunk, bool end) {
        partial.append(chunk);
        std::size_t from = 0;
        for (auto nl = partial.find('\n'); nl != std::string::npos || (end && from < partial.size());
             nl = partial.find('\n', from)) {
            const auto stop = nl == std::string::npos ? partial.size() : nl;
            const std::string_view line{partial.data() + from, stop - from};
            const auto space = line.find(' ');
            json j{{"time", nullptr}, {"line", std::string{line}}};
            if (space != std::string_view::npos && node::parse_rfc3339_ns(line.substr(0, space))) {
                j["time"] = std::string{line.substr(0, space)};
                j["line"] = std::string{line.substr(space + 1)};
            }
            fmt::print("{}\n", j.dump());
            from = stop + 1;
        }
        partial.erase(0, std::min(from, partial.size()));
        std::fflush(stdout);
    };
    auto r = api_stream(connect(), target, [&](std::string_view chunk) {
        if (as_json) {
            print_lines(chunk, false);
        } else {
            std::fwrite(chunk.data(), 1, chunk.size(), stdout);
            std::fflush(stdout);  // each line as it arrives, into a pipe too
        }
        return true;
    });
    if (as_json) print_lines({}, true);
    or_throw(std::move(r));
}

}  // namespace

void add_client_commands(CLI::App& app) {
    {
        auto o = std::make_shared<RunOptions>();
        auto* cmd = app.add_subcommand("run", "Run a container image on a worker of the market, paid per verified period");
        add_node_option(cmd);
        cmd->add_option("image", o->image, "An image archive (docker save / OCI) or an image the local engine holds")->required();
        cmd->add_option("-p,--port", o->port, "The service port (one the image exposes; default: the first)");
        cmd->add_option("--duration", o->duration, "How long to run: 90s, 15m, 1h, 2d")->capture_default_str();
        cmd->add_option("--period", o->period, "Verification period (>= 10s; divides the duration)")->capture_default_str();
        cmd->add_option("--verifiers", o->verifiers, "How many verifiers check the service (odd, 3 to 5: a majority decides each period)")->capture_default_str()->check(CLI::Range(0U, 255U));
        cmd->add_option("--max-price", o->max_price, "Highest price accepted, per second: 2gwei/s")->capture_default_str();
        cmd->add_option("--probe", o->probe, "How verifiers check it: tcp, http:/path, http:/path,status=204")->capture_default_str();
        cmd->add_option("--cpu", o->cpu, "CPU, millicores")->capture_default_str();
        cmd->add_option("--memory", o->memory, "Memory: 256m, 1g")->capture_default_str();
        cmd->add_option("--min-reputation", o->min_reputation, "Lowest worker reputation accepted, permille")->check(CLI::Range(0U, 1000U));
        cmd->add_option("--timeout", o->timeout, "Give up waiting for the service after this long")->capture_default_str();
        cmd->add_flag("-d,--detach", o->detach, "Print the agreement id and return at once");
        cmd->add_flag("--dry-run", o->dry_run, "Check the requirements against the market and print the escrow; buy nothing");
        cmd->callback([o] { run(*o); });
    }
    {
        auto all = std::make_shared<bool>(false);
        auto* cmd = app.add_subcommand("ps", "List this node's agreements");
        add_node_option(cmd);
        cmd->add_flag("-a,--all", *all, "Also the finished ones");
        cmd->callback([all] { ps(*all); });
    }
    {
        auto id = std::make_shared<std::uint64_t>(0);
        auto summary = std::make_shared<bool>(false);
        auto* cmd = app.add_subcommand("inspect", "Everything about one agreement, as JSON: states, parties, periods, money");
        add_node_option(cmd);
        cmd->add_option("id", *id, "Agreement id")->required();
        cmd->add_flag("--summary", *summary, "A short summary: state, periods and where the money went (JSON with --json)");
        cmd->callback([id, summary] {
            const auto a = or_throw(api_call(connect(), "GET", "/api/agreements/" + std::to_string(*id)));
            if (!*summary) print_json(a);
            else if (global_options().json) print_json(summary_json(a));
            else print_summary(a);
        });
    }
    {
        auto id = std::make_shared<std::uint64_t>(0);
        auto* cmd = app.add_subcommand("stop", "End an agreement early (unused time is refunded)");
        add_node_option(cmd);
        cmd->add_option("id", *id, "Agreement id")->required();
        cmd->callback([id] {
            const auto a = or_throw(api_call(connect(), "POST", "/api/agreements/" + std::to_string(*id) + "/stop"));
            if (global_options().json) print_json(a);
            else fmt::print("{}\n", *id);
        });
    }
    {
        auto o = std::make_shared<LogsOptions>();
        auto* cmd = app.add_subcommand("logs", "The work's output, streamed from the worker over the encrypted channel");
        add_node_option(cmd);
        cmd->add_option("id", o->id, "Agreement id")->required();
        cmd->add_flag("-f,--follow", o->follow, "Keep streaming each line as it is written");
        cmd->add_option("-n,--tail", o->tail, "Only the last N lines (then, with -f, every new one)")->capture_default_str();
        cmd->add_option("--since", o->since, "Only lines since a time: relative (10m, 2h) or RFC 3339 (2026-12-02T17:00:00Z) or unix seconds");
        cmd->add_flag("-t,--timestamps", o->timestamps, "Begin each line with the time it was written (RFC 3339)");
        cmd->callback([o] { logs(*o); });
    }
    {
        auto* cmd = app.add_subcommand("market", "What the market holds: workers, agreements");
        add_node_option(cmd);
        cmd->require_subcommand(1);
        for (const char* what : {"workers", "agreements"}) {
            auto* sub = cmd->add_subcommand(what, std::string{"List the registered "} + what);
            sub->callback([w = std::string{what}] { market(w); });
        }
    }
}

}  // namespace zeppelin::cli
