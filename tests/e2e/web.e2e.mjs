#!/usr/bin/env node
// End-to-end test of the web app in a real browser against a real server.
// Steps, in order: sign up; browse and connect an API-key connector (backed by
// a real MCP peer); run a tool and watch the job reach succeeded live on the
// dashboard; create a webhook and see its delivery; create a schedule and
// check its preview; change the password; create and revoke an API key.
//
// Each step first probes the endpoints it needs. A step whose backend is not
// there yet is skipped with a message (as are the steps that depend on it);
// the run then exits 77, which ctest reports as skipped. Any failure exits 1.
// Screenshots: tests/artifacts/e2e/<step>[-mobile].png.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const SRC = process.env.TC_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const DIST = path.join(SRC, 'web/dist');
const ART = path.join(SRC, 'tests/artifacts/e2e');
const CHROMIUM = process.env.TC_CHROMIUM || '/usr/bin/chromium';
const SKIP = 77;

function skipAll(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

if (!fs.existsSync(CHROMIUM)) skipAll(`${CHROMIUM} is not installed (scripts/install-deps.sh --test installs Debian's chromium)`);
if (!fs.existsSync(path.join(DIST, 'index.html'))) skipAll('web/dist is not built (make web)');
const peersRequire = createRequire(path.join(SRC, 'tests/peers/node_modules/x.js'));
let chromium, Webhook;
try {
  chromium = peersRequire('playwright-core').chromium;
  const sw = await import(pathToFileURL(peersRequire.resolve('standardwebhooks')).href);
  Webhook = sw.Webhook ?? sw.default?.Webhook;
} catch (e) {
  skipAll(`test peers are not installed (make peers): ${e.message}`);
}
const { startServer, request } = await import(pathToFileURL(path.join(SRC, 'tests/blackbox/lib/server.mjs')).href);
const { startMcpPeer } = await import('./mcp-peer.mjs');

fs.mkdirSync(ART, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-e2e-'));
const apiKey = 'e2e-key-' + Math.random().toString(36).slice(2);
const cleanup = [];
let exitCode = 0;

// ---- peers: an MCP server behind an API key, a webhook receiver -------------
const peer = await startMcpPeer({ apiKey });
cleanup.push(() => peer.close());
const received = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(204).end();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
cleanup.push(() => new Promise((r) => receiver.close(r)));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const catalogDir = path.join(tmp, 'catalog');
fs.mkdirSync(catalogDir);
fs.writeFileSync(
  path.join(catalogDir, 'e2e-echo.json'),
  JSON.stringify({
    slug: 'e2e-echo',
    name: 'E2E Echo',
    description: 'A local MCP server used by the end-to-end test.',
    category: 'developer-tools',
    mcp: { url: peer.url },
    auth: { type: 'api_key', inject: { header: 'Authorization', format: 'Bearer {api_key}' }, fields: { api_key: 'API key' } },
    tools: [
      {
        name: 'shout',
        description: 'Repeats a message in capitals, after a short pause.',
        input_schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' }, times: { type: 'integer', minimum: 1, maximum: 5 } }, additionalProperties: false },
      },
    ],
  }),
);

// ---- the server ---------------------------------------------------------------
let srv;
try {
  srv = await startServer({ env: { TC_WEB_ROOT: DIST, TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1' } });
} catch (e) {
  console.error('could not start toolconnect:', e.message);
  await runCleanup();
  process.exit(1);
}
cleanup.push(() => srv.stop().catch((e) => console.error('server stop:', e.message)));

// Endpoint probe: a route exists unless the router says "no such endpoint".
async function routeExists(method, p) {
  const r = await request(srv.url + p, { method, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
  return !(r.status === 404 && /no such endpoint/.test(r.json?.error?.message ?? '')) && r.status !== 501;
}
async function missing(routes) {
  const out = [];
  for (const [m, p] of routes) if (!(await routeExists(m, p))) out.push(`${m} ${p}`);
  return out;
}

// ---- the browser -------------------------------------------------------------
const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 860 },
});
cleanup.unshift(() => context.close());
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15000);
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));

// Full-page screenshot from the top (a scrolled page would show the sticky
// header in the middle). On the phone width the page must not scroll sideways.
async function shot(name, { mobile = false, on = page } = {}) {
  if (mobile) await on.setViewportSize({ width: 390, height: 844 });
  await on.evaluate(() => window.scrollTo(0, 0));
  await on.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  if (mobile) {
    const overflow = await on.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than a phone screen`);
  }
  await on.screenshot({ path: path.join(ART, `${name}${mobile ? '-mobile' : ''}.png`), fullPage: true });
  if (mobile) await on.setViewportSize({ width: 1280, height: 860 });
}
const toast = (text) => page.getByTestId('toast').filter({ hasText: text }).first().waitFor();

const email = `e2e-${Date.now()}@example.com`;
let password = 'correct horse battery staple 1';
const state = {};

const steps = [
  {
    name: '1-signup',
    needs: [['POST', '/api/auth/signup'], ['GET', '/api/me']],
    async run() {
      await page.goto(srv.url + '/');
      await page.getByRole('heading', { level: 1 }).waitFor();
      await shot('0-landing');
      await shot('0-landing', { mobile: true });
      await page.getByRole('link', { name: 'Sign up' }).first().click();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await shot('1-signup-form');
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.waitForURL('**/dashboard');
      await page.getByTestId('user-email').filter({ hasText: email }).waitFor({ state: 'attached' });
    },
  },
  {
    name: '2-connect',
    after: ['1-signup'],
    needs: [['GET', '/api/connectors'], ['GET', '/api/connectors/e2e-echo'], ['POST', '/api/connections'], ['GET', '/api/connections']],
    async run() {
      await page.getByRole('link', { name: 'Connectors' }).first().click();
      await page.getByLabel('Search').fill('E2E');
      // The filtered list replaces the cards: wait until the search has
      // settled (one card left) before clicking, or the click can land on a
      // card that is being replaced and go nowhere on a loaded machine.
      await page.waitForFunction(() => document.querySelectorAll('[data-testid^="connector-"]').length === 1,
        null, { timeout: 15000 });
      await page.getByTestId('connector-e2e-echo').click();
      await page.waitForURL('**/connectors/e2e-echo');
      await page.getByRole('heading', { name: 'E2E Echo' }).waitFor();
      await page.getByLabel('Label').fill('E2E key');
      await page.getByLabel('API key').fill(apiKey);
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await toast('Connected E2E Echo');
      await page.getByRole('heading', { name: 'Your connections' }).waitFor();
      await shot('2-connector');
      await page.goto(srv.url + '/connections');
      await page.getByTestId('connection-row').filter({ hasText: 'E2E key' }).waitFor();
      await shot('2-connections');
      await shot('2-connections', { mobile: true });
    },
  },
  {
    name: '3-run-tool',
    after: ['2-connect'],
    needs: [['POST', '/api/connectors/e2e-echo/tools/shout/execute'], ['GET', '/api/jobs'], ['GET', '/api/jobs/x'], ['POST', '/api/stream/ticket'], ['GET', '/api/stream']],
    async run() {
      // Dashboard open first: the new job must appear and finish without a reload.
      await page.goto(srv.url + '/dashboard');
      await page.getByTestId('live-status').and(page.locator('[data-status="open"]')).waitFor();
      const dash = page;
      const runner = await context.newPage();
      await runner.goto(srv.url + '/connectors/e2e-echo');
      // The second tab has its own session (per-tab refresh token): the app
      // sends it to /login. That redirect happens when React renders, which
      // may be after goto() returns, so wait for one of the two outcomes
      // instead of reading the URL at once.
      const shoutButton = runner.getByRole('button', { name: /shout/ });
      const loginButton = runner.getByRole('button', { name: 'Log in' });
      await shoutButton.or(loginButton).first().waitFor();
      if (await loginButton.isVisible()) {
        await runner.getByLabel('Email').fill(email);
        await runner.getByLabel('Password').fill(password);
        await runner.getByRole('button', { name: 'Log in' }).click();
        await runner.waitForURL('**/connectors/e2e-echo');
      }
      await runner.getByRole('button', { name: /shout/ }).click();
      await runner.getByLabel(/^message/).fill('hello live');
      await runner.getByLabel(/^times/).fill('2');
      // From here on the dashboard must learn about the job from the SSE
      // stream alone: it may not fetch the jobs list or the job.
      const fetched = [];
      const onRequest = (r) => {
        if (new URL(r.url()).pathname.startsWith('/api/jobs')) fetched.push(`${r.method()} ${r.url()}`);
      };
      dash.on('request', onRequest);
      await runner.getByRole('button', { name: 'Run tool' }).click();
      // The dashboard sees it queued/running, then succeeded, live.
      const row = dash.getByTestId('job-row').first();
      await row.waitFor();
      const first = await row.getAttribute('data-status');
      assert.ok(['queued', 'running'].includes(first), `the new job showed up as ${first}, expected queued or running`);
      await shot('3-dashboard-running');
      await dash.locator('[data-testid="job-row"][data-status="succeeded"]').first().waitFor({ timeout: 30000 });
      // The counts follow the same stream.
      await dash.locator('[data-testid="stat-succeeded"][data-value="1"]').waitFor();
      await dash.locator('[data-testid="stat-in-progress"][data-value="0"]').waitFor();
      dash.off('request', onRequest);
      assert.deepEqual(fetched, [], 'the dashboard was updated by the stream, without fetching jobs');
      await runner.getByTestId('job-panel').and(runner.locator('[data-status="succeeded"]')).waitFor({ timeout: 30000 });
      assert.match(await runner.getByLabel('Result').innerText(), /HELLO LIVE HELLO LIVE/);
      await shot('3-tool-result', { on: runner });
      await runner.close();
      await shot('3-dashboard');
      await shot('3-dashboard', { mobile: true });
      await dash.getByTestId('job-row').first().click();
      await page.getByRole('list', { name: 'Event timeline' }).waitFor();
      await shot('3-job-detail');
      await shot('3-job-detail', { mobile: true });
      assert.equal(peer.calls.length, 1);

      // Cancel: run it again from the connector page, follow the job to its
      // detail page while it runs, cancel it there.
      await page.goto(srv.url + '/connectors/e2e-echo');
      await page.getByRole('button', { name: /shout/ }).click();
      await page.getByLabel(/^message/).fill('cancel me');
      await page.getByRole('button', { name: 'Run tool' }).click();
      await page.getByTestId('job-panel').and(page.locator('[data-status="running"]')).waitFor({ timeout: 30000 });
      await page.getByRole('link', { name: 'Open in dashboard' }).click();
      const panel = page.getByTestId('job-panel');
      await panel.getByRole('button', { name: 'Cancel' }).click();
      await toast('Cancel requested');
      await panel.and(page.locator('[data-status="canceled"]')).waitFor({ timeout: 30000 });
      await page.getByRole('list', { name: 'Event timeline' }).getByText(/cancel/i).first().waitFor();
      await shot('3-job-canceled');
    },
  },
  {
    name: '4-webhook',
    after: ['1-signup'],
    needs: [['POST', '/api/webhooks'], ['GET', '/api/webhooks'], ['GET', '/api/webhook-event-types'], ['POST', '/api/webhooks/x/test'], ['GET', '/api/webhooks/x/deliveries']],
    async run() {
      await page.goto(srv.url + '/webhooks');
      await page.getByRole('button', { name: 'New webhook' }).click();
      await page.getByLabel('Endpoint URL').fill(hookUrl);
      await page.getByLabel('Description').fill('E2E receiver');
      await page.getByRole('dialog').getByRole('checkbox').first().check();
      await shot('4-webhook-form');
      await page.getByRole('button', { name: 'Create webhook' }).click();
      const secret = await page.getByTestId('webhook-secret').getByRole('textbox').inputValue();
      assert.match(secret, /^whsec_/);
      await shot('4-webhook-secret');
      await page.getByRole('button', { name: 'I have stored it' }).click();
      await page.getByRole('button', { name: 'Send test' }).click();
      await toast('Test event sent');
      await page.locator('[data-testid="delivery-row"][data-status="succeeded"]').first().waitFor({ timeout: 30000 });
      assert.ok(received.length >= 1, 'the receiver got the delivery');
      const d = received[received.length - 1];
      new Webhook(secret).verify(d.body, { 'webhook-id': d.headers['webhook-id'], 'webhook-timestamp': d.headers['webhook-timestamp'], 'webhook-signature': d.headers['webhook-signature'] });
      await shot('4-webhooks');
    },
  },
  {
    name: '5-schedule',
    after: ['2-connect'],
    needs: [['POST', '/api/schedules'], ['GET', '/api/schedules'], ['POST', '/api/cron/preview']],
    async run() {
      await page.goto(srv.url + '/scheduler');
      await page.getByRole('button', { name: 'New schedule' }).first().click();
      await page.getByLabel('Name').fill('Weekday shout');
      const cron = page.getByLabel(/^Cron expression/);
      await cron.fill('61 * * * *');
      await page.getByTestId('cron-error').waitFor();
      await cron.fill('30 9 * * 1-5');
      await page.getByLabel(/^Time zone/).selectOption('UTC');
      const preview = page.getByTestId('cron-preview');
      await preview.locator('time').nth(4).waitFor();
      const times = await preview.locator('time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
      assert.equal(times.length, 5);
      for (const t of times) {
        const dt = new Date(t);
        assert.equal(dt.getUTCHours(), 9, t);
        assert.equal(dt.getUTCMinutes(), 30, t);
        assert.ok(dt.getUTCDay() >= 1 && dt.getUTCDay() <= 5, t);
        assert.ok(dt.getTime() > Date.now());
      }
      await page.getByLabel(/^Connector/).selectOption('e2e-echo');
      await page.getByLabel(/^Connection/).selectOption({ label: 'E2E key' });
      await page.getByLabel(/^Tool/).selectOption('shout');
      await page.getByLabel(/^message/).fill('scheduled');
      await shot('5-schedule-form');
      await page.getByRole('button', { name: 'Create schedule' }).click();
      await toast('Schedule created');
      await page.getByTestId('schedule-row').filter({ hasText: 'Weekday shout' }).waitFor();
      await shot('5-scheduler');
      await shot('5-scheduler', { mobile: true });
    },
  },
  {
    name: '6-password',
    after: ['1-signup'],
    needs: [['POST', '/api/me/password'], ['POST', '/api/auth/login']],
    async run() {
      await page.goto(srv.url + '/settings/security');
      const next = 'an even better passphrase 2';
      await page.getByLabel(/^Current password/).fill('wrong password here');
      await page.getByLabel(/^New password/).fill(next);
      await page.getByLabel(/^Repeat new password/).fill(next);
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.locator('form[aria-label="Change password"] [role="alert"], form[aria-label="Change password"] [aria-invalid="true"]').first().waitFor();
      await page.getByLabel(/^Current password/).fill(password);
      await page.getByRole('button', { name: 'Change password' }).click();
      await toast('Password changed');
      password = next;
      const r = await request(srv.url + '/api/auth/login', { method: 'POST', body: { email, password } });
      assert.equal(r.status, 200, `login with the new password: ${r.text}`);
      await shot('6-security');

      // Notification preferences: the alert types come from the server.
      await page.getByRole('link', { name: 'Notifications' }).click();
      const prefs = page.getByRole('form', { name: 'Notification preferences' });
      await prefs.getByRole('checkbox', { name: /health\.down/ }).check();
      await prefs.getByLabel('Delivery').selectOption('hourly_digest');
      await prefs.getByRole('button', { name: 'Save preferences' }).click();
      await toast('Notification preferences saved');
      const saved = await request(srv.url + '/api/notification-preferences', { headers: { Authorization: `Bearer ${(await request(srv.url + '/api/auth/login', { method: 'POST', body: { email, password } })).json.access_token}` } });
      assert.deepEqual(saved.json.alert_types, ['health.down']);
      assert.equal(saved.json.delivery, 'hourly_digest');
      await shot('6-notifications');
      await shot('6-notifications', { mobile: true });
    },
  },
  {
    name: '7-api-key',
    after: ['1-signup'],
    needs: [['POST', '/api/api-keys'], ['GET', '/api/api-keys'], ['DELETE', '/api/api-keys/x']],
    async run() {
      await page.goto(srv.url + '/settings/security');
      await page.getByLabel(/^Key name/).fill('e2e script');
      await page.getByRole('button', { name: 'Create key' }).click();
      const key = await page.getByTestId('new-api-key').getByRole('textbox').inputValue();
      assert.ok(key.length > 20);
      await shot('7-api-key-created');
      let r = await request(srv.url + '/api/me', { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(r.status, 200, 'the new key authenticates');
      await page.getByRole('button', { name: 'I have stored it' }).click();
      const row = page.getByTestId('api-key-row').filter({ hasText: 'e2e script' });
      await row.getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
      await toast('API key revoked');
      await row.waitFor({ state: 'detached' });
      r = await request(srv.url + '/api/me', { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(r.status, 401, 'the revoked key is refused');
      await shot('7-security');
      await shot('7-security', { mobile: true });
    },
  },
];

async function runCleanup() {
  for (const f of cleanup) {
    try {
      await f();
    } catch (e) {
      console.error('cleanup:', e.message);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

const results = {};
for (const s of steps) {
  const blocked = (s.after ?? []).filter((a) => results[a] !== 'pass');
  if (blocked.length) {
    results[s.name] = 'skip';
    console.log(`SKIP ${s.name}: needs ${blocked.join(', ')}`);
    continue;
  }
  const gone = await missing(s.needs);
  if (gone.length) {
    results[s.name] = 'skip';
    console.log(`SKIP ${s.name}: backend not there yet (${gone.join(', ')})`);
    continue;
  }
  const t0 = Date.now();
  try {
    await s.run();
    results[s.name] = 'pass';
    console.log(`ok   ${s.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results[s.name] = 'fail';
    exitCode = 1;
    console.log(`FAIL ${s.name}: ${e.stack ?? e}`);
    await page.screenshot({ path: path.join(ART, `${s.name}-FAILED.png`), fullPage: true }).catch(() => {});
  }
}
if (consoleErrors.length) {
  console.log('page errors:\n  ' + consoleErrors.join('\n  '));
  exitCode = 1;
}
await runCleanup();
const vals = Object.values(results);
console.log(`\n${vals.filter((v) => v === 'pass').length} passed, ${vals.filter((v) => v === 'fail').length} failed, ${vals.filter((v) => v === 'skip').length} skipped; screenshots in ${ART}`);
if (exitCode === 0 && vals.includes('skip')) exitCode = SKIP;
process.exit(exitCode);
