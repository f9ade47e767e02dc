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

eth::PrivateKey key(std::uint8_t n) {
    Bytes secret(32, 0);
    secret[31] = n;
    return eth::PrivateKey::from_bytes(secret).value();
}
// The parties: the client, this node (worker id kMe) and the other workers (ids 8, 9, 10, 12),
// each with a real key so that the tests open what the roles seal.
const eth::PrivateKey& party(std::uint64_t who) {
    static const std::map<std::uint64_t, eth::PrivateKey> keys{{1, key(1)},  {kMe, key(7)}, {8, key(8)},
                                                               {9, key(9)},  {10, key(10)}, {12, key(12)}};
    return keys.at(who);
}

/// The dynamic `bytes` argument in head slot `slot` of ABI-encoded calldata.
Bytes bytes_arg(const Bytes& calldata, std::size_t slot) {
    const auto word = [&](std::size_t at) {
        std::uint64_t v = 0;
        for (std::size_t i = 24; i < 32; ++i) v = (v << 8) | calldata.at(4 + at + i);
        return v;
    };
    const auto offset = word(slot * 32);
    const auto length = word(offset);
    const auto begin = calldata.begin() + static_cast<std::ptrdiff_t>(4 + offset + 32);
    return Bytes(begin, begin + static_cast<std::ptrdiff_t>(length));
}

/// The chain: one agreement's view and the transactions sent (each action once, as the journal
/// does, with its calldata); an action can be made to fail.
struct FakeChain final : ChainPort {
    market::v2::AgreementView view;
    std::vector<std::string> sent;                  // actions, in order, each once
    std::map<std::string, Error> failing;           // action prefix -> its error
    std::set<std::uint64_t> reported_batches;       // batches this verifier reported (an earlier process)
    std::vector<std::uint32_t> preview;             // previewVerifiers
    u256 credit_left{0};
    std::map<std::string, Bytes> calldata;          // action -> what was sent
    int reads{0};

    Result<market::v2::AgreementView> agreement(std::uint64_t) override {
        ++reads;
        return view;
    }
    Result<eth::Receipt> send(std::uint64_t, const std::string& action, Bytes data) override {
        if (action.rfind("confirm", 0) == 0 || action.rfind("report", 0) == 0) {
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
        if (action == "withdraw") credit_left = 0;
        return eth::Receipt{};
    }
    Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker) override {
        return std::pair{party(worker).address(), party(worker).public_key()};
    }
    Result<eth::PublicKey> client_key(std::uint64_t) override { return party(1).public_key(); }
    Result<bool> reported(std::uint64_t, std::uint64_t batch, std::uint64_t) override {
        return reported_batches.contains(batch);
    }
    Result<std::vector<std::uint32_t>> preview_verifiers(std::uint64_t) override { return preview; }
    Result<u256> credit() override { return credit_left; }

