#include "zeppelin/node/context.hpp"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/probe/schedule.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

namespace {
/// How long after the start a probe due without the worker's brief waits for it (see probe_due).
constexpr std::int64_t kBriefGraceMs = 5000;

/// A batch's report is sent one second after its window opens (the verifier's clock against the
/// block's timestamp), in unix milliseconds.
std::int64_t report_moment_ms(const v2::AgreementView& v, std::uint64_t batch) {
    return static_cast<std::int64_t>(v2::report_opens_at(v.started_at(), v.period_seconds, v.billable_periods, batch) + 1) * 1000;
}
}  // namespace

Result<void> NodeContext::verifier_step(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto mine = worker_id.load();
    const auto it = std::find(v.verifier_ids.begin(), v.verifier_ids.end(), mine);
    if (it == v.verifier_ids.end() || a.rec.lost_role) return set_state(id, Phase::done);
    const auto index = static_cast<std::uint64_t>(it - v.verifier_ids.begin());
    if (v.status == AgreementStatus::settled || v.status == AgreementStatus::ended || v.status == AgreementStatus::none)
        return set_state(id, Phase::done);
    if (v.status != AgreementStatus::running) return set_state(id, Phase::waiting_for_start);
    ZP_CHECK(set_state(id, Phase::verifying));

    const std::int64_t period_ms = std::int64_t{v.period_seconds} * 1000;
    const std::int64_t start_ms = static_cast<std::int64_t>(v.started_at()) * 1000;
    const auto now = world->now_ms();
    if (now >= start_ms) {
        const auto cur = static_cast<std::uint64_t>((now - start_ms) / period_ms);
        if (cur < v.billable_periods) ZP_CHECK(probe_due(a, id, cur, start_ms, period_ms, v.period_seconds));
    } else {
        wake_at_ms(id, start_ms);
    }
    return report_aside(a, index, v);
}

Result<void> NodeContext::report_aside(const LocalAgreement& a, std::uint64_t index, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto batches = v2::batch_count(v.billable_periods);
    if (a.rec.reported_through >= batches) return set_state(id, Phase::done);
    const auto due_ms = report_moment_ms(v, a.rec.reported_through);
    if (world->now_ms() < due_ms) {
        wake_at_ms(id, due_ms);
        return {};
    }
    if (!pool) return report(a, index, v);
    // Every probe of the batch is stored: they were due before this step's end, and this
    // agreement's steps run one at a time. If a report job runs still, this one follows it.
    pool->post(id | kReportKey, [this, id, index, v] {
        auto row = local(id);
        auto r = row ? report(*row, index, v) : Result<void>{row.error()};
        if (!r) {
            if (!is_not_yet(r.error())) spdlog::warn("agreement {}: report: {}", id, r.error().message());
            wake_in(id, 2s);  // the step posts it again
        } else if (auto now = local(id); now && now->finished()) {
            wake(id);  // the step forgets what the node kept for it
        } else if (now && now->rec.reported_through < v2::batch_count(v.billable_periods)) {
            wake_at_ms(id, report_moment_ms(v, now->rec.reported_through));  // the next batch
        }
    });
    return {};
}

