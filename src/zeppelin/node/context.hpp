// The node's shared parts and the declarations of its role steps (internal to the node library).
//
// NodeContext holds what every part of the node uses: options, identity, the chain (rpc, sender,
// dispatcher), the store, the container engine, the transfer server, the loopback image registry,
// metrics and the step pool. Its member functions are grouped by concern, one file each:
//
//   context.cpp         the agreement rows: read-modify-write under the node's lock
//   journal.cpp         transact(): simulate, journal before broadcast, settle, recover after restart
//   inbox.cpp           events and private messages: which agreements concern this node, and in which role
//   client_role.cpp     the client's steps: draw if the worker is silent, spec to the worker, transfer, withdraw
//   worker_role.cpp     the worker's steps: accept (with the offer), run, check the spec, start, brief the verifiers, settle
//   image_delivery.cpp  received images into the engine (pull while arriving, or load), kept images
//   verifier_role.cpp   the verifier's steps: probe at unpredictable instants, report
//   registration.cpp    the worker's registration and stake
//   reachability.cpp    the worker's ports on the router in front of it (UPnP IGD / NAT-PMP), what it announces
//   node.cpp            start-up and the loop: follower -> event -> step (node.hpp's Node)
//   node_api.cpp        views for the local API and the CLI (Node's query and command functions)
//   ports.cpp           the live chain, engine and world behind the roles' narrow interfaces (ports.hpp)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/eth/rpc.hpp"
#include "zeppelin/eth/sender.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/market/protocol_v2.hpp"
#include "zeppelin/node/chain_identity.hpp"
#include "zeppelin/node/db.hpp"
#include "zeppelin/node/follower.hpp"
#include "zeppelin/node/log_channel.hpp"
#include "zeppelin/node/messages.hpp"
#include "zeppelin/node/metrics.hpp"
#include "zeppelin/node/node.hpp"
#include "zeppelin/node/ports.hpp"
#include "zeppelin/node/reachability.hpp"
#include "zeppelin/node/registry.hpp"
#include "zeppelin/node/step_pool.hpp"
#include "zeppelin/node/store.hpp"
#include "zeppelin/probe/spec.hpp"
#include "zeppelin/runtime/engine.hpp"
#include "zeppelin/transfer/client.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/server.hpp"

namespace zeppelin::node {

namespace fs = std::filesystem;
using json = nlohmann::json;
// The node speaks protocol v2 (contracts/src/v2): its bindings and off-chain formats.
namespace v2 = market::v2;
using v2::AgreementStatus;

std::int64_t now_ms();
std::uint64_t now_s();

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

std::string lower_hex(const Address& a);
json requirements_json(const v2::Requirements& r);
std::string_view status_name(AgreementStatus s);
/// A failure that only means "not yet" (the step will try again later).
bool is_not_yet(const Error& e);
/// Transfer failures that no retry can fix: the image itself is wrong.
bool is_permanent_transfer_error(Errc c);
Result<Hash32> random_secret();
/// A TCP port free on `ip` now (the system's pick), for a container's published port.
Result<std::uint16_t> free_port(const std::string& ip);
/// The TCP ports an image config exposes ("ExposedPorts": {"8080/tcp": {}}), in order.
std::vector<std::uint16_t> exposed_ports(ByteView config);
probe::Spec tcp_spec();
json view_json(const v2::AgreementView& v);
json worker_json(std::uint64_t id, const v2::WorkerView& w, const v2::Reputation& r);

/// A verifier's plan for the current period of one agreement (memory only: a restarted verifier
/// draws a new plan, which an observer cannot predict either).
struct ProbePlan {
    std::uint64_t period{~0ULL};
    std::vector<std::chrono::milliseconds> offsets;
    std::size_t next{0};
};

struct NodeContext {
    NodeOptions opt;
    Address me{};
    // Labels this node's containers: the account and a random id kept in the state, so two nodes
    // of one account (or two devnets reusing agreement ids) on one engine never touch each other's work.
    std::string runtime_id;
    std::uint64_t chain_id{0};
    ChainGuard chain_guard;  // the chain and deployment this node works with, and whether it stopped acting (chain_identity.hpp)
    std::unique_ptr<eth::RpcClient> rpc;
    std::unique_ptr<eth::TxSender> sender;
    std::unique_ptr<v2::Dispatcher> dispatcher;
    v2::Config config;
    std::unique_ptr<Store> store;
    std::optional<Database> follower_db;
    std::optional<Follower> follower;
    std::unique_ptr<transfer::Server> transfer;
    std::unique_ptr<LogServer> log_server;
    std::unique_ptr<LocalRegistry> image_registry;  // loopback OCI registry: how received images reach the engine
    std::optional<runtime::Engine> engine;
    std::atomic<std::uint64_t> worker_id{0};
    Metrics metrics;
    std::mutex mu;  // guards the members below and read-modify-write of agreement rows
    std::map<std::uint64_t, Result<transfer::ReceivedImage>> received;
    std::map<std::uint64_t, transfer::IncomingImage> incoming;  // transfers under way (HELLO accepted)
    std::mutex images_mu;  // the kept-images record (settings), read-modify-write
    static constexpr const char* kKeptImages = "kept_images";  // settings: {"<config hex>": last use, ms}
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
    std::unique_ptr<StepPool> pool;

