#include "zeppelin/node/context.hpp"

#include <algorithm>
#include <future>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/transfer/client.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

Result<void> NodeContext::client_step(const LocalAgreement& a, const market::AgreementView& v) {
    const auto id = a.id;
    const auto now = world_s();
    switch (v.status) {
        case AgreementStatus::assigned:
            ZP_CHECK(set_state(id, Phase::waiting_for_acceptance));
            wake_at_ms(id, static_cast<std::int64_t>(v.accept_deadline + 2) * 1000);  // then the worker is replaced
            ZP_CHECK(send_probe_spec(a, v));
            if (now > v.accept_deadline + 1) {
                auto r = chain->send(id, "reassign:" + std::to_string(v.accept_deadline), market::calls::reassign_agreement(id));
                if (!r && !is_not_yet(r.error())) return r.error();
            }
            return {};
        case AgreementStatus::accepted: {
            wake_at_ms(id, static_cast<std::int64_t>(v.start_deadline + 2) * 1000);  // then the deposit comes back
            ZP_CHECK(send_probe_spec(a, v));
            if (a.rec.image_refused) {
                spdlog::warn("agreement {}: the worker refused the image: {}", id, *a.rec.image_refused);
                ZP_TRY(chain->send(id, "cancel", market::calls::cancel_agreement(id)));
                return set_state(id, Phase::cancelled);
            }
            if (now > v.start_deadline + 1) {
                auto r = chain->send(id, "expire", market::calls::expire_agreement(id));
                if (!r && !is_not_yet(r.error())) return r.error();
                return {};
            }
            if (a.rec.transfer && !a.rec.transferred) return client_transfer(a, v);
            return set_state(id, a.rec.transferred ? Phase::waiting_for_service : Phase::waiting_for_worker);
        }
        case AgreementStatus::running: {
            ZP_CHECK(send_probe_spec(a, v));
            if (a.rec.service && !a.rec.first_ok_ms) {
                auto spec = probe::from_json(a.rec.spec.value_or(""));
                const auto out = world->probe(spec ? *spec : tcp_spec(), {a.rec.service->host, a.rec.service->port}, 2s);
                if (out.ok) ZP_CHECK(update(id, [t = world->now_ms()](LocalAgreement& la) { la.rec.first_ok_ms = t; }));
                else wake_in(id, 1s);  // the service's first answer is measured to the second
            }
            wake_at_ms(id, static_cast<std::int64_t>(end_of(v)) * 1000);
            // Stopped by the client (`zeppelin stop`, recorded; also in the last period, where the
            // view shows no cut): its last period runs out, then it settles.
            if (v.billable_periods < v.periods) ZP_CHECK(mark_stopped(id));
            ZP_CHECK(set_running_state(id, a.rec.service ? Phase::running : Phase::starting));
            if (now >= end_of(v)) return claim(id);
            return {};
        }
        case AgreementStatus::settled:
        case AgreementStatus::refunded:
            if (!v.client_refunded) ZP_CHECK(claim(id));
            return set_state(id, Phase::done);
        case AgreementStatus::none: return set_state(id, Phase::done);
    }
    return {};
}

Result<void> NodeContext::claim(std::uint64_t id) {
    auto r = chain->send(id, "claim", market::calls::claim_refund(id));
    if (!r) return r.error();
    return {};
}

Result<void> NodeContext::send_probe_spec(const LocalAgreement& a, const market::AgreementView& v) {
    if (!a.rec.spec || a.rec.spec->empty()) return {};
    const msg::ProbeSpec spec{*a.rec.spec};
    // To every verifier together (the sender numbers them): one block for all, not one each.
    std::vector<std::pair<Address, eth::PublicKey>> to;
    for (const auto vid : v.verifier_ids) to.push_back(ZP_TRY(chain->worker_identity(vid)));
    std::vector<std::future<Result<void>>> posts;
    for (const auto& [addr, key] : to)
        posts.push_back(std::async(std::launch::async, [this, id = a.id, addr = addr, key = key, &spec] {
            return chain->post(id, addr, key, spec, "post:probe:" + lower_hex(addr));
        }));
    Result<void> all{};
    for (auto& f : posts)
        if (auto r = f.get(); !r && all) all = r.error();
    return all;
}

Result<void> NodeContext::client_transfer(const LocalAgreement& a, const market::AgreementView& v) {
    const auto id = a.id;
    const auto& t = *a.rec.transfer;
    if (t.worker_id != v.worker_id) return {};  // an offer of a former worker
    const auto secret = t.secret;
    const transfer::Endpoint ep{t.host, t.port};
    const fs::path archive = a.rec.image;
    ZP_CHECK(set_state(id, Phase::transferring));
    transfer::SendOptions so;
    so.progress = [this, id](const transfer::Progress& p) {
        std::string failed;  // a new failed attempt: shown at once (`run`, `ps`), not after the last
        {
            std::lock_guard lock{mu};
            auto& last = progress[id];
            if (!p.error.empty() && p.error != last.error) failed = p.error;
            last = p;
        }
        if (failed.empty()) return;
        spdlog::warn("agreement {}: transfer: {}", id, failed);
        (void)update(id, [&](LocalAgreement& la) { la.rec.transfer_error = failed; });
    };
    std::optional<transfer::ImageInfo> known;
    {
        std::lock_guard lock{mu};
        std::error_code ec;
        if (auto it = inspected.find(id); it != inspected.end() && fs::file_size(archive, ec) == it->second.size &&
                                          fs::last_write_time(archive, ec) == it->second.mtime && !ec)
            known = it->second.info;
    }
    auto stats = known ? transfer::send_image(ep, std::to_string(id), secret, archive, *known, so)
                       : transfer::send_image(ep, std::to_string(id), secret, archive, so);
    if (!stats) {
        ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.transfer_error = stats.error().message(); }));
        if (is_permanent_transfer_error(stats.error().code())) {
            spdlog::warn("agreement {}: transfer failed for good: {}; cancelling", id, stats.error().message());
            ZP_TRY(chain->send(id, "cancel", market::calls::cancel_agreement(id)));
            return set_state(id, Phase::cancelled);
        }
        return stats.error().wrap("image transfer");
    }
    {
        std::lock_guard lock{mu};
        progress[id].finished = true;
    }
    ZP_CHECK(update(id, [&](LocalAgreement& la) {
        la.rec.transferred = true;
        la.rec.transfer_error.clear();
        la.rec.transfer_stats =
            TransferStatsRecord{stats->image_bytes, stats->wire_bytes, stats->layers_sent, stats->layers_skipped, stats->seconds};
        la.phase = Phase::waiting_for_service;
    }));
    spdlog::info("agreement {}: image sent ({} layers sent, {} already held, {} bytes on the wire)", id,
                 stats->layers_sent, stats->layers_skipped, stats->wire_bytes);
    return {};
}

}  // namespace zeppelin::node
