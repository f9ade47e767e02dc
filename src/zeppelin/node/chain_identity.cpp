#include "zeppelin/node/chain_identity.hpp"

#include <ctime>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/node/context.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------- the pure rule

Mismatch compare(const ChainIdentity& recorded, const ChainIdentity& observed) noexcept {
    if (recorded.chain_id != observed.chain_id) return Mismatch::chain_id;
    if (recorded.genesis != observed.genesis) return Mismatch::genesis;
    if (recorded.dispatcher != observed.dispatcher) return Mismatch::dispatcher;
    if (recorded.code_hash != observed.code_hash) return Mismatch::code;
    return Mismatch::none;
}

bool agreements_gone(Mismatch m) noexcept { return m == Mismatch::genesis || m == Mismatch::code; }

std::string_view to_string(Mismatch m) noexcept {
    switch (m) {
        case Mismatch::none: return "none";
        case Mismatch::chain_id: return "chain_id";
        case Mismatch::genesis: return "genesis";
        case Mismatch::dispatcher: return "dispatcher";
        case Mismatch::code: return "code";
    }
    return "unknown";
}

Hash32 empty_code_hash() { return eth::keccak256(ByteView{}); }

namespace {

std::string code_text(const Hash32& h) { return h == empty_code_hash() ? std::string{"no code"} : "code " + to_hex(h); }

std::string identity_text(const ChainIdentity& id) {
    return fmt::format("chain {} with genesis {}, dispatcher {} ({})", id.chain_id, to_hex(id.genesis),
                       eth::to_checksum(id.dispatcher), code_text(id.code_hash));
}

}  // namespace

std::string describe(Mismatch m, const ChainIdentity& recorded, const ChainIdentity& observed) {
    std::string what;
    switch (m) {
        case Mismatch::none: return "the chain is the one this node works with: " + identity_text(recorded);
        case Mismatch::chain_id:
            what = fmt::format("the endpoint serves another chain (id {}, not {}); the recorded chain may still run elsewhere, "
                               "so the work of its agreements is left running",
                               observed.chain_id, recorded.chain_id);
            break;
        case Mismatch::genesis:
            what = "the chain was started afresh (same id, another genesis block): the agreements this node knows are gone "
                   "from it, and the containers of its work are stopped";
            break;
        case Mismatch::dispatcher:
            what = fmt::format("another deployment is configured (dispatcher {}, not {}); the recorded one may still be "
                               "there, so the work of its agreements is left running",
                               eth::to_checksum(observed.dispatcher), eth::to_checksum(recorded.dispatcher));
            break;
        case Mismatch::code:
            what = fmt::format("the dispatcher's code changed ({}, recorded {}): the agreements this node knows are gone, "
                               "and the containers of its work are stopped",
                               code_text(observed.code_hash), code_text(recorded.code_hash));
            break;
    }
    return fmt::format("chain mismatch: this node works with {}, but the endpoint now serves {}: {}. The node stopped "
                       "acting (no transactions, no steps) and keeps its data: point it back at its chain and restart "
                       "it, or adopt this chain with `zeppelin node --reset-chain` (the old state is archived)",
                       identity_text(recorded), identity_text(observed), what);
}

nlohmann::json to_json(const ChainIdentity& id) {
    return {{"chain_id", id.chain_id},
            {"genesis", to_hex(id.genesis)},
            {"dispatcher", eth::to_checksum(id.dispatcher)},
            {"code_hash", to_hex(id.code_hash)}};
}

Result<ChainIdentity> identity_from_json(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("chain_id") || !j["chain_id"].is_number_unsigned() || !j.contains("genesis") ||
        !j["genesis"].is_string() || !j.contains("dispatcher") || !j["dispatcher"].is_string() ||
        !j.contains("code_hash") || !j["code_hash"].is_string())
        return make_error(Errc::invalid_argument, "a chain identity needs chain_id, genesis, dispatcher and code_hash");
    ChainIdentity id;
    id.chain_id = j["chain_id"].get<std::uint64_t>();
    id.genesis = ZP_TRY(fixed_from_hex<32>(j["genesis"].get<std::string>()));
    id.dispatcher = ZP_TRY(eth::parse_address(j["dispatcher"].get<std::string>()));
    id.code_hash = ZP_TRY(fixed_from_hex<32>(j["code_hash"].get<std::string>()));
    return id;
}

Result<std::optional<ChainIdentity>> load_identity(Store& store) {
    const auto text = ZP_TRY(store.setting(kChainIdentityKey));
    if (!text) return std::optional<ChainIdentity>{};
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    auto id = identity_from_json(j);
    if (!id) return id.error().wrap("the recorded chain identity");
    return std::optional<ChainIdentity>{*id};
}

