// Exact amounts and durations for the dashboard: wei are BigInt, never floating point. Amounts are
// worded for people by the node (the CLI's formatter, core/units.hpp: the API's "*_text" fields and
// GET /api/amounts), not here.
// Shared by the page (app.js; .mjs so Node loads it as a module too) and the unit tests (tests/web/units.test.mjs).

const DECIMALS = { wei: 0, gwei: 9, eth: 18, ether: 18 };

/** A wei amount (decimal string, number or BigInt) as a BigInt; throws on anything else. */
export function toWei(value) {
  if (typeof value === 'bigint') return value;
  const s = String(value ?? '').trim();
  if (!/^\d+$/.test(s)) throw new Error(`'${s}' is not a whole number of wei`);
  return BigInt(s);
}

/** `wei` in units of 10^decimals, exactly: "1.5", "0.000000001", "12". */
export function formatUnits(wei, decimals) {
  const w = toWei(wei);
  const base = 10n ** BigInt(decimals);
  const whole = w / base;
  const frac = (w % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/**
 * "2gwei", "2 gwei/s", "0.5 ETH", "1000 wei", "1000" (wei) -> wei as BigInt. Throws an Error that
 * says what is wrong (unknown unit, more decimals than the unit has, not a number).
 */
export function parseAmount(text) {
  const s = String(text ?? '').trim().toLowerCase().replace(/\/s$/, '').trim();
  const m = /^(\d+)(?:\.(\d+))?\s*([a-z]*)$/.exec(s);
  if (!m) throw new Error(`'${text}' is not an amount (examples: 2gwei, 0.01 ETH, 1000 wei)`);
  const unit = m[3] || 'wei';
  if (!(unit in DECIMALS)) throw new Error(`unknown unit '${m[3]}' (use wei, gwei or ETH)`);
  const decimals = DECIMALS[unit];
  const frac = m[2] ?? '';
  if (frac.length > decimals) throw new Error(`'${text}' has more decimals than ${unit} allows`);
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

const SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };

/** "30s", "10m", "1h", "2d", "90" (seconds) -> whole seconds; throws with a reason. */
export function parseDuration(text, { zeroOk = false } = {}) {
  const s = String(text ?? '').trim().toLowerCase();
  const m = /^(\d+)\s*([smhd]?)$/.exec(s);
  if (!m) throw new Error(`'${text}' is not a duration (examples: 30s, 10m, 1h)`);
  const n = Number(m[1]) * SECONDS[m[2] || 's'];
  if (!Number.isSafeInteger(n) || (n === 0 && !zeroOk) || n < 0 || n > 0xffffffff) throw new Error(`'${text}' is out of range`);
  return n;
}

/** Sum of wei strings as a decimal string. */
export function sumWei(values) {
  return values.reduce((acc, v) => acc + toWei(v), 0n).toString();
}
