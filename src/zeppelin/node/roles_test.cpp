// The roles' steps against fakes of the chain, the engine and the world (ports.hpp): every
// transition of the client, the worker and the verifier, and the failure paths the end-to-end suite
// reaches only slowly (reassignment, a refused image, a restart mid-start, a port taken meanwhile,
// a report already on chain, a report after a long outage of the node).
//
// The store is a real SQLite file and the worker's transfer server really listens on loopback; the
// chain, the engine, the clock and the probed services are fakes. No test depends on the wall clock.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_image.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/node/context.hpp"

namespace zeppelin::node {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kId = 42;
constexpr std::uint32_t kMe = 7;          // this node's worker id
constexpr std::int64_t kT0 = 1'900'000'000'000;  // the fake clock's start, unix ms

Address addr(std::uint8_t b) {
    Address a{};
    a.bytes[19] = b;
    return a;
}

/// The chain: one agreement's view, the transactions sent (each action once, as the journal does)
/// and the messages posted; an action can be made to fail.
struct FakeChain final : ChainPort {
    market::AgreementView view;
    std::vector<std::string> sent;                  // actions, in order, each once
    std::map<std::string, Error> failing;           // action prefix -> its error
    std::vector<std::pair<std::string, msg::Payload>> posts;  // (action, payload), each once
    std::map<std::uint64_t, market::Dispatcher::Reports> on_chain;  // window start -> reports
    std::map<std::string, Bytes> calldata;          // action -> what was sent
    int reads{0};

    Result<market::AgreementView> agreement(std::uint64_t) override {
        ++reads;
        return view;
    }
    Result<eth::Receipt> send(std::uint64_t, const std::string& action, Bytes data) override {
        if (action.rfind("report", 0) == 0) {
            // A held report waits for its "receipt" until released (5 s at most: then an error).
            std::unique_lock lock{mu};
            ++reports_sending;
            if (!held.wait_for(lock, 5s, [&] { return !hold_reports; }))
                return Error{Errc::timeout, "the report's receipt did not come"};
        }
        std::lock_guard lock{mu};
        for (const auto& [prefix, e] : failing)
            if (action.rfind(prefix, 0) == 0) return e;
        if (std::find(sent.begin(), sent.end(), action) == sent.end()) sent.push_back(action);
        calldata.emplace(action, std::move(data));
        return eth::Receipt{};
    }
    Result<void> post(std::uint64_t, const Address&, const eth::PublicKey&, const msg::Payload& payload,
                      const std::string& action) override {
        for (const auto& [prefix, e] : failing)
            if (action.rfind(prefix, 0) == 0) return e;
        std::lock_guard lock{mu};  // the worker announces to every party at once
        if (std::none_of(posts.begin(), posts.end(), [&](const auto& p) { return p.first == action; }))
            posts.emplace_back(action, payload);
        return {};
    }
    Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker) override {
        return std::pair{addr(static_cast<std::uint8_t>(worker)), eth::PublicKey{}};
    }
    Result<eth::PublicKey> client_key(std::uint64_t) override { return eth::PublicKey{}; }
    Result<market::Dispatcher::Reports> reports(std::uint64_t, std::uint64_t, std::uint64_t first) override {
        return on_chain[first];
    }

    [[nodiscard]] bool did(const std::string& action) const {
        return std::find(sent.begin(), sent.end(), action) != sent.end();
    }
    /// provideVerification(id, first, okBits, reportedBits): the low byte of okBits.
    [[nodiscard]] unsigned ok_bits_of(const std::string& action) const {
        const auto& d = calldata.at(action);
        return d.size() >= 4 + 96 ? d[4 + 96 - 1] : 0xffff;
    }
    [[nodiscard]] std::size_t posts_starting(const std::string& prefix) const {
        return static_cast<std::size_t>(
            std::count_if(posts.begin(), posts.end(), [&](const auto& p) { return p.first.rfind(prefix, 0) == 0; }));
    }
    void release_reports() {
        {
            std::lock_guard lock{mu};
            hold_reports = false;
        }
        held.notify_all();
    }
    std::mutex mu;
    std::condition_variable held;
    bool hold_reports{false};  // guarded by mu
    int reports_sending{0};    // guarded by mu
};

