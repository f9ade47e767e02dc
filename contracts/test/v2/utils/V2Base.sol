// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "../../utils/Test.sol";
import {IWorkerDispatcherV2} from "../../../src/v2/IWorkerDispatcherV2.sol";
import {WorkerDispatcherV2} from "../../../src/v2/WorkerDispatcherV2.sol";
import {RegistryModuleV2} from "../../../src/v2/RegistryModuleV2.sol";

/// @dev A client contract whose receive() writes storage: more than the 2,300-gas stipend a refund sent at once
///      carries, so its refunds are credited, and `withdraw` (all the gas it needs) takes them.
contract CountingWallet {
    uint256 public received;

    receive() external payable {
        received += msg.value;
    }

    function withdrawFrom(WorkerDispatcherV2 d) external {
        d.withdraw();
    }
}

/// @notice Cheatcodes test/utils/Test.sol does not declare (Foundry's cheatcode spec, crates/cheatcodes/spec).
interface VmExtra {
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
    function getBlockNumber() external view returns (uint256);
    function getBlockTimestamp() external view returns (uint256);
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
}

/// @notice Shared set-up of the v2 tests: parameters, a dispatcher, and helpers that play the nodes' parts.
abstract contract V2Base is Test {
    VmExtra internal constant vmx = VmExtra(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    uint96 internal constant MIN_STAKE = 1 ether;
    uint96 internal constant MIN_BOND = 0.01 ether;
    uint96 internal constant CANCEL_FEE = 0.0005 ether;
    uint96 internal constant DECLINE_FEE = 0.0005 ether;
    uint96 internal constant MIN_VERIFIER_PAY = 0.0001 ether;
    uint32 internal constant ACCEPT_WINDOW = 1 hours;
    uint32 internal constant START_WINDOW = 1 hours;
    uint32 internal constant REPORT_WINDOW = 1 hours;
    uint32 internal constant COOL_DOWN = 7 days;
    uint16 internal constant FEE_BPS = 500; // a verifier earns 5% of a period's price per agreeing vote
    uint16 internal constant SLASH_BPS = 10_000; // a failed period burns one period's price of the worker's stake
    uint16 internal constant PENALTY_BPS = 20_000; // a dissenting / silent period burns 2 rewards of the bond
    uint8 internal constant DRAW_DELAY = 2;

    uint64 internal constant PRICE = 1e12; // wei per second (0.0036 ether per hour)
    uint32 internal constant PERIOD = 60; // the CLI's default period

    // secp256k1 generator G: a valid public key (SEC 2 v2, section 2.4.1)
    bytes internal constant PUBKEY =
        hex"79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8";

    bytes internal constant SPEC = bytes('{"kind":"http","path":"/health","status":200}');
    bytes32 internal constant SALT = keccak256("client's secret salt");

    WorkerDispatcherV2 internal d;
    RegistryModuleV2 internal r; // the same address, typed for the registry and views
    address internal client = address(0xC11E47);
    uint256 internal clientBase; // the client's wallet + credit right after its last purchase

    function _config() internal pure returns (IWorkerDispatcherV2.Config memory c) {
        c.minStake = MIN_STAKE;
        c.minVerifierBond = MIN_BOND;
        c.cancelFee = CANCEL_FEE;
        c.declineFee = DECLINE_FEE;
        c.minVerifierPay = MIN_VERIFIER_PAY;
        c.acceptWindow = ACCEPT_WINDOW;
        c.startWindow = START_WINDOW;
        c.reportWindow = REPORT_WINDOW;
        c.coolDown = COOL_DOWN;
        c.verifierFeeBps = FEE_BPS;
        c.slashBps = SLASH_BPS;
        c.penaltyBps = PENALTY_BPS;
        c.drawDelay = DRAW_DELAY;
    }

    function _deploy() internal {
        vm.warp(1_700_000_000);
        vm.roll(1000);
        d = new WorkerDispatcherV2(_config());
        r = RegistryModuleV2(address(d));
        vm.deal(client, 1_000_000 ether);
    }

    function _workerAddr(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + i));
    }

    function _register(address who, uint64 price) internal returns (uint256 id) {
        vm.deal(who, who.balance + MIN_STAKE + 1 ether); // the extra ether pays for gas in real life
        vm.prank(who);
        id = r.registerWorker{value: MIN_STAKE}(price, 30 days, 4000, 8192, PUBKEY);
    }

    /// @dev Registers workers 1..n at PRICE and moves one block on (draw eligibility needs an earlier block).
    function _registerMany(uint256 n) internal {
        for (uint256 i = 1; i <= n; ++i) {
            _register(_workerAddr(i), PRICE);
        }
        _roll(1);
    }

    /// @dev Moves the chain on by `blocks` blocks of 12 s, with a hash for every block passed.
    function _roll(uint256 blocks) internal {
        uint256 b = block.number;
        vm.roll(b + blocks);
        for (uint256 i; i < blocks; ++i) {
            vmx.setBlockhash(b + i, keccak256(abi.encode("block", b + i)));
        }
        vm.warp(block.timestamp + 12 * blocks);
    }

    function _specCommit(bytes memory spec, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(salt, keccak256(spec)));
    }

    function _req(uint32 duration, uint8 verifiers) internal pure returns (IWorkerDispatcherV2.Requirements memory q) {
        q.cpuMillicores = 1000;
        q.memoryMB = 1024;
        q.duration = duration;
        q.periodSeconds = PERIOD;
        q.maxPricePerSecond = PRICE;
        q.verifiers = verifiers;
        q.imageDigest = keccak256("image");
        q.specCommit = _specCommit(SPEC, SALT);
    }

    function _quote(IWorkerDispatcherV2.Requirements memory q) internal view returns (uint256) {
        return r.quote(q.maxPricePerSecond, q.duration, q.periodSeconds, q.verifiers);
    }

    function _buyAs(address who, IWorkerDispatcherV2.Requirements memory q) internal returns (uint256 id) {
        uint256 value = _quote(q);
        if (who.balance < value) vm.deal(who, value);
        vm.prank(who);
        id = d.buyContract{value: value}(q);
        if (who == client) clientBase = client.balance + r.creditOf(client);
    }

    /// @dev What the client got back since its last purchase: refunds are sent to its wallet at once (an
    ///      account takes them), else credited; both count.
    function _refunded() internal view returns (uint256) {
        return client.balance + r.creditOf(client) - clientBase;
    }

    function _buy(uint32 duration) internal returns (uint256) {
        return _buyAs(client, _req(duration, 3));
    }

    function _owner(uint256 workerId) internal view returns (address) {
        return r.getWorker(workerId).owner;
    }

    /// @dev Past the draw block; the drawn worker accepts (executing the draw). Returns its owner.
    function _accept(uint256 id) internal returns (address w) {
        _roll(DRAW_DELAY + 1);
        uint256 wid = r.previewWorker(id);
        assertTrue(wid != 0, "a worker is drawn");
        w = _owner(wid);
        vm.prank(w);
        d.acceptAgreement(id, "");
    }

    /// @dev The worker starts; the chain moves past the verifier draw block. Returns the worker.
    function _start(uint256 id) internal returns (address w) {
        w = _owner(r.getAgreement(id).workerId);
        vm.prank(w);
        d.startAgreement(id, "");
        _roll(DRAW_DELAY + 1);
    }

    /// @dev The worker starts; past the verifier draw block, the worker draws the verifiers (the clock starts).
    function _startAndDraw(uint256 id) internal {
        address w = _start(id);
        vm.prank(w);
        d.drawVerifiers(id, "");
        assertEq(uint256(r.getAgreement(id).status), uint256(IWorkerDispatcherV2.AgreementStatus.Running), "running");
    }

    function _run(uint32 duration) internal returns (uint256 id) {
        id = _buy(duration);
        _accept(id);
        _startAndDraw(id);
    }

    function _verifier(uint256 id, uint256 i) internal view returns (address) {
        return _owner(r.getAgreement(id).verifierIds[i]);
    }

    function _endOf(uint256 id) internal view returns (uint256) {
        IWorkerDispatcherV2.AgreementView memory a = r.getAgreement(id);
        return a.deadline + uint256(a.billablePeriods) * a.periodSeconds;
    }

    function _one(uint256 x) internal pure returns (uint256[] memory a) {
        a = new uint256[](1);
        a[0] = x;
    }

    /// @dev Verifier i reports a batch of at most WORD_PERIODS billable periods (one word).
    function _report(uint256 id, uint256 batch, uint256 i, uint256 ok, uint256 voted) internal {
        address v = _verifier(id, i);
        vm.prank(v);
        d.submitReport(id, batch, _one(ok), _one(voted));
    }

    /// @dev Verifier i confirms a batch: every period ok.
    function _confirm(uint256 id, uint256 batch, uint256 i) internal {
        address v = _verifier(id, i);
        vm.prank(v);
        d.confirmBatch(id, batch);
    }

    function _all(uint256 n) internal pure returns (uint256) {
        return n >= 256 ? type(uint256).max : (uint256(1) << n) - 1;
    }

    /// @dev Everything credited to an account plus its wallet: what it can end up with.
    function _worth(address a) internal view returns (uint256) {
        uint256 wid = r.workerIdOf(a);
        return a.balance + r.creditOf(a) + (wid == 0 ? 0 : r.getWorker(wid).stake);
    }
}