Result<void> NodeContext::probe_due(const LocalAgreement& a, std::uint64_t id, std::uint64_t cur, std::int64_t start_ms,
                       std::int64_t period_ms, std::uint32_t period_s) {
    // The worker's brief (endpoint and spec) comes in the transaction that drew the verifiers, but
    // the step woken by that draw may have read the row before the node filed the brief: read it
    // again. Still missing in the first seconds after the start, the due probes wait for it
    // instead of counting as failures of the worker; later its absence is the worker's failure.
    auto known = a.rec;
    if (!known.service)
        if (auto fresh = local(id); fresh) known = fresh->rec;
    if (!known.service && world->now_ms() < start_ms + kBriefGraceMs) {
        wake_in(id, 250ms);
        return {};
    }
    std::vector<std::chrono::milliseconds> due;
    {
        std::lock_guard lock{mu};
        auto& plan = plans[id];
        if (plan.period != cur) {
            probe::ScheduleConfig sc;
            sc.period = std::chrono::seconds{period_s};
            sc.probes_per_period = opt.probes_per_period;
            sc.margin = std::chrono::seconds{std::min<std::uint32_t>(30, period_s / 4)};
            plan = ProbePlan{cur, probe::draw_period_schedule(sc), 0};
        }
        const auto period_start = start_ms + static_cast<std::int64_t>(cur) * period_ms;
        while (plan.next < plan.offsets.size() && world->now_ms() >= period_start + plan.offsets[plan.next].count()) {
            due.push_back(plan.offsets[plan.next]);
            ++plan.next;
        }
        // The next probe instant, or the next period's start (which draws that period's plan).
        wake_at_ms(id, plan.next < plan.offsets.size() ? period_start + plan.offsets[plan.next].count()
                                                        : period_start + period_ms);
    }
    for (std::size_t i = 0; i < due.size(); ++i) {
        ProbeRecord rec{cur, false, "", world->now_ms()};
        if (!known.service) {
            rec.detail = "the worker announced no service endpoint";
        } else {
            auto spec = probe::from_json(known.spec.value_or(""));
            const probe::Spec s = spec ? *spec : tcp_spec();
            const probe::Endpoint ep{known.service->host, known.service->port};
            auto out = world->probe(s, ep, 3s);
            bool own_outage = false;
            if (!out.ok) {  // one retry: a dropped packet is not an outage
                own_outage = !world->reaches_world();  // also when its link is back by the retry's end
                std::this_thread::sleep_for(500ms);
                out = world->probe(s, ep, 3s);
            }
            rec.ok = out.ok;
            rec.detail = out.detail;
            // A failure while this node cannot reach the world either (before the retry or after
            // it) is its own outage, not the service's: inconclusive, and the period is not
            // reported on its account (issue 14).
            if (!rec.ok && (own_outage || !world->reaches_world())) {
                rec.inconclusive = true;
                rec.detail += "; inconclusive: this node could not reach its chain endpoint either";
            }
        }
        ZP_CHECK(store->add_probe(id, rec));
        metrics.counter("zeppelin_probes_total", "Probes made as a verifier")
            .inc({{"result", rec.ok ? "ok" : rec.inconclusive ? "inconclusive" : "failed"}});
        spdlog::info("agreement {}: probe in period {}: {} ({})", id, cur,
                     rec.ok ? "ok" : rec.inconclusive ? "inconclusive" : "FAILED", rec.detail);
    }
    return {};
}

Result<void> NodeContext::report(const LocalAgreement& a, std::uint64_t index, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto batches = v2::batch_count(v.billable_periods);
    const auto now_s = static_cast<std::uint64_t>(world->now_ms() / 1000);
    const auto probes = ZP_TRY(store->probes(id));
    auto through = a.rec.reported_through;
    for (; through < batches; ++through) {
        const auto b = through;
        if (world->now_ms() < report_moment_ms(v, b)) break;
        const auto closes = v2::report_closes_at(v.started_at(), v.period_seconds, v.billable_periods, b, config.report_window);
        if (now_s >= closes) {
            spdlog::warn("agreement {}: the report window of batch {} closed at {} before this verifier reported", id, b, closes);
            continue;
        }
        if (ZP_TRY(chain->reported(id, b, index))) continue;
        // What this node observed of each period: only conclusive probes count. A period it did
        // not observe (it was down, its own link was cut) is an abstention: counted neither paid
        // nor failed on this verifier's word, and no penalty (issue 14).
        const auto r = v2::report_batch(b, v.billable_periods, [&](std::uint64_t p) {
            bool observed = false;
            bool all_ok = true;
            for (const auto& pr : probes)
                if (pr.period == p && !pr.inconclusive) {
                    observed = true;
                    all_ok = all_ok && pr.ok;
                }
            return !observed ? v2::Vote::abstain : all_ok ? v2::Vote::ok : v2::Vote::failed;
        });
        if (r.confirm) {
            ZP_TRY(chain->send(id, "confirm:" + std::to_string(b), v2::calls::confirm_batch(id, b)));
        } else {
            ZP_TRY(chain->send(id, "report:" + std::to_string(b), v2::calls::submit_report(id, b, r.ok_words, r.voted_words)));
        }
        spdlog::info("agreement {}: batch {} reported: {} ok, {} failed, {} abstained", id, b, r.ok, r.failed, r.abstained);
    }
    ZP_CHECK(update(id, [through](LocalAgreement& la) { la.rec.reported_through = through; }));
    return through >= batches ? set_state(id, Phase::done) : Result<void>{};
}

}  // namespace zeppelin::node
