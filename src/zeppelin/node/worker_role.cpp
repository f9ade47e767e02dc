#include "zeppelin/node/context.hpp"

#include <algorithm>
#include <iterator>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/probe/spec.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

bool NodeContext::can_serve(const json& req) {
    if (!work) return false;
    const auto cpu = req.value("cpu_millicores", 0U);
    const auto mem = req.value("memory_mb", 0U);
    std::uint64_t used_cpu = 0;
    std::uint64_t used_mem = 0;
    auto all = store->list(false);
    if (!all) return false;
    for (const auto& la : *all) {
        if (la.role != Role::worker || la.phase == Phase::assigned) continue;
        auto k = store->get_known(la.id);
        if (!k || !*k) continue;
        used_cpu += (*k)->requirements.value("cpu_millicores", 0U);
        used_mem += (*k)->requirements.value("memory_mb", 0U);
    }
    return used_cpu + cpu <= opt.cpu_millicores && used_mem + mem <= opt.memory_mb;
}

Result<void> NodeContext::end_work(std::uint64_t id) {
    unmap_service(id);
    if (!work) return {};
    return work->end(std::to_string(id));
}

Result<void> NodeContext::worker_step(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    const auto drawn_here = v.status == AgreementStatus::purchased || v.worker_id == worker_id.load();
    if (!drawn_here || a.rec.lost_role) {
        (void)end_work(id);
        forget_transfer(id);
        return set_state(id, Phase::done);
    }
    auto known = ZP_TRY(store->get_known(id));
    if (!known) return make_error(Errc::not_found, "requirements of agreement " + std::to_string(id) + " unknown");
    const auto& req = known->requirements;
    switch (v.status) {
        case AgreementStatus::purchased:  // the preview picked this worker: its accept performs the draw
        case AgreementStatus::assigned:
            if (!can_serve(req)) {
                if (v.status == AgreementStatus::purchased) return set_state(id, Phase::done);  // drawn later: declined then
                spdlog::info("agreement {}: declining (no free capacity)", id);
                ZP_TRY(chain->send(id, "decline", v2::calls::decline_agreement(id)));
                return set_state(id, Phase::done);
            }
            {
                // The offer to the client travels in the accept: one transaction, one block.
                const auto offer = ZP_TRY(offer_envelope(id, v, req));
                ZP_TRY(chain->send(id, "accept", v2::calls::accept_agreement(id, offer)));
            }
            ZP_CHECK(set_state(id, Phase::accepted));
            wake_in(id, 2s);
            // Go on at once (the accept is mined) rather than at the next event or sweep.
            return worker_prepare(ZP_TRY(local(id)), ZP_TRY(chain->agreement(id)), req);
        case AgreementStatus::accepted:
            // The image's arrival wakes the step; the engine's progress and the start deadline do not.
            wake_in(id, 2s);
            return worker_prepare(a, v, req);
        case AgreementStatus::starting:
            ZP_CHECK(set_state(id, Phase::running));
            return brief_verifiers(a, v);
        case AgreementStatus::running:
            ZP_CHECK(set_state(id, Phase::running));
            // Restarted, this process reads the work's output on another port: the client is told
            // (the offer again, its log port new), or its `logs` finds nobody at the old one.
            if (transfer && !a.rec.offered.empty()) ZP_CHECK(offer_again_if_moved(a, v));
            if (a.rec.briefed != v.verifier_ids) ZP_CHECK(brief_verifiers(a, v));
            if (world_s() < v.end_of_service()) {
                ZP_CHECK(tell_if_moved(a, v));
                wake_at_ms(id, static_cast<std::int64_t>(v.end_of_service()) * 1000);
                return {};
            }
            if (!a.rec.work_ended) {
                ZP_CHECK(end_work(id));
                ZP_CHECK(update(id, [](LocalAgreement& la) { la.rec.work_ended = true; }));
            }
            // Settled once every verifier reported (a report event wakes this step), or once the
            // last report window closed; the pay lands in this worker's stake.
            wake_at_ms(id, static_cast<std::int64_t>(settle_by(v)) * 1000);
            return settle(id);
        case AgreementStatus::settled:
        case AgreementStatus::ended:
        case AgreementStatus::none:
            (void)end_work(id);
            forget_transfer(id);
            return set_state(id, Phase::done);
    }
    return {};
}

