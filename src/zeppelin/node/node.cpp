#include "zeppelin/node/context.hpp"

#include <algorithm>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

/// Schedules a step for an agreement now. After it: a failed step is tried again (a "not yet"
/// in 2 s, any other failure after 2, 4, 8 ... up to 60 s); a finished agreement is forgotten.
void NodeContext::wake(std::uint64_t id) {
    pool->post(id, [this, id] {
        auto r = step(id);
        const bool failed = !r && !is_not_yet(r.error());
        unsigned fails = 0;
        {
            std::lock_guard lock{mu};
            if (failed) fails = ++failures[id];
            else failures.erase(id);
        }
        if (failed) {
            spdlog::warn("agreement {}: {}", id, r.error().message());
            (void)update(id, [&](LocalAgreement& la) { la.rec.last_error = r.error().message(); });
        }
        const auto row = store->get(id);
        if (row && !*row) {
            deadlines.cancel(id);  // an agreement of other parties
            return;
        }
        if (row && (*row)->finished()) {
            deadlines.cancel(id);
            std::lock_guard lock{mu};
            views.erase(id);
            view_epochs.erase(id);
            plans.erase(id);
            failures.erase(id);
            offer_seen_ms.erase(id);
            return;
        }
        if (!r) wake_in(id, failed ? std::min<std::chrono::milliseconds>(2s * (1U << std::min(fails - 1, 5U)), 60s) : 2s);
    });
}

void NodeContext::wake_in(std::uint64_t id, std::chrono::milliseconds delay) {
    deadlines.schedule(id, std::chrono::steady_clock::now() + std::max(delay, std::chrono::milliseconds{0}));
}

void NodeContext::wake_at_ms(std::uint64_t id, std::int64_t unix_ms) {
    wake_in(id, std::chrono::milliseconds{unix_ms - world->now_ms()});
}

std::chrono::milliseconds NodeContext::follow_delay() const {
    const auto poll = *opt.poll;
    const auto interval = follower->block_interval();
    const auto& latest = follower->head();
    // On a chain that mines on demand (the devnet's short polls) a block can come at any moment.
    if (poll < 1s || !latest || interval < 2 * poll) return poll;
    // The next block is due one interval after the head's timestamp (whole seconds: a second more
    // so as not to ask just before it): ask then, not every poll.
    const auto due = static_cast<std::int64_t>(latest->timestamp) * 1000 + interval.count() + 1000 - now_ms();
    return std::clamp(std::chrono::milliseconds{due}, poll, interval);
}

void NodeContext::wake_due() {
    for (const auto id : deadlines.take_due(std::chrono::steady_clock::now())) wake(id);
}

Result<v2::AgreementView> NodeContext::view_of(std::uint64_t id) {
    const auto now = std::chrono::steady_clock::now();
    std::uint64_t epoch = 0;
    {
        std::lock_guard lock{mu};
        if (auto it = views.find(id); it != views.end() && now - it->second.read < kSafetyStep) return it->second.view;
        epoch = view_epochs[id];
    }
    auto view = ZP_TRY(dispatcher->get_agreement(id));
    std::lock_guard lock{mu};
    // An event that arrived during the read may have changed what was read: keep no copy then.
    if (auto it = view_epochs.find(id); it != view_epochs.end() && it->second == epoch) views[id] = CachedView{view, now};
    return view;
}

void NodeContext::invalidate(std::uint64_t id) {
    std::lock_guard lock{mu};
    views.erase(id);
    if (auto it = view_epochs.find(id); it != view_epochs.end()) ++it->second;
}

Result<void> NodeContext::step(std::uint64_t id) {
    if (chain_guard.halted()) return {};  // no step on another chain than this node's
    const auto row = ZP_TRY(store->get(id));
    if (!row || row->finished()) return {};  // not this node's agreement, or nothing left to do
    const auto& a = *row;
    const auto view = ZP_TRY(view_of(id));
    switch (a.role) {
        case Role::client: return client_step(a, view);
        case Role::worker: return worker_step(a, view);
        case Role::verifier: return verifier_step(a, view);
    }
    return {};
}

std::uint64_t NodeContext::settle_by(const v2::AgreementView& v) const {
    return v.end_of_service() + config.report_window;
}

Result<void> NodeContext::settle(std::uint64_t id) {
    auto r = chain->send(id, "settle", v2::calls::settle(id));
    if (!r) return r.error();
    return {};
}

// ---------------------------------------------------------------------------------- Node

Node::Node(std::unique_ptr<NodeContext> impl) : ctx_{std::move(impl)} {}

Node::~Node() {
    if (!ctx_) return;
    ctx_->pool.reset();  // joins the steps first: they use everything below
    ctx_->stop_reachability();
    if (ctx_->log_server) ctx_->log_server->stop();
    if (ctx_->transfer) ctx_->transfer->stop();
}

