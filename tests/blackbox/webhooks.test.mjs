// Outgoing webhooks end to end: the real server delivering to a local
// receiver (node http on 127.0.0.1) that plays scripted answers; signatures
// checked with the reference `standardwebhooks` library from tests/peers.
// Retry delays, timeout and poll interval are shortened through TC_WEBHOOK_*
// settings so every case runs in about a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tmpDir } from './lib/server.mjs';
import { startStandin, standinConnector, writeCatalog, signup, connect, waitJob, sleep } from './lib/standin.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(process.env.TC_SOURCE_DIR ?? path.join(here, '..', '..'), 'tests', 'peers', 'package.json'));
const { Webhook } = require('standardwebhooks');

// ---- the receiver -------------------------------------------------------------
// Each endpoint is a path /hook/<name>. script(name, [...]) queues answers:
// a status number, {status, headers, body}, or 'hang' (never answers).
// Unscripted requests get 200.
function startReceiver() {
  const scripts = new Map();
  const got = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const name = req.url.split('/')[2] ?? '';
      const body = Buffer.concat(chunks).toString('utf8');
      if (!got.has(name)) got.set(name, []);
      got.get(name).push({ t: Date.now(), headers: req.headers, body, method: req.method });
      const step = scripts.get(name)?.shift() ?? 200;
      if (step === 'hang') return;
      const s = typeof step === 'number' ? { status: step } : step;
      res.writeHead(s.status, { 'Content-Type': 'text/plain', ...(s.headers ?? {}) });
      res.end(s.body ?? `answer ${s.status}`);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    script: (name, steps) => scripts.set(name, [...steps]),
    got: (name) => got.get(name) ?? [],
    async waitFor(name, n, timeoutMs = 8000) {
      const end = Date.now() + timeoutMs;
      while ((got.get(name) ?? []).length < n) {
        if (Date.now() > end) throw new Error(`receiver saw ${(got.get(name) ?? []).length} requests on ${name}, wanted ${n}`);
        await sleep(20);
      }
      return got.get(name);
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  })));
}

let recv;
let api;
let catalogDir;
let srv;
let alice;
let bob;

const FAST = {
  TC_ALLOW_PRIVATE_TARGETS: '1',
  TC_WEBHOOK_RETRY_BASE_MS: '150',
  TC_WEBHOOK_RETRY_MAX_MS: '1000',
  TC_WEBHOOK_MAX_ATTEMPTS: '3',
  TC_WEBHOOK_TIMEOUT_MS: '700',
  TC_WEBHOOK_POLL_MS: '100',
};

before(async () => {
  recv = await startReceiver();
  api = await startStandin();
  catalogDir = writeCatalog([standinConnector('stub', api.url)]);
  srv = await startServer({
    // A mail transport never reached (port 9): queued e-mails stay in the
    // notify outbox, where the test route shows them.
    env: { ...FAST, TC_CATALOG_PATH: catalogDir, TC_RATE_USER_PER_MIN: '1000', TC_RATE_CONNECTOR_PER_MIN: '1000',
      TC_SMTP_URL: 'smtp://127.0.0.1:9', TC_MAIL_FROM: 'alerts@tc.test', TC_NOTIFY_POLL_MS: '600000' },
  });
  alice = await signup(srv, 'alice@example.com');
  bob = await signup(srv, 'bob@example.com');
});

after(async () => {
  await srv?.stop();
  recv?.close();
  api?.close();
  if (catalogDir) fs.rmSync(catalogDir, { recursive: true, force: true });
});

async function createHook(s, user, name, extra = {}) {
  const r = await s.request('POST', '/api/webhooks', {
    headers: user,
    body: { url: `${recv.url}/hook/${name}`, description: `hook ${name}`, event_types: ['webhook.test'], enabled: true, ...extra },
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  return r.json;
}

async function sendTest(s, user, id) {
  const r = await s.request('POST', `/api/webhooks/${id}/test`, { headers: user });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.event_type, 'webhook.test');
  return r.json;
}

async function waitDelivery(s, user, hookId, deliveryId, pred, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.request('GET', `/api/webhooks/${hookId}/deliveries?limit=100`, { headers: user });
    assert.equal(r.status, 200, r.text);
    const d = r.json.items.find((x) => x.id === deliveryId);
    if (d && pred(d)) return d;
    if (Date.now() > end) throw new Error(`delivery ${deliveryId} did not reach the state: ${JSON.stringify(d)}`);
    await sleep(25);
  }
}