/// The engine: images held by reference, one container per agreement.
struct FakeWork final : WorkPort {
    std::set<std::string> images;
    std::map<std::string, runtime::RunningWork> containers;
    std::vector<runtime::WorkSpec> started;
    std::optional<Error> start_fails;  // once
    std::vector<std::string> ended;

    Result<runtime::ImageInfo> image(const std::string& ref) override {
        if (!images.contains(ref)) return make_error(Errc::not_found, "no such image " + ref);
        runtime::ImageInfo info;
        info.id = ref;
        info.exposed_tcp_ports = {8080};
        return info;
    }
    Result<runtime::RunningWork> find(const std::string& agreement) override {
        auto it = containers.find(agreement);
        if (it == containers.end()) return make_error(Errc::not_found, "no container");
        return it->second;
    }
    Result<runtime::RunningWork> start(const runtime::WorkSpec& spec) override {
        started.push_back(spec);
        if (start_fails) {
            auto e = *start_fails;
            start_fails.reset();
            return e;
        }
        runtime::RunningWork w;
        w.agreement_id = spec.agreement_id;
        w.container_id = "c0ffee" + std::to_string(started.size()) + "000000000000";
        w.state = "running";
        w.host_ip = spec.host_ip;
        w.host_port = spec.host_port;
        containers[spec.agreement_id] = w;
        return w;
    }
    Result<void> end(const std::string& agreement) override {
        ended.push_back(agreement);
        containers.erase(agreement);
        return {};
    }
};

/// The clock and the services: time moves only when a test says so; a probe answers as told.
struct FakeWorld final : WorldPort {
    std::atomic<std::int64_t> now{kT0};  // read by report jobs on the step pool too
    bool service_up{true};
    bool own_link_up{true};  // false: this node's own network is cut (nothing answers it)
    int probes{0};
    int link_back_after{0};  // > 0: the cut link comes back as probe number link_back_after ends
    std::int64_t now_ms() override { return now; }
    probe::Outcome probe(const probe::Spec&, const probe::Endpoint&, std::chrono::milliseconds) override {
        ++probes;
        if (!own_link_up && probes == link_back_after) {
            own_link_up = true;  // too late for this probe: it timed out while the link was down
            return {false, "connect timed out", 3000ms};
        }
        if (!own_link_up) return {false, "connect timed out", 3000ms};
        return {service_up, service_up ? "HTTP 200" : "connection refused", 1ms};
    }
    bool reaches_world() override { return own_link_up; }
};

const std::string kDigestHex(64, 'a');
const std::string kRef = "sha256:" + kDigestHex;

class Roles : public ::testing::Test {
  protected:
    void SetUp() override {
        n.opt.data_dir = dir.path();
        n.opt.cpu_millicores = 1000;
        n.opt.memory_mb = 1024;
        n.opt.report_interval = 600s;
        n.store = Store::open((dir.path() / "state.sqlite").string()).value();
        n.worker_id = kMe;
        auto c = std::make_unique<FakeChain>();
        auto w = std::make_unique<FakeWork>();
        auto t = std::make_unique<FakeWorld>();
        chain = c.get();
        work = w.get();
        world = t.get();
        n.chain = std::move(c);
        n.work = std::move(w);
        n.world = std::move(t);
        chain->view.client = addr(1);
        chain->view.worker_id = kMe;
        chain->view.verifier_ids = {8, 9};
        chain->view.period_seconds = 60;
        chain->view.periods = 10;
        chain->view.billable_periods = 10;
    }

    void own(Role role, Phase phase = Phase::assigned) {
        LocalAgreement a;
        a.id = kId;
        a.role = role;
        a.phase = phase;
        n.store->put(a).value();
        KnownAgreement k;
        k.id = kId;
        k.requirements = json{{"image_digest", "0x" + kDigestHex}, {"cpu_millicores", 500}, {"memory_mb", 256}};
        n.store->put_known(k).value();
    }
    void start_transfer_server() {
        transfer::ServerOptions so;
        so.cache_dir = dir.path() / "layers";
        so.assemble_archive = false;
        n.transfer = transfer::Server::start(std::move(so)).value();
    }
    LocalAgreement row() { return n.local(kId).value(); }
    void edit(const std::function<void(AgreementRecord&)>& change) {
        n.update(kId, [&](LocalAgreement& a) { change(a.rec); }).value();
    }
    static OfferRecord offer_from(std::uint64_t worker) {
        // A port nothing listens on (a worker behind a NAT without forwarding looks like this).
        OfferRecord o{"127.0.0.1", 9, {}, 0, worker};
        o.secret.bytes.fill(0x11);
        return o;
    }
    Result<void> step() {
        const auto a = row();
        switch (a.role) {
            case Role::client: return n.client_step(a, chain->view);
            case Role::worker: return n.worker_step(a, chain->view);
            case Role::verifier: return n.verifier_step(a, chain->view);
        }
        return {};
    }
    std::int64_t now_s() const { return world->now / 1000; }

