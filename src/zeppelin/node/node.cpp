#include "zeppelin/node/node.hpp"

#include <openssl/rand.h>

#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/eth/transaction.hpp"
#include "zeppelin/market/dispatcher.hpp"
#include "zeppelin/node/follower.hpp"
#include "zeppelin/node/log_channel.hpp"
#include "zeppelin/node/messages.hpp"
#include "zeppelin/node/metrics.hpp"
#include "zeppelin/node/registry.hpp"
#include "zeppelin/node/store.hpp"
#include "zeppelin/probe/probe.hpp"
#include "zeppelin/probe/schedule.hpp"
#include "zeppelin/probe/spec.hpp"
#include "zeppelin/runtime/engine.hpp"
#include "zeppelin/runtime/work.hpp"
#include "zeppelin/transfer/client.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/server.hpp"

namespace zeppelin::node {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using market::AgreementStatus;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
std::uint64_t now_s() { return static_cast<std::uint64_t>(now_ms() / 1000); }

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

std::string lower_hex(const Address& a) { return to_hex(a, false); }

json requirements_json(const market::Requirements& r) {
    return json{{"cpu_millicores", r.cpu_millicores},
                {"memory_mb", r.memory_mb},
                {"duration", r.duration},
                {"period_seconds", r.period_seconds},
                {"max_price_per_second", std::to_string(r.max_price_per_second)},
                {"verifiers", r.verifiers},
                {"min_reputation", r.min_reputation},
                {"preferred_worker", to_hex(r.preferred_worker)},
                {"image_digest", to_hex(r.image_digest)},
                {"probe_spec_hash", to_hex(r.probe_spec_hash)}};
}

std::string_view status_name(AgreementStatus s) { return market::to_string(s); }

/// A revert that only means "not yet" (the step will try again later).
bool is_not_yet(const Error& e) {
    return e.code() == Errc::reverted && (e.message().find("SettlementTooEarly") != std::string::npos ||
                                          e.message().find("DeadlineNotPassed") != std::string::npos ||
                                          e.message().find("PeriodNotStarted") != std::string::npos);
}

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

/// A tiny fixed pool that runs at most one job per key at a time.
class KeyedPool final {
public:
    explicit KeyedPool(unsigned threads) {
        for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~KeyedPool() {
        {
            std::lock_guard lock{mu_};
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    KeyedPool(const KeyedPool&) = delete;
    KeyedPool& operator=(const KeyedPool&) = delete;

    /// Queues `job` unless a job of `key` is already queued; if one is running, `job` runs once
    /// more after it (an event that arrives during a step is never lost).
    void post(std::uint64_t key, std::function<void()> job) {
        {
            std::lock_guard lock{mu_};
            if (stop_) return;
            if (auto it = busy_.find(key); it != busy_.end()) {
                if (it->second.running) it->second.again = std::move(job);
                return;
            }
            busy_.emplace(key, State{});
            queue_.emplace_back(key, std::move(job));
        }
        cv_.notify_one();
    }

private:
    void loop() {
        for (;;) {
            std::pair<std::uint64_t, std::function<void()>> item;
            {
                std::unique_lock lock{mu_};
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (stop_) return;
                item = std::move(queue_.front());
                queue_.pop_front();
                busy_[item.first].running = true;
            }
            try {
                item.second();
            } catch (const std::exception& e) {
                spdlog::error("agreement {}: step failed: {}", item.first, e.what());
            }
            bool requeued = false;
            {
                std::lock_guard lock{mu_};
                auto it = busy_.find(item.first);
                if (it->second.again && !stop_) {
                    queue_.emplace_back(item.first, std::move(it->second.again));
                    it->second = State{};
                    requeued = true;
                } else {
                    busy_.erase(it);
                }
            }
            if (requeued) cv_.notify_one();
        }
    }

    struct State {
        bool running{false};
        std::function<void()> again;  // set: run once more when the running job ends
    };

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::uint64_t, std::function<void()>>> queue_;
    std::map<std::uint64_t, State> busy_;
    std::vector<std::thread> threads_;
    bool stop_{false};
};

/// The (agreement, action) of the transaction a thread is sending, for the journal hook.
struct TxContext {
    std::uint64_t agreement{0};
    std::string action;
};
thread_local TxContext* t_tx_context = nullptr;

/// A verifier's plan for the current period of one agreement (memory only: a restarted verifier
/// draws a new plan, which an observer cannot predict either).
struct ProbePlan {
    std::uint64_t period{~0ULL};
    std::vector<std::chrono::milliseconds> offsets;
    std::size_t next{0};
};

}  // namespace

struct Node::Impl {
    NodeOptions opt;
    Address me{};
    // Labels this node's containers: the account and a random id kept in the state, so two nodes
    // of one account (or two devnets reusing agreement ids) on one engine never touch each other's work.
    std::string runtime_id;
    std::uint64_t chain_id{0};
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<eth::TxSender> sender;
    std::unique_ptr<market::Dispatcher> dispatcher;
    market::DispatcherConfig config;
    std::unique_ptr<Store> store;
    std::optional<Database> follower_db;
    std::optional<Follower> follower;
    std::unique_ptr<transfer::Server> transfer;
    std::unique_ptr<LogServer> log_server;
    std::unique_ptr<LocalRegistry> registry;  // how received images reach the engine
    std::optional<runtime::Engine> engine;
    std::atomic<std::uint64_t> worker_id{0};
    Metrics metrics;

    std::mutex mu;  // guards the members below and read-modify-write of agreement rows
    std::map<std::uint64_t, Result<transfer::ReceivedImage>> received;
    std::map<std::uint64_t, transfer::IncomingImage> incoming;  // transfers under way (HELLO accepted)
    std::mutex images_mu;  // the kept-images record (settings), read-modify-write
    // A pull of an arriving image holds a step thread for the whole transfer: at most this many at
    // once, so that a slow client cannot take every step thread (the others wait for completion).
    static constexpr int kMaxArrivingPulls = 2;
    std::atomic<int> arriving_pulls{0};
    std::set<std::uint64_t> expected;
    std::map<std::uint64_t, transfer::Progress> progress;  // of the client's image transfers
    std::map<std::uint64_t, ProbePlan> plans;
    // The identity computed when the client bought, with the archive's size and mtime then: if the
    // file is unchanged at transfer time, it is not hashed a second time.
    struct Inspected {
        transfer::ImageInfo info;
        std::uintmax_t size{0};
        fs::file_time_type mtime;
    };
    std::map<std::uint64_t, Inspected> inspected;
    std::map<std::string, Inspected> inspected_files;  // by absolute path, for the next submit_run
    std::atomic<std::uint64_t> head{0};

    std::unique_ptr<KeyedPool> pool;

    // ------------------------------------------------------------------ state helpers

    /// Read-modify-write of one local agreement under the node's lock.
    Result<void> update(std::uint64_t id, const std::function<void(LocalAgreement&)>& change) {
        std::lock_guard lock{mu};
        auto cur = ZP_TRY(store->get(id));
        if (!cur) return make_error(Errc::not_found, "no local agreement " + std::to_string(id));
        change(*cur);
        return store->put(*cur);
    }
    Result<LocalAgreement> local(std::uint64_t id) {
        auto a = ZP_TRY(store->get(id));
        if (!a) return make_error(Errc::not_found, "agreement " + std::to_string(id) + " is not known to this node");
        return std::move(*a);
    }
    Result<void> set_state(std::uint64_t id, const std::string& state) {
        return update(id, [&](LocalAgreement& a) {
            if (a.state != state) spdlog::info("agreement {}: {} -> {}", id, a.state, state);
            a.state = state;
        });
    }
    Result<void> set_data(std::uint64_t id, const std::string& key, json value) {
        return update(id, [&](LocalAgreement& a) { a.data[key] = std::move(value); });
    }

    // ------------------------------------------------------------------ transactions

    /// Sends one dispatcher transaction for (agreement, action), at most once: a mined one is not
    /// sent again, a journaled pending one is re-broadcast and awaited, and the call is simulated
    /// first so that a transaction that would revert is never sent (its revert comes back as
    /// Errc::reverted with the contract's custom error in words). Returns the mined receipt (for a
    /// transaction mined before, by an earlier call or process, only its hash is filled in).
    Result<eth::Receipt> transact(std::uint64_t agreement, const std::string& action, eth::TxRequest request) {
        const auto journaled = ZP_TRY(store->txs_for(agreement, action));
        for (const auto& t : journaled)
            if (t.status == TxStatus::mined) {
                eth::Receipt r;
                r.transaction_hash = t.hash;
                r.status = true;
                return r;
            }
        std::vector<JournalTx> pending;
        std::copy_if(journaled.begin(), journaled.end(), std::back_inserter(pending),
                     [](const JournalTx& t) { return t.status == TxStatus::pending; });
        if (!pending.empty()) {
            if (auto r = settle_journaled(pending)) return r;
        }
        const auto sim = ZP_TRY(dispatcher->simulate(me, request.data, request.value));
        if (sim.reverted) return make_error(Errc::reverted, sim.revert.text);
        TxContext ctx{agreement, action};
        t_tx_context = &ctx;
        auto sent = sender->send(request);
        t_tx_context = nullptr;
        if (!sent) {
            metrics.counter("zeppelin_transactions_total", "Transactions sent by this node").inc({{"action", action_kind(action)}, {"result", "error"}});
            return sent.error();
        }
        return record(agreement, action, {}, *sent);
    }

    static std::string action_kind(const std::string& action) { return action.substr(0, action.find(':')); }

    Result<eth::Receipt> call(std::uint64_t agreement, const std::string& action, Bytes data, const u256& value = 0) {
        return transact(agreement, action, dispatcher->tx(std::move(data), value));
    }

    /// Writes what became of every version of a transaction to the journal and the metrics.
    Result<eth::Receipt> record(std::uint64_t agreement, const std::string& action, const std::vector<JournalTx>& known,
                                const eth::SentTx& sent) {
        const auto& receipt = sent.receipt;
        std::vector<Hash32> hashes = sent.hashes;
        for (const auto& t : known) hashes.push_back(t.hash);
        for (const auto& h : hashes)
            (void)store->set_tx_status(h, h != receipt.transaction_hash ? TxStatus::replaced
                                          : receipt.status              ? TxStatus::mined
                                                                        : TxStatus::failed);
        metrics.counter("zeppelin_transactions_total", "Transactions sent by this node").inc({{"action", action_kind(action)}, {"result", receipt.status ? "mined" : "reverted"}});
        metrics.counter("zeppelin_gas_used_total", "Gas used by this node's transactions").inc({}, static_cast<double>(receipt.gas_used));
        if (!receipt.status)
            return make_error(Errc::reverted, action + ": transaction " + to_hex(receipt.transaction_hash) + " reverted");
        spdlog::info("agreement {}: {} mined in block {} ({} gas)", agreement, action, receipt.block_number, receipt.gas_used);
        return receipt;
    }

    /// Brings journaled versions of one transaction (same nonce) to their end after a restart: the
    /// newest signed bytes are sent again, never a fresh transaction, and awaited (replaced with
    /// higher fees if stuck) by the sender itself.
    Result<eth::Receipt> settle_journaled(const std::vector<JournalTx>& versions) {
        const auto& newest = versions.back();
        if (auto again = sender->rebroadcast(newest.raw); again)
            spdlog::info("re-sent journaled transaction {} ({} of agreement {})", to_hex(newest.hash), newest.action,
                         newest.agreement_id);
        std::vector<Hash32> hashes;
        for (const auto& v : versions) hashes.push_back(v.hash);
        TxContext ctx{newest.agreement_id, newest.action};
        t_tx_context = &ctx;
        auto sent = sender->wait_for(hashes);
        t_tx_context = nullptr;
        if (!sent) {
            // The node knows none of them: the nonce went to another transaction.
            if (sent.error().code() == Errc::not_found)
                for (const auto& h : hashes) ZP_CHECK(store->set_tx_status(h, TxStatus::replaced));
            return sent.error().wrap("journaled transaction " + to_hex(newest.hash));
        }
        return record(newest.agreement_id, newest.action, versions, *sent);
    }

    /// On start: every journaled transaction not known to be mined is settled, one nonce at a time.
    void recover_journal() {
        auto pending = store->txs(TxStatus::pending);  // in nonce order, versions oldest first
        if (!pending) {
            spdlog::error("cannot read the transaction journal: {}", pending.error().message());
            return;
        }
        for (auto it = pending->begin(); it != pending->end();) {
            const auto end = std::find_if(it, pending->end(), [&](const JournalTx& t) { return t.nonce != it->nonce; });
            if (auto r = settle_journaled({it, end}); !r) spdlog::warn("{}", r.error().message());
            it = end;
        }
        sender->resync_nonce();
    }

    // ------------------------------------------------------------------ messages

    Result<void> post(std::uint64_t id, const Address& to, const eth::PublicKey& key, const msg::Payload& payload,
                      const std::string& action) {
        const auto envelope = ZP_TRY(msg::seal(key, id, me, to, payload));
        ZP_TRY(call(id, action, market::calls::post_message(id, to, envelope)));
        return {};
    }

    Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker) {
        const auto w = ZP_TRY(dispatcher->get_worker(worker));
        const auto key = ZP_TRY(eth::parse_public_key(w.public_key));
        return std::pair{w.owner, key};
    }

    /// The client's public key, recovered once from the signature of its buyContract transaction
    /// and kept with the agreement (every message to the client needs it).
    Result<eth::PublicKey> client_key(std::uint64_t id) {
        if (const auto a = ZP_TRY(local(id)); a.data.contains("client_key"))
            return fixed_from_hex<64>(a.data["client_key"].get<std::string>());
        const auto known = ZP_TRY(store->get_known(id));
        if (!known) return make_error(Errc::not_found, "the buy transaction of agreement " + std::to_string(id) + " is unknown");
        const auto tx = ZP_TRY(rpc->get_transaction(known->buy_tx));
        if (!tx) return make_error(Errc::not_found, "the node does not know transaction " + to_hex(known->buy_tx));
        const auto key = ZP_TRY(eth::recover_sender_public_key(tx->tx));
        ZP_CHECK(set_data(id, "client_key", to_hex(key)));
        return key;
    }

    void ignore_message(std::uint64_t id, std::string_view reason) {
        spdlog::warn("agreement {}: ignored a message: {}", id, reason);
        metrics.counter("zeppelin_messages_ignored_total", "Messages ignored (not decryptable, wrong sender, replayed)").inc();
    }

    void on_message(const market::EventRecord& rec, const market::MessagePosted& m) {
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
                           (void)set_data(id, "transfer", json{{"host", t.host}, {"port", t.port},
                                                               {"secret", to_hex(t.secret)},
                                                               {"logs_port", t.logs_port},
                                                               {"worker_id", view->worker_id}});
                       },
                       [&](const msg::ServiceReady& s) {
                           if (role == Role::worker || !from_worker) return;
                           taken = true;
                           (void)set_data(id, "service", json{{"host", s.host}, {"port", s.port}});
                       },
                       [&](const msg::ImageRejected& r) {
                           if (role != Role::client || !from_worker) return;
                           taken = true;
                           (void)set_data(id, "rejected", r.reason);
                       },
                       [&](const msg::ProbeSpec& p) {
                           if (role != Role::verifier || !from_client) return;
                           auto known = store->get_known(id);
                           if (!known || !*known) return;
                           const auto want = (*known)->requirements.value("probe_spec_hash", std::string{});
                           if (to_hex(eth::keccak256(p.spec_json)) != want) return;
                           if (!probe::from_json(p.spec_json)) return;
                           taken = true;
                           (void)set_data(id, "spec", p.spec_json);
                       }},
                   *payload);
        if (!taken) return ignore_message(id, fmt_reason(*payload, role));
        (void)store->mark_seen(key);
        metrics.counter("zeppelin_messages_received_total", "Private messages accepted").inc({{"type", std::string{msg::type_name(*payload)}}});
        spdlog::info("agreement {}: {} message received", id, msg::type_name(*payload));
        wake(id);
    }

    static std::string fmt_reason(const msg::Payload& p, Role role) {
        return std::string{"a '"} + std::string{msg::type_name(p)} + "' message from a sender who may not send it to a " +
               std::string{to_string(role)};
    }

    // ------------------------------------------------------------------ events

    void on_roles(std::uint64_t id, std::optional<Address> client, std::uint64_t worker,
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
            a.state = "assigned";
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
            a.state = "assigned";
            a.data = json::object();
        } else {
            a.data["lost_role"] = true;
        }
        (void)store->put(a);
    }

    void on_event(const market::EventRecord& rec) {
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
                       [&](const market::WorkerSlashed& e) {
                           if (e.worker_id == worker_id.load()) pool->post(0, [this] { restake(); });
                           wake(e.agreement_id);
                       },
                       [&](const auto& e) {
                           if constexpr (requires { e.agreement_id; }) wake(e.agreement_id);
                       }},
                   rec.event);
    }

    /// Schedules a step for an agreement (no-op if one is queued or running).
    void wake(std::uint64_t id) {
        pool->post(id, [this, id] {
            auto r = step(id);
            if (!r && r.error().code() == Errc::not_found && r.error().message().find("is not known to this node") != std::string::npos)
                return;  // an agreement of other parties
            if (!r && !is_not_yet(r.error())) {
                spdlog::warn("agreement {}: {}", id, r.error().message());
                (void)set_data(id, "last_error", r.error().message());
            }
        });
    }

    // ------------------------------------------------------------------ steps

    Result<void> step(std::uint64_t id) {
        auto a = ZP_TRY(local(id));
        if (a.finished()) return {};
        const auto view = ZP_TRY(dispatcher->get_agreement(id));
        switch (a.role) {
            case Role::client: return client_step(a, view);
            case Role::worker: return worker_step(a, view);
            case Role::verifier: return verifier_step(a, view);
        }
        return {};
    }

    std::uint64_t end_of(const market::AgreementView& v) const {
        return v.started_at + std::uint64_t{v.billable_periods} * v.period_seconds;
    }

    // ---- client

    Result<void> client_step(const LocalAgreement& a, const market::AgreementView& v) {
        const auto id = a.id;
        const auto now = now_s();
        switch (v.status) {
            case AgreementStatus::assigned:
                ZP_CHECK(set_state(id, "waiting for acceptance"));
                ZP_CHECK(send_probe_spec(a, v));
                if (now > v.accept_deadline + 1) {
                    auto r = call(id, "reassign:" + std::to_string(v.accept_deadline), market::calls::reassign_agreement(id));
                    if (!r && !is_not_yet(r.error())) return r.error();
                }
                return {};
            case AgreementStatus::accepted: {
                ZP_CHECK(send_probe_spec(a, v));
                if (a.data.contains("rejected")) {
                    spdlog::warn("agreement {}: the worker rejected the image: {}", id, a.data["rejected"].get<std::string>());
                    ZP_TRY(call(id, "cancel", market::calls::cancel_agreement(id)));
                    return set_state(id, "cancelled");
                }
                if (now > v.start_deadline + 1) {
                    auto r = call(id, "expire", market::calls::expire_agreement(id));
                    if (!r && !is_not_yet(r.error())) return r.error();
                    return {};
                }
                if (a.data.contains("transfer") && !a.data.value("transferred", false)) return client_transfer(a, v);
                return set_state(id, a.data.value("transferred", false) ? "waiting for the service" : "waiting for the worker");
            }
            case AgreementStatus::running: {
                ZP_CHECK(send_probe_spec(a, v));
                if (a.data.contains("service") && !a.data.contains("first_ok_ms")) {
                    const auto& s = a.data["service"];
                    auto spec = probe::from_json(a.data.value("spec", std::string{}));
                    const auto out = probe::run(spec ? *spec : tcp_spec(),
                                                {s["host"].get<std::string>(), s["port"].get<std::uint16_t>()}, 2s);
                    if (out.ok) ZP_CHECK(set_data(id, "first_ok_ms", now_ms()));
                }
                ZP_CHECK(set_state(id, a.data.contains("service") ? "running" : "starting"));
                if (now >= end_of(v)) return claim(id);
                return {};
            }
            case AgreementStatus::settled:
            case AgreementStatus::refunded:
                if (!v.client_refunded) ZP_CHECK(claim(id));
                return set_state(id, "done");
            case AgreementStatus::none: return set_state(id, "done");
        }
        return {};
    }

    Result<void> claim(std::uint64_t id) {
        auto r = call(id, "claim", market::calls::claim_refund(id));
        if (!r) return r.error();
        return {};
    }

    Result<void> send_probe_spec(const LocalAgreement& a, const market::AgreementView& v) {
        const auto spec = a.data.value("spec", std::string{});
        if (spec.empty()) return {};
        for (const auto vid : v.verifier_ids) {
            const auto [addr, key] = ZP_TRY(worker_identity(vid));
            ZP_CHECK(post(a.id, addr, key, msg::ProbeSpec{spec}, "post:probe:" + lower_hex(addr)));
        }
        return {};
    }

    Result<void> client_transfer(const LocalAgreement& a, const market::AgreementView& v) {
        const auto id = a.id;
        const auto& t = a.data["transfer"];
        if (t.value("worker_id", std::uint64_t{0}) != v.worker_id) return {};  // an offer of a former worker
        const auto secret = ZP_TRY(fixed_from_hex<32>(t["secret"].get<std::string>()));
        const transfer::Endpoint ep{t["host"].get<std::string>(), t["port"].get<std::uint16_t>()};
        const fs::path archive = a.data.value("image", std::string{});
        ZP_CHECK(set_state(id, "transferring"));
        transfer::SendOptions so;
        so.progress = [this, id](const transfer::Progress& p) {
            std::lock_guard lock{mu};
            progress[id] = p;
        };
        std::optional<transfer::ImageInfo> known;
        {
            std::lock_guard lock{mu};
            std::error_code ec;
            if (auto it = inspected.find(id); it != inspected.end() && fs::file_size(archive, ec) == it->second.size &&
                                              fs::last_write_time(archive, ec) == it->second.mtime && !ec)
                known = it->second.info;
        }
        auto stats = known ? transfer::send_image(ep, std::to_string(id), secret, archive, *known, so)
                           : transfer::send_image(ep, std::to_string(id), secret, archive, so);
        if (!stats) {
            ZP_CHECK(set_data(id, "transfer_error", stats.error().message()));
            if (is_permanent_transfer_error(stats.error().code())) {
                spdlog::warn("agreement {}: transfer failed for good: {}; cancelling", id, stats.error().message());
                ZP_TRY(call(id, "cancel", market::calls::cancel_agreement(id)));
                return set_state(id, "cancelled");
            }
            return stats.error().wrap("image transfer");
        }
        {
            std::lock_guard lock{mu};
            progress[id].finished = true;
        }
        ZP_CHECK(update(id, [&](LocalAgreement& la) {
            la.data["transferred"] = true;
            la.data["transfer_stats"] = json{{"image_bytes", stats->image_bytes},
                                             {"wire_bytes", stats->wire_bytes},
                                             {"layers_sent", stats->layers_sent},
                                             {"layers_skipped", stats->layers_skipped},
                                             {"seconds", stats->seconds}};
            la.state = "waiting for the service";
        }));
        spdlog::info("agreement {}: image sent ({} layers sent, {} already held, {} bytes on the wire)", id,
                     stats->layers_sent, stats->layers_skipped, stats->wire_bytes);
        return {};
    }

    // ---- worker

    bool can_serve(const json& req) {
        if (!engine) return false;
        const auto cpu = req.value("cpu_millicores", 0U);
        const auto mem = req.value("memory_mb", 0U);
        std::uint64_t used_cpu = 0;
        std::uint64_t used_mem = 0;
        auto all = store->list(false);
        if (!all) return false;
        for (const auto& la : *all) {
            if (la.role != Role::worker || la.state == "assigned") continue;
            auto k = store->get_known(la.id);
            if (!k || !*k) continue;
            used_cpu += (*k)->requirements.value("cpu_millicores", 0U);
            used_mem += (*k)->requirements.value("memory_mb", 0U);
        }
        return used_cpu + cpu <= opt.cpu_millicores && used_mem + mem <= opt.memory_mb;
    }

    Result<void> end_work(std::uint64_t id) {
        if (!engine) return {};
        runtime::EndOptions eo;
        eo.grace = 0s;
        eo.remove_image = false;  // kept: a later agreement for the same image starts at once...
        ZP_CHECK(runtime::end_work(*engine, std::to_string(id), eo, runtime_id));
        prune_images();  // ...up to --keep-images of them
        return {};
    }

    // ---- images this worker brought into the engine, kept for reuse, least recently used first out

    static constexpr const char* kKeptImages = "kept_images";  // settings: {"<config hex>": last use, ms}

    /// Records that an image this node brought into the engine was used now. Images the engine held
    /// before (the operator's own) are not recorded, so never removed, unless `brought`.
    void note_image(const transfer::Digest& digest, bool brought) {
        std::lock_guard lock{images_mu};
        auto kept = kept_images();
        const auto hex = to_hex(digest, false);
        if (!brought && !kept.contains(hex)) return;
        kept[hex] = now_ms();
        (void)store->set(kKeptImages, kept.dump());
    }

    json kept_images() {
        const auto text = store->setting(kKeptImages);
        if (!text || !*text) return json::object();
        auto j = json::parse(**text, nullptr, false);
        return j.is_object() ? j : json::object();
    }

    /// Removes the least recently used images beyond --keep-images. One a container still uses is
    /// refused by the engine and stays (tried again next time).
    void prune_images() {
        std::lock_guard lock{images_mu};
        auto kept = kept_images();
        if (kept.size() <= opt.keep_images) return;
        std::vector<std::pair<std::int64_t, std::string>> by_age;
        for (const auto& [hex, used] : kept.items()) by_age.emplace_back(used.is_number() ? used.get<std::int64_t>() : 0, hex);
        std::sort(by_age.begin(), by_age.end());
        for (std::size_t i = 0; i + opt.keep_images < by_age.size(); ++i) {
            const auto& hex = by_age[i].second;
            const auto r = engine->remove_image("sha256:" + hex);
            if (r || r.error().code() == Errc::not_found) {
                spdlog::info("image {} removed from the engine (least recently used beyond --keep-images {})", hex.substr(0, 12),
                             opt.keep_images);
                kept.erase(hex);
            }
        }
        (void)store->set(kKeptImages, kept.dump());
    }

    Result<void> worker_step(const LocalAgreement& a, const market::AgreementView& v) {
        const auto id = a.id;
        if (v.worker_id != worker_id.load() || a.data.value("lost_role", false)) {
            (void)end_work(id);
            forget_transfer(id);
            return set_state(id, "done");
        }
        auto known = ZP_TRY(store->get_known(id));
        if (!known) return make_error(Errc::not_found, "requirements of agreement " + std::to_string(id) + " unknown");
        const auto& req = known->requirements;
        switch (v.status) {
            case AgreementStatus::assigned:
                if (!can_serve(req)) {
                    spdlog::info("agreement {}: declining (no free capacity)", id);
                    ZP_TRY(call(id, "decline", market::calls::decline_agreement(id)));
                    return set_state(id, "done");
                }
                {
                    // The offer goes out with the accept (any party may post a message; the client
                    // sends the image once the accept is mined), not one block after it.
                    auto offer = ZP_TRY(offer_transfer(id, v, req));
                    auto accepted = call(id, "accept", market::calls::accept_agreement(id));
                    const auto offered = offer.valid() ? offer.get() : Result<void>{};
                    ZP_TRY(accepted);
                    ZP_CHECK(offered);
                }
                ZP_CHECK(set_state(id, "accepted"));
                // Go on at once (the accept is mined) rather than at the next event or sweep.
                return worker_prepare(ZP_TRY(local(id)), ZP_TRY(dispatcher->get_agreement(id)), req);
            case AgreementStatus::accepted: return worker_prepare(a, v, req);
            case AgreementStatus::running:
                ZP_CHECK(set_state(id, "running"));
                if (now_s() >= end_of(v)) {
                    if (!a.data.value("work_ended", false)) {
                        ZP_CHECK(end_work(id));
                        ZP_CHECK(set_data(id, "work_ended", true));
                    }
                    return redeem(id);
                }
                return {};
            case AgreementStatus::settled:
                if (!v.worker_redeemed) ZP_CHECK(redeem(id));
                (void)end_work(id);
                forget_transfer(id);
                return set_state(id, "done");
            case AgreementStatus::refunded:
            case AgreementStatus::none:
                (void)end_work(id);
                forget_transfer(id);
                return set_state(id, "done");
        }
        return {};
    }

    /// An ended agreement's transfer: the server's expectation and partial files, and what this
    /// node kept in memory about it.
    void forget_transfer(std::uint64_t id) {
        transfer->forget(std::to_string(id));
        std::lock_guard lock{mu};
        received.erase(id);
        incoming.erase(id);
        expected.erase(id);
    }

    Result<void> redeem(std::uint64_t id) {
        auto r = call(id, "redeem", market::calls::redeem_payment(id));
        if (!r) return r.error();
        return {};
    }

    /// Steps 1-3 of worker_prepare: a transfer secret (drawn once, stored before anything is sent),
    /// the transfer server expecting the image (again after a restart), and the offer to the client
    /// (again if this process listens on other ports). Returns the offer being posted, if one is:
    /// it is mined while the caller goes on.
    Result<std::future<Result<void>>> offer_transfer(std::uint64_t id, const market::AgreementView& v, const json& req) {
        auto a = ZP_TRY(local(id));
        if (!a.data.contains("secret")) {
            const auto fresh = ZP_TRY(random_secret());
            ZP_CHECK(set_data(id, "secret", to_hex(fresh)));
            a = ZP_TRY(local(id));
        }
        const auto secret = ZP_TRY(fixed_from_hex<32>(a.data["secret"].get<std::string>()));
        if (!a.data.contains("received")) {
            bool need = false;
            {
                std::lock_guard lock{mu};
                need = expected.insert(id).second;
            }
            const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
            if (need) ZP_CHECK(transfer->expect(std::to_string(id), secret, digest, opt.max_image_bytes));
        }
        const auto port = transfer->port();
        const auto logs_port = log_server ? log_server->port() : std::uint16_t{0};
        const auto offered = std::to_string(port) + ":" + std::to_string(logs_port);
        if (a.data.value("offered", std::string{}) == offered) return std::future<Result<void>>{};
        return std::async(std::launch::async, [this, id, client = v.client, offered, port, logs_port, secret]() -> Result<void> {
            const auto key = ZP_TRY(client_key(id));
            ZP_CHECK(post(id, client, key, msg::TransferOffer{opt.public_host, port, secret, logs_port},
                          "post:transfer:" + offered));
            return set_data(id, "offered", offered);
        });
    }

    Result<void> worker_prepare(const LocalAgreement& a_in, const market::AgreementView& v, const json& req) {
        const auto id = a_in.id;
        const auto sid = std::to_string(id);
        if (a_in.data.value("rejected", false)) return {};  // the client cancels; nothing to do
        const auto digest = ZP_TRY(fixed_from_hex<32>(req.value("image_digest", std::string{})));
        const auto ref = "sha256:" + to_hex(digest, false);

        // 1-3. Secret, expectation, offer. The offer is mined while this step goes on: when the
        // engine holds the image already, the container starts meanwhile. Every return below waits
        // for it (the future's destructor).
        auto offer = ZP_TRY(offer_transfer(id, v, req));
        const auto a = ZP_TRY(local(id));
        if (offer.valid() && !a.data.contains("service_port")) ZP_CHECK(set_state(id, "waiting for the image"));
        const auto offer_posted = [&]() -> Result<void> { return offer.valid() ? offer.get() : Result<void>{}; };

        // 4. The image: one the engine holds already (content-addressed: the id is the committed
        // config digest), or the one the client sent, verified against that digest by the transfer
        // server. A held image is used only once this agreement's client has shown, in its transfer's
        // HELLO, the config that hashes to the digest: the digest is public on chain, and knowing it
        // must not be enough to run someone else's image.
        if (!a.data.contains("received") && !a.data.contains("service_port")) {
            auto held = a.data.contains("hello") ? engine->inspect_image(ref) : Result<runtime::ImageInfo>{Error{Errc::not_found, "no HELLO yet"}};
            if (held) {
                note_image(digest, false);
                ZP_CHECK(update(id, [&](LocalAgreement& la) {
                    la.data["received"] = json{{"held", true}};
                    la.data["exposed_ports"] = held->exposed_tcp_ports;
                }));
            } else {
                std::optional<Result<transfer::ReceivedImage>> got;
                std::optional<transfer::IncomingImage> arriving;
                {
                    std::lock_guard lock{mu};
                    if (auto it = received.find(id); it != received.end()) got = it->second;
                    if (auto it = incoming.find(id); it != incoming.end()) arriving = it->second;
                }
                if (!got && arriving && registry && !a.data.value("pull_tried", false) && arriving_pulls.load() < kMaxArrivingPulls) {
                    // The layers are arriving: the engine pulls them as they come, so that loading
                    // overlaps the transfer. Once only; on failure the image is loaded when complete.
                    ZP_CHECK(set_data(id, "pull_tried", true));
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
                if (!got) return offer_posted();
                if (!*got) {
                    ZP_CHECK(offer_posted());
                    const auto reason = got->error().message();
                    spdlog::warn("agreement {}: image refused: {}", id, reason);
                    const auto key = ZP_TRY(client_key(id));
                    ZP_CHECK(post(id, v.client, key, msg::ImageRejected{reason}, "post:rejected"));
                    ZP_CHECK(set_data(id, "rejected", true));
                    return set_state(id, "image refused");
                }
                ZP_CHECK(record_received(id, (*got)->config, (*got)->diff_ids));
            }
        }

        // 5. Run it with the agreed limits.
        if (!a.data.contains("service_port")) {
            ZP_CHECK(set_state(id, "starting the work"));
            const auto cur = ZP_TRY(local(id));
            const auto t0 = std::chrono::steady_clock::now();
            const auto ms = [&t0] {
                return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
            };
            if (!engine->inspect_image(ref)) {
                ZP_CHECK(bring_image(id, digest, cur.data["received"]));
                note_image(digest, true);
                spdlog::info("agreement {}: image {} in the engine after {} ms", id, transfer::short_digest(digest), ms());
            }
            runtime::WorkSpec spec;
            spec.agreement_id = sid;
            spec.worker_id = runtime_id;
            spec.image = ref;
            spec.memory_bytes = std::uint64_t{std::max(req.value("memory_mb", 64U), 16U)} << 20;
            spec.nano_cpus = std::uint64_t{std::max(req.value("cpu_millicores", 100U), 10U)} * 1'000'000;
            const auto ports = cur.data.value("exposed_ports", std::vector<std::uint16_t>{});
            spec.container_port = ports.empty() ? std::uint16_t{8080} : ports.front();
            spec.host_ip = opt.service_ip;
            // A container already running for this agreement (the node restarted between starting
            // it and recording it) is adopted, not started twice.
            auto existing = runtime::find_agreement(*engine, sid, runtime_id);
            std::optional<runtime::RunningWork> work;
            if (existing && existing->state == "running" && existing->host_port != 0) {
                work = std::move(*existing);
            } else {
                // The host port is chosen here, so that the endpoint is announced while the container
                // starts (nobody probes before the paid clock starts, below).
                auto host_port = cur.data.value("planned_port", std::uint16_t{0});
                if (host_port == 0) {
                    host_port = ZP_TRY(free_port(opt.service_ip));
                    ZP_CHECK(set_data(id, "planned_port", host_port));
                }
                spec.host_port = host_port;
                auto announced = std::async(std::launch::async, [this, &cur, &v, host_port] { return announce_service(cur, v, host_port); });
                auto started = runtime::start_work(*engine, spec);
                const auto told = announced.get();
                if (!started) {
                    // Only a port taken meanwhile calls for another port (and another announcement);
                    // any other failure retries on the same one, announced already, at no cost.
                    const auto& m = started.error().message();
                    if (m.find("address already in use") != std::string::npos || m.find("port is already allocated") != std::string::npos)
                        (void)update(id, [](LocalAgreement& la) { la.data.erase("planned_port"); });
                    return started.error();
                }
                ZP_CHECK(told);
                work = std::move(*started);
            }
            spdlog::info("agreement {}: container {} serving on port {} after {} ms", id, work->container_id.substr(0, 12),
                         work->host_port, ms());
            ZP_CHECK(update(id, [&](LocalAgreement& la) {
                la.data["service_port"] = work->host_port;
                la.data["container"] = work->container_id;
            }));
        }
        ZP_CHECK(offer_posted());
        const auto cur = ZP_TRY(local(id));
        if (!cur.data.contains("offered")) return worker_prepare(cur, v, req);

        // 6. The client and every verifier know where the service is (told above, or now after a
        // restart); then the paid clock starts. Not together: a verifier may probe the moment the
        // clock starts, and must know where by then.
        ZP_CHECK(announce_service(cur, v, cur.data["service_port"].get<std::uint16_t>()));
        ZP_TRY(call(id, "start", market::calls::start_agreement(id)));
        return set_state(id, "running");
    }

    /// Sends the service endpoint (this host, `port`) to the client and to every verifier, together
    /// (the sender numbers them; each waits for its own receipt), each once: a message already mined
    /// is not sent again, and an endpoint announced already is not announced twice.
    Result<void> announce_service(const LocalAgreement& a, const market::AgreementView& v, std::uint16_t port) {
        if (a.data.value("announced", std::uint16_t{0}) == port) return {};
        const auto id = a.id;
        const msg::ServiceReady ready{opt.public_host, port};
        std::vector<std::pair<Address, eth::PublicKey>> to{{v.client, ZP_TRY(client_key(id))}};
        for (const auto vid : v.verifier_ids) to.push_back(ZP_TRY(worker_identity(vid)));
        std::vector<std::future<Result<void>>> posts;
        for (const auto& [addr, key] : to)
            posts.push_back(std::async(std::launch::async, [this, id, port, addr = addr, key = key, &ready] {
                return post(id, addr, key, ready, "post:service:" + lower_hex(addr) + ":" + std::to_string(port));
            }));
        Result<void> all{};
        for (auto& f : posts)
            if (auto r = f.get(); !r && all) all = r.error();
        if (!all) return all;
        return set_data(id, "announced", port);
    }

    Result<void> record_received(std::uint64_t id, const Bytes& config_bytes, const std::vector<transfer::Digest>& ids) {
        json diff_ids = json::array();
        for (const auto& d : ids) diff_ids.push_back(transfer::digest_string(d));
        return update(id, [&](LocalAgreement& la) {
            la.data["received"] = json{{"config", to_hex(config_bytes, false)}, {"diff_ids", std::move(diff_ids)}};
            la.data["exposed_ports"] = exposed_ports(config_bytes);
        });
    }

    /// Has the engine pull an image while its transfer is under way: each layer is served as its
    /// bytes reach the cache, and its last byte only once the transfer server has verified the
    /// whole layer (hash and contents) and committed it; a layer that fails is cut short, and the
    /// engine, which checks every blob against the committed digest, keeps nothing of it.
    Result<void> pull_arriving(std::uint64_t id, const transfer::Digest& digest, const transfer::IncomingImage& img) {
        node::RegistryImage image;
        image.config = img.config;
        // Every position, a layer that appears twice included: the manifest lists the layers in the
        // config's order (the registry serves a blob once, by digest).
        for (std::size_t i = 0; i < img.diff_ids.size(); ++i) {
            const auto& d = img.diff_ids[i];
            const auto size = img.sizes[i];
            image.layers.push_back({d, {}, size, [this, id, d, size](const ChunkWriter& write) {
                                        follow_layer(transfer->cache(), std::to_string(id), d, size, write, [this, id] {
                                            std::lock_guard lock{mu};
                                            const auto it = received.find(id);
                                            return it != received.end() && !it->second;
                                        });
                                    }});
        }
        const auto published = ZP_TRY(registry->publish(image));
        auto pulled = engine->pull_image(published.reference, {.tls_verify = false});
        registry->withdraw(published.name);
        const auto ref = "sha256:" + to_hex(digest, false);
        if (!pulled) return pulled.error();
        const auto tag = to_hex(digest, false).substr(0, 12);
        if (engine->tag_image(ref, "localhost/zeppelin/image", tag)) (void)engine->remove_image(published.reference);
        if (*pulled != ref) return make_error(Errc::engine_error, "the engine pulled " + *pulled + " instead of " + ref);
        return {};
    }

    /// Puts a received image into the engine: pulled from the node's loopback registry (each layer
    /// read once, straight from the cache), or, if that fails, loaded as an assembled archive.
    Result<void> bring_image(std::uint64_t id, const transfer::Digest& digest, const json& rec) {
        const auto ref = "sha256:" + to_hex(digest, false);
        if (!rec.contains("config")) {
            // It was held and is gone (pruned meanwhile): the client's transfer brings it again.
            ZP_CHECK(update(id, [](LocalAgreement& la) { la.data.erase("received"); }));
            {
                std::lock_guard lock{mu};
                expected.erase(id);
            }
            return make_error(Errc::not_found, "the engine no longer holds image " + ref + "; waiting for the transfer");
        }
        const auto config_bytes = ZP_TRY(from_hex(rec["config"].get<std::string>()));
        std::vector<transfer::Digest> diff_ids;
        for (const auto& d : rec["diff_ids"]) diff_ids.push_back(ZP_TRY(transfer::parse_digest(d.get<std::string>())));
        auto& cache = transfer->cache();
        node::RegistryImage image;
        image.config = config_bytes;
        std::vector<fs::path> files;
        struct Unpin {
            transfer::LayerCache& c;
            std::vector<transfer::Digest> pinned;
            ~Unpin() {
                for (const auto& d : pinned) c.unpin(d);
            }
        } unpin{cache, {}};
        // Every position goes in the manifest (a layer may appear twice); each distinct one is pinned once.
        for (const auto& d : diff_ids) {
            files.push_back(cache.path_of(d));
            std::uint64_t size = 0;
            if (!cache.contains(d, &size))
                return make_error(Errc::not_found, "layer " + transfer::short_digest(d) + " of agreement " + std::to_string(id) +
                                                       " left the layer cache before it was loaded");
            if (std::find(unpin.pinned.begin(), unpin.pinned.end(), d) == unpin.pinned.end()) {
                cache.pin(d);
                unpin.pinned.push_back(d);
            }
            image.layers.push_back({d, cache.path_of(d), size, {}});
        }
        if (registry) {
            auto published = registry->publish(image);
            auto pulled = published ? engine->pull_image(published->reference, {.tls_verify = false})
                                    : Result<std::string>{published.error()};
            if (published) registry->withdraw(published->name);
            if (pulled && *pulled == ref) {
                // Named after the image instead of the registry's throwaway name.
                const auto tag = to_hex(digest, false).substr(0, 12);
                if (engine->tag_image(ref, "localhost/zeppelin/image", tag))
                    (void)engine->remove_image(published->reference);
                return {};
            }
            spdlog::warn("agreement {}: the engine could not pull the image from this node's registry ({}); loading an archive instead",
                         id, pulled ? "it pulled " + *pulled : pulled.error().message());
        }
        const auto archive = opt.data_dir / "images" / ("agreement-" + std::to_string(id) + ".tar");
        std::error_code ec;
        fs::create_directories(archive.parent_path(), ec);
        ZP_CHECK(transfer::write_docker_archive(archive, config_bytes, diff_ids, files));
        auto loaded = engine->load_image(archive);
        fs::remove(archive, ec);
        if (!loaded) return loaded.error();
        if (loaded->id != ref) return make_error(Errc::engine_error, "the engine loaded " + loaded->id + " instead of " + ref);
        spdlog::info("agreement {}: image {} loaded from an archive", id, transfer::short_digest(digest));
        return {};
    }

    // ---- the money of one agreement, from the contract's events

    Result<json> payments(std::uint64_t id) {
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

    // ---- the work's output

    Result<void> worker_logs(std::uint64_t id, bool follow, const LogSinkFn& sink) {
        if (!engine) return make_error(Errc::engine_error, "no container engine");
        // The container this node started (recorded), else whichever carries its labels.
        std::string container;
        if (auto a = store->get(id); a && *a && (*a)->data.contains("container")) container = (*a)->data["container"].get<std::string>();
        if (container.empty()) container = ZP_TRY(runtime::find_agreement(*engine, std::to_string(id), runtime_id)).container_id;
        runtime::LogOptions lo;
        lo.follow = follow;
        lo.timeout = follow ? std::chrono::milliseconds{std::chrono::hours{24 * 30}} : std::chrono::milliseconds{30s};
        return engine->logs(container, lo,
                            [&](runtime::LogStream, std::string_view data) { return sink(data); });
    }

    std::optional<transfer::Secret> logs_lookup(std::uint64_t id) {
        auto a = store->get(id);
        if (!a || !*a || (*a)->role != Role::worker || !(*a)->data.contains("secret")) return std::nullopt;
        auto s = fixed_from_hex<32>((*a)->data["secret"].get<std::string>());
        if (!s) return std::nullopt;
        return logs_key(*s);
    }

    // ---- registration

    Result<void> register_worker() {
        market::WorkerOffer offer;
        offer.price_per_second = opt.price_per_second;
        offer.max_duration = opt.max_duration;
        offer.cpu_millicores = opt.cpu_millicores;
        offer.memory_mb = opt.memory_mb;
        const auto pk = (*opt.key).public_key();
        offer.public_key.assign(pk.bytes.begin(), pk.bytes.end());
        auto id = ZP_TRY(dispatcher->worker_id_of(me));
        if (id == 0) {
            const u256 stake = opt.stake == 0 ? config.min_stake : opt.stake;
            ZP_TRY(call(0, "register:" + lower_hex(me), market::calls::register_worker(offer), stake));
            id = ZP_TRY(dispatcher->worker_id_of(me));
            spdlog::info("registered as worker {} (stake {})", id, format_ether_human(stake));
        } else {
            const auto w = ZP_TRY(dispatcher->get_worker(id));
            if (w.status == market::WorkerStatus::unregistering || w.status == market::WorkerStatus::removed)
                return make_error(Errc::invalid_argument, "this account's worker " + std::to_string(id) + " is " +
                                                              std::string{market::to_string(w.status)} +
                                                              ": use another account for a node");
            const bool same = w.price_per_second == offer.price_per_second && w.max_duration == offer.max_duration &&
                              w.cpu_millicores == offer.cpu_millicores && w.memory_mb == offer.memory_mb &&
                              w.public_key == offer.public_key;
            if (!same) {
                ZP_TRY(call(0, "update:" + std::to_string(now_ms()), market::calls::update_worker(offer)));
                spdlog::info("worker {}: offer updated", id);
            }
            if (w.status == market::WorkerStatus::paused)
                ZP_TRY(call(0, "resume:" + std::to_string(now_ms()), market::calls::resume_worker()));
        }
        worker_id = id;
        return {};
    }

    /// After a slash took the stake below the minimum, the worker is no longer assigned work: the
    /// node tops it up from its balance (logged; it fails in words when the balance is short).
    void restake() {
        const auto id = worker_id.load();
        if (id == 0) return;
        auto w = dispatcher->get_worker(id);
        if (!w || w->status != market::WorkerStatus::active || w->stake >= config.min_stake) return;
        const u256 missing = config.min_stake - w->stake;
        auto r = call(0, "restake:" + std::to_string(now_ms()), market::calls::add_stake(), missing);
        if (r) spdlog::info("stake topped up by {} to the minimum after a slash", format_ether_human(missing));
        else spdlog::error("cannot top the stake up to the minimum ({} missing): {}", format_ether_human(missing), r.error().message());
    }

    // ---- verifier

    Result<void> verifier_step(const LocalAgreement& a, const market::AgreementView& v) {
        const auto id = a.id;
        const auto mine = worker_id.load();
        const auto it = std::find(v.verifier_ids.begin(), v.verifier_ids.end(), mine);
        if (it == v.verifier_ids.end() || a.data.value("lost_role", false)) return set_state(id, "done");
        const auto index = static_cast<std::uint64_t>(it - v.verifier_ids.begin());
        if (v.status == AgreementStatus::settled || v.status == AgreementStatus::refunded ||
            v.status == AgreementStatus::none)
            return set_state(id, "done");
        if (v.status != AgreementStatus::running) return set_state(id, "waiting for the start");
        ZP_CHECK(set_state(id, "verifying"));

        const std::int64_t period_ms = std::int64_t{v.period_seconds} * 1000;
        const std::int64_t start_ms = static_cast<std::int64_t>(v.started_at) * 1000;
        const auto now = now_ms();
        if (now >= start_ms) {
            const auto cur = static_cast<std::uint64_t>((now - start_ms) / period_ms);
            if (cur < v.billable_periods) ZP_CHECK(probe_due(a, id, cur, start_ms, period_ms, v.period_seconds));
        }
        return report(id, index, v, start_ms, period_ms);
    }

    Result<void> probe_due(const LocalAgreement& a, std::uint64_t id, std::uint64_t cur, std::int64_t start_ms,
                           std::int64_t period_ms, std::uint32_t period_s) {
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
            while (plan.next < plan.offsets.size() && now_ms() >= period_start + plan.offsets[plan.next].count()) {
                due.push_back(plan.offsets[plan.next]);
                ++plan.next;
            }
        }
        for (std::size_t i = 0; i < due.size(); ++i) {
            ProbeRecord rec{cur, false, "", now_ms()};
            if (!a.data.contains("service")) {
                rec.detail = "the worker announced no service endpoint";
            } else {
                auto spec = probe::from_json(a.data.value("spec", std::string{}));
                const probe::Spec s = spec ? *spec : tcp_spec();
                const probe::Endpoint ep{a.data["service"]["host"].get<std::string>(),
                                         a.data["service"]["port"].get<std::uint16_t>()};
                auto out = probe::run(s, ep, 3s);
                if (!out.ok) {  // one retry: a dropped packet is not an outage
                    std::this_thread::sleep_for(500ms);
                    out = probe::run(s, ep, 3s);
                }
                rec.ok = out.ok;
                rec.detail = out.detail;
            }
            ZP_CHECK(store->add_probe(id, rec));
            metrics.counter("zeppelin_probes_total", "Probes made as a verifier").inc({{"result", rec.ok ? "ok" : "failed"}});
            spdlog::info("agreement {}: probe in period {}: {} ({})", id, cur, rec.ok ? "ok" : "FAILED", rec.detail);
        }
        return {};
    }

    Result<void> report(std::uint64_t id, std::uint64_t index, const market::AgreementView& v, std::int64_t start_ms,
                        std::int64_t period_ms) {
        const auto now = now_ms();
        // Periods that have ended (with a second of grace) and are billable.
        std::uint64_t ended = 0;
        if (now >= start_ms) ended = std::min<std::uint64_t>(v.billable_periods, static_cast<std::uint64_t>((now - start_ms - 1000) / period_ms));
        if (now < start_ms + 1000) ended = 0;
        if (ended == 0) return {};
        const auto probes = ZP_TRY(store->probes(id));
        // Walk windows of 256 periods.
        for (std::uint64_t first = 0; first < ended; first += 256) {
            const auto reported = ZP_TRY(dispatcher->get_reports(id, index, first));
            u256 ok_bits = 0;
            u256 rep_bits = 0;
            for (std::uint64_t p = first; p < std::min(ended, first + 256); ++p) {
                const u256 bit = u256{1} << static_cast<unsigned>(p - first);
                if ((reported.reported_bits & bit) != 0) continue;
                bool any = false;
                bool all_ok = true;
                for (const auto& pr : probes)
                    if (pr.period == p) {
                        any = true;
                        all_ok = all_ok && pr.ok;
                    }
                rep_bits |= bit;
                if (any && all_ok) ok_bits |= bit;
            }
            if (rep_bits == 0) continue;
            const auto action = "report:" + std::to_string(first) + ":" + to_hex_quantity(rep_bits);
            ZP_TRY(call(id, action, market::calls::provide_verification(id, first, ok_bits, rep_bits)));
            spdlog::info("agreement {}: reported periods {} (ok {})", id, to_hex_quantity(rep_bits), to_hex_quantity(ok_bits));
        }
        if (ended >= v.billable_periods) return set_state(id, "done");
        return {};
    }
};

