// Every custom error of the contract has a sentence: the errors are enumerated from the embedded
// ABI itself (the dispatcher's and its registry module's), so a new error without words fails here.
#include <gtest/gtest.h>


#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/revert_words.hpp"

namespace zeppelin::market {
namespace {

/// Revert data for `e` with every argument `word` (all the contracts' error arguments are static).
Bytes revert_data(const eth::abi::ErrorDef& e, std::uint8_t word) {
    const auto sel = e.selector();
    Bytes data(sel.begin(), sel.end());
    for (std::size_t i = 0; i < e.inputs.size(); ++i) {
        Bytes w(32, 0);
        w[31] = word;
        data.insert(data.end(), w.begin(), w.end());
    }
    return data;
}

void every_error_has_a_sentence(const std::vector<eth::abi::ErrorDef>& errors) {
    ASSERT_GT(errors.size(), 20U);
    eth::RevertDecoder decoder;
    for (const auto& e : errors) decoder.add(e);
    for (const auto& e : errors) {
        SCOPED_TRACE(e.signature());
        const auto r = decoder.decode(revert_data(e, 1));
        ASSERT_EQ(r.kind, eth::Revert::Kind::custom);
        const auto s = revert_sentence(r);
        ASSERT_TRUE(s.has_value()) << e.name << " has no sentence";
        EXPECT_GT(s->size(), 20U);
        EXPECT_EQ(s->find(e.name), std::string::npos) << "the sentence repeats the error's name: " << *s;
        // Every numeric argument appears in words and numbers (1 here), unless it is a time or an enum.
        if (!e.inputs.empty()) {
            EXPECT_NE(s->find_first_of("0123456789"), std::string::npos) << *s;
        }
    }
}

TEST(RevertWords, EveryErrorOfTheContractHasASentence) {
    // The embedded ABI: the dispatcher's and its registry module's (one address, one interface
    // of errors), as the node decodes them.
    every_error_has_a_sentence(dispatcher_v2_abi().errors);
    EXPECT_EQ(explained_errors().size(), dispatcher_v2_abi().errors.size()) << "a sentence for an error the contract lacks";
}

TEST(RevertWords, ArgumentsAreInWordsAndNumbers) {
    auto decode = [](std::string_view sig, std::vector<u256> args) {
        eth::RevertDecoder d;
        d.add_signature(sig).value();
        const auto sel = d.errors().back().selector();
        Bytes data(sel.begin(), sel.end());
        for (const auto& a : args) {
            const auto w = to_be32(a);
            data.insert(data.end(), w.begin(), w.end());
        }
        return d.decode(data);
    };
    const auto too_small = decode("AgreementTooSmall(uint256 verifierPay, uint256 minimum)", {30'000'000'000'000ULL, 100'000'000'000'000ULL});
    EXPECT_EQ(explain_revert(too_small),
              "the verifiers would earn 30000 gwei in all, below the minimum of 100000 gwei: raise the price or the duration "
              "[AgreementTooSmall(verifierPay: 30000000000000, minimum: 100000000000000)]");
    EXPECT_EQ(*revert_sentence(decode("InvalidRequirements(uint256 code)", {2})), "the period must be at least 10 s");
    EXPECT_EQ(*revert_sentence(decode("InvalidWorkerStatus(uint256 workerId, uint8 status)", {4, 3})),
              "worker 4 is unregistering, which does not allow this");
    EXPECT_EQ(*revert_sentence(decode("WrongPayment(uint256 sent, uint256 required)", {1, 1'500'000'000'000'000'000ULL})),
              "the payment sent, 1 wei, is not the escrow the agreement needs, 1.5 ETH (1500000000000000000 wei)");
    EXPECT_EQ(*revert_sentence(decode("DeadlinePassed(uint256 agreementId, uint256 deadline)", {7, 1'796'659'200})),
              "agreement 7's deadline passed at 2026-12-07 16:00:00 UTC: it is too late for this");
    // An error of no known name: no sentence, the decoder's words.
    EXPECT_FALSE(revert_sentence(decode("NoEligibleWorker(uint256 activeWorkers)", {3})));
    // Not a custom error: the decoder's words stay.
    eth::RevertDecoder d;
    const auto empty = d.decode({});
    EXPECT_FALSE(revert_sentence(empty));
    EXPECT_EQ(explain_revert(empty), empty.text);
}

}  // namespace
}  // namespace zeppelin::market