    test::TempDir dir;
    NodeContext n;
    FakeChain* chain{nullptr};
    FakeWork* work{nullptr};
    FakeWorld* world{nullptr};
};

// ------------------------------------------------------------------------------------ client

TEST_F(Roles, ClientWaitsForTheAcceptAndSendsTheProbeSpecToEachVerifierOnce) {
    own(Role::client);
    edit([](AgreementRecord& r) { r.spec = R"({"kind":"tcp"})"; });
    chain->view.status = AgreementStatus::assigned;
    chain->view.accept_deadline = static_cast<std::uint64_t>(now_s() + 100);
    step().value();
    step().value();
    EXPECT_EQ(row().phase, Phase::waiting_for_acceptance);
    EXPECT_EQ(chain->posts_starting("post:probe:"), 2U) << "one per verifier";
    EXPECT_TRUE(chain->sent.empty()) << "nothing to send before the accept window ends";
    EXPECT_EQ(n.deadlines.size(), 1U) << "woken when the accept window ends";
}

TEST_F(Roles, ClientReplacesAWorkerThatDidNotAcceptInTime) {
    own(Role::client);
    chain->view.status = AgreementStatus::assigned;
    chain->view.accept_deadline = static_cast<std::uint64_t>(now_s() - 5);
    step().value();
    EXPECT_TRUE(chain->did("reassign:" + std::to_string(chain->view.accept_deadline)));
}

TEST_F(Roles, ClientTakesATooEarlyReassignmentAsNotYet) {
    own(Role::client);
    chain->view.status = AgreementStatus::assigned;
    chain->view.accept_deadline = static_cast<std::uint64_t>(now_s() - 2);
    chain->failing.emplace("reassign:", Error{Errc::too_early, "AcceptWindowOpen"});
    EXPECT_TRUE(step()) << "the chain's clock lags: tried again at the next wake, not a failure";
}

TEST_F(Roles, ClientCancelsWhenTheWorkerRefusesTheImage) {
    own(Role::client, Phase::transferring);
    chain->view.status = AgreementStatus::accepted;
    chain->view.start_deadline = static_cast<std::uint64_t>(now_s() + 3000);
    edit([](AgreementRecord& r) { r.image_refused = "the image's config does not hash to the agreed digest"; });
    step().value();
    EXPECT_TRUE(chain->did("cancel"));
    EXPECT_EQ(row().phase, Phase::cancelled);
}

TEST_F(Roles, ClientGetsItsDepositBackWhenTheWorkerNeverStarts) {
    own(Role::client, Phase::waiting_for_service);
    chain->view.status = AgreementStatus::accepted;
    chain->view.start_deadline = static_cast<std::uint64_t>(now_s() - 5);
    step().value();
    EXPECT_TRUE(chain->did("expire"));
}

TEST_F(Roles, ClientRecordsATransferThatCannotConnectAndTriesAgain) {
    own(Role::client, Phase::waiting_for_worker);
    chain->view.status = AgreementStatus::accepted;
    chain->view.start_deadline = static_cast<std::uint64_t>(now_s() + 3000);
    if (!test::busybox_available()) GTEST_SKIP() << "no /bin/busybox for the test image";
    const auto archive = test::build_test_image(dir.path() / "image.tar").archive;
    edit([&](AgreementRecord& r) {
        r.image = archive.string();
        r.transfer = offer_from(kMe);
    });
    const auto r = step();
    ASSERT_FALSE(r);
    EXPECT_FALSE(row().rec.transfer_error.empty()) << "the reason is kept for run/ps";
    EXPECT_FALSE(chain->did("cancel")) << "a connection failure may pass: no cancel";
}

