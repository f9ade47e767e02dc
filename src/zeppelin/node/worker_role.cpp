#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
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

Result<void> NodeContext::worker_step(const LocalAgreement& a, const market::AgreementView& v) {
    const auto id = a.id;
    if (v.worker_id != worker_id.load() || a.rec.lost_role) {
        (void)end_work(id);
        forget_transfer(id);
        return set_state(id, Phase::done);
    }
    auto known = ZP_TRY(store->get_known(id));
    if (!known) return make_error(Errc::not_found, "requirements of agreement " + std::to_string(id) + " unknown");
    const auto& req = known->requirements;
    switch (v.status) {
        case AgreementStatus::assigned:
            if (!can_serve(req)) {
                spdlog::info("agreement {}: declining (no free capacity)", id);
                ZP_TRY(chain->send(id, "decline", market::calls::decline_agreement(id)));
                return set_state(id, Phase::done);
            }
            {
                // The offer goes out with the accept (any party may post a message; the client
                // sends the image once the accept is mined), not one block after it.
                auto offer = ZP_TRY(offer_transfer(id, v, req));
                auto accepted = chain->send(id, "accept", market::calls::accept_agreement(id));
                const auto offered = offer.valid() ? offer.get() : Result<void>{};
                ZP_TRY(accepted);
                ZP_CHECK(offered);
            }
            ZP_CHECK(set_state(id, Phase::accepted));
            wake_in(id, 2s);
            // Go on at once (the accept is mined) rather than at the next event or sweep.
            return worker_prepare(ZP_TRY(local(id)), ZP_TRY(chain->agreement(id)), req);
        case AgreementStatus::accepted:
            // The image's arrival wakes the step; the engine's progress and the start deadline do not.
            wake_in(id, 2s);
            return worker_prepare(a, v, req);
        case AgreementStatus::running:
            ZP_CHECK(set_state(id, Phase::running));
            // Restarted, this process reads the work's output on another port: the client is told
            // (the offer again, its log port new), or its `logs` finds nobody at the old one.
            if (transfer && !a.rec.offered.empty())
                if (auto offer = ZP_TRY(offer_transfer(id, v, req)); offer.valid()) ZP_CHECK(offer.get());
            wake_at_ms(id, static_cast<std::int64_t>(end_of(v)) * 1000);
            if (world_s() >= end_of(v)) {
                if (!a.rec.work_ended) {
                    ZP_CHECK(end_work(id));
                    ZP_CHECK(update(id, [](LocalAgreement& la) { la.rec.work_ended = true; }));
                }
                return redeem(id);
            }
            return {};
        case AgreementStatus::settled:
            if (!v.worker_redeemed) ZP_CHECK(redeem(id));
            (void)end_work(id);
            forget_transfer(id);
            return set_state(id, Phase::done);
        case AgreementStatus::refunded:
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

Result<void> NodeContext::redeem(std::uint64_t id) {
    auto r = chain->send(id, "redeem", market::calls::redeem_payment(id));
    if (!r) return r.error();
    return {};
}

/// Steps 1-3 of worker_prepare: a transfer secret (drawn once, stored before anything is sent),
/// the transfer server expecting the image (again after a restart), and the offer to the client
/// (again if this process listens on other ports). Returns the offer being posted, if one is:
/// it is mined while the caller goes on.
Result<std::future<Result<void>>> NodeContext::offer_transfer(std::uint64_t id, const market::AgreementView& v, const json& req) {
    auto a = ZP_TRY(local(id));
    if (!a.rec.secret) {
        const auto fresh = ZP_TRY(random_secret());
        ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.secret = fresh; }));
        a = ZP_TRY(local(id));
    }
    const auto secret = *a.rec.secret;
    if (!a.rec.received) {
        bool need = false;
        {
            std::lock_guard lock{mu};
            need = expected.insert(id).second;
        }
        const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
        if (need) ZP_CHECK(transfer->expect(std::to_string(id), secret, digest, opt.max_image_bytes));
    }
    const auto [host, port] = public_endpoint("transfer", transfer->port());
    const auto logs_port = log_server ? public_endpoint("log", log_server->port()).second : std::uint16_t{0};
    const auto offered = std::to_string(port) + ":" + std::to_string(logs_port);
    if (a.rec.offered == offered) return std::future<Result<void>>{};
    return std::async(std::launch::async, [this, id, client = v.client, offered, host = host, port = port, logs_port, secret]() -> Result<void> {
        const auto key = ZP_TRY(chain->client_key(id));
        ZP_CHECK(chain->post(id, client, key, msg::TransferOffer{host, port, secret, logs_port},
                      "post:transfer:" + offered));
        return update(id, [&](LocalAgreement& la) { la.rec.offered = offered; });
    });
}

