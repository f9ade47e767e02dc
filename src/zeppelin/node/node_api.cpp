#include "zeppelin/node/context.hpp"

#include <algorithm>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/runtime/work.hpp"
#include "zeppelin/transfer/client.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

Result<json> NodeContext::payments(std::uint64_t id) {
    const auto v = ZP_TRY(dispatcher->get_agreement(id));
    // Its events begin where it was bought (known to every node that followed the chain).
    const auto known = ZP_TRY(store->get_known(id));
    eth::LogFilter f;
    f.from_block = known && known->created_block != 0 ? known->created_block : opt.deploy_block;
    f.to_block = ZP_TRY(rpc->block_number());
    f.addresses = {opt.dispatcher};
    f.topics = {std::nullopt, std::vector<Hash32>{to_be32(u256{id})}};
    const auto logs = ZP_TRY(rpc->get_logs(f));
    const auto events = ZP_TRY(market::decode_events(opt.dispatcher, logs));
    const u256 reward = u256{v.price_per_second} * v.period_seconds * config.verifier_fee_bps / 10000;
    u256 worker = 0, client = 0, verifiers = 0, slashed = 0;
    std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> reports;  // verifier -> (periods, ok)
    bool settled = false;
    for (const auto& rec : events) {
        if (rec.removed) continue;
        if (const auto* e = std::get_if<market::PaymentRedeemed>(&rec.event)) worker += e->amount;
        if (const auto* e = std::get_if<market::RefundClaimed>(&rec.event)) client += e->amount;
        if (const auto* e = std::get_if<market::AgreementSettled>(&rec.event)) {
            slashed += e->slashed;
            settled = true;
        }
        if (const auto* e = std::get_if<market::VerificationProvided>(&rec.event)) {
            auto& r = reports[e->verifier_id];
            for (u256 b = e->reported_bits; b != 0; b &= b - 1) ++r.first;
            for (u256 b = e->ok_bits; b != 0; b &= b - 1) ++r.second;
        }
    }
    json vs = json::array();
    for (const auto& [vid, r] : reports) {
        const u256 paid = reward * r.first;
        verifiers += paid;
        vs.push_back(json{{"verifier_id", vid}, {"periods_reported", r.first}, {"periods_ok", r.second}, {"reward", to_dec(paid)}});
    }
    const bool closed = (v.status == AgreementStatus::settled && v.worker_redeemed && v.client_refunded) ||
                        (v.status == AgreementStatus::refunded && v.client_refunded);
    return json{{"deposit", to_dec(v.deposit)},
                {"worker", to_dec(worker)},
                {"client_refund", to_dec(client)},
                {"verifiers", vs},
                {"verifiers_total", to_dec(verifiers)},
                {"slashed", to_dec(slashed)},
                {"settled", settled},
                {"closed", closed},
                {"balanced", closed && worker + client + verifiers == v.deposit + slashed}};
}

Result<void> NodeContext::worker_logs(std::uint64_t id, bool follow, const LogSinkFn& sink) {
    if (!engine) return make_error(Errc::engine_error, "no container engine");
    // The container this node started (recorded), else whichever carries its labels.
    // Before the work starts there is no output yet (like a container not started): none, or, when
    // following, the wait for it while the agreement lasts.
    std::string container;
    for (;;) {
        auto a = store->get(id);
        if (a && *a && !(*a)->rec.container.empty()) container = (*a)->rec.container;
        if (!container.empty()) break;
        auto found = runtime::find_agreement(*engine, std::to_string(id), runtime_id);
        if (found) {
            container = found->container_id;
            break;
        }
        if (found.error().code() != Errc::not_found) return found.error();
        const bool ended = a && *a && ((*a)->phase == Phase::done || (*a)->phase == Phase::cancelled);
        if (!follow || ended) return {};
        std::this_thread::sleep_for(500ms);
        if (!sink({})) return {};  // the reader left, or the server stops
    }
    runtime::LogOptions lo;
    lo.follow = follow;
    lo.timestamps = true;  // a TimestampedSource (log_channel.hpp): --since, --tail and --timestamps need the times
    lo.timeout = follow ? std::chrono::milliseconds{std::chrono::hours{24 * 30}} : std::chrono::milliseconds{30s};
    return engine->logs(container, lo,
                        [&](runtime::LogStream, std::string_view data) { return sink(data); });
}