    // ---- the world as the roles see it (ports.hpp): the live ones (install_live_ports), or fakes in tests
    std::unique_ptr<ChainPort> chain;
    std::unique_ptr<WorkPort> work;  // null without a container engine: the node then serves no work
    std::unique_ptr<WorldPort> world;
    /// Unix seconds by the world's clock.
    std::uint64_t world_s() const { return static_cast<std::uint64_t>(world->now_ms() / 1000); }
    /// The live ports: the journal and the dispatcher, the engine (if any), the system clock and real probes.
    void install_live_ports();

    // ---- when steps run (node.cpp)
    // A step runs when an event concerns its agreement or when a moment it asked for comes due
    // (a deadline of the contract, a probe instant, a report time, the end); an agreement nobody
    // asked about is stepped again after kSafetyStep, in case a moment was missed.
    static constexpr std::chrono::seconds kSafetyStep{300};
    DeadlineQueue deadlines;
    // The agreement as last read from the chain. Only a transaction changes it, and every
    // transaction that does emits an event naming the agreement: an event (or this node's own
    // transaction) drops the copy, and a copy older than kSafetyStep is read again.
    struct CachedView {
        v2::AgreementView view;
        std::chrono::steady_clock::time_point read;
    };
    std::map<std::uint64_t, CachedView> views;            // guarded by mu
    std::map<std::uint64_t, std::uint64_t> view_epochs;   // bumped by invalidate(); guarded by mu
    std::map<std::uint64_t, unsigned> failures;           // consecutive failed steps; guarded by mu
    // Registered workers' owner and key (for messages to verifiers): they change only by a new
    // registration, which is a new worker id.
    std::map<std::uint64_t, std::pair<Address, eth::PublicKey>> identities;  // guarded by mu

    // ---- the agreement rows (context.cpp)
    /// Read-modify-write of one local agreement under the node's lock.
    Result<void> update(std::uint64_t id, const std::function<void(LocalAgreement&)>& change);
    Result<LocalAgreement> local(std::uint64_t id);
    Result<void> set_state(std::uint64_t id, Phase phase);
    /// The client's agreement was stopped on chain: recorded (AgreementRecord::stopped) and shown
    /// as "stopping" until it settles. Does nothing to another role's or a finished agreement.
    Result<void> mark_stopped(std::uint64_t id);
    /// A running client agreement's phase: "stopping" once stopped (by the record, read under the
    /// lock, so that a step that read the row before a stop cannot undo it), else `otherwise`.
    Result<void> set_running_state(std::uint64_t id, Phase otherwise);

