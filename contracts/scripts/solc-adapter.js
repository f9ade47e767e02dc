#!/usr/bin/env node
// solc-adapter.js — makes solc-js (npm "solc", pinned 0.8.28) look like a native `solc` binary
// for forge (`forge build --use contracts/scripts/solc-adapter.js`).
//
// Supported:
//   --version              prints the version in the format forge parses
//   --standard-json        reads Standard JSON input on stdin, writes Standard JSON output on stdout
// Accepted and used for import resolution: --base-path, --include-path (repeatable), --allow-paths.
// Any other flag is accepted and ignored. Works on Node 18+ (only fs/path/process APIs).
'use strict';
const fs = require('fs');
const path = require('path');

function loadSolc() {
  const candidates = [];
  if (process.env.ZEPPELIN_SOLCJS) candidates.push(process.env.ZEPPELIN_SOLCJS);
  candidates.push(path.resolve(__dirname, '..', '..', 'node_modules', 'solc'));
  candidates.push('solc');
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      /* try next */
    }
  }
  process.stderr.write('solc-adapter: cannot load solc-js (run scripts/setup.sh to install node_modules)\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      i += 1;
      return argv[i];
    };
    if (a === '--version' || a === '-v') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a.startsWith('--base-path')) opts.basePath = takeValue();
    else if (a.startsWith('--include-path')) opts.includePaths.push(takeValue());
    else if (a.startsWith('--allow-paths')) opts.allowPaths.push(...String(takeValue()).split(','));
    // every other flag is ignored on purpose
  }
  return opts;
}

function readStdin() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n = 0;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      if (e.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = loadSolc();
  if (opts.version) {
    // forge reads the line starting with "Version: " and parses it as semver.
    const v = solc.version().replace('.Emscripten.clang', '.Linux.g++');
    process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + v + '\n');
    return;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc-adapter: only --version and --standard-json are supported\n');
    process.exit(1);
  }
  const roots = [];
  if (opts.basePath) roots.push(path.resolve(opts.basePath));
  for (const p of opts.includePaths) roots.push(path.resolve(p));
  roots.push(process.cwd());
  const findImports = (importPath) => {
    const tries = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
    for (const t of tries) {
      try {
        return { contents: fs.readFileSync(t, 'utf8') };
      } catch (e) {
        /* next root */
      }
    }
    return { error: 'File not found: ' + importPath };
  };
  const input = readStdin();
  const output = solc.compile(input, { import: findImports });
  process.stdout.write(output);
}

main();