/// An ended agreement's transfer: the server's expectation and partial files, and what this
/// node kept in memory about it.
void NodeContext::forget_transfer(std::uint64_t id) {
    transfer->forget(std::to_string(id));
    std::lock_guard lock{mu};
    received.erase(id);
    incoming.erase(id);
    expected.erase(id);
}

Result<void> NodeContext::expect_image(std::uint64_t id, const LocalAgreement& a, const json& req) {
    if (a.rec.received || !a.rec.secret) return {};
    {
        std::lock_guard lock{mu};
        if (!expected.insert(id).second) return {};
    }
    const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
    return transfer->expect(std::to_string(id), *a.rec.secret, digest, opt.max_image_bytes);
}

Result<Bytes> NodeContext::offer_envelope(std::uint64_t id, const v2::AgreementView& v, const json& req) {
    auto a = ZP_TRY(local(id));
    if (!a.rec.secret) {
        const auto fresh = ZP_TRY(random_secret());
        ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.secret = fresh; }));
        a = ZP_TRY(local(id));
    }
    ZP_CHECK(expect_image(id, a, req));
    const auto [host, port] = public_endpoint("transfer", transfer->port());
    const auto logs_port = log_server ? public_endpoint("log", log_server->port()).second : std::uint16_t{0};
    const auto key = ZP_TRY(chain->client_key(id));
    auto packed = ZP_TRY(seal(id, {msg::Sealed{v.client, key, msg::TransferOffer{host, port, *a.rec.secret, logs_port}}}));
    const auto offered = std::to_string(port) + ":" + std::to_string(logs_port);  // (clang: no structured binding in a lambda)
    ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.offered = offered; }));
    return packed;
}

Result<void> NodeContext::offer_again_if_moved(const LocalAgreement& a, const v2::AgreementView& v) {
    if (!a.rec.secret || a.rec.offered.empty()) return {};
    const auto [host, port] = public_endpoint("transfer", transfer->port());
    const auto logs_port = log_server ? public_endpoint("log", log_server->port()).second : std::uint16_t{0};
    const auto offered = std::to_string(port) + ":" + std::to_string(logs_port);
    if (a.rec.offered == offered) return {};
    const auto key = ZP_TRY(chain->client_key(a.id));
    const auto packed = ZP_TRY(seal(a.id, {msg::Sealed{v.client, key, msg::TransferOffer{host, port, *a.rec.secret, logs_port}}}));
    ZP_TRY(chain->send(a.id, "post:transfer:" + offered, v2::calls::post_message(a.id, u256{v2::kClientBit}, packed)));
    return update(a.id, [&](LocalAgreement& la) { la.rec.offered = offered; });
}

