#!/usr/bin/env node
// The figures of bench/rpc_load.sh, from its snapshots: a table for people, then one JSON line.
// Each snapshot is {"t": seconds, "rpc": {node: rpc_proxy.js counters}, "cpu": {node|anvil: ticks}};
// a window is the difference of its end and start snapshots.
'use strict';
const fs = require('fs');
const path = require('path');

const opt = {};
for (let i = 2; i < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1] ?? '';
const labels = opt.labels.split(' ').filter(Boolean);
const counts = opt.counts.split(' ').filter(Boolean).map(Number);
const clk = Number(opt['clk-tck'] || 100);
const chainId = Number(opt['chain-id'] || 31337);

// eth_call selectors named from the contract artifacts (forge's methodIdentifiers), when present.
const selectorNames = {};
for (const file of (opt.abis || '').split(' ').filter(Boolean)) {
  try {
    const ids = JSON.parse(fs.readFileSync(file, 'utf8')).methodIdentifiers || {};
    for (const [sig, sel] of Object.entries(ids)) selectorNames[`0x${sel}`] = sig.replace(/\(.*$/, '');
  } catch {
    // no artifact: selectors stay as hex
  }
}

const TARGET_PER_AGREEMENT_MIN = 6;
const TARGET_IDLE_NODE_RPS = 1;
const TARGET_CPU_PCT = 10;
const TARGET_CPU_AT = 100;

function read(label, name) {
  return JSON.parse(fs.readFileSync(path.join(opt.work, label, 'snap', `${name}.json`), 'utf8'));
}

function diffMethods(a = {}, b = {}) {
  const out = {};
  for (const [m, v] of Object.entries(b)) {
    const d = v - (a[m] || 0);
    if (d) out[m] = d;
  }
  return out;
}

// One window: per node rates and CPU, and totals.
function windowOf(label, name) {
  const s = read(label, `${name}-start`);
  const e = read(label, `${name}-end`);
  const dt = e.t - s.t;
  const nodes = {};
  let http = 0;
  let calls = 0;
  const methods = {};
  for (const node of Object.keys(e.rpc)) {
    const a = s.rpc[node];
    const b = e.rpc[node];
    const h = b.http - a.http;
    const c = b.calls - a.calls;
    const m = diffMethods(a.methods, b.methods);
    const sel = diffMethods(a.selectors, b.selectors);
    for (const [k, v] of Object.entries(m)) methods[k] = (methods[k] || 0) + v;
    // eth_call is shown by function: "eth_call getAgreement", not also as a whole.
    for (const [k, v] of Object.entries(sel)) {
      const key = `eth_call ${selectorNames[k] || k}`;
      methods[key] = (methods[key] || 0) + v;
      methods.eth_call -= v;
    }
    if (methods.eth_call === 0) delete methods.eth_call;
    http += h;
    calls += c;
    nodes[node] = {
      rps: h / dt,
      calls_ps: c / dt,
      cpu_pct: ((e.cpu[node] - s.cpu[node]) / clk / dt) * 100,
      errors: b.errors - a.errors,
    };
  }
  const perMinute = {};
  for (const [k, v] of Object.entries(methods)) perMinute[k] = (v / dt) * 60;
  return {
    seconds: dt,
    nodes,
    rps: http / dt,
    calls_ps: calls / dt,
    anvil_cpu_pct: ((e.cpu.anvil - s.cpu.anvil) / clk / dt) * 100,
    methods_per_min: perMinute,
  };
}

const max = (xs) => Math.max(...xs);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

const results = {};
for (const label of labels) {
  const idle = windowOf(label, 'idle');
  const nodeRps = Object.values(idle.nodes).map((n) => n.rps);
  const r = {
    idle: {
      seconds: round(idle.seconds, 1),
      rps_all_nodes: round(idle.rps),
      calls_ps_all_nodes: round(idle.calls_ps),
      rps_per_node_mean: round(mean(nodeRps)),
      rps_per_node_max: round(max(nodeRps)),
      cpu_pct_per_node_max: round(max(Object.values(idle.nodes).map((n) => n.cpu_pct))),
      anvil_cpu_pct: round(idle.anvil_cpu_pct),
      nodes: Object.fromEntries(Object.entries(idle.nodes).map(([k, v]) => [k, { rps: round(v.rps), cpu_pct: round(v.cpu_pct) }])),
      calls_ps_by_method: Object.fromEntries(Object.entries(idle.methods_per_min)
        .map(([k, v]) => [k, round(v / 60)]).filter(([, v]) => v > 0)),
    },
    open: {},
  };
  for (const n of counts) {
    const w = windowOf(label, `n${n}`);
    const methods = {};
    for (const [k, v] of Object.entries(w.methods_per_min)) {
      const extra = (v - (idle.methods_per_min[k] || 0)) / n;
      if (Math.abs(extra) >= 0.05) methods[k] = round(extra);
    }
    r.open[n] = {
      seconds: round(w.seconds, 1),
      rps_all_nodes: round(w.rps),
      requests_per_agreement_per_min: round(((w.rps - idle.rps) * 60) / n),
      calls_per_agreement_per_min: round(((w.calls_ps - idle.calls_ps) * 60) / n),
      cpu_pct_per_node_max: round(max(Object.values(w.nodes).map((x) => x.cpu_pct))),
      anvil_cpu_pct: round(w.anvil_cpu_pct),
      proxy_errors: Object.values(w.nodes).reduce((a, x) => a + x.errors, 0),
      nodes: Object.fromEntries(Object.entries(w.nodes).map(([k, v]) => [k, { rps: round(v.rps), cpu_pct: round(v.cpu_pct) }])),
      calls_per_agreement_per_min_by_method: methods,
    };
  }
  results[label] = r;
}

// The table.
const base = results.baseline;
const cur = results.current;
const rows = [];
// check: (current) -> true/false when the target applies to this run, else undefined.
const row = (figure, key, target, fmt = (x) => x.toFixed(1), check = undefined) => {
  const b = base ? key(base) : null;
  const c = key(cur);
  const ratio = b != null && c != null && b !== 0 ? (c / b).toFixed(2) : '';
  const met = check === undefined || c == null ? '' : check(c) ? 'met' : 'NOT MET';
  rows.push([figure, b == null ? '' : fmt(b), c == null ? '' : fmt(c), ratio, met, target || '']);
};
const nodesCount = Object.keys(cur.idle.nodes).length;
const devnet = chainId === 31337;
row(`idle: requests/s, all ${nodesCount} nodes`, (r) => r.idle.rps_all_nodes);
row('idle: requests/s per node (busiest)', (r) => r.idle.rps_per_node_max,
  devnet ? `<= ${TARGET_IDLE_NODE_RPS} (on a non-devnet chain: --chain-id)` : `<= ${TARGET_IDLE_NODE_RPS}`, (x) => x.toFixed(2),
  devnet ? undefined : (c) => c <= TARGET_IDLE_NODE_RPS);
row('idle: CPU % of a core per node (busiest)', (r) => r.idle.cpu_pct_per_node_max);
for (const n of counts) {
  row(`${n} open: requests/s, all nodes`, (r) => r.open[n].rps_all_nodes);
  row(`${n} open: requests per agreement per minute`, (r) => r.open[n].requests_per_agreement_per_min, `<= ${TARGET_PER_AGREEMENT_MIN}`,
    undefined, (c) => c <= TARGET_PER_AGREEMENT_MIN);
  row(`${n} open: JSON-RPC calls per agreement per minute`, (r) => r.open[n].calls_per_agreement_per_min);
  row(`${n} open: CPU % of a core per node (busiest)`, (r) => r.open[n].cpu_pct_per_node_max,
    n >= TARGET_CPU_AT ? `< ${TARGET_CPU_PCT}` : `< ${TARGET_CPU_PCT} at ${TARGET_CPU_AT} (--agreements ...,${TARGET_CPU_AT})`,
    undefined, n >= TARGET_CPU_AT ? (c) => c < TARGET_CPU_PCT : undefined);
  row(`${n} open: anvil CPU %`, (r) => r.open[n].anvil_cpu_pct);
}

const out = [];
out.push('');
out.push(`RPC load of the nodes, counted by a proxy between each node and the chain (${opt['workers']} workers + 1 client; ` +
  `${opt.verifiers} verifier(s) per agreement, all on worker 1; chain id ${chainId}, ` +
  `${opt['block-time'] === 'auto' ? 'a block per transaction' : `a block every ${opt['block-time']} s`})`);
out.push(`baseline: ${base ? opt['baseline-ref'] : '(none)'}   current: ${opt['current-ref']}   ` +
  `windows: idle ${cur.idle.seconds} s, open ${counts.map((n) => cur.open[n].seconds).join('/')} s; idle subtracted per agreement`);
const head = ['figure', 'baseline', 'current', 'ratio', 'target', ''];
const widths = [50, 10, 10, 7, 8, 0];
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : i === 5 ? c : String(c).padStart(widths[i]))).join(' ');
out.push('');
out.push(line(head));
for (const r of rows) out.push(line(r));

