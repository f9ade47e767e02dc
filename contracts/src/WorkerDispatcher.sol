// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title WorkerDispatcher — Zeppelin's marketplace for computing power (thesis §4.1)
/// @notice Workers register with a stake and their offer; clients buy a `WorkAgreement` which the dispatcher
///         assigns to an eligible worker (fairly, in gas independent of the number of workers) together with
///         random verifiers. Payment sits in escrow and is released per verified period.
/// @dev Design notes (see contracts/README.md):
///      - Assignment: up to `_RANDOM_PROBES` uniformly random probes of the active-worker array, then a bounded
///        scan of `_SCAN_PROBES` entries from a random index. The first eligible candidate wins. A uniformly
///        random probe that lands on an eligible worker picks each eligible worker with equal probability, so
///        the spread is fair; the cost is bounded by the number of probes, not by the number of workers.
///      - Verification reports are 2-bit-per-period bitmaps (ok, reported) per verifier, packed for all
///        verifiers of an agreement into shared 256-bit words, so one storage word covers 256/(2·n) periods.
///      - Payments are pulled by the party they are owed to (`redeemPayment`, `claimRefund`,
///        `withdrawStake`; verifier rewards are sent to the reporting verifier with its report), after all
///        state changes, under a transient-storage reentrancy lock.
///      - All amounts are wei; all state is private with getters; every state change emits a past-tense event.
contract WorkerDispatcher {
    // ------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------

    /// @notice Life cycle of a worker registration.
    enum WorkerStatus {
        None,
        Active,
        Paused,
        Unregistering,
        Removed
    }

    /// @notice Life cycle of a work agreement.
    enum AgreementStatus {
        None,
        Assigned, // waiting for the worker to accept (until the accept deadline)
        Accepted, // accepted, waiting for the worker to start (until the start deadline)
        Running, // the paid clock runs from `startedAt`
        Settled, // payments computed; worker and client can pull what they are owed
        Refunded // never started: the client can pull its whole deposit
    }

    /// @notice What a client asks for in `buyContract`.
    struct Requirements {
        uint32 cpuMillicores; // CPU the worker must offer, in thousandths of a core
        uint32 memoryMB; // memory the worker must offer, in MiB
        uint32 duration; // seconds of service; a multiple of periodSeconds
        uint32 periodSeconds; // length of one verification period
        uint64 maxPricePerSecond; // highest price the client accepts, wei per second
        uint8 verifiers; // number of verifiers, 1..MAX_VERIFIERS
        uint16 minReputation; // minimum worker reputation, permille (see reputationOf)
        address preferredWorker; // optional (zero = none); used if eligible, otherwise a random worker
        bytes32 imageDigest; // digest of the OCI image config the worker must run
        bytes32 probeSpecHash; // hash of the probe specification verifiers follow
    }

    struct Worker {
        // slot 0
        address owner;
        WorkerStatus status;
        // slot 1: everything the assignment checks (one storage read per candidate)
        uint64 pricePerSecond;
        uint32 maxDuration;
        uint32 activeIndex; // 1 + index in _active; 0 when not eligible for assignment
        uint32 cpuMillicores;
        uint32 memoryMB;
        uint40 coolDownEnd;
        // slot 2
        uint96 stake;
        uint32 verifiedPeriods;
        uint32 failedPeriods;
        uint32 completedAgreements;
        uint32 failedAgreements;
        uint24 openAgreements;
        // slots 3, 4
        bytes32 pubKeyX;
        bytes32 pubKeyY;
    }

    /// @notice Public view of a worker (returned by `getWorker`).
    struct WorkerView {
        address owner;
        WorkerStatus status;
        uint64 pricePerSecond;
        uint32 maxDuration;
        uint32 cpuMillicores;
        uint32 memoryMB;
        uint256 stake;
        uint256 openAgreements;
        uint256 coolDownEnd;
        bool assignable;
        bytes publicKey;
    }

    /// @notice Public reputation counters of a worker.
    struct Reputation {
        uint256 verifiedPeriods;
        uint256 failedPeriods;
        uint256 completedAgreements;
        uint256 failedAgreements;
    }

    struct Agreement {
        // slot 0
        address client;
        uint40 time; // Assigned: accept deadline; Accepted: start deadline; Running/Settled: startedAt
        AgreementStatus status;
        uint8 verifierCount;
        uint8 claimed; // bit 0: worker redeemed, bit 1: client refunded
        uint32 paidPeriods; // set at settlement
        // slot 1
        uint64 pricePerSecond;
        uint64 maxPricePerSecond;
        uint32 workerId;
        uint32 periodSeconds;
        uint32 periods;
        uint32 billablePeriods; // = periods unless the client stopped early
        // slot 2, packed by hand: bits 0..119 verifier ids (24 bits each). Bits 120..255:
        //   until the first report: cpu(32) at 120 | memory(32) at 152 | minReputation(16) at 184 |
        //     reassignments(8) at 200, bit 255 clear;
        //   from the first report until settlement: report word 0 in bits 120..254, bit 255 set;
        //   after settlement: the client's refund (96 bits) at 120.
        uint256 packed;
    }

    /// @notice Public view of an agreement (returned by `getAgreement`).
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
        uint256 acceptDeadline;
        uint256 startDeadline;
        uint256 startedAt;
        uint256 deposit;
        uint256 paidPeriods;
        uint256 clientRefund;
        bool workerRedeemed;
        bool clientRefunded;
    }

    // ------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------

    error StakeTooLow(uint256 sent, uint256 minimum);
    error AlreadyRegistered(address owner, uint256 workerId);
    error NotRegistered(address account);
    error InvalidPublicKey(uint256 length);
    error InvalidOffer(uint64 pricePerSecond, uint32 maxDuration, uint32 cpuMillicores, uint32 memoryMB);
    error InvalidWorkerStatus(uint256 workerId, WorkerStatus status);
    error CoolDownNotOver(uint256 workerId, uint256 coolDownEnd);
    error OpenAgreements(uint256 workerId, uint256 open);
    error InvalidRequirements(uint256 code);
    error WrongPayment(uint256 sent, uint256 required);
    error NoEligibleWorker(uint256 activeWorkers);
    error NotEnoughVerifiers(uint256 needed, uint256 activeWorkers);
    error UnknownAgreement(uint256 agreementId);
    error InvalidAgreementStatus(uint256 agreementId, AgreementStatus status);
    error NotWorker(uint256 agreementId, address caller);
    error NotClient(uint256 agreementId, address caller);
    error NotVerifier(uint256 agreementId, address caller);
    error NotParty(uint256 agreementId, address account);
    error DeadlineNotPassed(uint256 agreementId, uint256 deadline);
    error DeadlinePassed(uint256 agreementId, uint256 deadline);
    error InvalidReport(uint256 okBits, uint256 reportedBits);
    error PeriodOutOfRange(uint256 period, uint256 billablePeriods);
    error PeriodNotStarted(uint256 period, uint256 startsAt);
    error PeriodAlreadyReported(uint256 agreementId, uint256 period);
    error SettlementTooEarly(uint256 agreementId, uint256 readyAt);
    error AlreadyClaimed(uint256 agreementId, address account);
    error TransferFailed(address to, uint256 amount);
    error Reentrancy();
    error InvalidConfig();

    // ------------------------------------------------------------------------------------------------
    // Events (past tense; together they let a node rebuild every piece of state)
    // ------------------------------------------------------------------------------------------------

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
    event WorkerSlashed(uint256 indexed workerId, uint256 indexed agreementId, uint256 amount, uint256 stake);

    event AgreementCreated(
        uint256 indexed agreementId,
        address indexed client,
        uint256 indexed workerId,
        uint32[] verifierIds,
        Requirements requirements,
        uint64 pricePerSecond,
        uint256 deposit,
        uint256 acceptDeadline
    );
    event AgreementReassigned(
        uint256 indexed agreementId,
        uint256 indexed previousWorkerId,
        uint256 indexed workerId,
        uint32[] verifierIds,
        uint64 pricePerSecond,
        uint256 acceptDeadline
    );
    event AgreementDeclined(uint256 indexed agreementId, uint256 indexed workerId);
    event AgreementAccepted(uint256 indexed agreementId, uint256 indexed workerId, uint256 startDeadline);
    event AgreementStarted(uint256 indexed agreementId, uint256 indexed workerId, uint256 startedAt);
    event AgreementStopped(uint256 indexed agreementId, uint256 billablePeriods);
    event AgreementRefunded(uint256 indexed agreementId, uint256 indexed workerId, uint8 reason);
    event MessagePosted(
        uint256 indexed agreementId, address indexed sender, address indexed recipient, bytes ciphertext
    );
    event VerificationProvided(
        uint256 indexed agreementId,
        uint256 indexed verifierId,
        uint256 firstPeriod,
        uint256 okBits,
        uint256 reportedBits
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
    event PaymentRedeemed(uint256 indexed agreementId, address indexed worker, uint256 amount);
    event RefundClaimed(uint256 indexed agreementId, address indexed client, uint256 amount);

    /// @notice Reasons carried by `AgreementRefunded`.
    uint8 public constant REFUND_CANCELLED = 1; // client cancelled before start
    uint8 public constant REFUND_NO_WORKER = 2; // reassignment found no eligible worker
    uint8 public constant REFUND_NOT_STARTED = 3; // worker accepted but missed the start deadline

    // ------------------------------------------------------------------------------------------------
    // Constants and configuration
    // ------------------------------------------------------------------------------------------------

    /// @notice Most verifiers one agreement can have.
    uint256 public constant MAX_VERIFIERS = 5;
    /// @notice Most periods one agreement can have (bounds settlement gas).
    uint256 public constant MAX_PERIODS = 1024;
    /// @notice Shortest verification period, seconds.
    uint256 public constant MIN_PERIOD_SECONDS = 10;
    /// @notice Most times an unaccepted agreement is reassigned before it is refunded.
    uint256 public constant MAX_REASSIGNMENTS = 3;
    uint256 private constant _RANDOM_PROBES = 12;
    uint256 private constant _SCAN_PROBES = 12;
    uint256 private constant _BPS = 10_000;
    uint256 private constant _IDS_BITS = 120;
    uint256 private constant _IDS_MASK = (uint256(1) << 120) - 1;
    uint256 private constant _REGION_MASK = (uint256(1) << 135) - 1; // report word 0: bits 120..254 of slot 2
    uint256 private constant _REPORTING = uint256(1) << 255;
    /// deposits stay below 2^92 wei so that a refund (deposit + slash, slash <= 10 x deposit) fits in 96 bits
    uint256 private constant _MAX_DEPOSIT = type(uint96).max / 16;
    uint256 private constant _SECP_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

    uint256 private immutable _minStake;
    uint256 private immutable _acceptWindow;
    uint256 private immutable _startWindow;
    uint256 private immutable _reportWindow;
    uint256 private immutable _coolDown;
    uint256 private immutable _verifierFeeBps;
    uint256 private immutable _slashBps;

    // ------------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------------

    uint256 private _workerCount;
    uint256 private _agreementCount;
    uint32[] private _active;
    mapping(uint256 => Worker) private _workers;
    mapping(address => uint256) private _workerIdOf;
    mapping(uint256 => Agreement) private _agreements;
    /// agreement id => word index => packed (ok, reported) bits of all verifiers
    mapping(uint256 => mapping(uint256 => uint256)) private _reports;
    bool private transient _locked;

    /// @param minStake_ smallest stake (wei) a worker must lock to be assignable
    /// @param acceptWindow_ seconds a worker has to accept an assignment
    /// @param startWindow_ seconds a worker has, after accepting, to start the work
    /// @param reportWindow_ seconds after an agreement's end during which verifiers may still report
    /// @param coolDown_ seconds between unregistering and withdrawing the stake
    /// @param verifierFeeBps_ reward of one verifier for one reported period, in basis points of the period's price
    /// @param slashBps_ stake taken per failed period, in basis points of the period's price, paid to the client
    constructor(
        uint256 minStake_,
        uint256 acceptWindow_,
        uint256 startWindow_,
        uint256 reportWindow_,
        uint256 coolDown_,
        uint256 verifierFeeBps_,
        uint256 slashBps_
    ) {
        if (
            minStake_ == 0 || acceptWindow_ == 0 || startWindow_ == 0 || reportWindow_ == 0 || verifierFeeBps_ > _BPS
                || slashBps_ > 10 * _BPS || acceptWindow_ > type(uint32).max || startWindow_ > type(uint32).max
                || minStake_ > type(uint96).max
        ) revert InvalidConfig();
        _minStake = minStake_;
        _acceptWindow = acceptWindow_;
        _startWindow = startWindow_;
        _reportWindow = reportWindow_;
        _coolDown = coolDown_;
        _verifierFeeBps = verifierFeeBps_;
        _slashBps = slashBps_;
    }

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    // ------------------------------------------------------------------------------------------------
    // Workers
    // ------------------------------------------------------------------------------------------------

    /// @notice Registers the caller as a worker (or re-registers a removed one, keeping its reputation).
    /// @param pricePerSecond price asked, wei per second (> 0)
    /// @param maxDuration longest agreement accepted, seconds (> 0)
    /// @param cpuMillicores CPU offered, thousandths of a core (> 0)
    /// @param memoryMB memory offered, MiB (> 0)
    /// @param publicKey 64-byte uncompressed secp256k1 public key (x || y) used to encrypt messages to the worker
    /// @return workerId the worker's id
    function registerWorker(
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes calldata publicKey
    ) external payable returns (uint256 workerId) {
        if (msg.value < _minStake) revert StakeTooLow(msg.value, _minStake);
        if (msg.value > type(uint96).max) revert StakeTooLow(msg.value, type(uint96).max);
        _checkOffer(pricePerSecond, maxDuration, cpuMillicores, memoryMB);
        (bytes32 x, bytes32 y) = _checkPublicKey(publicKey);
        workerId = _workerIdOf[msg.sender];
        Worker storage w;
        if (workerId == 0) {
            workerId = ++_workerCount;
            if (workerId > type(uint24).max) revert InvalidConfig(); // agreements store ids in 24 bits
            _workerIdOf[msg.sender] = workerId;
            w = _workers[workerId];
            w.owner = msg.sender;
        } else {
            w = _workers[workerId];
            if (w.status != WorkerStatus.Removed) revert AlreadyRegistered(msg.sender, workerId);
        }
        w.cpuMillicores = cpuMillicores;
        w.memoryMB = memoryMB;
        w.status = WorkerStatus.Active;
        w.pricePerSecond = pricePerSecond;
        w.maxDuration = maxDuration;
        w.coolDownEnd = 0;
        w.stake = uint96(msg.value);
        w.pubKeyX = x;
        w.pubKeyY = y;
        _activate(workerId, w);
        emit WorkerRegistered(
            workerId, msg.sender, pricePerSecond, maxDuration, cpuMillicores, memoryMB, publicKey, msg.value
        );
    }

    /// @notice Changes the caller's offer and encryption key. Open agreements keep their terms.
    /// @param pricePerSecond price asked, wei per second (> 0)
    /// @param maxDuration longest agreement accepted, seconds (> 0)
    /// @param cpuMillicores CPU offered, thousandths of a core (> 0)
    /// @param memoryMB memory offered, MiB (> 0)
    /// @param publicKey 64-byte uncompressed secp256k1 public key (x || y)
    function updateWorker(
        uint64 pricePerSecond,
        uint32 maxDuration,
        uint32 cpuMillicores,
        uint32 memoryMB,
        bytes calldata publicKey
    ) external {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Active && w.status != WorkerStatus.Paused) {
            revert InvalidWorkerStatus(workerId, w.status);
        }
        _checkOffer(pricePerSecond, maxDuration, cpuMillicores, memoryMB);
        (bytes32 x, bytes32 y) = _checkPublicKey(publicKey);
        w.pricePerSecond = pricePerSecond;
        w.maxDuration = maxDuration;
        w.cpuMillicores = cpuMillicores;
        w.memoryMB = memoryMB;
        w.pubKeyX = x;
        w.pubKeyY = y;
        emit WorkerUpdated(workerId, pricePerSecond, maxDuration, cpuMillicores, memoryMB, publicKey);
    }

    /// @notice Stops new assignments (as worker or verifier) to the caller until `resumeWorker`.
    function pauseWorker() external {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Active) revert InvalidWorkerStatus(workerId, w.status);
        w.status = WorkerStatus.Paused;
        _deactivate(w);
        emit WorkerPaused(workerId);
    }

    /// @notice Makes a paused worker assignable again (if its stake is at least the minimum).
    function resumeWorker() external {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Paused) revert InvalidWorkerStatus(workerId, w.status);
        w.status = WorkerStatus.Active;
        _activate(workerId, w);
        emit WorkerResumed(workerId);
    }

    /// @notice Adds `msg.value` to the caller's stake (e.g. to get back above the minimum after slashing).
    function addStake() external payable {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Active && w.status != WorkerStatus.Paused) {
            revert InvalidWorkerStatus(workerId, w.status);
        }
        uint256 stake = uint256(w.stake) + msg.value;
        if (stake > type(uint96).max) revert StakeTooLow(stake, type(uint96).max);
        w.stake = uint96(stake);
        if (w.status == WorkerStatus.Active) _activate(workerId, w);
        emit StakeAdded(workerId, msg.value, stake);
    }

    /// @notice Starts unregistering: no new assignments; the stake can be withdrawn after the cool-down
    ///         once no agreement of the worker is open.
    function unregisterWorker() external {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Active && w.status != WorkerStatus.Paused) {
            revert InvalidWorkerStatus(workerId, w.status);
        }
        _deactivate(w);
        uint256 end = block.timestamp + _coolDown;
        w.status = WorkerStatus.Unregistering;
        w.coolDownEnd = uint40(end);
        emit WorkerUnregistered(workerId, end);
    }

    /// @notice Sends an unregistered worker its stake back, after the cool-down and with no open agreement.
    function withdrawStake() external nonReentrant {
        (uint256 workerId, Worker storage w) = _callerWorker();
        if (w.status != WorkerStatus.Unregistering) revert InvalidWorkerStatus(workerId, w.status);
        if (block.timestamp < w.coolDownEnd) revert CoolDownNotOver(workerId, w.coolDownEnd);
        if (w.openAgreements != 0) revert OpenAgreements(workerId, w.openAgreements);
        uint256 amount = w.stake;
        w.stake = 0;
        w.status = WorkerStatus.Removed;
        emit StakeWithdrawn(workerId, msg.sender, amount);
        _send(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Agreements
    // ------------------------------------------------------------------------------------------------

    /// @notice Buys a work agreement: escrows `quote(...)` wei and assigns a worker and verifiers.
    /// @dev `msg.value` must equal `quote(req.maxPricePerSecond, req.duration, req.periodSeconds, req.verifiers)`
    ///      exactly (anything else reverts, so nothing is ever taken by mistake). What the assigned worker's
    ///      lower price leaves over is part of the client's refund at settlement.
    /// @param req the client's requirements
    /// @return agreementId the new agreement's id
    function buyContract(Requirements calldata req) external payable returns (uint256 agreementId) {
        uint256 periods = _checkRequirements(req);
        uint256 deposit = _deposit(req.maxPricePerSecond, req.periodSeconds, periods, req.verifiers);
        if (deposit > _MAX_DEPOSIT) revert InvalidRequirements(7);
        if (msg.value != deposit) revert WrongPayment(msg.value, deposit);

        agreementId = ++_agreementCount;
        (uint256 workerId, uint64 price, uint256 verifierIds) = _assign(agreementId, req);
        uint256 deadline = block.timestamp + _acceptWindow;

        Agreement storage a = _agreements[agreementId];
        a.client = msg.sender;
        a.time = uint40(deadline);
        a.status = AgreementStatus.Assigned;
        a.verifierCount = req.verifiers;
        a.pricePerSecond = price;
        a.maxPricePerSecond = req.maxPricePerSecond;
        a.workerId = uint32(workerId);
        a.periodSeconds = req.periodSeconds;
        a.periods = uint32(periods);
        a.billablePeriods = uint32(periods);
        a.packed = verifierIds | (uint256(req.cpuMillicores) << 120) | (uint256(req.memoryMB) << 152)
            | (uint256(req.minReputation) << 184);
        _workers[workerId].openAgreements += 1;
        emit AgreementCreated(
            agreementId, msg.sender, workerId, _unpackIds(verifierIds, req.verifiers), req, price, deposit, deadline
        );
    }

    /// @notice The assigned worker accepts the agreement before the accept deadline.
    /// @param agreementId the agreement
    function acceptAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Assigned);
        _requireWorker(agreementId, a);
        if (block.timestamp > a.time) revert DeadlinePassed(agreementId, a.time);
        uint256 deadline = block.timestamp + _startWindow;
        a.status = AgreementStatus.Accepted;
        a.time = uint40(deadline);
        emit AgreementAccepted(agreementId, a.workerId, deadline);
    }

    /// @notice The assigned worker declines; the agreement is reassigned at once (or refunded if nobody fits).
    /// @param agreementId the agreement
    function declineAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Assigned);
        _requireWorker(agreementId, a);
        emit AgreementDeclined(agreementId, a.workerId);
        _reassign(agreementId, a);
    }

    /// @notice Anyone may reassign an agreement whose worker let the accept deadline pass; after
    ///         MAX_REASSIGNMENTS attempts, or when no other worker fits, the client is refunded instead.
    /// @param agreementId the agreement
    function reassignAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Assigned);
        if (block.timestamp <= a.time) revert DeadlineNotPassed(agreementId, a.time);
        _reassign(agreementId, a);
    }

    /// @notice The worker reports that the work is running; the paid clock starts now.
    /// @param agreementId the agreement
    function startAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Accepted);
        _requireWorker(agreementId, a);
        if (block.timestamp > a.time) revert DeadlinePassed(agreementId, a.time);
        a.status = AgreementStatus.Running;
        a.time = uint40(block.timestamp);
        emit AgreementStarted(agreementId, a.workerId, block.timestamp);
    }

    /// @notice The client cancels an agreement that has not started; its whole deposit becomes refundable.
    /// @param agreementId the agreement
    function cancelAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        if (a.status != AgreementStatus.Assigned && a.status != AgreementStatus.Accepted) {
            revert InvalidAgreementStatus(agreementId, a.status);
        }
        if (msg.sender != a.client) revert NotClient(agreementId, msg.sender);
        _refund(agreementId, a, REFUND_CANCELLED);
    }

    /// @notice Anyone may refund an accepted agreement whose worker missed the start deadline; the worker's
    ///         failed-agreement counter grows.
    /// @param agreementId the agreement
    function expireAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Accepted);
        if (block.timestamp <= a.time) revert DeadlineNotPassed(agreementId, a.time);
        _workers[a.workerId].failedAgreements += 1;
        _refund(agreementId, a, REFUND_NOT_STARTED);
    }

    /// @notice The client ends a running agreement early. Periods that have begun stay billable (if verified);
    ///         later ones are refunded at settlement.
    /// @param agreementId the agreement
    function stopAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        if (msg.sender != a.client) revert NotClient(agreementId, msg.sender);
        uint256 elapsed = block.timestamp - a.time;
        uint256 begun = (elapsed + a.periodSeconds - 1) / a.periodSeconds; // periods begun so far (ceil)
        if (begun < a.billablePeriods) a.billablePeriods = uint32(begun);
        emit AgreementStopped(agreementId, a.billablePeriods);
    }

    /// @notice Carries an encrypted message between two parties of an agreement (client, worker, verifiers).
    ///         Only an event is emitted; nothing is stored.
    /// @param agreementId the agreement
    /// @param recipient a party of the agreement
    /// @param ciphertext the message, encrypted to the recipient's public key (ECIES)
    function postMessage(uint256 agreementId, address recipient, bytes calldata ciphertext) external {
        Agreement storage a = _agreement(agreementId);
        if (!_isParty(a, msg.sender)) revert NotParty(agreementId, msg.sender);
        if (!_isParty(a, recipient)) revert NotParty(agreementId, recipient);
        emit MessagePosted(agreementId, msg.sender, recipient, ciphertext);
    }

    /// @notice An assigned verifier reports periods: bit i of `reportedBits` reports period `firstPeriod + i`,
    ///         bit i of `okBits` says the service passed the probe in it. Each period is reported once per
    ///         verifier; a period may be reported once it has begun. The verifier's reward for the newly
    ///         reported periods is sent to it with this call.
    /// @param agreementId the agreement
    /// @param firstPeriod the period of bit 0
    /// @param okBits periods that passed (subset of reportedBits)
    /// @param reportedBits periods reported by this call (non-empty)
    function provideVerification(uint256 agreementId, uint256 firstPeriod, uint256 okBits, uint256 reportedBits)
        external
        nonReentrant
    {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        if (reportedBits == 0 || okBits & ~reportedBits != 0) revert InvalidReport(okBits, reportedBits);
        uint256 verifierId = _workerIdOf[msg.sender];
        uint256 n = a.verifierCount;
        uint256 v = _verifierIndex(a.packed, n, verifierId);
        if (v == type(uint256).max) revert NotVerifier(agreementId, msg.sender);

        uint256 periodSeconds = a.periodSeconds;
        uint256 last = firstPeriod + _msb(reportedBits);
        if (last >= a.billablePeriods) revert PeriodOutOfRange(last, a.billablePeriods);
        uint256 lastBegins = a.time + last * periodSeconds;
        if (lastBegins > block.timestamp) revert PeriodNotStarted(last, lastBegins);

        uint256 count = _record(agreementId, a, v, n, firstPeriod, okBits, reportedBits);
        uint256 reward = count * _verifierReward(a.pricePerSecond, periodSeconds);
        // the reward is popcount(reportedBits) x floor(price x period x verifierFeeBps / 10^4)
        emit VerificationProvided(agreementId, verifierId, firstPeriod, okBits, reportedBits);
        if (reward != 0) _send(msg.sender, reward);
    }

    /// @notice The worker is paid for every period a majority of verifiers confirmed. Settles the agreement
    ///         first if nobody has yet (possible once every verifier reported every billable period, or once
    ///         the report window after the end has passed).
    /// @param agreementId the agreement
    function redeemPayment(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        _requireWorker(agreementId, a);
        if (a.status == AgreementStatus.Running) _settle(agreementId, a);
        _requireStatus(agreementId, a, AgreementStatus.Settled);
        if (a.claimed & 1 != 0) revert AlreadyClaimed(agreementId, msg.sender);
        a.claimed |= 1;
        uint256 amount = uint256(a.paidPeriods) * a.periodSeconds * a.pricePerSecond;
        emit PaymentRedeemed(agreementId, msg.sender, amount);
        if (amount != 0) _send(msg.sender, amount);
    }

    /// @notice The client takes back what it is owed: after settlement, every unpaid period, the unused
    ///         price margin and verifier fees, plus any stake slashed from the worker; after a refund, the whole
    ///         deposit. Settles the agreement first if needed (see `redeemPayment`).
    /// @param agreementId the agreement
    function claimRefund(uint256 agreementId) external nonReentrant {
        Agreement storage a = _agreement(agreementId);
        if (msg.sender != a.client) revert NotClient(agreementId, msg.sender);
        if (a.status == AgreementStatus.Running) _settle(agreementId, a);
        uint256 amount;
        if (a.status == AgreementStatus.Settled) {
            amount = a.packed >> _IDS_BITS;
        } else if (a.status == AgreementStatus.Refunded) {
            amount = _deposit(a.maxPricePerSecond, a.periodSeconds, a.periods, a.verifierCount);
        } else {
            revert InvalidAgreementStatus(agreementId, a.status);
        }
        if (a.claimed & 2 != 0) revert AlreadyClaimed(agreementId, msg.sender);
        a.claimed |= 2;
        emit RefundClaimed(agreementId, msg.sender, amount);
        if (amount != 0) _send(msg.sender, amount);
    }

    /// @notice Settles a running agreement without claiming (anyone; same conditions as `redeemPayment`).
    /// @param agreementId the agreement
    function settleAgreement(uint256 agreementId) external {
        Agreement storage a = _agreement(agreementId);
        _requireStatus(agreementId, a, AgreementStatus.Running);
        _settle(agreementId, a);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @notice Wei a client must send to `buyContract` for these terms.
    /// @param maxPricePerSecond highest price per second accepted
    /// @param duration seconds of service (a multiple of periodSeconds)
    /// @param periodSeconds verification period
    /// @param verifiers number of verifiers
    /// @return deposit price × duration + every verifier's reward for every period, at the highest price
    function quote(uint64 maxPricePerSecond, uint32 duration, uint32 periodSeconds, uint8 verifiers)
        external
        view
        returns (uint256 deposit)
    {
        if (periodSeconds == 0) revert InvalidRequirements(2);
        return _deposit(maxPricePerSecond, periodSeconds, duration / periodSeconds, verifiers);
    }

    /// @notice Configuration fixed at deployment.
    /// @return minStake smallest stake, wei
    /// @return acceptWindow seconds to accept
    /// @return startWindow seconds to start after accepting
    /// @return reportWindow seconds after the end during which reports are still taken
    /// @return coolDown seconds between unregistering and withdrawing the stake
    /// @return verifierFeeBps reward per verifier and period, basis points of the period price
    /// @return slashBps stake slashed per failed period, basis points of the period price
    function config()
        external
        view
        returns (
            uint256 minStake,
            uint256 acceptWindow,
            uint256 startWindow,
            uint256 reportWindow,
            uint256 coolDown,
            uint256 verifierFeeBps,
            uint256 slashBps
        )
    {
        return (_minStake, _acceptWindow, _startWindow, _reportWindow, _coolDown, _verifierFeeBps, _slashBps);
    }

    /// @notice Number of workers ever registered (ids are 1..workerCount).
    function workerCount() external view returns (uint256) {
        return _workerCount;
    }

    /// @notice Number of workers currently assignable.
    function activeWorkerCount() external view returns (uint256) {
        return _active.length;
    }

    /// @notice Number of agreements ever created (ids are 1..agreementCount).
    function agreementCount() external view returns (uint256) {
        return _agreementCount;
    }

    /// @notice The worker id of an address (0 if never registered).
    /// @param owner the worker's address
    function workerIdOf(address owner) external view returns (uint256) {
        return _workerIdOf[owner];
    }

    /// @notice A worker's registration.
    /// @param workerId the worker
    function getWorker(uint256 workerId) external view returns (WorkerView memory view_) {
        Worker storage w = _workers[workerId];
        view_.owner = w.owner;
        view_.status = w.status;
        view_.pricePerSecond = w.pricePerSecond;
        view_.maxDuration = w.maxDuration;
        view_.cpuMillicores = w.cpuMillicores;
        view_.memoryMB = w.memoryMB;
        view_.stake = w.stake;
        view_.openAgreements = w.openAgreements;
        view_.coolDownEnd = w.coolDownEnd;
        view_.assignable = w.activeIndex != 0;
        view_.publicKey = w.owner == address(0) ? bytes("") : abi.encodePacked(w.pubKeyX, w.pubKeyY);
    }

    /// @notice A worker's reputation counters.
    /// @param workerId the worker
    function reputationCounters(uint256 workerId) external view returns (Reputation memory r) {
        Worker storage w = _workers[workerId];
        r.verifiedPeriods = w.verifiedPeriods;
        r.failedPeriods = w.failedPeriods;
        r.completedAgreements = w.completedAgreements;
        r.failedAgreements = w.failedAgreements;
    }

    /// @notice A worker's reputation in permille: (verified + 1) · 1000 / (verified + failed + 2), the
    ///         Laplace-smoothed share of verified periods (a new worker has 500). `buyContract` compares it
    ///         with `minReputation`.
    /// @param workerId the worker
    function reputationOf(uint256 workerId) external view returns (uint256) {
        Worker storage w = _workers[workerId];
        return _reputation(w.verifiedPeriods, w.failedPeriods);
    }

    /// @notice An agreement.
    /// @param agreementId the agreement
    function getAgreement(uint256 agreementId) external view returns (AgreementView memory v) {
        Agreement storage a = _agreement(agreementId);
        v.client = a.client;
        v.status = a.status;
        v.workerId = a.workerId;
        v.verifierIds = _unpackIds(a.packed, a.verifierCount);
        v.pricePerSecond = a.pricePerSecond;
        v.maxPricePerSecond = a.maxPricePerSecond;
        v.periodSeconds = a.periodSeconds;
        v.periods = a.periods;
        v.billablePeriods = a.billablePeriods;
        if (a.status == AgreementStatus.Assigned) v.acceptDeadline = a.time;
        if (a.status == AgreementStatus.Accepted) v.startDeadline = a.time;
        if (a.status == AgreementStatus.Running || a.status == AgreementStatus.Settled) v.startedAt = a.time;
        v.deposit = _deposit(a.maxPricePerSecond, a.periodSeconds, a.periods, a.verifierCount);
        v.paidPeriods = a.paidPeriods;
        if (a.status == AgreementStatus.Settled) v.clientRefund = a.packed >> _IDS_BITS;
        if (a.status == AgreementStatus.Refunded) v.clientRefund = v.deposit;
        v.workerRedeemed = a.claimed & 1 != 0;
        v.clientRefunded = a.claimed & 2 != 0;
    }

    /// @notice What one verifier reported for periods [firstPeriod, firstPeriod + 256), until settlement
    ///         (afterwards zero: `VerificationProvided` events keep the record).
    /// @param agreementId the agreement
    /// @param verifierIndex position of the verifier in the agreement's verifier list
    /// @param firstPeriod first period of the returned bitmaps
    /// @return okBits bit i set: period firstPeriod + i passed
    /// @return reportedBits bit i set: period firstPeriod + i was reported
    function getReports(uint256 agreementId, uint256 verifierIndex, uint256 firstPeriod)
        external
        view
        returns (uint256 okBits, uint256 reportedBits)
    {
        Agreement storage a = _agreement(agreementId);
        uint256 n = a.verifierCount;
        if (verifierIndex >= n) revert NotVerifier(agreementId, address(0));
        if (a.status == AgreementStatus.Settled) return (0, 0); // word 0 is reused for the refund
        uint256 packed = a.packed;
        uint256 region = packed & _REPORTING != 0 ? (packed >> _IDS_BITS) & _REGION_MASK : 0;
        for (uint256 i; i < 256; ++i) {
            (uint256 w, uint256 offset, uint256 size) = _locate(firstPeriod + i, n);
            uint256 word = w == 0 ? region : _reports[agreementId][w];
            uint256 base = verifierIndex * 2 * size + offset;
            okBits |= ((word >> base) & 1) << i;
            reportedBits |= ((word >> (base + size)) & 1) << i;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Internal: agreements
    // ------------------------------------------------------------------------------------------------

    function _agreement(uint256 agreementId) private view returns (Agreement storage a) {
        a = _agreements[agreementId];
        if (a.status == AgreementStatus.None) revert UnknownAgreement(agreementId);
    }

    function _requireStatus(uint256 agreementId, Agreement storage a, AgreementStatus s) private view {
        if (a.status != s) revert InvalidAgreementStatus(agreementId, a.status);
    }

    function _requireWorker(uint256 agreementId, Agreement storage a) private view {
        if (_workers[a.workerId].owner != msg.sender) revert NotWorker(agreementId, msg.sender);
    }

    function _isParty(Agreement storage a, address account) private view returns (bool) {
        if (account == a.client || account == _workers[a.workerId].owner) return true;
        uint256 id = _workerIdOf[account];
        return id != 0 && _verifierIndex(a.packed, a.verifierCount, id) != type(uint256).max;
    }

    function _verifierIndex(uint256 packed, uint256 n, uint256 id) private pure returns (uint256) {
        for (uint256 i; i < n; ++i) {
            if ((packed >> (24 * i)) & 0xffffff == id) return i;
        }
        return type(uint256).max;
    }

    function _unpackIds(uint256 packed, uint256 n) private pure returns (uint32[] memory ids) {
        ids = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = uint32((packed >> (24 * i)) & 0xffffff);
        }
    }

    function _checkRequirements(Requirements calldata req) private pure returns (uint256 periods) {
        if (req.cpuMillicores == 0 || req.memoryMB == 0) revert InvalidRequirements(1);
        if (req.periodSeconds < MIN_PERIOD_SECONDS || req.duration == 0 || req.duration % req.periodSeconds != 0) {
            revert InvalidRequirements(2);
        }
        periods = req.duration / req.periodSeconds;
        if (periods > MAX_PERIODS) revert InvalidRequirements(3);
        if (req.verifiers == 0 || req.verifiers > MAX_VERIFIERS) revert InvalidRequirements(4);
        if (req.maxPricePerSecond == 0) revert InvalidRequirements(5);
        if (req.minReputation > 1000) revert InvalidRequirements(6);
    }

    function _deposit(uint256 maxPrice, uint256 periodSeconds, uint256 periods, uint256 verifiers)
        private
        view
        returns (uint256)
    {
        return periods * (maxPrice * periodSeconds + verifiers * _verifierReward(maxPrice, periodSeconds));
    }

    function _verifierReward(uint256 price, uint256 periodSeconds) private view returns (uint256) {
        return price * periodSeconds * _verifierFeeBps / _BPS;
    }

    function _reassign(uint256 agreementId, Agreement storage a) private {
        uint256 oldWorker = a.workerId;
        uint256 packed = a.packed;
        uint256 attempts = (packed >> 200) & 0xff;
        _workers[oldWorker].openAgreements -= 1;
        if (attempts >= MAX_REASSIGNMENTS) {
            _markRefunded(agreementId, a, REFUND_NO_WORKER);
            return;
        }
        uint256 clientWorkerId = _workerIdOf[a.client];
        uint256 seed = uint256(keccak256(abi.encode(block.prevrandao, agreementId, attempts + 1)));
        (uint256 workerId, uint64 price) = _tryPickWorker(
            seed,
            uint32(packed >> 120),
            uint32(packed >> 152),
            uint256(a.periods) * a.periodSeconds,
            a.maxPricePerSecond,
            uint16(packed >> 184),
            clientWorkerId,
            oldWorker
        );
        uint256 n = a.verifierCount;
        if (workerId == 0 || _active.length < n + 1 + (clientWorkerId != 0 ? 1 : 0)) {
            _markRefunded(agreementId, a, REFUND_NO_WORKER);
            return;
        }
        uint256 verifierIds = _pickVerifiers(seed, n, workerId, clientWorkerId);
        uint256 deadline = block.timestamp + _acceptWindow;
        a.workerId = uint32(workerId);
        a.pricePerSecond = price;
        a.time = uint40(deadline);
        a.packed = (packed & ~_IDS_MASK & ~(uint256(0xff) << 200)) | verifierIds | ((attempts + 1) << 200);
        _workers[workerId].openAgreements += 1;
        emit AgreementReassigned(agreementId, oldWorker, workerId, _unpackIds(verifierIds, n), price, deadline);
    }

    function _refund(uint256 agreementId, Agreement storage a, uint8 reason) private {
        _workers[a.workerId].openAgreements -= 1;
        _markRefunded(agreementId, a, reason);
    }

    function _markRefunded(uint256 agreementId, Agreement storage a, uint8 reason) private {
        a.status = AgreementStatus.Refunded;
        emit AgreementRefunded(agreementId, a.workerId, reason);
    }

    /// @dev Computes the outcome from the verifiers' bitmaps: a period is paid when more than half of the
    ///      verifiers reported it ok, failed when more than half reported it not ok. The worker loses
    ///      slashBps of the period price per failed period from its stake (at most its stake), to the client.
    function _settle(uint256 agreementId, Agreement storage a) private {
        uint256 n = a.verifierCount;
        uint256 periodSeconds = a.periodSeconds;
        Tally memory t = _tally(agreementId, a.packed, n, a.billablePeriods);
        if (!t.complete) {
            uint256 readyAt = a.time + uint256(a.billablePeriods) * periodSeconds + _reportWindow;
            if (block.timestamp < readyAt) revert SettlementTooEarly(agreementId, readyAt);
        }
        uint256 price = a.pricePerSecond;
        uint256 workerId = a.workerId;
        uint256 paid = t.paid;
        uint256 slashed = _updateWorker(agreementId, workerId, paid, t.failed, price * periodSeconds);
        // client's refund = deposit - worker's pay - verifier rewards already paid + slashed stake
        uint256 refund = _deposit(a.maxPricePerSecond, periodSeconds, a.periods, n) - paid * periodSeconds * price;
        refund -= t.reports * _verifierReward(price, periodSeconds);
        refund += slashed;
        a.status = AgreementStatus.Settled;
        a.paidPeriods = uint32(paid);
        a.packed = (a.packed & _IDS_MASK) | (refund << _IDS_BITS);
        emit AgreementSettled(agreementId, workerId, paid, t.failed, paid * periodSeconds * price, refund, slashed);
    }

    /// @dev Closes one of the worker's open agreements: reputation counters, and the slash (returned).
    function _updateWorker(uint256 agreementId, uint256 workerId, uint256 paid, uint256 failed, uint256 periodPrice)
        private
        returns (uint256 slashed)
    {
        Worker storage w = _workers[workerId];
        w.openAgreements -= 1;
        w.verifiedPeriods += uint32(paid);
        w.failedPeriods += uint32(failed);
        if (failed == 0) {
            w.completedAgreements += 1;
            return 0;
        }
        w.failedAgreements += 1;
        slashed = failed * periodPrice * _slashBps / _BPS;
        uint256 stake = w.stake;
        if (slashed > stake) slashed = stake;
        if (slashed != 0) {
            stake -= slashed;
            w.stake = uint96(stake);
            if (stake < _minStake) _deactivate(w);
            emit WorkerSlashed(workerId, agreementId, slashed, stake);
        }
    }

    /// @dev Where period p lives: word w (0 = bits 120..254 of the agreement's slot 2, else _reports[id][w]),
    ///      its offset in the verifier's segment and the segment size (periods per word).
    ///      Word 0 holds P0 = 135 / (2n) periods, every other word P = 128 / n. In a word of size S,
    ///      verifier v owns bits [2vS, 2vS + S) (ok) and [2vS + S, 2vS + 2S) (reported).
    function _locate(uint256 p, uint256 n) private pure returns (uint256 w, uint256 offset, uint256 size) {
        uint256 p0 = 135 / (2 * n);
        if (p < p0) return (0, p, p0);
        size = 128 / n;
        w = 1 + (p - p0) / size;
        offset = (p - p0) % size;
    }

    struct Cursor {
        uint256 agreementId;
        uint256 verifier; // index in the agreement's verifier list
        uint256 n; // number of verifiers
        uint256 region; // report word 0
        bool regionChanged;
        uint256 count; // periods newly reported
    }

    /// @dev Stores one verifier's report bits; returns how many periods were newly reported.
    function _record(uint256 agreementId, Agreement storage a, uint256 v, uint256 n, uint256 p, uint256 ok, uint256 rep)
        private
        returns (uint256)
    {
        uint256 packed = a.packed;
        Cursor memory c;
        c.agreementId = agreementId;
        c.verifier = v;
        c.n = n;
        // the first report drops the requirement bits, which are not needed once the work runs
        c.region = packed & _REPORTING != 0 ? (packed >> _IDS_BITS) & _REGION_MASK : 0;
        while (rep != 0) {
            uint256 take = _recordChunk(c, p, ok, rep);
            rep >>= take;
            ok >>= take;
            p += take;
        }
        if (c.regionChanged) a.packed = (packed & _IDS_MASK) | (c.region << _IDS_BITS) | _REPORTING;
        return c.count;
    }

    /// @dev Records the bits of `rep`/`ok` that fall into the word of period p; returns how many bits it covered.
    function _recordChunk(Cursor memory c, uint256 p, uint256 ok, uint256 rep) private returns (uint256 take) {
        (uint256 w, uint256 offset, uint256 size) = _locate(p, c.n);
        take = size - offset;
        uint256 r = rep & ((1 << take) - 1);
        if (r == 0) return take;
        uint256 shift = c.verifier * 2 * size + offset;
        uint256 repBits = r << (shift + size);
        uint256 okBits = (ok & r) << shift;
        uint256 overlap;
        if (w == 0) {
            overlap = c.region & repBits;
            c.region |= repBits | okBits;
            c.regionChanged = true;
        } else {
            overlap = _storeChunk(_reports[c.agreementId], w, repBits, okBits);
        }
        if (overlap != 0) revert PeriodAlreadyReported(c.agreementId, p + _lsb(overlap >> (shift + size)));
        c.count += _popcount(r);
    }

    /// @dev ORs the shifted bits into a report word unless a reported bit is already set (returns the overlap).
    function _storeChunk(mapping(uint256 => uint256) storage words, uint256 index, uint256 repBits, uint256 okBits)
        private
        returns (uint256 overlap)
    {
        uint256 word = words[index];
        overlap = word & repBits;
        if (overlap == 0) words[index] = word | repBits | okBits;
    }

    struct Tally {
        uint256 paid; // billable periods confirmed by a majority
        uint256 failed; // billable periods failed by a majority
        uint256 reports; // reports made (all verifiers)
        bool complete; // every verifier reported every billable period
    }

    /// @dev Counts, over the billable periods, those confirmed and those failed by a majority, every report
    ///      made, and whether every verifier reported every billable period.
    function _tally(uint256 agreementId, uint256 packed, uint256 n, uint256 billable)
        private
        view
        returns (Tally memory t)
    {
        t.complete = true;
        uint256 p0 = 135 / (2 * n);
        uint256 size = 128 / n;
        uint256 region = packed & _REPORTING != 0 ? (packed >> _IDS_BITS) & _REGION_MASK : 0;
        _tallyWord(t, region, n, p0, (1 << (billable < p0 ? billable : p0)) - 1);
        mapping(uint256 => uint256) storage words = _reports[agreementId];
        for (uint256 w = 1; p0 + (w - 1) * size < billable; ++w) {
            uint256 inWord = billable - p0 - (w - 1) * size;
            _tallyWord(t, words[w], n, size, inWord >= size ? (1 << size) - 1 : (1 << inWord) - 1);
        }
    }

    function _tallyWord(Tally memory t, uint256 word, uint256 n, uint256 perWord, uint256 billMask) private pure {
        uint256 segMask = (1 << perWord) - 1;
        uint256[3] memory okCount;
        uint256[3] memory badCount;
        for (uint256 v; v < n; ++v) {
            uint256 base = v * 2 * perWord;
            uint256 ok = (word >> base) & segMask;
            uint256 rep = (word >> (base + perWord)) & segMask;
            if (rep & billMask != billMask) t.complete = false;
            t.reports += _popcount(rep);
            _addBits(okCount, ok);
            _addBits(badCount, rep & ~ok);
        }
        uint256 majority = n / 2 + 1;
        t.paid += _popcount(_atLeast(okCount, majority) & billMask);
        t.failed += _popcount(_atLeast(badCount, majority) & billMask);
    }

    // ------------------------------------------------------------------------------------------------
    // Internal: assignment
    // ------------------------------------------------------------------------------------------------

    /// @dev The preferred worker if it is eligible, otherwise a fairly drawn one; then the verifiers.
    function _assign(uint256 agreementId, Requirements calldata req)
        private
        view
        returns (uint256 workerId, uint64 price, uint256 verifierIds)
    {
        uint256 seed = uint256(keccak256(abi.encode(block.prevrandao, agreementId, msg.sender)));
        uint256 clientWorkerId = _workerIdOf[msg.sender];
        if (req.preferredWorker != address(0)) {
            uint256 pid = _workerIdOf[req.preferredWorker];
            if (pid != 0) {
                price = _eligiblePrice(
                    pid,
                    req.cpuMillicores,
                    req.memoryMB,
                    req.duration,
                    req.maxPricePerSecond,
                    req.minReputation,
                    clientWorkerId,
                    0
                );
                if (price != 0) workerId = pid;
            }
        }
        if (workerId == 0) {
            (workerId, price) = _tryPickWorker(
                seed,
                req.cpuMillicores,
                req.memoryMB,
                req.duration,
                req.maxPricePerSecond,
                req.minReputation,
                clientWorkerId,
                0
            );
            if (workerId == 0) revert NoEligibleWorker(_active.length);
        }
        verifierIds = _pickVerifiers(seed, req.verifiers, workerId, clientWorkerId);
    }

    /// @dev Up to _RANDOM_PROBES uniformly random probes, then _SCAN_PROBES consecutive entries from a random
    ///      start. Returns (0, 0) when no probed worker is eligible.
    function _tryPickWorker(
        uint256 seed,
        uint32 cpu,
        uint32 mem,
        uint256 duration,
        uint64 maxPrice,
        uint16 minRep,
        uint256 clientWorkerId,
        uint256 excludeId
    ) private view returns (uint256, uint64) {
        uint256 len = _active.length;
        if (len == 0) return (0, 0);
        for (uint256 i; i < _RANDOM_PROBES + _SCAN_PROBES && i < len + _RANDOM_PROBES; ++i) {
            uint256 index;
            if (i < _RANDOM_PROBES) {
                index = _rand(seed, i) % len;
            } else {
                index = (_rand(seed, _RANDOM_PROBES) + i) % len; // consecutive entries from a random start
            }
            uint256 id = _active[index];
            uint64 price = _eligiblePrice(id, cpu, mem, duration, maxPrice, minRep, clientWorkerId, excludeId);
            if (price != 0) return (id, price);
        }
        return (0, 0);
    }

    /// @dev The worker's price if it may take the job, 0 otherwise (prices are never 0).
    function _eligiblePrice(
        uint256 id,
        uint32 cpu,
        uint32 mem,
        uint256 duration,
        uint64 maxPrice,
        uint16 minRep,
        uint256 clientWorkerId,
        uint256 excludeId
    ) private view returns (uint64) {
        if (id == clientWorkerId || id == excludeId) return 0;
        Worker storage w = _workers[id];
        if (w.activeIndex == 0 || w.cpuMillicores < cpu || w.memoryMB < mem) return 0;
        uint64 price = w.pricePerSecond;
        if (price > maxPrice || w.maxDuration < duration) return 0;
        if (minRep != 0 && _reputation(w.verifiedPeriods, w.failedPeriods) < minRep) return 0;
        return price;
    }

    /// @dev `n` distinct active workers other than the worker and the client, packed 24 bits each:
    ///      up to 4n random probes, then a scan from a random start (at most 2n + 2 more entries).
    function _pickVerifiers(uint256 seed, uint256 n, uint256 workerId, uint256 clientWorkerId)
        private
        view
        returns (uint256 packed)
    {
        uint256 len = _active.length;
        uint256 excluded = 1 + (clientWorkerId != 0 && clientWorkerId != workerId ? 1 : 0);
        if (len < n + excluded) revert NotEnoughVerifiers(n, len);
        uint256 found;
        uint256 tries = 6 * n + 2;
        for (uint256 i; i < tries && found < n; ++i) {
            // domain 1000+: verifier probes; the scan continues from a random start
            uint256 index = i < 4 * n ? _rand(seed, 1000 + i) % len : (_rand(seed, 999) + i) % len;
            uint256 id = _active[index];
            if (id == workerId || id == clientWorkerId) continue;
            if (_verifierIndex(packed, found, id) != type(uint256).max) continue;
            packed |= id << (24 * found);
            ++found;
        }
        if (found < n) revert NotEnoughVerifiers(n, len);
    }

    function _reputation(uint256 verified, uint256 failed) private pure returns (uint256) {
        return (verified + 1) * 1000 / (verified + failed + 2);
    }

    // ------------------------------------------------------------------------------------------------
    // Internal: workers
    // ------------------------------------------------------------------------------------------------

    function _callerWorker() private view returns (uint256 workerId, Worker storage w) {
        workerId = _workerIdOf[msg.sender];
        if (workerId == 0) revert NotRegistered(msg.sender);
        w = _workers[workerId];
    }

    function _checkOffer(uint64 price, uint32 maxDuration, uint32 cpu, uint32 mem) private pure {
        if (price == 0 || maxDuration == 0 || cpu == 0 || mem == 0) revert InvalidOffer(price, maxDuration, cpu, mem);
    }

    /// @dev The key must be a point on secp256k1 (y² = x³ + 7 mod p), coordinates below p.
    function _checkPublicKey(bytes calldata key) private pure returns (bytes32 x, bytes32 y) {
        if (key.length != 64) revert InvalidPublicKey(key.length);
        x = bytes32(key[0:32]);
        y = bytes32(key[32:64]);
        uint256 ux = uint256(x);
        uint256 uy = uint256(y);
        if (ux >= _SECP_P || uy >= _SECP_P) revert InvalidPublicKey(64);
        uint256 rhs = addmod(mulmod(mulmod(ux, ux, _SECP_P), ux, _SECP_P), 7, _SECP_P);
        if (mulmod(uy, uy, _SECP_P) != rhs) revert InvalidPublicKey(64);
    }

    /// @dev Adds the worker to the assignable set if it is active, staked enough and not yet in it.
    function _activate(uint256 workerId, Worker storage w) private {
        if (w.activeIndex != 0 || w.stake < _minStake || w.status != WorkerStatus.Active) return;
        _active.push(uint32(workerId));
        w.activeIndex = uint32(_active.length);
    }

    /// @dev Removes the worker from the assignable set (swap with the last entry and pop).
    function _deactivate(Worker storage w) private {
        uint256 index = w.activeIndex;
        if (index == 0) return;
        uint256 lastIndex = _active.length;
        if (index != lastIndex) {
            uint32 moved = _active[lastIndex - 1];
            _active[index - 1] = moved;
            _workers[moved].activeIndex = uint32(index);
        }
        _active.pop();
        w.activeIndex = 0;
    }

    // ------------------------------------------------------------------------------------------------
    // Internal: payments and bits
    // ------------------------------------------------------------------------------------------------

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    /// @dev Bit-sliced add of one bitmap to per-bit 3-bit counters (c[0] lowest). Counts stay below 8 because
    ///      at most MAX_VERIFIERS (5) bitmaps are added.
    function _addBits(uint256[3] memory c, uint256 x) private pure {
        uint256 carry0 = c[0] & x;
        c[0] ^= x;
        uint256 carry1 = c[1] & carry0;
        c[1] ^= carry0;
        c[2] ^= carry1;
    }

    /// @dev Per bit: counter (c[2] c[1] c[0]) >= k, for k < 8.
    function _atLeast(uint256[3] memory c, uint256 k) private pure returns (uint256 ge) {
        uint256 eq = type(uint256).max;
        for (uint256 b = 3; b > 0;) {
            --b;
            if ((k >> b) & 1 == 1) {
                eq &= c[b];
            } else {
                ge |= eq & c[b];
                eq &= ~c[b];
            }
        }
        ge |= eq;
    }

    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            x -= (x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555;
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x + (x >> 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
            return (x * 0x0001000100010001000100010001000100010001000100010001000100010001) >> 240;
        }
    }

    /// @dev keccak256(seed, i) in scratch memory (no allocation).
    function _rand(uint256 seed, uint256 i) private pure returns (uint256 r) {
        assembly ("memory-safe") {
            mstore(0x00, seed)
            mstore(0x20, i)
            r := keccak256(0x00, 0x40)
        }
    }

    /// @dev Index of the lowest set bit (x != 0).
    function _lsb(uint256 x) private pure returns (uint256) {
        unchecked {
            return _msb(x & (~x + 1));
        }
    }

    /// @dev Index of the highest set bit (x != 0).
    function _msb(uint256 x) private pure returns (uint256 r) {
        unchecked {
            if (x >= 1 << 128) {
                x >>= 128;
                r += 128;
            }
            if (x >= 1 << 64) {
                x >>= 64;
                r += 64;
            }
            if (x >= 1 << 32) {
                x >>= 32;
                r += 32;
            }
            if (x >= 1 << 16) {
                x >>= 16;
                r += 16;
            }
            if (x >= 1 << 8) {
                x >>= 8;
                r += 8;
            }
            if (x >= 1 << 4) {
                x >>= 4;
                r += 4;
            }
            if (x >= 1 << 2) {
                x >>= 2;
                r += 2;
            }
            if (x >= 1 << 1) r += 1;
        }
    }
}