    [[nodiscard]] bool did(const std::string& action) const {
        return std::find(sent.begin(), sent.end(), action) != sent.end();
    }
    [[nodiscard]] std::size_t sent_starting(const std::string& prefix) const {
        return static_cast<std::size_t>(
            std::count_if(sent.begin(), sent.end(), [&](const auto& a) { return a.rfind(prefix, 0) == 0; }));
    }
    /// The payload for recipient `bit` (sealed by `sender` to `recipient`) in the envelopes of
    /// `action`, whose bytes argument is in head slot `slot`.
    msg::Payload opened(const std::string& action, std::size_t slot, std::uint64_t recipients, std::uint64_t bit,
                        std::uint64_t sender, std::uint64_t recipient) const {
        const auto env = market::v2::envelope_for(recipients, bit, bytes_arg(calldata.at(action), slot)).value().value();
        return msg::open(party(recipient), kId, party(sender).address(), party(recipient).address(), env).value();
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
constexpr std::string_view kSpec = R"({"kind":"tcp"})";
Hash32 salt() {
    Hash32 s{};
    s.bytes.fill(0x5a);
    return s;
}
const std::string kRef = "sha256:" + kDigestHex;

class Roles : public ::testing::Test {
  protected:
    void SetUp() override {
        n.opt.data_dir = dir.path();
        n.opt.cpu_millicores = 1000;
        n.opt.memory_mb = 1024;
        n.opt.key = party(kMe);
        n.me = party(kMe).address();
        n.config.report_window = 600;
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
        chain->view.client = party(1).address();
        chain->view.worker_id = kMe;
        chain->view.verifier_ids = {8, 9, 10};
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
        const auto spec = std::string{kSpec};
        chain->view.spec_commit = market::v2::spec_commit(ByteView{reinterpret_cast<const std::uint8_t*>(spec.data()), spec.size()}, salt());
        k.requirements = json{{"image_digest", "0x" + kDigestHex}, {"cpu_millicores", 500}, {"memory_mb", 256},
                              {"spec_commit", to_hex(chain->view.spec_commit)}};
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

namespace v2 = market::v2;

/// A `uint256[]` argument in head slot `slot` of ABI-encoded calldata (low 64 bits of each word).
std::vector<std::uint64_t> words_arg(const Bytes& calldata, std::size_t slot) {
    const auto word = [&](std::size_t at) {
        std::uint64_t v = 0;
        for (std::size_t i = 24; i < 32; ++i) v = (v << 8) | calldata.at(4 + at + i);
        return v;
    };
    const auto offset = word(slot * 32);
    std::vector<std::uint64_t> out(word(offset));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = word(offset + 32 * (i + 1));
    return out;
}

// ------------------------------------------------------------------------------------ client

class ClientRoles : public Roles {
  protected:
    void SetUp() override {
        Roles::SetUp();
        n.opt.key = party(1);  // this node is the client
        n.me = party(1).address();
        own(Role::client);
        edit([](AgreementRecord& r) {
            r.spec = std::string{kSpec};
            r.salt = salt();
            r.submitted_ms = kT0;
        });
    }
};

TEST_F(ClientRoles, DrawsItselfWhenNoWorkerAcceptsAfterAWhile) {
    chain->view.status = AgreementStatus::purchased;
    chain->view.draw_block = 5;
    step().value();
    EXPECT_EQ(row().phase, Phase::waiting_for_acceptance);
    EXPECT_TRUE(chain->sent.empty()) << "the drawn worker's accept performs the draw";
    world->now += 21'000;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"draw:5"});
}

TEST_F(ClientRoles, ReplacesAWorkerThatDidNotAcceptInTime) {
    chain->view.status = AgreementStatus::assigned;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 5);
    step().value();
    EXPECT_TRUE(chain->did("reassign:" + std::to_string(chain->view.deadline)));
}

TEST_F(ClientRoles, TakesATooEarlyReassignmentAsNotYet) {
    chain->view.status = AgreementStatus::assigned;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 2);
    chain->failing.emplace("reassign:", Error{Errc::too_early, "DeadlineNotPassed"});
    EXPECT_TRUE(step()) << "the chain's clock lags: tried again at the next wake, not a failure";
}

TEST_F(ClientRoles, RevealsTheSpecInTheImageTransferNotOnChain) {
    chain->view.status = AgreementStatus::accepted;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() + 3000);
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "no offer yet: nothing goes to the worker, and no post:spec either";
    if (!test::busybox_available()) GTEST_SKIP() << "no /bin/busybox for the test image";
    // The worker's transfer server, with what the node hands its on_hello.
    std::mutex mu;
    std::vector<std::optional<transfer::protocol::SpecReveal>> hellos;
    transfer::ServerOptions so;
    so.cache_dir = dir.path() / "worker-layers";
    so.assemble_archive = false;
    so.on_hello = [&](const transfer::IncomingImage& img) {
        std::lock_guard lock{mu};
        hellos.push_back(img.spec);
    };
    auto worker = transfer::Server::start(std::move(so)).value();
    const auto image = test::build_test_image(dir.path() / "image.tar");
    OfferRecord offer{"127.0.0.1", worker->port(), {}, 0, kMe};
    offer.secret.bytes.fill(0x22);
    worker->expect(std::to_string(kId), offer.secret, transfer::parse_digest(image.config_digest).value(), 1ULL << 30).value();
    edit([&](AgreementRecord& r) {
        r.image = image.archive.string();
        r.transfer = offer;
    });
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "the spec went with the image: no transaction";
    std::lock_guard lock{mu};
    ASSERT_EQ(hellos.size(), 1U);
    ASSERT_TRUE(hellos[0]);
    EXPECT_EQ(hellos[0]->spec, kSpec);
    EXPECT_EQ(hellos[0]->salt, salt());
    EXPECT_TRUE(msg::matches_commit(hellos[0]->spec, hellos[0]->salt, chain->view.spec_commit));
    EXPECT_EQ(row().phase, Phase::waiting_for_service);
}

TEST_F(ClientRoles, CancelsWhenTheWorkerRefusesTheImage) {
    chain->view.status = AgreementStatus::accepted;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() + 3000);
    edit([](AgreementRecord& r) { r.image_refused = "the image's config does not hash to the agreed digest"; });
    step().value();
    EXPECT_TRUE(chain->did("cancel"));
    EXPECT_EQ(row().phase, Phase::cancelled);
}