TEST_F(Roles, ClientIgnoresTheOfferOfAFormerWorker) {
    own(Role::client, Phase::waiting_for_worker);
    chain->view.status = AgreementStatus::accepted;
    chain->view.worker_id = 12;  // reassigned since the offer
    chain->view.start_deadline = static_cast<std::uint64_t>(now_s() + 3000);
    edit([](AgreementRecord& r) { r.transfer = offer_from(kMe); });
    step().value();
    EXPECT_TRUE(row().rec.transfer_error.empty()) << "no transfer to the former worker";
}

TEST_F(Roles, ClientClaimsItsRefundAtTheEndAndOnlyOnce) {
    own(Role::client, Phase::running);
    chain->view.status = AgreementStatus::running;
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 601);
    step().value();
    EXPECT_TRUE(chain->did("claim"));
    chain->view.status = AgreementStatus::settled;
    chain->view.client_refunded = true;
    chain->sent.clear();
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "refunded already";
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(Roles, ClientStoppedAgreementIsStoppingUntilItSettles) {
    own(Role::client, Phase::running);
    chain->view.status = AgreementStatus::running;
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 15);
    edit([](AgreementRecord& r) { r.service = HostPort{"127.0.0.1", 8080}; });
    step().value();
    EXPECT_EQ(row().phase, Phase::running);
    // `zeppelin stop`: the contract cut the billable periods to those begun.
    chain->view.billable_periods = 2;
    step().value();
    EXPECT_EQ(row().phase, Phase::stopping);
    EXPECT_EQ(phase_label(Phase::stopping), "stopping");
    chain->view.status = AgreementStatus::settled;
    chain->view.client_refunded = true;
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(Roles, ClientStoppedInItsLastPeriodStaysStoppingThroughAStepInFlightAndARestart) {
    own(Role::client, Phase::running);
    chain->view.status = AgreementStatus::running;
    // In its last period (the 10th of 60 s): a stop cuts no billable period, so the chain's view
    // looks the same before and after it.
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 9 * 60 - 15);
    edit([&](AgreementRecord& r) {
        r.service = HostPort{"127.0.0.1", 8080};
        r.first_ok_ms = world->now.load();
    });
    step().value();
    EXPECT_EQ(row().phase, Phase::running);
    // A step that read the row just before `zeppelin stop` recorded the stop, and writes after it.
    const auto read_before = row();
    n.mark_stopped(kId).value();  // what POST /api/agreements/{id}/stop records once the stop is mined
    n.client_step(read_before, chain->view).value();
    EXPECT_EQ(row().phase, Phase::stopping) << "a step in flight does not undo the stop";
    EXPECT_TRUE(row().rec.stopped);
    // The node restarts: the same store file, opened again; its steps go on from what it holds.
    n.store.reset();
    n.store = Store::open((dir.path() / "state.sqlite").string()).value();
    step().value();
    EXPECT_EQ(row().phase, Phase::stopping) << "after a restart too";
    // The last period runs out: the client claims, the agreement settles, and it is done.
    world->now += 60'000;
    step().value();
    EXPECT_TRUE(chain->did("claim"));
    chain->view.status = AgreementStatus::settled;
    chain->view.client_refunded = true;
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
    // A late stop (an AgreementStopped replayed after the end) does not reopen it.
    n.mark_stopped(kId).value();
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(Roles, ClientMeasuresTheFirstAnswerOfTheService) {
    own(Role::client, Phase::starting);
    chain->view.status = AgreementStatus::running;
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 1);
    edit([](AgreementRecord& r) { r.service = HostPort{"127.0.0.1", 8080}; });
    world->service_up = false;
    step().value();
    EXPECT_FALSE(row().rec.first_ok_ms);
    EXPECT_EQ(row().phase, Phase::running);
    world->service_up = true;
    world->now += 700;
    step().value();
    EXPECT_EQ(row().rec.first_ok_ms.value_or(0), world->now);
}

// ------------------------------------------------------------------------------------ worker

