#include "zeppelin/node/context.hpp"

#include <algorithm>

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
            if (a.data.contains("rejected")) {
                spdlog::warn("agreement {}: the worker rejected the image: {}", id, a.data["rejected"].get<std::string>());
                ZP_TRY(chain->send(id, "cancel", market::calls::cancel_agreement(id)));
                return set_state(id, Phase::cancelled);
            }
            if (now > v.start_deadline + 1) {
                auto r = chain->send(id, "expire", market::calls::expire_agreement(id));
                if (!r && !is_not_yet(r.error())) return r.error();
                return {};
            }
            if (a.data.contains("transfer") && !a.data.value("transferred", false)) return client_transfer(a, v);
            return set_state(id, a.data.value("transferred", false) ? Phase::waiting_for_service : Phase::waiting_for_worker);
        }
        case AgreementStatus::running: {
            ZP_CHECK(send_probe_spec(a, v));
            if (a.data.contains("service") && !a.data.contains("first_ok_ms")) {
                const auto& s = a.data["service"];
                auto spec = probe::from_json(a.data.value("spec", std::string{}));
                const auto out = world->probe(spec ? *spec : tcp_spec(),
                                            {s["host"].get<std::string>(), s["port"].get<std::uint16_t>()}, 2s);
                if (out.ok) ZP_CHECK(set_data(id, "first_ok_ms", world->now_ms()));
                else wake_in(id, 1s);  // the service's first answer is measured to the second
            }
            wake_at_ms(id, static_cast<std::int64_t>(end_of(v)) * 1000);
            ZP_CHECK(set_state(id, a.data.contains("service") ? Phase::running : Phase::starting));
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
    const auto spec = a.data.value("spec", std::string{});
    if (spec.empty()) return {};
    for (const auto vid : v.verifier_ids) {
        const auto [addr, key] = ZP_TRY(chain->worker_identity(vid));
        ZP_CHECK(chain->post(a.id, addr, key, msg::ProbeSpec{spec}, "post:probe:" + lower_hex(addr)));
    }
    return {};
}

Result<void> NodeContext::client_transfer(const LocalAgreement& a, const market::AgreementView& v) {
    const auto id = a.id;
    const auto& t = a.data["transfer"];
    if (t.value("worker_id", std::uint64_t{0}) != v.worker_id) return {};  // an offer of a former worker
    const auto secret = ZP_TRY(fixed_from_hex<32>(t["secret"].get<std::string>()));
    const transfer::Endpoint ep{t["host"].get<std::string>(), t["port"].get<std::uint16_t>()};
    const fs::path archive = a.data.value("image", std::string{});
    ZP_CHECK(set_state(id, Phase::transferring));
    transfer::SendOptions so;
    so.progress = [this, id](const transfer::Progress& p) {
        std::lock_guard lock{mu};
        progress[id] = p;
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
        ZP_CHECK(set_data(id, "transfer_error", stats.error().message()));
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
        la.data["transferred"] = true;
        la.data["transfer_stats"] = json{{"image_bytes", stats->image_bytes},
                                         {"wire_bytes", stats->wire_bytes},
                                         {"layers_sent", stats->layers_sent},
                                         {"layers_skipped", stats->layers_skipped},
                                         {"seconds", stats->seconds}};
        la.phase = Phase::waiting_for_service;
    }));
    spdlog::info("agreement {}: image sent ({} layers sent, {} already held, {} bytes on the wire)", id,
                 stats->layers_sent, stats->layers_skipped, stats->wire_bytes);
    return {};
}

}  // namespace zeppelin::node