TEST_F(ClientRoles, GetsItsDepositBackWhenTheWorkerNeverStarts) {
    chain->view.status = AgreementStatus::accepted;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 5);
    step().value();
    EXPECT_TRUE(chain->did("expire"));
}

TEST_F(ClientRoles, RecordsATransferThatCannotConnectAndTriesAgain) {
    chain->view.status = AgreementStatus::accepted;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() + 3000);
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

TEST_F(ClientRoles, IgnoresTheOfferOfAFormerWorker) {
    chain->view.status = AgreementStatus::accepted;
    chain->view.worker_id = 12;  // reassigned since the offer
    chain->view.deadline = static_cast<std::uint64_t>(now_s() + 3000);
    edit([](AgreementRecord& r) { r.transfer = offer_from(kMe); });
    step().value();
    EXPECT_TRUE(row().rec.transfer_error.empty()) << "no transfer to the former worker";
}

TEST_F(ClientRoles, LeavesTheSettlementToTheWorkerThenSettlesAndWithdrawsOnce) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 601);  // started then: 10 periods of 60 s ended
    edit([](AgreementRecord& r) { r.service = HostPort{"127.0.0.1", 8080}; });
    step().value();
    EXPECT_FALSE(chain->did("settle")) << "the worker settles first, once the reports are in";
    world->now += (600 + 30) * 1000;  // the report window closed, and the worker's grace passed
    step().value();
    EXPECT_TRUE(chain->did("settle"));
    chain->view.status = AgreementStatus::settled;
    chain->credit_left = 12345;
    step().value();
    EXPECT_TRUE(chain->did("withdraw"));
    EXPECT_EQ(row().phase, Phase::done);
    EXPECT_EQ(chain->sent_starting("withdraw"), 1U);
}

TEST_F(ClientRoles, WithdrawsNothingWhenAnotherAgreementTookItsCredit) {
    chain->view.status = AgreementStatus::ended;
    step().value();
    EXPECT_TRUE(chain->sent.empty());
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(ClientRoles, StoppedAgreementIsStoppingUntilItSettles) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 15);
    edit([](AgreementRecord& r) { r.service = HostPort{"127.0.0.1", 8080}; });
    step().value();
    EXPECT_EQ(row().phase, Phase::running);
    // `zeppelin stop`: the contract cut the billable periods to those begun.
    chain->view.billable_periods = 1;
    step().value();
    EXPECT_EQ(row().phase, Phase::stopping);
    chain->view.status = AgreementStatus::settled;
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(ClientRoles, StoppedInItsLastPeriodStaysStoppingThroughAStepInFlightAndARestart) {
    chain->view.status = AgreementStatus::running;
    // In its last period (the 10th of 60 s): a stop cuts no billable period, so the chain's view
    // looks the same before and after it.
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 9 * 60 - 15);
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
    // It settles; the client takes its refund out, and it is done.
    chain->view.status = AgreementStatus::settled;
    chain->credit_left = 1;
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
    // A late stop (an AgreementStopped replayed after the end) does not reopen it.
    n.mark_stopped(kId).value();
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(ClientRoles, MeasuresTheFirstAnswerOfTheService) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 1);
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

class WorkerRoles : public Roles {
  protected:
    void SetUp() override {
        Roles::SetUp();
        own(Role::worker);
        start_transfer_server();
    }
    void ready_to_run() {
        chain->view.status = AgreementStatus::accepted;
        chain->view.deadline = static_cast<std::uint64_t>(now_s() + 600);
        work->images.insert(kRef);
        edit([](AgreementRecord& r) { r.hello = true; });  // the client showed the image's config
    }
    void spec_revealed() {
        edit([](AgreementRecord& r) {
            r.spec = std::string{kSpec};
            r.salt = salt();
        });
    }
};

TEST_F(WorkerRoles, DeclinesWorkBeyondItsCapacity) {
    n.opt.cpu_millicores = 400;  // the agreement asks 500
    chain->view.status = AgreementStatus::assigned;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"decline"});
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(WorkerRoles, DrawnBeforeTheDrawIsRecordedItSendsNothingItCannotServe) {
    n.opt.cpu_millicores = 400;
    chain->view.status = AgreementStatus::purchased;
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "a decline needs the draw recorded";
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(WorkerRoles, WithoutAnEngineServesNothing) {
    n.work.reset();
    chain->view.status = AgreementStatus::assigned;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"decline"});
}