std::optional<transfer::Secret> NodeContext::logs_lookup(std::uint64_t id) {
    auto a = store->get(id);
    if (!a || !*a || (*a)->role != Role::worker || !(*a)->rec.secret) return std::nullopt;
    return logs_key(*(*a)->rec.secret);
}

Result<json> Node::status() {
    auto& n = *ctx_;
    const auto balance = ZP_TRY(n.rpc->get_balance(n.me));
    json j{{"address", eth::to_checksum(n.me)},
           {"chain_id", n.chain_id},
           {"rpc_url", n.opt.rpc_url},
           {"dispatcher", eth::to_checksum(n.opt.dispatcher)},
           {"worker_id", n.worker_id.load()},
           {"balance", to_dec(balance)},
           {"processed_block", n.head.load()},
           {"engine", n.engine.has_value()}};
    if (n.transfer) j["transfer_port"] = n.transfer->port();
    if (n.opt.worker) j["reachability"] = n.reachability_json();
    j["chain_identity"] = chain_status(n);  // "mismatch": the node stopped acting, and why
    if (const auto id = n.worker_id.load(); id != 0 && !n.chain_guard.halted()) {
        const auto w = ZP_TRY(n.dispatcher->get_worker(id));
        const auto r = ZP_TRY(n.dispatcher->reputation_counters(id));
        j["worker"] = worker_json(id, w, r);
    }
    return j;
}

namespace {
/// An agreement's state for `ps`, `run` and the dashboard. A transfer whose attempts fail says so
/// at once, with the reason and the worker's announced address ("problem"), not only when it ends.
json state_json(const LocalAgreement& a) {
    json j{{"id", a.id}, {"role", to_string(a.role)}, {"state", phase_value(a.phase)}, {"state_label", phase_label(a.phase)}, {"updated_at", a.updated_at}};
    if (a.phase == Phase::transferring && !a.rec.transfer_error.empty()) {
        j["state_label"] = "transfer failing";
        j["problem"] = a.rec.transfer_error;
    }
    return j;
}
}  // namespace

Result<json> Node::agreements() {
    auto& n = *ctx_;
    json out = json::array();
    for (const auto& a : ZP_TRY(n.store->list(true))) {
        json j = state_json(a);
        if (!a.rec.image_name.empty()) j["image"] = a.rec.image_name;
        if (a.rec.service) j["service"] = json{{"host", a.rec.service->host}, {"port", a.rec.service->port}};
        out.push_back(std::move(j));
    }
    return out;
}

Result<json> Node::agreement(std::uint64_t id, bool brief) {
    auto& n = *ctx_;
    const auto a = ZP_TRY(n.local(id));
    json j = state_json(a);
    // What a person may see: never the transfer secret.
    j["local"] = public_json(a.rec);
    if (auto v = n.dispatcher->get_agreement(id)) j["chain"] = view_json(*v);
    {
        std::lock_guard lock{n.mu};
        if (auto it = n.progress.find(id); it != n.progress.end())
            j["progress"] = json{{"done", it->second.bytes_done},
                                 {"total", it->second.bytes_total},
                                 {"rate", it->second.rate},
                                 {"eta_seconds", it->second.eta_seconds},
                                 {"phase", it->second.finished ? "done" : "transferring"}};
    }
    if (brief) return j;  // what a poller following the agreement needs: no log scan, no engine call
    if (auto k = n.store->get_known(id); k && *k) j["requirements"] = (*k)->requirements;
    if (auto p = n.payments(id)) j["payments"] = std::move(*p);
    // This node's own transactions for it (from the journal), each with its hash and its journal
    // key (the action it performs: at most one mined per key).
    json txs = json::array();
    for (const auto& t : ZP_TRY(n.store->txs_of(id)))
        txs.push_back(json{{"action", NodeContext::action_kind(t.action)}, {"key", t.action}, {"hash", to_hex(t.hash)}, {"nonce", t.nonce},
                           {"status", to_string(t.status)}});
    j["transactions"] = std::move(txs);
    if (a.role == Role::worker && n.engine && !a.rec.container.empty() && a.phase == Phase::running) {
        if (auto st = n.engine->stats(a.rec.container))
            j["resources"] = json{{"pids", st->pids}, {"memory_usage", st->memory_usage}, {"memory_limit", st->memory_limit}};
    }
    if (a.role == Role::verifier) {
        json probes = json::array();
        for (const auto& p : ZP_TRY(n.store->probes(id)))
            probes.push_back(json{{"period", p.period}, {"ok", p.ok}, {"detail", p.detail}, {"at_ms", p.at_ms}});
        j["probes"] = std::move(probes);
    }
    return j;
}

