#include "zeppelin/node/purchase_check.hpp"

#include <algorithm>
#include <functional>

#include <fmt/core.h>

#include "zeppelin/core/units.hpp"

namespace zeppelin::node {
namespace {

std::string price(const u256& wei) { return format_amount(wei) + "/s"; }

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

/// What a check sees: the plan, the market, the rules, and the workers that survived the checks
/// before it (each market check narrows them, so its sentence names what excluded the last ones).
struct Ctx {
    const PurchasePlan& plan;
    const MarketSnapshot& market;
    const PurchaseRules& rules;
    std::vector<WorkerOffer> fitting;  // narrowed by the market checks in turn
    PurchaseVerdict& verdict;
};

using Check = std::function<std::optional<std::string>(Ctx&)>;
enum class Stage : std::uint8_t { terms, market, money };
struct Rule {
    const char* code;
    Stage stage;
    Check check;
};

u256 verifier_reward(const PurchasePlan& p, const PurchaseRules& r) {
    return p.max_price_per_second * p.period * r.verifier_fee_bps / 10000;
}

/// Keeps the workers for which `keep` holds; says `why` (given the ones dropped) when none is left.
std::optional<std::string> narrow(Ctx& c, const std::function<bool(const WorkerOffer&)>& keep,
                                  const std::function<std::string(const std::vector<WorkerOffer>&)>& why) {
    if (c.fitting.empty()) return std::nullopt;  // said by an earlier check
    std::vector<WorkerOffer> kept;
    std::copy_if(c.fitting.begin(), c.fitting.end(), std::back_inserter(kept), keep);
    if (kept.empty()) {
        auto text = why(c.fitting);
        c.fitting.clear();
        return text;
    }
    c.fitting = std::move(kept);
    return std::nullopt;
}

// The table. Terms first (what the contract refuses whatever the market holds), then the market
// (narrowing the active workers as the contract's draw does), then the buyer's money.
const std::vector<Rule>& rules_table() {
    static const std::vector<Rule> table{
        {"zero_duration", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.duration != 0) return std::nullopt;
             return fmt::format("the duration is 0: ask for at least one period ({} s)", std::max(c.plan.period, c.rules.min_period_seconds));
         }},
        {"period_too_short", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.period >= c.rules.min_period_seconds) return std::nullopt;
             return fmt::format("the period is {} s; the contract needs at least {} s: use --period {}s or longer",
                                c.plan.period, c.rules.min_period_seconds, c.rules.min_period_seconds);
         }},
        {"period_does_not_divide", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             const auto d = c.plan.duration, p = c.plan.period;
             if (d == 0 || p < c.rules.min_period_seconds || d % p == 0) return std::nullopt;
             const auto below = d / p * p, above = below + p;
             std::string s = fmt::format("the duration, {} s, is not a whole number of {} s periods: use a duration of {} s", d, p,
                                         above);
             if (below != 0) s += fmt::format(" or {} s", below);
             return s + ", or a period that divides it";
         }},
        {"too_many_periods", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.period == 0 || c.plan.duration / c.plan.period <= c.rules.max_periods) return std::nullopt;
             const auto shortest = (c.plan.duration + c.rules.max_periods - 1) / c.rules.max_periods;
             return fmt::format("{} s in {} s periods is {} periods; the contract takes at most {}: use a period of at least {} s",
                                c.plan.duration, c.plan.period, c.plan.duration / c.plan.period, c.rules.max_periods, shortest);
         }},
        {"verifiers_out_of_range", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             const auto n = c.plan.verifiers;
             if (n >= c.rules.min_verifiers && n <= c.rules.max_verifiers) return std::nullopt;
             return fmt::format("{} asked for; the contract takes from {} to {}", plural(n, "verifier", "verifiers"),
                                c.rules.min_verifiers, c.rules.max_verifiers);
         }},
        {"verifiers_not_odd", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             const auto n = c.plan.verifiers;
             if (!c.rules.odd_verifiers || n % 2 == 1 || n < c.rules.min_verifiers || n > c.rules.max_verifiers) return std::nullopt;
             return fmt::format("{} verifiers cannot form a majority; the contract takes an odd number: ask for {}", n,
                                n + 1 <= c.rules.max_verifiers ? n + 1 : n - 1);
         }},
        {"zero_price", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.max_price_per_second != 0) return std::nullopt;
             return std::string{"the highest price per second is 0: no worker works for nothing (`zeppelin market workers` lists the prices)"};
         }},
        {"no_resources", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.cpu_millicores != 0 && c.plan.memory_mb != 0) return std::nullopt;
             return fmt::format("{} millicores and {} MB asked for: ask for at least 1 of each", c.plan.cpu_millicores, c.plan.memory_mb);
         }},
        {"reputation_out_of_range", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.plan.min_reputation <= c.rules.max_min_reputation) return std::nullopt;
             return fmt::format("a lowest reputation of {} permille asked for; it is at most {}", c.plan.min_reputation,
                                c.rules.max_min_reputation);
         }},
        {"port_not_exposed", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (!c.plan.exposed_ports) return std::nullopt;
             const auto& ports = *c.plan.exposed_ports;
             if (ports.empty()) return std::string{"the image exposes no TCP port (its config has no ExposedPorts): a service needs one (EXPOSE in its Dockerfile)"};
             if (!c.plan.port || std::find(ports.begin(), ports.end(), *c.plan.port) != ports.end()) return std::nullopt;
             std::string list;
             for (auto p : ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
             return fmt::format("the image does not expose port {}; it exposes {}: use --port {}", *c.plan.port, list, ports.front());
         }},
        {"too_small_for_verifiers", Stage::terms, [](Ctx& c) -> std::optional<std::string> {
             if (c.rules.min_verifier_pay == 0 || c.plan.period == 0 || c.plan.duration % c.plan.period != 0) return std::nullopt;
             const u256 pay = verifier_reward(c.plan, c.rules) * (c.plan.duration / c.plan.period);
             if (pay >= c.rules.min_verifier_pay) return std::nullopt;
             return fmt::format("each verifier would earn {} in all, below the contract's minimum of {}: raise the price or the duration",
                                format_amount(pay), format_amount(c.rules.min_verifier_pay));
         }},
        // --- the market: the active workers other than the buyer's own, narrowed as the draw does
        {"no_active_worker", Stage::market, [](Ctx& c) -> std::optional<std::string> {
             if (!c.fitting.empty()) return std::nullopt;
             return std::string{"no worker is active in the market (other than yours): wait for one (`zeppelin market workers`)"};
         }},
        {"resources_not_offered", Stage::market, [](Ctx& c) {
             return narrow(c, [&](const WorkerOffer& w) { return w.cpu_millicores >= c.plan.cpu_millicores && w.memory_mb >= c.plan.memory_mb; },
                           [&](const std::vector<WorkerOffer>& ws) {
                               std::uint32_t cpu = 0, mem = 0;
                               for (const auto& w : ws) {
                                   cpu = std::max(cpu, w.cpu_millicores);
                                   mem = std::max(mem, w.memory_mb);
                               }
                               return fmt::format("no active worker offers {} millicores and {} MB; the most offered are {} millicores "
                                                  "and {} MB: ask for at most that (--cpu, --memory)",
                                                  c.plan.cpu_millicores, c.plan.memory_mb, cpu, mem);
                           });
         }},
        {"duration_too_long", Stage::market, [](Ctx& c) {
             return narrow(c, [&](const WorkerOffer& w) { return w.max_duration >= c.plan.duration; },
                           [&](const std::vector<WorkerOffer>& ws) {
                               std::uint32_t longest = 0;
                               for (const auto& w : ws) longest = std::max(longest, w.max_duration);
                               return fmt::format("no worker with those resources accepts {} s; the longest accepted is {} s: ask for at most that",
                                                  c.plan.duration, longest);
                           });
         }},
        {"reputation_too_low", Stage::market, [](Ctx& c) {
             return narrow(c, [&](const WorkerOffer& w) { return c.plan.min_reputation == 0 || w.reputation >= c.plan.min_reputation; },
                           [&](const std::vector<WorkerOffer>& ws) {
                               std::uint64_t best = 0;
                               for (const auto& w : ws) best = std::max(best, w.reputation);
                               return fmt::format("no fitting worker has a reputation of {} permille; the best has {}: ask for at most that",
                                                  c.plan.min_reputation, best);
                           });
         }},
        {"price_below_market", Stage::market, [](Ctx& c) {
             return narrow(c, [&](const WorkerOffer& w) { return u256{w.price_per_second} <= c.plan.max_price_per_second; },
                           [&](const std::vector<WorkerOffer>& ws) {
                               auto cheapest = std::min_element(ws.begin(), ws.end(), [](const auto& a, const auto& b) {
                                   return a.price_per_second < b.price_per_second;
                               });
                               return fmt::format("the cheapest fitting worker (worker {}) asks {}, above your highest price of {}: "
                                                  "raise --max-price to at least {}",
                                                  cheapest->id, price(cheapest->price_per_second), price(c.plan.max_price_per_second),
                                                  price(cheapest->price_per_second));
                           });
         }},
        {"not_enough_workers", Stage::market, [](Ctx& c) -> std::optional<std::string> {
             // The contract's draws: the worker and `verifiers` more, distinct, none of them the buyer's
             // (too few verifiers at the verifier draw end the agreement with the deposit back).
             const auto usable = c.verdict.active_workers;
             if (usable == 0 || c.plan.verifiers + 1 <= usable) return std::nullopt;  // none at all: said above
             std::string s = fmt::format("1 worker and {} need {} active workers other than yours; the market has {}",
                                         plural(c.plan.verifiers, "verifier", "verifiers"), c.plan.verifiers + 1, usable);
             auto most = static_cast<unsigned>(usable - 1);  // verifiers the market can give
             if (c.rules.odd_verifiers && most % 2 == 0 && most > 0) --most;
             if (most >= c.rules.min_verifiers) return s + ": ask for at most " + plural(most, "verifier", "verifiers");
             return s + fmt::format(": wait until {} are active", c.rules.min_verifiers + 1);
         }},
        // --- the buyer's money
        {"balance_too_low", Stage::money, [](Ctx& c) -> std::optional<std::string> {
             if (!c.market.balance) return std::nullopt;
             const u256 needed = c.verdict.deposit + c.market.gas_cost;
             if (needed <= *c.market.balance) return std::nullopt;
             return fmt::format("the escrow of {} and up to {} of gas need {}; your account holds {}: fund it with {} more, "
                                "or lower the duration, the price or the verifiers",
                                format_amount(c.verdict.deposit), format_amount(c.market.gas_cost), format_amount(needed),
                                format_amount(*c.market.balance), format_amount(needed - *c.market.balance));
         }},
    };
    return table;
}

}  // namespace