TEST_F(WorkerRoles, AcceptsWithItsTransferOfferSealedToTheClient) {
    chain->view.status = AgreementStatus::purchased;  // its accept performs the draw
    step().value();
    ASSERT_TRUE(chain->did("accept"));
    const auto offer = std::get<msg::TransferOffer>(chain->opened("accept", 1, v2::kClientBit, v2::kClientBit, kMe, 1));
    EXPECT_EQ(offer.port, n.transfer->port());
    EXPECT_EQ(offer.secret, row().rec.secret.value_or(Hash32{})) << "the secret is stored before it is sent";
    EXPECT_EQ(row().phase, Phase::waiting_for_image);
    EXPECT_TRUE(work->started.empty());

    chain->view.status = AgreementStatus::accepted;
    step().value();
    EXPECT_EQ(chain->sent, std::vector<std::string>{"accept"}) << "offered once, in the accept";
}

TEST_F(WorkerRoles, ThatNoClientReachesSaysSo) {
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

TEST_F(WorkerRoles, RefusesAnImageThatFailedVerification) {
    chain->view.status = AgreementStatus::accepted;
    edit([&](AgreementRecord& r) {  // accepted with its offer, on the ports it listens on now
        r.secret = offer_from(kMe).secret;
        r.offered = std::to_string(n.transfer->port()) + ":0";
    });
    {
        std::lock_guard lock{n.mu};
        n.received.insert_or_assign(kId, Result<transfer::ReceivedImage>{
                                             Error{Errc::invalid_argument, "layer 2's digest does not match"}});
    }
    step().value();
    ASSERT_TRUE(chain->did("post:rejected"));
    const auto rejected = std::get<msg::ImageRejected>(chain->opened("post:rejected", 2, v2::kClientBit, v2::kClientBit, kMe, 1));
    EXPECT_NE(rejected.reason.find("digest does not match"), std::string::npos);
    EXPECT_EQ(row().phase, Phase::image_refused);
    EXPECT_TRUE(work->started.empty()) << "nothing runs";
    step().value();
    EXPECT_FALSE(chain->did("start"));
}

TEST_F(WorkerRoles, ChecksItsServiceAgainstTheClientsSpecBeforeTheClockStarts) {
    ready_to_run();
    step().value();
    ASSERT_EQ(work->started.size(), 1U);
    const auto& spec = work->started.front();
    EXPECT_EQ(spec.image, kRef);
    EXPECT_EQ(spec.nano_cpus, 500'000'000U);
    EXPECT_EQ(spec.memory_bytes, 256ULL << 20);
    EXPECT_EQ(spec.container_port, 8080);
    EXPECT_FALSE(chain->did("start")) << "no spec yet: the paid clock waits";
    EXPECT_EQ(row().phase, Phase::checking_spec);

    spec_revealed();
    const auto probes = world->probes;
    step().value();
    EXPECT_EQ(world->probes, probes + 1) << "its own service probed with the spec";
    ASSERT_TRUE(chain->did("start"));
    const auto ready = std::get<msg::ServiceReady>(chain->opened("start", 1, v2::kClientBit, v2::kClientBit, kMe, 1));
    EXPECT_EQ(ready.port, row().rec.service_port) << "the endpoint travels in the start";
    EXPECT_EQ(row().phase, Phase::running);
    EXPECT_EQ(work->started.size(), 1U);
}

/// What the transfer server hands the node once a client's HELLO is accepted.
transfer::IncomingImage hello_revealing(const Hash32& with_salt) {
    transfer::IncomingImage img;
    img.agreement_id = std::to_string(kId);
    img.spec = transfer::protocol::SpecReveal{std::string{kSpec}, with_salt};
    return img;
}

TEST_F(WorkerRoles, TakesTheClientsSpecFromTheTransfersHello) {
    ready_to_run();
    edit([](AgreementRecord& r) { r.hello = false; });
    step().value();
    EXPECT_TRUE(work->started.empty()) << "a held image waits for the client's HELLO";
    n.on_transfer_hello(hello_revealing(salt()));
    EXPECT_EQ(row().rec.spec.value_or(""), kSpec);
    EXPECT_EQ(row().rec.salt.value_or(Hash32{}), salt());
    step().value();
    EXPECT_EQ(work->started.size(), 1U);
    EXPECT_TRUE(chain->did("start")) << "checked against the spec of the HELLO";
}

TEST_F(WorkerRoles, IgnoresASpecThatDoesNotOpenTheCommit) {
    ready_to_run();
    auto other = salt();
    other.bytes[0] ^= 1;
    n.on_transfer_hello(hello_revealing(other));
    EXPECT_FALSE(row().rec.spec) << "not the spec the client committed to";
    step().value();
    EXPECT_FALSE(chain->did("start"));
    EXPECT_EQ(row().phase, Phase::checking_spec);
    const auto why = n.take_spec(kId, std::string{kSpec}, other, chain->view.spec_commit).error().message();
    EXPECT_NE(why.find("hash to " + to_hex(v2::spec_commit(as_view(kSpec), other))), std::string::npos) << why;
    EXPECT_NE(why.find("committed to " + to_hex(chain->view.spec_commit)), std::string::npos) << why;
    EXPECT_FALSE(n.take_spec(kId, "{not json", salt(), v2::spec_commit(as_view(std::string_view{"{not json"}), salt())))
        << "opens the commit but is no probe spec";
}

TEST_F(WorkerRoles, RevealsAndRejectsASpecItsServiceCannotMeet) {
    ready_to_run();
    spec_revealed();
    world->service_up = false;  // the client's spec asks what this image never answers
    step().value();
    EXPECT_FALSE(chain->did("start"));
    EXPECT_EQ(row().phase, Phase::checking_spec);
    world->now += 20'000;
    step().value();
    EXPECT_FALSE(chain->did("reject-spec")) << "an image may take a moment to serve";
    world->now += 11'000;
    step().value();
    ASSERT_TRUE(chain->did("reject-spec"));
    const auto revealed = bytes_arg(chain->calldata.at("reject-spec"), 1);
    EXPECT_EQ(std::string(revealed.begin(), revealed.end()), kSpec) << "the spec revealed, for the contract to check";
    EXPECT_FALSE(chain->did("start"));
    EXPECT_EQ(work->ended.size(), 1U);
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(WorkerRoles, DoesNotRunAHeldImageForAClientThatDidNotShowIt) {
    chain->view.status = AgreementStatus::accepted;
    work->images.insert(kRef);  // the digest is public on chain; knowing it is not enough
    spec_revealed();
    step().value();
    EXPECT_TRUE(work->started.empty());
    EXPECT_FALSE(chain->did("start"));
}

TEST_F(WorkerRoles, RestartedMidStartAdoptsItsContainer) {
    ready_to_run();
    spec_revealed();
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

TEST_F(WorkerRoles, WhosePortWasTakenAnnouncesAnotherOne) {
    ready_to_run();
    spec_revealed();
    work->start_fails = Error{Errc::address_in_use, "port taken"};
    EXPECT_FALSE(step());
    EXPECT_EQ(row().rec.planned_port, 0) << "the taken port is given up";
    EXPECT_FALSE(chain->did("start"));
    step().value();
    ASSERT_EQ(work->started.size(), 2U);
    const auto second = work->started.back().host_port;
    const auto ready = std::get<msg::ServiceReady>(chain->opened("start", 1, v2::kClientBit, v2::kClientBit, kMe, 1));
    EXPECT_EQ(ready.port, second);
}

TEST_F(WorkerRoles, BriefsTheVerifiersTheDrawPicksInItsDraw) {
    chain->view.status = AgreementStatus::starting;
    chain->view.draw_block = 10;
    spec_revealed();
    edit([](AgreementRecord& r) { r.service_port = 41000; });
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "the draw block is not mined: nothing to draw yet";
    chain->preview = {8, 9, 10};
    step().value();
    ASSERT_TRUE(chain->did("draw-verifiers:10"));
    for (std::size_t i = 0; i < 3; ++i) {
        const auto brief = std::get<msg::VerifierBrief>(
            chain->opened("draw-verifiers:10", 1, v2::all_verifiers(3), v2::verifier_bit(i), kMe, chain->preview[i]));
        EXPECT_EQ(brief.spec_json, kSpec);
        EXPECT_EQ(brief.salt, salt());
        EXPECT_EQ(brief.port, 41000);
    }
    EXPECT_EQ(row().rec.briefed, chain->preview);
}

TEST_F(WorkerRoles, BriefsAgainWhenTheDrawPickedOthersThanThePreview) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s());
    chain->view.verifier_ids = {8, 9, 12};
    spec_revealed();
    edit([](AgreementRecord& r) {
        r.service_port = 41000;
        r.briefed = {8, 9, 10};
    });
    step().value();
    ASSERT_TRUE(chain->did("post:brief:8,9,12"));
    const auto brief = std::get<msg::VerifierBrief>(
        chain->opened("post:brief:8,9,12", 2, v2::all_verifiers(3), v2::verifier_bit(2), kMe, 12));
    EXPECT_EQ(brief.port, 41000);
    step().value();
    EXPECT_EQ(chain->sent_starting("post:brief:"), 1U);
}

TEST_F(WorkerRoles, WhoseRouterChangedItsAddressTellsTheClientAndTheVerifiersOnce) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s());
    n.opt.public_host = "198.51.100.1";
    spec_revealed();
    edit([&](AgreementRecord& r) {
        r.service_port = 41000;
        r.announced = 41000;
        r.announced_host = "198.51.100.1";
        r.briefed = chain->view.verifier_ids;
    });
    step().value();
    EXPECT_EQ(chain->sent_starting("post:moved:"), 0U) << "nothing moved";
    n.opt.public_host = "198.51.100.2";  // what the router's new DHCP lease does to a mapped worker
    step().value();
    const std::string action = "post:moved:198.51.100.2:41000";
    ASSERT_TRUE(chain->did(action));
    const auto recipients = v2::kClientBit | v2::all_verifiers(3);
    const auto ready = std::get<msg::ServiceReady>(chain->opened(action, 2, recipients, v2::kClientBit, kMe, 1));
    EXPECT_EQ(ready.host, "198.51.100.2");
    EXPECT_EQ(ready.port, 41000);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto brief = std::get<msg::VerifierBrief>(
            chain->opened(action, 2, recipients, v2::verifier_bit(i), kMe, chain->view.verifier_ids[i]));
        EXPECT_EQ(brief.host, "198.51.100.2");
        EXPECT_EQ(brief.spec_json, kSpec) << "the brief still opens the commit";
    }
    EXPECT_EQ(row().rec.announced_host, "198.51.100.2");
    step().value();
    EXPECT_EQ(chain->sent_starting("post:moved:"), 1U) << "once, not at every step";
}