TEST_F(Roles, WorkerDeclinesWorkBeyondItsCapacity) {
    own(Role::worker);
    n.opt.cpu_millicores = 400;  // the agreement asks 500
    chain->view.status = AgreementStatus::assigned;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"decline"});
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(Roles, WorkerWithoutAnEngineServesNothing) {
    own(Role::worker);
    n.work.reset();
    chain->view.status = AgreementStatus::assigned;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"decline"});
}

TEST_F(Roles, WorkerAcceptsOffersTheTransferAndWaitsForTheImage) {
    own(Role::worker);
    start_transfer_server();
    chain->view.status = AgreementStatus::assigned;
    step().value();
    EXPECT_TRUE(chain->did("accept"));
    ASSERT_EQ(chain->posts_starting("post:transfer:"), 1U);
    const auto& offer = std::get<msg::TransferOffer>(chain->posts.front().second);
    EXPECT_EQ(offer.port, n.transfer->port());
    EXPECT_EQ(offer.secret, row().rec.secret.value_or(Hash32{})) << "the secret is stored before it is sent";
    EXPECT_EQ(row().phase, Phase::waiting_for_image);
    EXPECT_TRUE(work->started.empty());

    chain->view.status = AgreementStatus::accepted;
    step().value();
    EXPECT_EQ(chain->posts_starting("post:transfer:"), 1U) << "offered once";
}

TEST_F(Roles, WorkerThatNoClientReachesSaysSo) {
    own(Role::worker);
    start_transfer_server();
    n.opt.public_host = "203.0.113.9";
    n.opt.unreached_after = 60s;
    chain->view.status = AgreementStatus::assigned;
    step().value();
    chain->view.status = AgreementStatus::accepted;
    world->now += 59'000;
    step().value();
    EXPECT_EQ(row().rec.last_error, "") << "still within the bound";
    world->now += 2'000;
    step().value();
    const auto said = row().rec.last_error;
    EXPECT_NE(said.find("no client has connected to this worker's transfer port (203.0.113.9:" +
                        std::to_string(n.transfer->port()) + ", as announced) within 60 s"),
              std::string::npos)
        << said;
}

TEST_F(Roles, WorkerRefusesAnImageThatFailedVerification) {
    own(Role::worker, Phase::accepted);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    {
        std::lock_guard lock{n.mu};
        n.received.insert_or_assign(kId, Result<transfer::ReceivedImage>{
                                             Error{Errc::invalid_argument, "layer 2's digest does not match"}});
    }
    step().value();
    ASSERT_EQ(chain->posts_starting("post:rejected"), 1U);
    const auto it = std::find_if(chain->posts.begin(), chain->posts.end(), [](const auto& p) { return p.first == "post:rejected"; });
    EXPECT_NE(std::get<msg::ImageRejected>(it->second).reason.find("digest does not match"), std::string::npos);
    EXPECT_EQ(row().phase, Phase::image_refused);
    EXPECT_TRUE(work->started.empty()) << "nothing runs";
    step().value();
    EXPECT_FALSE(chain->did("start"));
}

TEST_F(Roles, WorkerRunsAHeldImageAnnouncesItThenStartsTheClock) {
    own(Role::worker, Phase::accepted);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    work->images.insert(kRef);
    edit([](AgreementRecord& r) { r.hello = true; });  // the client showed the image's config
    step().value();
    ASSERT_EQ(work->started.size(), 1U);
    const auto& spec = work->started.front();
    EXPECT_EQ(spec.image, kRef);
    EXPECT_EQ(spec.nano_cpus, 500'000'000U);
    EXPECT_EQ(spec.memory_bytes, 256ULL << 20);
    EXPECT_EQ(spec.container_port, 8080);
    EXPECT_EQ(chain->posts_starting("post:service:"), 3U) << "the client and both verifiers";
    EXPECT_TRUE(chain->did("start"));
    EXPECT_EQ(row().phase, Phase::running);
    EXPECT_EQ(row().rec.service_port, spec.host_port);
}

TEST_F(Roles, WorkerDoesNotRunAHeldImageForAClientThatDidNotShowIt) {
    own(Role::worker, Phase::accepted);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    work->images.insert(kRef);  // the digest is public on chain; knowing it is not enough
    step().value();
    EXPECT_TRUE(work->started.empty());
    EXPECT_FALSE(chain->did("start"));
}

