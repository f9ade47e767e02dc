// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base} from "./utils/V2Base.sol";

/// @notice Profit per agreement of each strategy, played on the contract with the tests' parameters (V2Base): a
///         1-hour job, 60 s periods, 3 verifiers. Each row is the strategist's profit next to what honest play
///         earns it in the same situation; the test asserts that honest play pays at least as well.
///         Costs outside the chain (running the service, probing) are not in the figures: a strategy that saves
///         them is shown by the margin it would have to beat. Print:
///         forge test --offline --use ./scripts/solc-adapter.js --mc SimulationV2Test -vv
contract SimulationV2Test is V2Base {
    event log_named_int(string key, int256 val);
    event log_named_uint(string key, uint256 val);

    uint256 internal constant PP = uint256(PRICE) * PERIOD;
    uint256 internal constant RW = PP * FEE_BPS / 10_000;

    function setUp() public {
        _deploy();
        _registerMany(10);
        vm.deal(r.BURN(), 1);
    }

    function _row(string memory strategy, int256 profit, int256 honest) internal {
        emit log_named_int(string.concat(strategy, ": profit, wei"), profit);
        emit log_named_int(string.concat(strategy, ": honest play, wei"), honest);
        emit log_named_int(string.concat(strategy, ": honest advantage, wei"), honest - profit);
        assertTrue(honest >= profit, string.concat(strategy, ": honest play pays at least as well"));
    }

    /// @dev Runs one agreement; verifier i votes ok on okBits[i] (all periods voted). Returns the worker's and
    ///      each verifier's change of worth.
    function _play(uint256[3] memory okBits) internal returns (int256 worker, int256[3] memory verifiers) {
        uint256 id = _run(3600);
        address w = _owner(r.getAgreement(id).workerId);
        uint256 wb = _worth(w);
        uint256[3] memory vb;
        for (uint256 i; i < 3; ++i) {
            vb[i] = _worth(_verifier(id, i));
        }
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _report(id, 0, i, okBits[i], _all(60));
        }
        d.settle(id);
        worker = int256(_worth(w)) - int256(wb);
        for (uint256 i; i < 3; ++i) {
            verifiers[i] = int256(_worth(_verifier(id, i))) - int256(vb[i]);
        }
    }

    function test_simulation_profitPerStrategy() public {
        uint256 all = _all(60);
        uint256 tenPercentDown = all & ~_all(6); // the worker's service was down in 6 of 60 periods

        // honest worker, honest verifiers
        (int256 honestWorker, int256[3] memory hv) = _play([all, all, all]);
        emit log_named_int("honest worker: profit, wei (before its running cost)", honestWorker);
        emit log_named_int("honest verifier: profit, wei (before its probing cost)", hv[0]);

        // lazy worker: takes the job, never serves; honest verifiers report it
        (int256 lazyWorker,) = _play([uint256(0), 0, 0]);
        _row("lazy worker (never serves)", lazyWorker, honestWorker);

        // lazy verifier: "ok" without probing, on a worker that was down 10% of the time
        (, int256[3] memory lv) = _play([tenPercentDown, tenPercentDown, all]);
        _row("lazy verifier (worker down 10%)", lv[2], lv[0]);

        // colluding worker + one verifier: the worker never serves, its verifier says "ok"
        (int256 cw, int256[3] memory cv) = _play([uint256(0), all, 0]);
        _row("colluding worker + 1 verifier (pair)", cw + cv[1], honestWorker + hv[1]);

        // briber: pays one verifier to say "ok" for a dead service; the outcome does not move, so the bribe
        // (any amount) is lost on top of the slash
        _row("briber (1 of 3 verifiers, bribe excluded)", cw, honestWorker);

        // saboteur client: a probe the image can never pass. The worker rejects it before the clock: 0 for both.
        uint256 cb = _worth(client);
        uint256 id = _buy(3600);
        address w = _accept(id);
        vm.prank(w);
        d.rejectSpec(id, SPEC, SALT);
        _row("saboteur client (probe never passes)", int256(_worth(client)) - int256(cb), 0);

        // Sybil farm: k of N eligible workers; it decides an agreement only with 2 of its 3 verifiers
        for (uint256 k = 1; k <= 3; ++k) {
            uint256 x = k * 1e18 / 10; // share k/10 of the eligible workers
            uint256 p = (3 * x * x / 1e18) - (2 * x * x / 1e18 * x / 1e18);
            emit log_named_uint(
                string.concat("Sybil farm with ", _str(k * 10), "% of the workers: chance of a majority, ppm"),
                p / 1e12
            );
        }
        emit log_named_uint("Sybil farm: stake per identity, wei", MIN_STAKE);
    }
}