TEST_F(WorkerRoles, RestartedWhileRunningAnnouncesItsNewEndpointsToTheClient) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 30);
    edit([&](AgreementRecord& r) {
        r.secret = offer_from(kMe).secret;
        r.received = ReceivedRecord{true, "7b7d", {}};
        r.offered = "1:2";  // the ports the process before the restart listened on
        r.briefed = chain->view.verifier_ids;
    });
    step().value();
    const auto now_offered = std::to_string(n.transfer->port()) + ":0";  // no log server in this fixture
    ASSERT_TRUE(chain->did("post:transfer:" + now_offered)) << "the client is told the new ports";
    const auto offer = std::get<msg::TransferOffer>(chain->opened("post:transfer:" + now_offered, 2, v2::kClientBit, v2::kClientBit, kMe, 1));
    EXPECT_EQ(offer.port, n.transfer->port());
    EXPECT_EQ(row().rec.offered, now_offered);
    step().value();
    EXPECT_EQ(chain->sent_starting("post:transfer:"), 1U) << "once, not at every step";
}

TEST_F(WorkerRoles, EndsTheWorkAndSettlesAtTheEnd) {
    chain->view.status = AgreementStatus::running;
    chain->view.deadline = static_cast<std::uint64_t>(now_s() - 601);
    edit([&](AgreementRecord& r) {
        r.container = "c0ffee";
        r.briefed = chain->view.verifier_ids;
    });
    step().value();
    EXPECT_EQ(work->ended, std::vector<std::string>{std::to_string(kId)});
    EXPECT_TRUE(chain->did("settle"));
    step().value();
    EXPECT_EQ(work->ended.size(), 1U) << "ended once";
}