TEST_F(Roles, WorkerRestartedMidStartAdoptsItsContainer) {
    own(Role::worker, Phase::starting_work);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    work->images.insert(kRef);
    edit([](AgreementRecord& r) {
        r.received = ReceivedRecord{true, {}, {}};
        r.exposed_ports = {8080};
    });
    runtime::RunningWork running;
    running.agreement_id = std::to_string(kId);
    running.container_id = "feedbeef0000000000";
    running.state = "running";
    running.host_port = 41000;
    work->containers[running.agreement_id] = running;
    step().value();
    EXPECT_TRUE(work->started.empty()) << "not started twice";
    EXPECT_EQ(row().rec.service_port, 41000);
    EXPECT_TRUE(chain->did("start"));
}

TEST_F(Roles, WorkerWhosePortWasTakenAnnouncesAnotherOne) {
    own(Role::worker, Phase::accepted);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    work->images.insert(kRef);
    edit([](AgreementRecord& r) { r.hello = true; });
    work->start_fails = Error{Errc::address_in_use, "port taken"};
    EXPECT_FALSE(step());
    const auto first = work->started.front().host_port;
    EXPECT_EQ(row().rec.planned_port, 0) << "the taken port is given up";
    EXPECT_FALSE(chain->did("start"));
    step().value();
    ASSERT_EQ(work->started.size(), 2U);
    const auto second = work->started.back().host_port;
    const auto announced = chain->posts_starting("post:service:" + lower_hex(chain->view.client) + ":" + std::to_string(second));
    EXPECT_EQ(announced, 1U) << "the new port is announced (first " << first << ", then " << second << ")";
    EXPECT_TRUE(chain->did("start"));
}

TEST_F(Roles, WorkerRestartedWhileRunningAnnouncesItsNewEndpointsToTheClient) {
    own(Role::worker, Phase::running);
    start_transfer_server();
    chain->view.status = AgreementStatus::running;
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 30);
    edit([](AgreementRecord& r) {
        r.secret = Hash32{};
        r.received = ReceivedRecord{true, "7b7d", {}};
        r.offered = "1:2";  // the ports the process before the restart listened on
    });
    step().value();
    const auto now_offered = std::to_string(n.transfer->port()) + ":0";  // no log server in this fixture
    EXPECT_EQ(chain->posts_starting("post:transfer:" + now_offered), 1U) << "the client is told the new ports";
    EXPECT_EQ(row().rec.offered, now_offered);
    step().value();
    EXPECT_EQ(chain->posts_starting("post:transfer:"), 1U) << "once, not at every step";
}

TEST_F(Roles, WorkerEndsTheWorkAndRedeemsAtTheEnd) {
    own(Role::worker, Phase::running);
    chain->view.status = AgreementStatus::running;
    chain->view.started_at = static_cast<std::uint64_t>(now_s() - 601);
    edit([](AgreementRecord& r) { r.container = "c0ffee"; });
    step().value();
    EXPECT_EQ(work->ended, std::vector<std::string>{std::to_string(kId)});
    EXPECT_TRUE(chain->did("redeem"));
    step().value();
    EXPECT_EQ(work->ended.size(), 1U) << "ended once";
}

TEST_F(Roles, WorkerReplacedByReassignmentStopsItsWork) {
    own(Role::worker, Phase::waiting_for_image);
    start_transfer_server();
    chain->view.status = AgreementStatus::accepted;
    chain->view.worker_id = 12;
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
    EXPECT_EQ(work->ended.size(), 1U);
    EXPECT_TRUE(chain->sent.empty());
}

// ---------------------------------------------------------------------------------- verifier

class VerifierRoles : public Roles {
  protected:
    void SetUp() override {
        Roles::SetUp();
        chain->view.verifier_ids = {kMe, 9};
        chain->view.status = AgreementStatus::running;
        chain->view.started_at = static_cast<std::uint64_t>(kT0 / 1000);
        own(Role::verifier, Phase::waiting_for_start);
        edit([](AgreementRecord& r) { r.service = HostPort{"198.51.100.40", 40000}; });
    }
    /// Steps once in each second of [from, to) seconds after the start, as the wakes would.
    void walk(std::int64_t from_s, std::int64_t to_s) {
        for (auto s = from_s; s < to_s; ++s) {
            world->now = kT0 + s * 1000;
            step().value();
        }
    }
    std::set<std::uint64_t> probed_periods() {
        std::set<std::uint64_t> out;
        const auto probes = n.store->probes(kId).value();
        for (const auto& p : probes) out.insert(p.period);
        return out;
    }
};