Result<std::uint64_t> Node::submit_run(const RunRequest& r) {
    auto& n = *ctx_;
    // 1. The image: an archive on this machine, or one the local engine holds (exported).
    fs::path archive = r.image;
    std::error_code ec;
    if (!fs::is_regular_file(archive, ec)) {
        const bool looks_like_path = r.image.find('/') == 0 || r.image.starts_with("./") || r.image.starts_with("../") ||
                                     r.image.ends_with(".tar") || r.image.ends_with(".tar.gz");
        if (looks_like_path)
            return make_error(Errc::not_found, "no image archive at " + r.image + " (on the node's machine)");
        if (!n.engine)
            return make_error(Errc::not_found, "'" + r.image + "' is no archive file, and no container engine is reachable to export an image of that name");
        std::string safe;
        for (char c : r.image) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
        archive = n.opt.data_dir / "images" / (safe + ".tar");
        fs::create_directories(archive.parent_path(), ec);
        auto exported = n.engine->export_image(r.image, archive);
        if (!exported) return exported.error().wrap("image '" + r.image + "'");
    }
    std::error_code stat_ec;
    const auto size_before = fs::file_size(archive, stat_ec);
    const auto mtime_before = fs::last_write_time(archive, stat_ec);
    // An archive inspected before and unchanged since (same size and mtime, as git's index trusts) is
    // not hashed again; the worker verifies every byte it receives anyway.
    const auto key = fs::absolute(archive).lexically_normal().string();
    std::optional<transfer::ImageInfo> seen;
    if (!stat_ec) {
        std::lock_guard lock{n.mu};
        if (auto it = n.inspected_files.find(key); it != n.inspected_files.end() && it->second.size == size_before &&
                                                   it->second.mtime == mtime_before)
            seen = it->second.info;
    }
    const auto info = seen ? std::move(*seen) : ZP_TRY(transfer::inspect_image(archive));
    if (!seen && !stat_ec) {
        std::lock_guard lock{n.mu};
        if (n.inspected_files.size() >= 64) n.inspected_files.erase(n.inspected_files.begin());
        n.inspected_files[key] = NodeContext::Inspected{info, size_before, mtime_before};
    }
    const auto ports = exposed_ports(info.config);
    if (r.port) {
        if (std::find(ports.begin(), ports.end(), *r.port) == ports.end()) {
            std::string list;
            for (auto p : ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
            return make_error(Errc::invalid_argument, "the image does not expose port " + std::to_string(*r.port) +
                                                          (list.empty() ? std::string{" (it exposes none: add EXPOSE to its config)"} : " (it exposes " + list + ")"));
        }
    } else if (ports.empty()) {
        return make_error(Errc::invalid_argument, "the image exposes no TCP port (its config has no ExposedPorts): a service needs one");
    }
    // 2. The probe spec, whose hash goes on chain.
    const auto spec = ZP_TRY(probe::parse_spec(r.probe));
    const auto spec_json = probe::canonical_json(spec);
    // 3. Buy.
    if (r.max_price_per_second > std::numeric_limits<std::uint64_t>::max())
        return make_error(Errc::invalid_argument, "--max-price is too large");
    market::Requirements req;
    req.cpu_millicores = r.cpu_millicores;
    req.memory_mb = r.memory_mb;
    req.duration = r.duration;
    req.period_seconds = r.period;
    req.max_price_per_second = static_cast<std::uint64_t>(r.max_price_per_second);
    req.verifiers = r.verifiers;
    req.min_reputation = r.min_reputation;
    req.preferred_worker = r.preferred_worker;
    req.image_digest = info.config_digest;
    req.probe_spec_hash = eth::keccak256(spec_json);
    auto tx = ZP_TRY(n.dispatcher->buy_contract_tx(n.me, req));
    const auto action = "buy:" + to_hex(info.config_digest, false).substr(0, 12) + ":" + std::to_string(now_ms());
    const auto bought = ZP_TRY(n.transact(0, action, std::move(tx)));
    std::uint64_t id = 0;
    for (const auto& rec : ZP_TRY(market::decode_events(n.opt.dispatcher, bought.logs)))
        if (const auto* c = std::get_if<market::AgreementCreated>(&rec.event)) id = c->agreement_id;
    if (id == 0) return make_error(Errc::internal, "buyContract was mined but announced no agreement");
    ZP_CHECK(n.store->set_tx_agreement(bought.transaction_hash, id));
    if (!stat_ec) {
        std::lock_guard lock{n.mu};
        n.inspected[id] = NodeContext::Inspected{info, size_before, mtime_before};
    }
    // 4. Remember it (merged with what the follower may already have recorded).
    {
        std::lock_guard lock{n.mu};
        auto cur = ZP_TRY(n.store->get(id));
        LocalAgreement a = cur ? *cur : LocalAgreement{};
        a.id = id;
        a.role = Role::client;
        a.rec.image = fs::absolute(archive).string();
        a.rec.image_name = r.image;
        a.rec.image_digest = transfer::digest_string(info.config_digest);
        a.rec.spec = spec_json;
        a.rec.submitted_ms = now_ms();
        ZP_CHECK(n.store->put(a));
    }
    spdlog::info("agreement {}: bought ({} s, {} verifiers, image {})", id, r.duration, r.verifiers,
                 transfer::short_digest(info.config_digest));
    n.wake(id);
    return id;
}

Result<json> Node::store_upload(std::string_view bytes) {
    auto& n = *ctx_;
    const auto dir = n.opt.data_dir / "uploads";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
    const auto tmp = dir / ("upload-" + to_hex(ZP_TRY(random_secret()), false).substr(0, 16) + ".part");
    {
        std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) return make_error(Errc::io, "cannot write " + tmp.string());
    }
    auto info = transfer::inspect_image(tmp);
    if (!info) {
        fs::remove(tmp, ec);
        return info.error().wrap("the uploaded file is not an acceptable image archive");
    }
    const auto path = dir / (to_hex(info->config_digest, false) + ".tar");
    fs::rename(tmp, path, ec);
    if (ec) return make_error(Errc::io, "cannot keep the upload: " + ec.message());
    return json{{"path", path.string()}, {"config_digest", transfer::digest_string(info->config_digest)}, {"bytes", bytes.size()}};
}

