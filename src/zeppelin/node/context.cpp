#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <boost/asio/ip/tcp.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/node/amounts.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
std::uint64_t now_s() { return static_cast<std::uint64_t>(now_ms() / 1000); }

std::string lower_hex(const Address& a) { return to_hex(a, false); }

json requirements_json(const v2::Requirements& r) {
    return json{{"cpu_millicores", r.cpu_millicores},
                {"memory_mb", r.memory_mb},
                {"duration", r.duration},
                {"period_seconds", r.period_seconds},
                {"max_price_per_second", std::to_string(r.max_price_per_second)},
                {"verifiers", r.verifiers},
                {"min_reputation", r.min_reputation},
                {"image_digest", to_hex(r.image_digest)},
                {"spec_commit", to_hex(r.spec_commit)}};
}

std::string_view status_name(AgreementStatus s) { return v2::to_string(s); }

bool is_not_yet(const Error& e) { return e.code() == Errc::too_early; }

/// Transfer failures that no retry can fix: the image itself is wrong.
bool is_permanent_transfer_error(Errc c) {
    return c == Errc::digest_mismatch || c == Errc::hostile_archive || c == Errc::limit_exceeded ||
           c == Errc::auth_failed || c == Errc::invalid_argument;
}

Result<Hash32> random_secret() {
    Hash32 s{};
    if (RAND_bytes(s.data(), 32) != 1) return make_error(Errc::internal, "the system random number generator failed");
    return s;
}

/// A TCP port free on `ip` now (the system's pick), for a container's published port.
Result<std::uint16_t> free_port(const std::string& ip) {
    boost::asio::io_context io;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(ip == "0.0.0.0" || ip.empty() ? "0.0.0.0" : ip, ec);
    if (ec) return make_error(Errc::invalid_argument, "service address '" + ip + "': " + ec.message());
    boost::asio::ip::tcp::acceptor acceptor{io};
    acceptor.open(address.is_v6() ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), ec);
    if (!ec) acceptor.bind({address, 0}, ec);
    if (ec) return make_error(Errc::io, "no free port on " + ip + ": " + ec.message());
    return acceptor.local_endpoint().port();
}

/// The TCP ports an image config exposes ("ExposedPorts": {"8080/tcp": {}}), in order.
std::vector<std::uint16_t> exposed_ports(ByteView config) {
    std::vector<std::uint16_t> ports;
    const auto j = json::parse(config.begin(), config.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return ports;
    const auto c = j.find("config");
    if (c == j.end() || !c->is_object()) return ports;
    const auto e = c->find("ExposedPorts");
    if (e == c->end() || !e->is_object()) return ports;
    for (const auto& [key, _] : e->items()) {
        const auto slash = key.find('/');
        const auto proto = slash == std::string::npos ? std::string{"tcp"} : key.substr(slash + 1);
        if (proto != "tcp") continue;
        try {
            const auto p = std::stoul(key.substr(0, slash));
            if (p > 0 && p <= 65535) ports.push_back(static_cast<std::uint16_t>(p));
        } catch (const std::exception&) {
        }
    }
    std::sort(ports.begin(), ports.end());
    return ports;
}

probe::Spec tcp_spec() {
    probe::Spec s;
    s.kind = probe::Spec::Kind::tcp;
    return s;
}

json view_json(const v2::AgreementView& v) {
    json j{{"status", status_name(v.status)},
           {"client", eth::to_checksum(v.client)},
           {"worker_id", v.worker_id},
           {"verifier_ids", v.verifier_ids},
           {"period_seconds", v.period_seconds},
           {"periods", v.periods},
           {"billable_periods", v.billable_periods},
           {"draw_block", v.draw_block},
           {"accept_deadline", v.status == AgreementStatus::assigned ? v.deadline : 0},
           {"start_deadline", v.status == AgreementStatus::accepted ? v.deadline : 0},
           {"started_at", v.started_at()},
           {"end_of_service", v.end_of_service()},
           {"reassignments", v.reassignments}};
    put_amount(j, "price_per_second", v.price_per_second);
    put_amount(j, "max_price_per_second", v.max_price_per_second);
    put_amount(j, "escrow", v.escrow);
    put_amount(j, "worker_lock", v.worker_lock);
    put_amount(j, "verifier_bond", v.verifier_bond);
    return j;
}

json worker_json(std::uint64_t id, const v2::WorkerView& w, const v2::Reputation& r) {
    json j{{"id", id},
           {"owner", eth::to_checksum(w.owner)},
           {"status", v2::to_string(w.status)},
           {"max_duration", w.max_duration},
           {"cpu_millicores", w.cpu_millicores},
           {"memory_mb", w.memory_mb},
           {"verified_periods", r.verified_periods},
           {"failed_periods", r.failed_periods},
           {"completed_agreements", r.completed_agreements},
           {"failed_agreements", r.failed_agreements},
           {"declined", r.declined},
           {"specs_rejected", r.specs_rejected}};
    put_amount(j, "price_per_second", w.price_per_second);
    put_amount(j, "stake", w.stake);
    put_amount(j, "locked", w.locked);
    return j;
}


/// Read-modify-write of one local agreement under the node's lock.
Result<void> NodeContext::update(std::uint64_t id, const std::function<void(LocalAgreement&)>& change) {
    std::lock_guard lock{mu};
    auto cur = ZP_TRY(store->get(id));
    if (!cur) return make_error(Errc::not_found, "no local agreement " + std::to_string(id));
    change(*cur);
    return store->put(*cur);
}

Result<LocalAgreement> NodeContext::local(std::uint64_t id) {
    auto a = ZP_TRY(store->get(id));
    if (!a) return make_error(Errc::not_found, "agreement " + std::to_string(id) + " is not known to this node");
    return std::move(*a);
}

Result<void> NodeContext::set_state(std::uint64_t id, Phase phase) {
    return update(id, [&](LocalAgreement& a) {
        if (a.phase != phase) spdlog::info("agreement {}: {} -> {}", id, phase_label(a.phase), phase_label(phase));
        a.phase = phase;
    });
}

Result<void> NodeContext::mark_stopped(std::uint64_t id) {
    return update(id, [&](LocalAgreement& a) {
        if (a.role != Role::client || a.finished() || a.phase == Phase::cancelled) return;
        a.rec.stopped = true;
        if (a.phase != Phase::stopping) spdlog::info("agreement {}: {} -> {}", id, phase_label(a.phase), phase_label(Phase::stopping));
        a.phase = Phase::stopping;
    });
}

Result<void> NodeContext::set_running_state(std::uint64_t id, Phase otherwise) {
    return update(id, [&](LocalAgreement& a) {
        const auto phase = a.rec.stopped ? Phase::stopping : otherwise;
        if (a.phase != phase) spdlog::info("agreement {}: {} -> {}", id, phase_label(a.phase), phase_label(phase));
        a.phase = phase;
    });
}

}  // namespace zeppelin::node