TEST_F(VerifierRoles, WaitsForTheStart) {
    chain->view.status = AgreementStatus::accepted;
    step().value();
    EXPECT_EQ(row().phase, Phase::waiting_for_start);
    EXPECT_EQ(world->probes, 0);
}

TEST_F(VerifierRoles, ProbesEveryPeriodAndReportsThemTogether) {
    n.opt.report_interval = 180s;  // three 60 s periods per report
    walk(0, 182);
    const auto periods = probed_periods();
    for (std::uint64_t p = 0; p < 3; ++p) EXPECT_TRUE(periods.contains(p)) << "period " << p << " probed";
    EXPECT_GE(world->probes, 6) << "two probes per period";
    EXPECT_EQ(chain->sent, std::vector<std::string>{"report:0:0x7"}) << "periods 0-2 in one transaction";
    EXPECT_EQ(chain->ok_bits_of("report:0:0x7"), 0x7U);
}

TEST_F(VerifierRoles, ProbesOnWhileItsReportWaitsForItsReceipt) {
    // On a chain with 12 s blocks a report waits 12 s or more for its receipt. It runs as a job of
    // its own on the step pool: the steps go on probing meanwhile, and no period goes unprobed.
    n.pool = std::make_unique<StepPool>(2);
    n.opt.report_interval = 60s;
    chain->hold_reports = true;
    walk(0, 62);  // at 61 s: period 0 ended, its report is sent and held
    for (int i = 0; i < 500; ++i) {  // until the report job is in its send (bounded: 5 s)
        {
            std::lock_guard lock{chain->mu};
            if (chain->reports_sending == 1) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    walk(62, 122);  // period 1, while the report of period 0 still waits
    {
        std::lock_guard lock{chain->mu};
        EXPECT_EQ(chain->reports_sending, 1) << "the report of period 0 is waiting";
        EXPECT_TRUE(chain->sent.empty()) << "nothing mined yet";
    }
    EXPECT_TRUE(probed_periods().contains(1)) << "period 1 probed while the report waited";
    chain->release_reports();
    // The held report, then the one of period 1 after it (bounded: 5 s).
    for (int i = 0; i < 500 && n.pool->busy() != 0; ++i) std::this_thread::sleep_for(10ms);
    n.pool.reset();
    ASSERT_TRUE(chain->did("report:0:0x1"));
    ASSERT_TRUE(chain->did("report:0:0x2"));
    EXPECT_EQ(chain->ok_bits_of("report:0:0x2"), 0x2U) << "period 1 reported served";
    EXPECT_EQ(row().rec.reported_through, 2U);
}

TEST_F(VerifierRoles, ReportsAFailedPeriodAsFailed) {
    n.opt.report_interval = 60s;
    walk(0, 61);
    world->service_up = false;
    walk(61, 122);
    const auto probes = n.store->probes(kId).value();
    EXPECT_TRUE(std::any_of(probes.begin(), probes.end(), [](const auto& p) { return p.period == 1 && !p.ok; }));
    ASSERT_TRUE(chain->did("report:0:0x1"));
    ASSERT_TRUE(chain->did("report:0:0x2"));
    EXPECT_EQ(chain->ok_bits_of("report:0:0x1"), 0x1U) << "period 0 served";
    EXPECT_EQ(chain->ok_bits_of("report:0:0x2"), 0x0U) << "period 1 failed";
}

TEST_F(VerifierRoles, DoesNotReportAgainWhatIsOnChain) {
    n.opt.report_interval = 120s;
    chain->on_chain[0].reported_bits = 1;  // period 0 reported by an earlier process of this node
    walk(0, 130);
    EXPECT_EQ(chain->sent, std::vector<std::string>{"report:0:0x2"});
}

TEST_F(VerifierRoles, ReportsEverythingLeftWhenTheAgreementEnds) {
    n.opt.report_interval = 600s;
    walk(0, 602);
    ASSERT_FALSE(chain->sent.empty());
    EXPECT_EQ(chain->sent.back(), "report:0:0x3ff") << "all ten periods";
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(VerifierRoles, AfterAnOutageOfTheNodeLeavesTheMissedPeriodsUnreported) {
    // The node was down for periods 1-3: it has no probes there, so it says nothing of them (the
    // contract counts them neither paid nor failed on its word), rather than "failed".
    n.opt.report_interval = 300s;
    walk(0, 60);
    walk(240, 302);
    const auto periods = probed_periods();
    for (std::uint64_t p = 1; p < 4; ++p) EXPECT_FALSE(periods.contains(p)) << "period " << p;
    ASSERT_TRUE(chain->did("report:0:0x11")) << "only periods 0 and 4 reported";
    EXPECT_EQ(chain->ok_bits_of("report:0:0x11"), 0x11U) << "both served";
}

TEST_F(VerifierRoles, WhenItsOwnLinkIsCutItAbstainsInsteadOfBlamingTheWorker) {
    // The service answers the whole time; this verifier's own network is cut for periods 1-2: its
    // probes fail, and so does its own check of the world, so they are inconclusive.
    n.opt.report_interval = 300s;
    walk(0, 60);
    world->own_link_up = false;
    walk(60, 180);
    world->own_link_up = true;
    walk(180, 302);
    const auto probes = n.store->probes(kId).value();
    const auto cut = std::count_if(probes.begin(), probes.end(), [](const auto& p) { return p.inconclusive; });
    EXPECT_GE(cut, 4) << "two probes in each of periods 1 and 2";
    for (const auto& p : probes) {
        if (p.period == 1 || p.period == 2) {
            EXPECT_TRUE(p.inconclusive && !p.ok) << "period " << p.period;
        }
    }
    ASSERT_TRUE(chain->did("report:0:0x19")) << "periods 0, 3 and 4 reported; 1 and 2 not";
    EXPECT_EQ(chain->ok_bits_of("report:0:0x19"), 0x19U) << "no period reported failed";
}

TEST_F(VerifierRoles, ItsLinkBackOnlyAsTheRetryEndsIsStillItsOwnOutage) {
    // Its link is cut as period 1 begins and comes back just as the first probe's retry times out:
    // the world answers the check after the retry, but did not before it. Inconclusive, not failed.
    n.opt.report_interval = 180s;
    walk(0, 60);
    world->own_link_up = false;
    world->link_back_after = world->probes + 2;
    walk(60, 182);
    const auto probes = n.store->probes(kId).value();
    const auto first = std::find_if(probes.begin(), probes.end(), [](const auto& p) { return p.period == 1; });
    ASSERT_NE(first, probes.end());
    EXPECT_TRUE(first->inconclusive && !first->ok) << first->detail;
    EXPECT_TRUE(std::none_of(probes.begin(), probes.end(), [](const auto& p) { return !p.ok && !p.inconclusive; }))
        << "no probe blames the service, which answered all along";
    ASSERT_FALSE(chain->sent.empty());
    for (const auto& action : chain->sent) {  // "report:<first>:0x<reported bits>": each reported period ok
        const auto reported = std::stoul(action.substr(action.rfind(':') + 1), nullptr, 16);
        EXPECT_EQ(chain->ok_bits_of(action), reported) << action << ": a period reported failed";
    }
}

TEST_F(VerifierRoles, AServiceDownWhileItReachesTheWorldIsStillAFailure) {
    // The control of the rule above: its own link works, the service does not answer.
    n.opt.report_interval = 180s;
    walk(0, 60);
    world->service_up = false;
    walk(60, 182);
    ASSERT_TRUE(chain->did("report:0:0x7"));
    EXPECT_EQ(chain->ok_bits_of("report:0:0x7"), 0x1U) << "periods 1 and 2 reported failed";
    const auto probes = n.store->probes(kId).value();
    EXPECT_TRUE(std::none_of(probes.begin(), probes.end(), [](const auto& p) { return p.inconclusive; }));
}

TEST_F(VerifierRoles, LeavesAnAgreementItWasReassignedAwayFrom) {
    chain->view.verifier_ids = {8, 9};
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
    EXPECT_EQ(world->probes, 0);
}

}  // namespace
}  // namespace zeppelin::node
