// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IWorkerDispatcherV2} from "./IWorkerDispatcherV2.sol";
import {Randomness} from "./lib/Randomness.sol";

/// @title DispatcherStateV2 — storage layout, parameters and shared rules of protocol v2
/// @notice Inherited by WorkerDispatcherV2 (agreement life cycle, verification ledger) and by RegistryModuleV2
///         (worker registry and read-only views, run by the dispatcher through delegatecall). Neither adds
///         storage, so both see the same layout. Shared rules live here: stake locks, burning, the money an
///         agreement holds and locks, and the draws (used by the life cycle and by the previews).
///         A worker's stake is one pot; each open agreement locks part of it (a worker's exposure, a verifier's
///         bond), so one stake cannot back more agreements than it covers. Draw eligibility uses `changedAt`:
///         a worker whose offer, stake or status changed in or after the block that committed a draw is not a
///         candidate of that draw, so nobody can become eligible after seeing the draw's hash.
abstract contract DispatcherStateV2 is IWorkerDispatcherV2 {
    struct Worker {
        // slot 0
        address owner;
        WorkerStatus status;
        uint32 changedAt; // block number of the last change of offer, stake or status
        uint40 coolDownEnd;
        // slot 1
        uint64 pricePerSecond;
        uint32 maxDuration;
        uint32 cpuMillicores;
        uint32 memoryMB;
        uint32 completedAgreements;
        uint32 failedAgreements;
        uint16 declined;
        uint16 specsRejected;
        // slot 2
        uint96 stake; // total, locked included
        uint96 locked;
        uint32 verifiedPeriods;
        uint32 failedPeriods;
        // slots 3, 4
        bytes32 pubKeyX;
        bytes32 pubKeyY;
    }

    uint256 internal constant _BPS = 10_000;
    uint256 internal constant _SECP_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @notice Where burned money goes (nobody holds its key).
    address public constant BURN = address(0xdead);

    uint256 internal immutable _minStake;
    uint256 internal immutable _minVerifierBond;
    uint256 internal immutable _cancelFee;
    uint256 internal immutable _declineFee;
    uint256 internal immutable _minVerifierPay;
    uint256 internal immutable _acceptWindow;
    uint256 internal immutable _startWindow;
    uint256 internal immutable _reportWindow;
    uint256 internal immutable _coolDown;
    uint256 internal immutable _verifierFeeBps;
    uint256 internal immutable _slashBps;
    uint256 internal immutable _penaltyBps;
    uint256 internal immutable _drawDelay;

    uint256 internal _workerCount;
    mapping(uint256 => Worker) internal _workers;
    mapping(address => uint256) internal _workerIdOf;
    mapping(address => uint256) internal _credits;
    uint256 internal _totalBurned;
    bool internal transient _locked;

    constructor(Config memory c) {
        if (
            c.minStake == 0 || c.acceptWindow == 0 || c.startWindow == 0 || c.reportWindow == 0 || c.drawDelay == 0
                || c.verifierFeeBps == 0 || c.verifierFeeBps > _BPS || c.slashBps > 10 * _BPS || c.penaltyBps == 0
                || c.minVerifierPay == 0
        ) revert InvalidConfig();
        _minStake = c.minStake;
        _minVerifierBond = c.minVerifierBond;
        _cancelFee = c.cancelFee;
        _declineFee = c.declineFee;
        _minVerifierPay = c.minVerifierPay;
        _acceptWindow = c.acceptWindow;
        _startWindow = c.startWindow;
        _reportWindow = c.reportWindow;
        _coolDown = c.coolDown;
        _verifierFeeBps = c.verifierFeeBps;
        _slashBps = c.slashBps;
        _penaltyBps = c.penaltyBps;
        _drawDelay = c.drawDelay;
    }

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    struct Agreement {
        // slot 0
        address client;
        AgreementStatus status;
        uint8 verifierCount;
        uint8 reassignments;
        uint32 workerId;
        uint40 deadline; // Assigned: accept deadline; Accepted: start deadline; Running/Settled: startedAt
        // slot 1
        uint64 pricePerSecond; // the drawn worker's price (≤ maxPricePerSecond)
        uint64 maxPricePerSecond;
        uint32 periodSeconds;
        uint32 periods;
        uint32 billablePeriods;
        uint32 drawBlock;
        // slot 2
        bytes32 specCommit;
        // slot 3
        uint120 verifierIds; // 24 bits each
        uint32 cpuMillicores;
        uint32 memoryMB;
        uint16 minReputation;
        uint24 candidates; // worker ids 1..candidates take part in the pending draw
        // Batch 0 (every agreement up to BATCH_PERIODS periods has only it): bit v = verifier v confirmed it /
        // submitted a report of it. Kept in this slot, which every report reads anyway, so a confirmation
        // changes a warm, non-zero slot (~2,900 gas) instead of creating a ledger slot (~22,100).
        uint8 confirmed0;
        uint8 reported0;
    }

    /// @notice Periods per stored report word (bits 0..119 ok, 120..239 voted, bit 255 submitted).
    uint256 public constant WORD_PERIODS = 120;
    /// @notice Report words per batch: a verifier reports up to BATCH_PERIODS periods in one transaction.
    uint256 public constant BATCH_WORDS = 12;
    /// @notice Periods per report batch (24 hours of 60 s periods).
    uint256 public constant BATCH_PERIODS = WORD_PERIODS * BATCH_WORDS;
    uint256 public constant MIN_VERIFIERS = 3;
    uint256 public constant MAX_VERIFIERS = 5;
    uint256 public constant MAX_PERIODS = 10_080; // a week of 60 s periods
    uint256 public constant MIN_PERIOD_SECONDS = 10;
    uint256 public constant MAX_REASSIGNMENTS = 3;
    /// @notice Largest envelope per recipient of a message, bytes.
    uint256 public constant MAX_ENVELOPE_BYTES = 1024;
    uint256 internal constant _WORKER_PROBES = 16;
    uint256 internal constant _SUBMITTED = uint256(1) << 255;
    uint256 internal constant _PURPOSE_VERIFIERS = 0x5645524946; // "VERIF"

    uint256 internal _agreementCount;
    mapping(uint256 => Agreement) internal _agreements;
    /// agreement id => word·8 + verifier index => submitted | voted << 120 | ok (submitReport);
    /// agreement id => type(uint256).max - batch/32 => confirmBatch flags, bit (batch % 32)·8 + verifier index
    mapping(uint256 => mapping(uint256 => uint256)) internal _reports;

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    function _reputation(Worker storage w) internal view returns (uint256) {
        uint256 v = w.verifiedPeriods;
        return v * 1000 / (v + uint256(w.failedPeriods) + 10 * uint256(w.failedAgreements) + 100);
    }

    function _free(Worker storage w) internal view returns (uint256) {
        return uint256(w.stake) - uint256(w.locked);
    }

    function _lock(Worker storage w, uint256 amount) internal {
        w.locked = uint96(uint256(w.locked) + amount);
    }

    function _unlock(Worker storage w, uint256 amount) internal {
        w.locked = uint96(uint256(w.locked) - amount);
    }

    /// @dev Takes up to `amount` of the worker's stake that no agreement locks (the caller released the agreement's
    ///      lock first) and returns it; the caller burns the total with `_burn` once its state changes are done.
    function _slashStake(uint256 workerId, uint256 agreementId, uint256 amount, uint8 reason)
        internal
        returns (uint256 taken)
    {
        Worker storage w = _workers[workerId];
        uint256 free = _free(w);
        taken = amount < free ? amount : free;
        if (taken == 0) return 0;
        w.stake = uint96(uint256(w.stake) - taken);
        emit StakeBurned(workerId, agreementId, taken, reason);
    }

    /// @dev Sends `amount` the contract holds for no one any more (slashes, fees) to BURN.
    function _burn(uint256 amount) internal {
        if (amount == 0) return;
        _totalBurned += amount;
        _send(BURN, amount);
    }

    function _callerWorker() internal view returns (uint256 id, Worker storage w) {
        id = _workerIdOf[msg.sender];
        if (id == 0) revert NotRegistered(msg.sender);
        w = _workers[id];
        if (w.status == WorkerStatus.None) revert NotRegistered(msg.sender);
    }

    function _checkOffer(uint64 price, uint32 maxDuration, uint32 cpu, uint32 mem) internal pure {
        if (price == 0 || maxDuration == 0 || cpu == 0 || mem == 0) revert InvalidOffer(price, maxDuration, cpu, mem);
    }

    /// @dev A 64-byte x||y on secp256k1 (y² = x³ + 7 mod p).
    function _checkPublicKey(bytes calldata key) internal pure returns (bytes32 x, bytes32 y) {
        if (key.length != 64) revert InvalidPublicKey(key.length);
        x = bytes32(key[0:32]);
        y = bytes32(key[32:64]);
        uint256 xi = uint256(x);
        uint256 yi = uint256(y);
        if (xi >= _SECP_P || yi >= _SECP_P) revert InvalidPublicKey(key.length);
        if (mulmod(yi, yi, _SECP_P) != addmod(mulmod(mulmod(xi, xi, _SECP_P), xi, _SECP_P), 7, _SECP_P)) {
            revert InvalidPublicKey(key.length);
        }
    }

    /// @dev Sends wei (state already updated by the caller; BURN and withdrawals only).
    /// @dev Gives a client `amount` back: sent at once with the call stipend only (2,300 gas: an account, or a
    ///      contract whose receive only logs, takes it; nothing more can run, so the refund can neither re-enter nor
    ///      make the caller's transaction fail), else credited for `withdraw`. The caller has finished its state
    ///      changes and emitted the event that credits the refund: Withdrawn follows it when sent.
    ///      Why not always a credit: a credit costs ~22,100 gas to create and a `withdraw` transaction (~30,600),
    ///      a third of what one agreement's client pays; pull stays the fallback, so nobody can block a refund.
    function _refund(address account, uint256 amount) internal {
        if (amount == 0) return;
        (bool ok,) = payable(account).call{value: amount, gas: 0}("");
        if (ok) emit Withdrawn(account, amount);
        else _credits[account] += amount;
    }

    function _send(address to, uint256 amount) internal {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    function _agreement(uint256 agreementId) internal view returns (Agreement storage a) {
        a = _agreements[agreementId];
        if (a.status == AgreementStatus.None) revert UnknownAgreement(agreementId);
    }

    function _requireStatus(uint256 agreementId, Agreement storage a, AgreementStatus s) internal view {
        if (a.status != s) revert InvalidAgreementStatus(agreementId, a.status);
    }

    function _reward(uint256 price, uint256 period) internal view returns (uint256) {
        return price * period * _verifierFeeBps / _BPS;
    }

    function _deposit(uint256 maxPrice, uint256 period, uint256 periods, uint256 n) internal view returns (uint256) {
        return periods * (maxPrice * period + n * _reward(maxPrice, period));
    }

    function _depositOf(Agreement storage a) internal view returns (uint256) {
        return _deposit(a.maxPricePerSecond, a.periodSeconds, a.periods, a.verifierCount);
    }

    /// @dev What the worker can lose on this agreement: every period failed, plus the fee of not starting.
    function _workerLock(Agreement storage a) internal view returns (uint256) {
        return _workerLockAt(a, a.pricePerSecond);
    }

    function _workerLockAt(Agreement storage a, uint256 price) internal view returns (uint256) {
        return uint256(a.periods) * price * a.periodSeconds * _slashBps / _BPS + _declineFee;
    }

    /// @dev A verifier's bond: its penalty if it dissented or stayed silent on every period (at least the minimum).
    function _verifierBond(Agreement storage a) internal view returns (uint256) {
        uint256 b = uint256(a.periods) * (_reward(a.pricePerSecond, a.periodSeconds) * _penaltyBps / _BPS);
        return b > _minVerifierBond ? b : _minVerifierBond;
    }


    /// @dev Where an "every period ok" report of (batch, verifier index) is kept: a bit in a word shared by 32
    ///      batches of all verifiers, stored at the top of the agreement's report keys (apart from word·8 + v).
    function _allOkFlag(uint256 batch, uint256 v) internal pure returns (uint256 key, uint256 flag) {
        key = type(uint256).max - batch / 32;
        flag = uint256(1) << ((batch % 32) * 8 + v);
    }

    /// @dev The periods of report word `word` within `billable` periods, as a bitmap.
    function _wordMask(uint256 billable, uint256 word) internal pure returns (uint256) {
        uint256 first = word * WORD_PERIODS;
        uint256 size = billable - first < WORD_PERIODS ? billable - first : WORD_PERIODS;
        return (uint256(1) << size) - 1;
    }

    /// @dev The salted commit of a probe spec: keccak256(salt ‖ keccak256(spec)).
    function _specCommit(bytes calldata spec, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(salt, keccak256(spec)));
    }

    // ---------------------------------------------------------------------------------------------
    // Internals: draws
    // ---------------------------------------------------------------------------------------------

    /// @dev Up to _WORKER_PROBES uniformly random ids of 1..candidates, then a scan of as many from a random id;
    ///      the first eligible wins. Cost bounded whatever the number of workers.
    function _pickWorker(uint256 agreementId, Agreement storage a) internal view returns (uint256, uint64) {
        uint256 n = a.candidates;
        if (n == 0) return (0, 0);
        uint256 s = Randomness.seed(a.drawBlock, agreementId, a.reassignments);
        uint256 commitBlock = uint256(a.drawBlock) - _drawDelay;
        for (uint256 i; i < _WORKER_PROBES; ++i) {
            uint256 id = Randomness.word(s, i) % n + 1;
            (bool ok, uint64 price) = _workerEligible(a, id, commitBlock);
            if (ok) return (id, price);
        }
        uint256 start = Randomness.word(s, _WORKER_PROBES);
        uint256 scan = n < _WORKER_PROBES ? n : _WORKER_PROBES;
        for (uint256 j; j < scan; ++j) {
            uint256 id = (start + j) % n + 1;
            (bool ok, uint64 price) = _workerEligible(a, id, commitBlock);
            if (ok) return (id, price);
        }
        return (0, 0);
    }

    function _workerEligible(Agreement storage a, uint256 id, uint256 commitBlock)
        internal
        view
        returns (bool, uint64)
    {
        Worker storage w = _workers[id];
        uint64 price = w.pricePerSecond;
        if (
            w.status != WorkerStatus.Active || w.changedAt >= commitBlock || price > a.maxPricePerSecond
                || w.cpuMillicores < a.cpuMillicores || w.memoryMB < a.memoryMB
                || uint256(w.maxDuration) < uint256(a.periods) * a.periodSeconds || w.owner == a.client
        ) return (false, 0);
        if (w.stake < _minStake || _free(w) < _workerLockAt(a, price)) return (false, 0);
        if (a.minReputation != 0 && _reputation(w) < a.minReputation) return (false, 0);
        return (true, price);
    }

    /// @dev n distinct verifiers packed 24 bits each (0 if too few are eligible): up to 8n random probes, then a
    ///      scan of up to 8n + 16 ids from a random one.
    function _pickVerifiers(uint256 agreementId, Agreement storage a, uint256 n, uint256 bond)
        internal
        view
        returns (uint256 ids)
    {
        uint256 count = a.candidates;
        if (count == 0) return 0;
        uint256 s = Randomness.seed(a.drawBlock, agreementId, _PURPOSE_VERIFIERS);
        uint256 commitBlock = uint256(a.drawBlock) - _drawDelay;
        uint256 found;
        for (uint256 i; i < 8 * n && found < n; ++i) {
            uint256 id = Randomness.word(s, i) % count + 1;
            if (_verifierEligible(a, id, commitBlock, bond, ids, found)) ids |= id << (24 * found++);
        }
        uint256 start = Randomness.word(s, 8 * n);
        uint256 scan = 8 * n + 16;
        if (scan > count) scan = count;
        for (uint256 j; j < scan && found < n; ++j) {
            uint256 id = (start + j) % count + 1;
            if (_verifierEligible(a, id, commitBlock, bond, ids, found)) ids |= id << (24 * found++);
        }
        if (found < n) return 0;
    }

    function _verifierEligible(
        Agreement storage a,
        uint256 id,
        uint256 commitBlock,
        uint256 bond,
        uint256 chosen,
        uint256 found
    ) internal view returns (bool) {
        if (id == a.workerId) return false;
        for (uint256 k; k < found; ++k) {
            if ((chosen >> (24 * k)) & 0xFFFFFF == id) return false;
        }
        Worker storage w = _workers[id];
        return w.status == WorkerStatus.Active && w.changedAt < commitBlock && w.owner != a.client
            && w.stake >= _minStake && _free(w) >= bond;
    }

}
