// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherBase} from "./utils/DispatcherBase.sol";
import {WorkerDispatcher} from "../src/WorkerDispatcher.sol";

/// @notice Property tests (forge fuzz, 5000 runs as configured in foundry.toml).
contract FuzzTest is DispatcherBase {
    function setUp() public {
        _deploy();
        _registerMany(8);
    }

    struct Run {
        uint256 id;
        uint8 n;
        uint32 periods;
        uint256 billable;
        uint256 reports;
        uint256 confirmed;
        uint256 failed;
        uint256[5] ok;
        uint256[5] bad;
    }

    function _reportRandomly(Run memory run, uint256 entropy) internal {
        uint256 mask = run.billable == 0 ? 0 : (uint256(1) << run.billable) - 1;
        for (uint256 v; v < run.n; ++v) {
            uint256 rep = uint256(keccak256(abi.encode(entropy, v, "rep"))) & mask;
            if (entropy % 2 == 0) rep = mask; // half the runs: complete reports
            run.ok[v] = uint256(keccak256(abi.encode(entropy, v, "ok"))) & rep;
            run.bad[v] = rep & ~run.ok[v];
            if (rep != 0) {
                vm.prank(_verifierOf(run.id, v));
                d.provideVerification(run.id, 0, run.ok[v], rep);
            }
            run.reports += _popcount(rep);
        }
        for (uint256 p; p < run.billable; ++p) {
            uint256 yes;
            uint256 no;
            for (uint256 v; v < run.n; ++v) {
                yes += (run.ok[v] >> p) & 1;
                no += (run.bad[v] >> p) & 1;
            }
            if (yes * 2 > run.n) ++run.confirmed;
            if (no * 2 > run.n) ++run.failed;
        }
    }

    /// Settlement pays exactly the majority-confirmed periods, refunds the rest, slashes failed periods, and
    /// leaves only the stakes in the contract once everybody has claimed.
    function testFuzz_settlementAccounting(uint8 nSeed, uint8 periodsSeed, uint256 entropy, uint16 stopSeed) public {
        Run memory run;
        run.n = uint8(bound(nSeed, 1, 5));
        run.periods = uint32(bound(periodsSeed, 1, 60));
        run.id = _buy(_req(run.periods * PERIOD, run.n));
        _acceptAndStart(run.id);
        uint256 started = block.timestamp;
        run.billable = run.periods;
        if (stopSeed % 3 == 0) {
            vm.warp(started + bound(stopSeed, 0, run.periods * PERIOD));
            vm.prank(client);
            d.stopAgreement(run.id);
            run.billable = d.getAgreement(run.id).billablePeriods;
        }
        vm.warp(started + run.periods * PERIOD);
        _reportRandomly(run, entropy);
        vm.warp(started + run.periods * PERIOD + REPORT_WINDOW);
        _checkSettlement(run);
    }

    function _checkSettlement(Run memory run) internal {
        address w = _workerOf(run.id);
        uint256 before = w.balance;
        vm.prank(w);
        d.redeemPayment(run.id);
        uint256 periodPrice = PERIOD * PRICE;
        assertEq(w.balance - before, run.confirmed * periodPrice, "worker paid confirmed periods");
        uint256 slashed = run.failed * periodPrice * SLASH_BPS / 10_000;
        if (slashed > MIN_STAKE) slashed = MIN_STAKE;
        uint256 expected = _quote(_req(run.periods * PERIOD, run.n)) - run.confirmed * periodPrice - run.reports
            * (periodPrice * FEE_BPS / 10_000) + slashed;
        before = client.balance;
        vm.prank(client);
        d.claimRefund(run.id);
        assertEq(client.balance - before, expected, "client refund");
        uint256 stakes;
        for (uint256 i = 1; i <= 8; ++i) {
            stakes += d.getWorker(i).stake;
        }
        assertEq(address(d).balance, stakes, "only stakes remain");
        assertEq(d.reputationCounters(d.workerIdOf(w)).verifiedPeriods, run.confirmed, "reputation");
        assertEq(d.reputationCounters(d.workerIdOf(w)).failedPeriods, run.failed, "failed periods");
    }

    /// What a verifier reports is what getReports returns, at any offset, across words.
    function testFuzz_reportRoundTrip(uint8 nSeed, uint256 first, uint256 bits, uint8 vSeed) public {
        uint8 n = uint8(bound(nSeed, 1, 5));
        uint256 id = _buy(_req(1000 * PERIOD, n));
        _acceptAndStart(id);
        vm.warp(block.timestamp + 1000 * PERIOD);
        first = bound(first, 0, 999);
        uint256 room = 1000 - first; // periods available from `first`
        if (room < 256) bits &= (uint256(1) << room) - 1;
        vm.assume(bits != 0);
        uint256 v = vSeed % n;
        vm.prank(_verifierOf(id, v));
        d.provideVerification(id, first, bits & (bits >> 1), bits);
        (uint256 okBits, uint256 repBits) = d.getReports(id, v, first);
        assertEq(repBits, bits, "reported bits");
        assertEq(okBits, bits & (bits >> 1), "ok bits");
        if (v + 1 < n) {
            (okBits, repBits) = d.getReports(id, v + 1, first);
            assertEq(repBits, 0, "other verifier untouched");
        }
        // reporting any of those periods again fails
        vm.prank(_verifierOf(id, v));
        vm.expectRevert();
        d.provideVerification(id, first, 0, bits);
    }

    /// The deposit covers every possible payout: full service plus every verifier's reward at the worker's price.
    function testFuzz_quoteCoversPayouts(uint64 maxPrice, uint32 periods, uint8 nSeed, uint64 price) public view {
        maxPrice = uint64(bound(maxPrice, 1, type(uint64).max));
        price = uint64(bound(price, 1, maxPrice));
        periods = uint32(bound(periods, 1, 1024));
        uint8 n = uint8(bound(nSeed, 1, 5));
        uint256 q = d.quote(maxPrice, periods * PERIOD, PERIOD, n);
        uint256 payouts =
            uint256(periods) * (uint256(price) * PERIOD + n * (uint256(price) * PERIOD * FEE_BPS / 10_000));
        assertGe(q, payouts, "deposit covers payouts");
    }

    /// Random requirements: either nothing is taken (revert) or the assigned worker meets every requirement.
    function testFuzz_assignmentRespectsRequirements(uint32 cpu, uint32 mem, uint64 maxPrice, uint256 seed) public {
        for (uint256 i = 1; i <= 8; ++i) {
            vm.prank(_workerAddr(i));
            d.updateWorker(
                uint64(bound(uint256(keccak256(abi.encode(seed, i, 1))), 1, 2 gwei)),
                30 days,
                uint32(bound(uint256(keccak256(abi.encode(seed, i, 2))), 1, 8000)),
                uint32(bound(uint256(keccak256(abi.encode(seed, i, 3))), 1, 16_384)),
                PUBKEY
            );
        }
        WorkerDispatcher.Requirements memory r = _req(3600, 2);
        r.cpuMillicores = uint32(bound(cpu, 1, 8000));
        r.memoryMB = uint32(bound(mem, 1, 16_384));
        r.maxPricePerSecond = uint64(bound(maxPrice, 1, 2 gwei));
        uint256 value = _quote(r);
        uint256 before = client.balance;
        vm.prank(client);
        try d.buyContract{value: value}(r) returns (uint256 id) {
            WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
            WorkerDispatcher.WorkerView memory w = d.getWorker(a.workerId);
            assertGe(w.cpuMillicores, r.cpuMillicores, "cpu");
            assertGe(w.memoryMB, r.memoryMB, "memory");
            assertLe(w.pricePerSecond, r.maxPricePerSecond, "price");
            assertEq(a.pricePerSecond, w.pricePerSecond, "agreed price");
        } catch {
            assertEq(client.balance, before, "nothing taken");
        }
    }

    function _popcount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) {
            ++c;
        }
    }
}
