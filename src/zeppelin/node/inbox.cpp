#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/probe/spec.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

Result<void> NodeContext::post(std::uint64_t id, const Address& to, const eth::PublicKey& key, const msg::Payload& payload,
                  const std::string& action) {
    const auto envelope = ZP_TRY(msg::seal(key, id, me, to, payload));
    ZP_TRY(call(id, action, market::calls::post_message(id, to, envelope)));
    return {};
}

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

void NodeContext::on_message(const market::EventRecord& rec, const market::MessagePosted& m) {
    const auto key = to_hex(rec.transaction_hash) + ":" + std::to_string(rec.log_index);
    auto seen = store->seen(key);
    if (!seen || *seen) return ignore_message(m.agreement_id, "replayed or already handled");
    auto payload = msg::open((*opt.key), m.agreement_id, m.sender, me, m.ciphertext);
    if (!payload) return ignore_message(m.agreement_id, payload.error().message());
    auto la = store->get(m.agreement_id);
    if (!la || !*la) return ignore_message(m.agreement_id, "not an agreement of this node");
    auto view = dispatcher->get_agreement(m.agreement_id);
    if (!view) return ignore_message(m.agreement_id, view.error().message());
    auto worker = dispatcher->get_worker(view->worker_id);
    const bool from_worker = worker && worker->owner == m.sender;
    const bool from_client = view->client == m.sender;
    const Role role = (*la)->role;
    const auto id = m.agreement_id;
    bool taken = false;
    std::visit(overloaded{
                   [&](const msg::TransferOffer& t) {
                       if (role != Role::client || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) {
                           row.rec.transfer = OfferRecord{t.host, t.port, t.secret, t.logs_port, view->worker_id};
                       });
                   },
                   [&](const msg::ServiceReady& s) {
                       if (role == Role::worker || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) { row.rec.service = HostPort{s.host, s.port}; });
                   },
                   [&](const msg::ImageRejected& r) {
                       if (role != Role::client || !from_worker) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) { row.rec.image_refused = r.reason; });
                   },
                   [&](const msg::ProbeSpec& p) {
                       if (role != Role::verifier || !from_client) return;
                       auto known = store->get_known(id);
                       if (!known || !*known) return;
                       const auto want = (*known)->requirements.value("probe_spec_hash", std::string{});
                       if (to_hex(eth::keccak256(p.spec_json)) != want) return;
                       if (!probe::from_json(p.spec_json)) return;
                       taken = true;
                       (void)update(id, [&](LocalAgreement& row) { row.rec.spec = p.spec_json; });
                   },
                   // Protocol v2's messages: a v1 agreement has no salted commit to check them
                   // against, so they are not taken (and said so).
                   [&](const msg::SpecReveal&) {}, [&](const msg::VerifierBrief&) {}},
               *payload);
    if (!taken) return ignore_message(id, fmt_reason(*payload, role));
    (void)store->mark_seen(key);
    metrics.counter("zeppelin_messages_received_total", "Private messages accepted").inc({{"type", std::string{msg::type_name(*payload)}}});
    spdlog::info("agreement {}: {} message received", id, msg::type_name(*payload));
    wake(id);
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
    if (a.role == Role::client || a.finished()) return;
    if (role && *role == a.role) return;
    // Reassigned: the old role ends (the worker step cleans up), a new one may begin.
    if (role) {
        a.role = *role;
        a.phase = Phase::assigned;
        a.rec = AgreementRecord{};
    } else {
        a.rec.lost_role = true;
    }
    (void)store->put(a);
}

void NodeContext::on_event(const market::EventRecord& rec) {
    std::visit([&](const auto& e) {
        if constexpr (requires { e.agreement_id; }) invalidate(e.agreement_id);
    }, rec.event);
    std::visit(overloaded{
                   [&](const market::AgreementCreated& e) {
                       (void)store->put_known(KnownAgreement{e.agreement_id, rec.transaction_hash, rec.block_number,
                                                             requirements_json(e.requirements)});
                       on_roles(e.agreement_id, e.client, e.worker_id, e.verifier_ids);
                       wake(e.agreement_id);
                   },
                   [&](const market::AgreementReassigned& e) {
                       on_roles(e.agreement_id, std::nullopt, e.worker_id, e.verifier_ids);
                       wake(e.agreement_id);
                   },
                   [&](const market::MessagePosted& e) {
                       if (e.recipient == me) on_message(rec, e);
                   },
                   [&](const market::AgreementStopped& e) {
                       // However the stop was sent (this node's API, or a transaction of its own).
                       if (auto a = store->get(e.agreement_id); a && *a && (*a)->role == Role::client) (void)mark_stopped(e.agreement_id);
                       wake(e.agreement_id);
                   },
                   [&](const market::WorkerSlashed& e) {
                       if (e.worker_id == worker_id.load()) pool->post(0, [this] { restake(); });
                       wake(e.agreement_id);
                   },
                   [&](const auto& e) {
                       if constexpr (requires { e.agreement_id; }) wake(e.agreement_id);
                   }},
               rec.event);
}

}  // namespace zeppelin::node
