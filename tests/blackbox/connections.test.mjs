// Catalog, custom connectors and connections against the real server, with a
// local stand-in for a provider's credential-verification endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pgDump, startServer, tmpDir } from './lib/server.mjs';

const GOOD_KEY = 'sk_test_GOODKEY_5d1c9a7e3b';
const BAD_KEY = 'sk_test_BADKEY_00000000';
let provider;        // stand-in provider
let providerUrl;
let acceptedKey = GOOD_KEY;
let srv;
let catalogDir;

function startProvider() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      if (req.url === '/v1/slow') return; // never answers
      const auth = req.headers.authorization || '';
      if (req.url === '/v1/check' && auth === `Bearer ${acceptedKey}`) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end('{"ok":true}');
      }
      // Echoes the presented key, as careless providers do: it must not
      // reach our answers or logs.
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid api key', got: auth }));
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

function connectorFile(slug, verifyPath, baseUrl) {
  return {
    slug, name: `Stand-in ${slug}`, description: 'local provider for tests', category: 'testing',
    base_url: baseUrl,
    auth: { type: 'api_key', verify: { method: 'GET', path: verifyPath } },
    tools: [{ name: 'ping', description: 'ping', input_schema: { type: 'object' }, request: { method: 'GET', path: '/v1/ping' } }],
  };
}

async function signup(email) {
  const r = await srv.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

let alice;
let bob;

before(async () => {
  provider = await startProvider();
  providerUrl = `http://127.0.0.1:${provider.address().port}`;
  catalogDir = tmpDir('tc-catalog-');
  const files = {
    'standin.json': connectorFile('standin', '/v1/check', providerUrl),
    'standin-slow.json': connectorFile('standin-slow', '/v1/slow', providerUrl),
    'standin-down.json': connectorFile('standin-down', '/v1/check', 'http://127.0.0.1:9'),
  };
  for (const [n, doc] of Object.entries(files)) fs.writeFileSync(path.join(catalogDir, n), JSON.stringify(doc));
  srv = await startServer({
    env: { TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_PROVIDER_TIMEOUT_MS: '1500' },
  });
  alice = await signup('alice@example.com');
  bob = await signup('bob@example.com');
});

after(async () => {
  await srv?.stop();
  provider?.close();
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

test('catalog lists the shipped connectors with filters, search and pages', async () => {
  const all = await srv.request('GET', '/api/connectors?limit=200');
  assert.equal(all.status, 200);
  const slugs = all.json.items.map((c) => c.slug);
  for (const s of ['github', 'gmail', 'google-calendar', 'google-drive', 'slack', 'notion', 'airtable',
    'linear', 'jira', 'stripe', 'openai', 'rest', 'standin']) assert.ok(slugs.includes(s), s);
  const gh = all.json.items.find((c) => c.slug === 'github');
  assert.equal(gh.auth_type, 'oauth2');
  assert.ok(gh.tool_count >= 3);
  assert.equal(gh.source, 'catalog');

  const keyed = await srv.request('GET', '/api/connectors?auth_type=api_key&limit=200');
  assert.ok(keyed.json.items.every((c) => c.auth_type === 'api_key'));
  assert.ok(keyed.json.items.some((c) => c.slug === 'stripe'));

  const cat = await srv.request('GET', '/api/connectors?category=payments');
  assert.deepEqual(cat.json.items.map((c) => c.slug), ['stripe']);

  const q = await srv.request('GET', '/api/connectors?q=CALENDAR');
  assert.deepEqual(q.json.items.map((c) => c.slug), ['google-calendar']);

  const wild = await srv.request('GET', '/api/connectors?q=%25');
  assert.equal(wild.json.items.length, 0, 'LIKE wildcards are literal');

  const p1 = await srv.request('GET', '/api/connectors?limit=5');
  assert.equal(p1.json.items.length, 5);
  assert.ok(p1.json.next_cursor);
  const p2 = await srv.request('GET', `/api/connectors?limit=5&cursor=${encodeURIComponent(p1.json.next_cursor)}`);
  assert.equal(p2.json.items[0].slug > p1.json.items[4].slug, true);

  const bad = await srv.request('GET', '/api/connectors?limit=0');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'limit');
  const badType = await srv.request('GET', '/api/connectors?auth_type=magic');
  assert.equal(badType.status, 400);
  assert.equal(badType.json.error.field, 'auth_type');
});

test('one connector with its tools and schemas; categories', async () => {
  const r = await srv.request('GET', '/api/connectors/github');
  assert.equal(r.status, 200);
  const tool = r.json.tools.find((t) => t.name === 'create_issue');
  assert.deepEqual(tool.input_schema.required, ['owner', 'repo', 'title']);
  assert.equal(tool.source, 'rest');
  assert.equal(r.json.auth.type, 'oauth2');
  const missing = await srv.request('GET', '/api/connectors/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'not_found');
  const cats = await srv.request('GET', '/api/categories');
  assert.ok(cats.json.items.some((c) => c.category === 'payments' && c.count === 1));
});

test('connecting with a key the provider accepts stores it encrypted and never echoes it', async () => {
  const r = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'standin', label: 'main', credentials: { api_key: GOOD_KEY } },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, 'active');
  assert.equal(r.json.connector, 'standin');
  assert.equal(r.json.label, 'main');
  assert.equal(r.json.verified, true);
  assert.ok(!r.text.includes(GOOD_KEY));
  const list = await srv.request('GET', '/api/connections', { headers: alice });
  assert.equal(list.json.items.length, 1);
  assert.ok(!list.text.includes(GOOD_KEY));
  const one = await srv.request('GET', `/api/connections/${r.json.id}`, { headers: alice });
  assert.equal(one.json.id, r.json.id);
});

test('a rejected key is reported with the provider answer and nothing is stored', async () => {
  const before = await srv.request('GET', '/api/connections', { headers: bob });
  const r = await srv.request('POST', '/api/connections', {
    headers: bob, body: { connector: 'standin', credentials: { api_key: BAD_KEY } },
  });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'credentials_rejected');
  assert.match(r.json.error.message, /HTTP 401/);
  assert.ok(!r.text.includes(BAD_KEY), 'the echoed key is blotted out');
  const afterList = await srv.request('GET', '/api/connections', { headers: bob });
  assert.equal(afterList.json.items.length, before.json.items.length);
});