// Per node, at the largest N.
const nMax = counts[counts.length - 1];
out.push('');
out.push(`per node at ${nMax} open (requests/s, CPU %):`);
const nodeNames = Object.keys(cur.open[nMax].nodes);
out.push(['node'.padEnd(10), ...labels.map((l) => `${l} req/s`.padStart(18) + `${l} CPU%`.padStart(16))].join(''));
for (const node of nodeNames) {
  out.push([node.padEnd(10), ...labels.map((l) => {
    const x = results[l].open[nMax].nodes[node];
    return x.rps.toFixed(1).padStart(18) + x.cpu_pct.toFixed(1).padStart(16);
  })].join(''));
}

out.push('');
out.push('idle JSON-RPC calls/s by method, all nodes:');
for (const l of labels) {
  const m = Object.entries(results[l].idle.calls_ps_by_method).sort((a, b) => b[1] - a[1]);
  out.push(`  ${l.padEnd(9)} ${m.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ') || '(none)'}`);
}

// What the calls are, per agreement per minute (idle subtracted), at the largest N.
out.push('');
out.push(`JSON-RPC calls per agreement per minute by method at ${nMax} open (idle subtracted; eth_call by selector):`);
const methodNames = new Set();
for (const l of labels) for (const m of Object.keys(results[l].open[nMax].calls_per_agreement_per_min_by_method)) methodNames.add(m);
const sorted = [...methodNames].sort((a, b) => (cur.open[nMax].calls_per_agreement_per_min_by_method[b] || 0) +
  (base ? base.open[nMax].calls_per_agreement_per_min_by_method[b] || 0 : 0) -
  (cur.open[nMax].calls_per_agreement_per_min_by_method[a] || 0) - (base ? base.open[nMax].calls_per_agreement_per_min_by_method[a] || 0 : 0));
