// The HTTP email API transport (TC_EMAIL_API_URL + TC_EMAIL_API_KEY, a
// Resend-style JSON POST with a bearer key) against a local receiver: a
// health alert reaches it with the key and the body {from, to, subject,
// text, html}; a 500 is retried until it is accepted; a refusal (401) is
// final, not retried; the key never shows in the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, tmpDir } from './lib/server.mjs';

const KEY = 're_test_0123456789abcdefSECRET';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The email API stand-in: records every request; answers per `mode`.
const seen = [];
let mode = 'ok'; // 'ok' | 'fail-once' | 'refuse'
let api;
let apiUrl;

function startApi() {
  return new Promise((resolve) => {
    api = http.createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const entry = { method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body };
      seen.push(entry);
      if (req.headers.authorization !== `Bearer ${KEY}`) { res.writeHead(401); return res.end('{"message":"bad key"}'); }
      if (mode === 'refuse') { res.writeHead(422); return res.end('{"message":"invalid from"}'); }
      if (mode === 'fail-once' && !seen.some((s) => s !== entry && s.body?.subject === body?.subject && s.status === 500)) {
        entry.status = 500;
        res.writeHead(500);
        return res.end('{"message":"try later"}');
      }
      entry.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"id":"em_1"}');
    });
    api.listen(0, '127.0.0.1', () => {
      apiUrl = `http://127.0.0.1:${api.address().port}/emails`;
      resolve();
    });
  });
}

let srv;
let dir;
let h;

async function signup(email) {
  const r = await srv.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

// A REST connector whose URL is a closed port: each check finds it down.
function connector(slug, name) {
  return {
    slug, name, description: 'stand-in', category: 'testing', base_url: 'http://127.0.0.1:9/api', auth: { type: 'none' },
    tools: [{ name: 'ping', description: 'ping', input_schema: { type: 'object' }, request: { method: 'GET', path: '/ping' } }],
  };
}

async function waitFor(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; seen ${JSON.stringify(seen.map((s) => [s.status, s.body?.subject]))}`);
    await sleep(100);
  }
}

before(async () => {
  await startApi();
  dir = tmpDir('tc-notify-http-');
  for (const [slug, name] of [['em-a', 'Mail <A> & Co'], ['em-b', 'Mail B'], ['em-c', 'Mail C']])
    fs.writeFileSync(path.join(dir, `${slug}.json`), JSON.stringify(connector(slug, name)));
  srv = await startServer({
    env: {
      TC_CATALOG_PATH: dir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_HEALTH_INTERVAL_S: '0', TC_HEALTH_TIMEOUT_MS: '1000',
      TC_EMAIL_API_URL: apiUrl, TC_EMAIL_API_KEY: KEY, TC_MAIL_FROM: 'Tool Connect <alerts@tc.test>',
      TC_NOTIFY_POLL_MS: '200', TC_NOTIFY_RETRY_BASE_MS: '300', TC_PUBLIC_URL: 'http://tc.test',
    },
  });
  h = await signup('mail-user@example.com');
});

after(async () => {
  await srv?.stop();
  await new Promise((r) => (api ? api.close(r) : r()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function connectAndCheck(slug) {
  const c = await srv.request('POST', '/api/connections', { headers: h, body: { connector: slug, label: slug, credentials: {} } });
  assert.equal(c.status, 201, c.text);
  const r = await srv.request('POST', '/api/health/check', { headers: h });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items.find((i) => i.connector === slug)?.status, 'down');
}

test('an alert is posted as JSON with the bearer key: from, to, subject, text, html', async () => {
  mode = 'ok';
  await connectAndCheck('em-a');
  const got = await waitFor(() => seen.find((s) => s.status === 200 && /Mail <A>/.test(s.body?.subject || '')), 'the em-a alert');
  assert.equal(got.method, 'POST');
  assert.equal(got.url, '/emails');
  assert.equal(got.auth, `Bearer ${KEY}`);
  assert.match(got.type, /^application\/json/);
  assert.deepEqual(Object.keys(got.body).sort(), ['from', 'html', 'subject', 'text', 'to']);
  assert.equal(got.body.from, 'Tool Connect <alerts@tc.test>');
  assert.deepEqual(got.body.to, ['mail-user@example.com']);
  assert.match(got.body.subject, /down/i);
  assert.ok(!/[\r\n]/.test(got.body.subject));
  assert.match(got.body.text, /Mail <A> & Co/);
  assert.match(got.body.html, /Mail &lt;A&gt; &amp; Co/, 'values are HTML-escaped in the HTML body');
  assert.ok(!/Mail <A>/.test(got.body.html));
  assert.match(got.body.text, /http:\/\/tc\.test/);
});

test('a 500 from the API is retried until it is accepted, with the same message', async () => {
  mode = 'fail-once';
  await connectAndCheck('em-b');
  const failed = await waitFor(() => seen.find((s) => s.status === 500 && /Mail B/.test(s.body?.subject || '')), 'the failed attempt');
  const ok = await waitFor(() => seen.find((s) => s.status === 200 && /Mail B/.test(s.body?.subject || '')), 'the retry');
  assert.deepEqual(ok.body, failed.body);
  assert.equal(seen.filter((s) => /Mail B/.test(s.body?.subject || '')).length, 2, 'sent once more, not again after success');
  await srv.waitForLog(/email send failed; will retry/, 10000);
});

test('a refusal (4xx) is final: not retried; the key is never logged', async () => {
  mode = 'refuse';
  await connectAndCheck('em-c');
  await waitFor(() => seen.find((s) => /Mail C/.test(s.body?.subject || '')), 'the refused attempt');
  await srv.waitForLog(/email failed for good/, 10000);
  await sleep(1200); // several poll and retry periods
  assert.equal(seen.filter((s) => /Mail C/.test(s.body?.subject || '')).length, 1);
  assert.ok(!srv.logs().includes(KEY), 'the API key is not in the logs');
  assert.ok(!srv.logs().includes('SECRET'));
});
