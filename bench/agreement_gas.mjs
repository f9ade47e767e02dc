// The gas of one agreement from the receipts of every transaction the nodes sent for it
// (bench/agreement_gas.sh runs the agreement). Each node's own journal lists its transactions for
// the agreement by hash (GET /api/agreements/ID .transactions); each hash's receipt comes from the
// chain (eth_getTransactionReceipt): gasUsed, and whether it reverted. Registrations are no
// agreement's transactions, so they are not counted.
//
//   node bench/agreement_gas.mjs --home DIR --id ID --rpc URL [--json FILE] [--wait SECONDS]
//
// --wait: poll until the agreement is settled, the client's node done with it, and nothing pending.
// Prints one row per transaction (node, role, kind, hash, gas), then per kind, then the total next
// to the baselines; the last line is the JSON of the figures (also written to --json).
import { readFileSync, readdirSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Baselines (issue 12): iExec PoCo's published test-suite average for its one-worker flow, and v1
// as the nodes ran it for a 1-hour agreement (one report per verifier per period, messages on chain).
export const BASELINES = [
  ['iExec PoCo, 1 worker (published average)', 1_630_000],
  ['protocol v1 as the nodes ran it, 1-hour agreement (issue 12)', 8_700_000],
];

/** The kind of a journal key: "confirm:0" -> "confirm", "post:spec:3" -> "post:spec". */
export function kindOf(key) {
  const parts = key.split(':');
  return parts[0] === 'post' && parts.length > 1 ? `post:${parts[1]}` : parts[0];
}

/** Rows {node, role, kind, hash, gas, ok} -> per kind {kind, count, gas} (in first-seen order) and the total. */
export function summarize(rows) {
  const kinds = new Map();
  for (const r of rows) {
    const k = kinds.get(r.kind) ?? { kind: r.kind, count: 0, gas: 0 };
    k.count += 1;
    k.gas += r.gas;
    kinds.set(r.kind, k);
  }
  return { kinds: [...kinds.values()], total: rows.reduce((s, r) => s + r.gas, 0), transactions: rows.length };
}

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['home', 'id', 'rpc']) if (!o[k]) throw new Error(`agreement_gas: --${k} is required`);
  return o;
}

async function rpc(url, method, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const j = await res.json();
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

/** Every node's API (workers 1..N, then the client) under a market.sh home. */
function nodesOf(home) {
  const dirs = [];
  if (existsSync(join(home, 'nodes')))
    for (const d of readdirSync(join(home, 'nodes')).sort((a, b) => Number(a) - Number(b))) dirs.push([`worker node ${d}`, join(home, 'nodes', d)]);
  dirs.push(['client node', join(home, 'node')]);
  return dirs.map(([name, dir]) => {
    const ep = JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8'));
    return { name, base: `http://${ep.host}:${ep.port}`, token: ep.token };
  });
}

/** The node's record of the agreement (404: it took no part). */
async function recordOf(node, id) {
  const res = await fetch(`${node.base}/api/agreements/${id}`, { headers: { Authorization: `Bearer ${node.token}` } });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${node.name}: GET /api/agreements/${id}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function collect(o) {
  const records = [];
  for (const node of nodesOf(o.home)) {
    const rec = await recordOf(node, o.id);
    if (rec) records.push({ node, rec });
  }
  return records;
}

function settledEnough(records) {
  const all = records.flatMap((r) => r.rec.transactions ?? []);
  const client = records.find((r) => r.rec.role === 'client');
  // Over: settled (the client's refund is paid at settlement, or credited and withdrawn by its node,
  // which then marks the agreement done) and nothing pending.
  return all.length > 0 && all.every((t) => t.status !== 'pending') &&
    all.some((t) => t.action === 'settle' && t.status === 'mined') && client?.rec.state === 'done';
}

async function main() {
  const o = args(process.argv.slice(2));
  const deadline = Date.now() + Number(o.wait ?? 0) * 1000;
  let records = await collect(o);
  while (!settledEnough(records) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    records = await collect(o);
  }
  if (!settledEnough(records)) {
    const pending = records.flatMap((r) => (r.rec.transactions ?? []).filter((t) => t.status === 'pending').map((t) => `${r.node.name} ${t.key}`));
    throw new Error(`agreement ${o.id} is not over: not settled, the client not done, or pending: ${pending.join(', ') || 'none'}`);
  }
  const rows = [];
  for (const { node, rec } of records)
    for (const t of rec.transactions) {
      const receipt = await rpc(o.rpc, 'eth_getTransactionReceipt', [t.hash]);
      if (!receipt) continue;  // a replaced version, never mined
      rows.push({ node: node.name, role: rec.role, kind: kindOf(t.key), key: t.key, hash: t.hash,
        block: Number(receipt.blockNumber), gas: Number(receipt.gasUsed), ok: receipt.status === '0x1' });
    }
  rows.sort((a, b) => a.block - b.block);
  const payments = records.find((r) => r.rec.role === 'client').rec.payments;
  const chain = records.find((r) => r.rec.role === 'client').rec.chain;
  const s = summarize(rows);
  const fmt = (n) => n.toLocaleString('en-US');
  console.log(`agreement ${o.id}: ${chain.periods} periods of ${chain.period_seconds} s, ${chain.verifier_ids.length} verifiers, ` +
    `settled: ${payments.settled}, balanced to the wei: ${payments.balanced}`);
  console.log('\nevery transaction the nodes sent for it (receipts):');
  console.log(`  ${'block'.padStart(5)}  ${'node'.padEnd(14)} ${'role'.padEnd(9)} ${'transaction'.padEnd(22)} ${'gas'.padStart(9)}  hash`);
  for (const r of rows)
    console.log(`  ${String(r.block).padStart(5)}  ${r.node.padEnd(14)} ${r.role.padEnd(9)} ${r.key.padEnd(22).slice(0, 22)} ${fmt(r.gas).padStart(9)}  ${r.hash}${r.ok ? '' : '  REVERTED'}`);
  console.log('\nper kind:');
  for (const k of s.kinds) console.log(`  ${k.kind.padEnd(16)} ${String(k.count).padStart(2)} x  ${fmt(k.gas).padStart(9)}`);
  console.log(`  ${'total'.padEnd(16)} ${String(s.transactions).padStart(2)} tx  ${fmt(s.total).padStart(9)} gas`);
  console.log('\nnext to the baselines:');
  for (const [name, gas] of BASELINES)
    console.log(`  ${name.padEnd(62)} ${fmt(gas).padStart(10)}  (${(gas / s.total).toFixed(1)}x this agreement's)`);
  const reverted = rows.filter((r) => !r.ok).length;
  if (reverted) console.log(`\nNOTE: ${reverted} transaction(s) reverted; their gas is counted above.`);
  const out = { agreement: Number(o.id), periods: chain.periods, period_seconds: chain.period_seconds,
    verifiers: chain.verifier_ids.length, balanced: payments.balanced, total_gas: s.total, transactions: s.transactions,
    kinds: s.kinds, reverted, measured_at: new Date().toISOString() };
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(o.json, `${JSON.stringify(out)}\n`);
  }
  console.log(JSON.stringify(out));
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
