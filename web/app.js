// The Zeppelin dashboard: plain JavaScript modules talking to the node's local API (api.hpp).
// Reads need no token; anything that changes state sends `Authorization: Bearer <token>`, the
// token being kept in sessionStorage once entered. Amounts are shown as the node words them (the
// CLI's formatter: "594 gwei"), the exact wei on hover; sums are exact (BigInt wei, units.mjs).
import { formatUnits, parseAmount, parseDuration, sumWei } from './units.mjs';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'zeppelin-api-token';
// Protocol v2's chain statuses: open until settled, or ended before it ran (with a reason).
const OPEN = new Set(['purchased', 'assigned', 'accepted', 'starting', 'running']);
const CLOSED = new Set(['settled', 'ended']);
// A worker's phases in which its container runs.
const WORKING = new Set(['checking_spec', 'running']);

// ---------------------------------------------------------------- helpers

/** Builds an element: el('td', {class: 'x'}, 'text', child...). Text is never parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/**
 * The amount `obj[key]` (exact wei) as the node words it in `obj[key + '_text']` ("594 gwei"), the
 * exact wei in its tooltip; a dash when there is none.
 */
function amount(obj, key) {
  const wei = obj?.[key];
  if (wei === undefined || wei === null) return '—';
  return shown({ wei, text: obj[`${key}_text`] ?? `${wei} wei` });
}

/** A worded amount {wei, text} (GET /api/amounts), the exact wei in its tooltip. */
function shown({ wei, text }) {
  return el('span', { class: 'amount', title: `${wei} wei` }, text);
}

/** Amounts this page adds up itself (exact, BigInt), worded by the node: [{wei, text}...] and the total. */
async function worded(weis) {
  return api('GET', `/api/amounts?wei=${weis.map((w) => String(w)).join(',')}`);
}

/** Fills a table; each cell carries its column's name, which a phone shows beside it (style.css: cards). */
function fillTable(table, rows) {
  const body = table.querySelector('tbody');
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute('data-label', heads[i] ?? ''));
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: heads.length, class: 'muted' }, 'None yet.'))]));
}

