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
#include "zeppelin/node/amounts.hpp"
#include "zeppelin/node/purchase_check.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

namespace {
// What buyContract's gas is bounded by for the balance check (the real limit is estimated when
// it is sent): ~129,000 in contracts/gas-report.sh's figures, with ample head-room.
constexpr std::uint64_t kBuyContractGas = 400'000;
}  // namespace

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
    const auto events = ZP_TRY(v2::decode_events(opt.dispatcher, logs));
    u256 deposit = 0, worker = 0, client = 0, verifiers = 0, burned = 0, from_deposit_burned = 0, penalties = 0;
    std::uint64_t paid_periods = 0, failed_periods = 0;
    bool settled = false, ended = false;
    std::string end_reason;
    // verifier -> what it reported of each period: "ok", "failed", or null (abstained / silent)
    const std::uint64_t periods = v.billable_periods;  // a stopped agreement bills only those begun
    std::map<std::uint64_t, json> by_period;
    std::map<std::uint64_t, json> settled_verifiers;
    const auto marks_of = [&](std::uint64_t vid) -> json& {
        auto& marks = by_period[vid];
        if (marks.is_null()) marks = json::array();
        while (marks.size() < periods) marks.push_back(nullptr);
        return marks;
    };
    for (const auto& rec : events) {
        if (rec.removed) continue;
        std::visit(overloaded{
                       [&](const v2::AgreementPurchased& e) { deposit = e.deposit; },
                       [&](const v2::AgreementSettled& e) {
                           settled = true;
                           worker = e.worker_payment;
                           client = e.client_refund;
                           burned += e.burned;
                           paid_periods = e.paid_periods;
                           failed_periods = e.failed_periods;
                       },
                       [&](const v2::VerifierSettled& e) {
                           verifiers += e.reward;
                           penalties += e.penalty;
                           json one{{"silent_periods", e.silent_periods}};
                           put_amount(one, "reward", e.reward);
                           put_amount(one, "penalty", e.penalty);
                           settled_verifiers[e.verifier_id] = std::move(one);
                       },
                       [&](const v2::AgreementEnded& e) {
                           ended = true;
                           client = e.client_refund;
                           burned += e.burned;
                           end_reason = std::string{v2::to_string(e.reason)};
                           // A cancellation's fee comes out of the deposit; other fees out of a stake.
                           if (e.reason == v2::EndReason::cancelled) from_deposit_burned = e.burned;
                       },
                       [&](const v2::BatchConfirmed& e) {
                           auto& marks = marks_of(e.verifier_id);
                           for (auto p = e.batch * v2::kBatchPeriods; p < v2::batch_end(e.batch, periods); ++p) marks[p] = "ok";
                       },
                       [&](const v2::BatchReported& e) {
                           auto& marks = marks_of(e.verifier_id);
                           for (std::size_t w = 0; w < e.voted_words.size(); ++w)
                               for (unsigned i = 0; i < v2::kWordPeriods; ++i) {
                                   const auto p = e.batch * v2::kBatchPeriods + w * v2::kWordPeriods + i;
                                   if (p >= periods || ((e.voted_words[w] >> i) & 1) == 0) continue;
                                   marks[p] = ((e.ok_words[w] >> i) & 1) != 0 ? "ok" : "failed";
                               }
                       },
                       [](const auto&) {}},
                   rec.event);
    }
    json vs = json::array();
    for (const auto vid : v.verifier_ids) {
        auto& marks = marks_of(vid);
        std::uint64_t reported = 0, ok = 0;
        for (const auto& m : marks)
            if (!m.is_null()) {
                ++reported;
                if (m == "ok") ++ok;
            }
        json row{{"verifier_id", vid}, {"periods_reported", reported}, {"periods_ok", ok}, {"periods", marks}};
        if (auto it = settled_verifiers.find(vid); it != settled_verifiers.end()) row.update(it->second);
        else put_amount(row, "reward", 0);
        vs.push_back(row);
    }
    const bool closed = settled || ended;
    // Every wei of the deposit went somewhere: the worker, the verifiers, back to the client, or
    // (a cancellation's fee) burned.
    const bool balanced = closed && worker + verifiers + client + from_deposit_burned == deposit;
    json out{{"verifiers", vs},
             {"paid_periods", paid_periods},
             {"failed_periods", failed_periods},
             {"settled", settled},
             {"closed", closed},
             {"balanced", balanced}};
    put_amount(out, "deposit", deposit);
    put_amount(out, "worker", worker);
    put_amount(out, "client_refund", client);
    put_amount(out, "verifiers_total", verifiers);
    put_amount(out, "slashed", burned);
    // Who lost what was burned: the worker's stake (failed periods, a decline or a missed start) is
    // told apart from the verifiers' bonds (silence, dissent) and a cancellation's fee, so that "the
    // worker was slashed" is never read off a silent verifier's penalty.
    const u256 others = penalties + from_deposit_burned;
    put_amount(out, "worker_slashed", burned > others ? burned - others : u256{0});
    put_amount(out, "verifier_penalties", penalties);
    if (ended) out["ended"] = end_reason;
    return out;
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
           {"processed_block", n.head.load()},
           {"engine", n.engine.has_value()}};
    put_amount(j, "balance", balance);
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
    if (auto v = n.dispatcher->get_agreement(id)) {
        j["chain"] = view_json(*v);
        // The deposit the purchase paid (the view's escrow falls to 0 once settled).
        if (auto k = n.store->get_known(id); k && *k)
            if (auto wei = parse_u256((*k)->requirements.value("deposit", std::string{"0"}))) put_amount(j["chain"], "deposit", *wei);
    }
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
            probes.push_back(json{{"period", p.period},
                                  {"ok", p.ok},
                                  {"inconclusive", p.inconclusive},
                                  {"detail", p.detail},
                                  {"at_ms", p.at_ms}});
        j["probes"] = std::move(probes);
    }
    return j;
}

