// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";

/// @notice Unit tests of the v2 life cycle: each step, its errors, the settlement arithmetic.
contract WorkerDispatcherV2Test is V2Base {
    function setUp() public {
        _deploy();
        _registerMany(10);
    }

    function test_codeSizesBelowEip170() public view {
        assertLe(address(d).code.length, 24_576, "dispatcher runtime");
        assertLe(d.module().code.length, 24_576, "module runtime");
    }

    function test_fullLifecycle_allOk_creditsAndWithdraws() public {
        uint256 id = _run(3600);
        I.AgreementView memory a = r.getAgreement(id);
        assertEq(a.periods, 60, "periods");
        vm.warp(_endOf(id));
        for (uint256 i; i < 3; ++i) {
            _confirm(id, 0, i);
        }
        d.settle(id);
        uint256 periodPrice = uint256(PRICE) * PERIOD;
        uint256 reward = periodPrice * FEE_BPS / 10_000;
        address w = _owner(a.workerId);
        assertEq(r.getWorker(a.workerId).stake, MIN_STAKE + 60 * periodPrice, "pay added to the worker's stake");
        for (uint256 i; i < 3; ++i) {
            assertEq(r.getWorker(a.verifierIds[i]).stake, MIN_STAKE + 60 * reward, "reward added to the stake");
            assertEq(r.getWorker(a.verifierIds[i]).locked, 0, "bond released");
        }
        assertEq(_refunded(), 0, "nothing left for the client at the max price");
        assertEq(r.getWorker(a.workerId).locked, 0, "lock released");
        uint256 before = w.balance;
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE));
        r.withdrawStake(60 * periodPrice + 1);
        vm.prank(w);
        r.withdrawStake(60 * periodPrice);
        assertEq(w.balance - before, 60 * periodPrice, "earnings withdrawn, the minimum stays");
        assertEq(address(d).balance, 10 * uint256(MIN_STAKE) + 3 * 60 * reward, "stakes and the rewards remain");
    }

    function test_buy_rejectsBadRequirementsAndPayment() public {
        I.Requirements memory q = _req(3600, 2);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidRequirements.selector, 5));
        d.buyContract{value: 1}(q);
        q = _req(3600, 3);
        q.specCommit = bytes32(0);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidRequirements.selector, 6));
        d.buyContract{value: 1}(q);
        q = _req(3600, 3);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.WrongPayment.selector, 1, _quote(q)));
        d.buyContract{value: 1}(q);
    }

    function test_buy_refusesAgreementsTooSmallToPayVerifiers() public {
        I.Requirements memory q = _req(600, 3); // 10 periods: 10 x 3e12 = 3e13 < 1e14
        uint256 value = _quote(q);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.AgreementTooSmall.selector, 3e13, MIN_VERIFIER_PAY));
        d.buyContract{value: value}(q);
    }

    function test_draw_waitsForTheDrawBlock() public {
        uint256 id = _buy(3600);
        vm.expectRevert(abi.encodeWithSelector(I.DrawNotReady.selector, id, block.number + DRAW_DELAY));
        d.draw(id);
        assertEq(r.previewWorker(id), 0, "nothing to preview yet");
        _roll(DRAW_DELAY + 1);
        uint256 wid = r.previewWorker(id);
        d.draw(id);
        assertEq(r.getAgreement(id).workerId, wid, "the preview is the draw");
    }

    function test_draw_reschedulesWhenTheHashIsGone() public {
        uint256 id = _buy(3600);
        _roll(DRAW_DELAY + 300);
        d.draw(id);
        I.AgreementView memory a = r.getAgreement(id);
        assertEq(uint256(a.status), uint256(I.AgreementStatus.Purchased), "still purchased");
        assertEq(a.drawBlock, block.number + DRAW_DELAY, "rescheduled deterministically");
    }

    function test_accept_locksStake_onlyTheDrawnWorker() public {
        uint256 id = _buy(3600);
        _roll(DRAW_DELAY + 1);
        uint256 wid = r.previewWorker(id);
        address other = _workerAddr(wid % 10 + 1);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(I.NotWorker.selector, id, other));
        d.acceptAgreement(id, "");
        vm.prank(_owner(wid));
        d.acceptAgreement(id, "");
        I.AgreementView memory a = r.getAgreement(id);
        assertEq(a.workerLock, 60 * uint256(PRICE) * PERIOD + DECLINE_FEE, "lock = all periods + decline fee");
        assertEq(r.getWorker(wid).locked, a.workerLock, "locked");
    }

    function test_rejectSpec_needsTheCommittedSpec_andCostsNobody() public {
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 wid = r.workerIdOf(w);
        uint256 deposit = r.getAgreement(id).escrow;
        vm.prank(w);
        vm.expectRevert();
        d.rejectSpec(id, bytes("another spec"), SALT);
        vm.prank(w);
        d.rejectSpec(id, SPEC, SALT);
        assertEq(_refunded(), deposit, "client refunded in full");
        assertEq(r.getWorker(wid).stake, MIN_STAKE, "worker keeps its whole stake");
        assertEq(r.getWorker(wid).locked, 0, "unlocked");
        assertEq(r.reputationCounters(wid).specsRejected, 1, "recorded");
    }

    function test_messages_boundedAndOnlyWhileOpen() public {
        uint256 id = _run(3600);
        address v0 = _verifier(id, 0);
        vm.prank(v0);
        d.postMessage(id, 1 | 2, new bytes(2048));
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(I.MessageTooLarge.selector, 2049, 2048));
        d.postMessage(id, 1 | 2, new bytes(2049));
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidRecipients.selector, id, 1 << 5));
        d.postMessage(id, 1 << 5, new bytes(10));
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(I.NotParty.selector, id, address(0xBAD)));
        d.postMessage(id, 1, new bytes(10));
        vm.warp(_endOf(id));
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.AgreementClosed.selector, id));
        d.postMessage(id, 2, new bytes(10));
    }

    function test_reports_onlyInTheirWindow() public {
        uint256 id = _run(3600);
        uint256 end = _endOf(id);
        vm.warp(end - 1);
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.ReportTooEarly.selector, 0, end));
        d.submitReport(id, 0, _one(1), _one(1));
        vm.warp(end + REPORT_WINDOW);
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.ReportTooLate.selector, 0, end + REPORT_WINDOW));
        d.submitReport(id, 0, _one(1), _one(1));
        vm.warp(end);
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.InvalidReport.selector, 0, 2, 1));
        d.submitReport(id, 0, _one(2), _one(1));
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.InvalidReport.selector, 0, 0, uint256(1) << 60));
        d.submitReport(id, 0, _one(0), _one(uint256(1) << 60));
        _report(id, 0, 0, 1, 1);
        uint256 vid = r.getAgreement(id).verifierIds[0];
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 0, vid));
        d.submitReport(id, 0, _one(1), _one(1));
    }

    /// @dev One report per verifier and batch, whichever kind comes first: batch 0's marks live in the agreement's
    ///      own slot, later batches' in the ledger; both refuse the second report in either order.
    function test_reports_onePerVerifierAndBatch_eitherOrder() public {
        uint256 id = _run(1500 * PERIOD); // batches 0 (1,440 periods) and 1 (60)
        I.AgreementView memory a = r.getAgreement(id);
        vm.warp(a.deadline + 1440 * PERIOD);
        _confirm(id, 0, 0);
        uint256[] memory words = new uint256[](12);
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 0, a.verifierIds[0]));
        d.submitReport(id, 0, words, words);
        vm.prank(_verifier(id, 1));
        d.submitReport(id, 0, words, words); // abstains on all of batch 0
        vm.prank(_verifier(id, 1));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 0, a.verifierIds[1]));
        d.confirmBatch(id, 0);
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 0, a.verifierIds[0]));
        d.confirmBatch(id, 0);
        (bool submitted, uint256 ok,) = r.getReport(id, 0, 0);
        assertTrue(submitted && ok == _all(120), "a confirmation reads as every period ok");
        (submitted,,) = r.getReport(id, 0, 2);
        assertTrue(!submitted, "verifier 2 has not reported batch 0");
        vm.warp(_endOf(id));
        _confirm(id, 1, 2);
        vm.prank(_verifier(id, 2));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 1, a.verifierIds[2]));
        d.submitReport(id, 1, _one(_all(60)), _one(_all(60)));
        _report(id, 1, 0, _all(60), _all(60));
        vm.prank(_verifier(id, 0));
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyReported.selector, id, 1, a.verifierIds[0]));
        d.confirmBatch(id, 1);
        (submitted, ok,) = r.getReport(id, 12, 2);
        assertTrue(submitted && ok == _all(60), "batch 1's confirmation reads as its 60 periods ok");
    }

    function test_settle_majorityAbstentionSilenceAndDissent() public {
        uint256 id = _run(3600);
        I.AgreementView memory a = r.getAgreement(id);
        vm.warp(_endOf(id));
        uint256 all = _all(60);
        // periods 0..9 failed per verifiers 0 and 1; verifier 2 never reports (silent).
        // periods 10..19: verifier 0 abstains, verifier 1 ok -> no majority: undecided (not paid, not slashed).
        uint256 failed = _all(10);
        uint256 undecided = _all(20) & ~failed;
        _report(id, 0, 0, all & ~failed & ~undecided, all & ~undecided);
        _report(id, 0, 1, all & ~failed, all);
        vm.expectRevert(abi.encodeWithSelector(I.SettlementTooEarly.selector, id, _endOf(id) + REPORT_WINDOW));
        d.settle(id);
        vm.warp(_endOf(id) + REPORT_WINDOW);
        d.settle(id);
        uint256 periodPrice = uint256(PRICE) * PERIOD;
        uint256 reward = periodPrice * FEE_BPS / 10_000;
        assertEq(r.getWorker(a.workerId).stake, MIN_STAKE + 40 * periodPrice - 10 * periodPrice,
            "40 ok periods paid into the stake, 10 failed periods burned");
        assertEq(r.getWorker(a.verifierIds[0]).stake, MIN_STAKE + 50 * reward, "v0: 40 ok + 10 failed agreeing");
        assertEq(r.getWorker(a.verifierIds[1]).stake, MIN_STAKE + 50 * reward,
            "v1: its ok votes on undecided periods earn nothing and cost nothing");
        assertEq(r.getWorker(a.verifierIds[2]).stake, MIN_STAKE - 60 * 2 * reward, "silent: 2 rewards per period burned");
        uint256 deposit = 60 * (periodPrice + 3 * reward);
        assertEq(_refunded(), deposit - 40 * periodPrice - 100 * reward, "client gets the rest");
    }

    function test_stop_atBoundaryBillsOnlyBegunPeriods() public {
        uint256 id = _run(3600);
        uint256 start = r.getAgreement(id).deadline;
        vm.warp(start + 10 * PERIOD);
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(r.getAgreement(id).billablePeriods, 10, "exactly at the boundary: 10, not 11");
        vm.warp(start + 10 * PERIOD);
        vm.prank(client);
        d.stopAgreement(id); // idempotent
        assertEq(r.getAgreement(id).billablePeriods, 10, "still 10");
    }

    function test_cancel_burnsTheFee() public {
        uint256 id = _buy(3600);
        uint256 deposit = r.getAgreement(id).escrow;
        uint256 burnBefore = r.BURN().balance;
        vm.prank(client);
        d.cancelAgreement(id);
        assertEq(_refunded(), deposit - CANCEL_FEE, "refund minus the fee");
        assertEq(r.BURN().balance - burnBefore, CANCEL_FEE, "fee burned");
    }

    function test_plainEtherIsRefused() public {
        (bool ok,) = address(d).call{value: 1}("");
        assertTrue(!ok, "no plain transfers");
    }

    /// @dev 3,000-period job stopped at period 2,000: batch 0 (1,440 periods, 12 words), batch 1 (560 periods, 5 words).
    function test_multiBatch_mixedReports_stopInTheSecondBatch() public {
        uint256 id = _run(3000 * PERIOD);
        I.AgreementView memory a = r.getAgreement(id);
        vm.warp(a.deadline + 2000 * PERIOD - 30);
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(r.getAgreement(id).billablePeriods, 2000, "2,000 periods begun");
        vm.warp(a.deadline + 1440 * PERIOD - 1);
        address v0 = _verifier(id, 0);
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(I.ReportTooEarly.selector, 0, a.deadline + 1440 * PERIOD));
        d.confirmBatch(id, 0);
        vm.warp(a.deadline + 1440 * PERIOD);
        _confirm(id, 0, 0);
        _confirm(id, 0, 1); // verifier 2 stays silent on batch 0
        vm.warp(a.deadline + 2000 * PERIOD);
        _confirm(id, 1, 0);
        _confirm(id, 1, 2);
        uint256[] memory ok = new uint256[](5);
        uint256[] memory voted = new uint256[](5);
        for (uint256 j; j < 5; ++j) {
            voted[j] = _all(j < 4 ? 120 : 80);
            ok[j] = voted[j];
        }
        ok[0] &= ~(uint256(1) << 60); // verifier 1: period 1440 + 60 = 1500 failed
        address v1 = _verifier(id, 1);
        uint256[] memory four = new uint256[](4);
        vm.prank(v1);
        vm.expectRevert(abi.encodeWithSelector(I.WrongWordCount.selector, 1, 4, 5));
        d.submitReport(id, 1, four, four);
        vm.prank(v1);
        d.submitReport(id, 1, ok, voted);
        (bool submitted, uint256 okBits,) = r.getReport(id, 12, 1);
        assertTrue(submitted, "word 12 stored");
        assertEq(okBits, ok[0], "as sent");
        (submitted, okBits,) = r.getReport(id, 3, 0);
        assertEq(okBits, _all(120), "a confirmed batch reads as all ok");
        uint256 reward = uint256(PRICE) * PERIOD * FEE_BPS / 10_000;
        uint256[3] memory before;
        for (uint256 i; i < 3; ++i) {
            before[i] = r.getWorker(a.verifierIds[i]).stake;
        }
        vm.warp(a.deadline + 2000 * PERIOD + REPORT_WINDOW);
        d.settle(id);
        assertEq(r.getWorker(a.workerId).stake, MIN_STAKE + 2000 * uint256(PRICE) * PERIOD, "2,000 periods paid");
        assertEq(r.getWorker(a.verifierIds[0]).stake, before[0] + 2000 * reward, "v0: every vote agreed");
        assertEq(r.getWorker(a.verifierIds[1]).stake, before[1] + 1999 * reward - 2 * reward, "v1: one dissent");
        assertEq(r.getWorker(a.verifierIds[2]).stake, before[2] + 560 * reward - 1440 * 2 * reward,
            "v2: silent on batch 0");
    }

    function test_expire_startMissed_burnsTheDeclineFee() public {
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 wid = r.workerIdOf(w);
        uint256 deposit = r.getAgreement(id).escrow;
        vm.expectRevert(abi.encodeWithSelector(I.DeadlineNotPassed.selector, id, block.timestamp + START_WINDOW));
        d.expireAgreement(id);
        vm.warp(block.timestamp + START_WINDOW + 1);
        d.expireAgreement(id);
        assertEq(_refunded(), deposit, "client refunded in full");
        assertEq(r.getWorker(wid).stake, MIN_STAKE - DECLINE_FEE, "worker paid for the time it held the money");
        assertEq(r.getWorker(wid).locked, 0, "unlocked");
        assertEq(r.reputationCounters(wid).failedAgreements, 1, "counted");
    }

    function test_unregister_coolDown_thenWithdrawAll() public {
        address w = _workerAddr(1);
        vm.prank(w);
        r.unregisterWorker();
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.CoolDownNotOver.selector, 1, block.timestamp + COOL_DOWN));
        r.withdrawStake(MIN_STAKE);
        vm.warp(block.timestamp + COOL_DOWN);
        uint256 before = w.balance;
        vm.prank(w);
        r.withdrawStake(MIN_STAKE);
        assertEq(w.balance - before, MIN_STAKE, "whole stake back");
        assertEq(uint256(r.getWorker(1).status), uint256(I.WorkerStatus.None), "gone");
        _register(w, PRICE);
        assertEq(r.workerIdOf(w), 1, "same id, same record");
    }

    function test_declineLimit_refundsTheClient() public {
        uint256 id = _buy(3600);
        uint256 deposit = r.getAgreement(id).escrow;
        for (uint256 k; k <= 3; ++k) {
            address w = _accept(id);
            vm.prank(w);
            d.declineAgreement(id);
        }
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "ended");
        assertEq(_refunded(), deposit, "client refunded in full");
    }

    function test_noVerifiers_endsWithoutFault() public {
        _deploy();
        for (uint256 i = 1; i <= 3; ++i) {
            _register(_workerAddr(i), PRICE); // a worker and only two possible verifiers
        }
        _roll(1);
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 deposit = r.getAgreement(id).escrow;
        _start(id);
        d.drawVerifiers(id, "");
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "ended");
        assertEq(_refunded(), deposit, "client refunded in full");
        assertEq(r.getWorker(r.workerIdOf(w)).locked, 0, "worker unlocked");
        assertEq(r.getWorker(r.workerIdOf(w)).stake, MIN_STAKE, "worker not blamed");
    }

    function test_accept_carriesTheOfferToTheClient() public {
        uint256 id = _buy(3600);
        _roll(DRAW_DELAY + 1);
        address w = _owner(r.previewWorker(id));
        bytes memory offer = hex"00030a0b0c";
        vmx.expectEmit(true, true, false, true, address(d));
        emit I.MessagePosted(id, w, 1, offer);
        vm.prank(w);
        d.acceptAgreement(id, offer);
    }
}
