// Offline checks of the bindings: selectors against the Solidity signatures, event topics,
// revert decoding of hand-built error data, deployment record round trip.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/market/artifacts.hpp"
#include "zeppelin/market/deployment.hpp"
#include "zeppelin/market/dispatcher.hpp"

namespace zeppelin::market {
namespace {

Bytes selector(std::string_view signature) {
    const auto f = eth::abi::parse_function(signature).value();
    const auto s = f.selector();
    return Bytes(s.begin(), s.end());
}

Bytes head(const Bytes& b) { return Bytes(b.begin(), b.begin() + 4); }

TEST(Calls, SelectorsMatchTheSoliditySignatures) {
    EXPECT_EQ(head(calls::register_worker({1, 2, 3, 4, Bytes(64, 1)})),
              selector("registerWorker(uint64,uint32,uint32,uint32,bytes)"));
    EXPECT_EQ(head(calls::buy_contract({})),
              selector("buyContract((uint32,uint32,uint32,uint32,uint64,uint8,uint16,address,bytes32,bytes32))"));
    EXPECT_EQ(head(calls::provide_verification(1, 0, 3, 3)),
              selector("provideVerification(uint256,uint256,uint256,uint256)"));
    EXPECT_EQ(head(calls::post_message(1, Address{}, Bytes{1})), selector("postMessage(uint256,address,bytes)"));
    EXPECT_EQ(head(calls::withdraw_stake()), selector("withdrawStake()"));
    EXPECT_EQ(calls::accept_agreement(7).size(), 36u);
    EXPECT_EQ(calls::accept_agreement(7).back(), 7);
    EXPECT_EQ(buy_contract_gas_limit(100'000), 180'000u);
}

TEST(Calls, DeployDataIsCreationCodePlusSevenWords) {
    const auto data = deploy_data(DispatcherConfig::production_defaults());
    EXPECT_EQ(data.size(), worker_dispatcher_creation_code().size() + 7 * 32);
}

TEST(Events, TopicsAreKeccakOfTheSignatures) {
    const auto topics = event_topics();
    ASSERT_EQ(topics.size(), 20u);
    EXPECT_EQ(topics[2], eth::keccak256(std::string_view{"WorkerPaused(uint256)"}));
    EXPECT_EQ(event_name(DispatcherEvent{RefundClaimed{}}), "RefundClaimed");
    EXPECT_EQ(event_name(DispatcherEvent{WorkerRegistered{}}), "WorkerRegistered");
}

TEST(Events, DecodesAHandBuiltLog) {
    eth::Log log;
    log.topics = {eth::keccak256(std::string_view{"AgreementStopped(uint256,uint256)"}), to_be32(u256{5})};
    const auto data = to_be32(u256{3});
    log.data.assign(data.begin(), data.end());
    const auto e = decode_event(log).value();
    EXPECT_EQ(std::get<AgreementStopped>(e).agreement_id, 5u);
    EXPECT_EQ(std::get<AgreementStopped>(e).billable_periods, 3u);
    log.topics[1] = to_be32(u256{1} << 70);  // an id beyond 64 bits
    EXPECT_EQ(decode_event(log).error().code(), Errc::abi_decode);
}

TEST(Reverts, CustomErrorsAreNamedWithArguments) {
    Bytes data = selector("NoEligibleWorker(uint256)");
    const auto arg = to_be32(u256{0});
    data.insert(data.end(), arg.begin(), arg.end());
    const auto r = decode_revert(data);
    EXPECT_EQ(r.kind, eth::Revert::Kind::custom);
    EXPECT_EQ(r.error_name, "NoEligibleWorker");
    EXPECT_EQ(r.text, "NoEligibleWorker(activeWorkers: 0)");
}

TEST(Deployment, JsonRoundTripAndPaths) {
    Deployment d{31337, "http://127.0.0.1:8545", fixed_from_hex<20>("0x5FbDB2315678afecb367f032d93F642f64180aa3").value(),
                 1, fixed_from_hex<20>("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").value(), Hash32{}};
    EXPECT_EQ(parse_deployment(deployment_to_json(d)).value(), d);
    EXPECT_EQ(parse_deployment("{}").error().code(), Errc::invalid_argument);
    EXPECT_EQ(parse_deployment("nope").error().code(), Errc::invalid_argument);

    const auto dir = std::filesystem::temp_directory_path() / "zeppelin-market-deployment-test";
    ::setenv("ZEPPELIN_HOME", dir.c_str(), 1);
    ::unsetenv("ZEPPELIN_DEPLOYMENT");
    EXPECT_EQ(deployment_path().value(), dir / "devnet" / "deployment.json");
    EXPECT_EQ(deployment_path("x.json").value(), std::filesystem::path{"x.json"});
    ::setenv("ZEPPELIN_DEPLOYMENT", "/tmp/y.json", 1);
    EXPECT_EQ(deployment_path().value(), std::filesystem::path{"/tmp/y.json"});
    ::unsetenv("ZEPPELIN_DEPLOYMENT");
    EXPECT_EQ(load_deployment(dir / "missing.json").error().code(), Errc::not_found);
    ASSERT_TRUE(save_deployment(dir / "devnet" / "deployment.json", d));
    EXPECT_EQ(load_deployment(dir / "devnet" / "deployment.json").value(), d);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zeppelin::market
