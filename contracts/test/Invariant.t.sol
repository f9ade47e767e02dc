// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherBase} from "./utils/DispatcherBase.sol";
import {Test, Vm} from "./utils/Test.sol";
import {WorkerDispatcher} from "../src/WorkerDispatcher.sol";

/// @notice Drives the dispatcher through random but valid-looking sequences; keeps ghost records that the
///         invariants compare with the contract.
contract Handler is Test {
    WorkerDispatcher public d;
    address public client = address(0xC11E47);
    uint256 public constant WORKERS = 8;
    uint32 internal constant PERIOD = 600;
    uint64 internal constant PRICE = 1 gwei;

    uint256[] public ids;
    mapping(uint256 => uint256) public rewardsPaid; // agreement => verifier rewards sent
    mapping(uint256 => uint256) public workerClaims; // agreement => successful redeemPayment calls
    mapping(uint256 => uint256) public clientClaims; // agreement => successful claimRefund calls
    mapping(uint256 => mapping(uint256 => uint256)) public okBitsOf; // agreement => verifier index => ok bits
    bool public overpaidWorker; // worker paid for a period without a majority
    bool public overchargedClient; // client paid more than verified service + rewards
    uint256 public calls;
    uint256 public redeems; // successful redeemPayment calls (coverage)

    constructor(WorkerDispatcher d_) {
        d = d_;
    }

    function _worker(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + i));
    }

    function _pick(uint256 seed) internal view returns (uint256 id, bool ok) {
        if (ids.length == 0) return (0, false);
        return (ids[seed % ids.length], true);
    }

    function buy(uint8 verifiers, uint8 periods, uint8 minRep) external {
        ++calls;
        WorkerDispatcher.Requirements memory r;
        r.cpuMillicores = 1000;
        r.memoryMB = 1024;
        r.periodSeconds = PERIOD;
        r.duration = uint32(bound(periods, 1, 12)) * PERIOD;
        r.maxPricePerSecond = PRICE;
        r.verifiers = uint8(bound(verifiers, 1, 5));
        r.minReputation = uint16(bound(minRep, 0, 3)) * 200;
        uint256 value = d.quote(r.maxPricePerSecond, r.duration, r.periodSeconds, r.verifiers);
        vm.deal(client, client.balance + value);
        vm.prank(client);
        try d.buyContract{value: value}(r) returns (uint256 id) {
            ids.push(id);
        } catch {}
    }

    function accept(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
        address w = d.getWorker(a.workerId).owner;
        vm.prank(w);
        try d.acceptAgreement(id) {} catch {}
        if (seed % 4 != 0) {
            vm.prank(w);
            try d.startAgreement(id) {} catch {}
        }
    }

    function decline(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        vm.prank(d.getWorker(d.getAgreement(id).workerId).owner);
        try d.declineAgreement(id) {} catch {}
    }

    function report(uint256 seed, uint256 okBits, uint256 reported) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
        if (a.status != WorkerDispatcher.AgreementStatus.Running || a.billablePeriods == 0) return;
        uint256 v = (seed >> 8) % a.verifierIds.length;
        address verifier = d.getWorker(a.verifierIds[v]).owner;
        uint256 mask = (uint256(1) << a.billablePeriods) - 1;
        reported &= mask;
        okBits &= reported;
        uint256 before = verifier.balance;
        vm.prank(verifier);
        try d.provideVerification(id, 0, okBits, reported) {
            rewardsPaid[id] += verifier.balance - before;
            okBitsOf[id][v] |= okBits;
        } catch {}
    }

    function stop(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        vm.prank(client);
        try d.stopAgreement(id) {} catch {}
    }

    function cancel(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        vm.prank(client);
        try d.cancelAgreement(id) {} catch {}
    }

    function timeout(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        try d.reassignAgreement(id) {} catch {}
        try d.expireAgreement(id) {} catch {}
    }

    function warp(uint256 secs) external {
        ++calls;
        vm.warp(block.timestamp + bound(secs, 1, 3 hours));
    }

    function _majorityCount(uint256 id, uint256 n, uint256 billable) internal view returns (uint256 count) {
        for (uint256 p; p < billable; ++p) {
            uint256 votes;
            for (uint256 v; v < n; ++v) {
                votes += (okBitsOf[id][v] >> p) & 1;
            }
            if (votes * 2 > n) ++count;
        }
    }

    function redeem(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
        address w = d.getWorker(a.workerId).owner;
        uint256 before = w.balance;
        vm.prank(w);
        try d.redeemPayment(id) {
            workerClaims[id] += 1;
            ++redeems;
            a = d.getAgreement(id);
            uint256 confirmed = _majorityCount(id, a.verifierIds.length, a.billablePeriods);
            uint256 periodPrice = uint256(a.pricePerSecond) * a.periodSeconds;
            if (w.balance - before > confirmed * periodPrice) overpaidWorker = true;
        } catch {}
    }

    function claim(uint256 seed) external {
        ++calls;
        (uint256 id, bool ok) = _pick(seed);
        if (!ok) return;
        uint256 before = client.balance;
        vm.prank(client);
        try d.claimRefund(id) {
            clientClaims[id] += 1;
            WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
            uint256 refund = client.balance - before;
            uint256 paid = refund >= a.deposit ? 0 : a.deposit - refund; // slashing can push the refund higher
            uint256 service = a.paidPeriods * uint256(a.pricePerSecond) * a.periodSeconds;
            if (paid > service + rewardsPaid[id]) overchargedClient = true;
        } catch {}
    }

    function idsLength() external view returns (uint256) {
        return ids.length;
    }
}

contract InvariantTest is DispatcherBase {
    Handler internal h;

    function setUp() public {
        _deploy();
        _registerMany(8);
        h = new Handler(d);
        targetContract(address(h));
    }

    /// @dev Everything the dispatcher holds is owed to someone: stakes, escrow of live agreements (minus rewards
    ///      already paid), and unclaimed payments and refunds.
    function invariant_balanceEqualsOwed() public view {
        uint256 owed;
        for (uint256 i = 1; i <= d.workerCount(); ++i) {
            owed += d.getWorker(i).stake;
        }
        uint256 n = h.idsLength();
        for (uint256 k; k < n; ++k) {
            uint256 id = h.ids(k);
            WorkerDispatcher.AgreementView memory a = d.getAgreement(id);
            if (a.status == WorkerDispatcher.AgreementStatus.Settled) {
                if (!a.workerRedeemed) owed += a.paidPeriods * uint256(a.pricePerSecond) * a.periodSeconds;
                if (!a.clientRefunded) owed += a.clientRefund;
            } else if (a.status == WorkerDispatcher.AgreementStatus.Refunded) {
                if (!a.clientRefunded) owed += a.deposit;
            } else {
                owed += a.deposit - h.rewardsPaid(id);
            }
        }
        assertEq(address(d).balance, owed, "balance == owed");
    }

    function invariant_workerNeverPaidWithoutMajority() public view {
        assertTrue(!h.overpaidWorker(), "worker paid for an unconfirmed period");
    }

    function invariant_clientNeverOvercharged() public view {
        assertTrue(!h.overchargedClient(), "client paid more than verified service + rewards");
    }

    function invariant_noDoubleWithdrawal() public view {
        uint256 n = h.idsLength();
        for (uint256 k; k < n; ++k) {
            uint256 id = h.ids(k);
            assertLe(h.workerClaims(id), 1, "worker redeemed twice");
            assertLe(h.clientClaims(id), 1, "client refunded twice");
        }
    }
}