PurchaseRules PurchaseRules::v2(const u256& verifier_fee_bps, const u256& min_verifier_pay) {
    PurchaseRules r;
    r.min_verifier_pay = min_verifier_pay;
    r.verifier_fee_bps = verifier_fee_bps;
    return r;
}

std::string PurchaseVerdict::text() const {
    std::string out;
    for (const auto& r : refusals) out += (out.empty() ? "" : "\n") + r.message;
    return out;
}

u256 purchase_deposit(const PurchasePlan& plan, const PurchaseRules& rules) {
    if (plan.period == 0) return 0;
    const u256 periods = plan.duration / plan.period;
    return periods * (plan.max_price_per_second * plan.period + u256{plan.verifiers} * verifier_reward(plan, rules));
}

PurchaseVerdict check_purchase(const PurchasePlan& plan, const MarketSnapshot& market, const PurchaseRules& rules) {
    PurchaseVerdict v;
    Ctx c{plan, market, rules, {}, v};
    for (const auto& w : market.workers)
        if (!(rules.client_worker_excluded && w.id != 0 && w.id == market.client_worker_id)) c.fitting.push_back(w);
    v.active_workers = c.fitting.size();
    v.workers_needed = plan.verifiers + 1;
    bool terms_ok = true;
    for (const auto& rule : rules_table()) {
        if (rule.stage != Stage::terms && !terms_ok) break;
        if (rule.stage == Stage::money && v.deposit == 0) v.deposit = purchase_deposit(plan, rules);
        if (auto why = rule.check(c)) {
            v.refusals.push_back(Refusal{rule.code, std::move(*why)});
            if (rule.stage == Stage::terms) terms_ok = false;
        }
    }
    if (terms_ok) {
        v.deposit = purchase_deposit(plan, rules);
        v.eligible_workers = c.fitting.size();
        if (!c.fitting.empty())
            v.cheapest = *std::min_element(c.fitting.begin(), c.fitting.end(),
                                           [](const auto& a, const auto& b) { return a.price_per_second < b.price_per_second; });
    }
    return v;
}

}  // namespace zeppelin::node
