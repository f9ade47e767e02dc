// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";

/// @notice Settlement checked against a plain model: votes counted period by period with loops, no bit tricks.
contract FuzzV2Test is V2Base {
    uint256 internal constant PP = uint256(PRICE) * PERIOD;
    uint256 internal constant RW = PP * FEE_BPS / 10_000;

    struct Model {
        uint256 n;
        uint256 billable;
        uint256 paid;
        uint256 failed;
        uint256[5] agree;
        uint256[5] dissent;
        uint256[5] silent;
        uint256[5] stakeBefore;
        uint256 workerStakeBefore;
    }

    function setUp() public {
        _deploy();
        _registerMany(10);
    }

    /// @dev A verifier's kind of report on a batch: 0 silent, 1 confirms (all ok), 2 random votes.
    function _kind(uint256 seed, uint256 b, uint256 v) internal pure returns (uint256) {
        uint256 k = uint256(keccak256(abi.encode(seed, b, v, "kind"))) % 8;
        return k == 0 ? 0 : (k < 3 ? 1 : 2);
    }

    function _bits(uint256 seed, uint256 b, uint256 v, uint256 j, uint256 mask)
        internal
        pure
        returns (uint256 ok, uint256 voted)
    {
        voted = uint256(keccak256(abi.encode(seed, b, v, j, "voted"))) & mask;
        if (seed % 3 == 0) voted = mask; // fewer abstentions on some runs: more decided periods
        ok = uint256(keccak256(abi.encode(seed, b, v, j, "ok"))) & voted;
    }

    /// forge-config: default.fuzz.runs = 1000
    function testFuzz_settlementMatchesPlainModel(uint256 seed, uint256 periodsSeed, bool five, uint256 stopSeed)
        public
    {
        // A correctness test: its gas depends on the random job length, so it is not metered (a stable snapshot).
        vm.pauseGasMetering();
        uint32 periods = uint32(bound(periodsSeed, 40, 3000)); // up to 3 report batches
        uint256 id = _buyAs(client, _req(periods * PERIOD, five ? 5 : 3));
        _accept(id);
        _startAndDraw(id);
        Model memory m;
        m.n = five ? 5 : 3;
        if (stopSeed % 3 == 0) {
            vm.warp(r.getAgreement(id).deadline + bound(stopSeed, 0, uint256(periods) * PERIOD));
            vm.prank(client);
            d.stopAgreement(id);
        }
        I.AgreementView memory a = r.getAgreement(id);
        m.billable = a.billablePeriods;
        m.workerStakeBefore = r.getWorker(a.workerId).stake;
        for (uint256 v; v < m.n; ++v) {
            m.stakeBefore[v] = r.getWorker(a.verifierIds[v]).stake;
        }
        uint256 batches = (m.billable + 1439) / 1440;
        for (uint256 b; b < batches; ++b) {
            _runBatch(id, a.deadline, m, seed, b);
        }
        vm.warp(a.deadline + m.billable * PERIOD + REPORT_WINDOW);
        d.settle(id);
        _checkAgainst(m, id, a);
    }

    /// @dev At the batch's end, each verifier reports (or stays silent); the model counts the same votes.
    function _runBatch(uint256 id, uint256 startedAt, Model memory m, uint256 seed, uint256 b) internal {
        uint256 end = (b + 1) * 1440 < m.billable ? (b + 1) * 1440 : m.billable;
        uint256 words = (end - b * 1440 + 119) / 120;
        vm.warp(startedAt + end * PERIOD);
        uint256[5][] memory okv = new uint256[5][](words);
        uint256[5][] memory failv = new uint256[5][](words);
        for (uint256 v; v < m.n; ++v) {
            uint256 kind = _kind(seed, b, v);
            if (kind == 0) {
                m.silent[v] += end - b * 1440;
            } else if (kind == 1) {
                _confirm(id, b, v);
                for (uint256 j; j < words; ++j) {
                    okv[j][v] = _mask(m.billable, b * 12 + j);
                }
            } else {
                (uint256[] memory okW, uint256[] memory votedW) = _randomReport(id, seed, b, v, m.billable, words);
                for (uint256 j; j < words; ++j) {
                    okv[j][v] = okW[j];
                    failv[j][v] = votedW[j] & ~okW[j];
                }
            }
        }
        for (uint256 j; j < words; ++j) {
            uint256 mask = _mask(m.billable, b * 12 + j);
            _modelBatch(m, okv[j], failv[j], mask == type(uint256).max ? 256 : _log2(mask + 1));
        }
    }

    function _randomReport(uint256 id, uint256 seed, uint256 b, uint256 v, uint256 billable, uint256 words)
        internal
        returns (uint256[] memory okW, uint256[] memory votedW)
    {
        okW = new uint256[](words);
        votedW = new uint256[](words);
        for (uint256 j; j < words; ++j) {
            (okW[j], votedW[j]) = _bits(seed, b, v, j, _mask(billable, b * 12 + j));
        }
        address who = _verifier(id, v);
        vm.prank(who);
        d.submitReport(id, b, okW, votedW);
    }

    function _mask(uint256 billable, uint256 word) internal pure returns (uint256) {
        uint256 first = word * 120;
        uint256 size = billable - first < 120 ? billable - first : 120;
        return (uint256(1) << size) - 1;
    }

    function _log2(uint256 x) internal pure returns (uint256 n) {
        while (x > 1) {
            x >>= 1;
            ++n;
        }
    }

    function _modelBatch(Model memory m, uint256[5] memory okv, uint256[5] memory failv, uint256 size) internal pure {
        for (uint256 p; p < size; ++p) {
            uint256 oks;
            uint256 fails;
            for (uint256 v; v < m.n; ++v) {
                if ((okv[v] >> p) & 1 == 1) ++oks;
                if ((failv[v] >> p) & 1 == 1) ++fails;
            }
            bool okOut = oks * 2 > m.n;
            bool failOut = fails * 2 > m.n;
            if (okOut) ++m.paid;
            if (failOut) ++m.failed;
            for (uint256 v; v < m.n; ++v) {
                bool saidOk = (okv[v] >> p) & 1 == 1;
                bool saidFail = (failv[v] >> p) & 1 == 1;
                if ((saidOk && okOut) || (saidFail && failOut)) ++m.agree[v];
                if ((saidOk && failOut) || (saidFail && okOut)) ++m.dissent[v];
            }
        }
    }

    function _checkAgainst(Model memory m, uint256 id, I.AgreementView memory a) internal view {
        assertEq(r.getWorker(a.workerId).stake, m.workerStakeBefore + m.paid * PP - m.failed * PP, "worker");
        uint256 rewards;
        uint256 bond = a.verifierBond;
        for (uint256 v; v < m.n; ++v) {
            uint256 penalty = (m.dissent[v] + m.silent[v]) * 2 * RW;
            if (penalty > bond) penalty = bond;
            assertEq(r.getWorker(a.verifierIds[v]).stake, m.stakeBefore[v] + m.agree[v] * RW - penalty, "verifier");
            assertEq(r.getWorker(a.verifierIds[v]).locked, 0, "bond released");
            rewards += m.agree[v] * RW;
        }
        assertEq(_refunded(), a.escrow - m.paid * PP - rewards, "client");
        assertEq(r.reputationCounters(a.workerId).verifiedPeriods, m.paid, "record: verified");
        assertEq(r.reputationCounters(a.workerId).failedPeriods, m.failed, "record: failed");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled");
    }
}
