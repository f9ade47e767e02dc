#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

Result<void> NodeContext::register_worker() {
    market::WorkerOffer offer;
    offer.price_per_second = opt.price_per_second;
    offer.max_duration = opt.max_duration;
    offer.cpu_millicores = opt.cpu_millicores;
    offer.memory_mb = opt.memory_mb;
    const auto pk = (*opt.key).public_key();
    offer.public_key.assign(pk.bytes.begin(), pk.bytes.end());
    auto id = ZP_TRY(dispatcher->worker_id_of(me));
    if (id == 0) {
        const u256 stake = opt.stake == 0 ? config.min_stake : opt.stake;
        ZP_TRY(call(0, "register:" + lower_hex(me), v2::calls::register_worker(offer), stake));
        id = ZP_TRY(dispatcher->worker_id_of(me));
        spdlog::info("registered as worker {} (stake {})", id, format_ether_human(stake));
    } else {
        const auto w = ZP_TRY(dispatcher->get_worker(id));
        if (w.status == v2::WorkerStatus::unregistering)
            return make_error(Errc::invalid_argument, "this account's worker " + std::to_string(id) + " is " +
                                                          std::string{v2::to_string(w.status)} +
                                                          ": use another account for a node");
        const bool same = w.price_per_second == offer.price_per_second && w.max_duration == offer.max_duration &&
                          w.cpu_millicores == offer.cpu_millicores && w.memory_mb == offer.memory_mb &&
                          w.public_key == offer.public_key;
        if (!same) {
            ZP_TRY(call(0, "update:" + std::to_string(now_ms()), v2::calls::update_worker(offer)));
            spdlog::info("worker {}: offer updated", id);
        }
        if (w.status == v2::WorkerStatus::paused && reachable())
            ZP_TRY(call(0, "resume:" + std::to_string(now_ms()), v2::calls::resume_worker()));
    }
    worker_id = id;
    return {};
}

/// After a slash took the stake below the minimum, the worker is no longer assigned work: the
/// node tops it up from its balance (logged; it fails in words when the balance is short).
void NodeContext::restake() {
    const auto id = worker_id.load();
    if (id == 0) return;
    auto w = dispatcher->get_worker(id);
    if (!w || w->status != v2::WorkerStatus::active || w->stake >= config.min_stake) return;
    const u256 missing = config.min_stake - w->stake;
    auto r = call(0, "restake:" + std::to_string(now_ms()), v2::calls::add_stake(), missing);
    if (r) spdlog::info("stake topped up by {} to the minimum after a slash", format_ether_human(missing));
    else spdlog::error("cannot top the stake up to the minimum ({} missing): {}", format_ether_human(missing), r.error().message());
}

}  // namespace zeppelin::node