Result<void> save_identity(Store& store, const ChainIdentity& id) { return store.set(kChainIdentityKey, to_json(id).dump()); }

Result<ChainIdentity> observe_identity(eth::RpcClient& rpc, const Address& dispatcher, bool with_code) {
    ChainIdentity id;
    id.chain_id = ZP_TRY(rpc.chain_id());
    const auto genesis = ZP_TRY(rpc.get_block_header(eth::BlockTag::number(0)));
    if (!genesis) return make_error(Errc::rpc_bad_reply, "the endpoint has no block 0");
    id.genesis = genesis->hash;
    id.dispatcher = dispatcher;
    if (with_code) id.code_hash = eth::keccak256(ZP_TRY(rpc.get_code(dispatcher)));
    return id;
}

Result<std::filesystem::path> archive_state(const std::filesystem::path& data_dir, const ChainIdentity& old,
                                            std::int64_t unix_seconds) {
    namespace fs = std::filesystem;
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    const auto base = fmt::format("chain{}-{}-{}", old.chain_id, to_hex(old.genesis, false).substr(0, 8), when);
    std::error_code ec;
    auto dest = data_dir / "archive" / base;
    for (int i = 2; fs::exists(dest, ec); ++i) dest = data_dir / "archive" / (base + "-" + std::to_string(i));
    fs::create_directories(dest, ec);
    if (ec) return make_error(Errc::io, "cannot create " + dest.string() + ": " + ec.message());
    for (const char* name : {"state.sqlite", "state.sqlite-wal", "state.sqlite-shm"}) {
        if (!fs::exists(data_dir / name, ec)) continue;
        fs::rename(data_dir / name, dest / name, ec);
        if (ec) return make_error(Errc::io, "cannot move " + (data_dir / name).string() + " to " + dest.string() + ": " + ec.message());
    }
    return dest;
}

// ---------------------------------------------------------------------------- ChainGuard

void ChainGuard::set_recorded(const ChainIdentity& id) {
    std::lock_guard lock{mu_};
    recorded_ = id;
}

std::optional<ChainIdentity> ChainGuard::recorded() const {
    std::lock_guard lock{mu_};
    return recorded_;
}

void ChainGuard::halt(Halt h) {
    std::lock_guard lock{mu_};
    if (!halt_) halt_ = std::move(h);
    halted_ = true;
}

std::optional<ChainGuard::Halt> ChainGuard::halt_state() const {
    std::lock_guard lock{mu_};
    return halt_;
}

void ChainGuard::mark_work_stopped() {
    std::lock_guard lock{mu_};
    if (halt_) halt_->work_stopped = true;
}

bool ChainGuard::check_due(std::chrono::steady_clock::time_point now) const {
    std::lock_guard lock{mu_};
    return !last_check_ || now - *last_check_ >= kCheckInterval;
}

void ChainGuard::mark_checked(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock{mu_};
    last_check_ = now;
}

// ---------------------------------------------------------------------------- the hooks

namespace {

/// Ends the containers of every open worker agreement of `store` (labelled with `runtime_id`).
void end_open_work(Store& store, const runtime::Engine& engine, const std::string& runtime_id) {
    auto open = store.list(false);
    if (!open) {
        spdlog::error("cannot list the open agreements: {}", open.error().message());
        return;
    }
    runtime::EndOptions eo;
    eo.grace = 0s;
    eo.remove_image = false;
    for (const auto& a : *open) {
        if (a.role != Role::worker) continue;
        if (auto r = runtime::end_work(engine, std::to_string(a.id), eo, runtime_id))
            spdlog::warn("agreement {}: its chain is gone; its work's container is stopped", a.id);
        else
            spdlog::error("agreement {}: cannot stop the work's container: {}", a.id, r.error().message());
    }
}

Result<void> adopt(NodeContext& n, const ChainIdentity& old, const ChainIdentity& observed) {
    if (observed.code_hash == empty_code_hash())
        return make_error(Errc::not_found, "--reset-chain: no contract at " + eth::to_checksum(observed.dispatcher) +
                                               " on chain " + std::to_string(observed.chain_id) + ": nothing to adopt");
    // The old agreements' containers first: the fresh state draws a new instance id, after which
    // nothing would name them any more.
    if (auto inst = ZP_TRY(n.store->setting("instance")); inst) {
        if (auto engine = runtime::Engine::from_environment(); engine && engine->ping())
            end_open_work(*n.store, *engine, lower_hex(n.me).substr(0, 16) + "-" + *inst);
    }
    n.store.reset();  // closed before its files move
    const auto dest = ZP_TRY(archive_state(n.opt.data_dir, old, static_cast<std::int64_t>(now_s())));
    n.store = ZP_TRY(Store::open((n.opt.data_dir / "state.sqlite").string()));
    ZP_CHECK(save_identity(*n.store, observed));
    n.chain_guard.set_recorded(observed);
    spdlog::warn("--reset-chain: adopted {}; the state of {} is archived in {}", to_json(observed).dump(),
                 to_json(old).dump(), dest.string());
    return {};
}

}  // namespace

