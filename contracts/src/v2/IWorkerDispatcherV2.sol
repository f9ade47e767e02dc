// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IWorkerDispatcherV2 — types, errors and events of Zeppelin's protocol v2 (issue 12)
/// @notice Everything a node needs to follow the contract: the state machine of an agreement, the errors it can
///         decode, and the past-tense events from which every piece of state can be rebuilt.
/// @dev Life cycle of an agreement (v2):
///        buyContract ─► Purchased ──(block ≥ drawBlock: draw/accept)──► Assigned ──accept──► Accepted
///        Accepted ──startAgreement──► Starting ──(block ≥ verifierDrawBlock: drawVerifiers)──► Running
///        Running ──(all batches reported, or every report window closed)──► settle ──► Settled
///      Exits: cancel (client, before start, costs `cancelFee`, burned), decline (worker, costs `declineFee`,
///      burned), rejectSpec (worker, reveals the client's spec, no penalty), expire (anyone, worker missed its start
///      deadline: `declineFee` burned), stop (client while Running: periods begun stay billable).
///      Money leaves through the client's refund (sent at once with the call stipend only; credited for `withdraw`
///      when the client does not take it), `withdraw` (credits) and `withdrawStake`; slashed money is burned.
interface IWorkerDispatcherV2 {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    enum WorkerStatus {
        None,
        Active,
        Paused,
        Unregistering
    }

    enum AgreementStatus {
        None,
        Purchased, // paid; the worker is drawn from blockhash(drawBlock), a block after the purchase
        Assigned, // drawn worker recorded; it accepts or declines until the deadline
        Accepted, // worker's stake locked; client sends image + probe spec off chain; worker checks the spec
        Starting, // worker started the service; verifiers are drawn from blockhash(drawBlock) after the start
        Running, // verifiers drawn and bonded; the paid clock runs from startedAt
        Settled, // outcome computed; earnings added to the earners' stakes, the client's refund credited
        Ended // ended before running (cancel, decline limit, spec rejected, expired, nobody eligible)
    }

    /// @notice Why an agreement ended before it ran (carried by `AgreementEnded`).
    enum EndReason {
        None,
        Cancelled, // client cancelled (cancelFee burned)
        NoEligibleWorker, // no eligible worker at the draw (full refund)
        TooManyReassignments, // declined / not accepted MAX_REASSIGNMENTS times (full refund)
        SpecRejected, // worker revealed the spec and rejected it (full refund, no penalty)
        StartMissed, // worker accepted but did not start in time (declineFee burned from the worker)
        NoVerifiers // not enough eligible verifiers at the verifier draw (full refund, worker unlocked)
    }

    /// @notice What a client asks for in `buyContract`.
    struct Requirements {
        uint32 cpuMillicores; // CPU the worker must offer, thousandths of a core
        uint32 memoryMB; // memory the worker must offer, MiB
        uint32 duration; // seconds of service; a multiple of periodSeconds
        uint32 periodSeconds; // length of one verification period
        uint64 maxPricePerSecond; // the highest price the client saw and accepts, wei per second
        uint8 verifiers; // odd, MIN_VERIFIERS..MAX_VERIFIERS
        uint16 minReputation; // minimum worker reputation, permille (reputationOf)
        bytes32 imageDigest; // digest of the OCI image config the worker must run
        bytes32 specCommit; // keccak256(abi.encodePacked(salt, keccak256(specJson))): salted, not guessable
    }

    /// @notice Contract parameters (immutable, read with `config()`).
    struct Config {
        uint96 minStake; // smallest stake of a worker (anti-Sybil collateral)
        uint96 minVerifierBond; // smallest bond a verifier locks per agreement
        uint96 cancelFee; // burned from the client's deposit when it cancels before the start
        uint96 declineFee; // burned from the worker's stake when it declines / never answers / never starts
        uint96 minVerifierPay; // smallest total reward one verifier can earn on an agreement
        uint32 acceptWindow; // seconds the drawn worker has to accept
        uint32 startWindow; // seconds an accepting worker has to start
        uint32 reportWindow; // seconds after a batch's end during which its reports count
        uint32 coolDown; // seconds between unregistering and withdrawing the stake
        uint16 verifierFeeBps; // one verifier's reward per agreeing period, bps of the period's price
        uint16 slashBps; // worker's stake burned per failed period, bps of the period's price
        uint16 penaltyBps; // verifier's bond burned per dissenting or silent period, bps of its period reward
        uint8 drawDelay; // blocks between the commit (purchase / start) and the block whose hash draws
    }