    // ---- transactions (journal.cpp)
    /// Sends one dispatcher transaction for (agreement, action), at most once: a mined one is not
    /// sent again, a journaled pending one is re-broadcast and awaited, and the call is simulated
    /// first so that a transaction that would revert is never sent (its revert comes back as
    /// Errc::reverted with the contract's custom error in words). Returns the mined receipt (for a
    /// transaction mined before, by an earlier call or process, only its hash is filled in).
    Result<eth::Receipt> transact(std::uint64_t agreement, const std::string& action, eth::TxRequest request);
    /// The RPC's "insufficient funds for gas * price + value" as a sentence with this account's
    /// balance and what `request` needs; any other error unchanged.
    Error explain_funds(const Error& e, const eth::TxRequest& request);
    static std::string action_kind(const std::string& action);
    /// Journals every version of the transaction of (agreement, action) before it is broadcast.
    eth::BroadcastHook journal_hook(std::uint64_t agreement, const std::string& action);
    Result<eth::Receipt> call(std::uint64_t agreement, const std::string& action, Bytes data, const u256& value = 0);
    /// Writes what became of every version of a transaction to the journal and the metrics.
    Result<eth::Receipt> record(std::uint64_t agreement, const std::string& action, const std::vector<JournalTx>& known,
                                const eth::SentTx& sent);
    /// Brings journaled versions of one transaction (same nonce) to their end after a restart: the
    /// newest signed bytes are sent again, never a fresh transaction, and awaited (replaced with
    /// higher fees if stuck) by the sender itself.
    Result<eth::Receipt> settle_journaled(const std::vector<JournalTx>& versions);
    /// On start: every journaled transaction not known to be mined is settled, one nonce at a time.
    void recover_journal();

    // ---- messages and events (inbox.cpp)
    /// Seals one payload per recipient (in recipient-bit order) and packs them as v2's messages
    /// carry them (accept, start, drawVerifiers, postMessage).
    Result<Bytes> seal(std::uint64_t id, const std::vector<msg::Sealed>& to);
    Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker);
    /// The client's public key, recovered once from the signature of its buyContract transaction
    /// and kept with the agreement (every message to the client needs it).
    Result<eth::PublicKey> client_key(std::uint64_t id);
    void ignore_message(std::uint64_t id, std::string_view reason);
    void on_message(const v2::EventRecord& rec, const v2::MessagePosted& m);
    static std::string fmt_reason(const msg::Payload& p, Role role);
    /// The worker's copy of the client's probe spec, however it came (the image transfer's HELLO,
    /// or an older client's on-chain "spec" message): kept only if it opens the agreement's salted
    /// commit and parses; otherwise the error says why, with both hashes.
    Result<void> take_spec(std::uint64_t id, const std::string& spec_json, const Hash32& salt, const Hash32& commit);
    /// A transfer's HELLO was accepted (transfer::ServerOptions::on_hello, on the connection's
    /// thread): the layers arriving, and the client's spec, checked against the commit of the
    /// purchase this node followed; a spec that does not match is ignored and logged. The
    /// agreement whose step should run next (the caller wakes it), if the HELLO names one.
    std::optional<std::uint64_t> on_transfer_hello(const transfer::IncomingImage& img);
    /// Records this node's role in an agreement when it has one (a new row), or that it lost it.
    void on_roles(std::uint64_t id, std::optional<Address> client, std::uint64_t worker,
                  const std::vector<std::uint32_t>& verifiers);
    void on_event(const v2::EventRecord& rec);
    // A purchase is drawn from the hash of a later block: every worker node looks, once that block
    // is mined, whether the draw picks it (previewWorker at "pending"). Purchases waiting for their
    // draw block, by agreement id; guarded by mu.
    std::map<std::uint64_t, std::uint64_t> draws;
    /// Looks at the purchases whose draw block is mined, each in a step-pool job of its own (the
    /// preview is an eth_call): the one drawn takes the worker's role.
    void check_draws();

