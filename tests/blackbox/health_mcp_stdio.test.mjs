// Health checks of a stdio MCP server (TC_ALLOW_STDIO=1) through the MCP
// client: the SDK's stdio server behind a small wrapper that refuses to
// start while a flag file exists. Each check spawns a fresh process
// (initialize + ping), the process is gone once the round is over, and the
// connector goes healthy -> down -> healthy with the matching live events.
// A stdio connector without TC_ALLOW_STDIO is not probed at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, tmpDir } from './lib/server.mjs';

const SOURCE = process.env.TC_SOURCE_DIR || '.';
const SDK_SERVER = path.resolve(SOURCE, 'tests/peers/servers/sdk_server.mjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dir;
let srv;
let h;
const flag = () => path.join(dir, 'down');
const starts = () => (fs.existsSync(path.join(dir, 'starts.log'))
  ? fs.readFileSync(path.join(dir, 'starts.log'), 'utf8').trim().split('\n').filter(Boolean) : []);

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function check() {
  const r = await srv.request('POST', '/api/health/check', { headers: h });
  assert.equal(r.status, 200, r.text);
  return r.json.items.find((i) => i.connector === 'hc-stdio');
}

function openStream(headers) {
  let text = '';
  const req = http.request(`${srv.url}/api/stream`, { headers: { ...headers, Accept: 'text/event-stream' } }, (res) => {
    res.on('data', (c) => { text += c; });
  });
  req.on('error', () => {});
  req.end();
  return { text: () => text, close: () => req.destroy() };
}

before(async () => {
  dir = tmpDir('tc-health-stdio-');
  const wrapper = path.join(dir, 'peer.mjs');
  // Logs its pid, then either fails like a broken install or becomes the SDK stdio server.
  fs.writeFileSync(wrapper, `
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
fs.appendFileSync(process.env.PEER_DIR + '/starts.log', process.pid + '\\n');
if (fs.existsSync(process.env.PEER_DIR + '/down')) {
  process.stderr.write('peer: switched off\\n');
  process.exit(3);
}
await import(pathToFileURL(${JSON.stringify(SDK_SERVER)}).href);
`);
  const catalog = path.join(dir, 'catalog');
  fs.mkdirSync(catalog);
  fs.writeFileSync(path.join(catalog, 'hc-stdio.json'), JSON.stringify({
    slug: 'hc-stdio', name: 'Health stdio', description: 'stdio MCP stand-in', category: 'testing',
    mcp: { command: [process.execPath, wrapper, '--stdio'], env: { PEER_DIR: dir } }, auth: { type: 'none' },
  }));
  srv = await startServer({
    env: {
      TC_CATALOG_PATH: catalog, TC_ALLOW_STDIO: '1', TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_HEALTH_INTERVAL_S: '0', TC_HEALTH_TIMEOUT_MS: '8000', TC_HEALTH_DEGRADED_MS: '8000',
      TC_ALERT_COOLDOWN_S: '1',
    },
  });
  const su = await srv.request('POST', '/api/auth/signup', { body: { email: 'stdio@example.com', password: 'correct horse battery' } });
  assert.equal(su.status, 201, su.text);
  h = { Authorization: `Bearer ${su.json.access_token}` };
  const c = await srv.request('POST', '/api/connections', { headers: h, body: { connector: 'hc-stdio', label: 'local', credentials: {} } });
  assert.equal(c.status, 201, c.text);
});

after(async () => {
  await srv?.stop();
  for (const pid of starts().map(Number)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a stdio MCP server is probed with a fresh process each round: up, down, back up', async () => {
  const stream = openStream(h);
  try {
    const before0 = starts().length;
    const up = await check();
    assert.equal(up?.status, 'healthy', JSON.stringify(up));
    assert.equal(up.error, null);
    assert.equal(typeof up.latency_ms, 'number');
    assert.ok(up.latency_ms >= 0 && up.latency_ms < 8000);
    const spawned = starts().slice(before0).map(Number);
    assert.ok(spawned.length >= 1, 'the probe spawned the server');
    await sleep(300);
    for (const pid of spawned) assert.ok(!alive(pid), `probe process ${pid} is closed after the round`);

    fs.writeFileSync(flag(), '1');
    const down = await check();
    assert.equal(down?.status, 'down', JSON.stringify(down));
    assert.match(down.error, /initialize/);

    fs.rmSync(flag());
    const n = starts().length;
    const back = await check();
    assert.equal(back?.status, 'healthy', JSON.stringify(back));
    assert.ok(starts().length > n, 'a new process for the new round');

    const hist = await srv.request('GET', '/api/health/hc-stdio/history?limit=10', { headers: h });
    assert.equal(hist.status, 200, hist.text);
    assert.deepEqual(hist.json.items.map((i) => i.status), ['healthy', 'down', 'healthy']);

    const end = Date.now() + 5000;
    while (!/"status":"healthy","previous_status":"down"/.test(stream.text()) && Date.now() < end) await sleep(100);
    const text = stream.text();
    assert.match(text, /"connector":"hc-stdio","name":"Health stdio","status":"down","previous_status":"healthy"/);
    assert.match(text, /"connector":"hc-stdio","name":"Health stdio","status":"healthy","previous_status":"down"/);
  } finally {
    stream.close();
  }
});

test('without TC_ALLOW_STDIO a stdio connector is not probed (nothing spawned, no result)', async () => {
  const other = await startServer({
    env: {
      TC_CATALOG_PATH: path.join(dir, 'catalog'), TC_ALLOW_PRIVATE_TARGETS: '1', TC_HEALTH_INTERVAL_S: '0',
    },
  });
  try {
    const su = await other.request('POST', '/api/auth/signup', { body: { email: 'nostdio@example.com', password: 'correct horse battery' } });
    assert.equal(su.status, 201, su.text);
    const hh = { Authorization: `Bearer ${su.json.access_token}` };
    const c = await other.request('POST', '/api/connections', { headers: hh, body: { connector: 'hc-stdio', label: 'x', credentials: {} } });
    const n = starts().length;
    const r = await other.request('POST', '/api/health/check', { headers: hh });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items.find((i) => i.connector === 'hc-stdio'), undefined, `connection ${c.status}`);
    assert.equal(starts().length, n, 'nothing was spawned');
  } finally {
    await other.stop();
  }
});
