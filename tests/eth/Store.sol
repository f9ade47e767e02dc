// SPDX-License-Identifier: MIT
// Test contract of tests/eth/tx_test.cpp. Compiled with: solcjs 0.8.28 --bin --abi --optimize (evm cancun, the default);
// the creation bytecode is committed in store_contract.hpp.
pragma solidity 0.8.28;

contract Store {
    error TooLarge(uint256 value, uint256 max);
    event Stored(address indexed who, uint256 value);

    uint256 private _value;

    function store(uint256 v) external {
        if (v > 1000) revert TooLarge(v, 1000);
        _value = v;
        emit Stored(msg.sender, v);
    }

    function get() external view returns (uint256) {
        return _value;
    }

    function fail(string calldata reason) external pure {
        require(false, reason);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }
}