    // ---- steps (node.cpp)
    /// Schedules a step for an agreement now (no-op if one is queued; once more if one is running).
    void wake(std::uint64_t id);
    /// Asks for a step of `id` at a unix time in milliseconds (the earliest asked for wins).
    void wake_at_ms(std::uint64_t id, std::int64_t unix_ms);
    void wake_in(std::uint64_t id, std::chrono::milliseconds delay);
    /// The agreement's chain view: the cached copy unless an event concerned it since.
    Result<v2::AgreementView> view_of(std::uint64_t id);
    /// Drops the cached view of `id` (an event concerned it, or this node sent a transaction for it).
    void invalidate(std::uint64_t id);
    /// Wakes the agreements whose moment came, and the open ones nobody asked about for a while.
    void wake_due();
    /// How long until the chain is asked for its head again: the poll interval, or on a chain with
    /// regular blocks of at least two polls, until the next block is due.
    std::chrono::milliseconds follow_delay() const;
    Result<void> step(std::uint64_t id);
    /// The first second settle() is accepted without every report in: the last batch's report
    /// window closed (with every report in, at once).
    std::uint64_t settle_by(const v2::AgreementView& v) const;
    /// settle(id): any party may; a "not yet" (SettlementTooEarly) comes back as Errc::too_early.
    Result<void> settle(std::uint64_t id);

    // ---- client (client_role.cpp)
    Result<void> client_step(const LocalAgreement& a, const v2::AgreementView& v);
    /// The image to the worker, and with it (in the same encrypted session, also when no layer
    /// needs sending) the probe spec and its salt.
    Result<void> client_transfer(const LocalAgreement& a, const v2::AgreementView& v);
    /// Takes out this account's credits (a refund its address did not take at once) once its
    /// agreement is settled or ended.
    Result<void> withdraw_credit(std::uint64_t id);
    /// Probes the service once its endpoint is known (from the start on) until it first answers:
    /// `first_ok_ms`, when `run` returns.
    Result<void> note_first_answer(const LocalAgreement& a);

    // ---- worker (worker_role.cpp)
    bool can_serve(const json& req);
    Result<void> end_work(std::uint64_t id);
    Result<void> worker_step(const LocalAgreement& a, const v2::AgreementView& v);
    /// An ended agreement's transfer: the server's expectation and partial files, and what this
    /// node kept in memory about it.
    void forget_transfer(std::uint64_t id);
    /// The transfer offer sealed to the client, for acceptAgreement: a transfer secret (drawn
    /// once, stored before anything is sent) and the transfer server expecting the image.
    Result<Bytes> offer_envelope(std::uint64_t id, const v2::AgreementView& v, const json& req);
    /// A node restarted on other ports tells the client its new transfer and log ports (a
    /// client-bit message), once per pair of ports: else the image or `logs` find nobody there.
    Result<void> offer_again_if_moved(const LocalAgreement& a, const v2::AgreementView& v);
    /// The transfer server expects the image (again after a restart).
    Result<void> expect_image(std::uint64_t id, const LocalAgreement& a, const json& req);
    Result<void> worker_prepare(const LocalAgreement& a_in, const v2::AgreementView& v, const json& req);
    /// The paid clock may start once the worker's own probe of its service passes the client's
    /// spec (checked against the agreement's commit): startAgreement with the endpoint sealed to
    /// the client. A spec the service fails is revealed with rejectSpec (no penalty).
    Result<void> check_and_start(const LocalAgreement& a, const v2::AgreementView& v);
    /// Once the verifier draw block is mined: drawVerifiers with one brief per verifier drawn
    /// (spec, salt, endpoint), sealed to the keys of previewVerifiers' list.
    /// While the work runs: the service's public endpoint is no longer the one announced (the
    /// router's external address changed): one message tells the client and the verifiers.
    Result<void> tell_if_moved(const LocalAgreement& a, const v2::AgreementView& v);
    /// One brief per verifier of `ids`, each to be sealed to that verifier's key (in their order).
    Result<std::vector<msg::Sealed>> briefs_for(const std::vector<std::uint32_t>& ids, const msg::VerifierBrief& brief);
    Result<void> brief_verifiers(const LocalAgreement& a, const v2::AgreementView& v);
    Result<void> record_received(std::uint64_t id, const Bytes& config_bytes, const std::vector<transfer::Digest>& ids);
    // ---- images into the engine (image_delivery.cpp)
    /// Records that an image this node brought into the engine was used now. Images the engine held
    /// before (the operator's own) are not recorded, so never removed, unless `brought`.
    void note_image(const transfer::Digest& digest, bool brought);
    json kept_images();
    /// Removes the least recently used images beyond --keep-images. One a container still uses is
    /// refused by the engine and stays (tried again next time).
    void prune_images();
    /// Has the engine pull an image while its transfer is under way: each layer is served as its
    /// bytes reach the cache, and its last byte only once the transfer server has verified the
    /// whole layer (hash and contents) and committed it; a layer that fails is cut short, and the
    /// engine, which checks every blob against the committed digest, keeps nothing of it.
    Result<void> pull_arriving(std::uint64_t id, const transfer::Digest& digest, const transfer::IncomingImage& img);
    /// Puts a received image into the engine: pulled from the node's loopback registry (each layer
    /// read once, straight from the cache), or, if that fails, loaded as an assembled archive.
    Result<void> bring_image(std::uint64_t id, const transfer::Digest& digest, const ReceivedRecord& rec);