// ---------------------------------------------------------------------------------- Node

Node::Node(std::unique_ptr<Impl> impl) : impl_{std::move(impl)} {}

Node::~Node() {
    if (!impl_) return;
    impl_->pool.reset();  // joins the steps first: they use everything below
    if (impl_->log_server) impl_->log_server->stop();
    if (impl_->transfer) impl_->transfer->stop();
}

const Address& Node::address() const noexcept { return impl_->me; }

Result<std::unique_ptr<Node>> Node::start(NodeOptions options) {
    auto impl = std::make_unique<Impl>();
    auto& n = *impl;
    n.opt = std::move(options);
    if (!n.opt.key) return make_error(Errc::invalid_argument, "the node needs its account's key");
    n.me = (*n.opt.key).address();
    std::error_code ec;
    fs::create_directories(n.opt.data_dir, ec);
    if (ec) return make_error(Errc::io, "cannot create the data directory " + n.opt.data_dir.string() + ": " + ec.message());

    n.store = ZP_TRY(Store::open((n.opt.data_dir / "state.sqlite").string()));
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

    n.rpc = ZP_TRY(eth::RpcClient::connect(n.opt.rpc_url));
    ZP_CHECK(market::add_errors_to(*n.rpc));
    auto chain = n.rpc->chain_id();
    if (!chain) return chain.error().wrap("cannot reach the chain at " + n.opt.rpc_url);
    n.chain_id = *chain;
    if (n.opt.chain_id != 0 && n.opt.chain_id != n.chain_id)
        return make_error(Errc::invalid_argument, "the endpoint serves chain " + std::to_string(n.chain_id) +
                                                      ", not the configured chain " + std::to_string(n.opt.chain_id));
    if (ZP_TRY(n.rpc->get_code(n.opt.dispatcher)).empty())
        return make_error(Errc::not_found, "no contract at " + eth::to_checksum(n.opt.dispatcher) + " on chain " +
                                               std::to_string(n.chain_id) + " (is the deployment record right?)");
    n.dispatcher = std::make_unique<market::Dispatcher>(*n.rpc, n.opt.dispatcher);
    n.config = ZP_TRY(n.dispatcher->config());

    if (!n.opt.poll) n.opt.poll = n.chain_id == 31337 ? std::chrono::milliseconds{50} : std::chrono::milliseconds{1000};
    eth::SenderOptions so;
    so.poll_interval = *n.opt.poll;
    so.before_broadcast = [store = n.store.get()](const eth::SignedTx& stx, const eth::Transaction& tx) -> Result<void> {
        JournalTx j;
        j.hash = stx.hash;
        j.raw = stx.raw;
        j.nonce = tx.nonce;
        j.agreement_id = t_tx_context ? t_tx_context->agreement : 0;
        j.action = t_tx_context ? t_tx_context->action : "other";
        return store->journal(j);
    };
    n.sender = ZP_TRY(eth::TxSender::create(*n.rpc, (*n.opt.key), so));
    n.recover_journal();

    n.follower.emplace(ZP_TRY(Follower::open(*n.rpc, *n.follower_db,
                                             FollowerConfig{n.opt.dispatcher, n.opt.deploy_block, n.opt.confirmations, 2000})));

    if (auto engine = runtime::Engine::from_environment(); engine && engine->ping()) {
        n.engine.emplace(std::move(*engine));
    } else if (n.opt.worker) {
        return make_error(Errc::engine_error, "no container engine answers (set ZEPPELIN_DOCKER_HOST or DOCKER_HOST, "
                                              "or start one: bash scripts/services.sh start)");
    }

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
            std::uint64_t id = 0;
            try {
                id = std::stoull(img.agreement_id);
            } catch (const std::exception&) {
                return;
            }
            {
                std::lock_guard lock{impl->mu};
                impl->incoming.insert_or_assign(id, img);
            }
            if (auto w = impl->update(id, [](LocalAgreement& la) { la.data["hello"] = true; }); !w)
                spdlog::warn("agreement {}: cannot record the transfer's start: {}", id, w.error().message());
            impl->wake(id);
        };
        n.transfer = ZP_TRY(transfer::Server::start(std::move(to)));
        if (!n.opt.pull_images) {
            spdlog::info("received images are loaded as archives (--image-delivery load)");
        } else if (auto registry = LocalRegistry::start()) {
            n.registry = std::move(*registry);
        } else {
            spdlog::warn("no loopback registry ({}): received images are loaded as archives", registry.error().message());
        }
        n.log_server = ZP_TRY(LogServer::start(
            n.opt.transfer_host, 0, [impl = &n](std::uint64_t id) { return impl->logs_lookup(id); },
            [impl = &n](std::uint64_t id, bool follow, const LogSinkFn& sink) { return impl->worker_logs(id, follow, sink); }));
        ZP_CHECK(n.register_worker());
        n.restake();
    }
    n.pool = std::make_unique<KeyedPool>(n.opt.step_threads);
    spdlog::info("node {} on chain {} (dispatcher {}), worker id {}", eth::to_checksum(n.me), n.chain_id,
                 eth::to_checksum(n.opt.dispatcher), n.worker_id.load());
    return std::unique_ptr<Node>{new Node{std::move(impl)}};
}

