// bench/rpc_proxy.js counts what bench/rpc_load.sh reports: requests per listening port, a batch
// as one HTTP request and N calls, calls by method and eth_call by selector, upstream failures.
// The upstream here is a stub HTTP server that answers every call with "0x1".
// Run: node --test bench/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function freePorts(n) {
  return new Promise((resolve) => {
    const servers = [];
    const ports = [];
    const next = () => {
      if (ports.length === n) {
        servers.forEach((s) => s.close());
        resolve(ports);
        return;
      }
      const s = net.createServer();
      servers.push(s);
      s.listen(0, '127.0.0.1', () => {
        ports.push(s.address().port);
        next();
      });
    };
    next();
  });
}

function post(port, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' } },
      (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve({ status: res.statusCode, body: s }));
      });
    req.on('error', reject);
    req.end(data);
  });
}

async function getStats(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/stats' }, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve(JSON.parse(s)));
    }).on('error', reject);
  });
}

async function startProxy(upstreamPort, statsPort, listens) {
  const child = spawn(process.execPath, [path.join(here, 'rpc_proxy.js'), '--upstream', `http://127.0.0.1:${upstreamPort}`,
    '--stats-port', String(statsPort), ...listens], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => { if (String(c).includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  });
  return child;
}

test('counts requests, calls, methods and selectors per node, and forwards replies unchanged', async (t) => {
  const [upPort, statsPort, aPort, bPort] = await freePorts(4);
  const upstream = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const msg = JSON.parse(s);
      const one = (m) => ({ jsonrpc: '2.0', id: m.id, result: '0x1' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Array.isArray(msg) ? msg.map(one) : one(msg)));
    });
  });
  await new Promise((r) => upstream.listen(upPort, '127.0.0.1', r));
  const proxy = await startProxy(upPort, statsPort, [`a=${aPort}`, `b=${bPort}`]);
  t.after(() => { proxy.kill(); upstream.close(); });

  const single = await post(aPort, { jsonrpc: '2.0', id: 7, method: 'eth_blockNumber', params: [] });
  assert.equal(single.status, 200);
  assert.deepEqual(JSON.parse(single.body), { jsonrpc: '2.0', id: 7, result: '0x1' });
  const batch = await post(bPort, [
    { jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to: '0x01', data: '0xaabbccdd0001' }, 'latest'] },
    { jsonrpc: '2.0', id: 2, method: 'eth_call', params: [{ to: '0x01', input: '0xaabbccdd0002' }, 'latest'] },
    { jsonrpc: '2.0', id: 3, method: 'eth_getLogs', params: [{}] },
  ]);
  assert.equal(JSON.parse(batch.body).length, 3);
  await post(aPort, { jsonrpc: '2.0', id: 8, method: 'eth_blockNumber', params: [] });

  const stats = await getStats(statsPort);
  assert.equal(stats.a.http, 2);
  assert.equal(stats.a.calls, 2);
  assert.deepEqual(stats.a.methods, { eth_blockNumber: 2 });
  assert.equal(stats.b.http, 1, 'a batch is one HTTP request');
  assert.equal(stats.b.calls, 3, 'and as many calls as it holds');
  assert.deepEqual(stats.b.methods, { eth_call: 2, eth_getLogs: 1 });
  assert.deepEqual(stats.b.selectors, { '0xaabbccdd': 2 });
  assert.equal(stats.a.errors + stats.b.errors, 0);
});

test('a request the upstream does not answer is counted, and the node gets a 502', async (t) => {
  const [deadPort, statsPort, aPort] = await freePorts(3);  // nothing listens on deadPort
  const proxy = await startProxy(deadPort, statsPort, [`a=${aPort}`]);
  t.after(() => proxy.kill());
  const r = await post(aPort, { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] });
  assert.equal(r.status, 502);
  const stats = await getStats(statsPort);
  assert.equal(stats.a.http, 1);
  assert.equal(stats.a.errors, 1);
});