const done = (d) => d.status !== 'pending';

function verify(secret, req) {
  return new Webhook(secret).verify(req.body, {
    'webhook-id': req.headers['webhook-id'],
    'webhook-timestamp': req.headers['webhook-timestamp'],
    'webhook-signature': req.headers['webhook-signature'],
  });
}

// ---- endpoints -----------------------------------------------------------------

test('event types are listed', async () => {
  const r = await srv.request('GET', '/api/webhook-event-types', { headers: alice });
  assert.equal(r.status, 200, r.text);
  const names = r.json.items.map((t) => t.name);
  for (const n of ['job.succeeded', 'job.failed', 'job.canceled', 'connection.created', 'connection.expired',
    'connection.revoked', 'health.down', 'health.recovered', 'schedule.failed', 'webhook.test']) {
    assert.ok(names.includes(n), n);
  }
});

test('validation errors name the field; the secret is shown once and never logged', async () => {
  const bad = async (body, field, status = 422) => {
    const r = await srv.request('POST', '/api/webhooks', {
      headers: alice, body: { url: `${recv.url}/hook/v`, event_types: ['webhook.test'], ...body },
    });
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.error.field, field, r.text);
    return r.json.error;
  };
  await bad({ url: 'ftp://example.com/x' }, 'url');
  await bad({ url: 'https://user:pw@example.com/x' }, 'url');
  await bad({ url: 'not a url' }, 'url');
  await bad({ event_types: [] }, 'event_types');
  await bad({ event_types: ['job.succeeded', 'nope'] }, 'event_types.1');
  await bad({ event_types: ['job.failed', 'job.failed'] }, 'event_types.1');
  const t = await bad({ template: '{"a": {{data.x}' }, 'template');
  assert.match(t.message, /line 1, column 7/);
  await bad({ template: '{"a": 1,}' }, 'template');
  await bad({ headers: { 'X-Evil': 'a\r\nInjected: 1' } }, 'headers.X-Evil');
  await bad({ headers: { 'webhook-signature': 'v1,forged' } }, 'headers.webhook-signature');
  await bad({ headers: { 'Content-Type': 'text/plain' } }, 'headers.Content-Type');
  await bad({ headers: { 'Bad Name': 'x' } }, 'headers');
  await bad({ headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`X-H${i}`, 'v'])) }, 'headers');
  await bad({ headers: { 'X-Big': 'v'.repeat(1025) } }, 'headers.X-Big');
  await bad({ description: 'd'.repeat(501) }, 'description');
  await bad({ enabled: 'yes' }, 'enabled');
  await bad({ surprise: 1 }, 'surprise');

  const h = await createHook(srv, alice, 'valid', { headers: { 'X-Token': 'tok-1' } });
  const g = await srv.request('GET', `/api/webhooks/${h.id}`, { headers: alice });
  assert.equal(g.status, 200);
  assert.equal(g.json.secret, undefined);
  assert.ok(!g.text.includes(h.secret));
  const l = await srv.request('GET', '/api/webhooks', { headers: alice });
  assert.ok(!l.text.includes(h.secret));
  assert.ok(!srv.logs().includes(h.secret), 'the secret reached the logs');
  assert.ok(!srv.logs().includes(h.secret.slice(6)), 'the key reached the logs');
});

