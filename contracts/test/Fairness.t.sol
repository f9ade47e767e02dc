// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherBase} from "./utils/DispatcherBase.sol";
import {WorkerDispatcher} from "../src/WorkerDispatcher.sol";

/// @notice Assignments among equally eligible workers are spread evenly: Pearson's chi-square goodness-of-fit
///         test against the uniform distribution, at the 1% level.
contract FairnessTest is DispatcherBase {
    event log_named_uint(string key, uint256 val);

    uint256 internal constant WORKERS = 10;
    uint256 internal constant ASSIGNMENTS = 1000;
    // Upper 1% critical value of chi-square with 9 degrees of freedom: 21.666.
    // Source: NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.4,
    // "Critical Values of the Chi-Square Distribution" (upper-tail table, nu = 9, alpha = 0.01).
    uint256 internal constant CRITICAL_X1000 = 21_666;

    function setUp() public {
        _deploy();
        _registerMany(WORKERS);
    }

    function _chiSquareX1000(uint256[] memory counts, uint256 total) internal pure returns (uint256 chi) {
        // chi^2 = sum (O - E)^2 / E, E = total / k; computed x1000 in integers
        uint256 k = counts.length;
        for (uint256 i; i < k; ++i) {
            uint256 o = counts[i] * k; // scale by k so that E*k = total is an integer
            uint256 diff = o > total ? o - total : total - o;
            chi += diff * diff * 1000 / (total * k);
        }
    }

    function _run(bool rotateRandao) internal returns (uint256 chi) {
        uint256[] memory counts = new uint256[](WORKERS);
        WorkerDispatcher.Requirements memory r = _req(3600, 1);
        uint256 value = _quote(r);
        for (uint256 k; k < ASSIGNMENTS; ++k) {
            if (rotateRandao) vm.prevrandao(keccak256(abi.encode("block", k)));
            vm.prank(client);
            uint256 id = d.buyContract{value: value}(r);
            counts[d.getAgreement(id).workerId - 1] += 1;
        }
        chi = _chiSquareX1000(counts, ASSIGNMENTS);
        for (uint256 i; i < WORKERS; ++i) {
            emit log_named_uint(string.concat("assignments of worker ", _str(i + 1)), counts[i]);
        }
        emit log_named_uint("chi-square x1000", chi);
    }

    function test_fairness_chiSquare_sameBlock() public {
        // all purchases in one block (same prevrandao): the agreement id alone must spread them
        assertLt(_run(false), CRITICAL_X1000, "chi-square below the 1% critical value (9 dof)");
    }

    function test_fairness_chiSquare_manyBlocks() public {
        assertLt(_run(true), CRITICAL_X1000, "chi-square below the 1% critical value (9 dof)");
    }

    function test_fairness_onlyEligibleWorkersChosen() public {
        // half the workers are too small; the others must share the work evenly (4 dof, 1%: 13.277, same table)
        for (uint256 i = 1; i <= 5; ++i) {
            vm.prank(_workerAddr(i));
            d.updateWorker(PRICE, 30 days, 500, 8192, PUBKEY);
        }
        uint256[] memory counts = new uint256[](5);
        WorkerDispatcher.Requirements memory r = _req(3600, 1);
        uint256 value = _quote(r);
        for (uint256 k; k < 500; ++k) {
            vm.prank(client);
            uint256 id = d.buyContract{value: value}(r);
            uint256 w = d.getAgreement(id).workerId;
            assertGt(w, 5, "eligible worker");
            counts[w - 6] += 1;
        }
        uint256 chi = _chiSquareX1000(counts, 500);
        emit log_named_uint("chi-square x1000 (5 eligible of 10)", chi);
        assertLt(chi, 13_277, "chi-square below the 1% critical value (4 dof)");
    }
}
