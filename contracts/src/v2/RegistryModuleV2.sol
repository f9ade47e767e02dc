// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherStateV2} from "./DispatcherStateV2.sol";
import {PeriodBits} from "./lib/PeriodBits.sol";
import {Randomness} from "./lib/Randomness.sol";

/// @title RegistryModuleV2 — the worker registry and the read-only views of protocol v2
/// @notice Runs only through WorkerDispatcherV2's fallback (delegatecall), on the dispatcher's storage: call these
///         functions at the dispatcher's address. Kept apart so the dispatcher's code stays under the EIP-170
///         limit; nothing of an agreement's life cycle passes through here.
contract RegistryModuleV2 is DispatcherStateV2 {
    constructor(Config memory c) DispatcherStateV2(c) {}

    // ---------------------------------------------------------------------------------------------
    // Workers
    // ---------------------------------------------------------------------------------------------

    /// @notice Registers the caller as a worker with `msg.value` as stake (or re-registers an account that
    ///         withdrew its stake: same id, same reputation — a record cannot be shed by re-registering).
    /// @param pricePerSecond price asked, wei per second (> 0)
    /// @param maxDuration longest agreement accepted, seconds (> 0)
    /// @param cpuMillicores CPU offered, thousandths of a core (> 0)
    /// @param memoryMB memory offered, MiB (> 0)
    /// @param publicKey 64-byte uncompressed secp256k1 public key (x || y) messages to the worker are sealed to
    /// @return workerId the worker's id
    function registerWorker(
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes calldata publicKey
    ) external payable returns (uint256 workerId) {
        if (msg.value < _minStake || msg.value > type(uint96).max) revert StakeTooLow(msg.value, _minStake);
        _checkOffer(pricePerSecond, maxDuration, cpuMillicores, memoryMB);
        (bytes32 x, bytes32 y) = _checkPublicKey(publicKey);
        workerId = _workerIdOf[msg.sender];
        Worker storage w;
        if (workerId == 0) {
            workerId = ++_workerCount;
            if (workerId > type(uint24).max) revert InvalidConfig(); // agreements keep worker ids in 24 bits
            _workerIdOf[msg.sender] = workerId;
            w = _workers[workerId];
            w.owner = msg.sender;
        } else {
            w = _workers[workerId];
            if (w.status != WorkerStatus.None) revert AlreadyRegistered(msg.sender, workerId);
        }
        w.status = WorkerStatus.Active;
        w.changedAt = uint32(block.number);
        w.coolDownEnd = 0;
        w.pricePerSecond = pricePerSecond;
        w.maxDuration = maxDuration;
        w.cpuMillicores = cpuMillicores;
        w.memoryMB = memoryMB;
        w.stake = uint96(msg.value);
        w.pubKeyX = x;
        w.pubKeyY = y;
        emit WorkerRegistered(
            workerId, msg.sender, pricePerSecond, maxDuration, cpuMillicores, memoryMB, publicKey, msg.value
        );
    }

    /// @notice Changes the caller's offer and key. Open agreements keep their terms; the worker is not a
    ///         candidate of draws committed in this block or before it until the next block.
    /// @param pricePerSecond price asked, wei per second (> 0)
    /// @param maxDuration longest agreement accepted, seconds (> 0)
    /// @param cpuMillicores CPU offered (> 0)
    /// @param memoryMB memory offered (> 0)
    /// @param publicKey 64-byte uncompressed secp256k1 public key
    function updateWorker(
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes calldata publicKey
    ) external {
        (uint256 id, Worker storage w) = _callerWorker();
        _checkOffer(pricePerSecond, maxDuration, cpuMillicores, memoryMB);
        (bytes32 x, bytes32 y) = _checkPublicKey(publicKey);
        w.pricePerSecond = pricePerSecond;
        w.maxDuration = maxDuration;
        w.cpuMillicores = cpuMillicores;
        w.memoryMB = memoryMB;
        w.pubKeyX = x;
        w.pubKeyY = y;
        w.changedAt = uint32(block.number);
        emit WorkerUpdated(id, pricePerSecond, maxDuration, cpuMillicores, memoryMB, publicKey);
    }

    /// @notice Stops the caller from being drawn (open agreements continue).
    function pauseWorker() external {
        (uint256 id, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Active) revert InvalidWorkerStatus(id, w.status);
        w.status = WorkerStatus.Paused;
        w.changedAt = uint32(block.number);
        emit WorkerPaused(id);
    }

    /// @notice Makes a paused worker drawable again (from draws committed after this block).
    function resumeWorker() external {
        (uint256 id, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Paused) revert InvalidWorkerStatus(id, w.status);
        w.status = WorkerStatus.Active;
        w.changedAt = uint32(block.number);
        emit WorkerResumed(id);
    }

    /// @notice Adds `msg.value` to the caller's stake.
    function addStake() external payable {
        (uint256 id, Worker storage w) = _callerWorker();
        uint256 stake = uint256(w.stake) + msg.value;
        if (stake > type(uint96).max) revert StakeTooLow(msg.value, 0);
        w.stake = uint96(stake);
        w.changedAt = uint32(block.number);
        emit StakeAdded(id, msg.value, stake);
    }

    /// @notice Leaves the market: no more draws; the stake can be withdrawn after the cool-down once no agreement
    ///         locks any of it.
    function unregisterWorker() external {
        (uint256 id, Worker storage w) = _callerWorker();
        if (w.status == WorkerStatus.Unregistering) revert InvalidWorkerStatus(id, w.status);
        w.status = WorkerStatus.Unregistering;
        w.changedAt = uint32(block.number);
        uint256 end = block.timestamp + _coolDown;
        w.coolDownEnd = uint40(end);
        emit WorkerUnregistered(id, end);
    }

    /// @notice Withdraws stake: an active or paused worker any free stake above the minimum (its earnings — pay
    ///         and verifier rewards are added to the stake); an unregistered worker, after the cool-down and with
    ///         nothing locked, everything (pass its whole stake).
    /// @param amount wei to withdraw
    function withdrawStake(uint256 amount) external nonReentrant {
        (uint256 id, Worker storage w) = _callerWorker();
        uint256 stake = w.stake;
        if (w.status == WorkerStatus.Unregistering) {
            if (block.timestamp < w.coolDownEnd) revert CoolDownNotOver(id, w.coolDownEnd);
            if (w.locked != 0) revert StakeLocked(id, w.locked);
            if (amount != stake) revert StakeTooLow(amount, stake);
            w.status = WorkerStatus.None;
        } else {
            if (amount > _free(w)) revert StakeLocked(id, w.locked);
            if (stake - amount < _minStake) revert StakeTooLow(stake - amount, _minStake);
        }
        w.stake = uint96(stake - amount);
        w.changedAt = uint32(block.number);
        emit StakeWithdrawn(id, msg.sender, amount);
        _send(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice The contract's parameters.
    function config() external view returns (Config memory c) {
        c.minStake = uint96(_minStake);
        c.minVerifierBond = uint96(_minVerifierBond);
        c.cancelFee = uint96(_cancelFee);
        c.declineFee = uint96(_declineFee);
        c.minVerifierPay = uint96(_minVerifierPay);
        c.acceptWindow = uint32(_acceptWindow);
        c.startWindow = uint32(_startWindow);
        c.reportWindow = uint32(_reportWindow);
        c.coolDown = uint32(_coolDown);
        c.verifierFeeBps = uint16(_verifierFeeBps);
        c.slashBps = uint16(_slashBps);
        c.penaltyBps = uint16(_penaltyBps);
        c.drawDelay = uint8(_drawDelay);
    }

    /// @notice Number of worker ids ever registered (ids are 1..workerCount).
    function workerCount() external view returns (uint256) {
        return _workerCount;
    }

    /// @notice The worker id of an account (0 = none).
    function workerIdOf(address owner) external view returns (uint256) {
        return _workerIdOf[owner];
    }

    /// @notice What `withdraw` would send to `account`.
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @notice All wei ever burned (sent to BURN) by this contract.
    function totalBurned() external view returns (uint256) {
        return _totalBurned;
    }

    /// @notice A worker's registration, offer, stake and locks.
    function getWorker(uint256 workerId) external view returns (WorkerView memory v) {
        Worker storage w = _workers[workerId];
        v.owner = w.owner;
        v.status = w.status;
        v.pricePerSecond = w.pricePerSecond;
        v.maxDuration = w.maxDuration;
        v.cpuMillicores = w.cpuMillicores;
        v.memoryMB = w.memoryMB;
        v.stake = w.stake;
        v.locked = w.locked;
        v.changedAt = w.changedAt;
        v.coolDownEnd = w.coolDownEnd;
        v.publicKey = w.owner == address(0) ? new bytes(0) : abi.encodePacked(w.pubKeyX, w.pubKeyY);
    }

    /// @notice A worker's record.
    function reputationCounters(uint256 workerId) external view returns (Reputation memory r) {
        Worker storage w = _workers[workerId];
        r.verifiedPeriods = w.verifiedPeriods;
        r.failedPeriods = w.failedPeriods;
        r.completedAgreements = w.completedAgreements;
        r.failedAgreements = w.failedAgreements;
        r.declined = w.declined;
        r.specsRejected = w.specsRejected;
    }

    /// @notice Reputation in permille: verified / (verified + failed + 10·failedAgreements + 100). A new identity
    ///         starts at 0 and needs verified periods — each paid to independent, randomly drawn verifiers — to rise.
    function reputationOf(uint256 workerId) external view returns (uint256) {
        return _reputation(_workers[workerId]);
    }

    /// @notice The deposit `buyContract` requires: periods × (maxPrice·period + n · reward), with reward =
    ///         ⌊maxPrice·period·verifierFeeBps / 10⁴⌋ per verifier and period.
    function quote(uint64 maxPricePerSecond, uint32 duration, uint32 periodSeconds, uint8 verifiers)
        external
        view
        returns (uint256)
    {
        if (periodSeconds == 0) revert InvalidRequirements(2);
        return _deposit(maxPricePerSecond, periodSeconds, duration / periodSeconds, verifiers);
    }

    /// @notice The salted commit of a probe spec: keccak256(salt ‖ keccak256(spec)).
    function specCommitOf(bytes calldata spec, bytes32 salt) external pure returns (bytes32) {
        return _specCommit(spec, salt);
    }

    /// @notice Number of agreements ever bought (ids are 1..agreementCount).
    function agreementCount() external view returns (uint256) {
        return _agreementCount;
    }

    /// @notice An agreement's state.
    function getAgreement(uint256 agreementId) external view returns (AgreementView memory v) {
        Agreement storage a = _agreements[agreementId];
        v.client = a.client;
        v.status = a.status;
        v.workerId = a.workerId;
        uint256 n = a.status == AgreementStatus.Running || a.status == AgreementStatus.Settled ? a.verifierCount : 0;
        v.verifierIds = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            v.verifierIds[i] = uint32((uint256(a.verifierIds) >> (24 * i)) & 0xFFFFFF);
        }
        v.pricePerSecond = a.pricePerSecond;
        v.maxPricePerSecond = a.maxPricePerSecond;
        v.periodSeconds = a.periodSeconds;
        v.periods = a.periods;
        v.billablePeriods = a.billablePeriods;
        v.drawBlock = a.drawBlock;
        v.deadline = a.deadline;
        v.reassignments = a.reassignments;
        v.specCommit = a.specCommit;
        if (a.status != AgreementStatus.None && a.status < AgreementStatus.Settled) v.escrow = _depositOf(a);
        if (a.status == AgreementStatus.Assigned) v.workerLock = _declineFee;
        if (a.status >= AgreementStatus.Accepted && a.status <= AgreementStatus.Running) v.workerLock = _workerLock(a);
        if (a.status == AgreementStatus.Running) v.verifierBond = _verifierBond(a);
    }

    /// @notice A verifier's votes on one report word (periods word·WORD_PERIODS …): (submitted, okBits, votedBits);
    ///         a confirmed batch reads as every period ok.
    function getReport(uint256 agreementId, uint256 word, uint256 verifierIndex)
        external
        view
        returns (bool submitted, uint256 okBits, uint256 votedBits)
    {
        mapping(uint256 => uint256) storage reports = _reports[agreementId];
        uint256 r = reports[word * 8 + verifierIndex];
        uint256 batch = word / BATCH_WORDS;
        (uint256 flagKey, uint256 flag) = _allOkFlag(batch, verifierIndex);
        bool confirmed = batch == 0
            ? (_agreements[agreementId].confirmed0 >> verifierIndex) & 1 != 0
            : reports[flagKey] & flag != 0;
        if (r == 0 && confirmed) {
            uint256 mask = _wordMask(_agreements[agreementId].billablePeriods, word);
            return (true, mask, mask);
        }
        submitted = r != 0;
        okBits = r & PeriodBits.low(WORD_PERIODS);
        votedBits = (r >> WORD_PERIODS) & PeriodBits.low(WORD_PERIODS);
    }

    /// @notice The worker the pending draw picks if executed now (0: not ready, expired, or nobody eligible).
    function previewWorker(uint256 agreementId) external view returns (uint256 workerId) {
        Agreement storage a = _agreements[agreementId];
        if (a.status != AgreementStatus.Purchased) return 0;
        (bool ready,) = Randomness.status(a.drawBlock);
        if (!ready) return 0;
        (workerId,) = _pickWorker(agreementId, a);
    }

    /// @notice The verifiers the pending verifier draw picks if executed now (empty: not ready, or too few).
    function previewVerifiers(uint256 agreementId) external view returns (uint32[] memory list) {
        Agreement storage a = _agreements[agreementId];
        if (a.status != AgreementStatus.Starting) return list;
        (bool ready,) = Randomness.status(a.drawBlock);
        if (!ready) return list;
        uint256 ids = _pickVerifiers(agreementId, a, a.verifierCount, _verifierBond(a));
        if (ids == 0) return list;
        list = new uint32[](a.verifierCount);
        for (uint256 i; i < list.length; ++i) {
            list[i] = uint32((ids >> (24 * i)) & 0xFFFFFF);
        }
    }

}