    // ---- registration (registration.cpp)
    Result<void> register_worker();
    /// After a slash took the stake below the minimum, the worker is no longer assigned work: the
    /// node tops it up from its balance (logged; it fails in words when the balance is short).
    void restake();

    // ---- verifier (verifier_role.cpp)
    Result<void> verifier_step(const LocalAgreement& a, const v2::AgreementView& v);
    Result<void> probe_due(const LocalAgreement& a, std::uint64_t id, std::uint64_t cur, std::int64_t start_ms,
                           std::int64_t period_ms, std::uint32_t period_s);
    /// Reports every batch whose report window is open and this verifier has not reported:
    /// confirmBatch when it observed every period ok, else submitReport with its votes (a period
    /// without a conclusive probe is an abstention).
    Result<void> report(const LocalAgreement& a, std::uint64_t index, const v2::AgreementView& v);
    /// Runs report() as a job of its own on the step pool (key id | kReportKey) when a batch is
    /// due: a report waits for its receipt, a block or more (12 s on mainnet), and must never hold
    /// this agreement's probes. Without a pool (the roles' unit tests that step by hand) it runs in
    /// the step.
    Result<void> report_aside(const LocalAgreement& a, std::uint64_t index, const v2::AgreementView& v);
    static constexpr std::uint64_t kReportKey = 1ULL << 63;

    // ---- reachability (reachability.cpp): the worker's ports on the router in front of it
    std::unique_ptr<Reachability> reach;  // workers only
    /// At start, before registration: decides whether to map (plan_mapping), finds the gateway,
    /// removes what an earlier run left, maps the transfer and log ports (and running work's
    /// service ports), and starts renewing; without any way in, the state says why.
    Result<void> start_reachability();
    void check_reachability();
    bool reachable() const;
    /// After registration: a worker nobody can reach pauses its offer; once reachable again, it
    /// resumes what it paused itself.
    void enforce_reachability();
    /// Where parties reach this host's `internal_port` mapped under `purpose`: the external address
    /// and port, else the announced host and the port itself.
    std::pair<std::string, std::uint16_t> public_endpoint(const std::string& purpose, std::uint16_t internal_port);
    /// A host port for a service: from --service-ports (not one another agreement holds), else any.
    Result<std::uint16_t> choose_service_port(std::uint64_t id);
    Result<void> map_service(std::uint64_t id, std::uint16_t port);
    void unmap_service(std::uint64_t id);
    void stop_reachability();
    json reachability_json();
    /// A worker waiting for its client's transfer (`contacted`: the client's HELLO came): once
    /// opt.unreached_after has passed since the offer with no connection, it says so (log, the
    /// agreement's last_error, `unreached` in its reachability) and checks its reachability again,
    /// once per agreement.
    void watch_first_contact(std::uint64_t id, bool contacted);
    std::map<std::uint64_t, std::int64_t> offer_seen_ms;  // when the wait for the client began; guarded by mu
    std::string unreached;                                // the last such warning; guarded by mu
    std::mutex reach_check_mu;                            // one check_reachability at a time

    // ---- for the API (node_api.cpp)
    Result<json> payments(std::uint64_t id);
    Result<void> worker_logs(std::uint64_t id, bool follow, const LogSinkFn& sink);
    std::optional<transfer::Secret> logs_lookup(std::uint64_t id);
};

}  // namespace zeppelin::node
