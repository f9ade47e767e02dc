// The dashboard's exact amounts and durations (web/units.mjs): BigInt wei, never floats.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatUnits, parseAmount, parseDuration, sumWei } from '../../web/units.mjs';

describe('units', () => {
  it('prints wei in a unit exactly (the offer form\'s price in gwei)', () => {
    assert.equal(formatUnits('1500000001', 9), '1.500000001');
    assert.equal(formatUnits('1000000000', 9), '1');
    // More than a double can hold exactly: 2^64 + 1 wei.
    assert.equal(formatUnits('18446744073709551617', 18), '18.446744073709551617');
    assert.equal(formatUnits(123n, 18), '0.000000000000000123');
  });

  it('parses amounts with units, refusing what is not exact', () => {
    assert.equal(parseAmount('2gwei'), 2_000_000_000n);
    assert.equal(parseAmount('2 gwei/s'), 2_000_000_000n);
    assert.equal(parseAmount('0.5 ETH'), 500_000_000_000_000_000n);
    assert.equal(parseAmount('1.000000000000000001 eth'), 1_000_000_000_000_000_001n);
    assert.equal(parseAmount('1000'), 1000n);
    assert.equal(parseAmount('1000 wei'), 1000n);
    assert.throws(() => parseAmount('1.5 wei'), /more decimals/);
    assert.throws(() => parseAmount('0.0000000001 gwei'), /more decimals/);
    assert.throws(() => parseAmount('2 dollars'), /unknown unit/);
    assert.throws(() => parseAmount('-1'), /not an amount/);
    assert.throws(() => parseAmount(''), /not an amount/);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('30s'), 30);
    assert.equal(parseDuration('10m'), 600);
    assert.equal(parseDuration('1h'), 3600);
    assert.equal(parseDuration('2d'), 172800);
    assert.equal(parseDuration('90'), 90);
    assert.throws(() => parseDuration('0s'), /out of range/);
    assert.throws(() => parseDuration('1 week'), /not a duration/);
  });

  it('sums wei strings exactly', () => {
    assert.equal(sumWei(['18446744073709551615', '1', '0']), '18446744073709551616');
    assert.equal(sumWei([]), '0');
  });
});
