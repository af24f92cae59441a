// Health checks against local peers that go down and come back: a REST
// stand-in and an MCP server (the SDK's Streamable HTTP transport), emails
// caught by the smtp-server sink, live "health" events on /api/stream, the
// API (latest, history, check now), degraded answers, and a mail server that
// is down while the checker keeps working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { startServer, tmpDir } from './lib/server.mjs';
import { startSmtpSink } from '../peers/servers/smtp-sink.mjs';

const require = createRequire(path.resolve(process.env.TC_SOURCE_DIR || '.', 'tests/peers/package.json'));
const sdk = (p) => import(require.resolve(`@modelcontextprotocol/sdk/${p}`));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A server that can be taken down (port closed) and brought back on the same port.
function switchable(handler) {
  const sockets = new Set();
  let server;
  let port = 0;
  const peer = {
    get port() { return port; },
    async up() {
      server = http.createServer(handler);
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
      await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
      port = server.address().port;
    },
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return peer;
}

let restMode = 'ok';
const rest = switchable((req, res) => {
  if (restMode === 'error') { res.writeHead(503); return res.end('maintenance'); }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end('{"ok":true}');
});

const mcpStats = { initialize: 0, ping: 0, deleted: 0 };
let mcpSessions;
async function mcpHandler() {
  const { Server } = await sdk('server/index.js');
  const { StreamableHTTPServerTransport } = await sdk('server/streamableHttp.js');
  mcpSessions = new Map();
  return async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw ? JSON.parse(raw) : undefined;
    if (body?.method === 'initialize') mcpStats.initialize++;
    if (body?.method === 'ping') mcpStats.ping++;
    const sid = req.headers['mcp-session-id'];
    if (sid) {
      const t = mcpSessions.get(sid);
      if (!t) { res.writeHead(404); return res.end(); }
      if (req.method === 'DELETE') mcpStats.deleted++;
      return t.handleRequest(req, res, body);
    }
    const t = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => mcpSessions.set(id, t),
    });
    t.onclose = () => { if (t.sessionId) mcpSessions.delete(t.sessionId); };
    await new Server({ name: 'tc-health-peer', version: '1.0.0' }, { capabilities: { tools: {} } }).connect(t);
    return t.handleRequest(req, res, body);
  };
}
let mcp;

let srv;
let sink;
let catalogDir;
const users = {};

async function signup(email) {
  const r = await srv.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

async function connect(h, connector) {
  const r = await srv.request('POST', '/api/connections', { headers: h, body: { connector, label: connector, credentials: {} } });
  assert.equal(r.status, 201, r.text);
}

async function statusOf(h, slug) {
  const r = await srv.request('GET', '/api/health', { headers: h });
  assert.equal(r.status, 200, r.text);
  return r.json.items.find((i) => i.connector === slug);
}

async function waitStatus(h, slug, status, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const row = await statusOf(h, slug);
    if (row && row.status === status) return row;
    if (Date.now() > end) throw new Error(`${slug} never became ${status}; last ${JSON.stringify(row)}`);
    await sleep(100);
  }
}

// Live stream reader: collects SSE text of one user.
function openStream(h) {
  let text = '';
  const req = http.request(`${srv.url}/api/stream`, { headers: { ...h, Accept: 'text/event-stream' } }, (res) => {
    res.on('data', (c) => { text += c; });
  });
  req.on('error', () => {});
  req.end();
  return { text: () => text, close: () => req.destroy() };
}

function mailsFor(addr, re) {
  return sink.messages.filter((m) => m.to.includes(addr) && re.test(m.subject));
}

