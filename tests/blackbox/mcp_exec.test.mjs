// MCP tools end to end: discovery and execution against the real
// @modelcontextprotocol/server-everything, over Streamable HTTP and stdio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tmpDir, request } from './lib/server.mjs';

const SRC = process.env.TC_SOURCE_DIR || path.resolve('.');
const EVERYTHING = path.join(SRC, 'tests/mcp/everything.mjs');
let peer;
let peerUrl;
let srv;
let catalogDir;
let auth;
let connectionId;

function startPeer(mode) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [EVERYTHING, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => reject(new Error('MCP peer did not start')), 20000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/LISTENING (\d+)/);
      if (m) {
        clearTimeout(t);
        resolve({ proc: p, port: Number(m[1]) });
      }
    });
    p.on('exit', (code) => reject(new Error(`MCP peer exited ${code}`)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sessions() {
  const r = await request(`${peerUrl}/__stats`);
  return r.json.sessions;
}

async function waitJob(id, pred, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await srv.request('GET', `/api/jobs/${id}`, { headers: auth });
    if (pred(r.json)) return r.json;
    if (Date.now() > end) assert.fail(`job ${id} stuck: ${r.text}`);
    await sleep(100);
  }
}

before(async () => {
  peer = await startPeer('streamableHttp');
  peerUrl = `http://127.0.0.1:${peer.port}`;
  catalogDir = tmpDir('tc-mcp-catalog-');
  fs.writeFileSync(path.join(catalogDir, 'everything.json'), JSON.stringify({
    slug: 'everything', name: 'Everything', description: 'MCP reference server', category: 'testing',
    mcp: { url: `${peerUrl}/mcp` }, auth: { type: 'none' }, tools: [],
  }));
  srv = await startServer({
    env: { TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_ALLOW_STDIO: '1' },
  });
  const r = await srv.request('POST', '/api/auth/signup', { body: { email: 'mcp@example.com', password: 'correct horse battery' } });
  auth = { Authorization: `Bearer ${r.json.access_token}` };
});

after(async () => {
  await srv?.stop();
  peer?.proc.kill();
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

test('discovery lists every tool with its input schema', async () => {
  const r = await srv.request('POST', '/api/connectors/everything/discover', { headers: auth });
  assert.equal(r.status, 200, r.text);
  const names = r.json.tools.map((t) => t.name);
  for (const n of ['echo', 'get-sum', 'trigger-long-running-operation']) assert.ok(names.includes(n), n);
  const echo = r.json.tools.find((t) => t.name === 'echo');
  assert.equal(echo.source, 'mcp');
  assert.ok(echo.input_schema.properties.message);
  const listed = await srv.request('GET', '/api/connectors/everything');
  assert.equal(listed.json.tool_count, r.json.tools.length);
});

test('echo and get-sum run through the platform and reuse one session', async () => {
  const c = await srv.request('POST', '/api/connections', { headers: auth, body: { connector: 'everything', credentials: {} } });
  assert.equal(c.status, 201, c.text);
  connectionId = c.json.id;
  const r = await srv.request('POST', '/api/connectors/everything/tools/echo/execute', {
    headers: auth, body: { connection_id: connectionId, arguments: { message: 'hello' } },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'succeeded');
  assert.equal(r.json.result.content[0].text, 'Echo: hello');
  const sum = await srv.request('POST', '/api/connectors/everything/tools/get-sum/execute', {
    headers: auth, body: { connection_id: connectionId, arguments: { a: 2, b: 40 } },
  });
  assert.equal(sum.status, 200, sum.text);
  assert.match(sum.json.result.content[0].text, /42/);

  const before = await sessions();
  for (let i = 0; i < 20; i++) {
    const e = await srv.request('POST', '/api/connectors/everything/tools/echo/execute', {
      headers: auth, body: { connection_id: connectionId, arguments: { message: `m${i}` } },
    });
    assert.equal(e.status, 200);
  }
  assert.equal(await sessions(), before, 'no new MCP session for repeated calls');
});

test('schema violations are refused before anything reaches the server', async () => {
  const r = await srv.request('POST', '/api/connectors/everything/tools/get-sum/execute', {
    headers: auth, body: { connection_id: connectionId, arguments: { a: 'two', b: 3 } },
  });
  assert.equal(r.status, 422, r.text);
  assert.ok(r.json.error.details.some((d) => d.path === '/a'));
});

test('a long-running tool reports progress as events', async () => {
  const r = await srv.request('POST', '/api/connectors/everything/tools/trigger-long-running-operation/execute?async=1', {
    headers: auth, body: { connection_id: connectionId, arguments: { duration: 1, steps: 4 } },
  });
  assert.equal(r.status, 202, r.text);
  const job = await waitJob(r.json.job.id, (j) => j.status === 'succeeded');
  assert.match(JSON.stringify(job.result), /Long running operation completed/);
  assert.ok(job.events.some((e) => /progress/i.test(e.message)), JSON.stringify(job.events));
});

test('cancel stops a running MCP call', async () => {
  const r = await srv.request('POST', '/api/connectors/everything/tools/trigger-long-running-operation/execute?async=1', {
    headers: auth, body: { connection_id: connectionId, arguments: { duration: 20, steps: 20 } },
  });
  await waitJob(r.json.job.id, (j) => j.status === 'running');
  const t0 = Date.now();
  const c = await srv.request('POST', `/api/jobs/${r.json.job.id}/cancel`, { headers: auth });
  assert.ok([200, 202].includes(c.status), c.text);
  const job = await waitJob(r.json.job.id, (j) => j.status === 'canceled', 10000);
  assert.equal(job.status, 'canceled');
  assert.ok(Date.now() - t0 < 5000);
});

test('a custom stdio MCP server is discovered at creation and runs', async () => {
  const r = await srv.request('POST', '/api/connectors', {
    headers: auth,
    body: { slug: 'local-everything', name: 'Local', auth_type: 'none', mcp_command: [process.execPath, EVERYTHING, 'stdio'] },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.discovery.ok, true, JSON.stringify(r.json.discovery));
  assert.ok(r.json.tools.some((t) => t.name === 'echo'));
  const c = await srv.request('POST', '/api/connections', { headers: auth, body: { connector: 'local-everything', credentials: {} } });
  const e = await srv.request('POST', '/api/connectors/local-everything/tools/echo/execute', {
    headers: auth, body: { connection_id: c.json.id, arguments: { message: 'via stdio' } },
  });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json.result.content[0].text, 'Echo: via stdio');
});
