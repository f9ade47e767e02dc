// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PeriodBits — bitmaps of periods and bit-sliced vote counting
/// @notice A batch of periods is a bitmap (bit i = i-th period of the batch). Votes of up to 7 verifiers are
///         counted for all periods at once with a 3-plane bit-sliced counter (plane b holds bit b of each count).
library PeriodBits {
    /// @dev Adds one voter's bitmap to the counters (c0 lowest plane). Counts stay below 8.
    function add(uint256[3] memory c, uint256 x) internal pure {
        uint256 carry0 = c[0] & x;
        c[0] ^= x;
        uint256 carry1 = c[1] & carry0;
        c[1] ^= carry0;
        c[2] ^= carry1;
    }

    /// @dev Per bit: count >= k (k < 8).
    function atLeast(uint256[3] memory c, uint256 k) internal pure returns (uint256 ge) {
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

    /// @dev Number of set bits (SWAR).
    function popcount(uint256 x) internal pure returns (uint256) {
        unchecked {
            x -= (x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555;
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            return (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
        }
    }

    /// @dev Bitmap with the lowest n bits set (n <= 256).
    function low(uint256 n) internal pure returns (uint256) {
        return n >= 256 ? type(uint256).max : (uint256(1) << n) - 1;
    }
}