before(async () => {
  await rest.up();
  mcp = switchable(await mcpHandler());
  await mcp.up();
  sink = await startSmtpSink();
  catalogDir = tmpDir('tc-health-catalog-');
  const restUrl = `http://127.0.0.1:${rest.port}`;
  const files = {
    'hc-rest.json': {
      slug: 'hc-rest', name: 'Health REST', description: 'REST stand-in', category: 'testing',
      base_url: `${restUrl}/api`, health: { url: `${restUrl}/status` }, auth: { type: 'none' },
      tools: [{ name: 'ping', description: 'ping', input_schema: { type: 'object' }, request: { method: 'GET', path: '/ping' } }],
    },
    'hc-mcp.json': {
      slug: 'hc-mcp', name: 'Health MCP', description: 'MCP stand-in', category: 'testing',
      mcp: { url: `http://127.0.0.1:${mcp.port}/mcp` }, health: { mcp: 'ping' }, auth: { type: 'none' },
    },
    'hc-idle.json': {
      slug: 'hc-idle', name: 'Health idle', description: 'nobody connects', category: 'testing',
      base_url: 'http://127.0.0.1:9/api', auth: { type: 'none' },
      tools: [{ name: 'ping', description: 'ping', input_schema: { type: 'object' }, request: { method: 'GET', path: '/ping' } }],
    },
  };
  for (const [n, doc] of Object.entries(files)) fs.writeFileSync(path.join(catalogDir, n), JSON.stringify(doc));
  srv = await startServer({
    env: {
      TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_HEALTH_INTERVAL_S: '1', TC_HEALTH_TIMEOUT_MS: '2000', TC_ALERT_COOLDOWN_S: '1',
      TC_SMTP_URL: sink.url, TC_MAIL_FROM: 'Tool Connect <alerts@tc.test>',
      TC_NOTIFY_POLL_MS: '200', TC_NOTIFY_RETRY_BASE_MS: '300', TC_PUBLIC_URL: 'http://tc.test',
    },
  });
  users.alice = await signup('alice@example.com');
  users.bob = await signup('bob@example.com');
  await connect(users.alice, 'hc-rest');
  await connect(users.alice, 'hc-mcp');
  await connect(users.bob, 'hc-mcp');
});

