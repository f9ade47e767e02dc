// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherStateV2} from "./DispatcherStateV2.sol";
import {RegistryModuleV2} from "./RegistryModuleV2.sol";
import {PeriodBits} from "./lib/PeriodBits.sol";
import {Randomness} from "./lib/Randomness.sol";

/// @title WorkerDispatcherV2 — Zeppelin's marketplace, protocol v2 (issue 12)
/// @notice The agreement life cycle and the verification ledger on top of the worker registry.
///         Rules, each with the attack it stops (docs/TRUST.md, "Protocol v2"):
///         - Draws use the hash of a block after the commit (purchase, start): cancel-and-rebuy, front-running,
///           a buyer contract that reverts on a bad draw and choosing the block all fail to steer it.
///         - Verifiers are drawn after the worker started: declining cannot select them. Cancel and decline cost
///           a fee that is burned, never paid to a party.
///         - The probe spec is committed salted; the worker gets it off chain and, if the spec fails against its
///           own service, rejects it on chain by revealing it: no penalty, full refund.
///         - Slashed stake and cancel/decline fees are burned; no party gains from a failure it can cause.
///         - Verifiers lock a bond per agreement, vote per period (ok / failed / explicit abstention) once per
///           batch of up to BATCH_PERIODS periods, after the batch ended and before its window closed; the
///           strict majority of the assigned verifiers settles each period; only votes agreeing with it are paid;
///           dissent and silence cost bond; abstention costs nothing and earns nothing.
///         - Nothing is paid per report: at settlement the worker's pay and the verifiers' rewards are added to
///           their stakes (withdrawable above the minimum), the client's refund is credited (`withdraw`); so no
///           double pay at any period boundary.
contract WorkerDispatcherV2 is DispatcherStateV2 {
    using PeriodBits for uint256[3];

    /// @notice The module (registry and views) this dispatcher runs by delegatecall.
    address public immutable module;

    constructor(Config memory c) DispatcherStateV2(c) {
        module = address(new RegistryModuleV2(c));
    }

    /// @notice Every other function (registry, views) runs in RegistryModuleV2 on this contract's storage.
    fallback() external payable {
        address m = module;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), m, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @notice Sends the caller everything credited to it (refunds of deposits) across all agreements. Earnings
    ///         (pay, rewards) are added to the earner's stake instead: see `withdrawStake`.
    function withdraw() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Purchase and worker draw
    // ---------------------------------------------------------------------------------------------

    /// @notice Buys an agreement. `msg.value` must equal `quote(...)`; the worker is drawn from the hash of block
    ///         `block.number + drawDelay` by `draw` or by the drawn worker's `acceptAgreement`.
    /// @param req requirements; `maxPricePerSecond` is the price the client saw and accepts
    /// @return agreementId the new agreement's id
    function buyContract(Requirements calldata req) external payable returns (uint256 agreementId) {
        uint256 periods = _checkRequirements(req);
        uint256 reward = _reward(req.maxPricePerSecond, req.periodSeconds);
        if (reward * periods < _minVerifierPay) revert AgreementTooSmall(reward * periods, _minVerifierPay);
        uint256 deposit = _deposit(req.maxPricePerSecond, req.periodSeconds, periods, req.verifiers);
        if (msg.value != deposit) revert WrongPayment(msg.value, deposit);
        agreementId = ++_agreementCount;
        Agreement storage a = _agreements[agreementId];
        a.client = msg.sender;
        a.status = AgreementStatus.Purchased;
        a.verifierCount = req.verifiers;
        a.maxPricePerSecond = req.maxPricePerSecond;
        a.periodSeconds = req.periodSeconds;
        a.periods = uint32(periods);
        a.billablePeriods = uint32(periods);
        uint256 drawBlock = block.number + _drawDelay;
        a.drawBlock = uint32(drawBlock);
        a.specCommit = req.specCommit;
        a.cpuMillicores = req.cpuMillicores;
        a.memoryMB = req.memoryMB;
        a.minReputation = req.minReputation;
        a.candidates = uint24(_workerCount);
        emit AgreementPurchased(agreementId, msg.sender, req, deposit, drawBlock);
    }

    /// @notice Executes the worker draw of a purchased agreement (anyone, once its draw block is past). If the
    ///         block hash is no longer available (> 256 blocks), the draw moves to `block.number + drawDelay`.
    /// @param agreementId the agreement
    function draw(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Purchased);
        _drawWorker(agreementId, a);
    }

    /// @notice The drawn worker accepts: the agreement's exposure is locked from its free stake. Executes the
    ///         draw first if nobody has. `envelopes` (optional) is the transfer offer to the client (recipient
    ///         bit 0), emitted as MessagePosted.
    /// @param agreementId the agreement
    /// @param envelopes length-prefixed ECIES envelopes for the client, or empty
    function acceptAgreement(uint256 agreementId, bytes calldata envelopes) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        if (a.status == AgreementStatus.Purchased) {
            (bool ready,) = Randomness.status(a.drawBlock);
            if (!ready) revert DrawNotReady(agreementId, a.drawBlock);
            _drawWorker(agreementId, a);
        }
        _requireStatus(agreementId, a, AgreementStatus.Assigned);
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        if (w.owner != msg.sender) revert NotWorker(agreementId, msg.sender);
        if (block.timestamp > a.deadline) revert DeadlinePassed(agreementId, a.deadline);
        uint256 lock = _workerLock(a);
        if (_free(w) < lock - _declineFee) revert StakeLocked(workerId, w.locked);
        _lock(w, lock - _declineFee); // the decline fee is locked since the draw
        a.status = AgreementStatus.Accepted;
        uint256 deadline = block.timestamp + _startWindow;
        a.deadline = uint40(deadline);
        emit AgreementAccepted(agreementId, workerId, lock, deadline);
        if (envelopes.length != 0) _postMessage(agreementId, 1, envelopes);
    }

    /// @notice The drawn worker declines (before it started): `declineFee` of its stake is burned, the agreement
    ///         is drawn again from a later block (refunded after MAX_REASSIGNMENTS). Not counted as a failure.
    /// @param agreementId the agreement
    function declineAgreement(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        AgreementStatus s = a.status;
        if (s != AgreementStatus.Assigned && s != AgreementStatus.Accepted) {
            revert InvalidAgreementStatus(agreementId, s);
        }
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        if (w.owner != msg.sender) revert NotWorker(agreementId, msg.sender);
        _unlock(w, s == AgreementStatus.Accepted ? _workerLock(a) : _declineFee);
        ++w.declined;
        uint256 fee = _slashStake(workerId, agreementId, _declineFee, 1);
        _redraw(agreementId, a, workerId);
        _burn(fee);
    }

    /// @notice Anyone: the drawn worker did not accept before its deadline. `declineFee` of its stake is
    ///         burned, its failed-agreement count grows, and the agreement is drawn again from a later block.
    /// @param agreementId the agreement
    function reassignAgreement(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Assigned);
        if (block.timestamp <= a.deadline) revert DeadlineNotPassed(agreementId, a.deadline);
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        _unlock(w, _declineFee);
        ++w.failedAgreements;
        uint256 fee = _slashStake(workerId, agreementId, _declineFee, 1);
        _redraw(agreementId, a, workerId);
        _burn(fee);
    }

    /// @notice The worker rejects the client's probe spec (it failed against the worker's own running service)
    ///         by revealing it: it must match the salted commit. The agreement ends with no penalty for anyone:
    ///         the client gets its whole deposit back, the worker's lock is released.
    /// @param agreementId the agreement
    /// @param spec the spec document as the client sent it
    /// @param salt the client's salt
    function rejectSpec(uint256 agreementId, bytes calldata spec, bytes32 salt) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Accepted);
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        if (w.owner != msg.sender) revert NotWorker(agreementId, msg.sender);
        if (spec.length > MAX_ENVELOPE_BYTES) revert MessageTooLarge(spec.length, MAX_ENVELOPE_BYTES);
        bytes32 revealed = _specCommit(spec, salt);
        if (revealed != a.specCommit) revert SpecMismatch(agreementId, revealed, a.specCommit);
        _unlock(w, _workerLock(a));
        ++w.specsRejected;
        emit SpecRejected(agreementId, workerId, spec, salt);
        _end(agreementId, a, EndReason.SpecRejected, 0);
    }

    /// @notice The worker started the service (after checking the spec against it). Verifiers are drawn from
    ///         the hash of block `block.number + drawDelay`; the paid clock starts when they are. `envelopes`
    ///         (optional): the service endpoint for the client (recipient bit 0).
    /// @param agreementId the agreement
    /// @param envelopes length-prefixed ECIES envelopes for the client, or empty
    function startAgreement(uint256 agreementId, bytes calldata envelopes) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Accepted);
        if (_workers[a.workerId].owner != msg.sender) revert NotWorker(agreementId, msg.sender);
        if (block.timestamp > a.deadline) revert DeadlinePassed(agreementId, a.deadline);
        a.status = AgreementStatus.Starting;
        uint256 drawBlock = block.number + _drawDelay;
        a.drawBlock = uint32(drawBlock); // candidates: the workers registered at the purchase (or reschedule)
        emit AgreementStarted(agreementId, a.workerId, drawBlock);
        if (envelopes.length != 0) _postMessage(agreementId, 1, envelopes);
    }

    /// @notice Draws and bonds the verifiers (anyone, once the draw block is past) and starts the paid clock.
    ///         The worker passes the spec and endpoint for the verifiers (recipient bits 2..) in `envelopes`;
    ///         anyone else passes empty `envelopes`. Not enough eligible verifiers: the agreement ends with a full
    ///         refund and the worker's lock released. A hash older than 256 blocks (nobody drew in time): the
    ///         worker did not get its service verified — it ends as StartMissed, never re-drawn, so a worker cannot
    ///         let a draw it dislikes lapse to get another.
    /// @param agreementId the agreement
    /// @param envelopes length-prefixed ECIES envelopes, one per verifier in order, or empty
    function drawVerifiers(uint256 agreementId, bytes calldata envelopes) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Starting);
        (bool ready, bool expired) = Randomness.status(a.drawBlock);
        if (expired) return _startMissed(agreementId, a);
        if (!ready) revert DrawNotReady(agreementId, a.drawBlock);
        uint256 n = a.verifierCount;
        uint256 bond = _verifierBond(a);
        uint256 ids = _pickVerifiers(agreementId, a, n, bond);
        if (ids == 0) {
            _unlock(_workers[a.workerId], _workerLock(a));
            _end(agreementId, a, EndReason.NoVerifiers, 0);
            return;
        }
        uint32[] memory list = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            uint256 id = (ids >> (24 * i)) & 0xFFFFFF;
            list[i] = uint32(id);
            _lock(_workers[id], bond);
        }
        a.verifierIds = uint120(ids);
        a.status = AgreementStatus.Running;
        a.deadline = uint40(block.timestamp);
        emit VerifiersDrawn(agreementId, list, bond, block.timestamp);
        if (envelopes.length != 0) {
            if (_workers[a.workerId].owner != msg.sender) revert NotWorker(agreementId, msg.sender);
            _postMessage(agreementId, ((uint256(1) << n) - 1) << 2, envelopes);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Ending before the start
    // ---------------------------------------------------------------------------------------------

    /// @notice The client cancels before the worker started: `cancelFee` of the deposit is burned, the rest
    ///         is credited back; an accepting worker's lock is released.
    /// @param agreementId the agreement
    function cancelAgreement(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        if (a.client != msg.sender) revert NotClient(agreementId, msg.sender);
        AgreementStatus s = a.status;
        if (s != AgreementStatus.Purchased && s != AgreementStatus.Assigned && s != AgreementStatus.Accepted) {
            revert InvalidAgreementStatus(agreementId, s);
        }
        if (s == AgreementStatus.Accepted) _unlock(_workers[a.workerId], _workerLock(a));
        else if (s == AgreementStatus.Assigned) _unlock(_workers[a.workerId], _declineFee);
        _end(agreementId, a, EndReason.Cancelled, _cancelFee);
    }

    /// @notice Anyone: the worker accepted but did not start before its deadline. The client gets its whole
    ///         deposit back; `declineFee` of the worker's stake is burned and its failed-agreement count grows.
    /// @param agreementId the agreement
    function expireAgreement(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Accepted);
        if (block.timestamp <= a.deadline) revert DeadlineNotPassed(agreementId, a.deadline);
        _startMissed(agreementId, a);
    }

    /// @notice The client stops a running agreement: periods begun so far stay billable
    ///         (⌈elapsed / period⌉: a stop exactly at a boundary does not bill the period that begins then).
    /// @param agreementId the agreement
    function stopAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        if (a.client != msg.sender) revert NotClient(agreementId, msg.sender);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        uint256 period = a.periodSeconds;
        uint256 begun = (block.timestamp - a.deadline + period - 1) / period;
        if (begun < a.billablePeriods) {
            a.billablePeriods = uint32(begun);
            emit AgreementStopped(agreementId, begun);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Messages
    // ---------------------------------------------------------------------------------------------

    /// @notice Posts encrypted messages to several parties in one transaction (while the agreement is open:
    ///         assigned and not yet past its billable end). Bit 0 of `recipients` is the client, bit 1 the
    ///         worker, bit 2+i verifier i; at most MAX_ENVELOPE_BYTES per recipient.
    /// @param agreementId the agreement
    /// @param recipients bitmask of recipients
    /// @param envelopes one length-prefixed envelope per recipient, in bit order
    function postMessage(uint256 agreementId, uint256 recipients, bytes calldata envelopes) external {
        Agreement storage a = _agreement(agreementId);
        if (_partyMask(a, msg.sender) == 0) revert NotParty(agreementId, msg.sender);
        _postMessage(agreementId, recipients, envelopes);
    }

    // ---------------------------------------------------------------------------------------------
    // Verification ledger
    // ---------------------------------------------------------------------------------------------

    /// @notice A verifier's vote "every period of `batch` passed": the common report, kept as one bit. Accepted
    ///         once per verifier and batch, after the batch's last billable period ended and before `reportWindow`
    ///         after that.
    /// @param agreementId the agreement
    /// @param batch the batch index (periods batch·BATCH_PERIODS …)
    function confirmBatch(uint256 agreementId, uint256 batch) external {
        (Agreement storage a, mapping(uint256 => uint256) storage reports, uint256 v, uint256 verifierId,) =
            _openReport(agreementId, batch);
        if (batch == 0) {
            a.confirmed0 |= uint8(1 << v);
        } else {
            (uint256 flagKey, uint256 flag) = _allOkFlag(batch, v);
            reports[flagKey] |= flag;
        }
        emit BatchConfirmed(agreementId, verifierId, batch);
    }

    /// @notice A verifier's votes on one batch, in words of WORD_PERIODS periods (bit i of word j = period
    ///         batch·BATCH_PERIODS + j·WORD_PERIODS + i): `votedWords` are the periods it voted on (the others are
    ///         explicit abstentions), `okWords` ⊆ votedWords those that passed. One word per WORD_PERIODS billable
    ///         periods of the batch. Same window as `confirmBatch`; one report per verifier and batch.
    /// @param agreementId the agreement
    /// @param batch the batch index
    /// @param okWords periods that passed
    /// @param votedWords periods voted on
    function submitReport(uint256 agreementId, uint256 batch, uint256[] calldata okWords, uint256[] calldata votedWords)
        external
    {
        (Agreement storage a, mapping(uint256 => uint256) storage reports, uint256 v, uint256 verifierId, uint256 billable)
        = _openReport(agreementId, batch);
        if (batch == 0) a.reported0 |= uint8(1 << v);
        uint256 first = batch * BATCH_WORDS;
        uint256 words = (billable + WORD_PERIODS - 1) / WORD_PERIODS - first;
        if (words > BATCH_WORDS) words = BATCH_WORDS;
        if (okWords.length != words || votedWords.length != words) {
            revert WrongWordCount(batch, okWords.length, words);
        }
        for (uint256 j; j < words; ++j) {
            uint256 ok = okWords[j];
            uint256 voted = votedWords[j];
            if (ok & ~voted != 0 || voted & ~_wordMask(billable, first + j) != 0) {
                revert InvalidReport(first + j, ok, voted);
            }
            reports[(first + j) * 8 + v] = _SUBMITTED | (voted << WORD_PERIODS) | ok;
        }
        emit BatchReported(agreementId, verifierId, batch, okWords, votedWords);
    }

    /// @dev The caller's report of `batch`: it must be a verifier of the running agreement, the batch's last
    ///      billable period must have ended and its window not closed, and it must not have reported it yet.
    function _openReport(uint256 agreementId, uint256 batch)
        private
        view
        returns (
            Agreement storage a,
            mapping(uint256 => uint256) storage reports,
            uint256 v,
            uint256 verifierId,
            uint256 billable
        )
    {
        a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        verifierId = _workerIdOf[msg.sender];
        v = _verifierIndex(a.verifierIds, a.verifierCount, verifierId);
        if (v == type(uint256).max) revert NotVerifier(agreementId, msg.sender);
        billable = a.billablePeriods;
        _checkReportTime(a, batch, billable);
        reports = _reports[agreementId];
        bool done;
        if (batch == 0) {
            done = (uint256(a.confirmed0) | a.reported0) & (1 << v) != 0;
        } else {
            (uint256 flagKey, uint256 flag) = _allOkFlag(batch, v);
            done = reports[batch * BATCH_WORDS * 8 + v] != 0 || reports[flagKey] & flag != 0;
        }
        if (done) revert AlreadyReported(agreementId, batch, verifierId);
    }

    function _checkReportTime(Agreement storage a, uint256 batch, uint256 billable) private view {
        uint256 batches = (billable + BATCH_PERIODS - 1) / BATCH_PERIODS;
        if (batch >= batches) revert BatchOutOfRange(batch, batches);
        uint256 end = (batch + 1) * BATCH_PERIODS < billable ? (batch + 1) * BATCH_PERIODS : billable;
        uint256 opensAt = uint256(a.deadline) + end * a.periodSeconds;
        if (block.timestamp < opensAt) revert ReportTooEarly(batch, opensAt);
        if (block.timestamp >= opensAt + _reportWindow) revert ReportTooLate(batch, opensAt + _reportWindow);
    }

    struct Outcome {
        uint256 n;
        uint256 billable;
        uint256 paid;
        uint256 failed;
        uint256 silentPeriods; // summed over the verifiers: 0 when every verifier reported every batch
        uint256 confirmed0; // Agreement.confirmed0
        uint256[] agree;
        uint256[] dissent;
        uint256[] silent;
    }

    /// @notice Settles a running agreement (anyone): once every verifier reported every batch, or once the
    ///         last batch's report window closed. Each period is ok / failed when a strict majority of the
    ///         assigned verifiers voted so, otherwise undecided (not paid, not slashed). Credits: the worker its
    ///         ok periods; each verifier its reward for each vote agreeing with the outcome; the client the rest.
    ///         Burned: `slashBps` of a period's price per failed period from the worker's stake; `penaltyBps` of
    ///         a verifier's period reward per dissenting or silent period from its bond. Locks are released.
    /// @param agreementId the agreement
    function settle(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        Outcome memory o = _outcome(agreementId, a);
        if (o.silentPeriods != 0) {
            uint256 readyAt = uint256(a.deadline) + o.billable * a.periodSeconds + _reportWindow;
            if (block.timestamp < readyAt) revert SettlementTooEarly(agreementId, readyAt);
        }
        a.status = AgreementStatus.Settled;
        (uint256 workerPay, uint256 burned) = _settleWorker(agreementId, a, o);
        (uint256 earned, uint256 penalties) = _settleVerifiers(agreementId, a, o);
        burned += penalties;
        uint256 refund = _depositOf(a) - workerPay - earned;
        emit AgreementSettled(agreementId, a.workerId, o.paid, o.failed, workerPay, refund, burned);
        _burn(burned);
        _refund(a.client, refund);
    }

    /// @dev The worker's pay for its ok periods is added to its stake (withdrawable above the minimum), its slash
    ///      for failed periods taken from the released lock, its record updated: one write of its stake slot.
    function _settleWorker(uint256 agreementId, Agreement storage a, Outcome memory o)
        private
        returns (uint256 pay, uint256 slash)
    {
        uint256 periodPrice = uint256(a.pricePerSecond) * a.periodSeconds;
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        pay = o.paid * periodPrice;
        slash = o.failed * periodPrice * _slashBps / _BPS; // at most the lock (every period failed)
        w.locked = uint96(uint256(w.locked) - _workerLock(a));
        w.stake = uint96(uint256(w.stake) + pay - slash);
        w.verifiedPeriods += uint32(o.paid);
        w.failedPeriods += uint32(o.failed);
        if (o.failed != 0) {
            ++w.failedAgreements;
            emit StakeBurned(workerId, agreementId, slash, 3);
        } else if (o.paid != 0) {
            ++w.completedAgreements;
        }
    }

    /// @dev Each verifier's reward for its agreeing votes is added to its stake, its penalty for dissent and
    ///      silence taken from its released bond.
    function _settleVerifiers(uint256 agreementId, Agreement storage a, Outcome memory o)
        private
        returns (uint256 earnedTotal, uint256 burned)
    {
        uint256 reward = _reward(a.pricePerSecond, a.periodSeconds);
        uint256 bond = _verifierBond(a);
        uint256 penaltyPer = reward * _penaltyBps / _BPS;
        uint256 ids = a.verifierIds;
        for (uint256 v; v < o.n; ++v) {
            uint256 earned = o.agree[v] * reward;
            uint256 penalty = (o.dissent[v] + o.silent[v]) * penaltyPer;
            if (penalty > bond) penalty = bond;
            _settleVerifier(agreementId, (ids >> (24 * v)) & 0xFFFFFF, bond, earned, penalty, o.silent[v]);
            earnedTotal += earned;
            burned += penalty;
        }
    }

    function _settleVerifier(
        uint256 agreementId,
        uint256 verifierId,
        uint256 bond,
        uint256 earned,
        uint256 penalty,
        uint256 silent
    ) private {
        Worker storage w = _workers[verifierId];
        w.locked = uint96(uint256(w.locked) - bond);
        w.stake = uint96(uint256(w.stake) + earned - penalty);
        if (penalty != 0) emit StakeBurned(verifierId, agreementId, penalty, 4);
        emit VerifierSettled(agreementId, verifierId, earned, penalty, silent);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals: life cycle
    // ---------------------------------------------------------------------------------------------

    function _checkRequirements(Requirements calldata req) private pure returns (uint256 periods) {
        if (req.periodSeconds < MIN_PERIOD_SECONDS) revert InvalidRequirements(2);
        if (req.duration == 0 || req.duration % req.periodSeconds != 0) revert InvalidRequirements(1);
        periods = req.duration / req.periodSeconds;
        if (periods > MAX_PERIODS) revert InvalidRequirements(3);
        if (req.maxPricePerSecond == 0) revert InvalidRequirements(4);
        uint256 n = req.verifiers;
        if (n < MIN_VERIFIERS || n > MAX_VERIFIERS || n % 2 == 0) revert InvalidRequirements(5);
        if (req.specCommit == bytes32(0)) revert InvalidRequirements(6);
    }

    function _drawWorker(uint256 agreementId, Agreement storage a) private {
        (bool ready, bool expired) = Randomness.status(a.drawBlock);
        if (expired) return _reschedule(agreementId, a);
        if (!ready) revert DrawNotReady(agreementId, a.drawBlock);
        (uint256 workerId, uint64 price) = _pickWorker(agreementId, a);
        if (workerId == 0) return _end(agreementId, a, EndReason.NoEligibleWorker, 0);
        a.workerId = uint32(workerId);
        a.pricePerSecond = price;
        a.status = AgreementStatus.Assigned;
        _lock(_workers[workerId], _declineFee); // what declining or never answering costs is covered from now on
        uint256 deadline = block.timestamp + _acceptWindow;
        a.deadline = uint40(deadline);
        emit WorkerDrawn(agreementId, workerId, price, deadline);
    }

    /// @dev A missed start (start deadline passed, or the verifier draw lapsed): decline fee burned, failure
    ///      counted, the client refunded in full.
    function _startMissed(uint256 agreementId, Agreement storage a) private {
        uint256 workerId = a.workerId;
        Worker storage w = _workers[workerId];
        _unlock(w, _workerLock(a));
        ++w.failedAgreements;
        uint256 fee = _slashStake(workerId, agreementId, _declineFee, 2);
        _end(agreementId, a, EndReason.StartMissed, 0);
        _burn(fee);
    }

    function _reschedule(uint256 agreementId, Agreement storage a) private {
        uint256 drawBlock = block.number + _drawDelay;
        a.drawBlock = uint32(drawBlock);
        a.candidates = uint24(_workerCount);
        emit DrawRescheduled(agreementId, drawBlock);
    }

    function _redraw(uint256 agreementId, Agreement storage a, uint256 workerId) private {
        uint256 r = a.reassignments + 1;
        if (r > MAX_REASSIGNMENTS) return _end(agreementId, a, EndReason.TooManyReassignments, 0);
        a.reassignments = uint8(r);
        a.status = AgreementStatus.Purchased;
        a.workerId = 0;
        a.pricePerSecond = 0;
        uint256 drawBlock = block.number + _drawDelay;
        a.drawBlock = uint32(drawBlock);
        a.candidates = uint24(_workerCount);
        emit AgreementDeclined(agreementId, workerId, drawBlock);
    }

    /// @dev Ends an agreement that never ran: `fee` (capped at the deposit) is burned, the rest refunded.
    function _end(uint256 agreementId, Agreement storage a, EndReason reason, uint256 fee) private {
        uint256 deposit = _depositOf(a);
        if (fee > deposit) fee = deposit;
        a.status = AgreementStatus.Ended;
        emit AgreementEnded(agreementId, reason, deposit - fee, fee);
        _burn(fee);
        _refund(a.client, deposit - fee);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals: ledger and messages
    // ---------------------------------------------------------------------------------------------

    function _outcome(uint256 agreementId, Agreement storage a) private view returns (Outcome memory o) {
        o.n = a.verifierCount;
        o.billable = a.billablePeriods;
        o.agree = new uint256[](o.n);
        o.dissent = new uint256[](o.n);
        o.silent = new uint256[](o.n);
        o.confirmed0 = a.confirmed0;
        mapping(uint256 => uint256) storage reports = _reports[agreementId];
        uint256 words = (o.billable + WORD_PERIODS - 1) / WORD_PERIODS;
        for (uint256 b; b * BATCH_WORDS < words; ++b) {
            uint256 end = (b + 1) * BATCH_WORDS < words ? (b + 1) * BATCH_WORDS : words;
            if (_allConfirmed(reports, o, b)) {
                // every verifier confirmed the batch: every period ok, every vote agrees
                uint256 periods = (end * WORD_PERIODS < o.billable ? end * WORD_PERIODS : o.billable)
                    - b * BATCH_PERIODS;
                o.paid += periods;
                for (uint256 v; v < o.n; ++v) {
                    o.agree[v] += periods;
                }
                continue;
            }
            for (uint256 w = b * BATCH_WORDS; w < end; ++w) {
                _tallyWord(reports, o, w);
            }
        }
    }

    /// @dev Settles one report word: strict majority of the n assigned verifiers per period, then each verifier's
    ///      agreeing / dissenting / silent periods. A confirmed batch counts as "ok" on each of its periods.
    function _tallyWord(mapping(uint256 => uint256) storage reports, Outcome memory o, uint256 w) private view {
        uint256 mask = _wordMask(o.billable, w);
        uint256 size = PeriodBits.popcount(mask);
        uint256[] memory ok = new uint256[](o.n);
        uint256[] memory fail = new uint256[](o.n);
        uint256[3] memory okCount;
        uint256[3] memory failCount;
        for (uint256 v; v < o.n; ++v) {
            uint256 r = _confirmed(reports, o, w / BATCH_WORDS, v) ? (mask << WORD_PERIODS) | mask : reports[w * 8 + v];
            if (r == 0) {
                o.silent[v] += size;
                o.silentPeriods += size;
                continue;
            }
            ok[v] = r & mask;
            fail[v] = (r >> WORD_PERIODS) & mask & ~ok[v];
            okCount.add(ok[v]);
            failCount.add(fail[v]);
        }
        uint256 majority = o.n / 2 + 1;
        uint256 okOut = okCount.atLeast(majority) & mask;
        uint256 failOut = failCount.atLeast(majority) & mask;
        o.paid += PeriodBits.popcount(okOut);
        o.failed += PeriodBits.popcount(failOut);
        for (uint256 v; v < o.n; ++v) {
            o.agree[v] += PeriodBits.popcount(ok[v] & okOut) + PeriodBits.popcount(fail[v] & failOut);
            o.dissent[v] += PeriodBits.popcount(ok[v] & failOut) + PeriodBits.popcount(fail[v] & okOut);
        }
    }

    /// @dev Whether every one of the n verifiers confirmed batch `b`.
    function _allConfirmed(mapping(uint256 => uint256) storage reports, Outcome memory o, uint256 b)
        private
        view
        returns (bool)
    {
        uint256 all = (uint256(1) << o.n) - 1;
        if (b == 0) return o.confirmed0 & all == all;
        (uint256 flagKey, uint256 flag) = _allOkFlag(b, 0);
        all *= flag; // the n verifiers' flag bits of batch b
        return reports[flagKey] & all == all;
    }

    /// @dev Whether verifier `v` confirmed batch `b`.
    function _confirmed(mapping(uint256 => uint256) storage reports, Outcome memory o, uint256 b, uint256 v)
        private
        view
        returns (bool)
    {
        if (b == 0) return (o.confirmed0 >> v) & 1 != 0;
        (uint256 flagKey, uint256 flag) = _allOkFlag(b, v);
        return reports[flagKey] & flag != 0;
    }

    function _verifierIndex(uint256 packed, uint256 n, uint256 id) private pure returns (uint256) {
        if (id == 0) return type(uint256).max;
        for (uint256 i; i < n; ++i) {
            if ((packed >> (24 * i)) & 0xFFFFFF == id) return i;
        }
        return type(uint256).max;
    }

    /// @dev Recipient bits `account` holds in the agreement (bit 0 client, 1 worker, 2+i verifier i), while the
    ///      agreement is open for messages; 0 otherwise.
    function _partyMask(Agreement storage a, address account) private view returns (uint256 mask) {
        AgreementStatus s = a.status;
        if (s < AgreementStatus.Assigned || s > AgreementStatus.Running) return 0;
        if (account == a.client) mask |= 1;
        if (_workers[a.workerId].owner == account) mask |= 2;
        if (s == AgreementStatus.Running) {
            uint256 v = _verifierIndex(a.verifierIds, a.verifierCount, _workerIdOf[account]);
            if (v != type(uint256).max) mask |= uint256(4) << v;
        }
    }

    function _openMask(Agreement storage a) private view returns (uint256) {
        AgreementStatus s = a.status;
        if (s < AgreementStatus.Assigned || s > AgreementStatus.Running) return 0;
        if (s != AgreementStatus.Running) return 3;
        if (block.timestamp >= uint256(a.deadline) + uint256(a.billablePeriods) * a.periodSeconds) return 0;
        return 3 | (((uint256(1) << a.verifierCount) - 1) << 2);
    }

    function _postMessage(uint256 agreementId, uint256 recipients, bytes calldata envelopes) private {
        Agreement storage a = _agreements[agreementId];
        uint256 open = _openMask(a);
        if (open == 0) revert AgreementClosed(agreementId);
        if (recipients == 0 || recipients & ~open != 0) revert InvalidRecipients(agreementId, recipients);
        uint256 max = PeriodBits.popcount(recipients) * MAX_ENVELOPE_BYTES;
        if (envelopes.length > max) revert MessageTooLarge(envelopes.length, max);
        emit MessagePosted(agreementId, msg.sender, recipients, envelopes);
    }
}
