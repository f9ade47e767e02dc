#pragma once
// The fixture of the roles' unit tests (client_role_test.cpp, worker_role_test.cpp,
// verifier_role_test.cpp): fakes of the chain, the engine and the world (ports.hpp), and a node
// context with a real SQLite store around them. Each test file includes it once, inside its own
// translation unit (hence the unnamed namespace). The tests cover every transition of each role and
// the failure paths the end-to-end suite reaches only slowly (reassignment, a refused image, a
// restart mid-start, a port taken meanwhile, a report already on chain, a long outage of the node).
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

inline eth::PrivateKey key(std::uint8_t n) {
    Bytes secret(32, 0);
    secret[31] = n;
    return eth::PrivateKey::from_bytes(secret).value();
}
// The parties: the client, this node (worker id kMe) and the other workers (ids 8, 9, 10, 12),
// each with a real key so that the tests open what the roles seal.
inline const eth::PrivateKey& party(std::uint64_t who) {
    static const std::map<std::uint64_t, eth::PrivateKey> keys{{1, key(1)},  {kMe, key(7)}, {8, key(8)},
                                                               {9, key(9)},  {10, key(10)}, {12, key(12)}};
    return keys.at(who);
}

/// The dynamic `bytes` argument in head slot `slot` of ABI-encoded calldata.
inline Bytes bytes_arg(const Bytes& calldata, std::size_t slot) {
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
inline Hash32 salt() {
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
inline std::vector<std::uint64_t> words_arg(const Bytes& calldata, std::size_t slot) {
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


}  // namespace
}  // namespace zeppelin::node
