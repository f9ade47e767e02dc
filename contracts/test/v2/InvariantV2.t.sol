// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "../utils/Test.sol";
import {VmExtra, CountingWallet} from "./utils/V2Base.sol";
import {IWorkerDispatcherV2 as I} from "../../src/v2/IWorkerDispatcherV2.sol";
import {WorkerDispatcherV2} from "../../src/v2/WorkerDispatcherV2.sol";
import {RegistryModuleV2} from "../../src/v2/RegistryModuleV2.sol";

/// @notice Drives protocol v2 through every step from the parties' side and into its corners: every period
///         boundary (±1 s), every second of a period, reports at any second of their window, several agreements per
///         worker, declines and reassignments, draws whose hash expired, stops, withdrawals. Keeps a reference model
///         of the money (what came in, what went out, what was burned) that the invariants compare with the
///         contract.
contract HandlerV2 is Test {
    VmExtra internal constant vmx = VmExtra(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    WorkerDispatcherV2 public d;
    RegistryModuleV2 public r;
    uint256 public constant WORKERS = 8;
    uint256 public constant CLIENTS = 3;
    uint64 internal constant PRICE = 1e12;
    bytes internal constant SPEC = bytes("spec");
    bytes32 internal constant SALT = bytes32(uint256(7));

    address[] public actors; // clients then workers
    uint256[] public ids;

    // reference model
    uint256 public modelIn; // wei sent into the contract
    uint256 public modelOut; // wei sent out to parties
    uint256 public modelBurned; // wei sent to BURN
    bool public settlementMismatch; // a settlement did not split exactly its deposit
    bool public doubleSettle; // an agreement settled twice
    mapping(uint256 => uint256) public depositOf;
    mapping(uint256 => uint256) public settles;
    mapping(bytes32 => uint256) public coverage; // action name => successful calls

    constructor(WorkerDispatcherV2 d_) {
        d = d_;
        r = RegistryModuleV2(address(d_));
        for (uint256 i; i < CLIENTS - 1; ++i) {
            actors.push(address(uint160(0xC0000 + i)));
        }
        // One client is a contract wallet that needs more than the stipend: its refunds are credited, and it
        // withdraws them (the others' refunds reach their wallets at once).
        actors.push(address(new CountingWallet()));
        for (uint256 i = 1; i <= WORKERS; ++i) {
            actors.push(address(uint160(0x10000 + i)));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    // ---------------------------------------------------------------- helpers

    function _worker(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + i));
    }

    /// @dev One of the 6 newest agreements (older ones have mostly ended).
    function _pick(uint256 seed) internal view returns (uint256) {
        uint256 n = ids.length;
        if (n == 0) return 0;
        uint256 window = n < 6 ? n : 6;
        return ids[n - 1 - seed % window];
    }

    function _status(uint256 id) internal view returns (I.AgreementStatus) {
        return r.getAgreement(id).status;
    }

    function _burnBalance() internal view returns (uint256) {
        return r.BURN().balance;
    }

    /// @dev Runs a call from `from`, books the wei that moved into the model.
    function _call(address from, uint256 value, bytes memory data, bytes32 action) internal returns (bool ok) {
        uint256 contractBefore = address(d).balance;
        uint256 burnBefore = _burnBalance();
        vm.prank(from);
        (ok,) = address(d).call{value: value}(data);
        if (!ok) return false;
        uint256 burned = _burnBalance() - burnBefore;
        modelBurned += burned;
        modelIn += value;
        // whatever left the contract and did not go to BURN went to a party
        modelOut += contractBefore + value - address(d).balance - burned;
        ++coverage[action];
    }

    function _roll(uint256 blocks) internal {
        uint256 b = block.number;
        vm.roll(b + blocks);
        for (uint256 i; i < blocks; ++i) {
            vmx.setBlockhash(b + i, keccak256(abi.encode(b + i)));
        }
    }

    function _warpTo(uint256 t) internal {
        if (t > block.timestamp) vm.warp(t);
    }

    // ---------------------------------------------------------------- workers

    function register(uint256 who, uint256 priceSeed, uint256 stakeSeed) external {
        address a = _worker(bound(who, 1, WORKERS));
        uint256 stake = 1 ether + bound(stakeSeed, 0, 2) * 0.5 ether;
        uint64 price = PRICE * uint64(bound(priceSeed, 1, 3));
        vm.deal(a, a.balance + stake);
        bytes memory key =
            hex"79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8";
        _call(a, stake, abi.encodeCall(RegistryModuleV2.registerWorker, (price, 30 days, 4000, 8192, key)), "register");
    }

    function addStake(uint256 who, uint256 amount) external {
        address a = _worker(bound(who, 1, WORKERS));
        amount = bound(amount, 1, 1 ether);
        vm.deal(a, a.balance + amount);
        _call(a, amount, abi.encodeCall(RegistryModuleV2.addStake, ()), "addStake");
    }

    function pauseOrResume(uint256 who, bool pause) external {
        address a = _worker(bound(who, 1, WORKERS));
        _call(a, 0, pause ? abi.encodeCall(RegistryModuleV2.pauseWorker, ()) : abi.encodeCall(RegistryModuleV2.resumeWorker, ()),
            "pauseOrResume");
    }

    function unregister(uint256 who) external {
        _call(_worker(bound(who, 1, WORKERS)), 0, abi.encodeCall(RegistryModuleV2.unregisterWorker, ()), "unregister");
    }

    function withdrawStake(uint256 who, uint256 amount, bool all) external {
        address a = _worker(bound(who, 1, WORKERS));
        uint256 id = r.workerIdOf(a);
        if (id == 0) return;
        I.WorkerView memory w = r.getWorker(id);
        uint256 amt = all ? w.stake : bound(amount, 0, w.stake);
        _call(a, 0, abi.encodeCall(RegistryModuleV2.withdrawStake, (amt)), "withdrawStake");
    }

    function withdraw(uint256 who) external {
        _call(actors[who % actors.length], 0, abi.encodeCall(WorkerDispatcherV2.withdraw, ()), "withdraw");
    }

    // ---------------------------------------------------------------- time

    function rollBlocks(uint256 n) external {
        n = bound(n, 1, 300); // past 256 too: draws whose hash is gone
        _roll(n);
        vm.warp(block.timestamp + 2 * n);
    }

    function warpSeconds(uint256 s) external {
        vm.warp(block.timestamp + bound(s, 1, 200));
    }

    /// @dev Jumps to a period boundary of a running agreement, or one second before / after it.
    function warpToBoundary(uint256 seed, uint256 k, uint256 offset) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status != I.AgreementStatus.Running) return;
        uint256 t = a.deadline + bound(k, 0, uint256(a.periods) + 1) * a.periodSeconds + bound(offset, 0, 2) - 1;
        _warpTo(t);
    }

    // ---------------------------------------------------------------- agreements

    function buy(uint256 who, uint256 periodsSeed, uint256 periodSeed, uint256 priceSeed, uint256 nSeed) external {
        address c = who % 4 == 3 ? _worker(bound(who, 1, WORKERS)) : actors[who % CLIENTS]; // workers buy too
        I.Requirements memory q;
        q.cpuMillicores = 1000;
        q.memoryMB = 1024;
        q.periodSeconds = uint32(bound(periodSeed, 10, 90));
        // mostly short jobs (one report batch), sometimes up to 3 batches of 1,440 periods
        q.duration = uint32(bound(periodsSeed, 1, periodsSeed % 4 == 0 ? 3500 : 250)) * q.periodSeconds;
        q.maxPricePerSecond = PRICE * uint64(bound(priceSeed, 1, 4));
        q.verifiers = nSeed % 2 == 0 ? 3 : 5;
        q.imageDigest = bytes32(uint256(1));
        q.specCommit = keccak256(abi.encodePacked(SALT, keccak256(SPEC)));
        uint256 value = r.quote(q.maxPricePerSecond, q.duration, q.periodSeconds, q.verifiers);
        vm.deal(c, c.balance + value);
        uint256 next = r.agreementCount() + 1;
        if (_call(c, value, abi.encodeCall(WorkerDispatcherV2.buyContract, (q)), "buy")) {
            ids.push(next);
            depositOf[next] = value;
        }
    }

    function draw(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id != 0) _call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.draw, (id)), "draw");
    }

    function accept(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        uint256 wid = _status(id) == I.AgreementStatus.Purchased ? r.previewWorker(id) : r.getAgreement(id).workerId;
        if (wid == 0) return;
        _call(r.getWorker(wid).owner, 0, abi.encodeCall(WorkerDispatcherV2.acceptAgreement, (id, "")), "accept");
    }

    function decline(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        address w = r.getWorker(r.getAgreement(id).workerId).owner;
        _call(w, 0, abi.encodeCall(WorkerDispatcherV2.declineAgreement, (id)), "decline");
    }

    function reassign(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        if (_status(id) == I.AgreementStatus.Purchased) {
            _roll(3);
            _call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.draw, (id)), "draw"); // a draw nobody accepts
        }
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status == I.AgreementStatus.Assigned) _warpTo(a.deadline + 1);
        _call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.reassignAgreement, (id)), "reassign");
    }

    function rejectSpec(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        address w = r.getWorker(r.getAgreement(id).workerId).owner;
        _call(w, 0, abi.encodeCall(WorkerDispatcherV2.rejectSpec, (id, SPEC, SALT)), "rejectSpec");
    }

    function start(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        address w = r.getWorker(r.getAgreement(id).workerId).owner;
        _call(w, 0, abi.encodeCall(WorkerDispatcherV2.startAgreement, (id, "")), "start");
    }

    function drawVerifiers(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id != 0) _call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.drawVerifiers, (id, "")), "drawVerifiers");
    }

    function cancel(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id != 0) _call(r.getAgreement(id).client, 0, abi.encodeCall(WorkerDispatcherV2.cancelAgreement, (id)), "cancel");
    }

    function expire(uint256 seed) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status == I.AgreementStatus.Accepted) _warpTo(a.deadline + 1);
        _call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.expireAgreement, (id)), "expire");
    }

    function stop(uint256 seed, uint256 second) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status != I.AgreementStatus.Running) return;
        _warpTo(a.deadline + bound(second, 0, uint256(a.periods) * a.periodSeconds)); // any second, boundaries too
        _call(a.client, 0, abi.encodeCall(WorkerDispatcherV2.stopAgreement, (id)), "stop");
    }

    /// @dev A verifier reports a batch at some second of its window (or just outside it): confirms it, or votes.
    function report(uint256 seed, uint256 v, uint256 batchSeed, uint256 bits, uint256 when) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status != I.AgreementStatus.Running || a.billablePeriods == 0) return;
        uint256 batches = (uint256(a.billablePeriods) + 1439) / 1440;
        uint256 batch = batchSeed % batches;
        uint256 end = (batch + 1) * 1440 < a.billablePeriods ? (batch + 1) * 1440 : a.billablePeriods;
        _warpTo(a.deadline + end * a.periodSeconds + bound(when, 0, 3700) - 1);
        _submit(id, a, v % a.verifierIds.length, batch, bits);
    }

    /// @dev bits % 3 == 0: confirm (every period ok); otherwise random votes derived from `bits`.
    function _submit(uint256 id, I.AgreementView memory a, uint256 v, uint256 batch, uint256 bits) internal {
        address who = r.getWorker(a.verifierIds[v]).owner;
        if (bits % 3 == 0) {
            _call(who, 0, abi.encodeCall(WorkerDispatcherV2.confirmBatch, (id, batch)), "report");
            return;
        }
        uint256 first = batch * 12;
        uint256 words = (uint256(a.billablePeriods) + 119) / 120 - first;
        if (words > 12) words = 12;
        uint256[] memory ok = new uint256[](words);
        uint256[] memory voted = new uint256[](words);
        for (uint256 j; j < words; ++j) {
            uint256 p0 = (first + j) * 120;
            uint256 size = a.billablePeriods - p0 < 120 ? a.billablePeriods - p0 : 120;
            voted[j] = uint256(keccak256(abi.encode(bits, j))) & ((uint256(1) << size) - 1);
            ok[j] = uint256(keccak256(abi.encode(bits, j, 1))) & voted[j];
        }
        _call(who, 0, abi.encodeCall(WorkerDispatcherV2.submitReport, (id, batch, ok, voted)), "report");
    }

    /// @dev Settles; checks that the settlement split exactly the deposit (stakes + client refund + burned).
    function settle(uint256 seed, bool late) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status != I.AgreementStatus.Running) return;
        if (late) _warpTo(a.deadline + uint256(a.billablePeriods) * a.periodSeconds + 3600);
        // The client's refund is sent to its wallet at once (else credited): both count.
        uint256 before = _stakes() + r.creditOf(a.client) + a.client.balance;
        uint256 burnBefore = _burnBalance();
        if (_call(address(this), 0, abi.encodeCall(WorkerDispatcherV2.settle, (id)), "settle")) {
            if (++settles[id] > 1) doubleSettle = true;
            uint256 afterAll = _stakes() + r.creditOf(a.client) + a.client.balance + (_burnBalance() - burnBefore);
            if (afterAll != before + depositOf[id]) settlementMismatch = true;
        }
    }

    /// @dev A running agreement to its end: every verifier reports every batch (honest "all ok" or random votes).
    function runToEnd(uint256 seed, uint256 votes) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementView memory a = r.getAgreement(id);
        if (a.status != I.AgreementStatus.Running) return;
        uint256 batches = (uint256(a.billablePeriods) + 1439) / 1440;
        for (uint256 b; b < batches; ++b) {
            uint256 end = (b + 1) * 1440 < a.billablePeriods ? (b + 1) * 1440 : a.billablePeriods;
            _warpTo(a.deadline + end * a.periodSeconds);
            for (uint256 v; v < a.verifierIds.length; ++v) {
                _submit(id, a, v, b, votes == 0 ? 0 : uint256(keccak256(abi.encode(votes, b, v))));
            }
        }
    }

    /// @dev Moves an agreement one step along the nodes' path (so deep states are reached often).
    function advance(uint256 seed, uint256 votes) external {
        uint256 id = _pick(seed);
        if (id == 0) return;
        I.AgreementStatus st = _status(id);
        if (st == I.AgreementStatus.Purchased) {
            _roll(3);
            this.accept(seed);
        } else if (st == I.AgreementStatus.Assigned) {
            this.accept(seed);
        } else if (st == I.AgreementStatus.Accepted) {
            this.start(seed); // a node draws the verifiers as soon as it can
            _roll(3);
            this.drawVerifiers(seed);
        } else if (st == I.AgreementStatus.Starting) {
            _roll(3);
            this.drawVerifiers(seed);
        } else if (st == I.AgreementStatus.Running) {
            if (votes % 2 == 1) this.stop(seed, votes >> 8); // at any second of the agreement, boundaries too
            this.runToEnd(seed, votes % 3 == 0 ? 0 : votes);
            this.settle(seed, votes % 5 == 0);
        }
    }

    // ---------------------------------------------------------------- sums the invariants use

    function _stakes() internal view returns (uint256 s) {
        uint256 n = r.workerCount();
        for (uint256 i = 1; i <= n; ++i) {
            s += r.getWorker(i).stake;
        }
    }

    function stakes() external view returns (uint256) {
        return _stakes();
    }

    function lockedOverStake() external view returns (bool) {
        uint256 n = r.workerCount();
        for (uint256 i = 1; i <= n; ++i) {
            I.WorkerView memory w = r.getWorker(i);
            if (w.locked > w.stake) return true;
        }
        return false;
    }

    function escrows() external view returns (uint256 s) {
        uint256 n = r.agreementCount();
        for (uint256 i = 1; i <= n; ++i) {
            s += r.getAgreement(i).escrow;
        }
    }

    function credits() external view returns (uint256 s) {
        for (uint256 i; i < actors.length; ++i) {
            s += r.creditOf(actors[i]);
        }
    }

    /// @dev Locks the contract says it holds, recomputed from the open agreements (worker lock + n bonds).
    function locksFromAgreements() external view returns (uint256 s) {
        uint256 n = r.agreementCount();
        for (uint256 i = 1; i <= n; ++i) {
            I.AgreementView memory a = r.getAgreement(i);
            s += a.workerLock + a.verifierBond * a.verifierIds.length;
        }
    }

    function lockedTotal() external view returns (uint256 s) {
        uint256 n = r.workerCount();
        for (uint256 i = 1; i <= n; ++i) {
            s += r.getWorker(i).locked;
        }
    }
}

