// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";

/// @notice The draws are fair: among equally eligible workers, each is drawn as the worker and as a verifier equally
///         often (Pearson's chi-square goodness-of-fit test against the uniform distribution, at the 1% level), and
///         an ineligible worker — paused, asking more than the client's maximum price, offering too little CPU, or
///         the client's own — is never drawn. Print the figures:
///         forge test --offline --use ./scripts/solc-adapter.js --mc FairnessV2Test -vv
/// @dev Every draw is executed (acceptAgreement, draw, drawVerifiers) and checked against its preview
///      (previewWorker, previewVerifiers). Block hashes vary with the block (V2Base._roll sets one per block,
///      vmx.setBlockhash). Workers get a stake large enough that their locks never make one ineligible: the test is
///      about the draw among equals.
contract FairnessV2Test is V2Base {
    event log_named_uint(string key, uint256 val);

    uint256 internal constant ELIGIBLE = 10; // workers 1..10
    uint256 internal constant DRAWS = 1000;
    uint256 internal constant VERIFIER_AGREEMENTS = 500; // 1,500 verifier places
    uint256 internal constant RICH = 100 ether;
    // Upper 1% critical value of chi-square with 9 degrees of freedom (10 workers): 21.666.
    // Source: NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.4, "Critical Values of the
    // Chi-Square Distribution" (upper-tail table, nu = 9, alpha = 0.01).
    uint256 internal constant CRITICAL_9DOF_X1000 = 21_666;

    uint256 internal paused; // worker 11
    uint256 internal expensive; // worker 12: asks twice the client's maximum price
    uint256 internal small; // worker 13: offers less CPU than the client asks
    uint256 internal clientsOwn; // worker 14: the client's own account

    function setUp() public {
        _deploy();
        for (uint256 i = 1; i <= ELIGIBLE; ++i) {
            _registerRich(_workerAddr(i), PRICE, 4000);
        }
        paused = _registerRich(_workerAddr(11), PRICE, 4000);
        vm.prank(_workerAddr(11));
        r.pauseWorker();
        expensive = _registerRich(_workerAddr(12), 2 * PRICE, 4000);
        small = _registerRich(_workerAddr(13), PRICE, 500);
        clientsOwn = _registerRich(client, PRICE, 4000);
        _roll(1);
    }

    function _registerRich(address who, uint64 price, uint32 cpu) internal returns (uint256 id) {
        vm.deal(who, who.balance + RICH);
        vm.prank(who);
        id = r.registerWorker{value: RICH}(price, 30 days, cpu, 8192, PUBKEY);
    }

    /// @dev Pearson's X² = Σ (O − E)² / E against E = total / k, x1000, in integers (scaled by k so that E·k is one).
    function _chiSquareX1000(uint256[] memory counts, uint256 total) internal pure returns (uint256 chi) {
        uint256 k = counts.length;
        for (uint256 i; i < k; ++i) {
            uint256 o = counts[i] * k;
            uint256 diff = o > total ? o - total : total - o;
            chi += diff * diff * 1000 / (total * k);
        }
    }

    function _log(string memory what, uint256[] memory counts, uint256 chi) internal {
        for (uint256 i; i < counts.length; ++i) {
            emit log_named_uint(string.concat(what, ", worker ", _str(i + 1)), counts[i]);
        }
        emit log_named_uint(string.concat(what, ": chi-square x1000"), chi);
        emit log_named_uint(string.concat(what, ": 1% critical value x1000 (9 dof)"), CRITICAL_9DOF_X1000);
    }

    /// @dev The drawn worker accepts; returns its id after checking it is one of the eligible ten.
    function _acceptDrawn(uint256 id) internal returns (uint256 wid) {
        wid = r.previewWorker(id);
        assertTrue(wid >= 1 && wid <= ELIGIBLE, "only an eligible worker is drawn");
        vm.prank(_owner(wid));
        d.acceptAgreement(id, "");
        assertEq(r.getAgreement(id).workerId, wid, "the preview is the draw");
    }

    /// @notice One purchase per block, each drawn from its own block's hash and executed by the worker's accept.
    function test_fairness_worker_manyBlocks() public {
        uint256[] memory counts = new uint256[](ELIGIBLE);
        I.Requirements memory q = _req(3600, 3);
        for (uint256 k; k < DRAWS; ++k) {
            uint256 id = _buyAs(client, q);
            _roll(DRAW_DELAY + 1);
            counts[_acceptDrawn(id) - 1] += 1;
        }
        uint256 chi = _chiSquareX1000(counts, DRAWS);
        _log("worker draws, one purchase per block", counts, chi);
        assertLt(chi, CRITICAL_9DOF_X1000, "chi-square below the 1% critical value (9 dof)");
    }

    /// @notice Every purchase in one block: one block hash for all, so the agreement id alone must spread the draws.
    function test_fairness_worker_sameBlock() public {
        uint256[] memory counts = new uint256[](ELIGIBLE);
        I.Requirements memory q = _req(3600, 3);
        uint256 first = r.agreementCount() + 1;
        for (uint256 k; k < DRAWS; ++k) {
            _buyAs(client, q);
        }
        _roll(DRAW_DELAY + 1);
        for (uint256 id = first; id < first + DRAWS; ++id) {
            uint256 wid = r.previewWorker(id);
            d.draw(id);
            assertEq(r.getAgreement(id).workerId, wid, "the preview is the draw");
            assertTrue(wid >= 1 && wid <= ELIGIBLE, "only an eligible worker is drawn");
            counts[wid - 1] += 1;
        }
        uint256 chi = _chiSquareX1000(counts, DRAWS);
        _log("worker draws, all purchases in one block", counts, chi);
        assertLt(chi, CRITICAL_9DOF_X1000, "chi-square below the 1% critical value (9 dof)");
    }

    /// @notice Verifiers: every agreement runs to its verifier draw. The worker and the three verifiers are four
    ///         distinct workers, never a paused one nor the client's own; the verifier places spread evenly.
    /// @dev Each draw takes m = 3 distinct of the k = 10 workers, each set equally likely (the worker is uniform and
    ///      the verifiers uniform among the other nine, so the three are a uniform 3-set of the ten). A worker's count
    ///      then has variance T·p(1−p), p = m/k, and two workers' counts covary by −T·p(1−p)/(k−1): Pearson's X²
    ///      against E = T·p is distributed as (k−m)/(k−1)·χ²(k−1) for large T, so X²·(k−1)/(k−m) is the statistic
    ///      compared with the χ²(9) critical value. The too-expensive and too-small workers are not in this count:
    ///      price and size bar a worker from running the job, not from verifying it (DispatcherStateV2
    ///      _verifierEligible), so they are paused here to keep the ten equals.
    function test_fairness_verifiers() public {
        vm.prank(_workerAddr(12));
        r.pauseWorker();
        vm.prank(_workerAddr(13));
        r.pauseWorker();
        _roll(1);
        uint256[] memory counts = new uint256[](ELIGIBLE);
        I.Requirements memory q = _req(3600, 3);
        for (uint256 k; k < VERIFIER_AGREEMENTS; ++k) {
            uint256 id = _buyAs(client, q);
            _roll(DRAW_DELAY + 1);
            uint256 wid = _acceptDrawn(id);
            _start(id);
            uint32[] memory preview = r.previewVerifiers(id);
            d.drawVerifiers(id, "");
            uint32[] memory vs = r.getAgreement(id).verifierIds;
            assertEq(vs.length, 3, "three verifiers");
            for (uint256 i; i < 3; ++i) {
                assertEq(vs[i], preview[i], "the preview is the draw");
                assertTrue(vs[i] >= 1 && vs[i] <= ELIGIBLE, "only an eligible worker verifies");
                assertTrue(vs[i] != wid, "the worker does not verify itself");
                for (uint256 j; j < i; ++j) {
                    assertTrue(vs[i] != vs[j], "distinct verifiers");
                }
                counts[vs[i] - 1] += 1;
            }
        }
        uint256 raw = _chiSquareX1000(counts, 3 * VERIFIER_AGREEMENTS);
        uint256 chi = raw * (ELIGIBLE - 1) / (ELIGIBLE - 3);
        emit log_named_uint("verifier draws: Pearson X2 x1000 before the (k-1)/(k-m) = 9/7 correction", raw);
        _log("verifier places", counts, chi);
        assertLt(chi, CRITICAL_9DOF_X1000, "chi-square below the 1% critical value (9 dof)");
    }

    /// @notice A worker too expensive (or too small) for the job is never its worker but takes verifier places:
    ///         a verifier does not run the job.
    function test_priceAndSize_barTheWorkerNotTheVerifier() public {
        uint256 asVerifier;
        I.Requirements memory q = _req(3600, 3);
        for (uint256 k; k < 60; ++k) {
            uint256 id = _buyAs(client, q);
            _roll(DRAW_DELAY + 1);
            _acceptDrawn(id);
            _startAndDraw(id);
            uint32[] memory vs = r.getAgreement(id).verifierIds;
            for (uint256 i; i < 3; ++i) {
                assertTrue(vs[i] != paused && vs[i] != clientsOwn, "never paused, never the client's");
                if (vs[i] == expensive || vs[i] == small) ++asVerifier;
            }
        }
        emit log_named_uint("verifier places of the too-expensive and too-small workers, of 180", asVerifier);
        assertGt(asVerifier, 0, "they verify");
    }

    /// @notice The test can fail: a draw that gives worker 1 the chance of two workers (what a scan from a random
    ///         id gives the worker after a gap) is rejected at the same level with the same number of draws.
    function test_chiSquare_rejectsAWorkerWithTwiceTheShare() public {
        uint256[] memory counts = new uint256[](ELIGIBLE);
        for (uint256 k; k < DRAWS; ++k) {
            uint256 slot = uint256(keccak256(abi.encode("biased", k))) % (ELIGIBLE + 1);
            counts[slot == ELIGIBLE ? 0 : slot] += 1;
        }
        uint256 chi = _chiSquareX1000(counts, DRAWS);
        _log("a draw biased 2:1 towards worker 1", counts, chi);
        assertGt(chi, CRITICAL_9DOF_X1000, "a 2:1 bias is detected");
    }
}
