// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./Test.sol";
import {WorkerDispatcher} from "../../src/WorkerDispatcher.sol";

/// @notice Shared set-up: a dispatcher with test configuration, helpers to register workers and buy agreements.
abstract contract DispatcherBase is Test {
    uint256 internal constant MIN_STAKE = 1 ether;
    uint256 internal constant ACCEPT_WINDOW = 1 hours;
    uint256 internal constant START_WINDOW = 1 hours;
    uint256 internal constant REPORT_WINDOW = 1 hours;
    uint256 internal constant COOL_DOWN = 7 days;
    uint256 internal constant FEE_BPS = 500; // each verifier earns 5% of a period's price per reported period
    uint256 internal constant SLASH_BPS = 10_000; // a failed period costs the worker one period's price

    uint64 internal constant PRICE = 1 gwei; // wei per second
    uint32 internal constant PERIOD = 600; // 10-minute verification periods

    // secp256k1 generator G: a valid public key (SEC 2 v2, section 2.4.1)
    bytes internal constant PUBKEY =
        hex"79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8";

    WorkerDispatcher internal d;
    address internal client = address(0xC11E47);

    function _deploy() internal {
        d = new WorkerDispatcher(MIN_STAKE, ACCEPT_WINDOW, START_WINDOW, REPORT_WINDOW, COOL_DOWN, FEE_BPS, SLASH_BPS);
        vm.deal(client, 1_000_000 ether);
        vm.warp(1_700_000_000);
    }

    function _workerAddr(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + i));
    }

    function _register(address who, uint64 price) internal returns (uint256 id) {
        vm.deal(who, who.balance + MIN_STAKE + 1 ether); // the extra ether pays for gas in real life
        vm.prank(who);
        id = d.registerWorker{value: MIN_STAKE}(price, 30 days, 4000, 8192, PUBKEY);
    }

    /// @dev Registers workers 1..n at PRICE.
    function _registerMany(uint256 n) internal {
        for (uint256 i = 1; i <= n; ++i) {
            _register(_workerAddr(i), PRICE);
        }
    }

    function _req(uint32 duration, uint8 verifiers) internal pure returns (WorkerDispatcher.Requirements memory r) {
        r.cpuMillicores = 1000;
        r.memoryMB = 1024;
        r.duration = duration;
        r.periodSeconds = PERIOD;
        r.maxPricePerSecond = PRICE;
        r.verifiers = verifiers;
        r.minReputation = 0;
        r.preferredWorker = address(0);
        r.imageDigest = keccak256("image");
        r.probeSpecHash = keccak256("probe");
    }

    function _quote(WorkerDispatcher.Requirements memory r) internal view returns (uint256) {
        return d.quote(r.maxPricePerSecond, r.duration, r.periodSeconds, r.verifiers);
    }

    function _buy(WorkerDispatcher.Requirements memory r) internal returns (uint256 id) {
        uint256 value = _quote(r);
        vm.prank(client);
        id = d.buyContract{value: value}(r);
    }

    function _workerOf(uint256 agreementId) internal view returns (address) {
        return d.getWorker(d.getAgreement(agreementId).workerId).owner;
    }

    function _verifierOf(uint256 agreementId, uint256 i) internal view returns (address) {
        return d.getWorker(d.getAgreement(agreementId).verifierIds[i]).owner;
    }

    function _acceptAndStart(uint256 agreementId) internal {
        address w = _workerOf(agreementId);
        vm.prank(w);
        d.acceptAgreement(agreementId);
        vm.prank(w);
        d.startAgreement(agreementId);
    }

    /// @dev Every verifier reports every period of the agreement (after its end) with the given ok bitmaps.
    function _reportAll(uint256 agreementId, uint256[] memory okBits) internal {
        WorkerDispatcher.AgreementView memory a = d.getAgreement(agreementId);
        uint256 all = (uint256(1) << a.billablePeriods) - 1;
        for (uint256 i; i < a.verifierIds.length; ++i) {
            vm.prank(d.getWorker(a.verifierIds[i]).owner);
            d.provideVerification(agreementId, 0, okBits[i] & all, all);
        }
    }
}