test('provider down or slow: a clear error in bounded time', async () => {
  let t0 = Date.now();
  const down = await srv.request('POST', '/api/connections', {
    headers: bob, body: { connector: 'standin-down', credentials: { api_key: GOOD_KEY } },
  });
  assert.equal(down.status, 502, down.text);
  assert.equal(down.json.error.code, 'provider_unreachable');
  assert.ok(Date.now() - t0 < 5000);
  t0 = Date.now();
  const slow = await srv.request('POST', '/api/connections', {
    headers: bob, body: { connector: 'standin-slow', credentials: { api_key: GOOD_KEY } },
  });
  assert.equal(slow.status, 504, slow.text);
  assert.ok(Date.now() - t0 < 5000, 'TC_PROVIDER_TIMEOUT_MS bounds the wait');
});

test('bad bodies name the field', async () => {
  const cases = [
    [{ credentials: { api_key: 'x' } }, 'connector'],
    [{ connector: 'standin', credentials: {} }, 'credentials.api_key'],
    [{ connector: 'standin', credentials: { api_key: 5 } }, 'credentials.api_key'],
    [{ connector: 'standin', credentials: { api_key: 'x', password: 'y' } }, 'credentials'],
    [{ connector: 'standin', label: 'x'.repeat(101), credentials: { api_key: 'x' } }, 'label'],
    [{ connector: 'github', credentials: {} }, 'connector'],
  ];
  for (const [body, field] of cases) {
    const r = await srv.request('POST', '/api/connections', { headers: alice, body });
    assert.equal(r.status, 422, `${JSON.stringify(body)} -> ${r.text}`);
    assert.equal(r.json.error.field, field, JSON.stringify(body));
  }
  const unknown = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'nope', credentials: {} },
  });
  assert.equal(unknown.status, 404);
});

