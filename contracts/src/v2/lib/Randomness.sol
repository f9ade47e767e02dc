// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Randomness — draws from the hash of a block that did not exist when the draw was committed
/// @notice A draw is committed in block c (a purchase, a start) and uses blockhash(c + delay). Nobody knows that
///         hash at commit time, so nobody can arrange the commit (cancel and rebuy, front-run, revert in a
///         contract) to get a draw it likes. The EVM returns hashes of the last 256 blocks only: a draw not executed
///         by then is rescheduled deterministically to `block.number + delay` (see WorkerDispatcherV2.draw).
library Randomness {
    /// @dev Whether the draw of `drawBlock` can run now: its block is in the past and its hash still available.
    ///      Returns (ready, expired).
    function status(uint256 drawBlock) internal view returns (bool ready, bool expired) {
        if (block.number <= drawBlock) return (false, false);
        if (block.number - drawBlock > 256) return (false, true);
        return (true, false);
    }

    /// @dev The seed of one agreement's draw: hash of the draw block, the agreement and the draw's purpose.
    function seed(uint256 drawBlock, uint256 agreementId, uint256 purpose) internal view returns (uint256 s) {
        bytes32 h = blockhash(drawBlock);
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, h)
            mstore(add(m, 0x20), agreementId)
            mstore(add(m, 0x40), purpose)
            s := keccak256(m, 0x60)
        }
    }

    /// @dev The i-th random word of a seed.
    function word(uint256 s, uint256 i) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            mstore(0x00, s)
            mstore(0x20, i)
            r := keccak256(0x00, 0x40)
        }
    }
}