namespace {

/// The image of a run request, inspected: an archive on this machine, or one the local engine
/// holds (exported). An archive inspected before and unchanged since (same size and mtime, as
/// git's index trusts) is not hashed again; the worker verifies every byte it receives anyway.
struct PreparedImage {
    fs::path archive;
    transfer::ImageInfo info;
    std::uintmax_t size{0};
    fs::file_time_type mtime{};
    bool stat_ok{false};
};

Result<PreparedImage> prepare_image(NodeContext& n, const std::string& image) {
    fs::path archive = image;
    std::error_code ec;
    if (!fs::is_regular_file(archive, ec)) {
        const bool looks_like_path = image.find('/') == 0 || image.starts_with("./") || image.starts_with("../") ||
                                     image.ends_with(".tar") || image.ends_with(".tar.gz");
        if (looks_like_path)
            return make_error(Errc::not_found, "no image archive at " + image + " (on the node's machine)");
        if (!n.engine)
            return make_error(Errc::not_found, "'" + image + "' is no archive file, and no container engine is reachable to export an image of that name");
        std::string safe;
        for (char c : image) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
        archive = n.opt.data_dir / "images" / (safe + ".tar");
        fs::create_directories(archive.parent_path(), ec);
        auto exported = n.engine->export_image(image, archive);
        if (!exported) return exported.error().wrap("image '" + image + "'");
    }
    std::error_code stat_ec;
    PreparedImage p;
    p.archive = archive;
    p.size = fs::file_size(archive, stat_ec);
    p.mtime = fs::last_write_time(archive, stat_ec);
    p.stat_ok = !stat_ec;
    const auto key = fs::absolute(archive).lexically_normal().string();
    std::optional<transfer::ImageInfo> seen;
    if (p.stat_ok) {
        std::lock_guard lock{n.mu};
        if (auto it = n.inspected_files.find(key); it != n.inspected_files.end() && it->second.size == p.size &&
                                                   it->second.mtime == p.mtime)
            seen = it->second.info;
    }
    p.info = seen ? std::move(*seen) : ZP_TRY(transfer::inspect_image(archive));
    if (!seen && p.stat_ok) {
        std::lock_guard lock{n.mu};
        if (n.inspected_files.size() >= 64) n.inspected_files.erase(n.inspected_files.begin());
        n.inspected_files[key] = NodeContext::Inspected{p.info, p.size, p.mtime};
    }
    return p;
}

PurchasePlan plan_of(const RunRequest& r) {
    PurchasePlan p;
    p.duration = r.duration;
    p.period = r.period;
    p.verifiers = r.verifiers;
    p.max_price_per_second = r.max_price_per_second;
    p.cpu_millicores = r.cpu_millicores;
    p.memory_mb = r.memory_mb;
    p.min_reputation = r.min_reputation;
    p.port = r.port;
    return p;
}

/// The market now (the assignable workers' offers, this account's balance, the gas price) and
/// the checks of purchase_check.hpp over it.
Result<PurchaseVerdict> check_against_market(NodeContext& n, const PurchasePlan& plan) {
    MarketSnapshot m;
    m.client_worker_id = n.worker_id.load();
    const auto count = ZP_TRY(n.dispatcher->worker_count());
    for (std::uint64_t id = 1; id <= count && id <= 1000; ++id) {
        const auto w = ZP_TRY(n.dispatcher->get_worker(id));
        // Assignable: active with at least the minimum stake (the contract's draw checks the rest).
        if (w.status != v2::WorkerStatus::active || w.stake < n.config.min_stake) continue;
        WorkerOffer o{id, w.price_per_second, w.max_duration, w.cpu_millicores, w.memory_mb, 500};
        if (plan.min_reputation != 0) o.reputation = ZP_TRY(n.dispatcher->reputation_of(id));
        m.workers.push_back(o);
    }
    m.balance = ZP_TRY(n.rpc->get_balance(n.me));
    if (auto fees = n.rpc->suggest_fees()) m.gas_cost = u256{kBuyContractGas} * fees->max_fee;
    return check_purchase(plan, m, PurchaseRules::v2(n.config.verifier_fee_bps, n.config.min_verifier_pay));
}

}  // namespace