Result<void> NodeContext::worker_prepare(const LocalAgreement& a_in, const v2::AgreementView& v, const json& req) {
    const auto id = a_in.id;
    const auto sid = std::to_string(id);
    if (a_in.rec.image_refused) return {};  // the client cancels; nothing to do
    const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
    const auto ref = "sha256:" + to_hex(digest, false);

    // 1-3. The secret and the offer went with the accept; the transfer server expects the image
    // (again after a restart), and a node that listens on other ports since tells the client so.
    ZP_CHECK(expect_image(id, a_in, req));
    ZP_CHECK(offer_again_if_moved(a_in, v));
    const auto a = ZP_TRY(local(id));
    if (a.rec.service_port == 0 && !a.rec.received && a.phase != Phase::waiting_for_image)
        ZP_CHECK(set_state(id, Phase::waiting_for_image));

    // 4. The image: one the engine holds already (content-addressed: the id is the committed
    // config digest), or the one the client sent, verified against that digest by the transfer
    // server. A held image is used only once this agreement's client has shown, in its transfer's
    // HELLO, the config that hashes to the digest: the digest is public on chain, and knowing it
    // must not be enough to run someone else's image.
    if (!a.rec.received && a.rec.service_port == 0) {
        auto held = a.rec.hello ? work->image(ref) : Result<runtime::ImageInfo>{Error{Errc::not_found, "no HELLO yet"}};
        if (held) {
            note_image(digest, false);
            ZP_CHECK(update(id, [&](LocalAgreement& la) {
                la.rec.received = ReceivedRecord{true, {}, {}};
                la.rec.exposed_ports = held->exposed_tcp_ports;
            }));
        } else {
            std::optional<Result<transfer::ReceivedImage>> got;
            std::optional<transfer::IncomingImage> arriving;
            {
                std::lock_guard lock{mu};
                if (auto it = received.find(id); it != received.end()) got = it->second;
                if (auto it = incoming.find(id); it != incoming.end()) arriving = it->second;
            }
            if (!got && arriving && image_registry && !a.rec.pull_tried && arriving_pulls.load() < kMaxArrivingPulls) {
                // The layers are arriving: the engine pulls them as they come, so that loading
                // overlaps the transfer. Once only; on failure the image is loaded when complete.
                ZP_CHECK(update(id, [](LocalAgreement& la) { la.rec.pull_tried = true; }));
                const auto t0 = std::chrono::steady_clock::now();
                ++arriving_pulls;
                auto r = pull_arriving(id, digest, *arriving);
                --arriving_pulls;
                if (!r) {
                    spdlog::info("agreement {}: pulling the image while it arrived did not work ({}); it is loaded once complete",
                                 id, r.error().message());
                } else {
                    spdlog::info("agreement {}: image {} in the engine {} ms after its transfer began", id,
                                 transfer::short_digest(digest),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
                    note_image(digest, true);
                    ZP_CHECK(record_received(id, arriving->config, arriving->diff_ids));
                    return worker_prepare(ZP_TRY(local(id)), v, req);
                }
                std::lock_guard lock{mu};
                if (auto it = received.find(id); it != received.end()) got = it->second;
            }
            if (!got) {
                if (auto cur = local(id); cur && !cur->rec.offered.empty())
                    watch_first_contact(id, cur->rec.hello || arriving.has_value());
                return {};
            }
            if (!*got) {
                const auto reason = got->error().message();
                spdlog::warn("agreement {}: image refused: {}", id, reason);
                const auto key = ZP_TRY(chain->client_key(id));
                const auto packed = ZP_TRY(seal(id, {msg::Sealed{v.client, key, msg::ImageRejected{reason}}}));
                ZP_TRY(chain->send(id, "post:rejected", v2::calls::post_message(id, u256{v2::kClientBit}, packed)));
                ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.image_refused = reason; }));
                return set_state(id, Phase::image_refused);
            }
            ZP_CHECK(record_received(id, (*got)->config, (*got)->diff_ids));
        }
    }

    // 5. Run it with the agreed limits.
    if (a.rec.service_port == 0) {
        ZP_CHECK(set_state(id, Phase::starting_work));
        const auto cur = ZP_TRY(local(id));
        const auto t0 = std::chrono::steady_clock::now();
        const auto ms = [&t0] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        };
        if (!work->image(ref)) {
            ZP_CHECK(bring_image(id, digest, cur.rec.received.value_or(ReceivedRecord{})));
            note_image(digest, true);
            spdlog::info("agreement {}: image {} in the engine after {} ms", id, transfer::short_digest(digest), ms());
        }
        runtime::WorkSpec spec;
        spec.agreement_id = sid;
        spec.worker_id = runtime_id;
        spec.image = ref;
        spec.memory_bytes = std::uint64_t{std::max(req.value("memory_mb", 64U), 16U)} << 20;
        spec.nano_cpus = std::uint64_t{std::max(req.value("cpu_millicores", 100U), 10U)} * 1'000'000;
        const auto& ports = cur.rec.exposed_ports;
        spec.container_port = ports.empty() ? std::uint16_t{8080} : ports.front();
        spec.host_ip = opt.service_ip;
        // A container already running for this agreement (the node restarted between starting
        // it and recording it) is adopted, not started twice.
        auto existing = work->find(sid);
        std::optional<runtime::RunningWork> running;
        if (existing && existing->state == "running" && existing->host_port != 0) {
            running = std::move(*existing);
        } else {
            auto host_port = cur.rec.planned_port;
            if (host_port == 0) {
                host_port = ZP_TRY(choose_service_port(id));
                ZP_CHECK(update(id, [host_port](LocalAgreement& la) { la.rec.planned_port = host_port; }));
            }
            spec.host_port = host_port;
            ZP_CHECK(map_service(id, host_port));
            auto started = work->start(spec);
            if (!started) {
                // Only a port taken meanwhile calls for another port; any other failure retries on
                // the same one.
                if (started.error().code() == Errc::address_in_use)
                    (void)update(id, [](LocalAgreement& la) { la.rec.planned_port = 0; });
                return started.error();
            }
            running = std::move(*started);
        }
        spdlog::info("agreement {}: container {} serving on port {} after {} ms", id, running->container_id.substr(0, 12),
                     running->host_port, ms());
        ZP_CHECK(update(id, [&](LocalAgreement& la) {
            la.rec.service_port = running->host_port;
            la.rec.container = running->container_id;
        }));
    }
    // 6. The service runs: checked against the client's spec, then the paid clock starts.
    return check_and_start(ZP_TRY(local(id)), v);
}