/// @notice Invariants of protocol v2's money: the contract holds exactly what it owes, the reference model of
///         every wei in and out agrees, locks never exceed stakes and match the open agreements, settlements split
///         exactly their deposit, and no agreement settles twice.
contract V2InvariantTest is Test {
    event log_named_uint(string key, uint256 val);

    WorkerDispatcherV2 internal d;
    HandlerV2 internal h;

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(1000);
        _market();
        targetContract(address(h));
    }

    /// @dev A fresh dispatcher and handler with every worker registered.
    function _market() internal {
        I.Config memory c;
        c.minStake = 1 ether;
        c.minVerifierBond = 0.01 ether;
        c.cancelFee = 0.0005 ether;
        c.declineFee = 0.0005 ether;
        c.minVerifierPay = 1e13;
        c.acceptWindow = 1 hours;
        c.startWindow = 1 hours;
        c.reportWindow = 1 hours;
        c.coolDown = 1 days;
        c.verifierFeeBps = 500;
        c.slashBps = 10_000;
        c.penaltyBps = 20_000;
        c.drawDelay = 2;
        d = new WorkerDispatcherV2(c);
        h = new HandlerV2(d);
        for (uint256 i = 1; i <= h.WORKERS(); ++i) {
            h.register(i, i, i);
        }
        h.rollBlocks(1);
    }

    function invariant_holdsExactlyWhatItOwes() public view {
        uint256 owed = h.escrows() + h.stakes() + h.credits();
        assertGe(address(d).balance, owed, "solvent: balance >= escrows + stakes + credits");
        assertEq(address(d).balance, owed, "and holds nothing it does not owe");
    }

    function invariant_moneyConserved_referenceModel() public view {
        assertEq(address(d).balance, h.modelIn() - h.modelOut() - h.modelBurned(), "in - out - burned");
        assertEq(RegistryModuleV2(address(d)).totalBurned(), h.modelBurned(), "burned as booked");
    }

    function invariant_locksCoveredAndConsistent() public view {
        assertTrue(!h.lockedOverStake(), "no worker locks more than its stake");
        assertEq(h.lockedTotal(), h.locksFromAgreements(), "locks = open agreements' exposure + bonds");
    }

    function invariant_settlementsSplitTheirDepositOnce() public view {
        assertTrue(!h.settlementMismatch(), "settlement = deposit");
        assertTrue(!h.doubleSettle(), "no double settlement");
    }

    function _checkAll() internal view {
        invariant_holdsExactlyWhatItOwes();
        invariant_moneyConserved_referenceModel();
        invariant_locksCoveredAndConsistent();
        invariant_settlementsSplitTheirDepositOnce();
    }

    function _step(uint256 action, uint256 x, uint256 y, uint256 z) internal {
        if (action == 0) h.buy(x, y, z, x >> 8, y >> 8);
        else if (action == 1 || action == 24 || action == 25 || action == 26) h.advance(x, y);
        else if (action == 2) h.rollBlocks(x % 7 == 0 ? 280 : 3);
        else if (action == 3) h.accept(x);
        else if (action == 4) h.start(x);
        else if (action == 5) h.drawVerifiers(x);
        else if (action == 6) h.runToEnd(x, y % 3 == 0 ? 0 : y);
        else if (action == 7) h.settle(x, y % 2 == 0);
        else if (action == 8) h.report(x, y, z, x >> 16, y >> 16);
        else if (action == 9) h.stop(x, y);
        else if (action == 10) h.warpToBoundary(x, y, z);
        else if (action == 11) h.warpSeconds(x);
        else if (action == 12) h.decline(x);
        else if (action == 13) h.reassign(x);
        else if (action == 14) h.rejectSpec(x);
        else if (action == 15) h.cancel(x);
        else if (action == 16) h.expire(x);
        else if (action == 17) h.draw(x);
        else if (action == 18) h.withdraw(x);
        else if (action == 19) h.withdrawStake(x, y, z % 4 == 0);
        else if (action == 20) h.addStake(x, y);
        else if (action == 21) h.pauseOrResume(x, y % 2 == 0);
        else if (action == 22) h.unregister(x % 20 == 0 ? x : 0);
        else h.register(x, y, z);
    }

    /// @notice A long deterministic walk through the handler: the invariants after every step, and every kind of
    ///         step (boundaries, stops, declines, reassignments, expiries, rejected specs, settlements with failed
    ///         and undecided periods, withdrawals) reached at least once.
    function test_handlerReachesEveryCorner() public {
        for (uint256 i; i < 2000; ++i) {
            uint256 x = uint256(keccak256(abi.encode(i, "x")));
            uint256 y = uint256(keccak256(abi.encode(i, "y")));
            uint256 z = uint256(keccak256(abi.encode(i, "z")));
            _step(x % 27, x >> 5, y, z);
            _checkAll();
        }
        bytes32[17] memory must = [
            bytes32("buy"), "accept", "start", "drawVerifiers", "report", "settle", "stop", "decline", "reassign",
            "rejectSpec", "cancel", "expire", "draw", "withdraw", "withdrawStake", "addStake", "register"
        ];
        uint256[17] memory reached;
        for (uint256 k; k < must.length; ++k) {
            reached[k] = h.coverage(must[k]);
        }
        uint256 burned = h.modelBurned();
        // Then, on a fresh market (the walk leaves stakes locked in agreements it abandoned), whole agreements one
        // after another: stops at any second, votes at random (failed, undecided, silent, dissenting periods).
        _market();
        for (uint256 k; k < 40; ++k) {
            uint256 x = uint256(keccak256(abi.encode(k, "life")));
            h.buy(x % 3, x >> 16, x >> 32, x >> 48, x >> 64);
            _checkAll();
            for (uint256 j; j < 3; ++j) {
                h.advance(0, uint256(keccak256(abi.encode(k, j))));
                _checkAll();
            }
            h.withdraw(x >> 80);
            _checkAll();
        }
        for (uint256 k; k < must.length; ++k) {
            reached[k] += h.coverage(must[k]);
            emit log_named_uint(string(abi.encodePacked(must[k])), reached[k]);
            assertGt(reached[k], 0, string(abi.encodePacked("reached: ", must[k])));
        }
        burned += h.modelBurned();
        emit log_named_uint("burned (slashes, fees), wei", burned);
        assertGt(burned, 0, "some stake was burned");
    }
}
