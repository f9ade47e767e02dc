// What a mapped worker does when its router's external address changes (a new DHCP lease of the
// router, a reconnect): it notices at the next lease renewal or periodic check, maps again, tells
// new agreements the new address and says so in words (log, the API's reachability reason).
#include "zeppelin/node/reachability.hpp"

#include <spdlog/spdlog.h>

namespace zeppelin::node {

ExternalChange judge_external(std::string_view held, const Result<std::string>& asked) noexcept {
    if (!asked) return ExternalChange::no_answer;
    const auto priv = portmap::is_private_ipv4(*asked);
    if (!priv) return ExternalChange::no_answer;  // not a dotted IPv4 address: nothing to announce
    if (*asked == held) return ExternalChange::same;
    return *priv ? ExternalChange::now_private : ExternalChange::changed;
}

ExternalCheck Reachability::check_external(Clock::time_point now) {
    std::lock_guard lock{mu_};
    std::vector<std::string> changed;
    auto c = check_external_locked(now, changed);
    if (!changed.empty()) save_locked();
    return c;
}

ExternalCheck Reachability::check_external_locked(Clock::time_point now, std::vector<std::string>& changed) {
    ExternalCheck c;
    c.before = external_;
    if (!mapper_) {
        c.detail = "no port-mapping gateway";
        return c;
    }
    const auto router = mapper_->gateway().address;
    auto asked = mapper_->external_address();
    c.change = judge_external(external_, asked);
    if (asked) c.after = *asked;
    switch (c.change) {
        case ExternalChange::same:
            return c;
        case ExternalChange::no_answer:
            c.detail =
                asked ? "the router " + router + " gave '" + *asked + "' as its external address, not an IPv4 address"
                      : asked.error().message();
            spdlog::warn("port mapping: asking the router for its external address: {} (keeping {})", c.detail,
                         external_);
            return c;
        case ExternalChange::now_private:
            c.detail =
                "nobody can reach this worker: the router " + router + "'s external address changed from " + c.before +
                " to " + c.after +
                ", a private address (the router is now behind another NAT). Get a public address for the router, "
                "or forward the ports by hand and pass --public-host";
            spdlog::warn("port mapping: {}", c.detail);
            if (state_ == ReachState::mapped) {
                state_ = ReachState::unreachable;
                why_ = c.detail;
            }
            external_ = c.after;
            return c;
        case ExternalChange::changed:
            break;
    }
    // The router's new address: every mapping made again, so that each holds it (a router that
    // changed its address may also have dropped its table).
    std::size_t renewed = 0;
    for (auto& [purpose, m] : by_purpose_) {
        auto r = mapper_->renew(m);
        if (!r) {
            spdlog::warn("port mapping: mapping {} (port {}) again after the address change: {}", purpose,
                         m.internal_port, r.error().message());
            m.external_address = c.after;  // the router forwards to it there, if it kept the mapping
            failed_renewals_[purpose] = now;
        } else {
            leases_.forget(m);
            m = *r;
            leases_.track(m, now);
            failed_renewals_.erase(purpose);
            ++renewed;
        }
        changed.push_back(purpose);
    }
    external_ = c.after;
    const bool announced_router = announced_ == c.before;
    if (announced_router) announced_ = c.after;
    if (state_ == ReachState::mapped && announced_router)
        why_ = "ports mapped on the router " + router + " (" +
               std::string{portmap::to_string(mapper_->gateway().method)} + "): parties reach this node at " + c.after +
               " (the router's external address changed from " + c.before + ")";
    c.detail = "the router " + router + " changed its external address from " + c.before + " to " + c.after + ": " +
               std::to_string(renewed) + " of " + std::to_string(by_purpose_.size()) + " mapping(s) made again; " +
               (announced_router ? "new agreements are told " + c.after
                                 : "new agreements are still told " + announced_ + " (--public-host)");
    spdlog::warn("port mapping: {}", c.detail);
    return c;
}

}  // namespace zeppelin::node