TEST_F(WorkerRoles, ReplacedByReassignmentStopsItsWork) {
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
        chain->view.verifier_ids = {kMe, 9, 10};
        chain->view.status = AgreementStatus::running;
        chain->view.deadline = static_cast<std::uint64_t>(kT0 / 1000);  // started at
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
    /// submitReport(id, batch, okWords, votedWords): word 0 of each.
    std::pair<std::uint64_t, std::uint64_t> report_words(const std::string& action) const {
        const auto& d = chain->calldata.at(action);
        return {words_arg(d, 2).at(0), words_arg(d, 3).at(0)};
    }
};

TEST_F(VerifierRoles, WaitsForTheStart) {
    chain->view.status = AgreementStatus::starting;
    step().value();
    EXPECT_EQ(row().phase, Phase::waiting_for_start);
    EXPECT_EQ(world->probes, 0);
}

TEST_F(VerifierRoles, ProbesWithTheBriefFiledWhileItsStepRan) {
    // The step woken by VerifiersDrawn read the row before the node filed the worker's brief, which
    // came in the same transaction: the probes due then use the brief, not "no endpoint".
    chain->view.period_seconds = 10;
    n.opt.probes_per_period = 200;  // some are due in the first 4 s of the period
    edit([](AgreementRecord& r) { r.service.reset(); });
    const auto stale = row();
    edit([](AgreementRecord& r) { r.service = HostPort{"198.51.100.40", 40000}; });
    world->now = kT0 + 4000;
    n.verifier_step(stale, chain->view).value();
    const auto probes = n.store->probes(kId).value();
    ASSERT_FALSE(probes.empty());
    for (const auto& p : probes) EXPECT_TRUE(p.ok) << p.detail;
}

