// Echo through our C MCP client vs the official TypeScript SDK client,
// against the same local SDK server (tests/peers/servers/sdk_server.mjs), in
// one run.  node bench/mcp/bench_mcp.mjs <build>/bin/bench_mcp_client [calls] [mode]
//   mode: json (enableJsonResponse, default) or sse
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..', '..');
const require = createRequire(path.join(root, 'tests', 'peers', 'package.json'));
const sdk = (p) => import(require.resolve(`@modelcontextprotocol/sdk/${p}`));
const [bin, callsArg, mode = 'json'] = process.argv.slice(2);
const calls = Number(callsArg) || 2000;

const server = spawn(process.execPath, [path.join(root, 'tests', 'peers', 'servers', 'sdk_server.mjs'), ...(mode === 'json' ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => server.stdout.on('data', (d) => { const m = /LISTENING (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
const url = `http://127.0.0.1:${port}/mcp`;

function pct(lat, p) { const s = [...lat].sort((a, b) => a - b); return s[Math.floor((s.length * p) / 100)]; }

async function tsClient(concurrency) {
  const { Client } = await sdk('client/index.js');
  const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const lat = [];
  const per = Math.floor(calls / concurrency);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < per; i++) {
      const s = performance.now();
      await client.callTool({ name: 'echo', arguments: { message: 'bench' } });
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await client.close();
  return { calls: lat.length, calls_per_s: Math.round(lat.length / secs), p50_ms: +pct(lat, 50).toFixed(3), p99_ms: +pct(lat, 99).toFixed(3) };
}

const rows = [];
for (const c of [1, 4]) {
  const ours = JSON.parse(execFileSync(bin, [url, String(calls), String(c)]).toString());
  const ts = await tsClient(c);
  rows.push({ client: 'toolconnect C', concurrency: c, ...ours });
  rows.push({ client: 'TS SDK', concurrency: c, ...ts });
}
console.log(`server: sdk_server.mjs (${mode}), ${calls} echo calls per row`);
console.log('| client | concurrency | calls/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.client} | ${r.concurrency} | ${r.calls_per_s} | ${r.p50_ms} | ${r.p99_ms} |`);
server.kill('SIGKILL');