const Address& Node::address() const noexcept { return ctx_->me; }

Result<std::unique_ptr<Node>> Node::start(NodeOptions options) {
    auto impl = std::make_unique<NodeContext>();
    auto& n = *impl;
    n.opt = std::move(options);
    if (!n.opt.key) return make_error(Errc::invalid_argument, "the node needs its account's key");
    n.me = (*n.opt.key).address();
    std::error_code ec;
    fs::create_directories(n.opt.data_dir, ec);
    if (ec) return make_error(Errc::io, "cannot create the data directory " + n.opt.data_dir.string() + ": " + ec.message());

    n.store = ZP_TRY(Store::open((n.opt.data_dir / "state.sqlite").string()));
    n.rpc = ZP_TRY(eth::RpcClient::connect(n.opt.rpc_url));
    ZP_CHECK(v2::add_errors_to(*n.rpc));
    auto chain = n.rpc->chain_id();
    if (!chain) return chain.error().wrap("cannot reach the chain at " + n.opt.rpc_url);
    n.chain_id = *chain;
    if (n.opt.chain_id != 0 && n.opt.chain_id != n.chain_id)
        return make_error(Errc::invalid_argument, "the endpoint serves chain " + std::to_string(n.chain_id) +
                                                      ", not the configured chain " + std::to_string(n.opt.chain_id));
    ZP_CHECK(check_chain_at_start(n));  // records, compares, halts or adopts (--reset-chain)
    if (auto inst = ZP_TRY(n.store->setting("instance")); inst) {
        n.runtime_id = lower_hex(n.me).substr(0, 16) + "-" + *inst;
    } else {
        const auto r = ZP_TRY(random_secret());
        const auto fresh = to_hex(r, false).substr(0, 8);
        ZP_CHECK(n.store->set("instance", fresh));
        n.runtime_id = lower_hex(n.me).substr(0, 16) + "-" + fresh;
    }
    // For tools that tear a whole market down (scripts/market.sh) and for tests.
    if (std::ofstream out{n.opt.data_dir / "runtime-id", std::ios::trunc}; out) out << n.runtime_id << "\n";
    n.follower_db.emplace(ZP_TRY(Database::open((n.opt.data_dir / "state.sqlite").string())));

    n.dispatcher = std::make_unique<v2::Dispatcher>(*n.rpc, n.opt.dispatcher);
    const bool acting = !n.chain_guard.halted();  // on another chain: nothing below reads or writes it
    if (acting) n.config = ZP_TRY(n.dispatcher->config());

    if (!n.opt.poll) n.opt.poll = n.chain_id == 31337 ? std::chrono::milliseconds{50} : std::chrono::milliseconds{1000};
    eth::SenderOptions so;
    so.poll_interval = *n.opt.poll;
    // Every transaction is journaled by the hook its request carries (journal.cpp); one sent
    // without it (none should be) is not journaled.
    n.sender = ZP_TRY(eth::TxSender::create(*n.rpc, (*n.opt.key), so));
    if (acting) n.recover_journal();

    n.follower.emplace(ZP_TRY(Follower::open(*n.rpc, *n.follower_db,
                                             FollowerConfig{n.opt.dispatcher, n.opt.deploy_block, n.opt.confirmations, 2000})));
    n.follower->set_before_rewind([impl = &n] { return check_chain(*impl, "the follower (the chain changed under it)"); });

    if (auto engine = runtime::Engine::from_environment(); engine && engine->ping()) {
        n.engine.emplace(std::move(*engine));
    } else if (n.opt.worker) {
        return make_error(Errc::engine_error, "no container engine answers (set ZEPPELIN_DOCKER_HOST or DOCKER_HOST, "
                                              "or start one: bash scripts/services.sh start)");
    }
    n.install_live_ports();

    if (n.opt.worker) {
        transfer::ServerOptions to;
        to.host = n.opt.transfer_host;
        to.port = n.opt.transfer_port;
        to.cache_dir = n.opt.data_dir / "layers";
        to.assemble_archive = false;  // the engine pulls the layers from the cache (LocalRegistry)
        to.on_complete = [impl = &n](const std::string& aid, const Result<transfer::ReceivedImage>& r) {
            std::uint64_t id = 0;
            try {
                id = std::stoull(aid);
            } catch (const std::exception&) {
                return;
            }
            {
                std::lock_guard lock{impl->mu};
                impl->received.insert_or_assign(id, r);
            }
            // Kept in the state at once: the client will not send it again, and a restart finds the
            // verified layers in the cache.
            if (r) {
                if (auto w = impl->record_received(id, r->config, r->diff_ids); !w)
                    spdlog::warn("agreement {}: cannot record the received image: {}", id, w.error().message());
            }
            impl->wake(id);
        };
        to.on_hello = [impl = &n](const transfer::IncomingImage& img) {
            if (const auto id = impl->on_transfer_hello(img)) impl->wake(*id);
        };
        n.transfer = ZP_TRY(transfer::Server::start(std::move(to)));
        if (!n.opt.pull_images) {
            spdlog::info("received images are loaded as archives (--image-delivery load)");
        } else if (auto registry = LocalRegistry::start()) {
            n.image_registry = std::move(*registry);
        } else {
            spdlog::warn("no loopback registry ({}): received images are loaded as archives", registry.error().message());
        }
        n.log_server = ZP_TRY(LogServer::start(
            n.opt.transfer_host, n.opt.log_port, [impl = &n](std::uint64_t id) { return impl->logs_lookup(id); },
            [impl = &n](std::uint64_t id, bool follow, const LogSinkFn& sink) { return impl->worker_logs(id, follow, sink); }));
        if (acting) {  // a node halted on another chain maps nothing and sends nothing
            ZP_CHECK(n.start_reachability());
            ZP_CHECK(n.register_worker());
            n.restake();
            n.enforce_reachability();
        }
    }
    n.pool = std::make_unique<StepPool>(n.opt.step_threads);
    spdlog::info("node {} on chain {} (dispatcher {}), worker id {}", eth::to_checksum(n.me), n.chain_id,
                 eth::to_checksum(n.opt.dispatcher), n.worker_id.load());
    return std::unique_ptr<Node>{new Node{std::move(impl)}};
}