Result<json> Node::check_run(const RunRequest& r) {
    auto& n = *ctx_;
    auto plan = plan_of(r);
    std::vector<Refusal> own;  // the image and the probe, which the market does not judge
    if (auto image = prepare_image(n, r.image)) {
        plan.exposed_ports = exposed_ports(image->info.config);
    } else {
        own.push_back(Refusal{"image_unusable", image.error().message()});
    }
    if (auto spec = probe::parse_spec(r.probe); !spec) own.push_back(Refusal{"probe_invalid", spec.error().message()});
    auto v = ZP_TRY(check_against_market(n, plan));
    v.refusals.insert(v.refusals.begin(), own.begin(), own.end());
    json refusals = json::array();
    for (const auto& x : v.refusals) refusals.push_back(json{{"code", x.code}, {"message", x.message}});
    json out{{"ok", v.ok()},
             {"refusals", refusals},
             {"eligible_workers", v.eligible_workers},
             {"active_workers", v.active_workers},
             {"workers_needed", v.workers_needed}};
    put_amount(out, "deposit", v.deposit);
    put_amount(out, "max_price_per_second", r.max_price_per_second);  // as asked, for the words around the quote
    if (v.cheapest) {
        json cheapest{{"worker_id", v.cheapest->id}};
        put_amount(cheapest, "price_per_second", v.cheapest->price_per_second);
        out["cheapest"] = std::move(cheapest);
    }
    return out;
}

Result<std::uint64_t> Node::submit_run(const RunRequest& r) {
    auto& n = *ctx_;
    // 1. The image, and every requirement checked against the market before anything is sent.
    const auto image = ZP_TRY(prepare_image(n, r.image));
    const auto& archive = image.archive;
    const auto& info = image.info;
    const auto size_before = image.size;
    const auto mtime_before = image.mtime;
    const bool stat_ok = image.stat_ok;
    auto plan = plan_of(r);
    plan.exposed_ports = exposed_ports(info.config);
    const auto verdict = ZP_TRY(check_against_market(n, plan));
    if (!verdict.ok()) return make_error(Errc::invalid_argument, verdict.text());
    // 2. The probe spec, committed on chain with a secret salt: nobody can guess it from the
    // commit; the worker and the verifiers learn it from this node (the worker checks its own
    // service against it before the paid clock starts).
    const auto spec = ZP_TRY(probe::parse_spec(r.probe));
    const auto spec_json = probe::canonical_json(spec);
    const auto salt = ZP_TRY(random_secret());
    // 3. Buy.
    if (r.max_price_per_second > std::numeric_limits<std::uint64_t>::max())
        return make_error(Errc::invalid_argument, "--max-price is too large");
    v2::Requirements req;
    req.cpu_millicores = r.cpu_millicores;
    req.memory_mb = r.memory_mb;
    req.duration = r.duration;
    req.period_seconds = r.period;
    req.max_price_per_second = static_cast<std::uint64_t>(r.max_price_per_second);
    req.verifiers = r.verifiers;
    req.min_reputation = r.min_reputation;
    req.image_digest = info.config_digest;
    req.spec_commit = v2::spec_commit(ByteView{reinterpret_cast<const std::uint8_t*>(spec_json.data()), spec_json.size()}, salt);
    auto tx = n.dispatcher->buy_contract_tx(n.me, req);
    if (!tx) return n.explain_funds(tx.error(), n.dispatcher->tx(v2::calls::buy_contract(req), verdict.deposit));
    const auto action = "buy:" + to_hex(info.config_digest, false).substr(0, 12) + ":" + std::to_string(now_ms());
    const auto bought = ZP_TRY(n.transact(0, action, std::move(*tx)));
    std::uint64_t id = 0;
    for (const auto& rec : ZP_TRY(v2::decode_events(n.opt.dispatcher, bought.logs)))
        if (const auto* c = std::get_if<v2::AgreementPurchased>(&rec.event)) id = c->agreement_id;
    if (id == 0) return make_error(Errc::internal, "buyContract was mined but announced no agreement");
    ZP_CHECK(n.store->set_tx_agreement(bought.transaction_hash, id));
    if (stat_ok) {
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
        // An uploaded archive is named by its own file name, not the node's copy's path.
        const auto uploads = (n.opt.data_dir / "uploads").lexically_normal().string();
        const bool uploaded = fs::absolute(archive).lexically_normal().string().starts_with(uploads + "/");
        a.rec.image_name = uploaded ? archive.filename().string() : r.image;
        a.rec.image_digest = transfer::digest_string(info.config_digest);
        a.rec.spec = spec_json;
        a.rec.salt = salt;
        a.rec.submitted_ms = now_ms();
        ZP_CHECK(n.store->put(a));
    }
    spdlog::info("agreement {}: bought ({} s, {} verifiers, image {})", id, r.duration, r.verifiers,
                 transfer::short_digest(info.config_digest));
    n.wake(id);
    return id;
}

