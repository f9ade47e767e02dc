// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherBase} from "./utils/DispatcherBase.sol";
import {WorkerDispatcher} from "../src/WorkerDispatcher.sol";

/// @notice Reverts on receiving ether (to test failed transfers).
contract Rejecter {
    function register(WorkerDispatcher d, bytes calldata key) external payable {
        d.registerWorker{value: msg.value}(1 gwei, 30 days, 4000, 8192, key);
    }

    function unregister(WorkerDispatcher d) external {
        d.unregisterWorker();
    }

    function withdraw(WorkerDispatcher d) external {
        d.withdrawStake();
    }
}

/// @notice Tries to re-enter the dispatcher when paid.
contract Reenterer {
    WorkerDispatcher internal d;
    uint256 internal agreementId;
    bool public reentered;
    bytes public reason;

    constructor(WorkerDispatcher d_) {
        d = d_;
    }

    function buy(WorkerDispatcher.Requirements calldata r) external payable returns (uint256 id) {
        id = d.buyContract{value: msg.value}(r);
        agreementId = id;
    }

    function cancel() external {
        d.cancelAgreement(agreementId);
    }

    function claim() external {
        d.claimRefund(agreementId);
    }

    receive() external payable {
        try d.claimRefund(agreementId) {
            reentered = true;
        } catch (bytes memory r) {
            reason = r;
        }
    }
}