void Node::run(const std::atomic<bool>& stop) {
    auto& n = *ctx_;
    // The moments steps asked for come on their own thread: a chain read of the loop below may
    // hang for a minute when this node's link is cut (the RPC client's retries), and a verifier
    // must still probe then, to find its own outage (inconclusive probes, issue 14), and a worker
    // still serve its periods' moments.
    std::jthread waker{[&n, &stop] {
        while (!stop.load()) {
            if (!n.chain_guard.halted()) n.wake_due();
            std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(*n.opt.poll, 100ms));
        }
    }};
    auto last_sweep = std::chrono::steady_clock::time_point{};
    auto last_gauge = std::chrono::steady_clock::time_point{};
    auto next_follow = std::chrono::steady_clock::time_point{};
    while (!stop.load()) {
        if (chain_tick(n)) {  // on another chain than its own: the node does nothing (chain_identity.hpp)
            std::this_thread::sleep_for(std::max<std::chrono::milliseconds>(*n.opt.poll, 1s));
            continue;
        }
        // 1. New events, in chain order; a batch is committed only after it was handled.
        while (!stop.load() && std::chrono::steady_clock::now() >= next_follow) {
            auto batch = n.follower->next();
            if (!batch) {
                spdlog::warn("chain follower: {}", batch.error().message());
                n.metrics.counter("zeppelin_rpc_errors_total", "Failed chain reads of the follower").inc();
                break;
            }
            if (!batch->has_range) break;  // caught up
            auto events = v2::decode_events(n.opt.dispatcher, batch->logs);
            if (!events) {
                spdlog::error("cannot decode the dispatcher's events: {}", events.error().message());
                break;
            }
            for (const auto& rec : *events) {
                if (!rec.removed) n.on_event(rec);
            }
            if (auto c = n.follower->commit(*batch); !c) {
                spdlog::error("cannot record progress: {}", c.error().message());
                break;
            }
            n.head = batch->to_block;
            n.metrics.gauge("zeppelin_processed_block", "Last block whose events the node handled").set(static_cast<double>(batch->to_block));
            if (batch->to_hash) break;  // it reached the head: asking again now would find nothing new
        }
        // Purchases whose draw block is mined: is this worker the one drawn?
        n.check_draws();
        if (std::chrono::steady_clock::now() >= next_follow) next_follow = std::chrono::steady_clock::now() + n.follow_delay();
        // 2. The agreements whose moment came; every open one now and then (and at start), in
        //    case a moment was missed. A step that needs nothing new from the chain reads nothing.
        const auto now = std::chrono::steady_clock::now();
        if (last_sweep == std::chrono::steady_clock::time_point{} || now - last_sweep >= NodeContext::kSafetyStep) {
            last_sweep = now;
            if (auto open = n.store->list(false)) {
                for (const auto& a : *open) n.wake(a.id);
            }
        }
        n.wake_due();
        if (now - last_gauge >= 5s) {
            last_gauge = now;
            if (auto open = n.store->list(false))
                n.metrics.gauge("zeppelin_open_agreements", "Agreements this node plays a role in, not finished").set(static_cast<double>(open->size()));
            n.metrics.gauge("zeppelin_scheduled_steps", "Agreements waiting for a moment they asked for").set(static_cast<double>(n.deadlines.size()));
        }
        std::this_thread::sleep_for(*n.opt.poll);
    }
}

}  // namespace zeppelin::node
