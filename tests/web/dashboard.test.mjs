// The node's HTTP API and its web dashboard against a real local market (market.mjs): every route
// of src/zeppelin/node/api.hpp with its refusals (no token, wrong token, bad input), then a person
// in Debian's headless Chromium (playwright-core) who buys a service through the client panel,
// watches it run and get verified, opens it, stops it, sees the refund, and sees the worker's
// earnings on the worker's own dashboard; then a work paused for a period, which the worker's
// timeline and the verifier's view show failed, in red; last, the devnet replaced by a fresh chain,
// which the client's dashboard names in words. Screenshots go to build/web-screenshots/ (or
// $WEB_SCREENSHOTS). Skipped without ZEPPELIN_DOCKER_HOST (scripts/test.sh provides it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { Market, ROOT, WORKERS, makeTestImage, until } from './market.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.WEB_SCREENSHOTS ?? join(ROOT, 'build', 'web-screenshots');
const WRONG = 'f'.repeat(64);
// An amount for people as the CLI prints it ("594 gwei", "9.9993 ETH"); and what must never show:
// a bare run of 11 or more digits (full wei, or an exact ETH fraction).
const READABLE = /\b\d{1,9}(\.\d{1,8})? (wei|gwei|ETH)\b/;
const LONG_DIGITS = /\b\d{11,}\b/;
/** Pauses or unpauses a container through the engine's API (ZEPPELIN_DOCKER_HOST, a unix socket). */
async function engine(action, container) {
  const socket = process.env.ZEPPELIN_DOCKER_HOST.replace(/^unix:\/\//, '');
  await promisify(execFile)('curl', ['-sf', '-X', 'POST', '--unix-socket', socket, `http://d/v1.41/containers/${container}/${action}`]);
}
const skip = process.env.ZEPPELIN_DOCKER_HOST ? false : 'needs ZEPPELIN_DOCKER_HOST (eval "$(bash scripts/services.sh start)")';

/** A 4xx answer with an {"error": "..."} in words. */
function refused(r, status, pattern) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `no {"error": ...} in ${r.text}`);
  assert.ok(r.json.error.length > 5, r.text);
  if (pattern) assert.match(r.json.error, pattern);
}