out.push(['method'.padEnd(36), ...labels.map((l) => l.padStart(12))].join(''));
for (const m of sorted.slice(0, 14)) {
  out.push([m.padEnd(36), ...labels.map((l) => (results[l].open[nMax].calls_per_agreement_per_min_by_method[m] ?? 0).toFixed(1).padStart(12))].join(''));
}
const errors = labels.map((l) => counts.map((n) => results[l].open[n].proxy_errors).reduce((a, b) => a + b, 0));
if (errors.some((e) => e > 0)) out.push(`\nWARNING: the chain did not answer ${errors.join('/')} proxied requests (${labels.join('/')})`);
process.stdout.write(out.join('\n') + '\n\n');

const json = {
  bench: 'rpc_load',
  baseline_ref: base ? opt['baseline-ref'] : null,
  current_ref: opt['current-ref'],
  config: {
    workers: Number(opt.workers),
    verifiers: Number(opt.verifiers),
    agreements: counts,
    chain_id: chainId,
    block_time: opt['block-time'] === 'auto' ? null : Number(opt['block-time']),
  },
  targets: {
    requests_per_agreement_per_min: TARGET_PER_AGREEMENT_MIN,
    idle_node_rps_non_devnet: TARGET_IDLE_NODE_RPS,
    cpu_pct_per_node_at_100: TARGET_CPU_PCT,
  },
  // Whether the current build meets each target that applies to this run (null: not measured here).
  current_meets: {
    requests_per_agreement_per_min: Object.fromEntries(counts.map((n) => [n, cur.open[n].requests_per_agreement_per_min <= TARGET_PER_AGREEMENT_MIN])),
    idle_node_rps: devnet ? null : cur.idle.rps_per_node_max <= TARGET_IDLE_NODE_RPS,
    cpu_pct_per_node_at_100: counts.some((n) => n >= TARGET_CPU_AT)
      ? counts.filter((n) => n >= TARGET_CPU_AT).every((n) => cur.open[n].cpu_pct_per_node_max < TARGET_CPU_PCT) : null,
  },
  results,
};
const text = JSON.stringify(json);
if (opt['json-file']) fs.writeFileSync(opt['json-file'], text + '\n');
process.stdout.write(text + '\n');
