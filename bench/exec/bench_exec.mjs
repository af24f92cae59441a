// Tool-call overhead: a synchronous echo through the platform (auth, rate
// limit, lookups, schema check, job row + events + action log + stream rows
// in SQLite, worker, REST executor, waiter) versus the same echo sent
// straight to the same local server, in one run.
//
//   TC_BIN=build/bin/toolconnect node bench/exec/bench_exec.mjs [--n 2000] [--conc 16] [--workers 8]
//
// Latency: sequential calls (concurrency 1), p50/p99 of each path and of the
// difference. Throughput: --conc calls in flight through the platform.
import http from 'node:http';
import fs from 'node:fs';

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
  const api = await startStandin();
  const catalogDir = writeCatalog([standinConnector('bench', api.url)]);
  const srv = await startServer({
    env: {
      TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_RATE_USER_PER_MIN: '100000000', TC_RATE_CONNECTOR_PER_MIN: '100000000', TC_JOB_WORKERS: WORKERS,
    },
  });
  try {
    const h = await signup(srv, 'bench@example.com');
    const conn = await connect(srv, h, 'bench', 'sk_bench_key_123456');
    const platform = () => call(`${srv.url}/api/connectors/bench/tools/echo/execute`, 'POST', h, { connection_id: conn, arguments: { text: 'hi' } });
    const direct = () => call(`${api.url}/v1/echo`, 'POST', { Authorization: 'Bearer x' }, { text: 'hi' });
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
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    agent.destroy();
    await srv.stop();
    api.close();
    fs.rmSync(catalogDir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
