// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {V2Base} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";
import {WorkerDispatcherV2} from "../../src/v2/WorkerDispatcherV2.sol";
import {RegistryModuleV2} from "../../src/v2/RegistryModuleV2.sol";

/// @notice An account that refuses ether: its stake cannot be sent back.
contract EtherRefuser {
    function register(address d) external payable {
        RegistryModuleV2(d).registerWorker{value: msg.value}(1 gwei, 30 days, 4000, 8192, _key());
    }

    function unregister(address d) external {
        RegistryModuleV2(d).unregisterWorker();
    }

    function withdrawStake(address d, uint256 amount) external {
        RegistryModuleV2(d).withdrawStake(amount);
    }

    function _key() private pure returns (bytes memory) {
        return hex"79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8";
    }
}

/// @notice The registry, the requirements a drawn worker meets, and each life-cycle call's refusals: the unit checks
///         protocol v1's tests made (test/WorkerDispatcher.t.sol, test/Fuzz.t.sol before v1 was removed), on v2.
contract RegistryV2Test is V2Base {
    function setUp() public {
        _deploy();
        _registerMany(10);
    }

    // ------------------------------------------------------------------ constructor, config

    function test_constructor_rejectsBadConfig() public {
        I.Config memory c = _config();
        c.minStake = 0;
        vm.expectRevert(I.InvalidConfig.selector);
        new WorkerDispatcherV2(c);
        c = _config();
        c.verifierFeeBps = 10_001;
        vm.expectRevert(I.InvalidConfig.selector);
        new WorkerDispatcherV2(c);
        c = _config();
        c.drawDelay = 0;
        vm.expectRevert(I.InvalidConfig.selector);
        new WorkerDispatcherV2(c);
    }

    function test_config_readsBackItsParameters() public view {
        I.Config memory c = r.config();
        assertEq(keccak256(abi.encode(c)), keccak256(abi.encode(_config())), "config as deployed");
        assertEq(r.workerCount(), 10, "workers");
        assertEq(r.agreementCount(), 0, "agreements");
    }

    // ------------------------------------------------------------------ registration

    function test_registerWorker_storesOfferAndEmits() public {
        address w = address(0xBEEF);
        vm.deal(w, 2 ether);
        vmx.expectEmit(true, true, false, true, address(d));
        emit I.WorkerRegistered(11, w, 5, 3600, 2000, 4096, PUBKEY, 2 ether);
        vm.prank(w);
        uint256 id = r.registerWorker{value: 2 ether}(5, 3600, 2000, 4096, PUBKEY);
        assertEq(id, 11, "id");
        assertEq(r.workerIdOf(w), 11, "id of");
        I.WorkerView memory v = r.getWorker(id);
        assertEq(v.owner, w, "owner");
        assertEq(v.pricePerSecond, 5, "price");
        assertEq(v.maxDuration, 3600, "duration");
        assertEq(v.cpuMillicores, 2000, "cpu");
        assertEq(v.memoryMB, 4096, "memory");
        assertEq(v.stake, 2 ether, "stake");
        assertEq(v.locked, 0, "nothing locked");
        assertEq(v.changedAt, block.number, "changed now: not a candidate of draws committed before the next block");
        assertEq(v.publicKey, PUBKEY, "key");
        assertEq(uint256(v.status), uint256(I.WorkerStatus.Active), "active");
        assertEq(r.reputationOf(id), 0, "a new identity starts at the bottom");
        assertEq(address(d).balance, 10 * uint256(MIN_STAKE) + 2 ether, "stake held");
    }

    function test_registerWorker_reverts() public {
        address w = address(0xBEEF);
        vm.deal(w, 10 ether);
        vm.startPrank(w);
        vm.expectRevert(abi.encodeWithSelector(I.StakeTooLow.selector, 0.5 ether, MIN_STAKE));
        r.registerWorker{value: 0.5 ether}(1, 1, 1, 1, PUBKEY);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidOffer.selector, 0, 1, 1, 1));
        r.registerWorker{value: 1 ether}(0, 1, 1, 1, PUBKEY);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidOffer.selector, 1, 1, 0, 1));
        r.registerWorker{value: 1 ether}(1, 1, 0, 1, PUBKEY);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidPublicKey.selector, 33));
        r.registerWorker{value: 1 ether}(1, 1, 1, 1, new bytes(33));
        bytes memory offCurve = PUBKEY;
        offCurve[63] = 0x00;
        vm.expectRevert(abi.encodeWithSelector(I.InvalidPublicKey.selector, 64));
        r.registerWorker{value: 1 ether}(1, 1, 1, 1, offCurve);
        vm.stopPrank();
        address one = _workerAddr(1);
        vm.deal(one, 1 ether);
        vm.prank(one);
        vm.expectRevert(abi.encodeWithSelector(I.AlreadyRegistered.selector, one, 1));
        r.registerWorker{value: 1 ether}(1, 1, 1, 1, PUBKEY);
    }

    function test_updateWorker_storesTheOffer_andReverts() public {
        vm.expectRevert(abi.encodeWithSelector(I.NotRegistered.selector, address(this)));
        r.updateWorker(9, 99, 999, 9999, PUBKEY);
        address w = _workerAddr(2);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidOffer.selector, 9, 0, 999, 9999));
        r.updateWorker(9, 0, 999, 9999, PUBKEY);
        _roll(5);
        vm.prank(w);
        r.updateWorker(9, 99, 999, 9999, PUBKEY);
        I.WorkerView memory v = r.getWorker(2);
        assertEq(v.pricePerSecond, 9, "price");
        assertEq(v.maxDuration, 99, "duration");
        assertEq(v.cpuMillicores, 999, "cpu");
        assertEq(v.memoryMB, 9999, "memory");
        assertEq(v.changedAt, block.number, "change recorded for draw eligibility");
    }

    function test_pauseResumeUnregister_onlyFromTheRightStatus() public {
        address w = _workerAddr(3);
        vm.startPrank(w);
        r.pauseWorker();
        vm.expectRevert(abi.encodeWithSelector(I.InvalidWorkerStatus.selector, 3, I.WorkerStatus.Paused));
        r.pauseWorker();
        r.resumeWorker();
        vm.expectRevert(abi.encodeWithSelector(I.InvalidWorkerStatus.selector, 3, I.WorkerStatus.Active));
        r.resumeWorker();
        r.unregisterWorker();
        vm.expectRevert(abi.encodeWithSelector(I.InvalidWorkerStatus.selector, 3, I.WorkerStatus.Unregistering));
        r.unregisterWorker();
        vm.expectRevert(abi.encodeWithSelector(I.InvalidWorkerStatus.selector, 3, I.WorkerStatus.Unregistering));
        r.pauseWorker();
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(I.NotRegistered.selector, address(this)));
        r.pauseWorker();
    }

    function test_addStake() public {
        address w = _workerAddr(3);
        vm.deal(w, 1 ether);
        vm.prank(w);
        r.addStake{value: 1 ether}();
        assertEq(r.getWorker(3).stake, 2 ether, "stake");
        vm.expectRevert(abi.encodeWithSelector(I.NotRegistered.selector, address(this)));
        r.addStake{value: 0}();
    }

    function test_withdrawStake_lockedByAnOpenAgreement() public {
        uint256 id = _buy(3600);
        address w = _accept(id);
        uint256 wid = r.workerIdOf(w);
        uint256 locked = r.getWorker(wid).locked;
        assertGt(locked, 0, "the accept locked part of the stake");
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.StakeLocked.selector, wid, locked));
        r.withdrawStake(MIN_STAKE - locked + 1);
        vm.prank(w);
        r.unregisterWorker();
        vm.warp(block.timestamp + COOL_DOWN);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.StakeLocked.selector, wid, locked));
        r.withdrawStake(MIN_STAKE);
    }

    function test_withdrawStake_revertsWhenTheTransferFails() public {
        EtherRefuser refuser = new EtherRefuser();
        refuser.register{value: 1 ether}(address(d));
        refuser.unregister(address(d));
        vm.warp(block.timestamp + COOL_DOWN);
        vm.expectRevert(abi.encodeWithSelector(I.TransferFailed.selector, address(refuser), 1 ether));
        refuser.withdrawStake(address(d), 1 ether);
        assertEq(r.getWorker(r.workerIdOf(address(refuser))).stake, 1 ether, "the stake stays");
    }

    // ------------------------------------------------------------------ requirements

    /// @dev Only one worker is cheap enough and large enough: every draw picks it.
    function test_requirements_onlyAMatchingWorkerIsDrawn() public {
        address big = address(0xB16);
        vm.deal(big, 2 ether);
        vm.prank(big);
        uint256 bigId = r.registerWorker{value: 1 ether}(PRICE / 2, 30 days, 64_000, 1 << 20, PUBKEY);
        address brief = address(0xB21EF); // as large, but takes no job longer than 30 minutes
        vm.deal(brief, 2 ether);
        vm.prank(brief);
        r.registerWorker{value: 1 ether}(PRICE / 2, 1800, 64_000, 1 << 20, PUBKEY);
        _roll(1);
        I.Requirements memory q = _req(7200, 3); // 2 hours: at half the price, enough to pay the verifiers
        q.maxPricePerSecond = PRICE / 2;
        q.cpuMillicores = 64_000;
        q.memoryMB = 1 << 20;
        for (uint256 k; k < 5; ++k) {
            uint256 id = _buyAs(client, q);
            _roll(DRAW_DELAY + 1);
            d.draw(id);
            I.AgreementView memory a = r.getAgreement(id);
            assertEq(a.workerId, bigId, "the only eligible worker");
            assertEq(a.pricePerSecond, PRICE / 2, "at its price");
        }
    }

    function test_noEligibleWorker_endsWithAFullRefund() public {
        I.Requirements memory q = _req(3600, 3);
        q.cpuMillicores = 1_000_000;
        uint256 id = _buyAs(client, q);
        uint256 deposit = r.getAgreement(id).escrow;
        _roll(DRAW_DELAY + 1);
        assertEq(r.previewWorker(id), 0, "nobody to draw");
        d.draw(id);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "ended");
        assertEq(_refunded(), deposit, "deposit back");
        q = _req(3600, 3);
        q.minReputation = 1; // every worker is new: reputation 0
        id = _buyAs(client, q);
        _roll(DRAW_DELAY + 1);
        d.draw(id);
        assertEq(uint256(r.getAgreement(id).status), uint256(I.AgreementStatus.Ended), "no worker reputable enough");
    }

    /// @notice Random offers and requirements: the draw either ends the agreement with the deposit back or picks a
    ///         worker that meets every requirement, at its own price.
    /// forge-config: default.fuzz.runs = 500
    function testFuzz_drawRespectsRequirements(uint32 cpu, uint32 mem, uint64 maxPrice, uint256 seed) public {
        vm.pauseGasMetering(); // gas depends on the inputs: kept out of the snapshot
        for (uint256 i = 1; i <= 10; ++i) {
            vm.prank(_workerAddr(i));
            r.updateWorker(
                uint64(bound(uint256(keccak256(abi.encode(seed, i, 1))), 1, 2 * PRICE)),
                30 days,
                uint32(bound(uint256(keccak256(abi.encode(seed, i, 2))), 1, 8000)),
                uint32(bound(uint256(keccak256(abi.encode(seed, i, 3))), 1, 16_384)),
                PUBKEY
            );
        }
        _roll(1);
        I.Requirements memory q = _req(7200, 3);
        q.cpuMillicores = uint32(bound(cpu, 1, 8000));
        q.memoryMB = uint32(bound(mem, 1, 16_384));
        q.maxPricePerSecond = uint64(bound(maxPrice, PRICE / 2, 2 * PRICE));
        uint256 id = _buyAs(client, q);
        uint256 deposit = r.getAgreement(id).escrow;
        _roll(DRAW_DELAY + 1);
        d.draw(id);
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status == I.AgreementStatus.Ended) {
            assertEq(_refunded(), deposit, "nothing taken");
            return;
        }
        I.WorkerView memory w = r.getWorker(a.workerId);
        assertGe(w.cpuMillicores, q.cpuMillicores, "cpu");
        assertGe(w.memoryMB, q.memoryMB, "memory");
        assertLe(w.pricePerSecond, q.maxPricePerSecond, "price");
        assertEq(a.pricePerSecond, w.pricePerSecond, "agreed at the worker's price");
    }

    /// @notice The deposit covers every payout at any price up to the client's maximum: the worker's pay for every
    ///         period and every verifier's reward for every period.
    function testFuzz_quoteCoversPayouts(uint64 maxPrice, uint32 periods, bool five, uint64 price) public view {
        maxPrice = uint64(bound(maxPrice, 1, type(uint64).max));
        price = uint64(bound(price, 1, maxPrice));
        periods = uint32(bound(periods, 1, 10_080));
        uint256 n = five ? 5 : 3;
        uint256 q = r.quote(maxPrice, periods * PERIOD, PERIOD, uint8(n));
        uint256 pp = uint256(price) * PERIOD;
        assertGe(q, uint256(periods) * (pp + n * (pp * FEE_BPS / 10_000)), "deposit covers payouts");
    }

    // ------------------------------------------------------------------ who may call what, and when

    function test_lifecycleCalls_refuseTheWrongCallerStatusOrTime() public {
        vm.expectRevert(abi.encodeWithSelector(I.UnknownAgreement.selector, 99));
        d.acceptAgreement(99, "");
        vm.expectRevert(abi.encodeWithSelector(I.InvalidRequirements.selector, 2));
        r.quote(PRICE, 3600, 0, 3);
        vm.expectRevert(abi.encodeWithSelector(I.NothingToWithdraw.selector, address(this)));
        d.withdraw();

        uint256 id = _buy(3600);
        vm.expectRevert(abi.encodeWithSelector(I.NotClient.selector, id, address(this)));
        d.cancelAgreement(id);
        _roll(DRAW_DELAY + 1);
        d.draw(id);
        uint256 acceptBy = r.getAgreement(id).deadline;
        address w = _owner(r.getAgreement(id).workerId);
        vm.warp(acceptBy + 1);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.DeadlinePassed.selector, id, acceptBy));
        d.acceptAgreement(id, "");

        id = _buy(3600);
        w = _accept(id);
        bytes32 wrong = r.specCommitOf(bytes("another spec"), SALT);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.SpecMismatch.selector, id, wrong, _specCommit(SPEC, SALT)));
        d.rejectSpec(id, bytes("another spec"), SALT);
        uint256 startBy = r.getAgreement(id).deadline;
        vm.warp(startBy + 1);
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.DeadlinePassed.selector, id, startBy));
        d.startAgreement(id, "");

        id = _run(3600);
        w = _owner(r.getAgreement(id).workerId);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(I.InvalidAgreementStatus.selector, id, I.AgreementStatus.Running));
        d.cancelAgreement(id);
        vm.expectRevert(abi.encodeWithSelector(I.NotClient.selector, id, address(this)));
        d.stopAgreement(id);
        vm.warp(_endOf(id));
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(I.NotVerifier.selector, id, w));
        d.confirmBatch(id, 0);
    }

    /// @notice Stopped the second it started: nothing billable, the client gets everything back, nobody is blamed.
    function test_stopAtStart_refundsEverything() public {
        uint256 id = _run(3600);
        I.AgreementView memory a = r.getAgreement(id);
        vm.prank(client);
        d.stopAgreement(id);
        assertEq(r.getAgreement(id).billablePeriods, 0, "nothing billable");
        vm.warp(block.timestamp + REPORT_WINDOW);
        d.settle(id);
        assertEq(_refunded(), a.escrow, "all back");
        assertEq(r.getWorker(a.workerId).stake, MIN_STAKE, "worker neither paid nor slashed");
        assertEq(r.getWorker(a.workerId).locked, 0, "worker unlocked");
        for (uint256 i; i < 3; ++i) {
            assertEq(r.getWorker(a.verifierIds[i]).stake, MIN_STAKE, "verifier neither paid nor penalised");
            assertEq(r.getWorker(a.verifierIds[i]).locked, 0, "bond released");
        }
    }
}