test('test re-verifies, a revoked key turns the connection to error, disconnect keeps history', async () => {
  const c = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'standin', label: 'second', credentials: { api_key: GOOD_KEY } },
  });
  const id = c.json.id;
  let t = await srv.request('POST', `/api/connections/${id}/test`, { headers: alice });
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json.test.ok, true);
  assert.equal(t.json.status, 'active');
  acceptedKey = 'rotated-by-provider';
  t = await srv.request('POST', `/api/connections/${id}/test`, { headers: alice });
  acceptedKey = GOOD_KEY;
  assert.equal(t.status, 200);
  assert.equal(t.json.test.ok, false);
  assert.equal(t.json.status, 'error');
  assert.match(t.json.status_reason, /rejected/);
  assert.ok(!t.text.includes(GOOD_KEY));

  const d = await srv.request('DELETE', `/api/connections/${id}`, { headers: alice });
  assert.equal(d.status, 204);
  const g = await srv.request('GET', `/api/connections/${id}`, { headers: alice });
  assert.equal(g.json.status, 'revoked');
  const again = await srv.request('POST', `/api/connections/${id}/test`, { headers: alice });
  assert.equal(again.status, 409);
});

test('another user sees 404 for every connection operation', async () => {
  const c = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'standin', credentials: { api_key: GOOD_KEY } },
  });
  const id = c.json.id;
  for (const [m, p] of [['GET', `/api/connections/${id}`], ['POST', `/api/connections/${id}/test`],
    ['DELETE', `/api/connections/${id}`]]) {
    const r = await srv.request(m, p, { headers: bob });
    assert.equal(r.status, 404, `${m} ${p}`);
  }
  const list = await srv.request('GET', '/api/connections', { headers: bob });
  assert.ok(!list.json.items.some((x) => x.id === id));
  const still = await srv.request('GET', `/api/connections/${id}`, { headers: alice });
  assert.equal(still.json.status, 'active');
});

test('custom connectors are private to their owner', async () => {
  const body = {
    slug: 'my-api', name: 'My API', auth_type: 'none', base_url: providerUrl,
    tools: [{ name: 'hello', input_schema: { type: 'object', properties: { n: { type: 'integer' } } },
      request: { method: 'GET', path: '/hello', query: { n: '{n}' } } }],
  };
  const r = await srv.request('POST', '/api/connectors', { headers: alice, body });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.source, 'custom');
  assert.equal(r.json.tools[0].name, 'hello');
  const dup = await srv.request('POST', '/api/connectors', { headers: alice, body });
  assert.equal(dup.status, 409);
  const clash = await srv.request('POST', '/api/connectors', { headers: alice, body: { ...body, slug: 'github' } });
  assert.equal(clash.status, 409);
  assert.equal(clash.json.error.field, 'slug');

  assert.equal((await srv.request('GET', '/api/connectors/my-api', { headers: bob })).status, 404);
  assert.equal((await srv.request('GET', '/api/connectors/my-api')).status, 404);
  const bobList = await srv.request('GET', '/api/connectors?limit=200', { headers: bob });
  assert.ok(!bobList.json.items.some((c) => c.slug === 'my-api'));
  assert.equal((await srv.request('DELETE', '/api/connectors/my-api', { headers: bob })).status, 404);

  const conn = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'my-api', credentials: {} },
  });
  assert.equal(conn.status, 201, conn.text);
  assert.equal(conn.json.status, 'active');
  assert.equal((await srv.request('DELETE', '/api/connectors/my-api', { headers: alice })).status, 204);

  const stdio = await srv.request('POST', '/api/connectors', {
    headers: alice, body: { slug: 'local', name: 'Local', auth_type: 'none', mcp_command: ['node', 'x.js'] },
  });
  assert.equal(stdio.status, 403);
  assert.match(stdio.json.error.message, /TC_ALLOW_STDIO/);

  const badTool = await srv.request('POST', '/api/connectors', {
    headers: alice, body: { ...body, slug: 'bad-tool', tools: [{ name: 'x', input_schema: { type: 'object' }, request: { method: 'FETCH', path: '/x' } }] },
  });
  assert.equal(badTool.status, 422);
  assert.equal(badTool.json.error.field, 'tools[0].request.method');

  const noTarget = await srv.request('POST', '/api/connectors', { headers: alice, body: { slug: 'x1', name: 'X', auth_type: 'none' } });
  assert.equal(noTarget.status, 422);
});

