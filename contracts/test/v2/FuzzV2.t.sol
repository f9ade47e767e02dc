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

    /// @dev kind: 0 silent, 1 all ok, else random votes from `seed`.
    function _votes(uint256 seed, uint256 b, uint256 v, uint256 mask)
        internal
        pure
        returns (uint256 kind, uint256 ok, uint256 voted)
    {
        uint256 k = uint256(keccak256(abi.encode(seed, b, v, "kind"))) % 8;
        kind = k == 0 ? 0 : (k < 3 ? 1 : 2);
        if (kind == 1) return (1, mask, mask);
        voted = uint256(keccak256(abi.encode(seed, b, v, "voted"))) & mask;
        ok = uint256(keccak256(abi.encode(seed, b, v, "ok"))) & voted;
        if (seed % 3 == 0) voted |= mask; // fewer abstentions on some runs: more decided periods
        ok &= voted;
    }

    /// forge-config: default.fuzz.runs = 1000
    function testFuzz_settlementMatchesPlainModel(uint256 seed, uint256 periodsSeed, bool five, uint256 stopSeed)
        public
    {
        uint32 periods = uint32(bound(periodsSeed, 40, 250));
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
        uint256 batches = (m.billable + 119) / 120;
        for (uint256 b; b < batches; ++b) {
            _runBatch(id, a.deadline, m, seed, b);
        }
        vm.warp(a.deadline + m.billable * PERIOD + REPORT_WINDOW);
        d.settle(id);
        _checkAgainst(m, id, a);
    }

    /// @dev At the batch's end, each verifier reports (or stays silent); the model counts the same votes.
    function _runBatch(uint256 id, uint256 startedAt, Model memory m, uint256 seed, uint256 b) internal {
        uint256 end = (b + 1) * 120 < m.billable ? (b + 1) * 120 : m.billable;
        uint256 size = end - b * 120;
        vm.warp(startedAt + end * PERIOD);
        uint256[5] memory okv;
        uint256[5] memory failv;
        for (uint256 v; v < m.n; ++v) {
            (uint256 kind, uint256 ok, uint256 voted) = _votes(seed, b, v, (uint256(1) << size) - 1);
            if (kind == 0) {
                m.silent[v] += size;
                continue;
            }
            _report(id, b, v, ok, voted);
            okv[v] = ok;
            failv[v] = voted & ~ok;
        }
        _modelBatch(m, okv, failv, size);
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
        assertEq(r.creditOf(client), a.escrow - m.paid * PP - rewards, "client");
        assertEq(r.reputationCounters(a.workerId).verifiedPeriods, m.paid, "record: verified");
        assertEq(r.reputationCounters(a.workerId).failedPeriods, m.failed, "record: failed");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled");
    }
}
