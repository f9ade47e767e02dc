#!/usr/bin/env node
// A counting JSON-RPC proxy for bench/rpc_load.sh: listens on one port per node, forwards every
// HTTP request unchanged to one upstream endpoint (anvil), and counts per listening port
//   http      HTTP requests (a batch is one)
//   calls     JSON-RPC calls (a batch of N is N)
//   methods   calls by method; eth_call also as "eth_call 0x<selector>" under selectors
//   bytes_in / bytes_out   request and reply body bytes
//   errors    requests the upstream did not answer (the proxy replied 502)
//
// Usage: node bench/rpc_proxy.js --upstream http://127.0.0.1:8545 --stats-port P NAME=PORT...
// GET http://127.0.0.1:P/stats returns {"NAME": {...counters}, ...} (cumulative since start; the
// bench takes a snapshot at both ends of a window and subtracts). Prints "ready" once listening.
// Only node's standard library: no npm package needed.
'use strict';
const http = require('http');

function usage(msg) {
  process.stderr.write(`rpc_proxy: ${msg}\nusage: rpc_proxy.js --upstream URL --stats-port P NAME=PORT...\n`);
  process.exit(2);
}

let upstream = null;
let statsPort = 0;
const listens = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--upstream') upstream = new URL(argv[++i]);
  else if (a === '--stats-port') statsPort = Number(argv[++i]);
  else if (/^[A-Za-z0-9_.-]+=\d+$/.test(a)) {
    const [name, port] = a.split('=');
    listens.push({ name, port: Number(port) });
  } else usage(`unknown argument ${a}`);
}
if (!upstream || upstream.protocol !== 'http:') usage('--upstream http://host:port is required');
if (!statsPort) usage('--stats-port is required');
if (listens.length === 0) usage('no NAME=PORT to listen on');

const stats = {};
for (const { name } of listens) {
  stats[name] = { http: 0, calls: 0, methods: {}, selectors: {}, bytes_in: 0, bytes_out: 0, errors: 0 };
}

// Keep-alive to the upstream, as the nodes do to the proxy: no extra connection cost per request.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function count(s, body) {
  s.http += 1;
  s.bytes_in += body.length;
  let msg;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch {
    s.methods['(unparsable)'] = (s.methods['(unparsable)'] || 0) + 1;
    s.calls += 1;
    return;
  }
  const calls = Array.isArray(msg) ? msg : [msg];
  if (Array.isArray(msg)) s.batches = (s.batches || 0) + 1;
  for (const c of calls) {
    const m = c && typeof c.method === 'string' ? c.method : '(no method)';
    s.calls += 1;
    s.methods[m] = (s.methods[m] || 0) + 1;
    if (m === 'eth_call' && Array.isArray(c.params) && c.params[0]) {
      const data = c.params[0].input || c.params[0].data || '';
      const sel = typeof data === 'string' ? data.slice(0, 10) : '?';
      s.selectors[sel] = (s.selectors[sel] || 0) + 1;
    }
  }
}

function forward(name) {
  return (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const s = stats[name];
      count(s, body);
      const headers = { 'content-type': req.headers['content-type'] || 'application/json', 'content-length': body.length };
      const up = http.request(
        { host: upstream.hostname, port: upstream.port || 80, path: upstream.pathname || '/', method: req.method, headers, agent },
        (ures) => {
          const out = [];
          ures.on('data', (c) => out.push(c));
          ures.on('end', () => {
            const reply = Buffer.concat(out);
            s.bytes_out += reply.length;
            res.writeHead(ures.statusCode, {
              'content-type': ures.headers['content-type'] || 'application/json',
              'content-length': reply.length,
            });
            res.end(reply);
          });
          ures.on('error', () => fail());
        });
      const fail = () => {
        s.errors += 1;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('upstream failed\n');
      };
      up.on('error', fail);
      up.end(body);
    });
  };
}

let pending = listens.length + 1;
const ready = () => { if (--pending === 0) process.stdout.write('ready\n'); };
for (const { name, port } of listens) {
  const server = http.createServer(forward(name));
  server.keepAliveTimeout = 60000;
  server.on('error', (e) => { process.stderr.write(`rpc_proxy: ${name} on ${port}: ${e.message}\n`); process.exit(1); });
  server.listen(port, '127.0.0.1', ready);
}
const control = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const body = JSON.stringify(stats);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404);
    res.end();
  }
});
control.on('error', (e) => { process.stderr.write(`rpc_proxy: stats port ${statsPort}: ${e.message}\n`); process.exit(1); });
control.listen(statsPort, '127.0.0.1', ready);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