test('no raw secret in the database file or the logs', async () => {
  if (srv.pg) {
    // PostgreSQL: no file to read; a data-only pg_dump shows every row (text
    // as is, bytea as hex), so look for the key in both forms.
    const dump = pgDump(srv);
    for (const key of [GOOD_KEY, BAD_KEY]) {
      assert.ok(!dump.includes(Buffer.from(key)), 'the dump holds a raw key');
      assert.ok(!dump.includes(Buffer.from(Buffer.from(key).toString('hex'))), 'the dump holds a raw key as bytea');
    }
    assert.ok(dump.includes(Buffer.from('COPY public.user_connections')), 'pg_dump saw the connections table');
  } else {
    const files = fs.readdirSync(srv.dataDir).filter((f) => f.startsWith('toolconnect.db'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(srv.dataDir, f));
      assert.ok(!bytes.includes(Buffer.from(GOOD_KEY)), `${f} holds the raw key`);
      assert.ok(!bytes.includes(Buffer.from(BAD_KEY)), `${f} holds the rejected key`);
    }
  }
  assert.ok(!srv.logs().includes(GOOD_KEY));
  assert.ok(!srv.logs().includes(BAD_KEY));
});

// Opens GET /api/stream; `events` resolves once `count` messages of kind
// arrived, `ready` once the stream is open.
function streamEvents(headers, kind, count, timeoutMs = 10000) {
  let opened;
  const ready = new Promise((r) => { opened = r; });
  const events = new Promise((resolve, reject) => {
    const got = [];
    const req = http.request(`${srv.url}/api/stream?kinds=${kind}`, { headers }, (res) => {
      assert.equal(res.statusCode, 200);
      opened();
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (ev === kind && data) got.push(JSON.parse(data));
          if (got.length >= count) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => { if (got.length < count) reject(e); });
    setTimeout(() => { req.destroy(); reject(new Error(`only ${got.length} ${kind} events`)); }, timeoutMs);
    req.end();
  });
  return { events, ready };
}

test('connection changes reach the live stream of their owner', async () => {
  const { events, ready } = streamEvents(alice, 'connection', 2);
  await ready;
  const c = await srv.request('POST', '/api/connections', {
    headers: alice, body: { connector: 'standin', label: 'live', credentials: { api_key: GOOD_KEY } },
  });
  assert.equal(c.status, 201);
  await srv.request('DELETE', `/api/connections/${c.json.id}`, { headers: alice });
  const got = await events;
  assert.deepEqual(got.map((e) => [e.id, e.status]), [[c.json.id, 'active'], [c.json.id, 'revoked']]);
  assert.ok(!JSON.stringify(got).includes(GOOD_KEY));
});

test('the administrator switches catalog connectors off and on for everyone', async () => {
  // alice signed up first: she is the administrator.
  const notAdmin = await srv.request('PUT', '/api/admin/connectors/stripe', { headers: bob, body: { enabled: false } });
  assert.equal(notAdmin.status, 403);
  const bad = await srv.request('PUT', '/api/admin/connectors/stripe', { headers: alice, body: { enabled: 'no' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.field, 'enabled');
  const missing = await srv.request('PUT', '/api/admin/connectors/nope', { headers: alice, body: { enabled: false } });
  assert.equal(missing.status, 404);

  const off = await srv.request('PUT', '/api/admin/connectors/stripe', { headers: alice, body: { enabled: false } });
  assert.equal(off.status, 200, off.text);
  assert.equal((await srv.request('GET', '/api/connectors/stripe', { headers: bob })).status, 404);
  const list = await srv.request('GET', '/api/connectors?limit=200', { headers: bob });
  assert.ok(!list.json.items.some((c) => c.slug === 'stripe'));
  const conn = await srv.request('POST', '/api/connections', { headers: bob, body: { connector: 'stripe', credentials: { api_key: 'x' } } });
  assert.equal(conn.status, 404);

  const on = await srv.request('PUT', '/api/admin/connectors/stripe', { headers: alice, body: { enabled: true } });
  assert.equal(on.status, 200);
  assert.equal((await srv.request('GET', '/api/connectors/stripe', { headers: bob })).status, 200);
});