void Node::run(const std::atomic<bool>& stop) {
    auto& n = *impl_;
    auto last_sweep = std::chrono::steady_clock::time_point{};
    while (!stop.load()) {
        // 1. New events, in chain order; a batch is committed only after it was handled.
        while (!stop.load()) {
            auto batch = n.follower->next();
            if (!batch) {
                spdlog::warn("chain follower: {}", batch.error().message());
                n.metrics.counter("zeppelin_rpc_errors_total", "Failed chain reads of the follower").inc();
                break;
            }
            if (!batch->has_range) break;  // caught up
            auto events = market::decode_events(n.opt.dispatcher, batch->logs);
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
        }
        // 2. Every open agreement gets a step each second (deadlines, probes, reports are timed).
        const auto now = std::chrono::steady_clock::now();
        if (now - last_sweep >= 1s) {
            last_sweep = now;
            if (auto open = n.store->list(false)) {
                n.metrics.gauge("zeppelin_open_agreements", "Agreements this node plays a role in, not finished").set(static_cast<double>(open->size()));
                for (const auto& a : *open) n.wake(a.id);
            }
        }
        std::this_thread::sleep_for(*n.opt.poll);
    }
}

namespace {

json view_json(const market::AgreementView& v) {
    return json{{"status", status_name(v.status)},
                {"client", eth::to_checksum(v.client)},
                {"worker_id", v.worker_id},
                {"verifier_ids", v.verifier_ids},
                {"price_per_second", std::to_string(v.price_per_second)},
                {"max_price_per_second", std::to_string(v.max_price_per_second)},
                {"period_seconds", v.period_seconds},
                {"periods", v.periods},
                {"billable_periods", v.billable_periods},
                {"accept_deadline", v.accept_deadline},
                {"start_deadline", v.start_deadline},
                {"started_at", v.started_at},
                {"deposit", to_dec(v.deposit)},
                {"paid_periods", v.paid_periods},
                {"client_refund", to_dec(v.client_refund)},
                {"worker_redeemed", v.worker_redeemed},
                {"client_refunded", v.client_refunded}};
}

json worker_json(std::uint64_t id, const market::WorkerView& w, const market::Reputation& r) {
    return json{{"id", id},
                {"owner", eth::to_checksum(w.owner)},
                {"status", market::to_string(w.status)},
                {"price_per_second", std::to_string(w.price_per_second)},
                {"max_duration", w.max_duration},
                {"cpu_millicores", w.cpu_millicores},
                {"memory_mb", w.memory_mb},
                {"stake", to_dec(w.stake)},
                {"open_agreements", w.open_agreements},
                {"verified_periods", r.verified_periods},
                {"failed_periods", r.failed_periods},
                {"completed_agreements", r.completed_agreements},
                {"failed_agreements", r.failed_agreements}};
}

}  // namespace