test('PATCH edits fields (template errors at save), DELETE removes, the list pages', async () => {
  const h = await createHook(srv, alice, 'edit');
  const p = await srv.request('PATCH', `/api/webhooks/${h.id}`, {
    headers: alice, body: { description: 'changed', event_types: ['job.failed', 'webhook.test'], template: '{"t": {{type}}}' },
  });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.description, 'changed');
  assert.deepEqual(p.json.event_types, ['job.failed', 'webhook.test']);
  assert.equal(p.json.template, '{"t": {{type}}}');
  assert.equal(p.json.url, h.url);
  const bad = await srv.request('PATCH', `/api/webhooks/${h.id}`, { headers: alice, body: { template: '{{' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.field, 'template');
  const off = await srv.request('PATCH', `/api/webhooks/${h.id}`, { headers: alice, body: { enabled: false, template: null } });
  assert.equal(off.json.enabled, false);
  assert.equal(off.json.template, null);
  const t = await srv.request('POST', `/api/webhooks/${h.id}/test`, { headers: alice });
  assert.equal(t.status, 409, 'a disabled endpoint gets no test event');

  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await createHook(srv, bob, `page${i}`)).id);
  const p1 = await srv.request('GET', '/api/webhooks?limit=2', { headers: bob });
  assert.equal(p1.json.items.length, 2);
  assert.ok(p1.json.next_cursor);
  const p2 = await srv.request('GET', `/api/webhooks?limit=2&cursor=${encodeURIComponent(p1.json.next_cursor)}`, { headers: bob });
  assert.equal(p2.json.next_cursor, null);
  assert.deepEqual([...p1.json.items, ...p2.json.items].map((x) => x.id).sort(), [...ids].sort());
  for (const id of ids) assert.equal((await srv.request('DELETE', `/api/webhooks/${id}`, { headers: bob })).status, 204);
  assert.equal((await srv.request('GET', `/api/webhooks/${ids[0]}`, { headers: bob })).status, 404);
  const bc = await srv.request('GET', '/api/webhooks?cursor=garbage', { headers: bob });
  assert.equal(bc.status, 400);
});

// ---- delivery --------------------------------------------------------------------

test('a test event arrives signed (standardwebhooks verifies it) with the custom headers', async () => {
  const h = await createHook(srv, alice, 'sig', { headers: { 'X-Token': 'tok-42', 'User-Agent': 'custom-agent' } });
  const d = await sendTest(srv, alice, h.id);
  const [req] = await recv.waitFor('sig', 1);
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['x-token'], 'tok-42');
  assert.equal(req.headers['user-agent'], 'custom-agent');
  assert.equal(req.headers['webhook-id'], d.webhook_message_id);
  const payload = verify(h.secret, req);
  assert.equal(payload.type, 'webhook.test');
  assert.equal(payload.data.webhook_id, h.id);
  assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(req.body, req.headers));
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'succeeded');
  assert.equal(fin.attempt_count, 1);
  assert.equal(fin.attempts[0].status_code, 200);
  assert.equal(fin.attempts[0].response_body, 'answer 200');
  assert.match(fin.attempts[0].response_headers, /^HTTP\/1\.1 200/);
  assert.ok(fin.attempts[0].duration_ms >= 0);
});

test('500 then success: retried with the same webhook-id, both attempts recorded', async () => {
  const h = await createHook(srv, alice, 'flaky');
  recv.script('flaky', [{ status: 500, body: 'x'.repeat(100000) }, 200]);
  const d = await sendTest(srv, alice, h.id);
  const reqs = await recv.waitFor('flaky', 2);
  assert.equal(reqs[0].headers['webhook-id'], reqs[1].headers['webhook-id']);
  assert.equal(reqs[0].body, reqs[1].body);
  assert.ok(reqs[1].t - reqs[0].t >= 120, `retried after ${reqs[1].t - reqs[0].t} ms`);
  verify(h.secret, reqs[1]);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'succeeded');
  assert.equal(fin.attempt_count, 2);
  const byNo = Object.fromEntries(fin.attempts.map((a) => [a.attempt, a]));
  assert.equal(byNo[1].status_code, 500);
  assert.equal(byNo[1].error, 'HTTP 500');
  assert.ok(byNo[1].response_body.length <= 4096, 'response bodies are capped');
  assert.equal(byNo[2].status_code, 200);
  const f = await srv.request('GET', `/api/webhooks/${h.id}/deliveries?status=failed`, { headers: alice });
  assert.equal(f.json.items.length, 0);
  const s = await srv.request('GET', `/api/webhooks/${h.id}/deliveries?status=succeeded&event_type=webhook.test`, { headers: alice });
  assert.equal(s.json.items.length, 1);
  const bad = await srv.request('GET', `/api/webhooks/${h.id}/deliveries?status=maybe`, { headers: alice });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'status');
});