Result<void> NodeContext::worker_prepare(const LocalAgreement& a_in, const market::AgreementView& v, const json& req) {
    const auto id = a_in.id;
    const auto sid = std::to_string(id);
    if (a_in.rec.image_refused) return {};  // the client cancels; nothing to do
    const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
    const auto ref = "sha256:" + to_hex(digest, false);

    // 1-3. Secret, expectation, offer. The offer is mined while this step goes on: when the
    // engine holds the image already, the container starts meanwhile. Every return below waits
    // for it (the future's destructor).
    auto offer = ZP_TRY(offer_transfer(id, v, req));
    const auto a = ZP_TRY(local(id));
    if (a.rec.service_port == 0 && !a.rec.received && a.phase != Phase::waiting_for_image)
        ZP_CHECK(set_state(id, Phase::waiting_for_image));
    const auto offer_posted = [&]() -> Result<void> { return offer.valid() ? offer.get() : Result<void>{}; };

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
                ZP_CHECK(offer_posted());
                if (auto cur = local(id); cur && !cur->rec.offered.empty())
                    watch_first_contact(id, cur->rec.hello || arriving.has_value());
                return {};
            }
            if (!*got) {
                ZP_CHECK(offer_posted());
                const auto reason = got->error().message();
                spdlog::warn("agreement {}: image refused: {}", id, reason);
                const auto key = ZP_TRY(chain->client_key(id));
                ZP_CHECK(chain->post(id, v.client, key, msg::ImageRejected{reason}, "post:rejected"));
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
            // The host port is chosen here, so that the endpoint is announced while the container
            // starts (nobody probes before the paid clock starts, below).
            auto host_port = cur.rec.planned_port;
            if (host_port == 0) {
                host_port = ZP_TRY(choose_service_port(id));
                ZP_CHECK(update(id, [host_port](LocalAgreement& la) { la.rec.planned_port = host_port; }));
            }
            spec.host_port = host_port;
            ZP_CHECK(map_service(id, host_port));
            auto announced = std::async(std::launch::async, [this, &cur, &v, host_port] { return announce_service(cur, v, host_port); });
            auto started = work->start(spec);
            // Once the container runs and every announcement is signed, the start may go: it gets a
            // higher nonce, so it is mined in the announcements' block or after, never before (one
            // block less on the way to the service). Below, the start is then found mined.
            while (started && announced.wait_for(20ms) != std::future_status::ready) {
                if (!announcements_signed(id, v, host_port)) continue;
                (void)chain->send(id, "start", market::calls::start_agreement(id));  // a failure: sent again below
                break;
            }
            const auto told = announced.get();
            if (!started) {
                // Only a port taken meanwhile calls for another port (and another announcement);
                // any other failure retries on the same one, announced already, at no cost.
                if (started.error().code() == Errc::address_in_use)
                    (void)update(id, [](LocalAgreement& la) { la.rec.planned_port = 0; });
                return started.error();
            }
            ZP_CHECK(told);
            running = std::move(*started);
        }
        spdlog::info("agreement {}: container {} serving on port {} after {} ms", id, running->container_id.substr(0, 12),
                     running->host_port, ms());
        ZP_CHECK(update(id, [&](LocalAgreement& la) {
            la.rec.service_port = running->host_port;
            la.rec.container = running->container_id;
        }));
    }
    ZP_CHECK(offer_posted());
    const auto cur = ZP_TRY(local(id));
    if (cur.rec.offered.empty()) return worker_prepare(cur, v, req);

    // 6. The client and every verifier know where the service is (told above, or now after a
    // restart); then the paid clock starts. Never before: a verifier may probe the moment the
    // clock starts, and must know where by then (in the same block is fine: the announcements'
    // lower nonces put them first, and nodes handle a block's events in order).
    ZP_CHECK(announce_service(cur, v, cur.rec.service_port));
    ZP_TRY(chain->send(id, "start", market::calls::start_agreement(id)));
    return set_state(id, Phase::running);
}

bool NodeContext::announcements_signed(std::uint64_t id, const market::AgreementView& v, std::uint16_t port) {
    std::vector<Address> to{v.client};
    for (const auto vid : v.verifier_ids) {
        auto who = chain->worker_identity(vid);
        if (!who) return false;
        to.push_back(who->first);
    }
    return std::all_of(to.begin(), to.end(), [&](const Address& a) {
        const auto t = store->txs_for(id, "post:service:" + lower_hex(a) + ":" + std::to_string(port));
        return t && !t->empty();
    });
}

/// Sends the service endpoint (this host, `port`) to the client and to every verifier, together
/// (the sender numbers them; each waits for its own receipt), each once: a message already mined
/// is not sent again, and an endpoint announced already is not announced twice.
Result<void> NodeContext::announce_service(const LocalAgreement& a, const market::AgreementView& v, std::uint16_t port) {
    if (a.rec.announced == port) return {};
    const auto id = a.id;
    const auto [host, external] = public_endpoint(service_purpose(id), port);
    const msg::ServiceReady ready{host, external};
    std::vector<std::pair<Address, eth::PublicKey>> to{{v.client, ZP_TRY(chain->client_key(id))}};
    for (const auto vid : v.verifier_ids) to.push_back(ZP_TRY(chain->worker_identity(vid)));
    std::vector<std::future<Result<void>>> posts;
    for (const auto& [addr, key] : to)
        posts.push_back(std::async(std::launch::async, [this, id, port, addr = addr, key = key, &ready] {
            return chain->post(id, addr, key, ready, "post:service:" + lower_hex(addr) + ":" + std::to_string(port));
        }));
    Result<void> all{};
    for (auto& f : posts)
        if (auto r = f.get(); !r && all) all = r.error();
    if (!all) return all;
    return update(id, [port](LocalAgreement& la) { la.rec.announced = port; });
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
