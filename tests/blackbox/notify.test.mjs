// Notification preferences (GET/PUT shape and validation) and how they are
// honoured by health alerts: email off, alert types, quiet hours in the
// user's time zone (held, not sent), the digest (one email for several
// alerts); and the per-connector cooldown, which holds across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, tmpDir } from './lib/server.mjs';
import { startSmtpSink } from '../peers/servers/smtp-sink.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function switchable() {
  const sockets = new Set();
  let server;
  let port = 0;
  return {
    get port() { return port; },
    async up() {
      server = http.createServer((req, res) => { res.writeHead(200); res.end('ok'); });
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
      await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
      port = server.address().port;
    },
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const peerA = switchable();
const peerF = switchable();
let srv;
let sink;
let catalogDir;
let dataDir;
let env;
const u = {};

const restConnector = (slug, name, url) => ({
  slug, name, description: 'stand-in', category: 'testing', base_url: url, auth: { type: 'none' },
  tools: [{ name: 'ping', description: 'ping', input_schema: { type: 'object' }, request: { method: 'GET', path: '/ping' } }],
});

async function signup(email) {
  const r = await srv.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

async function connect(h, connector) {
  const r = await srv.request('POST', '/api/connections', { headers: h, body: { connector, label: connector, credentials: {} } });
  assert.equal(r.status, 201, r.text);
}

async function putPrefs(h, body) {
  const r = await srv.request('PUT', '/api/notification-preferences', { headers: h, body });
  return r;
}

async function waitStatus(h, slug, status, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await srv.request('GET', '/api/health', { headers: h });
    const row = r.json?.items?.find((i) => i.connector === slug);
    if (row && row.status === status) return row;
    if (Date.now() > end) throw new Error(`${slug} never became ${status}; last ${JSON.stringify(row)}`);
    await sleep(100);
  }
}

const mails = (addr, re) => sink.messages.filter((m) => m.to.includes(addr) && re.test(m.subject));

before(async () => {
  await peerA.up();
  await peerF.up();
  sink = await startSmtpSink();
  catalogDir = tmpDir('tc-notify-catalog-');
  dataDir = tmpDir('tc-notify-data-');
  const files = {
    'nt-a.json': restConnector('nt-a', 'NT A', `http://127.0.0.1:${peerA.port}/a`),
    'nt-b.json': restConnector('nt-b', 'NT B', `http://127.0.0.1:${peerA.port}/b`),
    'nt-flap.json': restConnector('nt-flap', 'NT Flap', `http://127.0.0.1:${peerF.port}/f`),
  };
  for (const [n, doc] of Object.entries(files)) fs.writeFileSync(path.join(catalogDir, n), JSON.stringify(doc));
  env = {
    TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1',
    TC_HEALTH_INTERVAL_S: '1', TC_HEALTH_TIMEOUT_MS: '2000',
    TC_SMTP_URL: sink.url.replace('smtp://', 'smtp://mailer:s3cret%21@'), TC_MAIL_FROM: 'alerts@tc.test',
    TC_NOTIFY_POLL_MS: '200', TC_NOTIFY_DIGEST_S: '3',
  };
  srv = await startServer({ env, dataDir });
  for (const n of ['one', 'off', 'types', 'quiet', 'digest', 'bob']) u[n] = await signup(`${n}@example.com`);
});

after(async () => {
  await srv?.stop();
  await sink?.stop();
  await peerA.down().catch(() => {});
  await peerF.down().catch(() => {});
  fs.rmSync(catalogDir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('preferences: defaults, full and partial updates, validation naming the field, per user', async () => {
  const d = await srv.request('GET', '/api/notification-preferences', { headers: u.bob });
  assert.equal(d.status, 200, d.text);
  assert.deepEqual({ ...d.json, available_alert_types: undefined }, {
    email_enabled: true, alert_types: [], timezone: 'UTC', quiet_start: null, quiet_end: null,
    delivery: 'immediate', available_alert_types: undefined, updated_at: null,
  });
  assert.ok(d.json.available_alert_types.includes('health.down'));
  assert.ok(d.json.available_alert_types.includes('connection.needs_reconnect'));

  const full = { email_enabled: true, alert_types: ['health.down', 'schedule.paused'], timezone: 'Europe/Berlin', quiet_start: 1320, quiet_end: 420, delivery: 'hourly_digest' };
  const p = await putPrefs(u.bob, full);
  assert.equal(p.status, 200, p.text);
  for (const [k, v] of Object.entries(full)) assert.deepEqual(p.json[k], v, k);
  assert.ok(Date.parse(p.json.updated_at) > 0);
  const partial = await putPrefs(u.bob, { email_enabled: false });
  assert.equal(partial.json.email_enabled, false);
  assert.equal(partial.json.timezone, 'Europe/Berlin');
  const g = await srv.request('GET', '/api/notification-preferences', { headers: u.bob });
  assert.deepEqual(g.json, partial.json);
  // the web app sends back what it got, read-only fields included
  assert.equal((await putPrefs(u.bob, g.json)).status, 200);

  const bad = [
    [{ delivery: 'weekly' }, 'delivery'],
    [{ timezone: 'Mars/Olympus_Mons' }, 'timezone'],
    [{ alert_types: ['health.down', 'nope'] }, 'alert_types[1]'],
    [{ alert_types: 'health.down' }, 'alert_types'],
    [{ quiet_start: 600 , quiet_end: null }, 'quiet_end'],
    [{ quiet_start: 1440, quiet_end: 10 }, 'quiet_start'],
    [{ email_enabled: 'yes' }, 'email_enabled'],
    [{ colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of bad) {
    const r = await putPrefs(u.bob, body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.field, field);
    assert.equal(r.json.error.details[0].path, field);
  }
  const notJson = await srv.request('PUT', '/api/notification-preferences', { headers: { ...u.bob, 'Content-Type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  assert.equal((await srv.request('GET', '/api/notification-preferences')).status, 401);
  const other = await srv.request('GET', '/api/notification-preferences', { headers: u.one });
  assert.equal(other.json.updated_at, null, 'one user\'s preferences never touch another\'s');
});

test('alerts honour email on/off, alert types, quiet hours (held) and the digest', async () => {
  // quiet hours around now in Asia/Kolkata (+05:30, no DST)
  const nowMin = Math.floor(((Date.now() / 60000) + 330) % 1440);
  const qs = (nowMin + 1439) % 1440;
  const qe = (nowMin + 2) % 1440;
  assert.equal((await putPrefs(u.off, { email_enabled: false })).status, 200);
  assert.equal((await putPrefs(u.types, { alert_types: ['webhook.disabled', 'connection.expired'] })).status, 200);
  assert.equal((await putPrefs(u.quiet, { timezone: 'Asia/Kolkata', quiet_start: qs, quiet_end: qe })).status, 200);
  assert.equal((await putPrefs(u.digest, { delivery: 'hourly_digest' })).status, 200);
  for (const n of ['one', 'off', 'types', 'quiet', 'digest']) await connect(u[n], 'nt-a');
  await connect(u.digest, 'nt-b');
  await waitStatus(u.one, 'nt-a', 'healthy');
  await waitStatus(u.digest, 'nt-b', 'healthy');

  const t0 = Date.now();
  await peerA.down();
  const m1 = await sink.waitFor((m) => m.to.includes('one@example.com') && /NT A is down/.test(m.subject));
  assert.equal(m1.auth, 'mailer', 'SMTP AUTH with the URL\'s user');
  const dg = await sink.waitFor((m) => m.to.includes('digest@example.com'), 10000);
  assert.equal(dg.subject, 'Tool Connect: 2 notifications');
  assert.match(dg.text, /== NT A is down ==/);
  assert.match(dg.text, /== NT B is down ==/);
  await sleep(1000);
  for (const n of ['off', 'types', 'quiet']) assert.equal(mails(`${n}@example.com`, /./).length, 0, n);
  assert.equal(mails('digest@example.com', /./).length, 1);

  const box = async (h) => (await srv.request('GET', '/api/_test/notifications', { headers: h })).json.items;
  assert.deepEqual(await box(u.off), []);
  assert.deepEqual(await box(u.types), []);
  const held = await box(u.quiet);
  assert.equal(held.length, 1);
  assert.equal(held[0].status, 'pending');
  assert.equal(held[0].kind, 'health.down');
  // held until the local quiet_end minute, i.e. 1 to 3 minutes from now
  assert.ok(held[0].hold_until > t0 + 55000 && held[0].hold_until <= t0 + 181000, JSON.stringify(held[0]));
  assert.equal(held[0].hold_until % 60000, 30 * 60000 % 60000);
  assert.equal(held[0].next_attempt_at, held[0].hold_until);
  const dig = await box(u.digest);
  assert.equal(dig.length, 2);
  assert.ok(dig.every((r) => r.status === 'sent' && r.digest_key));
  await peerA.up();
});

test('the cooldown holds: one alert per connector per window, also after a restart', async () => {
  await connect(u.one, 'nt-flap');
  await waitStatus(u.one, 'nt-flap', 'healthy');
  await peerF.down();
  await sink.waitFor((m) => m.to.includes('one@example.com') && /NT Flap is down/.test(m.subject));
  await peerF.up();
  await waitStatus(u.one, 'nt-flap', 'healthy');
  await sleep(1200);
  assert.equal(mails('one@example.com', /NT Flap has recovered/).length, 0, 'recovery inside the window: no mail');

  await srv.stop({ keepDir: true });
  srv = await startServer({ env, dataDir });
  await peerF.down();
  await waitStatus(u.one, 'nt-flap', 'down');
  await sleep(1500);
  assert.equal(mails('one@example.com', /NT Flap/).length, 1, 'the cooldown survived the restart');
  assert.ok(srv.logLines().some((l) => l.msg === 'health alert suppressed by the cooldown' && l.connector === 'nt-flap'));
  await peerF.up();
});