Result<void> check_chain_at_start(NodeContext& n) {
    const auto observed = ZP_TRY(observe_identity(*n.rpc, n.opt.dispatcher));
    const auto recorded = ZP_TRY(load_identity(*n.store));
    if (!recorded) {
        if (observed.code_hash == empty_code_hash())
            return make_error(Errc::not_found, "no contract at " + eth::to_checksum(n.opt.dispatcher) + " on chain " +
                                                   std::to_string(observed.chain_id) + " (is the deployment record right?)");
        ZP_CHECK(save_identity(*n.store, observed));
        n.chain_guard.set_recorded(observed);
        spdlog::info("chain identity recorded: {}", to_json(observed).dump());
        return {};
    }
    n.chain_guard.set_recorded(*recorded);
    n.chain_guard.mark_checked(std::chrono::steady_clock::now());
    const auto m = compare(*recorded, observed);
    if (m == Mismatch::none) {
        if (n.opt.reset_chain) spdlog::info("--reset-chain: the chain is the recorded one, nothing to reset");
        return {};
    }
    if (n.opt.reset_chain) return adopt(n, *recorded, observed);
    auto message = describe(m, *recorded, observed);
    spdlog::error("{}", message);
    n.chain_guard.halt(ChainGuard::Halt{m, observed, std::move(message), false});
    return {};
}

Result<void> check_chain(NodeContext& n, std::string_view why) {
    if (auto h = n.chain_guard.halt_state()) return make_error(Errc::cancelled, h->message);
    const auto recorded = n.chain_guard.recorded();
    if (!recorded) return {};
    n.chain_guard.mark_checked(std::chrono::steady_clock::now());
    const auto genesis = ZP_TRY(n.rpc->get_block_header(eth::BlockTag::number(0)));
    if (!genesis) return make_error(Errc::rpc_bad_reply, "the endpoint has no block 0");
    if (genesis->hash == recorded->genesis) return {};
    // Changed: everything once more, for the report (the genesis alone if the rest cannot be read).
    auto observed = observe_identity(*n.rpc, recorded->dispatcher);
    ChainIdentity seen = observed ? *observed : *recorded;
    seen.genesis = genesis->hash;
    const auto m = compare(*recorded, seen);
    auto message = describe(m, *recorded, seen);
    spdlog::error("{} (noticed by {})", message, why);
    n.chain_guard.halt(ChainGuard::Halt{m, seen, std::move(message), false});
    return make_error(Errc::cancelled, "stopped: the endpoint serves another chain than this node's (logged above)");
}

bool chain_tick(NodeContext& n) {
    if (!n.chain_guard.halted() && n.chain_guard.check_due(std::chrono::steady_clock::now())) {
        if (auto r = check_chain(n, "the periodic check"); !r && !n.chain_guard.halted())
            spdlog::warn("cannot check the chain's identity: {}", r.error().message());
    }
    if (!n.chain_guard.halted()) return false;
    const auto h = n.chain_guard.halt_state();
    if (h && agreements_gone(h->mismatch) && !h->work_stopped) {
        n.chain_guard.mark_work_stopped();  // once: the engine's failures are logged, not retried every turn
        if (n.engine) end_open_work(*n.store, *n.engine, n.runtime_id);
    }
    return true;
}

nlohmann::json chain_status(const NodeContext& n) {
    nlohmann::json j{{"state", n.chain_guard.halted() ? "mismatch" : "ok"}};
    if (const auto rec = n.chain_guard.recorded()) j["recorded"] = to_json(*rec);
    if (const auto h = n.chain_guard.halt_state()) {
        j["observed"] = to_json(h->observed);
        j["mismatch"] = std::string{to_string(h->mismatch)};
        j["message"] = h->message;
        j["work_stopped"] = h->work_stopped;
    }
    return j;
}

}  // namespace zeppelin::node