test('400 is not retried; a manual retry sends it again', async () => {
  const h = await createHook(srv, alice, 'reject');
  recv.script('reject', [400]);
  const d = await sendTest(srv, alice, h.id);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'failed');
  assert.equal(fin.attempt_count, 1);
  assert.match(fin.last_error, /HTTP 400/);
  await sleep(500);
  assert.equal(recv.got('reject').length, 1, 'no retry after a 400');
  const again = await srv.request('POST', `/api/webhook-deliveries/${d.id}/retry`, { headers: alice });
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json.status, 'pending');
  const fin2 = await waitDelivery(srv, alice, h.id, d.id, (x) => x.status === 'succeeded');
  assert.equal(fin2.attempt_count, 2);
  const reqs = recv.got('reject');
  assert.equal(reqs[0].headers['webhook-id'], reqs[1].headers['webhook-id']);
  const twice = await srv.request('POST', `/api/webhook-deliveries/${d.id}/retry`, { headers: alice });
  assert.equal(twice.status, 202);
});

test('429 is retried no sooner than its Retry-After', async () => {
  const h = await createHook(srv, alice, 'slowdown');
  recv.script('slowdown', [{ status: 429, headers: { 'Retry-After': '1' } }, 200]);
  const d = await sendTest(srv, alice, h.id);
  const reqs = await recv.waitFor('slowdown', 2);
  const gap = reqs[1].t - reqs[0].t;
  assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After said 1 s`);
  assert.ok(gap < 3000, `retried after ${gap} ms`);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'succeeded');
});

test('every attempt failing: the delivery fails after the configured attempts', async () => {
  const h = await createHook(srv, alice, 'down');
  recv.script('down', [503, 503, 503, 503]);
  const d = await sendTest(srv, alice, h.id);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'failed');
  assert.equal(fin.attempt_count, 3);
  assert.match(fin.last_error, /every attempt failed/);
  await srv.waitForLog((l) => l.msg === 'webhook delivery failed' && l.delivery_id === d.id);
  const w = await srv.request('GET', `/api/webhooks/${h.id}`, { headers: alice });
  assert.ok(w.json.failing_since, 'the endpoint is marked failing');
  assert.equal(w.json.enabled, true);
});

test('410 Gone disables the endpoint with the reason and the owner gets an e-mail', async () => {
  const h = await createHook(srv, alice, 'gone');
  recv.script('gone', [410]);
  const d = await sendTest(srv, alice, h.id);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'failed');
  assert.equal(fin.attempt_count, 1);
  const w = await srv.request('GET', `/api/webhooks/${h.id}`, { headers: alice });
  assert.equal(w.json.enabled, false);
  assert.match(w.json.disabled_reason, /410/);
  assert.ok(w.json.disabled_at);
  const end = Date.now() + 3000;
  let mail = [];
  while (Date.now() < end) { // queued by the worker right after the disabling committed
    mail = (await srv.request('GET', '/api/_test/notifications', { headers: alice })).json.items
      .filter((m) => m.kind === 'webhook.disabled');
    if (mail.length) break;
    await sleep(25);
  }
  assert.equal(mail.length, 1, 'the owner is told by e-mail (notify outbox)');
  assert.equal(mail[0].subject, 'Webhook endpoint disabled');
  const t = await srv.request('POST', `/api/webhooks/${h.id}/test`, { headers: alice });
  assert.equal(t.status, 409);
  const r = await srv.request('POST', `/api/webhook-deliveries/${d.id}/retry`, { headers: alice });
  assert.equal(r.status, 409);
  const on = await srv.request('PATCH', `/api/webhooks/${h.id}`, { headers: alice, body: { enabled: true } });
  assert.equal(on.json.enabled, true);
  assert.equal(on.json.disabled_reason, null);
});

test('a receiver that does not answer times out and the retry succeeds', async () => {
  const h = await createHook(srv, alice, 'hang');
  recv.script('hang', ['hang', 200]);
  const d = await sendTest(srv, alice, h.id);
  const fin = await waitDelivery(srv, alice, h.id, d.id, done);
  assert.equal(fin.status, 'succeeded');
  assert.equal(fin.attempt_count, 2);
  const first = fin.attempts.find((a) => a.attempt === 1);
  assert.equal(first.status_code, null);
  assert.match(first.error, /timed out/);
  assert.ok(first.duration_ms >= 600 && first.duration_ms < 3000, `first attempt took ${first.duration_ms} ms`);
});

test('template rendering end to end (values JSON-escaped, signature over the rendered body)', async () => {
  const template = '{"text": "Event {{type}} for {{data.webhook_id}}: {{data.message}}", "data": {{data}}, "missing": {{data.nope}}}';
  const h = await createHook(srv, alice, 'tpl', { template });
  await sendTest(srv, alice, h.id);
  const [req] = await recv.waitFor('tpl', 1);
  const body = verify(h.secret, req);
  assert.equal(body.text, `Event webhook.test for ${h.id}: This is a test event from Tool Connect Craft.`);
  assert.equal(body.data.webhook_id, h.id);
  assert.equal(body.missing, null);
  assert.equal(Object.keys(body).length, 3);
});

test('rotation: during the overlap both secrets verify the same message', async () => {
  const h = await createHook(srv, alice, 'rot');
  const r = await srv.request('POST', `/api/webhooks/${h.id}/rotate-secret`, { headers: alice });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.secret, h.secret);
  const exp = Date.parse(r.json.previous_secret_expires_at) - Date.now();
  assert.ok(exp > 23.9 * 3600e3 && exp <= 24 * 3600e3, `overlap ${exp} ms`);
  await sendTest(srv, alice, h.id);
  const [req] = await recv.waitFor('rot', 1);
  assert.equal(req.headers['webhook-signature'].split(' ').length, 2);
  verify(r.json.secret, req);
  verify(h.secret, req);
  assert.ok(!srv.logs().includes(r.json.secret));
  const g = await srv.request('GET', `/api/webhooks/${h.id}`, { headers: alice });
  assert.ok(!g.text.includes(r.json.secret));
});

test('a job that finishes delivers job.succeeded through the outbox', async () => {
  const conn = await connect(srv, alice, 'stub', 'sk_test_KEY_123456');
  const h = await createHook(srv, alice, 'jobs', { event_types: ['job.succeeded', 'job.failed'] });
  const r = await srv.request('POST', '/api/connectors/stub/tools/data/execute', {
    headers: alice, body: { connection_id: conn, arguments: {} },
  });
  assert.equal(r.status, 200, r.text);
  await waitJob(srv, alice, r.json.job.id);
  const [req] = await recv.waitFor('jobs', 1);
  const body = verify(h.secret, req);
  assert.equal(body.type, 'job.succeeded');
  assert.equal(body.data.id, r.json.job.id);
  assert.equal(body.data.status, 'succeeded');
  assert.ok(!req.body.includes('sk_test_KEY_123456'));
});

test('cross-user isolation: someone else\'s endpoints and deliveries are 404', async () => {
  const h = await createHook(srv, alice, 'mine');
  const d = await sendTest(srv, alice, h.id);
  await waitDelivery(srv, alice, h.id, d.id, done);
  const calls = [
    ['GET', `/api/webhooks/${h.id}`], ['PATCH', `/api/webhooks/${h.id}`, { description: 'pwned' }],
    ['DELETE', `/api/webhooks/${h.id}`], ['POST', `/api/webhooks/${h.id}/test`],
    ['POST', `/api/webhooks/${h.id}/rotate-secret`], ['GET', `/api/webhooks/${h.id}/deliveries`],
    ['POST', `/api/webhook-deliveries/${d.id}/retry`], ['GET', '/api/webhooks/not-a-uuid'],
  ];
  for (const [m, p, body] of calls) {
    const r = await srv.request(m, p, { headers: bob, body });
    assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
  }
  const l = await srv.request('GET', '/api/webhooks', { headers: bob });
  assert.ok(!l.json.items.some((x) => x.id === h.id));
  const still = await srv.request('GET', `/api/webhooks/${h.id}`, { headers: alice });
  assert.equal(still.json.description, 'hook mine');
  const anon = await srv.request('GET', '/api/webhooks');
  assert.equal(anon.status, 401);
});

// ---- other server settings ---------------------------------------------------------

test('without TC_ALLOW_PRIVATE_TARGETS: https only, private and loopback targets refused', async () => {
  const s = await startServer({});
  try {
    const u = await signup(s, 'carol@example.com');
    const post = (url) => s.request('POST', '/api/webhooks', { headers: u, body: { url, event_types: ['webhook.test'] } });
    for (const url of ['http://example.com/h', 'https://127.0.0.1/h', 'https://10.1.2.3/h', 'https://[::1]/h',
      'https://localhost/h', 'https://169.254.169.254/latest']) {
      const r = await post(url);
      assert.equal(r.status, 422, `${url}: ${r.text}`);
      assert.equal(r.json.error.field, 'url');
    }
    const ok = await post('https://hooks.example.com/in');
    assert.equal(ok.status, 201, ok.text);
  } finally {
    await s.stop();
  }
});

test('restart in the middle of the retries resumes them (SIGKILL, same data dir)', async () => {
  const dataDir = tmpDir('tc-wh-restart-');
  const env = { ...FAST, TC_WEBHOOK_MAX_ATTEMPTS: '5', TC_WEBHOOK_RETRY_BASE_MS: '1200', TC_WEBHOOK_RETRY_MAX_MS: '1200' };
  let s = await startServer({ env, dataDir });
  try {
    const u = await signup(s, 'dave@example.com');
    const h = await createHook(s, u, 'restart');
    recv.script('restart', [500, 200]);
    const d = await sendTest(s, u, h.id);
    await recv.waitFor('restart', 1);
    await sleep(100); // the first attempt is recorded
    await s.stop({ signal: 'SIGKILL', expectClean: false, keepDir: true });
    assert.equal(recv.got('restart').length, 1);
    s = await startServer({ env, dataDir });
    const reqs = await recv.waitFor('restart', 2, 6000);
    assert.equal(reqs[1].headers['webhook-id'], reqs[0].headers['webhook-id']);
    verify(h.secret, reqs[1]);
    const login = await s.request('POST', '/api/auth/login', { body: { email: 'dave@example.com', password: 'correct horse battery' } });
    const u2 = { Authorization: `Bearer ${login.json.access_token}` };
    const fin = await waitDelivery(s, u2, h.id, d.id, done);
    assert.equal(fin.status, 'succeeded');
    assert.equal(fin.attempt_count, 2);
    await sleep(300);
    assert.equal(recv.got('restart').length, 2, 'sent once more, not twice');
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an endpoint failing for longer than TC_WEBHOOK_DISABLE_AFTER_MS is disabled with the reason', async () => {
  const s = await startServer({
    env: { ...FAST, TC_WEBHOOK_MAX_ATTEMPTS: '50', TC_WEBHOOK_RETRY_BASE_MS: '100', TC_WEBHOOK_RETRY_MAX_MS: '100',
      TC_WEBHOOK_DISABLE_AFTER_MS: '600' },
  });
  try {
    const u = await signup(s, 'erin@example.com');
    const h = await createHook(s, u, 'dead');
    recv.script('dead', Array(50).fill(500));
    const d = await sendTest(s, u, h.id);
    const fin = await waitDelivery(s, u, h.id, d.id, done);
    assert.equal(fin.status, 'failed');
    assert.ok(fin.attempt_count >= 3 && fin.attempt_count < 50, `${fin.attempt_count} attempts`);
    const w = await s.request('GET', `/api/webhooks/${h.id}`, { headers: u });
    assert.equal(w.json.enabled, false);
    assert.match(w.json.disabled_reason, /failed since/);
    await s.waitForLog((l) => l.msg === 'webhook endpoint disabled' && l.webhook_id === h.id);
  } finally {
    await s.stop();
  }
});
