// The gas bench's arithmetic (bench/agreement_gas.mjs): journal keys to kinds, sums per kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { kindOf, summarize } from './agreement_gas.mjs';

test('a journal key names its kind without the agreement-specific tail', () => {
  assert.equal(kindOf('buy:0a1b2c3d4e5f:1765141200000'), 'buy');
  assert.equal(kindOf('post:spec:3'), 'post:spec');
  assert.equal(kindOf('confirm:0'), 'confirm');
  assert.equal(kindOf('draw-verifiers:41'), 'draw-verifiers');
  assert.equal(kindOf('settle'), 'settle');
});

test('gas is summed per kind, in the order first seen, and in all', () => {
  const s = summarize([
    { kind: 'buy', gas: 147_879 },
    { kind: 'confirm', gas: 43_121 },
    { kind: 'settle', gas: 107_347 },
    { kind: 'confirm', gas: 60_052 },
  ]);
  assert.deepEqual(s.kinds, [
    { kind: 'buy', count: 1, gas: 147_879 },
    { kind: 'confirm', count: 2, gas: 103_173 },
    { kind: 'settle', count: 1, gas: 107_347 },
  ]);
  assert.equal(s.total, 358_399);
  assert.equal(s.transactions, 4);
});
