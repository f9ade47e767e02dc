// The worker's steps: every transition, and the failure paths the end-to-end suite reaches only slowly
// (fixture and fakes: roles_fixture.hpp).
#include "zeppelin/node/roles_fixture.hpp"

namespace zeppelin::node {
namespace {

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

}  // namespace
}  // namespace zeppelin::node