namespace {
// An honest image may take a moment to serve: the worker probes its own service with the client's
// spec for this long before it concludes that the spec cannot be met and reveals it (rejectSpec).
constexpr std::int64_t kSpecGraceMs = 30'000;
}  // namespace

Result<void> NodeContext::check_and_start(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    if (!a.rec.spec || !a.rec.salt) return set_state(id, Phase::checking_spec);  // its message wakes the step
    const auto spec = ZP_TRY(probe::from_json(*a.rec.spec));
    const auto local_host = opt.service_ip.empty() || opt.service_ip == "0.0.0.0" ? std::string{"127.0.0.1"} : opt.service_ip;
    const auto out = world->probe(spec, probe::Endpoint{local_host, a.rec.service_port}, 3s);
    if (!out.ok) {
        const auto now = world->now_ms();
        const auto since = a.rec.spec_check_since_ms != 0 ? a.rec.spec_check_since_ms : now;
        if (a.rec.spec_check_since_ms == 0) ZP_CHECK(update(id, [now](LocalAgreement& la) { la.rec.spec_check_since_ms = now; }));
        if (now - since < kSpecGraceMs) {
            wake_in(id, 1s);
            return set_state(id, Phase::checking_spec);
        }
        spdlog::warn("agreement {}: the service fails the client's probe spec for {} s ({}): revealing and rejecting the spec",
                     id, (now - since) / 1000, out.detail);
        const Bytes revealed(a.rec.spec->begin(), a.rec.spec->end());
        ZP_TRY(chain->send(id, "reject-spec", v2::calls::reject_spec(id, revealed, *a.rec.salt)));
        ZP_CHECK(update(id, [&](LocalAgreement& la) {
            la.rec.last_error = "the service failed the client's probe spec (" + out.detail + "): spec rejected, nobody pays";
        }));
        (void)end_work(id);
        forget_transfer(id);
        return set_state(id, Phase::done);
    }
    // The endpoint to the client travels in the start.
    const auto [host, external] = public_endpoint(service_purpose(id), a.rec.service_port);
    const auto key = ZP_TRY(chain->client_key(id));
    const auto packed = ZP_TRY(seal(id, {msg::Sealed{v.client, key, msg::ServiceReady{host, external}}}));
    ZP_TRY(chain->send(id, "start", v2::calls::start_agreement(id, packed)));
    ZP_CHECK(update(id, [host = host, external = external](LocalAgreement& la) {
        la.rec.announced = external;
        la.rec.announced_host = host;
    }));
    ZP_CHECK(set_state(id, Phase::running));
    wake_in(id, 1s);  // the verifiers are drawn from a later block
    return {};
}

Result<std::vector<msg::Sealed>> NodeContext::briefs_for(const std::vector<std::uint32_t>& ids, const msg::VerifierBrief& brief) {
    std::vector<msg::Sealed> to;
    for (const auto vid : ids) {
        const auto [owner, key] = ZP_TRY(chain->worker_identity(vid));
        to.push_back(msg::Sealed{owner, key, brief});
    }
    return to;
}

