// Protocol v2's off-chain formats and the v2 bindings' encoders, without a chain: the salted spec
// commit (checked against the contract by tests/market/dispatcher_v2_integration_test.cpp),
// envelopes of multi-recipient messages, the report calendar and the report words of a batch.
#include <gtest/gtest.h>

#include <set>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"
#include "zeppelin/market/protocol_v2.hpp"

namespace zeppelin::market::v2 {
namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(SpecCommit, IsKeccakOfTheSaltThenTheSpecsHash) {
    const auto spec = bytes_of(R"({"kind":"http","path":"/health","status":200})");
    Hash32 salt{};
    salt[0] = 0x5a;
    const auto inner = eth::keccak256(spec);
    Bytes joined(salt.begin(), salt.end());
    joined.insert(joined.end(), inner.begin(), inner.end());
    EXPECT_EQ(spec_commit(spec, salt), eth::keccak256(joined));
    // Another salt hides the same spec: a guessed spec does not match without the salt.
    Hash32 other = salt;
    other[31] = 1;
    EXPECT_NE(spec_commit(spec, salt), spec_commit(spec, other));
}

TEST(Envelopes, PackAndUnpackInOrderWithTwoByteLengths) {
    const std::vector<Bytes> in{bytes_of("client"), Bytes(1024, 0xab), bytes_of("v")};
    const auto packed = pack_envelopes(in).value();
    EXPECT_EQ(packed.size(), 2 + 6 + 2 + 1024 + 2 + 1);
    EXPECT_EQ(packed[0], 0);
    EXPECT_EQ(packed[1], 6);
    EXPECT_EQ(packed[8], 0x04);  // 1024 = 0x0400, big-endian
    EXPECT_EQ(packed[9], 0x00);
    EXPECT_EQ(unpack_envelopes(packed).value(), in);
}

TEST(Envelopes, RefuseWhatTheContractWouldRefuseAndMalformedMessages) {
    EXPECT_EQ(pack_envelopes({Bytes(1025, 1)}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(pack_envelopes({Bytes{}}).error().code(), Errc::invalid_argument);
    auto packed = pack_envelopes({bytes_of("abc")}).value();
    packed.pop_back();  // cut short
    const auto cut = unpack_envelopes(packed);
    ASSERT_FALSE(cut);
    EXPECT_NE(cut.error().message().find("claims 3 bytes; 2 are left"), std::string::npos) << cut.error().message();
    EXPECT_FALSE(unpack_envelopes(Bytes{0x00}));  // half a length prefix
    EXPECT_FALSE(unpack_envelopes(Bytes{0x00, 0x00}));  // an empty envelope
}

TEST(Envelopes, EachRecipientFindsItsOwnByItsBit) {
    // client, verifier 0, verifier 2 (bits 0, 2, 4)
    const std::uint64_t recipients = kClientBit | verifier_bit(0) | verifier_bit(2);
    const auto packed = pack_envelopes({bytes_of("to client"), bytes_of("to v0"), bytes_of("to v2")}).value();
    EXPECT_EQ(*envelope_for(recipients, kClientBit, packed).value(), bytes_of("to client"));
    EXPECT_EQ(*envelope_for(recipients, verifier_bit(0), packed).value(), bytes_of("to v0"));
    EXPECT_EQ(*envelope_for(recipients, verifier_bit(2), packed).value(), bytes_of("to v2"));
    EXPECT_FALSE(envelope_for(recipients, kWorkerBit, packed).value().has_value());
    EXPECT_FALSE(envelope_for(recipients, verifier_bit(1), packed).value().has_value());
    // A message with fewer envelopes than recipient bits is malformed, not silently misread.
    EXPECT_FALSE(envelope_for(recipients | kWorkerBit, kClientBit, packed));
    EXPECT_EQ(all_verifiers(3), 0b11100U);
}

TEST(ReportCalendar, OneBatchUpToADayOfMinutePeriodsThenOneADay) {
    EXPECT_EQ(kBatchPeriods, 1440U);
    EXPECT_EQ(batch_count(0), 0U);
    EXPECT_EQ(batch_count(60), 1U);
    EXPECT_EQ(batch_count(1440), 1U);
    EXPECT_EQ(batch_count(1441), 2U);
    EXPECT_EQ(batch_end(0, 60), 60U);
    EXPECT_EQ(batch_end(0, 3000), 1440U);
    EXPECT_EQ(batch_end(2, 3000), 3000U);
    // A 1-hour job at 60 s periods started at t = 1000: its only batch is reported from the end
    // of its last period, during the report window.
    EXPECT_EQ(report_opens_at(1000, 60, 60, 0), 1000U + 3600U);
    EXPECT_EQ(report_closes_at(1000, 60, 60, 0, 600), 1000U + 3600U + 600U);
    // Stopped after 7 periods: the batch ends with the 7th.
    EXPECT_EQ(report_opens_at(1000, 60, 7, 0), 1000U + 420U);
}

TEST(ReportBatch, AllOkIsAConfirmation) {
    const auto r = report_batch(0, 60, [](std::uint64_t) { return Vote::ok; });
    EXPECT_TRUE(r.confirm);
    EXPECT_EQ(r.ok, 60U);
    ASSERT_EQ(r.ok_words.size(), 1U);
    EXPECT_EQ(r.ok_words[0], (u256{1} << 60) - 1);
}

TEST(ReportBatch, FailuresAndAbstentionsAreWordsWithOnlyBillableBits) {
    // 250 periods: three words (120, 120, 10); period 5 failed, periods 130..139 not observed.
    const auto r = report_batch(0, 250, [](std::uint64_t p) {
        if (p == 5) return Vote::failed;
        if (p >= 130 && p < 140) return Vote::abstain;
        return Vote::ok;
    });
    EXPECT_FALSE(r.confirm);
    ASSERT_EQ(r.ok_words.size(), 3U);
    EXPECT_EQ(r.failed, 1U);
    EXPECT_EQ(r.abstained, 10U);
    EXPECT_EQ(r.ok, 239U);
    const u256 full = (u256{1} << 120) - 1;
    EXPECT_EQ(r.voted_words[0], full);
    EXPECT_EQ(r.ok_words[0], full & ~(u256{1} << 5));
    EXPECT_EQ(r.voted_words[1], full & ~(((u256{1} << 10) - 1) << 10));
    EXPECT_EQ(r.ok_words[2], (u256{1} << 10) - 1);  // no bit past the last billable period
    for (std::size_t j = 0; j < 3; ++j) EXPECT_EQ(r.ok_words[j] & ~r.voted_words[j], 0);  // ok ⊆ voted
}

TEST(ReportBatch, ALaterBatchCountsFromItsFirstPeriod) {
    std::set<std::uint64_t> asked;
    const auto r = report_batch(1, 1450, [&](std::uint64_t p) {
        asked.insert(p);
        return p == 1441 ? Vote::failed : Vote::ok;
    });
    EXPECT_EQ(asked, (std::set<std::uint64_t>{1440, 1441, 1442, 1443, 1444, 1445, 1446, 1447, 1448, 1449}));
    ASSERT_EQ(r.voted_words.size(), 1U);
    EXPECT_EQ(r.voted_words[0], (u256{1} << 10) - 1);
    EXPECT_EQ(r.ok_words[0], ((u256{1} << 10) - 1) & ~u256{2});
    EXPECT_TRUE(report_batch(2, 1450, [](std::uint64_t) { return Vote::ok; }).ok_words.empty());
}

TEST(BindingsV2, EveryCallEncodesAgainstTheEmbeddedAbi) {
    Requirements req;
    req.duration = 3600;
    req.period_seconds = 60;
    req.max_price_per_second = 1;
    WorkerOffer offer{1, 2, 3, 4, Bytes(64, 1)};
    const Hash32 salt{};
    // Each encoder throws if the ABI lacks the function or the arguments do not fit it.
    const std::vector<Bytes> all{
        calls::register_worker(offer), calls::update_worker(offer), calls::pause_worker(), calls::resume_worker(),
        calls::add_stake(), calls::unregister_worker(), calls::withdraw_stake(u256{5}), calls::withdraw(),
        calls::buy_contract(req), calls::draw(1), calls::accept_agreement(1, Bytes{1, 2}), calls::decline_agreement(1),
        calls::reassign_agreement(1), calls::reject_spec(1, Bytes{1}, salt), calls::start_agreement(1, {}),
        calls::draw_verifiers(1, {}), calls::cancel_agreement(1), calls::expire_agreement(1), calls::stop_agreement(1),
        calls::post_message(1, u256{1}, Bytes{0, 1, 7}), calls::confirm_batch(1, 0),
        calls::submit_report(1, 0, {u256{1}}, {u256{3}}), calls::settle(1)};
    std::set<std::string> selectors;
    for (const auto& data : all) {
        ASSERT_GE(data.size(), 4U);
        selectors.insert(to_hex(ByteView{data.data(), 4}));
    }
    EXPECT_EQ(selectors.size(), all.size());  // one function each
    EXPECT_FALSE(deploy_data(Config::devnet_defaults()).empty());
}

TEST(BindingsV2, EveryEventOfTheAbiHasADecoderAndEveryErrorAName) {
    const auto& abi = dispatcher_v2_abi();
    EXPECT_EQ(event_topics().size(), abi.events.size());
    for (const auto& e : abi.errors) {
        // every argument of v2's errors is a static type: zero words decode
        const auto sel = e.selector();
        Bytes data(sel.begin(), sel.end());
        data.resize(data.size() + 32 * e.inputs.size(), 0);
        const auto rev = decode_revert(data);
        EXPECT_EQ(rev.error_name, e.name);
    }
    // the module's views are reachable through the merged ABI
    for (const char* f : {"getAgreement", "previewWorker", "previewVerifiers", "quote", "creditOf", "getReport",
                          "buyContract", "drawVerifiers", "submitReport"})
        EXPECT_NE(abi.function(f), nullptr) << f;
}

}  // namespace
}  // namespace zeppelin::market::v2
