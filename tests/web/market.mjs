// A real local market for the dashboard and API tests: `scripts/market.sh up 4` (anvil with the
// WorkerDispatcher v2, four worker nodes: a worker and three verifiers for each agreement, one
// client-only node) in a temporary ZEPPELIN_HOME, every
// node serving web/ as its dashboard. Needs ZEPPELIN_DOCKER_HOST (scripts/services.sh start) and
// `zeppelin` on PATH (or $ZEPPELIN).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const WORKERS = 4;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** One node's API: base URL, token, and a fetch helper returning {status, type, text, json}. */
export class NodeApi {
  constructor(dir) {
    const ep = JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8'));
    this.dir = dir;
    this.base = `http://${ep.host}:${ep.port}`;
    this.token = ep.token;
  }

  async request(method, path, { body, token = this.token, raw } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method, headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json };
  }

  async get(path, opts) {
    const r = await this.request('GET', path, opts);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
    return r.json;
  }
}

export class Market {
  static async up() {
    const home = mkdtempSync(join(tmpdir(), 'zeppelin-web-'));
    const web = join(ROOT, 'web');
    const env = {
      ...process.env,
      ZEPPELIN_HOME: home,
      DEVNET_PORT: String(await freePort()),
      CLIENT_NODE_ARGS: `--web-dir ${web}`,
      WORKER_NODE_ARGS: `--web-dir ${web}`,
    };
    const m = new Market(home, env);
    try {
      await m.script('up', String(WORKERS));
    } catch (e) {
      await m.down({ keep: true }).catch(() => {});
      throw new Error(`market.sh up failed (logs in ${home}): ${e.stderr || e.message}`);
    }
    m.client = new NodeApi(join(home, 'node'));
    m.workers = [];
    for (let i = 1; i <= WORKERS; ++i) m.workers.push(new NodeApi(join(home, 'nodes', String(i))));
    return m;
  }

  constructor(home, env) {
    this.home = home;
    this.env = env;
  }

  script(...args) {
    return run('bash', [join(ROOT, 'scripts/market.sh'), ...args], { env: this.env, cwd: ROOT, timeout: 180_000 });
  }

  /** The worker node whose worker id is `id`. */
  async workerNode(id) {
    for (const w of this.workers) if ((await w.get('/api/status')).worker?.id === id) return w;
    throw new Error(`no worker node has worker id ${id}`);
  }

  async down({ keep } = {}) {
    try {
      await this.script('down');
    } finally {
      if (!keep) rmSync(this.home, { recursive: true, force: true });
    }
  }
}

/** A test image archive (busybox httpd on port 8080 serving "zeppelin test page"). */
export async function makeTestImage(dir) {
  const out = join(dir, 'test-image.tar');
  await run('bash', [join(ROOT, 'scripts/make-test-image.sh'), out], { cwd: ROOT });
  return out;
}

/** Polls `fn` until it returns a truthy value; the last error or value is in the failure. */
export async function until(what, fn, { timeout = 120_000, every = 500 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last?.message ?? JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}