Result<void> NodeContext::tell_if_moved(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    if (a.rec.announced_host.empty() || a.rec.service_port == 0 || !a.rec.spec || !a.rec.salt) return {};
    const auto [host, external] = public_endpoint(service_purpose(id), a.rec.service_port);
    if (host.empty() || (host == a.rec.announced_host && external == a.rec.announced)) return {};
    // The router's external address (or its port for the service) changed while the work runs:
    // the client and every verifier learn the new endpoint in one message, or the verifiers would
    // probe the old one until the end and report the periods failed.
    std::vector<msg::Sealed> to;
    to.push_back(msg::Sealed{v.client, ZP_TRY(chain->client_key(id)), msg::ServiceReady{host, external}});
    auto briefs = ZP_TRY(briefs_for(v.verifier_ids, msg::VerifierBrief{*a.rec.spec, *a.rec.salt, host, external}));
    to.insert(to.end(), std::make_move_iterator(briefs.begin()), std::make_move_iterator(briefs.end()));
    const auto packed = ZP_TRY(seal(id, to));
    const auto now = host + ":" + std::to_string(external);
    const auto recipients = u256{v2::kClientBit | v2::all_verifiers(v.verifier_ids.size())};
    ZP_TRY(chain->send(id, "post:moved:" + now, v2::calls::post_message(id, recipients, packed)));
    spdlog::info("agreement {}: its service moved from {}:{} to {}: the client and {} verifier(s) told", id,
                 a.rec.announced_host, a.rec.announced, now, v.verifier_ids.size());
    // (Copied into the lambda: clang 14 does not capture structured bindings.)
    return update(id, [host = host, external = external](LocalAgreement& la) {
        la.rec.announced = external;
        la.rec.announced_host = host;
    });
}

Result<void> NodeContext::brief_verifiers(const LocalAgreement& a, const v2::AgreementView& v) {
    const auto id = a.id;
    if (!a.rec.spec || !a.rec.salt || a.rec.service_port == 0)
        return make_error(Errc::internal, "agreement " + std::to_string(id) + ": no spec or service to brief verifiers on");
    const auto [host, external] = public_endpoint(service_purpose(id), a.rec.service_port);
    const msg::VerifierBrief brief{*a.rec.spec, *a.rec.salt, host, external};
    const bool drawing = v.status == AgreementStatus::starting;
    auto ids = drawing ? ZP_TRY(chain->preview_verifiers(id)) : v.verifier_ids;
    if (ids.empty()) {
        // Not ready (the draw block is not mined yet), or too few eligible verifiers: then, a few
        // blocks on, the draw itself ends the agreement and unlocks this worker's stake.
        if (drawing && head.load() > v.draw_block + 2)
            ZP_TRY(chain->send(id, "draw-verifiers:" + std::to_string(v.draw_block), v2::calls::draw_verifiers(id, {})));
        wake_in(id, 1s);
        return {};
    }
    std::string list;
    for (const auto vid : ids) list += (list.empty() ? "" : ",") + std::to_string(vid);
    const auto to = ZP_TRY(briefs_for(ids, brief));
    const auto packed = ZP_TRY(seal(id, to));
    if (drawing) {
        ZP_TRY(chain->send(id, "draw-verifiers:" + std::to_string(v.draw_block), v2::calls::draw_verifiers(id, packed)));
    } else {
        // The draw picked others than the preview (an offer changed in between): briefed again.
        ZP_TRY(chain->send(id, "post:brief:" + list, v2::calls::post_message(id, u256{v2::all_verifiers(ids.size())}, packed)));
    }
    ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.briefed = ids; }));
    spdlog::info("agreement {}: verifiers {} briefed", id, list);
    return {};
}

Result<void> NodeContext::record_received(std::uint64_t id, const Bytes& config_bytes, const std::vector<transfer::Digest>& ids) {
    ReceivedRecord got;
    got.config_hex = to_hex(config_bytes, false);
    for (const auto& d : ids) got.diff_ids.push_back(transfer::digest_string(d));
    return update(id, [&](LocalAgreement& la) {
        la.rec.received = std::move(got);
        la.rec.exposed_ports = exposed_ports(config_bytes);
    });
}

}  // namespace zeppelin::node