after(async () => {
  await srv?.stop();
  await sink?.stop();
  await rest.down().catch(() => {});
  await mcp?.down().catch(() => {});
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

test('connectors in use are probed in the background and stored; idle ones are not', async () => {
  const r1 = await waitStatus(users.alice, 'hc-rest', 'healthy');
  const r2 = await waitStatus(users.alice, 'hc-mcp', 'healthy');
  for (const r of [r1, r2]) {
    assert.equal(typeof r.latency_ms, 'number');
    assert.ok(r.latency_ms >= 0 && r.latency_ms < 2000);
    assert.ok(!Number.isNaN(Date.parse(r.checked_at)));
    assert.equal(r.error, null);
  }
  assert.equal(r2.name, 'Health MCP');
  assert.equal(await statusOf(users.alice, 'hc-idle'), undefined);
  assert.ok(mcpStats.initialize >= 1 && mcpStats.ping >= 1, JSON.stringify(mcpStats));
  assert.ok(mcpStats.deleted >= 1, 'probe sessions are closed');
  const hist = await srv.request('GET', '/api/health/hc-rest/history?limit=1', { headers: users.alice });
  assert.equal(hist.status, 200, hist.text);
  assert.equal(hist.json.items.length, 1);
  assert.equal(hist.json.items[0].connector, 'hc-rest');
  if (hist.json.next_cursor) {
    const more = await srv.request('GET', `/api/health/hc-rest/history?limit=1&cursor=${hist.json.next_cursor}`, { headers: users.alice });
    assert.equal(more.status, 200);
    assert.ok(Date.parse(more.json.items[0].checked_at) <= Date.parse(hist.json.items[0].checked_at));
  }
  assert.equal((await srv.request('GET', '/api/health/no-such/history', { headers: users.alice })).status, 404);
  assert.equal((await srv.request('GET', '/api/health/hc-rest/history?limit=0', { headers: users.alice })).status, 400);
  assert.equal((await srv.request('GET', '/api/health/hc-rest/history?cursor=zz', { headers: users.alice })).status, 400);
  assert.equal((await srv.request('GET', '/api/health')).status, 401);
});

test('POST /api/health/check probes right away and answers with the latest statuses', async () => {
  const before = mcpStats.initialize;
  const r = await srv.request('POST', '/api/health/check', { headers: users.bob });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.probed >= 2);
  assert.ok(mcpStats.initialize > before);
  assert.ok(r.json.items.some((i) => i.connector === 'hc-mcp' && i.status === 'healthy'));
});

test('a REST connector goes down and recovers: events, emails to users with a connection only', async () => {
  await waitStatus(users.alice, 'hc-rest', 'healthy');
  const stream = openStream(users.alice);
  await sleep(200);
  await rest.down();
  const down = await waitStatus(users.alice, 'hc-rest', 'down');
  assert.match(down.error, /refused|connect/i);
  const mail = await sink.waitFor((m) => m.to.includes('alice@example.com') && /Health REST is down/.test(m.subject));
  assert.equal(mail.from, 'alerts@tc.test');
  assert.match(mail.text, /Health REST \(hc-rest\) failed its health check/);
  assert.match(mail.text, /Content-Type: text\/html/);
  assert.match(mail.text, /<strong>Health REST<\/strong>/);
  assert.match(mail.text, /http:\/\/tc\.test/);
  await sleep(1100); // past the 1 s cooldown
  await rest.up();
  await waitStatus(users.alice, 'hc-rest', 'healthy');
  const back = await sink.waitFor((m) => m.to.includes('alice@example.com') && /Health REST has recovered/.test(m.subject));
  assert.match(back.text, /passed its health check again/);
  assert.equal(mailsFor('bob@example.com', /Health REST/).length, 0, 'bob has no connection to hc-rest');
  const end = Date.now() + 3000;
  while (!/"status":"healthy","previous_status":"down"/.test(stream.text()) && Date.now() < end) await sleep(50);
  stream.close();
  assert.match(stream.text(), /event: health\r?\n(id: \d+\r?\n)?data: \{"connector":"hc-rest","name":"Health REST","status":"down","previous_status":"healthy"/);
  assert.match(stream.text(), /"connector":"hc-rest"[^\n]*"status":"healthy","previous_status":"down"/);
});

test('an MCP connector goes down and recovers: both users hear about it', async () => {
  await waitStatus(users.bob, 'hc-mcp', 'healthy');
  await mcp.down();
  const down = await waitStatus(users.bob, 'hc-mcp', 'down');
  assert.match(down.error, /^initialize: /);
  for (const who of ['alice@example.com', 'bob@example.com']) {
    const m = await sink.waitFor((x) => x.to.includes(who) && /Health MCP is down/.test(x.subject));
    assert.deepEqual(m.to, [who]);
  }
  await sleep(1100);
  await mcp.up();
  await waitStatus(users.bob, 'hc-mcp', 'healthy');
  for (const who of ['alice@example.com', 'bob@example.com'])
    await sink.waitFor((x) => x.to.includes(who) && /Health MCP has recovered/.test(x.subject));
});

test('a 5xx answer is degraded (reachable), not down, and sends no alert', async () => {
  const before = mailsFor('alice@example.com', /Health REST/).length;
  restMode = 'error';
  const row = await waitStatus(users.alice, 'hc-rest', 'degraded');
  assert.match(row.error, /HTTP 503/);
  restMode = 'ok';
  await waitStatus(users.alice, 'hc-rest', 'healthy');
  await sleep(500);
  assert.equal(mailsFor('alice@example.com', /Health REST/).length, before);
});

test('with the mail server down the checker keeps working, and the alert arrives once it is back', async () => {
  await waitStatus(users.alice, 'hc-rest', 'healthy');
  const port = sink.port;
  await sink.stop();
  const t0 = Date.now();
  const before = mailsFor('alice@example.com', /Health REST is down/).length;
  await sleep(1100);
  await rest.down();
  await waitStatus(users.alice, 'hc-rest', 'down');
  // rounds go on: the history grows while mail cannot be sent
  const h1 = await srv.request('GET', '/api/health/hc-rest/history?limit=1', { headers: users.alice });
  await sleep(2200);
  const h2 = await srv.request('GET', '/api/health/hc-rest/history?limit=1', { headers: users.alice });
  assert.ok(Date.parse(h2.json.items[0].checked_at) > Date.parse(h1.json.items[0].checked_at));
  await srv.waitForLog((l) => l.msg === 'email send failed; will retry', 5000);
  const messages = sink.messages;
  sink = await startSmtpSink({ port });
  sink.messages.push(...messages);
  const m = await sink.waitFor((x) => x.to.includes('alice@example.com') && /Health REST is down/.test(x.subject) && x.at > t0, 15000);
  assert.match(m.text, /Health REST \(hc-rest\) failed/);
  assert.equal(mailsFor('alice@example.com', /Health REST is down/).length, before + 1);
  await rest.up();
  await waitStatus(users.alice, 'hc-rest', 'healthy');
});