function facts(dl, pairs) {
  dl.replaceChildren(...pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

// Where the error shown came from: an action's error (a refused request, a failed payment) stays
// until the next action; the periodic refresh clears only its own.
let errorFrom = null;

function showError(message, from = 'action') {
  if (!message && from === 'refresh' && errorFrom === 'action') return;
  const e = $('#error');
  e.textContent = message;
  e.hidden = !message;
  errorFrom = message ? from : null;
}

function notice(message) {
  $('#token-state').textContent = message;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function parseJson(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * Sends a request to the node, with the token when one is kept; answers the body as text, or
 * throws an ApiError that says why in words (and where the token is when it was refused).
 */
async function send(method, path, { body, type } = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (type) headers['Content-Type'] = type;
  let res;
  try {
    res = await fetch(path, { method, headers, body });
  } catch (e) {
    throw new ApiError(0, `the node does not answer (${e.message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    const why = parseJson(text)?.error ?? (text || res.statusText);
    if (res.status === 401)
      throw new ApiError(401, `The node refused the request: ${why}. Enter the API token from <data dir>/api-token above.`);
    throw new ApiError(res.status, why);
  }
  return text;
}

/** A JSON request: the body (if any) sent as JSON, the answer parsed. */
async function api(method, path, body) {
  return parseJson(await send(method, path, body === undefined ? {} : { body: JSON.stringify(body), type: 'application/json' }));
}

/** Uploads an image archive to the node (checked there like any archive) and runs from its copy. */
async function uploadArchive(file) {
  if (!file) return;
  $('#run-upload-state').textContent = `uploading ${file.name}…`;
  let data;
  try {
    data = parseJson(await send('POST', `/api/images?name=${encodeURIComponent(file.name)}`, { body: file, type: 'application/x-tar' }));
  } catch (e) {
    $('#run-upload-state').textContent = '';
    throw new ApiError(e.status, `The upload was refused: ${e.message}`);
  }
  $('#run-form').elements.image.value = data.path;
  $('#run-upload-state').textContent = `uploaded ${data.name}: ${data.config_digest}`;
  hideQuote();
}

/** Runs an action from a button: disables it meanwhile, shows an error in words. */
async function act(button, busyText, fn) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  showError('');
  try {
    await fn();
    showError('');
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

// ---------------------------------------------------------------- state

const state = {
  view: 'market',
  status: null,          // GET /api/status
  agreements: [],        // GET /api/agreements, or the /api/events snapshot
  streamedAt: 0,         // when /api/events last sent that snapshot (Date.now())
  selected: null,        // the client agreement followed in the Client view
  pending: null,         // the RunRequest waiting for "Pay and start"
};

const detail = (id) => api('GET', `/api/agreements/${id}`);

/** Agreements of one role with their details (the latest 50). */
async function detailsOf(role) {
  const list = state.agreements.filter((a) => a.role === role).slice(-50);
  return Promise.all(list.map((a) => detail(a.id)));
}

// ---------------------------------------------------------------- header

/** Shows the node's status (GET /api/status; the worker routes answer it too). */
function showStatus(s) {
  state.status = s;
  const worker = s.worker ? `worker #${s.worker.id} (${s.worker.status})` : 'client only';
  $('#node-summary').replaceChildren(`Account ${s.address} · chain ${s.chain_id} · balance `, amount(s, 'balance'),
    ` · ${worker} · block ${s.processed_block}`,
    s.reachability && !s.reachability.reachable ? ` · unreachable, takes no work: ${s.reachability.reason}` : '');
  // A node on another chain than the one it recorded stops acting and says why (chain_identity.hpp).
  const mismatch = s.chain_identity && s.chain_identity.state === 'mismatch';
  $('#chain-mismatch').hidden = !mismatch;
  $('#chain-mismatch').textContent = mismatch ? s.chain_identity.message : '';
}

async function refreshStatus() {
  showStatus(await api('GET', '/api/status'));
}

// ---------------------------------------------------------------- market

async function refreshMarket() {
  const [workers, agreements] = await Promise.all([api('GET', '/api/market/workers'), api('GET', '/api/market/agreements')]);
  fillTable($('#workers'), workers.map((w) => el('tr', {},
    el('td', {}, `#${w.id}`), el('td', { class: 'mono' }, w.owner), el('td', {}, w.status),
    el('td', {}, amount(w, 'price_per_second')), el('td', {}, String(w.cpu_millicores)), el('td', {}, String(w.memory_mb)),
    el('td', {}, amount(w, 'stake')), el('td', {}, `${w.verified_periods} / ${w.failed_periods}`),
    el('td', {}, amount(w, 'locked')))));
  fillTable($('#market-agreements'), agreements.slice().reverse().map((a) => el('tr', {},
    el('td', {}, `#${a.id}`), el('td', {}, a.status), el('td', {}, a.worker_id ? `#${a.worker_id}` : '—'),
    // Before the draw (purchased) there is no worker, so no price yet.
    el('td', {}, a.verifier_ids.map((v) => `#${v}`).join(', ') || '—'), el('td', {}, a.worker_id ? amount(a, 'price_per_second') : '—'),
    // Billable periods count from the start: one that never started has none.
    el('td', {}, `${a.started_at ? a.billable_periods : '—'} / ${a.periods}`), el('td', {}, amount(a, 'escrow')))));
  const open = agreements.filter((a) => OPEN.has(a.status));
  const escrow = await worded([sumWei(open.map((a) => a.escrow ?? '0'))]);
  $('#escrow-total').replaceChildren(shown(escrow.total),
    ` in ${plural(open.length, 'open agreement')}`);
}

// ---------------------------------------------------------------- client

function readRunForm() {
  const f = $('#run-form').elements;
  const need = (name) => {
    const v = f[name].value.trim();
    if (!v) throw new Error(`${f[name].labels[0].textContent.trim()} is required`);
    return v;
  };
  const whole = (name, min, max) => {
    const v = need(name);
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new Error(`${f[name].labels[0].textContent.trim()} must be a whole number from ${min} to ${max}`);
    return Number(v);
  };
  const req = {
    image: need('image'),
    duration: parseDuration(need('duration'), { zeroOk: true }),  // 0: the node's check says why not
    period: parseDuration(need('period'), { zeroOk: true }),
    verifiers: whole('verifiers', 0, 255),
    max_price_per_second: parseAmount(need('max_price')).toString(),
    probe: need('probe'),
    cpu_millicores: whole('cpu_millicores', 1, 0xffffffff),
    memory_mb: whole('memory_mb', 1, 0xffffffff),
  };
  if (f.port.value.trim()) req.port = whole('port', 1, 65535);
  return req;
}

/**
 * The cost, after the node checked the terms against the market (POST /api/agreements/check, the
 * same checks as `zeppelin run`): the refusals in words, with numbers, or the escrow and the worker.
 */
async function showQuote() {
  const req = readRunForm();
  const check = await api('POST', '/api/agreements/check', req);
  if (!check.ok) throw new Error(`Not possible as asked: ${check.refusals.map((r) => r.message).join('; ')}.`);
  state.pending = req;
  $('#quote-deposit').replaceChildren(amount(check, 'deposit'));
  const cheapest = check.cheapest ? `; the cheapest of ${plural(check.eligible_workers, 'eligible worker')} asks ${check.cheapest.price_per_second_text}/s` : '';
  $('#quote-wei').textContent = `(at most ${check.max_price_per_second_text}/s for ${req.duration} s${cheapest})`;
  $('#quote').hidden = false;
  $('#pay').focus();
}

function hideQuote() {
  state.pending = null;
  $('#quote').hidden = true;
}

async function pay() {
  if (!state.pending) return;
  const out = await api('POST', '/api/agreements', state.pending);
  hideQuote();
  notice(`Agreement #${out.id} bought${out.deposit_text ? `: ${out.deposit_text} in escrow` : ''}.`);
  state.selected = out.id;
  await refreshAgreements({ fresh: true });
  await refreshSelected();
}

const STEPS = ['assigned', 'accepted', 'transferring', 'running', 'verified', 'done'];

/** How far an agreement got, as an index into STEPS. */
function stepOf(d) {
  const chain = d.chain?.status;
  const local = d.local ?? {};
  const verified = (d.payments?.verifiers ?? []).some((v) => v.periods_ok > 0);
  if (CLOSED.has(chain) || d.state === 'done' || d.state === 'cancelled') return 5;
  if (verified) return 4;
  if (chain === 'running' || chain === 'starting' || d.state === 'running' || d.state === 'stopping') return 3;
  if (d.progress || local.transferred || d.state === 'transferring' || d.state === 'waiting_for_service') return 2;
  if (chain === 'accepted') return 1;
  return 0;
}

/** One verifier's part: what it reported, and a penalty for silent periods if it had one. */
function verifierLine(v) {
  const penalty = v.penalty && v.penalty !== '0' ? `, penalty ${v.penalty_text ?? `${v.penalty} wei`} for ${plural(v.silent_periods ?? 0, 'silent period')}` : '';
  return `verifier #${v.verifier_id}: ${v.periods_ok} of ${v.periods_reported} ok${penalty}`;
}

function renderAgreement(d) {
  const box = $('#agreement');
  box.hidden = false;
  // A failing transfer says why, with the worker's announced address (`problem`).
  $('#agreement-title').textContent = `Agreement #${d.id}: ${d.state_label ?? d.state}${d.problem ? `: ${d.problem}` : ''}${d.chain ? ` (on chain: ${d.chain.status})` : ''}`;
  const at = stepOf(d);
  $('#agreement-steps').replaceChildren(...STEPS.map((s, i) => el('li', {
    class: i < at ? 'done' : i === at ? 'current' : 'todo', 'aria-current': i === at ? 'step' : undefined,
  }, s)));
  const p = d.progress;
  $('#agreement-progress').hidden = !p;
  if (p) {
    $('#progress-bar').max = Math.max(1, p.total);
    $('#progress-bar').value = p.done;
    $('#progress-text').textContent = `${p.phase}: ${p.done} of ${p.total} bytes`;
  }
  const svc = d.local?.service;
  $('#agreement-service').hidden = !svc;
  if (svc) {
    const url = `http://${svc.host}:${svc.port}/`;
    $('#service-link').href = url;
    $('#service-link').textContent = url;
  }
  const c = d.chain ?? {};
  const pay = d.payments ?? {};
  const verified = (pay.verifiers ?? []).map(verifierLine).join('; ');
  // The deposit from the purchase's event (payments); while open, the chain's escrow holds it.
  const deposit = pay.deposit !== undefined ? { from: pay, key: 'deposit' }
    : OPEN.has(c.status) && c.escrow !== undefined ? { from: c, key: 'escrow' } : undefined;
  facts($('#agreement-facts'), [
    ['Image', d.local?.image_name],
    ['Deposit', deposit && amount(deposit.from, deposit.key)],
    ['Price per second', c.price_per_second && c.worker_id ? amount(c, 'price_per_second') : undefined],
    ['Periods paid / billable', c.billable_periods !== undefined && pay.settled ? `${pay.paid_periods} / ${c.billable_periods}` : undefined],
    // Why it ended before it ran, in the node's words ("cancelled by the client", ...).
    ['Ended before it ran', pay.ended],
    ['Verified periods', verified || 'none reported yet'],
    ['Paid to the worker', pay.worker && amount(pay, 'worker')],
    ['Paid to verifiers', pay.verifiers_total && amount(pay, 'verifiers_total')],
    ['Refund to you', pay.client_refund && el('span', { id: 'refund' }, amount(pay, 'client_refund'))],
    // A failed period's slashed stake (and a fee) is burned: nobody receives it.
    ['Stake burned', pay.slashed && pay.slashed !== '0' ? amount(pay, 'slashed') : undefined],
    ['Accounts closed', pay.closed === undefined ? undefined : pay.closed ? (pay.balanced ? 'yes, balanced' : 'yes') : 'not yet'],
    ['Your transactions', (d.transactions ?? []).length ? el('ul', { class: 'txs' }, ...d.transactions.map((t) =>
      el('li', {}, `${t.action} (${t.status}): `, el('code', { title: t.hash }, t.hash)))) : undefined],
  ]);
  // Stop once: a stopping agreement (the stop is on chain, the settlement to come) has no Stop.
  $('#stop').hidden = !(d.role === 'client' && OPEN.has(c.status) && d.state !== 'stopping' && d.state !== 'done');
}

/** This node's agreements: the stream's snapshot while it keeps coming (every second), else asked for. */
async function refreshAgreements({ fresh = false } = {}) {
  if (fresh || Date.now() - state.streamedAt > 3000) state.agreements = await api('GET', '/api/agreements');
  renderAgreementList();
}

function renderAgreementList() {
  const mine = state.agreements.filter((a) => a.role === 'client').slice().reverse();
  $('#client-agreements').replaceChildren(...(mine.length ? mine.map((a) => el('li', {},
    el('button', { type: 'button', class: 'link', 'aria-pressed': String(a.id === state.selected),
      onclick: () => { state.selected = a.id; refreshSelected().catch((e) => showError(e.message)); } },
    `#${a.id} ${a.image ?? ''} — ${a.state_label ?? a.state}`))) : [el('li', { class: 'muted' }, 'None yet.')]));
}

async function refreshSelected() {
  if (state.selected === null) return;
  const d = await detail(state.selected);
  renderAgreement(d);
  const listed = state.agreements.find((a) => a.id === d.id);
  if (listed && listed.state !== d.state) {
    listed.state = d.state;
    listed.state_label = d.state_label;
    renderAgreementList();
  }
}

async function refreshClient() {
  await refreshAgreements();
  await refreshSelected();
}

// ---------------------------------------------------------------- worker

/**
 * The verification history as an SVG timeline: one row per agreement ({id, role, periods}), one
 * box per period, each 'ok', 'failed' or 'pending'.
 */
function timeline(rows) {
  const NS = 'http://www.w3.org/2000/svg';
  const box = 14, gap = 3, label = 120, rowH = box + 8;
  const periods = Math.max(1, ...rows.map((r) => r.periods.length));
  const svg = document.createElementNS(NS, 'svg');
  const width = label + Math.max(periods * (box + gap), 320) + 10;
  const height = Math.max(1, rows.length) * rowH + 24;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  const count = (r, k) => r.periods.filter((p) => p === k).length;
  const summary = rows.map((r) => `agreement ${r.id} (${r.role}): ${count(r, 'ok')} of ${r.periods.length} periods verified, ${count(r, 'failed')} failed`).join('; ');
  svg.setAttribute('aria-label', `Verification history: ${summary || 'no work yet'}`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    add('text', { x: 0, y: y + box - 2, class: 'tl-label' }, `#${r.id} (${r.role})`);
    r.periods.forEach((kind, p) => {
      const rect = add('rect', { x: label + p * (box + gap), y, width: box, height: box, rx: 2, class: `tl-${kind}`, 'data-period': p + 1 });
      const t = document.createElementNS(NS, 'title');
      t.textContent = `agreement ${r.id}, period ${p + 1}: ${kind}`;
      rect.append(t);
    });
  });
  const ly = Math.max(1, rows.length) * rowH + 16;
  [['ok', 'verified'], ['failed', 'failed'], ['pending', 'not reported']].forEach(([k, text], i) => {
    add('rect', { x: label + i * 100, y: ly - 10, width: 10, height: 10, class: `tl-${k}` });
    add('text', { x: label + i * 100 + 14, y: ly, class: 'tl-label' }, text);
  });
  return svg;
}

/**
 * A worker's periods from the verifiers' reports on chain, period by period: ok when most reports
 * of it say ok, failed when a report says failed and most do not say ok, pending when none reported.
 */
function workPeriods(d) {
  const vs = d.payments?.verifiers ?? [];
  if (d.chain?.status === 'ended') return [];  // it never ran: no period to show
  const total = Math.max(d.chain?.billable_periods ?? 0, ...vs.map((v) => (v.periods ?? []).length));
  return Array.from({ length: total }, (_, p) => {
    const marks = vs.map((v) => v.periods?.[p]).filter((m) => m);
    const ok = marks.filter((m) => m === 'ok').length;
    if (!marks.length) return 'pending';
    return ok * 2 > marks.length ? 'ok' : 'failed';
  });
}

/** A verifier's periods from its own probes: ok when every probe of the period passed. */
function probePeriods(d) {
  const total = Math.max(d.chain?.billable_periods ?? 0, ...(d.probes ?? []).map((p) => p.period + 1));
  return Array.from({ length: total }, (_, p) => {
    const mine = (d.probes ?? []).filter((x) => x.period === p);
    return !mine.length ? 'pending' : mine.every((x) => x.ok) ? 'ok' : 'failed';
  });
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Verifier `id`'s report on an agreement (from the contract's events), if it made one. */
const reportOf = (d, id) => (d.payments?.verifiers ?? []).find((v) => v.verifier_id === id);

/** What verifier `id` earned on the agreements in `list`. */
const rewardsOf = (list, id) => sumWei(list.map((d) => reportOf(d, id)?.reward ?? '0'));

/** How parties reach this worker (port mapping on its router), and why not when nobody can. */
function reachabilityFacts(r) {
  if (!r) return [];
  const mapped = (r.mappings ?? []).map((m) => `${m.purpose} ${m.internal_port} → ${m.external_address}:${m.external_port}`);
  return [
    ['Reachable', r.reachable ? `yes (${r.state}), at ${r.announced_host}` : `no: ${r.reason}`],
    ...(mapped.length ? [['Port mappings', mapped.join(', ')]] : []),
    ...(r.unreached ? [['Not reached', r.unreached]] : []),
  ];
}

async function refreshWorker() {
  const w = state.status.worker;
  $('#worker-none').hidden = !!w;
  $('#worker-panel').hidden = !w;
  if (!w) return;
  facts($('#worker-facts'), [
    ['Worker', `#${w.id} (${w.status})`],
    ['Price per second', amount(w, 'price_per_second')],
    ['CPU', `${w.cpu_millicores} millicores`],
    ['Memory', `${w.memory_mb} MB`],
    ['Longest agreement', `${w.max_duration} s`],
    ['Stake', amount(w, 'stake')],
    // Protocol v2 locks part of the stake for each open agreement (no count of them on chain).
    ['Locked by open agreements', amount(w, 'locked')],
    ['Reputation', `${w.verified_periods} verified, ${w.failed_periods} failed periods; ${w.completed_agreements} completed, ${w.failed_agreements} failed agreements`],
    ...reachabilityFacts(state.status.reachability),
  ]);
  // Only the action that fits the worker's status: Pause when active, Resume when paused.
  $('#worker-panel [data-action="pause"]').hidden = w.status !== 'active';
  $('#worker-panel [data-action="resume"]').hidden = w.status !== 'paused';
  const f = $('#offer-form').elements;
  if (!$('#offer-form').contains(document.activeElement) && !$('#offer-form').dataset.edited) {
    f.price.value = `${formatUnits(w.price_per_second, 9)} gwei`;
    f.cpu_millicores.value = w.cpu_millicores;
    f.memory_mb.value = w.memory_mb;
    f.max_duration.value = `${w.max_duration}s`;
  }
  await refreshAgreements();
  const [work, verifying] = await Promise.all([detailsOf('worker'), detailsOf('verifier')]);
  const earned = sumWei(work.map((d) => d.payments?.worker ?? '0'));
  const rewards = rewardsOf(verifying, w.id);
  const sums = await worded([earned, rewards]);
  $('#earnings').replaceChildren(shown(sums.total));
  $('#earnings-detail').textContent = `(${sums.amounts[0].text} for work in ${plural(work.length, 'agreement')}, paid into the stake, ${sums.amounts[1].text} as a verifier in ${plural(verifying.length, 'agreement')})`;
  const rows = [...work.map((d) => ({ id: d.id, role: 'work', periods: workPeriods(d) })),
    ...verifying.map((d) => ({ id: d.id, role: 'verifier', periods: probePeriods(d) }))].sort((a, b) => a.id - b.id);
  $('#timeline').replaceChildren(timeline(rows));
  $('#worker-agreements').replaceChildren(...work.map((d) => el('li', {},
    `#${d.id}: ${d.state_label ?? d.state}${d.chain ? ` (on chain: ${d.chain.status})` : ''}, earned `, d.payments ? amount(d.payments, 'worker') : 'nothing yet',
    d.resources ? el('span', { class: 'resources' },
      ` — ${mib(d.resources.memory_usage)} of ${mib(d.resources.memory_limit)} memory, ${d.resources.pids} processes`) : undefined,
    // The work's output from the moment its container runs: while the worker checks its own service
    // against the client's probe spec (checking_spec, before the paid clock starts) and after.
    WORKING.has(d.state) ? el('button', { type: 'button', class: 'logs-button', onclick: () => showLogs(d.id) }, `Logs of #${d.id}`) : undefined)));
}

function mib(bytes) {
  return `${(Number(bytes) / 1048576).toFixed(1)} MiB`;
}

/** The work's output (the logs route needs the token even to read). */
async function showLogs(id) {
  $('#work-logs').hidden = false;
  let text;
  try {
    text = (await send('GET', `/api/agreements/${id}/logs`)) || '(no output yet)';
  } catch (e) {
    text = e.message;  // in words, with where the token is when it was refused
  }
  $('#work-logs-title').textContent = `Output of agreement #${id}`;
  $('#work-logs-text').textContent = text;
}

function readOfferForm() {
  const f = $('#offer-form').elements;
  const change = {};
  if (f.price.value.trim()) change.price_per_second = parseAmount(f.price.value).toString();
  for (const k of ['cpu_millicores', 'memory_mb']) {
    const v = f[k].value.trim();
    if (!v) continue;
    if (!/^\d+$/.test(v)) throw new Error(`${k.replace('_', ' ')} must be a whole number`);
    change[k] = Number(v);
  }
  if (f.max_duration.value.trim()) change.max_duration = parseDuration(f.max_duration.value);
  return change;
}

// ---------------------------------------------------------------- verifier

async function refreshVerifier() {
  await refreshAgreements();
  const mine = state.status.worker?.id;
  const list = await detailsOf('verifier');
  // One row per period: its probes (how many passed, the last failure's reason) and what this
  // verifier reported of it on chain.
  const rows = list.flatMap((d) => {
    const reported = reportOf(d, mine)?.periods ?? [];
    const ended = CLOSED.has(d.chain?.status);
    const total = Math.max(reported.length, ...(d.probes ?? []).map((p) => p.period + 1), 0);
    return Array.from({ length: total }, (_, p) => {
      const probes = (d.probes ?? []).filter((x) => x.period === p);
      const passed = probes.filter((x) => x.ok).length;
      const failedOne = probes.filter((x) => !x.ok).pop();
      const mark = reported[p];
      const last = probes[probes.length - 1];
      return el('tr', {},
        el('td', {}, `#${d.id}`), el('td', {}, String(p + 1)),
        el('td', { class: probes.length && passed < probes.length ? 'bad' : undefined },
          probes.length ? `${passed} of ${probes.length} ok${failedOne ? `: ${failedOne.detail}` : ''}` : 'none'),
        el('td', { class: mark === 'ok' ? 'ok' : mark === 'failed' ? 'bad' : 'muted' }, mark ?? (ended ? 'not reported' : 'not yet')),
        el('td', {}, last ? new Date(last.at_ms).toLocaleTimeString() : '—'));
    });
  });
  fillTable($('#probes'), rows.reverse());
  const rewards = (await worded([rewardsOf(list, mine)])).total;
  $('#verifier-rewards').replaceChildren(shown(rewards), ` in ${plural(list.length, 'agreement')}`);
  $('#verifier-reports').replaceChildren(...(list.length ? list.map((d) => {
    const r = reportOf(d, mine);
    const finished = CLOSED.has(d.chain?.status) || d.state === 'done';
    const penalty = r?.penalty && r.penalty !== '0' ? [`, penalty `, amount(r, 'penalty'), ` for ${plural(r.silent_periods ?? 0, 'silent period')}`] : [];
    return el('li', {}, `#${d.id} (${finished ? 'finished' : d.state_label ?? d.state}): `, r ? `${plural(r.periods_reported, 'period')} reported, ${r.periods_ok} ok, reward ` : 'nothing reported yet',
      r ? amount(r, 'reward') : undefined, ...penalty);
  }) : [el('li', { class: 'muted' }, 'None yet.')]));
}

// ---------------------------------------------------------------- views and wiring

const VIEWS = { market: refreshMarket, client: refreshClient, worker: refreshWorker, verifier: refreshVerifier };
let refreshing = false;

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    await refreshStatus();  // the header's, and the worker and verifier views'
    await VIEWS[state.view]();
    showError('', 'refresh');
  } catch (e) {
    showError(e.message, 'refresh');
  } finally {
    refreshing = false;
  }
}

function show(view, focus) {
  state.view = VIEWS[view] ? view : 'market';
  for (const name of Object.keys(VIEWS)) $(`#view-${name}`).hidden = name !== state.view;
  for (const a of document.querySelectorAll('#tabs a'))
    if (a.dataset.view === state.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  if (focus) $(`#h-${state.view}`).focus();
  refresh();
}

function wire() {
  for (const h of document.querySelectorAll('main h2')) h.tabIndex = -1;
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('#token').value.trim();
    if (!t) return notice('Enter the token first.');
    sessionStorage.setItem(TOKEN_KEY, t);
    $('#token').value = '';
    notice('Token kept for this browser tab.');
  });
  $('#token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    notice('No token: you can look, not change anything.');
  });
  notice(sessionStorage.getItem(TOKEN_KEY) ? 'Token kept for this browser tab.' : 'No token: you can look, not change anything.');

  $('#run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    act(e.submitter ?? $('#run-form button'), 'Asking for the cost…', showQuote);
  });
  // An error stays until the terms change (or the next action).
  $('#run-form').addEventListener('input', () => { hideQuote(); showError(''); });
  $('#run-upload').addEventListener('change', (e) => uploadArchive(e.currentTarget.files[0]).catch((err) => showError(err.message)));
  $('#quote-cancel').addEventListener('click', () => { hideQuote(); $('#run-form').elements.image.focus(); });
  $('#pay').addEventListener('click', (e) => act(e.currentTarget, 'Paying…', pay));
  $('#stop').addEventListener('click', (e) => act(e.currentTarget, 'Stopping…', async () => {
    renderAgreement(await api('POST', `/api/agreements/${state.selected}/stop`));
    notice(`Agreement #${state.selected} stopped; the refund follows when it settles.`);
  }));

  $('#offer-form').addEventListener('input', () => { $('#offer-form').dataset.edited = '1'; });
  $('#offer-form').addEventListener('submit', (e) => {
    e.preventDefault();
    act(e.submitter ?? $('#offer-form button'), 'Saving…', async () => {
      showStatus(await api('POST', '/api/worker', readOfferForm()));
      delete $('#offer-form').dataset.edited;
      notice('Offer saved on chain.');
      await refreshWorker();
    });
  });
  for (const b of document.querySelectorAll('#worker-panel [data-action]'))
    b.addEventListener('click', () => act(b, 'Sending…', async () => {
      showStatus(await api('POST', `/api/worker/${b.dataset.action}`));
      notice(`Done: ${b.dataset.action}.`);
      await refreshWorker();
    }));

  // Live list of this node's agreements; while it does not come, refreshAgreements() asks for it.
  if ('EventSource' in window) {
    const events = new EventSource('/api/events');
    events.addEventListener('agreements', (e) => {
      state.agreements = JSON.parse(e.data);
      state.streamedAt = Date.now();
      if (state.view === 'client') renderAgreementList();
    });
  }

  window.addEventListener('hashchange', () => show(location.hash.slice(1), true));
  show(location.hash.slice(1) || 'market', false);
  setInterval(refresh, 1500);
}

wire();