contract WorkerDispatcherTest is DispatcherBase {
    event WorkerRegistered(
        uint256 indexed workerId,
        address indexed owner,
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes publicKey,
        uint256 stake
    );
    event AgreementSettled(
        uint256 indexed agreementId,
        uint256 indexed workerId,
        uint256 paidPeriods,
        uint256 failedPeriods,
        uint256 workerPayment,
        uint256 clientRefund,
        uint256 slashed
    );
    event MessagePosted(
        uint256 indexed agreementId, address indexed sender, address indexed recipient, bytes ciphertext
    );

    function setUp() public {
        _deploy();
        _registerMany(6);
    }

    // ------------------------------------------------------------------ constructor / config

    function test_constructor_rejectsBadConfig() public {
        vm.expectRevert(WorkerDispatcher.InvalidConfig.selector);
        new WorkerDispatcher(0, 1, 1, 1, 1, 1, 1);
        vm.expectRevert(WorkerDispatcher.InvalidConfig.selector);
        new WorkerDispatcher(1, 1, 1, 1, 1, 10_001, 1);
    }

    function test_codeSizeBelowEip170Limit() public view {
        assertLe(address(d).code.length, 24_576, "runtime code size (EIP-170)");
    }

    function test_config() public view {
        (uint256 a, uint256 b, uint256 c, uint256 e, uint256 f, uint256 g, uint256 h) = d.config();
        assertEq(a, MIN_STAKE, "min stake");
        assertEq(
            b + c + e + f + g + h,
            ACCEPT_WINDOW + START_WINDOW + REPORT_WINDOW + COOL_DOWN + FEE_BPS + SLASH_BPS,
            "rest"
        );
        assertEq(d.workerCount(), 6, "workers");
        assertEq(d.activeWorkerCount(), 6, "active");
    }

    // ------------------------------------------------------------------ registration

    function test_registerWorker_storesOfferAndEmits() public {
        address w = address(0xBEEF);
        vm.deal(w, 2 ether);
        vm.expectEmit();
        emit WorkerRegistered(7, w, 5, 3600, 2000, 4096, PUBKEY, 2 ether);
        vm.prank(w);
        uint256 id = d.registerWorker{value: 2 ether}(5, 3600, 2000, 4096, PUBKEY);
        assertEq(id, 7, "id");
        assertEq(d.workerIdOf(w), 7, "id of");
        WorkerDispatcher.WorkerView memory v = d.getWorker(id);
        assertEq(v.owner, w, "owner");
        assertEq(v.pricePerSecond, 5, "price");
        assertEq(v.maxDuration, 3600, "duration");
        assertEq(v.cpuMillicores, 2000, "cpu");
        assertEq(v.memoryMB, 4096, "mem");
        assertEq(v.stake, 2 ether, "stake");
        assertEq(v.publicKey, PUBKEY, "key");
        assertTrue(v.assignable, "assignable");
        assertEq(uint256(v.status), uint256(WorkerDispatcher.WorkerStatus.Active), "status");
        assertEq(d.reputationOf(id), 500, "new reputation");
        assertEq(address(d).balance, 8 ether, "balance");
    }

    function test_registerWorker_revertsOnLowStake() public {
        address w = address(0xBEEF);
        vm.deal(w, 1 ether);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.StakeTooLow.selector, 0.5 ether, MIN_STAKE));
        d.registerWorker{value: 0.5 ether}(1, 1, 1, 1, PUBKEY);
    }

    function test_registerWorker_revertsOnBadOffer() public {
        address w = address(0xBEEF);
        vm.deal(w, 1 ether);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidOffer.selector, 0, 1, 1, 1));
        d.registerWorker{value: 1 ether}(0, 1, 1, 1, PUBKEY);
    }

    function test_registerWorker_revertsOnBadKeyLength() public {
        address w = address(0xBEEF);
        vm.deal(w, 1 ether);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidPublicKey.selector, 33));
        d.registerWorker{value: 1 ether}(1, 1, 1, 1, new bytes(33));
    }

    function test_registerWorker_revertsOnPointOffCurve() public {
        address w = address(0xBEEF);
        vm.deal(w, 1 ether);
        bytes memory key = PUBKEY;
        key[63] = 0x00;
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidPublicKey.selector, 64));
        d.registerWorker{value: 1 ether}(1, 1, 1, 1, key);
    }

    function test_registerWorker_revertsWhenRegistered() public {
        address w = _workerAddr(1);
        vm.deal(w, 1 ether);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.AlreadyRegistered.selector, w, 1));
        d.registerWorker{value: 1 ether}(1, 1, 1, 1, PUBKEY);
    }

    function test_updateWorker() public {
        address w = _workerAddr(2);
        vm.prank(w);
        d.updateWorker(9, 99, 999, 9999, PUBKEY);
        WorkerDispatcher.WorkerView memory v = d.getWorker(2);
        assertEq(v.pricePerSecond, 9, "price");
        assertEq(v.maxDuration, 99, "duration");
        assertEq(v.cpuMillicores, 999, "cpu");
        assertEq(v.memoryMB, 9999, "mem");
    }

    function test_updateWorker_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotRegistered.selector, address(this)));
        d.updateWorker(9, 99, 999, 9999, PUBKEY);
        address w = _workerAddr(2);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidOffer.selector, 9, 0, 999, 9999));
        d.updateWorker(9, 0, 999, 9999, PUBKEY);
        vm.prank(w);
        d.unregisterWorker();
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidWorkerStatus.selector, 2, WorkerDispatcher.WorkerStatus.Unregistering
            )
        );
        d.updateWorker(9, 99, 999, 9999, PUBKEY);
    }

    function test_pauseResume() public {
        address w = _workerAddr(3);
        vm.prank(w);
        d.pauseWorker();
        assertEq(d.activeWorkerCount(), 5, "active after pause");
        assertTrue(!d.getWorker(3).assignable, "not assignable");
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidWorkerStatus.selector, 3, WorkerDispatcher.WorkerStatus.Paused
            )
        );
        d.pauseWorker();
        vm.prank(w);
        d.resumeWorker();
        assertEq(d.activeWorkerCount(), 6, "active after resume");
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidWorkerStatus.selector, 3, WorkerDispatcher.WorkerStatus.Active
            )
        );
        d.resumeWorker();
    }

    function test_addStake() public {
        address w = _workerAddr(3);
        vm.deal(w, 1 ether);
        vm.prank(w);
        d.addStake{value: 1 ether}();
        assertEq(d.getWorker(3).stake, 2 ether, "stake");
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotRegistered.selector, address(this)));
        d.addStake{value: 0}();
    }

    function test_unregisterAndWithdrawStake() public {
        address w = _workerAddr(4);
        vm.prank(w);
        d.unregisterWorker();
        assertEq(d.activeWorkerCount(), 5, "active");
        uint256 end = block.timestamp + COOL_DOWN;
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.CoolDownNotOver.selector, 4, end));
        d.withdrawStake();
        vm.warp(end);
        uint256 before = w.balance;
        vm.prank(w);
        d.withdrawStake();
        assertEq(w.balance - before, MIN_STAKE, "stake back");
        assertEq(uint256(d.getWorker(4).status), uint256(WorkerDispatcher.WorkerStatus.Removed), "removed");
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidWorkerStatus.selector, 4, WorkerDispatcher.WorkerStatus.Removed
            )
        );
        d.withdrawStake();
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidWorkerStatus.selector, 4, WorkerDispatcher.WorkerStatus.Removed
            )
        );
        d.unregisterWorker();
        // re-registration keeps the id (and so the reputation)
        assertEq(_register(w, PRICE), 4, "same id");
    }

    function test_withdrawStake_revertsWithOpenAgreement() public {
        uint256 id = _buy(_req(3600, 3));
        address w = _workerOf(id);
        uint256 wid = d.workerIdOf(w);
        vm.prank(w);
        d.unregisterWorker();
        vm.warp(block.timestamp + COOL_DOWN);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.OpenAgreements.selector, wid, 1));
        d.withdrawStake();
    }

    function test_withdrawStake_revertsWhenTransferFails() public {
        Rejecter r = new Rejecter();
        r.register{value: 1 ether}(d, PUBKEY);
        r.unregister(d);
        vm.warp(block.timestamp + COOL_DOWN);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.TransferFailed.selector, address(r), 1 ether));
        r.withdraw(d);
    }

    // ------------------------------------------------------------------ buying

    function test_buyContract_assignsWorkerAndDistinctVerifiers() public {
        uint256 id = _buy(_req(3600, 3));
        WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
        assertEq(a.client, client, "client");
        assertEq(uint256(a.status), uint256(WorkerDispatcher.AgreementStatus.Assigned), "status");
        assertEq(a.verifierIds.length, 3, "verifiers");
        for (uint256 i; i < 3; ++i) {
            assertTrue(a.verifierIds[i] != a.workerId && a.verifierIds[i] != 0, "verifier is not the worker");
            for (uint256 j; j < i; ++j) {
                assertTrue(a.verifierIds[i] != a.verifierIds[j], "distinct");
            }
        }
        assertEq(a.periods, 6, "periods");
        assertEq(a.acceptDeadline, block.timestamp + ACCEPT_WINDOW, "deadline");
        assertEq(a.deposit, 3600 * PRICE + 3 * 6 * (PERIOD * PRICE * FEE_BPS / 10_000), "deposit");
        assertEq(d.getWorker(a.workerId).openAgreements, 1, "open");
        assertEq(d.agreementCount(), 1, "count");
    }

    function test_buyContract_excludesClientWorker() public {
        // the client is itself a registered worker: it must be neither the worker nor a verifier
        address c = _workerAddr(1);
        vm.deal(c, 100 ether);
        for (uint256 k; k < 20; ++k) {
            WorkerDispatcher.Requirements memory r = _req(3600, 4);
            uint256 q = _quote(r);
            vm.prank(c);
            uint256 id = d.buyContract{value: q}(r);
            WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
            assertTrue(a.workerId != 1, "client is not the worker");
            for (uint256 i; i < 4; ++i) {
                assertTrue(a.verifierIds[i] != 1, "client is not a verifier");
            }
        }
    }

    function test_buyContract_prefersWorker() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 1);
        r.preferredWorker = _workerAddr(5);
        uint256 id = _buy(r);
        assertEq(d.getAgreement(id).workerId, 5, "preferred");
        // an ineligible preference falls back to a random worker
        r.preferredWorker = address(0xdead);
        id = _buy(r);
        assertTrue(d.getAgreement(id).workerId != 0, "fallback");
    }

    function test_buyContract_respectsRequirements() public {
        // only worker 7 is cheap enough, big enough and reputable enough
        address rich = address(0x7777);
        vm.deal(rich, 1 ether);
        vm.prank(rich);
        d.registerWorker{value: 1 ether}(PRICE / 2, 30 days, 64_000, 1 << 20, PUBKEY);
        WorkerDispatcher.Requirements memory r = _req(3600, 2);
        r.maxPricePerSecond = PRICE / 2;
        r.cpuMillicores = 64_000;
        r.memoryMB = 1 << 20;
        for (uint256 k; k < 5; ++k) {
            assertEq(d.getAgreement(_buy(r)).workerId, 7, "only eligible worker");
        }
    }

    function test_buyContract_revertsOnWrongPayment() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 3);
        uint256 q = _quote(r);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.WrongPayment.selector, q + 1, q));
        d.buyContract{value: q + 1}(r);
    }

    function test_buyContract_revertsOnInvalidRequirements() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 3);
        r.cpuMillicores = 0;
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 1));
        r = _req(3601, 3);
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 2));
        r = _req(3600, 3);
        r.periodSeconds = 5;
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 2));
        r = _req(uint32(PERIOD) * 1025, 3);
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 3));
        r = _req(3600, 6);
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 4));
        r = _req(3600, 0);
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 4));
        r = _req(3600, 3);
        r.maxPricePerSecond = 0;
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 5));
        r = _req(3600, 3);
        r.minReputation = 1001;
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 6));
        r = _req(3600, 3);
        r.maxPricePerSecond = type(uint64).max;
        r.periodSeconds = 4_000_000;
        r.duration = 4_000_000_000;
        _expectBuyRevert(r, abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 7));
    }

    function _expectBuyRevert(WorkerDispatcher.Requirements memory r, bytes memory err) internal {
        uint256 q = r.periodSeconds >= 10 && r.duration % r.periodSeconds == 0 && r.duration / r.periodSeconds <= 1024
            ? _quote(r)
            : 0;
        if (q > 1_000_000 ether) q = 0;
        vm.prank(client);
        vm.expectRevert(err);
        d.buyContract{value: q}(r);
    }

    function test_buyContract_revertsWithoutEligibleWorker() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 1);
        r.cpuMillicores = 1_000_000;
        uint256 before = client.balance;
        uint256 q = _quote(r);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NoEligibleWorker.selector, 6));
        d.buyContract{value: q}(r);
        assertEq(client.balance, before, "nothing taken");
        r = _req(3600, 1);
        r.minReputation = 501;
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NoEligibleWorker.selector, 6));
        d.buyContract{value: q}(r);
    }

    function test_buyContract_revertsWithoutEnoughVerifiers() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 5);
        for (uint256 i = 1; i <= 2; ++i) {
            vm.prank(_workerAddr(i));
            d.pauseWorker();
        }
        uint256 q = _quote(r);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotEnoughVerifiers.selector, 5, 4));
        d.buyContract{value: q}(r);
    }

    function test_quote_revertsOnZeroPeriod() public {
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidRequirements.selector, 2));
        d.quote(1, 1, 0, 1);
    }

    // ------------------------------------------------------------------ accept / decline / reassign / start

    function test_accept_reverts() public {
        uint256 id = _buy(_req(3600, 3));
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotWorker.selector, id, address(this)));
        d.acceptAgreement(id);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.UnknownAgreement.selector, 99));
        d.acceptAgreement(99);
        address w = _workerOf(id);
        vm.warp(block.timestamp + ACCEPT_WINDOW + 1);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.DeadlinePassed.selector, id, block.timestamp - 1));
        d.acceptAgreement(id);
    }

    function test_accept_start_stop() public {
        uint256 id = _buy(_req(3600, 3));
        address w = _workerOf(id);
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Assigned
            )
        );
        d.startAgreement(id);
        vm.prank(w);
        d.acceptAgreement(id);
        assertEq(d.getAgreement(id).startDeadline, block.timestamp + START_WINDOW, "start deadline");
        vm.prank(w);
        d.startAgreement(id);
        assertEq(d.getAgreement(id).startedAt, block.timestamp, "started");
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotClient.selector, id, address(this)));
        d.stopAgreement(id);
        vm.warp(block.timestamp + 1500); // inside period 2 (0-based)
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(d.getAgreement(id).billablePeriods, 3, "billable after stop");
    }

    function test_start_revertsAfterDeadline() public {
        uint256 id = _buy(_req(3600, 3));
        address w = _workerOf(id);
        vm.prank(w);
        d.acceptAgreement(id);
        vm.warp(block.timestamp + START_WINDOW + 1);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.DeadlinePassed.selector, id, block.timestamp - 1));
        d.startAgreement(id);
        // anyone may now expire it: full refund, and the worker's record shows a failed agreement
        d.expireAgreement(id);
        uint256 wid = d.workerIdOf(w);
        assertEq(d.reputationCounters(wid).failedAgreements, 1, "failed agreement");
        assertEq(d.getWorker(wid).openAgreements, 0, "closed");
        uint256 before = client.balance;
        vm.prank(client);
        d.claimRefund(id);
        assertEq(client.balance - before, d.getAgreement(id).deposit, "full refund");
    }

    function test_expire_revertsBeforeDeadline() public {
        uint256 id = _buy(_req(3600, 3));
        vm.prank(_workerOf(id));
        d.acceptAgreement(id);
        vm.expectRevert(
            abi.encodeWithSelector(WorkerDispatcher.DeadlineNotPassed.selector, id, block.timestamp + START_WINDOW)
        );
        d.expireAgreement(id);
    }

    function test_decline_reassignsToAnotherWorker() public {
        uint256 id = _buy(_req(3600, 2));
        uint256 first = d.getAgreement(id).workerId;
        vm.prank(_workerOf(id));
        d.declineAgreement(id);
        WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
        assertEq(uint256(a.status), uint256(WorkerDispatcher.AgreementStatus.Assigned), "still assigned");
        assertTrue(a.workerId != first, "another worker");
        assertEq(d.getWorker(first).openAgreements, 0, "old closed");
        assertEq(d.getWorker(a.workerId).openAgreements, 1, "new open");
    }

    function test_reassign_afterDeadline() public {
        uint256 id = _buy(_req(3600, 2));
        vm.expectRevert(
            abi.encodeWithSelector(WorkerDispatcher.DeadlineNotPassed.selector, id, block.timestamp + ACCEPT_WINDOW)
        );
        d.reassignAgreement(id);
        for (uint256 k; k < 3; ++k) {
            vm.warp(block.timestamp + ACCEPT_WINDOW + 1);
            d.reassignAgreement(id);
            assertEq(uint256(d.getAgreement(id).status), uint256(WorkerDispatcher.AgreementStatus.Assigned), "again");
        }
        vm.warp(block.timestamp + ACCEPT_WINDOW + 1);
        d.reassignAgreement(id); // MAX_REASSIGNMENTS reached: refunded
        assertEq(uint256(d.getAgreement(id).status), uint256(WorkerDispatcher.AgreementStatus.Refunded), "refunded");
        for (uint256 i = 1; i <= 6; ++i) {
            assertEq(d.getWorker(i).openAgreements, 0, "all closed");
        }
    }

    function test_reassign_refundsWhenNobodyFits() public {
        WorkerDispatcher.Requirements memory r = _req(3600, 1);
        r.preferredWorker = _workerAddr(1);
        r.cpuMillicores = 4000;
        uint256 id = _buy(r);
        for (uint256 i = 2; i <= 6; ++i) {
            vm.prank(_workerAddr(i));
            d.updateWorker(PRICE, 30 days, 1, 8192, PUBKEY); // too small now
        }
        vm.prank(_workerAddr(1));
        d.declineAgreement(id);
        assertEq(uint256(d.getAgreement(id).status), uint256(WorkerDispatcher.AgreementStatus.Refunded), "refunded");
        uint256 before = client.balance;
        vm.prank(client);
        d.claimRefund(id);
        assertEq(client.balance - before, _quote(r), "deposit back");
    }

    function test_cancel() public {
        uint256 id = _buy(_req(3600, 3));
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotClient.selector, id, address(this)));
        d.cancelAgreement(id);
        vm.prank(client);
        d.cancelAgreement(id);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Refunded
            )
        );
        d.cancelAgreement(id);
        uint256 before = client.balance;
        vm.prank(client);
        d.claimRefund(id);
        assertEq(client.balance - before, d.getAgreement(id).deposit, "refund");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.AlreadyClaimed.selector, id, client));
        d.claimRefund(id);
    }

    // ------------------------------------------------------------------ messages

    function test_postMessage_onlyParties() public {
        uint256 id = _buy(_req(3600, 2));
        address w = _workerOf(id);
        address v = _verifierOf(id, 0);
        vm.expectEmit();
        emit MessagePosted(id, client, w, hex"c0ffee");
        vm.prank(client);
        d.postMessage(id, w, hex"c0ffee");
        vm.prank(w);
        d.postMessage(id, v, hex"01");
        vm.prank(v);
        d.postMessage(id, client, hex"02");
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotParty.selector, id, address(this)));
        d.postMessage(id, w, hex"03");
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotParty.selector, id, address(0x1234)));
        d.postMessage(id, address(0x1234), hex"04");
    }

    // ------------------------------------------------------------------ verification and settlement

    function _running(uint32 duration, uint8 verifiers) internal returns (uint256 id) {
        id = _buy(_req(duration, verifiers));
        _acceptAndStart(id);
    }

    function test_fullLifecycle_allVerified() public {
        uint256 id = _running(3600, 3);
        vm.warp(block.timestamp + 3600);
        uint256[] memory ok = new uint256[](3);
        ok[0] = ok[1] = ok[2] = 0x3f;
        address v0 = _verifierOf(id, 0);
        uint256 vBefore = v0.balance;
        _reportAll(id, ok);
        uint256 reward = 6 * (PERIOD * PRICE * FEE_BPS / 10_000);
        assertEq(v0.balance - vBefore, reward, "verifier reward");

        address w = _workerOf(id);
        uint256 wBefore = w.balance;
        vm.expectEmit();
        emit AgreementSettled(id, d.workerIdOf(w), 6, 0, 3600 * PRICE, 0, 0);
        vm.prank(w);
        d.redeemPayment(id);
        assertEq(w.balance - wBefore, 3600 * PRICE, "worker paid");
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.AlreadyClaimed.selector, id, w));
        d.redeemPayment(id);
        vm.prank(client);
        d.claimRefund(id);
        WorkerDispatcher.Reputation memory rep = d.reputationCounters(d.workerIdOf(w));
        assertEq(rep.verifiedPeriods, 6, "verified");
        assertEq(rep.completedAgreements, 1, "completed");
        assertEq(d.reputationOf(d.workerIdOf(w)), 875, "reputation"); // (6+1)*1000/(6+0+2)
        assertEq(address(d).balance, 6 ether, "only stakes left");
    }

    function test_settlement_majorityAndSlashing() public {
        uint256 id = _running(3600, 3);
        vm.warp(block.timestamp + 3600);
        uint256[] memory ok = new uint256[](3);
        // periods 0,1: all ok; period 2: 2 of 3 ok; period 3: 1 of 3 ok (2 failed); periods 4,5: all failed
        ok[0] = 0x07; // 0,1,2
        ok[1] = 0x0b; // 0,1,3
        ok[2] = 0x07; // 0,1,2
        _reportAll(id, ok);
        address w = _workerOf(id);
        uint256 wid = d.workerIdOf(w);
        uint256 periodPrice = PERIOD * PRICE;
        uint256 slashed = 3 * periodPrice; // SLASH_BPS = 100%
        uint256 deposit = d.getAgreement(id).deposit;
        uint256 rewards = 18 * (periodPrice * FEE_BPS / 10_000);
        vm.expectEmit();
        emit AgreementSettled(id, wid, 3, 3, 3 * periodPrice, deposit - 3 * periodPrice - rewards + slashed, slashed);
        vm.prank(client);
        d.claimRefund(id);
        assertEq(d.getWorker(wid).stake, MIN_STAKE - slashed, "slashed");
        assertTrue(!d.getWorker(wid).assignable, "below minimum stake: not assignable");
        WorkerDispatcher.Reputation memory rep = d.reputationCounters(wid);
        assertEq(rep.verifiedPeriods, 3, "verified");
        assertEq(rep.failedPeriods, 3, "failed");
        assertEq(rep.failedAgreements, 1, "failed agreements");
        // topping the stake up makes it assignable again
        vm.deal(w, 1 ether);
        vm.prank(w);
        d.addStake{value: 1 ether}();
        assertTrue(d.getWorker(wid).assignable, "assignable again");
        uint256 before = w.balance;
        vm.prank(w);
        d.redeemPayment(id);
        assertEq(w.balance - before, 3 * periodPrice, "paid for the confirmed periods only");
    }

    function test_provideVerification_reverts() public {
        uint256 id = _buy(_req(3600, 3));
        address v = _verifierOf(id, 0);
        vm.prank(v);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Assigned
            )
        );
        d.provideVerification(id, 0, 1, 1);
        _acceptAndStart(id);
        uint256 started = block.timestamp;
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidReport.selector, 2, 1));
        d.provideVerification(id, 0, 2, 1);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.InvalidReport.selector, 0, 0));
        d.provideVerification(id, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotVerifier.selector, id, address(this)));
        d.provideVerification(id, 0, 1, 1);
        address w = _workerOf(id);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotVerifier.selector, id, w));
        d.provideVerification(id, 0, 1, 1);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.PeriodOutOfRange.selector, 6, 6));
        d.provideVerification(id, 6, 1, 1);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.PeriodNotStarted.selector, 1, started + PERIOD));
        d.provideVerification(id, 0, 3, 3);
        vm.prank(v);
        d.provideVerification(id, 0, 1, 1); // period 0 has begun
        vm.warp(started + 3600);
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.PeriodAlreadyReported.selector, id, 0));
        d.provideVerification(id, 0, 3, 3);
        vm.prank(v);
        d.provideVerification(id, 1, 0x1f, 0x1f);
        (uint256 okBits, uint256 repBits) = d.getReports(id, 0, 0);
        assertEq(okBits, 0x3f, "ok bits");
        assertEq(repBits, 0x3f, "reported bits");
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotVerifier.selector, id, address(0)));
        d.getReports(id, 3, 0);
    }

    function test_reportsAcrossWords() public {
        // 3 verifiers: 42 periods per word; 144 periods (24 h) span 4 words
        uint256 id = _running(86_400, 3);
        vm.warp(block.timestamp + 86_400);
        uint256 all = (uint256(1) << 144) - 1;
        for (uint256 i; i < 3; ++i) {
            vm.prank(_verifierOf(id, i));
            d.provideVerification(id, 0, all, all);
        }
        (uint256 okBits,) = d.getReports(id, 1, 0);
        assertEq(okBits, all, "bits");
        (okBits,) = d.getReports(id, 2, 40);
        assertEq(okBits, all >> 40, "offset bits");
        address w = _workerOf(id);
        vm.prank(w);
        d.redeemPayment(id);
        assertEq(d.getAgreement(id).paidPeriods, 144, "all periods paid");
    }

    function test_settlement_tooEarlyThenAfterWindow() public {
        uint256 id = _running(3600, 3);
        uint256 started = block.timestamp;
        vm.warp(started + 3600);
        vm.prank(_verifierOf(id, 0));
        d.provideVerification(id, 0, 0x3f, 0x3f);
        vm.prank(_verifierOf(id, 1));
        d.provideVerification(id, 0, 0x3f, 0x3f);
        address w = _workerOf(id);
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(WorkerDispatcher.SettlementTooEarly.selector, id, started + 3600 + REPORT_WINDOW)
        );
        d.redeemPayment(id);
        vm.warp(started + 3600 + REPORT_WINDOW);
        d.settleAgreement(id); // anyone
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Settled
            )
        );
        d.settleAgreement(id);
        uint256 before = w.balance;
        vm.prank(w);
        d.redeemPayment(id);
        assertEq(w.balance - before, 3600 * PRICE, "2 of 3 is a majority");
        vm.prank(_verifierOf(id, 2));
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Settled
            )
        );
        d.provideVerification(id, 0, 1, 1);
    }

    function test_stopEarly_refundsUnusedTime() public {
        uint256 id = _running(3600, 1);
        uint256 started = block.timestamp;
        vm.warp(started + 700); // period 1 has begun
        vm.prank(client);
        d.stopAgreement(id);
        vm.prank(_verifierOf(id, 0));
        d.provideVerification(id, 0, 3, 3);
        uint256 periodPrice = PERIOD * PRICE;
        uint256 before = client.balance;
        vm.prank(client);
        d.claimRefund(id);
        uint256 deposit = d.getAgreement(id).deposit;
        uint256 rewards = 2 * (periodPrice * FEE_BPS / 10_000);
        assertEq(client.balance - before, deposit - 2 * periodPrice - rewards, "refund of 4 unused periods");
    }

    function test_stopAtStart_refundsAll() public {
        uint256 id = _running(3600, 1);
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(d.getAgreement(id).billablePeriods, 0, "nothing billable");
        uint256 before = client.balance;
        vm.prank(client);
        d.claimRefund(id);
        assertEq(client.balance - before, d.getAgreement(id).deposit, "all back");
        address w = _workerOf(id);
        vm.prank(w);
        d.redeemPayment(id); // nothing to pay, but closes the worker's claim
        assertTrue(d.getAgreement(id).workerRedeemed, "redeemed");
    }

    function test_claims_reverts() public {
        uint256 id = _buy(_req(3600, 1));
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotClient.selector, id, address(this)));
        d.claimRefund(id);
        vm.prank(client);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Assigned
            )
        );
        d.claimRefund(id);
        vm.expectRevert(abi.encodeWithSelector(WorkerDispatcher.NotWorker.selector, id, address(this)));
        d.redeemPayment(id);
        address w = _workerOf(id);
        vm.prank(w);
        vm.expectRevert(
            abi.encodeWithSelector(
                WorkerDispatcher.InvalidAgreementStatus.selector, id, WorkerDispatcher.AgreementStatus.Assigned
            )
        );
        d.redeemPayment(id);
    }

    function test_reentrancyIsBlocked() public {
        Reenterer r = new Reenterer(d);
        WorkerDispatcher.Requirements memory req = _req(3600, 1);
        uint256 q = _quote(req);
        r.buy{value: q}(req);
        r.cancel();
        r.claim();
        assertTrue(!r.reentered(), "no reentry");
        assertEq(r.reason(), abi.encodeWithSelector(WorkerDispatcher.Reentrancy.selector), "reentrancy error");
        assertEq(address(r).balance, q, "paid once");
    }
}