Result<json> Node::store_upload(std::string_view bytes, std::string_view file_name) {
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
    // Kept under its own file name (people know it by that), in a directory of its digest.
    std::string name;
    for (char c : fs::path{std::string{file_name}}.filename().string())
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') name += c;
    if (name.empty() || name.front() == '.' || name.size() > 100) name = "image.tar";
    const auto path = dir / to_hex(info->config_digest, false).substr(0, 16) / name;
    fs::create_directories(path.parent_path(), ec);
    fs::rename(tmp, path, ec);
    if (ec) return make_error(Errc::io, "cannot keep the upload: " + ec.message());
    return json{{"path", path.string()}, {"name", name}, {"config_digest", transfer::digest_string(info->config_digest)}, {"bytes", bytes.size()}};
}

Result<json> Node::stop_agreement(std::uint64_t id) {
    auto& n = *ctx_;
    const auto a = ZP_TRY(n.local(id));
    if (a.role != Role::client) return make_error(Errc::invalid_argument, "only the client of agreement " + std::to_string(id) + " can stop it");
    auto v = ZP_TRY(n.dispatcher->get_agreement(id));
    // Started, its verifiers not drawn yet (`run` returns as soon as the service answers, a block
    // before): the paid clock starts with that draw, and the stop waits for it (a stop in the
    // start's second bills nothing).
    for (int i = 0; i < 120 && v.status == AgreementStatus::starting; ++i) {
        std::this_thread::sleep_for(250ms);
        v = ZP_TRY(n.dispatcher->get_agreement(id));
    }
    if (v.status == AgreementStatus::starting)
        return make_error(Errc::timeout, "agreement " + std::to_string(id) +
                                             " is still starting after 30 s (its verifiers are drawn from the block after the "
                                             "worker's start): try `zeppelin stop` again in a moment");
    if (v.status == AgreementStatus::running) {
        ZP_TRY(n.call(id, "stop", v2::calls::stop_agreement(id)));
        ZP_CHECK(n.mark_stopped(id));  // "stopping" until it settles, across restarts (client_role.cpp keeps it)
    } else if (v.status == AgreementStatus::purchased || v.status == AgreementStatus::assigned ||
               v.status == AgreementStatus::accepted) {
        ZP_TRY(n.call(id, "cancel", v2::calls::cancel_agreement(id)));
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
    if (action == "pause") data = v2::calls::pause_worker();
    else if (action == "resume") data = v2::calls::resume_worker();
    else if (action == "unregister") data = v2::calls::unregister_worker();
    else if (action == "withdraw") {
        // What is not locked by open agreements: after `unregister` and its cool-down, the whole stake.
        const auto w = ZP_TRY(n.dispatcher->get_worker(n.worker_id.load()));
        data = v2::calls::withdraw_stake(w.stake - w.locked);
    }
    else return make_error(Errc::invalid_argument, "unknown worker action '" + std::string{action} + "'");
    ZP_TRY(n.call(0, std::string{action} + ":" + std::to_string(now_ms()), std::move(data)));
    return status();
}

Result<json> Node::quote(const u256& max_price, std::uint32_t duration, std::uint32_t period, std::uint8_t verifiers) {
    auto& n = *ctx_;
    if (max_price > std::numeric_limits<std::uint64_t>::max()) return make_error(Errc::invalid_argument, "max price too large");
    v2::Requirements req;
    req.duration = duration;
    req.period_seconds = period;
    req.max_price_per_second = static_cast<std::uint64_t>(max_price);
    req.verifiers = verifiers;
    const auto deposit = ZP_TRY(n.dispatcher->quote(req));
    json out{{"verifier_fee_bps", to_dec(n.config.verifier_fee_bps)}};
    put_amount(out, "deposit", deposit);
    put_amount(out, "min_stake", n.config.min_stake);
    return out;
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
