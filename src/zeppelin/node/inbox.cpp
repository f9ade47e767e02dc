#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/probe/spec.hpp"
#include "zeppelin/market/protocol_v2.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

Result<Bytes> NodeContext::seal(std::uint64_t id, const std::vector<msg::Sealed>& to) { return msg::seal_all(id, me, to); }

Result<std::pair<Address, eth::PublicKey>> NodeContext::worker_identity(std::uint64_t worker) {
    {
        std::lock_guard lock{mu};
        if (auto it = identities.find(worker); it != identities.end()) return it->second;
    }
    const auto w = ZP_TRY(dispatcher->get_worker(worker));
    const auto key = ZP_TRY(eth::parse_public_key(w.public_key));
    std::lock_guard lock{mu};
    return identities.insert_or_assign(worker, std::pair{w.owner, key}).first->second;
}

/// The client's public key, recovered once from the signature of its buyContract transaction
/// and kept with the agreement (every message to the client needs it).
Result<eth::PublicKey> NodeContext::client_key(std::uint64_t id) {
    if (const auto a = ZP_TRY(local(id)); a.rec.client_key) return fixed_from_hex<64>(*a.rec.client_key);
    const auto known = ZP_TRY(store->get_known(id));
    if (!known) return make_error(Errc::not_found, "the buy transaction of agreement " + std::to_string(id) + " is unknown");
    const auto tx = ZP_TRY(rpc->get_transaction(known->buy_tx));
    if (!tx) return make_error(Errc::not_found, "the node does not know transaction " + to_hex(known->buy_tx));
    const auto key = ZP_TRY(eth::recover_sender_public_key(tx->tx));
    ZP_CHECK(update(id, [&](LocalAgreement& la) { la.rec.client_key = to_hex(key); }));
    return key;
}

void NodeContext::ignore_message(std::uint64_t id, std::string_view reason) {
    spdlog::warn("agreement {}: ignored a message: {}", id, reason);
    metrics.counter("zeppelin_messages_ignored_total", "Messages ignored (not decryptable, wrong sender, replayed)").inc();
}

void NodeContext::on_message(const v2::EventRecord& rec, const v2::MessagePosted& m) {
    const auto id = m.agreement_id;
    auto la = store->get(id);
    if (!la) return;
    auto view = dispatcher->get_agreement(id);
    if (!view) return ignore_message(id, view.error().message());
    // A verifier learns its role from VerifiersDrawn, logged in the same transaction as the
    // briefs: whichever comes first makes the row.
    const auto mine = worker_id.load();
    const auto vit = std::find(view->verifier_ids.begin(), view->verifier_ids.end(), mine);
    if (!*la && mine != 0 && vit != view->verifier_ids.end()) {
        on_roles(id, std::nullopt, 0, view->verifier_ids);
        la = store->get(id);
        if (!la) return;
    }
    if (!*la) return;  // not an agreement of this node
    const Role role = (*la)->role;
    std::uint64_t bit = 0;
    switch (role) {
        case Role::client: bit = v2::kClientBit; break;
        case Role::worker: bit = v2::kWorkerBit; break;
        case Role::verifier:
            if (vit != view->verifier_ids.end()) bit = v2::verifier_bit(static_cast<std::size_t>(vit - view->verifier_ids.begin()));
            break;
    }
    if (bit == 0 || (m.recipients & u256{bit}) == 0) return;  // addressed to other parties
    const auto key = to_hex(rec.transaction_hash) + ":" + std::to_string(rec.log_index);
    auto seen = store->seen(key);
    if (!seen || *seen) return ignore_message(id, "replayed or already handled");
    const auto recipients = static_cast<std::uint64_t>(m.recipients & u256{~std::uint64_t{0}});
    auto envelope = v2::envelope_for(recipients, bit, m.envelopes);
    if (!envelope) return ignore_message(id, envelope.error().message());
    if (!*envelope) return;
    auto payload = msg::open((*opt.key), id, m.sender, me, **envelope);
    if (!payload) return ignore_message(id, payload.error().message());
    auto worker = view->worker_id != 0 ? dispatcher->get_worker(view->worker_id) : Result<v2::WorkerView>{Error{Errc::not_found, ""}};
    const bool from_worker = worker && worker->owner == m.sender;
    const bool from_client = view->client == m.sender;
    bool taken = false;
    std::string refused;  // why a message of the right sender is not believed
    std::visit(overloaded{
                   [&](const msg::TransferOffer& t) {
                       if (role != Role::client || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) {
                           row.rec.transfer = OfferRecord{t.host, t.port, t.secret, t.logs_port, view->worker_id};
                       });
                   },
                   [&](const msg::ServiceReady& s) {
                       if (role != Role::client || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) { row.rec.service = HostPort{s.host, s.port}; });
                   },
                   [&](const msg::ImageRejected& r) {
                       if (role != Role::client || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) { row.rec.image_refused = r.reason; });
                   },
                   [&](const msg::SpecReveal& r) {
                       // An older client's reveal; a client now sends the spec with its image.
                       if (role != Role::worker || !from_client) return;
                       if (auto took = take_spec(id, r.spec_json, r.salt, view->spec_commit); !took) refused = took.error().message();
                       else taken = true;
                   },
                   [&](const msg::VerifierBrief& b) {
                       if (role != Role::verifier || !from_worker) return;
                       if (!msg::matches_commit(b.spec_json, b.salt, view->spec_commit) || !probe::from_json(b.spec_json)) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) {
                           row.rec.spec = b.spec_json;
                           row.rec.salt = b.salt;
                           row.rec.service = HostPort{b.host, b.port};
                       });
                   }},
               *payload);
    if (!taken) return ignore_message(id, refused.empty() ? fmt_reason(*payload, role) : refused);
    (void)store->mark_seen(key);
    metrics.counter("zeppelin_messages_received_total", "Private messages accepted").inc({{"type", std::string{msg::type_name(*payload)}}});
    spdlog::info("agreement {}: {} message received", id, msg::type_name(*payload));
    wake(id);
}

