// Tool-call overhead: a synchronous echo through the platform (auth, rate
// limit, lookups, schema check, job row + events + action log + stream rows
// in SQLite, worker, REST executor, waiter) versus the same echo sent
// straight to the same local server, in one run.
//
//   TC_BIN=build/bin/toolconnect node bench/exec/bench_exec.mjs [--n 2000] [--conc 16] [--workers 8] [--mcp]
//
// Default upstream: the node REST stand-in (tests/blackbox/lib/standin.mjs).
// --mcp: the MCP SDK server (tests/peers/servers/sdk_server.mjs --json,
// Streamable HTTP with plain JSON answers): the platform runs its `echo`
// tool through the MCP executor (kept session), and the direct path sends
// the same tools/call JSON-RPC POST on one initialized session.
//
// Latency: sequential calls (concurrency 1), p50/p99 of each path and of the
// difference. Throughput: --conc calls in flight through the platform.
//
// Here the client and the upstream are node processes that share the two
// cores with the server under test; bench_exec_fast.mjs runs the same
// measurement with a C MCP peer and a C load generator (see its header).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { startServer } from '../../tests/blackbox/lib/server.mjs';
import { startStandin, standinConnector, writeCatalog, signup, connect } from '../../tests/blackbox/lib/standin.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

const N = Number(opt('n', 2000));
const CONC = Number(opt('conc', 16));
const WORKERS = opt('workers', '8');
const MCP = argv.includes('--mcp');
const here = path.dirname(fileURLToPath(import.meta.url));

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function call(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = http.request(url, { method, agent, headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

// The MCP SDK server with plain JSON answers, on a free port.
function startMcpPeer() {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(here, '../../tests/peers/servers/sdk_server.mjs'), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => reject(new Error('MCP peer did not start')), 20000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/LISTENING (\d+)/);
      if (m) { clearTimeout(t); resolve({ proc: p, url: `http://127.0.0.1:${m[1]}` }); }
    });
    p.on('exit', (code) => reject(new Error(`MCP peer exited ${code}`)));
  });
}

// One initialized MCP session; returns a function making one echo call.
async function mcpDirect(url) {
  const h = { Accept: 'application/json, text/event-stream' };
  const init = await new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
    const req = http.request(`${url}/mcp`, { method: 'POST', agent, headers: { ...h, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers['mcp-session-id']));
    });
    req.on('error', reject);
    req.end(body);
  });
  const sh = { ...h, 'mcp-session-id': init, 'mcp-protocol-version': '2025-06-18' };
  await call(`${url}/mcp`, 'POST', sh, { jsonrpc: '2.0', method: 'notifications/initialized' });
  let id = 2;
  return () => call(`${url}/mcp`, 'POST', sh, { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });
}

const pct = (arr, p) => {
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (ns) => Number(ns) / 1e6;

async function timed(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [ms(process.hrtime.bigint() - t), r];
}

async function main() {
  const api = MCP ? null : await startStandin();
  const peer = MCP ? await startMcpPeer() : null;
  const catalogDir = writeCatalog([MCP
    ? { slug: 'bench', name: 'Bench MCP', description: 'MCP SDK server', category: 'testing', mcp: { url: `${peer.url}/mcp` }, auth: { type: 'none' }, tools: [] }
    : standinConnector('bench', api.url)]);
  const srv = await startServer({
    env: {
      TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_RATE_USER_PER_MIN: '100000000', TC_RATE_CONNECTOR_PER_MIN: '100000000', TC_JOB_WORKERS: WORKERS,
    },
  });
  try {
    const h = await signup(srv, 'bench@example.com');
    let conn;
    if (MCP) {
      const d = await call(`${srv.url}/api/connectors/bench/discover`, 'POST', h);
      if (d.status !== 200) throw new Error(`discover: ${d.status} ${d.text}`);
      const c = await call(`${srv.url}/api/connections`, 'POST', h, { connector: 'bench', credentials: {} });
      conn = JSON.parse(c.text).id;
    } else {
      conn = await connect(srv, h, 'bench', 'sk_bench_key_123456');
    }
    const args = MCP ? { message: 'hi' } : { text: 'hi' };
    const platform = () => call(`${srv.url}/api/connectors/bench/tools/echo/execute`, 'POST', h, { connection_id: conn, arguments: args });
    const direct = MCP ? await mcpDirect(peer.url)
      : () => call(`${api.url}/v1/echo`, 'POST', { Authorization: 'Bearer x' }, { text: 'hi' });
    for (let i = 0; i < 200; i++) { await platform(); await direct(); } // warm-up
    const tp = [];
    const td = [];
    for (let i = 0; i < N; i++) {
      const [a, r] = await timed(platform);
      if (r.status !== 200 || !r.text.includes('"succeeded"')) throw new Error(`bad answer ${r.status} ${r.text}`);
      const [b] = await timed(direct);
      tp.push(a);
      td.push(b);
    }
    const diff = tp.map((v, i) => v - td[i]);
    // Throughput through the platform with CONC in flight.
    const total = N * 2;
    let next = 0;
    let okCount = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < total) {
        next++;
        const r = await platform();
        if (r.status === 200) okCount++;
      }
    }));
    const secs = ms(process.hrtime.bigint() - t0) / 1000;
    let d0 = 0;
    next = 0;
    const t1 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < total) { next++; await direct(); d0++; }
    }));
    const dsecs = ms(process.hrtime.bigint() - t1) / 1000;
    const out = {
      calls: N,
      platform_ms: { p50: pct(tp, 50), p99: pct(tp, 99) },
      direct_ms: { p50: pct(td, 50), p99: pct(td, 99) },
      overhead_ms: { p50: pct(diff, 50), p99: pct(diff, 99) },
      throughput: { concurrency: CONC, platform_calls_per_s: Math.round(okCount / secs), direct_calls_per_s: Math.round(d0 / dsecs), ok: okCount, total },
      workers: Number(WORKERS),
      upstream: MCP ? 'mcp (sdk_server.mjs --json)' : 'rest (stand-in)',
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    agent.destroy();
    await srv.stop();
    api?.close();
    peer?.proc.kill();
    fs.rmSync(catalogDir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
