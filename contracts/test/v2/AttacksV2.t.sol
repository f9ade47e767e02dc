// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base, CountingWallet} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";
import {WorkerDispatcherV2} from "../../src/v2/WorkerDispatcherV2.sol";
import {RegistryModuleV2} from "../../src/v2/RegistryModuleV2.sol";

/// @notice A buyer contract that wants a chosen worker and reverts its purchase on any other draw.
contract SteeringBuyer {
    WorkerDispatcherV2 private immutable _d;
    uint256 private immutable _wanted;

    constructor(WorkerDispatcherV2 d, uint256 wanted) payable {
        _d = d;
        _wanted = wanted;
    }

    function buyIfMine(I.Requirements calldata q, uint256 value) external returns (uint256 id) {
        id = _d.buyContract{value: value}(q);
        // The draw uses the hash of a later block: in this transaction there is nothing to look at.
        if (RegistryModuleV2(address(_d)).previewWorker(id) != _wanted) revert("not my worker");
    }

    function buyAndDraw(I.Requirements calldata q, uint256 value) external returns (uint256 id) {
        id = _d.buyContract{value: value}(q);
        _d.draw(id); // reverts: DrawNotReady
    }
}

/// @notice Each rule of protocol v2 attacked the way an attacker would, with who gains how much.
///         Every test performs the attack and asserts that it failed or cost the attacker money.
/// @notice A client that tries to hurt whoever refunds it: its receive() reverts, burns all the gas it gets, or
///         re-enters the dispatcher to be paid twice.
contract RefundGriefer {
    WorkerDispatcherV2 private immutable _d;
    uint8 public mode; // 0 revert, 1 burn gas, 2 re-enter
    uint256 public settleTo;

    constructor(WorkerDispatcherV2 d) payable {
        _d = d;
    }

    function setMode(uint8 m, uint256 id) external {
        mode = m;
        settleTo = id;
    }

    function buy(I.Requirements calldata q, uint256 value) external returns (uint256) {
        return _d.buyContract{value: value}(q);
    }

    receive() external payable {
        if (mode == 0) revert("no refunds here");
        if (mode == 1) {
            while (true) {} // every bit of gas it is given
        }
        _d.withdraw(); // re-enter to take the credit as well
    }
}