TEST_F(VerifierRoles, WaitsAMomentForTheBriefThenCountsItsAbsenceAsAFailure) {
    chain->view.period_seconds = 10;
    n.opt.probes_per_period = 200;
    edit([](AgreementRecord& r) { r.service.reset(); });
    world->now = kT0 + 4000;
    step().value();
    EXPECT_TRUE(n.store->probes(kId).value().empty()) << "4 s after the start the brief may still be on its way";
    world->now = kT0 + 6000;
    step().value();
    const auto probes = n.store->probes(kId).value();
    ASSERT_FALSE(probes.empty()) << "the probes due in the first 6 s";
    for (const auto& p : probes) {
        EXPECT_FALSE(p.ok);
        EXPECT_EQ(p.detail, "the worker announced no service endpoint");
    }
    EXPECT_EQ(world->probes, 0);
}

TEST_F(VerifierRoles, ProbesEveryPeriodAndConfirmsTheBatchOnceItEnded) {
    walk(0, 600);
    EXPECT_TRUE(chain->sent.empty()) << "a batch is reported after its last period, never before";
    walk(600, 602);
    const auto periods = probed_periods();
    for (std::uint64_t p = 0; p < 10; ++p) EXPECT_TRUE(periods.contains(p)) << "period " << p << " probed";
    EXPECT_GE(world->probes, 20) << "two probes per period";
    EXPECT_EQ(chain->sent, std::vector<std::string>{"confirm:0"}) << "every period ok: one bit of storage";
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(VerifierRoles, ReportsAFailedPeriodAsFailed) {
    walk(0, 60);
    world->service_up = false;
    walk(60, 120);
    world->service_up = true;
    walk(120, 602);
    ASSERT_EQ(chain->sent, std::vector<std::string>{"report:0"});
    const auto [ok, voted] = report_words("report:0");
    EXPECT_EQ(voted, 0x3ffU) << "every period observed";
    EXPECT_EQ(ok, 0x3fdU) << "period 1 failed";
}

TEST_F(VerifierRoles, DoesNotReportAgainWhatIsOnChain) {
    chain->reported_batches = {0};  // by an earlier process of this node
    walk(0, 602);
    EXPECT_TRUE(chain->sent.empty());
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(VerifierRoles, ReportsNothingOnceTheWindowClosed) {
    walk(0, 60);
    world->now = kT0 + (600 + 600 + 5) * 1000;  // the node was down past the report window
    step().value();
    EXPECT_TRUE(chain->sent.empty()) << "a late report is refused by the contract: not sent";
    EXPECT_EQ(row().phase, Phase::done);
}

TEST_F(VerifierRoles, AfterAnOutageOfTheNodeAbstainsOnTheMissedPeriods) {
    // The node was down for periods 1-3: it has no probes there, so it abstains on them (the
    // contract counts them neither paid nor failed on its word, and no penalty), rather than "failed".
    walk(0, 60);
    walk(240, 602);
    const auto periods = probed_periods();
    for (std::uint64_t p = 1; p < 4; ++p) EXPECT_FALSE(periods.contains(p)) << "period " << p;
    ASSERT_TRUE(chain->did("report:0"));
    const auto [ok, voted] = report_words("report:0");
    EXPECT_EQ(voted, 0x3f1U) << "periods 1-3 abstained";
    EXPECT_EQ(ok, 0x3f1U) << "the others served";
}

TEST_F(VerifierRoles, WhenItsOwnLinkIsCutItAbstainsInsteadOfBlamingTheWorker) {
    // The service answers the whole time; this verifier's own network is cut for periods 1-2: its
    // probes fail, and so does its own check of the world, so they are inconclusive.
    walk(0, 60);
    world->own_link_up = false;
    walk(60, 180);
    world->own_link_up = true;
    walk(180, 602);
    const auto probes = n.store->probes(kId).value();
    const auto cut = std::count_if(probes.begin(), probes.end(), [](const auto& p) { return p.inconclusive; });
    EXPECT_GE(cut, 4) << "two probes in each of periods 1 and 2";
    for (const auto& p : probes) {
        if (p.period == 1 || p.period == 2) {
            EXPECT_TRUE(p.inconclusive && !p.ok) << "period " << p.period;
        }
    }
    ASSERT_TRUE(chain->did("report:0"));
    const auto [ok, voted] = report_words("report:0");
    EXPECT_EQ(voted, 0x3f9U) << "periods 1 and 2 abstained";
    EXPECT_EQ(ok, 0x3f9U) << "no period reported failed";
}

TEST_F(VerifierRoles, ItsLinkBackOnlyAsTheRetryEndsIsStillItsOwnOutage) {
    // Its link is cut as period 1 begins and comes back just as the first probe's retry times out:
    // the world answers the check after the retry, but did not before it. Inconclusive, not failed.
    walk(0, 60);
    world->own_link_up = false;
    world->link_back_after = world->probes + 2;
    walk(60, 602);
    const auto probes = n.store->probes(kId).value();
    const auto first = std::find_if(probes.begin(), probes.end(), [](const auto& p) { return p.period == 1; });
    ASSERT_NE(first, probes.end());
    EXPECT_TRUE(first->inconclusive && !first->ok) << first->detail;
    EXPECT_TRUE(std::none_of(probes.begin(), probes.end(), [](const auto& p) { return !p.ok && !p.inconclusive; }))
        << "no probe blames the service, which answered all along";
    ASSERT_EQ(chain->sent.size(), 1U);
    if (chain->did("report:0")) {
        const auto [ok, voted] = report_words("report:0");
        EXPECT_EQ(ok, voted) << "no period reported failed";
    } else {
        EXPECT_TRUE(chain->did("confirm:0"));
    }
}

TEST_F(VerifierRoles, AServiceDownWhileItReachesTheWorldIsStillAFailure) {
    // The control of the rule above: its own link works, the service does not answer.
    walk(0, 60);
    world->service_up = false;
    walk(60, 180);
    world->service_up = true;
    walk(180, 602);
    const auto [ok, voted] = report_words("report:0");
    EXPECT_EQ(voted, 0x3ffU);
    EXPECT_EQ(ok, 0x3f9U) << "periods 1 and 2 reported failed";
    const auto probes = n.store->probes(kId).value();
    EXPECT_TRUE(std::none_of(probes.begin(), probes.end(), [](const auto& p) { return p.inconclusive; }));
}

TEST_F(VerifierRoles, ProbesOnWhileItsReportWaitsForItsReceipt) {
    // A job longer than a batch (1,440 periods): batch 0 is reported while batch 1 runs. On a
    // chain with 12 s blocks a report waits 12 s or more for its receipt; it runs as a job of its
    // own on the step pool, so the steps go on probing meanwhile and no period goes unprobed.
    chain->view.period_seconds = 10;
    chain->view.periods = chain->view.billable_periods = 1450;
    n.pool = std::make_unique<StepPool>(2);
    chain->hold_reports = true;
    walk(14'390, 14'402);  // at 14,401 s: batch 0 ended a second ago, its report is sent and held
    for (int i = 0; i < 500; ++i) {  // until the report job is in its send (bounded: 5 s)
        {
            std::lock_guard lock{chain->mu};
            if (chain->reports_sending == 1) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    walk(14'402, 14'412);  // period 1,440, while the report of batch 0 still waits
    {
        std::lock_guard lock{chain->mu};
        EXPECT_EQ(chain->reports_sending, 1) << "the report of batch 0 is waiting";
        EXPECT_TRUE(chain->sent.empty()) << "nothing mined yet";
    }
    EXPECT_TRUE(probed_periods().contains(1440)) << "period 1,440 probed while the report waited";
    chain->release_reports();
    for (int i = 0; i < 500 && n.pool->busy() != 0; ++i) std::this_thread::sleep_for(10ms);
    n.pool.reset();
    ASSERT_TRUE(chain->did("report:0")) << "periods it did not observe abstained: a report, not a confirmation";
    EXPECT_EQ(row().rec.reported_through, 1U);
}

TEST_F(VerifierRoles, LeavesAnAgreementItWasReassignedAwayFrom) {
    chain->view.verifier_ids = {8, 9, 10};
    step().value();
    EXPECT_EQ(row().phase, Phase::done);
    EXPECT_EQ(world->probes, 0);
}

}  // namespace
}  // namespace zeppelin::node