describe('node API and dashboard on a real market', { skip }, () => {
  let market;
  let tmp;
  let image;
  let run;  // a valid POST /api/agreements body

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'zeppelin-web-image-'));
    const [m, img] = await Promise.all([Market.up(), makeTestImage(tmp)]);
    market = m;
    image = img;
    run = { image, duration: 30, period: 10, verifiers: 3, max_price_per_second: '2000000000', probe: 'http:/', port: 8080 };
  }, { timeout: 240_000 });

  after(async () => {
    const keep = process.env.ZEPPELIN_WEB_KEEP === '1';
    if (market) await market.down({ keep });
    if (keep && market) console.log(`# market files kept in ${market.home}`);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, { timeout: 120_000 });

  describe('API', () => {
    it('GET /api/status describes the node and its worker registration', async () => {
      const c = await market.client.get('/api/status');
      assert.match(c.address, /^0x[0-9a-fA-F]{40}$/);
      assert.equal(c.chain_id, 31337);
      assert.equal(c.worker, undefined);
      assert.match(c.balance, /^\d+$/);
      // Beside each amount in exact wei, the same amount worded by the CLI's formatter.
      assert.match(c.balance_text, /^\d+(\.\d+)? ETH$/);
      assert.doesNotMatch(c.balance_text, LONG_DIGITS);
      const w = await market.workers[0].get('/api/status');
      assert.ok(w.worker.id >= 1);
      assert.equal(w.worker.status, 'active');
      assert.equal(w.worker.price_per_second, '1000000000');
      assert.equal(w.worker.price_per_second_text, '1 gwei');
    });

    it('GET /api/market/workers and /api/market/agreements read the chain', async () => {
      const workers = await market.client.get('/api/market/workers');
      assert.equal(workers.length, WORKERS);
      for (const w of workers) {
        assert.match(w.stake, /^\d+$/);
        assert.match(w.stake_text, READABLE);
        assert.equal(typeof w.verified_periods, 'number');
      }
      assert.ok(Array.isArray(await market.client.get('/api/market/agreements')));
    });

    it('GET /api/quote prices the escrow, and refuses bad terms', async () => {
      const q = await market.client.get('/api/quote?max_price_per_second=2000000000&duration=30&period=10&verifiers=3');
      assert.match(q.deposit, /^[1-9]\d*$/);
      assert.ok(BigInt(q.deposit) >= 2_000_000_000n * 30n);
      assert.match(q.deposit_text, /^\d+(\.\d+)? gwei$/);
      refused(await market.client.request('GET', '/api/quote?duration=30&period=10&verifiers=3'), 400, /max_price_per_second/);
      refused(await market.client.request('GET', '/api/quote?max_price_per_second=lots&duration=30&period=10&verifiers=3'), 400);
      refused(await market.client.request('GET', '/api/quote?max_price_per_second=1&duration=30&period=10&verifiers=300'), 400, /range/);
    });

    it('POST /api/agreements/check says, before anything is sent, what the market refuses and why', async () => {
      const c = market.client;
      const before = (await c.get('/api/market/agreements')).length;
      const ok = await c.request('POST', '/api/agreements/check', { body: run });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.ok, true, ok.text);
      assert.deepEqual(ok.json.refusals, []);
      assert.equal(ok.json.deposit, (await c.get('/api/quote?max_price_per_second=2000000000&duration=30&period=10&verifiers=3')).deposit);
      assert.equal(ok.json.cheapest.price_per_second, '1000000000');
      assert.equal(ok.json.cheapest.price_per_second_text, '1 gwei');
      assert.equal(ok.json.max_price_per_second_text, '2 gwei');
      assert.equal(ok.json.deposit_text, (await c.get('/api/quote?max_price_per_second=2000000000&duration=30&period=10&verifiers=3')).deposit_text);
      assert.equal(ok.json.active_workers, WORKERS);
      const bad = await c.request('POST', '/api/agreements/check', {
        body: { ...run, max_price_per_second: '500000000', duration: 35, port: 81 },
      });
      assert.equal(bad.status, 200, bad.text);
      assert.equal(bad.json.ok, false);
      assert.deepEqual(bad.json.refusals.map((r) => r.code), ['period_does_not_divide', 'port_not_exposed']);
      const market2 = await c.request('POST', '/api/agreements/check', { body: { ...run, max_price_per_second: '500000000', duration: 60, verifiers: 5 } });
      assert.deepEqual(market2.json.refusals.map((r) => r.code), ['price_below_market', 'not_enough_workers']);
      assert.match(market2.json.refusals[1].message, /the market has 4: ask for at most 3 verifiers/);
      // Protocol v2 takes an odd number of verifiers, 3 to 5, refused before anything is sent.
      const even = await c.request('POST', '/api/agreements/check', { body: { ...run, verifiers: 2 } });
      assert.deepEqual(even.json.refusals.map((r) => r.code), ['verifiers_out_of_range'], even.text);
      const four = await c.request('POST', '/api/agreements/check', { body: { ...run, verifiers: 4 } });
      assert.match(four.json.refusals[0].message, /odd number: ask for 5/, four.text);
      const missing = await c.request('POST', '/api/agreements/check', { body: { ...run, image: join(tmp, 'missing.tar') } });
      assert.equal(missing.json.refusals[0].code, 'image_unusable');
      assert.match(missing.json.refusals[0].message, /no image archive at .*missing\.tar/);
      refused(await c.request('POST', '/api/agreements/check', { body: run, token: null }), 401);
      // The purchase itself refuses with the same words, and nothing was bought.
      refused(await c.request('POST', '/api/agreements', { body: { ...run, max_price_per_second: '500000000', duration: 60 } }), 400, /the cheapest fitting worker/);
      // Too little for the verifiers (protocol v2's minimum pay per verifier, 1 gwei on the devnet), in numbers.
      const small = await c.request('POST', '/api/agreements/check', { body: { ...run, max_price_per_second: '500000000' } });
      assert.match(small.json.refusals[0]?.message ?? '', /each verifier would earn 750000000 wei in all, below the contract's minimum of 1 gwei/, small.text);
      assert.equal((await c.get('/api/market/agreements')).length, before);
    });

    it('POST /api/agreements refuses requests without the token, with a wrong one, and bad input', async () => {
      const c = market.client;
      refused(await c.request('POST', '/api/agreements', { body: run, token: null }), 401);
      refused(await c.request('POST', '/api/agreements', { body: run, token: WRONG }), 401);
      refused(await c.request('POST', '/api/agreements', { body: 'not json', raw: true }), 400, /JSON/);
      refused(await c.request('POST', '/api/agreements', { body: {} }), 400, /image/);
      refused(await c.request('POST', '/api/agreements', { body: { ...run, max_price_per_second: 'lots' } }), 400);
      refused(await c.request('POST', '/api/agreements', { body: { ...run, duration: -5 } }), 400, /duration/);
      refused(await c.request('POST', '/api/agreements', { body: { ...run, port: 9999 } }), 400, /port 9999/);
      const missing = await c.request('POST', '/api/agreements', { body: { ...run, image: join(tmp, 'missing-image') } });
      assert.ok(missing.status >= 400, missing.text);  // 4xx or the engine's 502: refused in words either way
      assert.match(missing.json.error, /missing-image/);
    });

    it('POST /api/images keeps a checked archive and refuses anything else in words', async () => {
      const c = market.client;
      const bytes = readFileSync(image);
      refused(await c.request('POST', '/api/images', { body: bytes, raw: true, token: null }), 401);
      refused(await c.request('POST', '/api/images', { body: '', raw: true }), 400, /image archive/);
      refused(await c.request('POST', '/api/images', { body: 'definitely not a tar archive', raw: true }), 400, /not an acceptable image archive/);
      const ok = await c.request('POST', '/api/images', { body: bytes, raw: true });
      assert.equal(ok.status, 201, ok.text);
      assert.match(ok.json.config_digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(ok.json.bytes, bytes.length);
      assert.ok(existsSync(ok.json.path), ok.json.path);
      // Kept under the uploader's own file name (reduced to a safe base name).
      const named = await c.request('POST', `/api/images?name=${encodeURIComponent('../my web.tar')}`, { body: bytes, raw: true });
      assert.equal(named.status, 201, named.text);
      assert.equal(named.json.name, 'myweb.tar');
      assert.ok(named.json.path.endsWith('/myweb.tar'), named.json.path);
    });

    it('unknown agreements: 404; a malformed id: 400', async () => {
      refused(await market.client.request('GET', '/api/agreements/999999'), 404);
      refused(await market.client.request('POST', '/api/agreements/999999/stop'), 404);
      refused(await market.client.request('GET', '/api/agreements/abc'), 400, /not a number/);
      refused(await market.client.request('POST', '/api/agreements/1/stop', { token: null }), 401);
      refused(await market.client.request('GET', '/api/no-such-route'), 404);
    });

    it('POST /api/agreements buys, GET lists it, /logs needs the token, stop cancels it', async () => {
      const c = market.client;
      const bought = await c.request('POST', '/api/agreements', { body: { ...run, probe: 'tcp' } });
      assert.equal(bought.status, 201, bought.text);
      const { id } = bought.json;
      assert.ok(id >= 1);
      assert.match(bought.json.deposit, /^[1-9]\d*$/);
      assert.match(bought.json.deposit_text, READABLE);
      assert.ok((await c.get('/api/agreements')).some((a) => a.id === id && a.role === 'client'));
      const one = await c.get(`/api/agreements/${id}`);
      // For pollers: state, chain view and progress, without the payments' log scan or the journal.
      const brief = await c.get(`/api/agreements/${id}?brief=1`);
      // While it is open, the chain holds the whole deposit in escrow (protocol v2's view: no deposit field).
      assert.equal(brief.chain.escrow, bought.json.deposit);
      assert.ok(['purchased', 'assigned', 'accepted'].includes(brief.chain.status), brief.chain.status);
      assert.ok(brief.local && !('payments' in brief) && !('transactions' in brief), JSON.stringify(brief));
      assert.ok('payments' in one && 'transactions' in one, JSON.stringify(one));
      assert.equal(one.role, 'client');
      assert.equal(one.payments.deposit, bought.json.deposit);
      assert.equal(one.local.secret, undefined);
      refused(await c.request('GET', `/api/agreements/${id}/logs`, { token: null }), 401);
      refused(await c.request('GET', `/api/agreements/${id}/logs`, { token: WRONG }), 401);
      const logs = await c.request('GET', `/api/agreements/${id}/logs`);
      assert.equal(logs.status, 200);
      assert.match(logs.type, /^text\/plain/);
      refused(await c.request('POST', `/api/agreements/${id}/stop`, { token: WRONG }), 401);
      const stopped = await c.request('POST', `/api/agreements/${id}/stop`);
      assert.equal(stopped.status, 200, stopped.text);
      assert.equal(stopped.json.id, id);
      // Stopped before it ran: a cancellation ends it (v2's "ended", with the reason), the deposit
      // back to the client but for the cancel fee.
      await until(`agreement ${id} to end`, async () => (await c.get(`/api/agreements/${id}`)).chain.status === 'ended');
      const ended = (await c.get(`/api/agreements/${id}`)).payments;
      assert.equal(ended.ended, 'cancelled by the client', JSON.stringify(ended));
      assert.equal(ended.balanced, true, JSON.stringify(ended));
      refused(await c.request('POST', `/api/agreements/${id}/stop`), 400, /already ended/);
    });

    it('POST /api/worker changes the offer, refusing bad input and a client-only node', async () => {
      const w = market.workers[WORKERS - 1];
      refused(await w.request('POST', '/api/worker', { body: { memory_mb: 4000 }, token: null }), 401);
      refused(await w.request('POST', '/api/worker', { body: { memory_mb: 4000 }, token: WRONG }), 401);
      refused(await w.request('POST', '/api/worker', { body: '[1, 2]', raw: true }), 400, /JSON object/);
      refused(await w.request('POST', '/api/worker', { body: { price_per_second: 'abc' } }), 400, /price_per_second/);
      refused(await w.request('POST', '/api/worker', { body: { price_per_second: '0' } }), 400, /positive/);
      refused(await w.request('POST', '/api/worker', { body: { price_per_second: 5 } }), 400, /string/);
      refused(await w.request('POST', '/api/worker', { body: { memory_mb: -1 } }), 400, /memory_mb/);
      refused(await market.client.request('POST', '/api/worker', { body: { memory_mb: 4000 } }), 400, /not a worker/);
      const changed = await w.request('POST', '/api/worker', { body: { memory_mb: 4000 } });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.json.worker.memory_mb, 4000);
      assert.equal((await market.client.get('/api/market/workers')).find((x) => x.id === changed.json.worker.id).memory_mb, 4000);
      assert.equal((await w.request('POST', '/api/worker', { body: { memory_mb: 4096 } })).json.worker.memory_mb, 4096);
    });

    it('POST /api/worker/{action} pauses and resumes; refuses unknown actions and missing tokens', async () => {
      const w = market.workers[WORKERS - 1];
      refused(await w.request('POST', '/api/worker/pause', { token: null }), 401);
      refused(await w.request('POST', '/api/worker/pause', { token: WRONG }), 401);
      refused(await w.request('POST', '/api/worker/fly'), 400, /unknown worker action/);
      refused(await market.client.request('POST', '/api/worker/pause'), 400, /not a worker/);
      const paused = await w.request('POST', '/api/worker/pause');
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.json.worker.status, 'paused');
      const resumed = await w.request('POST', '/api/worker/resume');
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal(resumed.json.worker.status, 'active');
      const withdraw = await w.request('POST', '/api/worker/withdraw');  // still registered: the contract refuses
      assert.ok(withdraw.status >= 400 && withdraw.status < 500, withdraw.text);
      assert.equal(typeof withdraw.json.error, 'string');
    });

    it('GET /api/amounts words the sums the dashboard makes, exactly', async () => {
      const r = await market.client.get('/api/amounts?wei=594000000000,1000000000000000000');
      assert.deepEqual(r.amounts, [{ wei: '594000000000', text: '594 gwei' }, { wei: '1000000000000000000', text: '1 ETH' }]);
      assert.deepEqual(r.total, { wei: '1000000594000000000', text: '1 ETH' });
      refused(await market.client.request('GET', '/api/amounts'), 400, /'wei' is required/);
      refused(await market.client.request('GET', '/api/amounts?wei=1.5'), 400, /whole numbers of wei/);
    });

    it('GET /api/events streams agreements snapshots; /metrics and the static files are served', async () => {
      const ctl = new AbortController();
      const res = await fetch(`${market.client.base}/api/events`, { signal: ctl.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/event-stream/);
      const reader = res.body.getReader();
      let text = '';
      while (!text.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ctl.abort();
      const event = text.split('\n\n')[0];
      assert.match(event, /^event: agreements\n/);
      const data = JSON.parse(event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
      assert.ok(Array.isArray(data) && data.some((a) => a.role === 'client'));

      const metrics = await market.client.request('GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^# (HELP|TYPE) zeppelin_/m);
      const page = await market.client.request('GET', '/');
      assert.equal(page.status, 200);
      assert.match(page.type, /^text\/html/);
      for (const f of ['/app.js', '/units.mjs']) assert.match((await market.client.request('GET', f)).type, /^text\/javascript/);
    });
  });

  describe('dashboard in Chromium', () => {
    let browser;
    const shot = async (page, name) => {
      const file = join(SHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`# screenshot: ${file}`);
    };

    before(async () => {
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium, or set CHROMIUM)`);
      mkdirSync(SHOTS, { recursive: true });
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
      });
    }, { timeout: 60_000 });

    after(async () => {
      await browser?.close();
    });

    it('a client buys, watches, opens, stops and is refunded; the worker sees its earnings', { timeout: 300_000 }, async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(30_000);
      const c = market.client;

      // Market view: the four workers, read from the chain.
      await page.goto(`${c.base}/#market`);
      await until('four workers in the market view', async () => (await page.locator('#workers tbody tr').count()) === WORKERS);
      await shot(page, 'market');

      // The token, once.
      await page.getByLabel('API token').fill(c.token);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByText('Token kept for this browser tab.').waitFor();

      // Client panel: terms, the cost before paying.
      await page.getByRole('link', { name: 'Client' }).click();
      const form = page.locator('#run-form');
      // The image is uploaded from the browser (checked by the node like any archive).
      await form.getByLabel('Or upload an archive').setInputFiles(image);
      await until('the upload', async () => (await form.getByLabel('Image', { exact: true }).inputValue()).endsWith('.tar'));
      // Named by its own file name, not the node's copy's path.
      const imageName = image.split('/').pop();
      assert.match(await page.locator('#run-upload-state').textContent(), new RegExp(`uploaded ${imageName.replace('.', '\\.')}: sha256:`));
      await form.getByLabel('Service port', { exact: true }).fill('8080');
      await form.getByLabel('Duration', { exact: true }).fill('60s');
      await form.getByLabel('Verification period', { exact: true }).fill('10s');
      assert.equal(await form.getByLabel('Verifiers', { exact: true }).inputValue(), '3', 'protocol v2\'s default: 3 verifiers');
      await form.getByLabel('Highest price per second', { exact: true }).fill('2gwei');
      await form.getByLabel('Probe', { exact: true }).fill('http:/');
      // Refusals before anything is sent: the node's checks against the market, in words and
      // numbers; an error stays (past the 1.5 s refresh) until the terms change.
      const alert = page.locator('#error');
      const refusedWith = async (label, value, pattern, name) => {
        const field = form.getByLabel(label, { exact: true });
        const before = await field.inputValue();
        await field.fill(value);
        await form.getByRole('button', { name: 'Show the cost' }).click();
        await alert.getByText(pattern).waitFor();
        await page.waitForTimeout(2500);
        assert.ok(await alert.isVisible(), `the error for ${label} = ${value} went away by itself`);
        assert.ok(await page.locator('#quote').isHidden());
        if (name) await shot(page, name);
        await field.fill(before);
        await alert.waitFor({ state: 'hidden' });
      };
      await refusedWith('Highest price per second', '0.5gwei', /the cheapest fitting worker \(worker \d+\) asks 1 gwei\/s, above your highest price/,
        'client-refused');
      await refusedWith('Duration', '0', /the duration is 0/);
      await refusedWith('Duration', '45s', /the duration, 45 s, is not a whole number of 10 s periods: use a duration of 50 s or 40 s/);
      await refusedWith('Verifiers', '5', /1 worker and 5 verifiers need 6 active workers other than yours; the market has 4: ask for at most 3 verifiers/);
      await refusedWith('Verifiers', '1', /1 verifier asked for; the contract takes from 3 to 5/);
      await refusedWith('Service port', '81', /the image does not expose port 81; it exposes 8080/);
      await form.getByRole('button', { name: 'Show the cost' }).click();
      const quote = await c.get('/api/quote?max_price_per_second=2000000000&duration=60&period=10&verifiers=3');
      await page.locator('#quote-deposit').getByText(quote.deposit_text, { exact: true }).waitFor();
      assert.equal(await page.locator('#quote-deposit .amount').getAttribute('title'), `${quote.deposit} wei`, 'the exact wei on hover');
      assert.match(await page.locator('#quote-wei').textContent(), /the cheapest of 4 eligible workers asks 1 gwei\/s/);
      assert.doesNotMatch(await page.locator('#quote').innerText(), LONG_DIGITS);
      await shot(page, 'client-quote');

      // Pay; follow the agreement to running (the verifiers report once the batch is over: after the stop).
      await page.getByRole('button', { name: 'Pay and start' }).click();
      const title = page.locator('#agreement-title');
      await title.waitFor({ state: 'visible', timeout: 120_000 });
      const id = Number(/#(\d+)/.exec(await title.textContent())[1]);
      await page.locator('#client-agreements').getByRole('button', { name: new RegExp(`^#${id} ${imageName.replace('.', '\\.')} `) }).waitFor();
      const current = page.locator('#agreement-steps [aria-current="step"]');
      await until('the agreement to run', async () => (await current.textContent()) === 'running', { timeout: 150_000 });

      // The service link works, from the page.
      const link = page.locator('#service-link');
      const url = await link.getAttribute('href');
      const service = await browser.newPage();
      await service.goto(url);
      await service.getByRole('heading', { name: 'zeppelin test page' }).waitFor();
      await service.close();
      await shot(page, 'client-running');

      // The worker that runs it shows the work's resource use and its output (the token is needed to read it).
      {
        const wnode = await market.workerNode((await c.get(`/api/agreements/${id}`)).chain.worker_id);
        const wp = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        // Without the event stream (a proxy that holds it back, say) the page asks for the list itself.
        await wp.route('**/api/events', (route) => route.abort());
        await wp.goto(`${wnode.base}/#worker`);
        await wp.getByLabel('API token').fill(wnode.token);
        await wp.getByRole('button', { name: 'Use token' }).click();
        await wp.locator('#worker-agreements .resources').first().getByText(/MiB of .* memory/).waitFor({ timeout: 30_000 });
        await wp.getByRole('button', { name: `Logs of #${id}` }).click();
        await until('the work\'s output', async () => (await wp.locator('#work-logs-text').textContent()) !== '');
        assert.doesNotMatch(await wp.locator('#work-logs-text').textContent(), /refused/);
        await shot(wp, 'worker-running');
        await wp.close();
      }

      // Stop it early: "stopping" (no Stop button any more) until the verifiers reported the periods
      // begun and it settles; the refund shows once it settled.
      await page.getByRole('button', { name: 'Stop' }).click();
      await page.locator('#stop').waitFor({ state: 'hidden' });
      assert.match(await title.textContent(), /: (stopping|done)/);
      assert.match((await c.get(`/api/agreements/${id}`)).state, /^(stopping|done)$/);
      await until('the refund', async () => {
        const d = await c.get(`/api/agreements/${id}`);
        return d.payments?.client_refund !== '0' && d.payments?.client_refund;
      }, { timeout: 150_000 });
      const refund = (await c.get(`/api/agreements/${id}`)).payments.client_refund_text;
      await page.locator('#refund').getByText(refund, { exact: true }).waitFor({ timeout: 30_000 });
      await until('the final step', async () => (await current.textContent()) === 'done', { timeout: 30_000 });
      // Every transaction the client's node sent for it is listed by hash (buy, stop; the spec travels
      // with the image and the refund comes back in the worker's settlement: no post, no withdraw).
      let txs;
      await until('the client\'s transactions', async () => {
        txs = (await c.get(`/api/agreements/${id}`)).transactions;
        return ['buy', 'stop'].every((a) => txs.some((t) => t.action === a && t.status === 'mined'));
      }, { timeout: 60_000 });
      assert.ok(!txs.some((t) => t.action === 'withdraw'), `no withdraw needed: ${JSON.stringify(txs)}`);
      await page.locator('.txs code', { hasText: txs.find((t) => t.action === 'stop').hash }).waitFor({ timeout: 30_000 });
      // The verifiers' reports came in: verified periods, and the accounts closed to the wei.
      const settledPay = (await c.get(`/api/agreements/${id}`)).payments;
      assert.equal(settledPay.balanced, true, JSON.stringify(settledPay));
      assert.equal(settledPay.verifiers.length, 3, JSON.stringify(settledPay));
      assert.ok(settledPay.verifiers.some((v) => v.periods_ok > 0), JSON.stringify(settledPay));
      await page.locator('#agreement-facts').getByText('yes, balanced', { exact: true }).waitFor({ timeout: 30_000 });
      assert.doesNotMatch(await page.locator('#agreement').textContent(), /undefined|NaN/);
      await shot(page, 'client-stopped');

      // A phone-width look at the same panel.
      await page.setViewportSize({ width: 390, height: 844 });
      await shot(page, 'client-phone');

      // The worker that ran it: earnings on its own dashboard; a verifier: its probes.
      const chain = (await c.get(`/api/agreements/${id}`)).chain;
      const worker = await market.workerNode(chain.worker_id);
      // Its pay went into its stake at the settlement.
      await until('the worker\'s pay', async () => (await worker.get(`/api/agreements/${id}`)).payments?.worker !== '0', { timeout: 90_000 });
      const earned = (await worker.get(`/api/agreements/${id}`)).payments.worker_text;
      const wpage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await wpage.goto(`${worker.base}/#worker`);
      // (With 4 workers and 3 verifiers each, every worker node may also have verified another agreement.)
      await wpage.locator('#earnings-detail').getByText(`(${earned} for work in`).waitFor({ timeout: 30_000 });
      await wpage.locator('#timeline svg rect[data-period].tl-ok').first().waitFor();
      // Period by period from the verifiers' reports: only the periods nobody reported are grey.
      const reports = (await worker.get(`/api/agreements/${id}`)).payments.verifiers;
      const marks = await wpage.evaluate((n) => [...document.querySelectorAll('#timeline svg rect[data-period]')]
        .filter((r) => r.querySelector('title')?.textContent.startsWith(`agreement ${n},`)).map((r) => r.getAttribute('class')), id);
      const unreported = marks.filter((_, p) => !reports.some((v) => v.periods?.[p])).length;
      assert.equal(marks.filter((m) => m === 'tl-pending').length, unreported, JSON.stringify({ marks, reports }));
      assert.ok(marks.includes('tl-ok'), JSON.stringify(marks));
      // Every fact shown is one the node gave (nothing v1 had and v2 has not).
      assert.doesNotMatch(await wpage.locator('#worker-facts').textContent(), /undefined|NaN/);
      // Pause or Resume, never both.
      assert.ok(await wpage.getByRole('button', { name: 'Pause' }).isVisible());
      assert.ok(await wpage.getByRole('button', { name: 'Resume' }).isHidden());
      await shot(wpage, 'worker');

      // Changing anything needs the token: refused in words without it, then the offer changes.
      await wpage.getByRole('button', { name: 'Pause' }).click();
      await wpage.getByRole('alert').getByText(/refused the request/).waitFor();
      await wpage.getByLabel('API token').fill(worker.token);
      await wpage.getByRole('button', { name: 'Use token' }).click();
      await wpage.locator('#offer-form').getByLabel('Memory (MB)', { exact: true }).fill('4000');
      await wpage.getByRole('button', { name: 'Save the offer' }).click();
      await wpage.getByText('Offer saved on chain.').waitFor({ timeout: 60_000 });
      await wpage.locator('#worker-facts').getByText('4000 MB', { exact: true }).waitFor();
      assert.equal((await worker.get('/api/status')).worker.memory_mb, 4000);

      // A verifier that judged a period (one that probed nothing before the stop abstained on all).
      const verifier = await market.workerNode(settledPay.verifiers.find((v) => v.periods_ok > 0).verifier_id);
      await wpage.goto(`${verifier.base}/#verifier`);
      // By period: what was probed and what was reported on chain.
      await wpage.locator('#probes tbody td[data-label="Reported"].ok').first().waitFor({ timeout: 30_000 });
      // A settled agreement is finished for its verifier too (not "verifying"), with its reward worded.
      await wpage.locator('#verifier-reports li', { hasText: new RegExp(`^#${id} \\(finished\\): .* reward \\d`) }).waitFor({ timeout: 30_000 });
      await shot(wpage, 'verifier');
      await wpage.close();

      // Every view at 1280 and 390 px, saved; at 390 px no view scrolls sideways. Amounts read as the
      // CLI prints them (the node's formatter), never as full wei digits.
      const views = [[c, 'market'], [c, 'client'], [worker, 'worker'], [verifier, 'verifier']];
      for (const width of [1280, 390]) {
        const vp = await browser.newPage({ viewport: { width, height: 844 } });
        for (const [node, view] of views) {
          await vp.goto(`${node.base}/#${view}`);
          await vp.locator(`#view-${view}`).waitFor();
          await vp.waitForTimeout(1800);  // one refresh: the tables filled
          await shot(vp, `${view}-${width}`);
          assert.doesNotMatch(await vp.locator(`#view-${view}`).textContent(), /undefined|NaN/, `the ${view} view shows a field the node does not give`);
          const { scroll, inner } = await vp.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
          if (width === 390) assert.ok(scroll <= inner, `the ${view} view scrolls sideways at 390 px: ${scroll} px wide`);
          const text = await vp.evaluate(() => document.body.innerText);
          assert.doesNotMatch(text, LONG_DIGITS, `the ${view} view shows a run of 11+ digits: ${LONG_DIGITS.exec(text)?.[0]}`);
          assert.match(await vp.locator('#node-summary').innerText(), READABLE, 'the balance, worded');
          const amounts = await vp.locator(`#view-${view} .amount`).allInnerTexts();
          for (const a of amounts) assert.match(a, READABLE, `the ${view} view shows an amount as "${a}"`);
          if (view !== 'client') assert.ok(amounts.length > 0, `the ${view} view shows no amount`);
        }
        await vp.close();
      }
    });

    it('a period the service did not answer shows failed, in red, to the worker and to its verifiers', { timeout: 300_000 }, async () => {
      const c = market.client;
      const bought = await c.request('POST', '/api/agreements', { body: { ...run, duration: 40, verifiers: 3 } });
      assert.equal(bought.status, 201, bought.text);
      const { id } = bought.json;
      await until(`agreement ${id} to run`, async () => (await c.get(`/api/agreements/${id}?brief=1`)).chain.status === 'running', { timeout: 150_000 });
      const chain = (await c.get(`/api/agreements/${id}?brief=1`)).chain;
      const worker = await market.workerNode(chain.worker_id);
      const container = await until('the work\'s container', async () => (await worker.get(`/api/agreements/${id}?brief=1`)).local.container);
      // The work stops answering for 15 s (a whole 10 s period), then answers again.
      await engine('pause', container);
      await new Promise((r) => setTimeout(r, 15_000));
      await engine('unpause', container);
      await until(`agreement ${id} to settle`, async () => (await c.get(`/api/agreements/${id}`)).payments?.settled, { timeout: 150_000 });
      const reports = (await worker.get(`/api/agreements/${id}`)).payments.verifiers;
      assert.ok(reports.some((v) => v.periods.includes('failed')), JSON.stringify(reports));

      const red = (color) => {
        const [r, g, b] = color.match(/\d+/g).map(Number);
        return r > 150 && g < 100 && b < 100;
      };
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${worker.base}/#worker`);
      const failed = page.locator('#timeline svg rect.tl-failed', { has: page.locator('title', { hasText: `agreement ${id},` }) });
      await failed.first().waitFor({ timeout: 30_000 });
      const fill = await failed.first().evaluate((e) => getComputedStyle(e).fill);
      assert.ok(red(fill), `a failed period is drawn in ${fill}`);
      await shot(page, 'worker-failed-period');
      const verifier = await market.workerNode(reports.find((v) => v.periods.includes('failed')).verifier_id);
      await page.goto(`${verifier.base}/#verifier`);
      const cell = page.locator('#probes tbody tr', { hasText: `#${id}` }).locator('td[data-label="Reported"].bad', { hasText: 'failed' });
      await cell.first().waitFor({ timeout: 30_000 });
      assert.ok(red(await cell.first().evaluate((e) => getComputedStyle(e).color)), 'a period reported failed is red');
      await shot(page, 'verifier-failed-period');
      await page.close();
    });

    it('on a reset chain every node stops acting, and its dashboard says why in words', { timeout: 180_000 }, async () => {
      // The devnet replaced: same port, chain id and dispatcher address and code; another genesis.
      const zeppelin = process.env.ZEPPELIN ?? 'zeppelin';
      const opts = { env: market.env, cwd: ROOT, timeout: 120_000 };
      await promisify(execFile)(zeppelin, ['devnet', 'down'], opts);
      await new Promise((r) => setTimeout(r, 1100));  // anvil's genesis carries its start time in seconds
      await promisify(execFile)(zeppelin, ['devnet', 'up', '--port', market.env.DEVNET_PORT], opts);
      const c = market.client;
      const st = await until('the client node to notice', async () => {
        const s = await c.get('/api/status');
        return s.chain_identity?.state === 'mismatch' && s;
      }, { timeout: 90_000 });
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${c.base}/#market`);
      const banner = page.locator('#chain-mismatch');
      await banner.waitFor({ state: 'visible', timeout: 30_000 });
      assert.equal(await banner.textContent(), st.chain_identity.message);
      assert.match(st.chain_identity.message, /^chain mismatch: this node works with .*, but the endpoint now serves /);
      await shot(page, 'chain-mismatch-390');
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert.ok(scroll <= inner, `the page scrolls sideways at 390 px with the mismatch shown: ${scroll} px wide`);
      await page.close();
    });
  });
});