Result<json> Node::status() {
    auto& n = *impl_;
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
    if (const auto id = n.worker_id.load(); id != 0) {
        const auto w = ZP_TRY(n.dispatcher->get_worker(id));
        const auto r = ZP_TRY(n.dispatcher->reputation_counters(id));
        j["worker"] = worker_json(id, w, r);
    }
    return j;
}

Result<json> Node::agreements() {
    auto& n = *impl_;
    json out = json::array();
    for (const auto& a : ZP_TRY(n.store->list(true))) {
        json j{{"id", a.id}, {"role", to_string(a.role)}, {"state", a.state}, {"updated_at", a.updated_at}};
        if (a.data.contains("image_name")) j["image"] = a.data["image_name"];
        if (a.data.contains("service")) j["service"] = a.data["service"];
        out.push_back(std::move(j));
    }
    return out;
}

Result<json> Node::agreement(std::uint64_t id, bool brief) {
    auto& n = *impl_;
    const auto a = ZP_TRY(n.local(id));
    json j{{"id", a.id}, {"role", to_string(a.role)}, {"state", a.state}, {"updated_at", a.updated_at}};
    // What a person may see: never the transfer secret.
    json data = a.data;
    data.erase("secret");
    if (data.contains("transfer")) data["transfer"].erase("secret");
    j["local"] = std::move(data);
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
    // This node's own transactions for it (from the journal), each with its hash.
    json txs = json::array();
    for (const auto& t : ZP_TRY(n.store->txs_of(id)))
        txs.push_back(json{{"action", Impl::action_kind(t.action)}, {"hash", to_hex(t.hash)}, {"nonce", t.nonce},
                           {"status", to_string(t.status)}});
    j["transactions"] = std::move(txs);
    if (a.role == Role::worker && n.engine && a.data.contains("container") && a.state == "running") {
        if (auto st = n.engine->stats(a.data["container"].get<std::string>()))
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
    auto& n = *impl_;
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
        n.inspected_files[key] = Impl::Inspected{info, size_before, mtime_before};
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
        n.inspected[id] = Impl::Inspected{info, size_before, mtime_before};
    }
    // 4. Remember it (merged with what the follower may already have recorded).
    {
        std::lock_guard lock{n.mu};
        auto cur = ZP_TRY(n.store->get(id));
        LocalAgreement a = cur ? *cur : LocalAgreement{};
        a.id = id;
        a.role = Role::client;
        if (a.state.empty()) a.state = "assigned";
        a.data["image"] = fs::absolute(archive).string();
        a.data["image_name"] = r.image;
        a.data["image_digest"] = transfer::digest_string(info.config_digest);
        a.data["spec"] = spec_json;
        a.data["submitted_ms"] = now_ms();
        ZP_CHECK(n.store->put(a));
    }
    spdlog::info("agreement {}: bought ({} s, {} verifiers, image {})", id, r.duration, r.verifiers,
                 transfer::short_digest(info.config_digest));
    n.wake(id);
    return id;
}