// A spec that travels in the transfer's HELLO is bounded as one in a message.
static_assert(transfer::protocol::kMaxSpec == msg::kMaxText);

Result<void> NodeContext::take_spec(std::uint64_t id, const std::string& spec_json, const Hash32& salt, const Hash32& commit) {
    const auto got = v2::spec_commit(as_view(spec_json), salt);
    if (got != commit)
        return make_error(Errc::digest_mismatch, "the revealed spec and salt hash to " + to_hex(got) +
                                                     " (keccak(salt || keccak(spec))), but the purchase committed to " +
                                                     to_hex(commit));
    if (auto parsed = probe::from_json(spec_json); !parsed)
        return make_error(Errc::invalid_argument, "the revealed spec opens the commit but is no probe spec: " +
                                                      parsed.error().message());
    return update(id, [&](LocalAgreement& row) {
        row.rec.spec = spec_json;
        row.rec.salt = salt;
    });
}

std::optional<std::uint64_t> NodeContext::on_transfer_hello(const transfer::IncomingImage& img) {
    std::uint64_t id = 0;
    try {
        id = std::stoull(img.agreement_id);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    {
        std::lock_guard lock{mu};
        incoming.insert_or_assign(id, img);
    }
    if (auto w = update(id, [](LocalAgreement& la) { la.rec.hello = true; }); !w)
        spdlog::warn("agreement {}: cannot record the transfer's start: {}", id, w.error().message());
    if (img.spec) {
        // The commit of the purchase this node followed (kept with it: no chain read on the
        // connection's thread).
        const auto known = store->get_known(id);
        Result<void> took = make_error(Errc::not_found, "the purchase of agreement " + std::to_string(id) + " is not known to this node");
        if (!known) took = known.error();
        else if (*known) {
            const auto commit = fixed_from_hex<32>((*known)->requirements.value("spec_commit", std::string{}));
            took = commit ? take_spec(id, img.spec->spec, img.spec->salt, *commit) : Result<void>{commit.error()};
        }
        if (took) spdlog::info("agreement {}: the client's probe spec arrived with its image transfer", id);
        else spdlog::warn("agreement {}: ignored the probe spec in the image transfer's HELLO: {}", id, took.error().message());
    }
    return id;
}

std::string NodeContext::fmt_reason(const msg::Payload& p, Role role) {
    return std::string{"a '"} + std::string{msg::type_name(p)} + "' message from a sender who may not send it to a " +
           std::string{to_string(role)};
}

void NodeContext::on_roles(std::uint64_t id, std::optional<Address> client, std::uint64_t worker,
                           const std::vector<std::uint32_t>& verifiers) {
    const auto mine = worker_id.load();
    std::optional<Role> role;
    if (client && *client == me) role = Role::client;
    else if (mine != 0 && worker == mine) role = Role::worker;
    else if (mine != 0 && std::find(verifiers.begin(), verifiers.end(), mine) != verifiers.end()) role = Role::verifier;

    std::lock_guard lock{mu};
    auto cur = store->get(id);
    if (!cur) return;
    if (!*cur) {
        if (!role) return;
        LocalAgreement a;
        a.id = id;
        a.role = *role;
        a.phase = Phase::assigned;
        (void)store->put(a);
        spdlog::info("agreement {}: this node is its {}", id, to_string(*role));
        return;
    }
    auto& a = **cur;
    if (a.role == Role::client) return;
    if (role && *role == a.role && !a.rec.lost_role) return;
    if (role) {
        // Drawn again after it was replaced, or drawn as a verifier once its worker's role ended.
        if (!a.finished() && !a.rec.lost_role && a.role != *role) return;
        a.role = *role;
        a.phase = Phase::assigned;
        a.rec = AgreementRecord{};
    } else if (worker != 0 && a.role == Role::worker && !a.finished()) {
        a.rec.lost_role = true;  // another worker was drawn: the worker step cleans up and ends
    } else {
        return;
    }
    (void)store->put(a);
}

void NodeContext::check_draws() {
    const auto mine = worker_id.load();
    if (mine == 0 || !follower || !follower->head()) return;
    const auto latest = follower->head()->number;
    std::vector<std::uint64_t> ready;
    {
        std::lock_guard lock{mu};
        for (auto it = draws.begin(); it != draws.end();) {
            if (it->second <= latest) {
                ready.push_back(it->first);
                it = draws.erase(it);
            } else {
                ++it;
            }
        }
    }
    // Each preview is an eth_call: a job of the step pool, never a wait on the loop that follows
    // the chain. Its own key (not the agreement's, whose queued step would swallow it).
    constexpr std::uint64_t kDrawKey = 1ULL << 62;  // kReportKey is 1 << 63
    for (const auto id : ready) {
        pool->post(id | kDrawKey, [this, id, latest, mine] {
            auto drawn = dispatcher->preview_worker(id);
            if (!drawn) {
                spdlog::warn("agreement {}: cannot preview its draw: {}", id, drawn.error().message());
                std::lock_guard lock{mu};
                draws.emplace(id, latest + 1);  // looked at again with the next block
                return;
            }
            if (*drawn != mine) return;
            spdlog::info("agreement {}: the draw of block {} picks this worker", id, latest);
            on_roles(id, std::nullopt, mine, {});
            wake(id);
        });
    }
}

void NodeContext::on_event(const v2::EventRecord& rec) {
    std::visit([&](const auto& e) {
        if constexpr (requires { e.agreement_id; }) invalidate(e.agreement_id);
    }, rec.event);
    const auto mine = worker_id.load();
    const auto await_draw = [&](std::uint64_t id, std::uint64_t block) {
        if (mine == 0) return;
        std::lock_guard lock{mu};
        draws.insert_or_assign(id, block);
    };
    std::visit(overloaded{
                   [&](const v2::AgreementPurchased& e) {
                       auto req = requirements_json(e.requirements);
                       req["deposit"] = to_dec(e.deposit);  // what the API shows as the escrow paid
                       (void)store->put_known(KnownAgreement{e.agreement_id, rec.transaction_hash, rec.block_number, req});
                       on_roles(e.agreement_id, e.client, 0, {});
                       if (e.client != me) await_draw(e.agreement_id, e.draw_block);
                       wake(e.agreement_id);
                   },
                   [&](const v2::DrawRescheduled& e) {
                       await_draw(e.agreement_id, e.draw_block);
                       wake(e.agreement_id);
                   },
                   [&](const v2::AgreementDeclined& e) {
                       if (e.worker_id == mine) {  // this worker's decline (or its silence) ends its role
                           if (auto row = store->get(e.agreement_id); row && *row && (*row)->role == Role::worker)
                               (void)update(e.agreement_id, [](LocalAgreement& la) { la.rec.lost_role = true; });
                       }
                       await_draw(e.agreement_id, e.redraw_block);
                       wake(e.agreement_id);
                   },
                   [&](const v2::AgreementStopped& e) {
                       // However the stop was sent (this node's API, or a transaction of its own).
                       if (auto a = store->get(e.agreement_id); a && *a && (*a)->role == Role::client) (void)mark_stopped(e.agreement_id);
                       wake(e.agreement_id);
                   },
                   [&](const v2::WorkerDrawn& e) {
                       {
                           std::lock_guard lock{mu};
                           draws.erase(e.agreement_id);
                       }
                       on_roles(e.agreement_id, std::nullopt, e.worker_id, {});
                       wake(e.agreement_id);
                   },
                   [&](const v2::VerifiersDrawn& e) {
                       on_roles(e.agreement_id, std::nullopt, 0, e.verifier_ids);
                       wake(e.agreement_id);
                   },
                   [&](const v2::MessagePosted& e) { on_message(rec, e); },
                   [&](const v2::StakeBurned& e) {
                       if (e.worker_id == mine) pool->post(0, [this] { restake(); });
                       wake(e.agreement_id);
                   },
                   [&](const auto& e) {
                       if constexpr (requires { e.agreement_id; }) wake(e.agreement_id);
                   }},
               rec.event);
}

}  // namespace zeppelin::node