    struct WorkerView {
        address owner;
        WorkerStatus status;
        uint64 pricePerSecond;
        uint32 maxDuration;
        uint32 cpuMillicores;
        uint32 memoryMB;
        uint256 stake; // total, including locked
        uint256 locked; // locked by open agreements (worker exposure + verifier bonds)
        uint256 changedAt; // block of the last change of offer, stake or status (draw eligibility)
        uint256 coolDownEnd;
        bytes publicKey;
    }

    struct Reputation {
        uint256 verifiedPeriods;
        uint256 failedPeriods;
        uint256 completedAgreements;
        uint256 failedAgreements; // never answered, never started, or a failed period
        uint256 declined;
        uint256 specsRejected;
    }

    struct AgreementView {
        address client;
        AgreementStatus status;
        uint32 workerId;
        uint32[] verifierIds;
        uint64 pricePerSecond;
        uint64 maxPricePerSecond;
        uint32 periodSeconds;
        uint32 periods;
        uint32 billablePeriods;
        uint256 drawBlock; // Purchased: worker draw block; Starting: verifier draw block
        uint256 deadline; // Assigned: accept deadline; Accepted: start deadline; Running+: startedAt
        uint256 escrow; // held for this agreement until settlement
        uint256 workerLock; // worker's stake locked for it
        uint256 verifierBond; // each verifier's bond locked for it
        uint256 reassignments;
        bytes32 specCommit;
    }

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    error InvalidConfig();
    error StakeTooLow(uint256 sent, uint256 minimum);
    error AlreadyRegistered(address owner, uint256 workerId);
    error NotRegistered(address account);
    error InvalidPublicKey(uint256 length);
    error InvalidOffer(uint64 pricePerSecond, uint32 maxDuration, uint32 cpuMillicores, uint32 memoryMB);
    error InvalidWorkerStatus(uint256 workerId, WorkerStatus status);
    error CoolDownNotOver(uint256 workerId, uint256 coolDownEnd);
    error StakeLocked(uint256 workerId, uint256 locked);
    error InvalidRequirements(uint256 code);
    error WrongPayment(uint256 sent, uint256 required);
    error AgreementTooSmall(uint256 verifierPay, uint256 minimum);
    error UnknownAgreement(uint256 agreementId);
    error InvalidAgreementStatus(uint256 agreementId, AgreementStatus status);
    error DrawNotReady(uint256 agreementId, uint256 drawBlock);
    error NotWorker(uint256 agreementId, address caller);
    error NotClient(uint256 agreementId, address caller);
    error NotVerifier(uint256 agreementId, address caller);
    error NotParty(uint256 agreementId, address account);
    error InvalidRecipients(uint256 agreementId, uint256 recipients);
    error MessageTooLarge(uint256 size, uint256 maximum);
    error AgreementClosed(uint256 agreementId);
    error DeadlineNotPassed(uint256 agreementId, uint256 deadline);
    error DeadlinePassed(uint256 agreementId, uint256 deadline);
    error SpecMismatch(uint256 agreementId, bytes32 revealed, bytes32 committed);
    error InvalidReport(uint256 word, uint256 okBits, uint256 votedBits);
    error WrongWordCount(uint256 batch, uint256 given, uint256 expected);
    error BatchOutOfRange(uint256 batch, uint256 batches);
    error ReportTooEarly(uint256 batch, uint256 opensAt);
    error ReportTooLate(uint256 batch, uint256 closedAt);
    error AlreadyReported(uint256 agreementId, uint256 batch, uint256 verifierId);
    error SettlementTooEarly(uint256 agreementId, uint256 readyAt);
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);
    error Reentrancy();

    // ---------------------------------------------------------------------------------------------
    // Events (past tense; a node rebuilds every piece of state from them)
    // ---------------------------------------------------------------------------------------------

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
    event WorkerUpdated(
        uint256 indexed workerId,
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes publicKey
    );
    event WorkerPaused(uint256 indexed workerId);
    event WorkerResumed(uint256 indexed workerId);
    event StakeAdded(uint256 indexed workerId, uint256 amount, uint256 stake);
    event WorkerUnregistered(uint256 indexed workerId, uint256 coolDownEnd);
    event StakeWithdrawn(uint256 indexed workerId, address indexed owner, uint256 amount);
    /// @notice Stake burned: `reason` 1 = declined / did not answer, 2 = did not start, 3 = failed periods,
    ///         4 = verifier dissent or silence.
    event StakeBurned(uint256 indexed workerId, uint256 indexed agreementId, uint256 amount, uint8 reason);

    event AgreementPurchased(
        uint256 indexed agreementId, address indexed client, Requirements requirements, uint256 deposit, uint256 drawBlock
    );
    /// @notice The draw's block hash was older than 256 blocks: the draw moved to `drawBlock` (deterministic).
    event DrawRescheduled(uint256 indexed agreementId, uint256 drawBlock);
    event WorkerDrawn(uint256 indexed agreementId, uint256 indexed workerId, uint64 pricePerSecond, uint256 acceptDeadline);
    event AgreementDeclined(uint256 indexed agreementId, uint256 indexed workerId, uint256 redrawBlock);
    /// @notice The worker accepted and `locked` of its stake covers the agreement; its transfer offer to the client
    ///         (if any) is a MessagePosted of the same transaction.
    event AgreementAccepted(uint256 indexed agreementId, uint256 indexed workerId, uint256 locked, uint256 startDeadline);
    event AgreementStarted(uint256 indexed agreementId, uint256 indexed workerId, uint256 verifierDrawBlock);
    event VerifiersDrawn(uint256 indexed agreementId, uint32[] verifierIds, uint256 bond, uint256 startedAt);
    event AgreementStopped(uint256 indexed agreementId, uint256 billablePeriods);
    event AgreementEnded(uint256 indexed agreementId, EndReason reason, uint256 clientRefund, uint256 burned);
    /// @notice The worker revealed the client's spec (matching the salted commit) and rejected it.
    event SpecRejected(uint256 indexed agreementId, uint256 indexed workerId, bytes spec, bytes32 salt);
    /// @notice Encrypted messages to the parties whose bit is set in `recipients` (bit 0 client, bit 1 worker,
    ///         bit 2+i verifier i); `envelopes` holds one ECIES envelope per recipient, in bit order, each
    ///         prefixed by its 2-byte big-endian length.
    event MessagePosted(uint256 indexed agreementId, address indexed sender, uint256 recipients, bytes envelopes);
    /// @notice One verifier's votes on one batch, in words of WORD_PERIODS periods: bit i of word j = period
    ///         batch·BATCH_PERIODS + j·WORD_PERIODS + i. voted ∖ ok = failed; a clear voted bit = an explicit
    ///         abstention (no vote).
    event BatchReported(
        uint256 indexed agreementId, uint256 indexed verifierId, uint256 batch, uint256[] okWords, uint256[] votedWords
    );
    /// @notice One verifier's vote "every period of the batch ok" (the common report, one bit of storage).
    event BatchConfirmed(uint256 indexed agreementId, uint256 indexed verifierId, uint256 batch);
    event AgreementSettled(
        uint256 indexed agreementId,
        uint256 indexed workerId,
        uint256 paidPeriods,
        uint256 failedPeriods,
        uint256 workerPayment,
        uint256 clientRefund,
        uint256 burned
    );
    event VerifierSettled(
        uint256 indexed agreementId, uint256 indexed verifierId, uint256 reward, uint256 penalty, uint256 silentPeriods
    );
    /// @notice `amount` left the contract to `account`: its credits by `withdraw`, or a refund sent at once (then
    ///         right after the AgreementSettled / AgreementEnded that credits it, so credits stay Σ refunds − Σ this).
    event Withdrawn(address indexed account, uint256 amount);
}