Result<json> Node::store_upload(std::string_view bytes) {
    auto& n = *impl_;
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
    auto& n = *impl_;
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
    auto& n = *impl_;
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
    auto& n = *impl_;
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
    auto& n = *impl_;
    if (max_price > std::numeric_limits<std::uint64_t>::max()) return make_error(Errc::invalid_argument, "max price too large");
    const auto deposit = ZP_TRY(n.dispatcher->quote(static_cast<std::uint64_t>(max_price), duration, period, verifiers));
    return json{{"deposit", to_dec(deposit)},
                {"verifier_fee_bps", to_dec(n.config.verifier_fee_bps)},
                {"min_stake", to_dec(n.config.min_stake)}};
}

Result<json> Node::market_workers() {
    auto& n = *impl_;
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
    auto& n = *impl_;
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

Result<void> Node::logs(std::uint64_t id, bool follow, const std::function<bool(std::string_view)>& sink) {
    auto& n = *impl_;
    const auto a = ZP_TRY(n.local(id));
    if (a.role == Role::worker) return n.worker_logs(id, follow, sink);
    if (a.role != Role::client) return make_error(Errc::invalid_argument, "a verifier of agreement " + std::to_string(id) + " has no access to its output");
    if (!a.data.contains("transfer") || a.data["transfer"].value("logs_port", 0U) == 0)
        return make_error(Errc::not_found, "the worker of agreement " + std::to_string(id) + " has not offered its output yet");
    const auto& t = a.data["transfer"];
    const auto secret = ZP_TRY(fixed_from_hex<32>(t["secret"].get<std::string>()));
    return fetch_logs({t["host"].get<std::string>(), t["logs_port"].get<std::uint16_t>()}, id, logs_key(secret), follow,
                      sink);
}

std::string Node::metrics_text() { return impl_->metrics.render(); }

}  // namespace zeppelin::node