contract AttacksV2Test is V2Base {
    event log_named_uint(string key, uint256 val);
    event log_named_int(string key, int256 val);

    uint256 internal constant PP = uint256(PRICE) * PERIOD; // a period's price
    uint256 internal constant RW = PP * FEE_BPS / 10_000; // a verifier's reward per agreeing period

    function setUp() public {
        _deploy();
        _registerMany(10);
        vm.deal(r.BURN(), 1);
    }

    function _gain(address who, uint256 before) internal view returns (int256) {
        return int256(_worth(who)) - int256(before);
    }

    // ------------------------------------------------------------------ 1. no profit from a failure one causes

    /// @dev A client picks a probe the image can never pass, hoping to collect the worker's slashed stake.
    ///      The worker checks the spec against its own service before the clock starts and rejects it: nobody
    ///      loses anything, the client gains nothing.
    function test_attack_probeNeverPasses_workerRejectsBeforeTheClock() public {
        uint256 clientBefore = _worth(client);
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 workerBefore = _worth(w);
        vm.prank(w);
        d.rejectSpec(id, SPEC, SALT); // the spec failed against the worker's own running service
        emit log_named_int("client gain, wei", _gain(client, clientBefore));
        emit log_named_int("worker gain, wei", _gain(w, workerBefore));
        assertEq(_worth(client), clientBefore, "client neither gains nor loses");
        assertEq(_worth(w), workerBefore, "worker loses nothing");
    }

    /// @dev Same client, but the worker started anyway and every period fails: the slash is burned, the client
    ///      only gets back what it paid. The saboteur client gains 0; the worker loses 60 periods' price.
    function test_attack_probeNeverPasses_slashIsBurnedNotPaidToTheClient() public {
        uint256 clientBefore = _worth(client);
        uint256 id = _run(3600);
        uint256 wid = r.getAgreement(id).workerId;
        uint256 burnBefore = r.BURN().balance;
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _report(id, 0, i, 0, _all(60)); // every period failed
        }
        d.settle(id);
        emit log_named_int("saboteur client gain, wei", _gain(client, clientBefore));
        emit log_named_uint("burned (worker's slash), wei", r.BURN().balance - burnBefore);
        assertEq(_worth(client), clientBefore - 3 * 60 * RW, "client gets its deposit back minus the verifiers' pay");
        assertEq(r.BURN().balance - burnBefore, 60 * PP, "the slash is burned");
        assertEq(r.getWorker(wid).stake, MIN_STAKE - 60 * PP, "worker lost the slash");
    }

    // ------------------------------------------------------------------ 2. no steering of the assignment

    /// @dev The client cancels and buys again until its accomplice (worker 1) is drawn. It can only see the draw
    ///      after committing, and every retry burns the cancel fee: (N-1) x fee expected for N eligible workers.
    function test_attack_cancelAndRebuy_costsAFeePerTry() public {
        uint256 wanted = 1;
        uint256 before = _worth(client);
        uint256 tries;
        uint256 id;
        while (true) {
            id = _buy(3600);
            ++tries;
            assertEq(r.previewWorker(id), 0, "nothing to see at purchase time");
            _roll(DRAW_DELAY + 1);
            if (r.previewWorker(id) == wanted) break;
            vm.prank(client);
            d.cancelAgreement(id);
        }
        uint256 deposit = r.getAgreement(id).escrow;
        uint256 lost = before - _worth(client) - deposit;
        emit log_named_uint("tries to get the chosen worker", tries);
        emit log_named_uint("client's cost of steering, wei", lost);
        assertEq(lost, (tries - 1) * CANCEL_FEE, "each retry burned the cancel fee");
        assertGt(tries, 1, "the first draw was not the chosen worker");
    }

    /// @dev A drawn worker declines jobs whose verifiers are not its own identities. It cannot see them: verifiers
    ///      are drawn from a block after it started. Declining burns the decline fee.
    function test_attack_declineSteering_verifiersUnknown_declineCosts() public {
        uint256 id = _buy(3600);
        address w = _accept(id);
        assertEq(r.previewVerifiers(id).length, 0, "no verifiers to look at before the start");
        assertEq(r.getAgreement(id).verifierIds.length, 0, "none drawn");
        uint256 before = _worth(w);
        vm.prank(w);
        d.declineAgreement(id);
        emit log_named_int("declining worker gain, wei", _gain(w, before));
        assertEq(before - _worth(w), DECLINE_FEE, "decline fee burned");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Purchased), "drawn again");
        assertEq(r.getAgreement(id).drawBlock, block.number + DRAW_DELAY, "from a later block");
    }

    /// @dev A contract buys and reverts unless its chosen worker is drawn. The draw does not exist in the purchase's
    ///      transaction, so the condition can never be met (and forcing the draw reverts).
    function test_attack_revertingBuyer_cannotConditionOnTheDraw() public {
        I.Requirements memory q = _req(3600, 3);
        uint256 value = _quote(q);
        SteeringBuyer b = new SteeringBuyer{value: 10 * value}(d, 1);
        for (uint256 k; k < 5; ++k) {
            vm.expectRevert(bytes("not my worker"));
            b.buyIfMine(q, value);
            vm.expectRevert(abi.encodeWithSelector(I.DrawNotReady.selector, r.agreementCount() + 1, block.number + 2));
            b.buyAndDraw(q, value);
            _roll(1);
        }
        assertEq(r.agreementCount(), 0, "no conditional purchase ever went through");
    }

    /// @dev An attacker front-runs an honest purchase with dummy purchases to move its agreement id (and so its
    ///      seed). The seed's block hash does not exist yet, so the attacker cannot aim; its dummies cost it the
    ///      cancel fee each.
    function test_attack_frontRunPurchase_cannotAim_paysFees() public {
        address attacker = address(0xA77AC);
        vm.deal(attacker, 100 ether);
        uint256 before = _worth(attacker);
        uint256[3] memory dummies;
        for (uint256 k; k < 3; ++k) {
            dummies[k] = _buyAs(attacker, _req(3600, 3));
        }
        uint256 honest = _buy(3600);
        assertEq(r.previewWorker(honest), 0, "the honest draw is unknown to everybody in this block");
        for (uint256 k; k < 3; ++k) {
            vm.prank(attacker);
            d.cancelAgreement(dummies[k]);
        }
        emit log_named_int("front-runner gain, wei", _gain(attacker, before));
        assertEq(before - _worth(attacker), 3 * CANCEL_FEE, "three cancel fees burned");
        _roll(DRAW_DELAY + 1);
        assertTrue(r.previewWorker(honest) != 0, "the honest agreement is drawn normally");
    }

    /// @dev Whoever triggers a reassignment picks the block of its call, not the draw: the new draw block is later.
    function test_attack_timedReassignment_drawsFromALaterBlock() public {
        uint256 id = _buy(3600);
        _roll(DRAW_DELAY + 1);
        d.draw(id);
        uint256 wid = r.getAgreement(id).workerId;
        // the fee is locked at the draw: the worker cannot lock its whole stake elsewhere and walk away for free
        assertEq(r.getWorker(wid).locked, DECLINE_FEE, "decline fee locked from the draw on");
        vm.warp(block.timestamp + ACCEPT_WINDOW + 1);
        uint256 stakeBefore = r.getWorker(wid).stake;
        d.reassignAgreement(id);
        assertEq(r.getAgreement(id).drawBlock, block.number + DRAW_DELAY, "next draw from a later block");
        assertEq(r.previewWorker(id), 0, "unknown to the caller");
        assertEq(stakeBefore - r.getWorker(wid).stake, DECLINE_FEE, "the silent worker paid for the time it held");
        assertEq(r.reputationCounters(wid).failedAgreements, 1, "and it counts");
    }

    /// @dev The worker dislikes the verifiers the hash picks and lets the verifier draw lapse to get another one.
    ///      A lapsed verifier draw is a missed start: the agreement ends, the decline fee is burned, no re-draw.
    function test_attack_letTheVerifierDrawLapse_endsTheAgreement() public {
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 deposit = r.getAgreement(id).escrow;
        _start(id);
        assertEq(r.previewVerifiers(id).length, 3, "the worker sees the verifiers it would get");
        uint256 before = _worth(w);
        _roll(300); // it waits for the hash to expire
        d.drawVerifiers(id, "");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "ended, not re-drawn");
        assertEq(before - _worth(w), DECLINE_FEE, "the worker paid the decline fee");
        assertEq(_refunded(), deposit, "the client is refunded in full");
    }

    /// @dev A worker becomes eligible (lower price) after seeing the draw's hash: it is not a candidate of a draw
    ///      committed before its change.
    function test_attack_changeOfferAfterSeeingTheHash_notACandidate() public {
        uint256 id = _buy(3600);
        _roll(DRAW_DELAY + 1);
        address late = address(0x1A7E);
        _register(late, PRICE); // registers after the purchase
        uint256 lateId = r.workerIdOf(late);
        for (uint256 i = 1; i <= 10; ++i) {
            vm.prank(_workerAddr(i));
            r.pauseWorker();
        }
        // everyone else paused: only the late worker is active, and it must not be drawn
        d.draw(id);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "nobody eligible: refunded");
        assertTrue(r.getAgreement(id).workerId != lateId, "the late worker was not drawn");
    }

    // ------------------------------------------------------------------ 3. verifiers paid for the truth

    /// @dev A verifier reports before the batch ended (without having probed it) or after the window: refused; a
    ///      verifier that missed the window is silent and pays 2 rewards per period.
    function test_attack_earlyAndLateReports_refused_silenceCosts() public {
        uint256 id = _run(3600);
        address lazy = _verifier(id, 2);
        uint256 before = _worth(lazy);
        uint256 end = _endOf(id);
        vm.warp(end - 1);
        vm.prank(lazy);
        vm.expectRevert(abi.encodeWithSelector(I.ReportTooEarly.selector, 0, end));
        d.confirmBatch(id, 0);
        vm.warp(end);
        _report(id, 0, 0, _all(60), _all(60));
        _report(id, 0, 1, _all(60), _all(60));
        vm.warp(end + REPORT_WINDOW);
        vm.prank(lazy);
        vm.expectRevert(abi.encodeWithSelector(I.ReportTooLate.selector, 0, end + REPORT_WINDOW));
        d.confirmBatch(id, 0);
        d.settle(id);
        emit log_named_int("late verifier gain, wei", _gain(lazy, before));
        assertEq(before - _worth(lazy), 60 * 2 * RW, "silence: 2 rewards per period burned, nothing earned");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "2 of 3 settle it");
    }

    /// @dev A lazy verifier reports "all ok" without probing. The worker was down for 10 periods; the two honest
    ///      verifiers say so. Honest: 60 rewards. Lazy: 50 rewards - 10 x 2 rewards of penalty = 30 rewards.
    function test_attack_lazyVerifier_losesAgainstHonest() public {
        uint256 id = _run(3600);
        uint256 down = _all(10);
        address honest = _verifier(id, 0);
        address lazy = _verifier(id, 2);
        uint256 hb = _worth(honest);
        uint256 lb = _worth(lazy);
        vm.warp(_endOf(id));
        _report(id, 0, 0, _all(60) & ~down, _all(60));
        _report(id, 0, 1, _all(60) & ~down, _all(60));
        _report(id, 0, 2, _all(60), _all(60)); // lazy: never probed
        d.settle(id);
        int256 hg = _gain(honest, hb);
        int256 lg = _gain(lazy, lb);
        emit log_named_int("honest verifier gain, wei", hg);
        emit log_named_int("lazy verifier gain, wei", lg);
        assertEq(uint256(hg), 60 * RW, "honest: every period");
        assertEq(uint256(lg), 50 * RW - 10 * 2 * RW, "lazy: 30 rewards");
    }

    /// @dev The worker is down and bribes one verifier to say "ok". The honest majority settles; the bribed
    ///      verifier loses 3 rewards per lied period against honesty; the worker is slashed anyway.
    function test_attack_bribedMinorityVerifier_outcomeUnchanged_liarLoses() public {
        uint256 id = _run(3600);
        uint256 wid = r.getAgreement(id).workerId;
        address bribed = _verifier(id, 1);
        uint256 bb = _worth(bribed);
        uint256 wb = _worth(_owner(wid));
        vm.warp(_endOf(id));
        _report(id, 0, 0, 0, _all(60)); // the service was down the whole hour
        _report(id, 0, 1, _all(60), _all(60)); // bribed: "all ok"
        _report(id, 0, 2, 0, _all(60));
        d.settle(id);
        emit log_named_int("bribed verifier gain before the bribe, wei", _gain(bribed, bb));
        emit log_named_int("worker gain, wei", _gain(_owner(wid), wb));
        assertEq(bb - _worth(bribed), 60 * 2 * RW, "liar: penalty on every period, no reward");
        assertEq(wb - _worth(_owner(wid)), 60 * PP, "worker slashed as if nobody lied: the bribe bought nothing");
    }

    /// @dev A verifier whose own network is down abstains explicitly: it earns nothing and loses nothing, and
    ///      its abstention does not fail the worker (issue 14).
    function test_abstention_isNotAFailure() public {
        uint256 id = _run(3600);
        uint256 wid = r.getAgreement(id).workerId;
        address v = _verifier(id, 2);
        uint256 vb = _worth(v);
        vm.warp(_endOf(id));
        _report(id, 0, 0, _all(60), _all(60));
        _report(id, 0, 1, _all(60), _all(60));
        _report(id, 0, 2, 0, 0); // every period: no vote
        d.settle(id);
        assertEq(_worth(v), vb, "abstaining verifier: no reward, no penalty");
        assertEq(r.reputationCounters(wid).failedPeriods, 0, "not a failure of the worker");
        assertEq(r.reputationCounters(wid).verifiedPeriods, 60, "two agreeing verifiers are a majority of 3");
    }

    // ------------------------------------------------------------------ 4. solvency at period boundaries

    /// @dev The client stops exactly at the boundary that would begin a new report batch (period 1,440 of 1,500).
    ///      v1 paid a verifier reward twice at such a boundary. v2 pays at settlement only: every period once, and
    ///      the contract holds everything it owes.
    function test_attack_boundaryStop_noDoublePay() public {
        uint256 id = _run(1500 * PERIOD);
        uint256 start = r.getAgreement(id).deadline;
        vm.warp(start + 1440 * PERIOD);
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(r.getAgreement(id).billablePeriods, 1440, "1,440 periods begun");
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _confirm(id, 0, i);
        }
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.BatchOutOfRange.selector, 1, 1));
        d.confirmBatch(id, 1);
        uint256 deposit = r.getAgreement(id).escrow;
        uint256 balanceBefore = address(d).balance;
        d.settle(id);
        uint256 wid = r.getAgreement(id).workerId;
        assertEq(r.getWorker(wid).stake, MIN_STAKE + 1440 * PP, "worker: 1,440 periods once");
        assertEq(_refunded(), deposit - 1440 * PP - 3 * 1440 * RW, "client: the rest");
        assertEq(address(d).balance, balanceBefore - _refunded(), "settlement moves out only the client's refund");
        for (uint256 i = 1; i <= 10; ++i) {
            address w = _workerAddr(i);
            uint256 extra = r.getWorker(i).stake - MIN_STAKE;
            if (extra != 0) {
                vm.prank(w);
                r.withdrawStake(extra); // every earner takes its earnings out: nothing reverts
            }
        }
        assertEq(address(d).balance, 10 * uint256(MIN_STAKE), "exactly the stakes remain");
    }

    // ------------------------------------------------------------------ 5. exposure collateralised

    /// @dev One worker with the minimum stake takes every agreement it is drawn for: its free stake covers two of
    ///      these (0.36 ether exposure each), the third finds it ineligible and is refunded in full.
    function test_attack_oneStakeManyAgreements_capped() public {
        _deploy();
        uint64 hi = 1e14; // 0.36 ether per hour
        _register(_workerAddr(1), hi);
        for (uint256 i = 2; i <= 6; ++i) {
            _register(_workerAddr(i), type(uint64).max); // verifiers only: too expensive to be drawn as worker
        }
        _roll(1);
        I.Requirements memory q = _req(3600, 3);
        q.maxPricePerSecond = hi;
        uint256 lock = 60 * uint256(hi) * PERIOD + DECLINE_FEE;
        uint256 accepted;
        for (uint256 k; k < 3; ++k) {
            uint256 id = _buyAs(client, q);
            _roll(DRAW_DELAY + 1);
            if (r.previewWorker(id) == 1) {
                vm.prank(_workerAddr(1));
                d.acceptAgreement(id, "");
                ++accepted;
            } else {
                d.draw(id);
                assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "refunded");
            }
        }
        I.WorkerView memory w = r.getWorker(1);
        emit log_named_uint("agreements one 1-ether stake backs at 0.36 ether exposure", accepted);
        assertEq(accepted, MIN_STAKE / lock, "as many as the stake covers");
        assertEq(w.locked, accepted * lock, "each one's exposure locked");
        assertLe(w.locked, w.stake, "never more than the stake");
    }

    // ------------------------------------------------------------------ 6. reputation costs real work

    /// @dev A worker buys its own work under a second address to farm reputation. The draw never gives a client
    ///      its own worker; when the second identity is drawn by chance (here: the only eligible worker), the farm
    ///      pays the independent verifiers 15% of the pay: 3 rewards per verified period.
    function test_attack_selfDealing_costsTheVerifierFees() public {
        _deploy();
        address farmWorker = _workerAddr(1);
        address farmClient = address(0xFA4);
        _register(farmWorker, PRICE);
        _register(farmClient, type(uint64).max); // the client's own worker id: never drawn for its purchases
        for (uint256 i = 2; i <= 5; ++i) {
            _register(_workerAddr(i), type(uint64).max);
        }
        _roll(1);
        uint256 before = _worth(farmWorker) + _worth(farmClient);
        uint256 id = _buyAs(farmClient, _req(3600, 3));
        _roll(DRAW_DELAY + 1);
        vm.prank(farmWorker);
        d.acceptAgreement(id, "");
        _startAndDraw(id);
        for (uint256 i; i < 3; ++i) {
            assertTrue(_verifier(id, i) != farmClient, "the client is never its own verifier");
        }
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _report(id, 0, i, _all(60), _all(60));
        }
        d.settle(id);
        uint256 afterWorth = _worth(farmWorker) + _worth(farmClient);
        emit log_named_uint("self-dealer's cost for 60 verified periods, wei", before - afterWorth);
        emit log_named_uint("reputation bought, permille", r.reputationOf(1));
        assertEq(before - afterWorth, 3 * 60 * RW, "paid the verifiers 3 rewards per period");
        assertEq(r.reputationOf(1), 60 * 1000 / 160, "60 verified periods: 375 permille");
    }

    /// @dev Reputation cannot be shed: a new identity starts at 0, below any client's minimum.
    function test_attack_newIdentity_startsAtTheBottom() public {
        address fresh = address(0xF4E54);
        _register(fresh, PRICE);
        assertEq(r.reputationOf(r.workerIdOf(fresh)), 0, "a new identity has no reputation");
    }

    // ------------------------------------------------------------------ 7. liveness under abuse

    /// @dev Messages after the end, or oversized, are refused (covered in the unit tests); junk verifiers that
    ///      never report pay 2 rewards per period each time they are drawn, so they drain their own stakes.
    function test_attack_junkVerifier_drainsItself() public {
        uint256 id = _run(3600);
        address junk = _verifier(id, 0);
        uint256 before = _worth(junk);
        vm.warp(_endOf(id));
        _report(id, 0, 1, _all(60), _all(60));
        _report(id, 0, 2, _all(60), _all(60));
        vm.warp(_endOf(id) + REPORT_WINDOW);
        d.settle(id);
        assertEq(before - _worth(junk), 120 * RW, "never reporting costs 2 rewards per period");
    }

    // ------------------------------------------------------------------ refunds sent at once

    /// @dev A client buys, the agreement runs one period of its hour and stops, and the worker settles: returns the
    ///      agreement and the settlement's gas.
    function _settledFor(address buyer, function(address, uint256) internal returns (uint256) buy)
        internal
        returns (uint256 id, uint256 refund, uint256 gas)
    {
        id = buy(buyer, 0);
        _accept(id);
        _startAndDraw(id);
        vm.warp(r.getAgreement(id).deadline + 1);
        vm.prank(buyer);
        d.stopAgreement(id); // 1 of 60 periods billable: most of the deposit comes back
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _confirm(id, 0, i);
        }
        refund = r.getAgreement(id).escrow - PP - 3 * RW;
        address w = _owner(r.getAgreement(id).workerId);
        uint256 g = gasleft();
        vm.prank(w);
        d.settle(id);
        gas = g - gasleft();
    }

    function _buyByGriefer(address g, uint256) internal returns (uint256) {
        I.Requirements memory q = _req(3600, 3);
        uint256 value = _quote(q);
        vm.deal(g, value);
        return RefundGriefer(payable(g)).buy(q, value);
    }

    function _buyByClient(address, uint256) internal returns (uint256) {
        return _buy(3600);
    }

    /// @dev The common case: an account takes its refund in the settlement itself, no credit, no withdraw.
    function test_refund_sentAtOnce_toAnAccount() public {
        (uint256 id, uint256 refund,) = _settledFor(client, _buyByClient);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled");
        assertEq(client.balance - clientBase, refund, "the refund is in the client's wallet");
        assertEq(r.creditOf(client), 0, "nothing left to withdraw");
    }

    /// @dev A client contract whose receive() needs more than the stipend (a counting wallet): credited, and it
    ///      withdraws the credit itself.
    function test_refund_creditedWhenTheStipendIsNotEnough() public {
        CountingWallet wallet = new CountingWallet();
        (, uint256 refund,) = _settledFor(address(wallet), _buyByWallet);
        assertEq(r.creditOf(address(wallet)), refund, "credited");
        wallet.withdrawFrom(d);
        assertEq(wallet.received(), refund, "withdrawn with all the gas it needs");
        assertEq(r.creditOf(address(wallet)), 0, "credit taken");
    }

    function _buyByWallet(address wallet, uint256) internal returns (uint256 id) {
        I.Requirements memory q = _req(3600, 3);
        uint256 value = _quote(q);
        vm.deal(wallet, value);
        vm.prank(wallet);
        id = d.buyContract{value: value}(q);
    }

    /// @dev Attack: a client refuses its refund (reverting receive) to make the worker's settlement fail and keep
    ///      its pay locked. The settlement succeeds; the refund waits as a credit; the worker is paid.
    function test_attack_clientRefusesItsRefund_cannotBlockTheSettlement() public {
        RefundGriefer g = new RefundGriefer(d);
        (uint256 id, uint256 refund,) = _settledFor(address(g), _buyByGriefer);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled all the same");
        assertEq(r.creditOf(address(g)), refund, "the refund waits as a credit");
        assertEq(r.getWorker(r.getAgreement(id).workerId).locked, 0, "the worker's lock released");
    }

    /// @dev Attack: a client burns every bit of gas its refund carries, to make settling it cost the worker a
    ///      fortune. It gets the call stipend (2,300 gas) and nothing more: the settlement costs the same as an
    ///      honest client's, plus that stipend.
    function test_attack_clientBurnsGasOnItsRefund_boundedByTheStipend() public {
        (,, uint256 honest) = _settledFor(client, _buyByClient);
        RefundGriefer g = new RefundGriefer(d);
        g.setMode(1, 0);
        (uint256 id, uint256 refund, uint256 griefed) = _settledFor(address(g), _buyByGriefer);
        emit log_named_uint("settle gas, honest client", honest);
        emit log_named_uint("settle gas, gas-burning client", griefed);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled");
        assertEq(r.creditOf(address(g)), refund, "credited");
        assertLe(griefed, honest + 30_000, "at most the stipend and a credit's storage more");
    }

    /// @dev Attack: a client re-enters on its refund to withdraw it as a credit too (paid twice). The stipend
    ///      cannot pay for a call into the dispatcher; the refund is credited once, and only once.
    function test_attack_clientReentersOnItsRefund_paidOnce() public {
        RefundGriefer g = new RefundGriefer(d);
        g.setMode(2, 0);
        uint256 held = address(d).balance;
        (uint256 id, uint256 refund,) = _settledFor(address(g), _buyByGriefer);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Settled), "settled");
        assertEq(address(g).balance, 0, "nothing sent during the settlement");
        assertEq(r.creditOf(address(g)), refund, "credited once");
        assertGe(address(d).balance, held, "the contract still holds what it owes");
    }
}
