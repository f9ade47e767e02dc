// The client's steps: every transition, and the failure paths the end-to-end suite reaches only slowly
// (fixture and fakes: roles_fixture.hpp).
#include "zeppelin/node/roles_fixture.hpp"

namespace zeppelin::node {
namespace {

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

}  // namespace
}  // namespace zeppelin::node
