// The verifier's steps: probes, abstentions, batch reports, and its own outages
// (fixture and fakes: roles_fixture.hpp).
#include "zeppelin/node/roles_fixture.hpp"

namespace zeppelin::node {
namespace {

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