Result<json> Node::stop_agreement(std::uint64_t id) {
    auto& n = *ctx_;
    const auto a = ZP_TRY(n.local(id));
    if (a.role != Role::client) return make_error(Errc::invalid_argument, "only the client of agreement " + std::to_string(id) + " can stop it");
    const auto v = ZP_TRY(n.dispatcher->get_agreement(id));
    if (v.status == AgreementStatus::running) {
        ZP_TRY(n.call(id, "stop", market::calls::stop_agreement(id)));
    } else if (v.status == AgreementStatus::assigned || v.status == AgreementStatus::accepted) {
        ZP_TRY(n.call(id, "cancel", market::calls::cancel_agreement(id)));
    } else {
        return make_error(Errc::invalid_argument, "agreement " + std::to_string(id) + " is already " + std::string{status_name(v.status)});
    }
    n.wake(id);
    return agreement(id);
}

Result<json> Node::update_offer(const OfferChange& c) {
    auto& n = *ctx_;
    if (n.worker_id.load() == 0) return make_error(Errc::invalid_argument, "this node is not a worker (it runs --client-only)");
    {
        std::lock_guard lock{n.mu};
        if (c.price_per_second) n.opt.price_per_second = *c.price_per_second;
        if (c.max_duration) n.opt.max_duration = *c.max_duration;
        if (c.cpu_millicores) n.opt.cpu_millicores = *c.cpu_millicores;
        if (c.memory_mb) n.opt.memory_mb = *c.memory_mb;
    }
    ZP_CHECK(n.register_worker());
    return status();
}

