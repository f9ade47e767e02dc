// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DispatcherBase} from "./utils/DispatcherBase.sol";
import {WorkerDispatcher} from "../src/WorkerDispatcher.sol";

/// @notice The gas targets of DESIGN.md, measured per transaction.
/// @dev Each step is measured as a separate transaction would be charged: the dispatcher's storage is made cold
///      first (`vm.cool`), the execution gas is taken with gasleft() around the call, and the transaction's
///      intrinsic cost is added (21,000 + 16 per non-zero and 4 per zero calldata byte, EIP-2028). Storage
///      refunds (EIP-3529) are not subtracted. Two artefacts of running inside one test transaction are removed:
///      the sender and the dispatcher's account are warmed first (EIP-2929 pre-warms tx.origin and tx.to), and the 9,000 that the
///      test's CALL opcode charges for a value transfer is taken off (a transaction's value costs nothing extra).
contract GasTest is DispatcherBase {
    event log_named_uint(string key, uint256 val);

    uint256 internal constant LIFECYCLE_1H_TARGET = 450_000;
    uint256 internal constant LIFECYCLE_24H_TARGET = 600_000;

    function setUp() public {
        _deploy();
        _registerMany(10);
        // A dispatcher in use: one earlier agreement, so the agreement counter is not zero. (The very first
        // agreement of a deployment pays a one-time ~17,000 more to initialise that counter.)
        uint256 id = _buy(_req(3600, 3));
        vm.prank(client);
        d.cancelAgreement(id);
    }

    function _intrinsic(bytes memory data) internal pure returns (uint256 g) {
        g = 21_000;
        for (uint256 i; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    uint256 internal _sink;

    function _tx(address from, uint256 value, bytes memory data) internal returns (uint256 used, bytes memory ret) {
        vm.cool(address(d));
        // the sender and the called contract of a transaction are warm (EIP-2929 pre-warms tx.origin and tx.to)
        _sink += from.balance + address(d).balance;
        vm.prank(from);
        uint256 g = gasleft();
        bool ok;
        (ok, ret) = address(d).call{value: value}(data);
        used = g - gasleft();
        // a transaction's value costs nothing beyond 21,000; the CALL opcode of the test charges 9,000 for it
        if (value != 0) used -= 9000;
        used += _intrinsic(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// @dev buy, accept, start, one report per verifier covering all periods, redeem, refund claim.
    function _lifecycle(uint32 duration, string memory label) internal returns (uint256 total) {
        WorkerDispatcher.Requirements memory r = _req(duration, 3);
        uint256 value = _quote(r);
        vm.deal(client, value + 1 ether);
        (uint256 g, bytes memory ret) = _tx(client, value, abi.encodeCall(WorkerDispatcher.buyContract, (r)));
        uint256 id = abi.decode(ret, (uint256));
        emit log_named_uint(string.concat(label, " buyContract"), g);
        total += g;
        address w = _workerOf(id);
        (g,) = _tx(w, 0, abi.encodeCall(WorkerDispatcher.acceptAgreement, (id)));
        emit log_named_uint(string.concat(label, " acceptAgreement"), g);
        total += g;
        (g,) = _tx(w, 0, abi.encodeCall(WorkerDispatcher.startAgreement, (id)));
        emit log_named_uint(string.concat(label, " startAgreement"), g);
        total += g;
        vm.warp(block.timestamp + duration);
        uint256 periods = duration / PERIOD;
        uint256 all = (uint256(1) << periods) - 1;
        for (uint256 i; i < 3; ++i) {
            (g,) = _tx(_verifierOf(id, i), 0, abi.encodeCall(WorkerDispatcher.provideVerification, (id, 0, all, all)));
            emit log_named_uint(string.concat(label, " provideVerification"), g);
            total += g;
        }
        (g,) = _tx(w, 0, abi.encodeCall(WorkerDispatcher.redeemPayment, (id)));
        emit log_named_uint(string.concat(label, " redeemPayment (settles)"), g);
        total += g;
        (g,) = _tx(client, 0, abi.encodeCall(WorkerDispatcher.claimRefund, (id)));
        emit log_named_uint(string.concat(label, " claimRefund"), g);
        total += g;
        assertEq(d.getAgreement(id).paidPeriods, periods, "every period paid");
        emit log_named_uint(string.concat(label, " lifecycle total"), total);
    }

    /// @dev Logs the figure against its DESIGN.md target and asserts it.
    function _check(uint256 total, uint256 target, string memory label) internal {
        emit log_named_uint(string.concat(label, " target"), target);
        emit log_named_uint(string.concat(label, " figure / target, permille"), total * 1000 / target);
        assertLe(total, target, string.concat(label, " lifecycle gas"));
    }

    function test_gas_lifecycle1h() public {
        _check(_lifecycle(3600, "1h"), LIFECYCLE_1H_TARGET, "1h");
    }

    function test_gas_lifecycle24h() public {
        _check(_lifecycle(86_400, "24h"), LIFECYCLE_24H_TARGET, "24h");
    }
}

/// @notice buyContract's gas must not depend on how many workers are registered.
contract GasScaleTest is DispatcherBase {
    event log_named_uint(string key, uint256 val);

    uint256 internal constant BUYS = 20;

    function _averageBuyGas() internal returns (uint256) {
        uint256 sum;
        for (uint256 k; k < BUYS; ++k) {
            WorkerDispatcher.Requirements memory r = _req(3600, 3);
            uint256 value = _quote(r);
            vm.prevrandao(keccak256(abi.encode("round", k)));
            vm.cool(address(d));
            vm.prank(client);
            uint256 g = gasleft();
            d.buyContract{value: value}(r);
            sum += g - gasleft();
        }
        return sum / BUYS;
    }

    function test_gas_buyContract_10_vs_10000_workers() public {
        _deploy();
        _registerMany(10);
        uint256 small = _averageBuyGas();
        _deploy();
        vm.pauseGasMetering();
        _registerMany(10_000);
        vm.resumeGasMetering();
        uint256 large = _averageBuyGas();
        emit log_named_uint("buyContract gas, 10 workers (execution, mean of 20)", small);
        emit log_named_uint("buyContract gas, 10000 workers (execution, mean of 20)", large);
        uint256 diff = small > large ? small - large : large - small;
        emit log_named_uint("difference, basis points", diff * 10_000 / small);
        assertLt(diff * 100, small * 5, "within 5%");
    }
}
