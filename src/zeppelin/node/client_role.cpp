#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/transfer/client.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

namespace {
// A purchase is drawn by the drawn worker's accept. When none comes this long after the purchase
// (the worker is offline), the client draws itself: that records the worker and starts its accept
// deadline, or ends the agreement with a full refund when nobody is eligible.
constexpr std::int64_t kDrawAfterMs = 20'000;
// The worker settles as soon as every report is in (it wants its pay); the client only after the
// report window closed and this much more, so that both do not pay for the same settlement.
constexpr std::uint64_t kClientSettleGrace = 30;
}  // namespace

Result<void> NodeContext::client_step(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto now = world_s();
    switch (v.status) {
        case AgreementStatus::purchased: {
            ZP_CHECK(set_state(id, Phase::waiting_for_acceptance));
            const auto waited = a.rec.submitted_ms == 0 ? kDrawAfterMs : world->now_ms() - a.rec.submitted_ms;
            if (waited < kDrawAfterMs) {
                wake_in(id, std::chrono::milliseconds{kDrawAfterMs - waited});
                return {};
            }
            wake_in(id, 5s);
            auto r = chain->send(id, "draw:" + std::to_string(v.draw_block), v2::calls::draw(id));
            if (!r && !is_not_yet(r.error())) return r.error();
            return {};
        }
        case AgreementStatus::assigned:
            ZP_CHECK(set_state(id, Phase::waiting_for_acceptance));
            wake_at_ms(id, static_cast<std::int64_t>(v.deadline + 2) * 1000);  // then the worker is replaced
            if (now > v.deadline + 1) {
                auto r = chain->send(id, "reassign:" + std::to_string(v.deadline), v2::calls::reassign_agreement(id));
                if (!r && !is_not_yet(r.error())) return r.error();
            }
            return {};
        case AgreementStatus::accepted: {
            wake_at_ms(id, static_cast<std::int64_t>(v.deadline + 2) * 1000);  // then the deposit comes back
            if (a.rec.image_refused) {
                spdlog::warn("agreement {}: the worker refused the image: {}", id, *a.rec.image_refused);
                ZP_TRY(chain->send(id, "cancel", v2::calls::cancel_agreement(id)));
                return set_state(id, Phase::cancelled);
            }
            if (now > v.deadline + 1) {
                auto r = chain->send(id, "expire", v2::calls::expire_agreement(id));
                if (!r && !is_not_yet(r.error())) return r.error();
                return {};
            }
            // The spec travels in the transfer's HELLO: the worker checks its service against it
            // as soon as the container runs.
            if (a.rec.transfer && !a.rec.transferred) ZP_CHECK(client_transfer(a, v));
            const auto cur = ZP_TRY(local(id));
            if (cur.finished() || cur.phase == Phase::cancelled) return {};
            return set_state(id, cur.rec.transferred ? Phase::waiting_for_service : Phase::waiting_for_worker);
        }
        case AgreementStatus::starting:
            // The worker's service passed the spec and its endpoint came with the start: the client
            // may use it now (`run` returns when it answers); the paid clock starts when the
            // verifiers are drawn, from the next block.
            ZP_CHECK(note_first_answer(a));
            return set_state(id, Phase::starting);
        case AgreementStatus::running: {
            ZP_CHECK(note_first_answer(a));
            // Stopped by the client (`zeppelin stop`, recorded; also in the last period, where the
            // view shows no cut): its last period runs out, then it settles.
            if (v.billable_periods < v.periods) ZP_CHECK(mark_stopped(id));
            ZP_CHECK(set_running_state(id, a.rec.service ? Phase::running : Phase::starting));
            const auto settle_at = settle_by(v) + kClientSettleGrace;
            wake_at_ms(id, static_cast<std::int64_t>(now < v.end_of_service() ? v.end_of_service() : settle_at) * 1000);
            if (now >= settle_at) return settle(id);
            return {};
        }
        case AgreementStatus::settled:
        case AgreementStatus::ended:
            ZP_CHECK(withdraw_credit(id));
            return set_state(id, a.phase == Phase::cancelled ? Phase::cancelled : Phase::done);
        case AgreementStatus::none: return set_state(id, Phase::done);
    }
    return {};
}

Result<void> NodeContext::note_first_answer(const LocalAgreement& a) {
    if (!a.rec.service || a.rec.first_ok_ms) return {};
    auto spec = probe::from_json(a.rec.spec.value_or(""));
    const auto out = world->probe(spec ? *spec : tcp_spec(), {a.rec.service->host, a.rec.service->port}, 2s);
    if (out.ok) return update(a.id, [t = world->now_ms()](LocalAgreement& la) { la.rec.first_ok_ms = t; });
    wake_in(a.id, 1s);  // the service's first answer is measured to the second
    return {};
}

Result<void> NodeContext::withdraw_credit(std::uint64_t id) {
    const auto credit = ZP_TRY(chain->credit());
    if (credit == 0) return {};  // nothing back, or taken out with another agreement's
    ZP_TRY(chain->send(id, "withdraw", v2::calls::withdraw()));
    spdlog::info("agreement {}: {} withdrawn", id, format_amount(credit));
    return {};
}

Result<void> NodeContext::client_transfer(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto& t = *a.rec.transfer;
    if (t.worker_id != v.worker_id) return {};  // an offer of a former worker
    const auto secret = t.secret;
    const transfer::Endpoint ep{t.host, t.port};
    const fs::path archive = a.rec.image;
    ZP_CHECK(set_state(id, Phase::transferring));
    transfer::SendOptions so;
    if (a.rec.spec && a.rec.salt) so.spec = transfer::protocol::SpecReveal{*a.rec.spec, *a.rec.salt};
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
            ZP_TRY(chain->send(id, "cancel", v2::calls::cancel_agreement(id)));
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