Result<json> Node::worker_action(std::string_view action) {
    auto& n = *ctx_;
    if (n.worker_id.load() == 0) return make_error(Errc::invalid_argument, "this node is not a worker (it runs --client-only)");
    Bytes data;
    if (action == "pause") data = market::calls::pause_worker();
    else if (action == "resume") data = market::calls::resume_worker();
    else if (action == "unregister") data = market::calls::unregister_worker();
    else if (action == "withdraw") data = market::calls::withdraw_stake();
    else return make_error(Errc::invalid_argument, "unknown worker action '" + std::string{action} + "'");
    ZP_TRY(n.call(0, std::string{action} + ":" + std::to_string(now_ms()), std::move(data)));
    return status();
}

Result<json> Node::quote(const u256& max_price, std::uint32_t duration, std::uint32_t period, std::uint8_t verifiers) {
    auto& n = *ctx_;
    if (max_price > std::numeric_limits<std::uint64_t>::max()) return make_error(Errc::invalid_argument, "max price too large");
    const auto deposit = ZP_TRY(n.dispatcher->quote(static_cast<std::uint64_t>(max_price), duration, period, verifiers));
    return json{{"deposit", to_dec(deposit)},
                {"verifier_fee_bps", to_dec(n.config.verifier_fee_bps)},
                {"min_stake", to_dec(n.config.min_stake)}};
}

Result<json> Node::market_workers() {
    auto& n = *ctx_;
    json out = json::array();
    const auto count = ZP_TRY(n.dispatcher->worker_count());
    for (std::uint64_t id = 1; id <= count && id <= 1000; ++id) {
        const auto w = ZP_TRY(n.dispatcher->get_worker(id));
        const auto r = ZP_TRY(n.dispatcher->reputation_counters(id));
        out.push_back(worker_json(id, w, r));
    }
    return out;
}

Result<json> Node::market_agreements() {
    auto& n = *ctx_;
    json out = json::array();
    const auto count = ZP_TRY(n.dispatcher->agreement_count());
    const std::uint64_t first = count > 200 ? count - 199 : 1;
    for (std::uint64_t id = first; id <= count; ++id) {
        const auto v = ZP_TRY(n.dispatcher->get_agreement(id));
        auto j = view_json(v);
        j["id"] = id;
        out.push_back(std::move(j));
    }
    return out;
}

Result<void> Node::logs(std::uint64_t id, const LogQuery& query, const std::function<bool(std::string_view)>& sink) {
    auto& n = *ctx_;
    auto a = ZP_TRY(n.local(id));
    if (a.role == Role::worker)
        return answer_log_query(query, [&](bool follow, const LogSinkFn& s) { return n.worker_logs(id, follow, s); }, sink);
    if (a.role != Role::client) return make_error(Errc::invalid_argument, "a verifier of agreement " + std::to_string(id) + " has no access to its output");
    // Like a container not started yet: no output; following waits for the worker's offer.
    while (!a.rec.transfer || a.rec.transfer->logs_port == 0) {
        if (!query.follow || a.phase == Phase::done || a.phase == Phase::cancelled) return {};
        std::this_thread::sleep_for(250ms);
        if (!sink({})) return {};  // the reader left
        a = ZP_TRY(n.local(id));
    }
    const auto& t = *a.rec.transfer;
    auto r = fetch_logs({t.host, t.logs_port}, id, logs_key(t.secret), query, sink);
    if (!r) return r.error().wrap("the output of agreement " + std::to_string(id));
    return {};
}

std::string Node::metrics_text() { return ctx_->metrics.render(); }

}  // namespace zeppelin::node
