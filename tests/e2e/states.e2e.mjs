#!/usr/bin/env node
// The web app's less common states, in a real browser against a real server:
// empty pages for a new user, a page whose API answers 500, a connection whose
// provider starts refusing its key (needs reconnect, one-click reconnect, the
// old one moves to "Disconnected"), health badges after a check, a webhook
// whose endpoint refuses (failed delivery with its attempts, retry by hand),
// the cron error caret, a tool's 422 tied to its field, an empty password
// form; and the OAuth round trip in the browser against oauth2-mock-server:
// connect, the grant refused on refresh (needs reconnect), one-click
// reconnect through the provider, the old connection folded away. Screenshots: tests/artifacts/e2e/states-*.png. Exit 77 = skipped
// (no chromium, no web/dist, no peers).
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
const skip = (why) => {
  console.log(`SKIP: ${why}`);
  process.exit(77);
};
if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is not installed`);
if (!fs.existsSync(path.join(DIST, 'index.html'))) skip('web/dist is not built (make web)');
const peersRequire = createRequire(path.join(SRC, 'tests/peers/node_modules/x.js'));
let chromium;
try {
  chromium = peersRequire('playwright-core').chromium;
} catch (e) {
  skip(`test peers are not installed (make peers): ${e.message}`);
}
const { startServer, request } = await import(pathToFileURL(path.join(SRC, 'tests/blackbox/lib/server.mjs')).href);
const { startMcpPeer } = await import('./mcp-peer.mjs');
let OAuth2Server;
try {
  ({ OAuth2Server } = await import(pathToFileURL(path.join(SRC, 'tests/peers/node_modules/oauth2-mock-server/dist/index.mjs')).href));
} catch (e) {
  skip(`oauth2-mock-server is not installed (make peers): ${e.message}`);
}

fs.mkdirSync(ART, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-e2e-states-'));
const cleanup = [];
const stopAll = async () => {
  for (const f of cleanup.reverse()) await Promise.resolve().then(f).catch((e) => console.error('cleanup:', e.message));
  fs.rmSync(tmp, { recursive: true, force: true });
};

// ---- peers: an MCP server, a REST API whose accepted key can change, a closed port
const peer = await startMcpPeer({ apiKey: 'mcp-key', delayMs: 50 });
cleanup.push(() => peer.close());
let restKey = 'key-1';
const rest = http.createServer((q, r) => {
  const ok = q.headers['x-api-key'] === restKey;
  r.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' }).end(ok ? '{"ok":true}' : '{"error":"bad key"}');
});
await new Promise((r) => rest.listen(0, '127.0.0.1', r));
cleanup.push(() => new Promise((r) => { rest.closeAllConnections?.(); rest.close(r); }));
const closed = http.createServer();
await new Promise((r) => closed.listen(0, '127.0.0.1', r));
const closedPort = closed.address().port;
await new Promise((r) => closed.close(r));

// An OAuth provider that redirects straight back; refreshes can be refused.
const oauth = new OAuth2Server();
await oauth.issuer.keys.generate('RS256');
await oauth.start(0, '127.0.0.1');
cleanup.push(() => oauth.stop());
let refuseRefresh = false;
oauth.service.on('beforeResponse', (resp, req) => {
  if (refuseRefresh && req.body?.grant_type === 'refresh_token') {
    resp.statusCode = 400;
    resp.body = { error: 'invalid_grant', error_description: 'the grant was revoked' };
  }
});
const port = await new Promise((resolve) => {
  const s = http.createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

const cat = path.join(tmp, 'catalog');
fs.mkdirSync(cat);
const apiKeyAuth = (header, format) => ({ type: 'api_key', inject: { header, format }, fields: { api_key: 'API key' } });
fs.writeFileSync(path.join(cat, 'e2e-echo.json'), JSON.stringify({
  slug: 'e2e-echo', name: 'E2E Echo', description: 'A local MCP server.', category: 'developer-tools', mcp: { url: peer.url },
  auth: apiKeyAuth('Authorization', 'Bearer {api_key}'),
  tools: [{ name: 'shout', description: 'Repeats a message in capitals.', input_schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } } }],
}));
fs.writeFileSync(path.join(cat, 'e2e-rest.json'), JSON.stringify({
  slug: 'e2e-rest', name: 'E2E REST', description: 'A local REST API.', category: 'developer-tools', base_url: `http://127.0.0.1:${rest.address().port}`,
  auth: { ...apiKeyAuth('X-Api-Key', '{api_key}'), verify: { method: 'GET', path: '/me' } },
  tools: [{ name: 'me', description: 'Who am I.', request: { method: 'GET', path: '/me' }, input_schema: { type: 'object', properties: {} } }],
}));

fs.writeFileSync(path.join(cat, 'e2e-oauth.json'), JSON.stringify({
  slug: 'e2e-oauth', name: 'E2E OAuth', description: 'A local OAuth provider.', category: 'developer-tools', base_url: oauth.issuer.url,
  auth: { type: 'oauth2', authorization_url: `${oauth.issuer.url}/authorize`, token_url: `${oauth.issuer.url}/token`, scopes: ['read', 'write'] },
  tools: [{ name: 'me', description: 'Who am I.', request: { method: 'GET', path: '/userinfo' }, input_schema: { type: 'object', properties: {} } }],
}));

let srv;
try {
  srv = await startServer({
    env: {
      TC_WEB_ROOT: DIST, TC_CATALOG_PATH: cat, TC_ALLOW_PRIVATE_TARGETS: '1', TC_WEBHOOK_MAX_ATTEMPTS: '2', TC_WEBHOOK_RETRY_BASE_MS: '200', TC_WEBHOOK_RETRY_MAX_MS: '400',
      TC_LISTEN: `127.0.0.1:${port}`, TC_PUBLIC_URL: `http://127.0.0.1:${port}/`, TC_OAUTH_REFRESH_INTERVAL_MS: '0',
      TC_OAUTH_E2E_OAUTH_CLIENT_ID: 'e2e-client', TC_OAUTH_E2E_OAUTH_CLIENT_SECRET: 'e2e-secret',
    },
  });
} catch (e) {
  console.error('could not start toolconnect:', e.message);
  await stopAll();
  process.exit(1);
}
cleanup.push(() => srv.stop());

const email = `states-${Date.now()}@example.com`;
const password = 'correct horse battery staple 1';
const signup = await request(srv.url + '/api/auth/signup', { method: 'POST', body: { email, password } });
assert.equal(signup.status, 201, signup.text);
const H = { Authorization: `Bearer ${signup.json.access_token}` };
const api = (method, p, body) => request(srv.url + p, { method, headers: H, body });

const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 860 },
});
cleanup.push(() => context.close());
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(20000);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
const shot = async (name) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ART, `states-${name}.png`), fullPage: true });
};
const toast = (text) => page.getByTestId('toast').filter({ hasText: text }).first().waitFor();

const checks = {
  async 'empty pages'() {
    await page.goto(srv.url + '/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/dashboard');
    for (const [p, title] of [['dashboard', 'No jobs yet'], ['connections', 'No connections yet'], ['scheduler', 'No schedules yet'], ['webhooks', 'No webhooks yet']]) {
      await page.goto(`${srv.url}/${p}`);
      await page.getByText(title, { exact: true }).waitFor();
      await shot(`empty-${p}`);
    }
  },
  async 'error state'() {
    const route = '**/api/webhooks?*';
    await page.route(route, (r) => r.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal', message: 'database unavailable' } }) }));
    await page.goto(srv.url + '/webhooks');
    const alert = page.getByRole('alert').filter({ hasText: 'database unavailable' });
    await alert.waitFor();
    await shot('error');
    await page.unroute(route);
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.getByText('No webhooks yet', { exact: true }).waitFor();
  },
  async 'needs reconnect, one-click reconnect'() {
    const c = await api('POST', '/api/connections', { connector: 'e2e-rest', label: 'REST key', credentials: { api_key: 'key-1' } });
    assert.equal(c.status, 201, c.text);
    restKey = 'key-2'; // the provider now refuses the stored key
    const t = await api('POST', `/api/connections/${c.json.id}/test`);
    assert.equal(t.json?.status, 'error', t.text);
    await page.goto(srv.url + '/connections');
    const row = page.locator('[data-testid="connection-row"][data-needs-reconnect]').filter({ hasText: 'REST key' });
    await row.getByText('needs reconnect').waitFor();
    await shot('needs-reconnect');
    await row.getByRole('button', { name: /^Reconnect/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('API key').fill('key-2');
    await dialog.getByRole('button', { name: 'Reconnect' }).click();
    await toast('Connected E2E REST');
    await page.locator('[data-testid="connection-row"][data-status="active"]').filter({ hasText: 'REST key' }).waitFor();
    await page.locator('[data-needs-reconnect]').waitFor({ state: 'detached' });
    await page.getByText('Disconnected (1)').click();
    await page.getByRole('list', { name: 'Disconnected connections' }).getByText('REST key').waitFor();
    const l = await api('GET', '/api/connections');
    assert.deepEqual(l.json.items.map((x) => x.status).sort(), ['active', 'revoked']);
    await shot('reconnected');
  },
  async 'health badges'() {
    const c = await api('POST', '/api/connections', { connector: 'e2e-echo', label: 'Echo', credentials: { api_key: 'mcp-key' } });
    assert.equal(c.status, 201, c.text);
    const h = await api('POST', '/api/health/check');
    assert.equal(h.status, 200, h.text);
    await page.goto(srv.url + '/connectors?q=E2E');
    await page.getByTestId('connector-e2e-echo').locator('[data-testid="health-badge"][data-status="healthy"]').waitFor();
    await page.goto(srv.url + '/connections');
    await page.getByTestId('connection-row').filter({ hasText: 'Echo' }).locator('[data-testid="health-badge"]').waitFor();
    await shot('health');
  },
  async 'failed webhook delivery, attempts, retry'() {
    const w = await api('POST', '/api/webhooks', { url: `http://127.0.0.1:${closedPort}/hook`, description: 'Nobody listens', event_types: ['job.failed'], enabled: true });
    assert.equal(w.status, 201, w.text);
    assert.equal((await api('POST', `/api/webhooks/${w.json.id}/test`)).status, 202);
    await page.goto(srv.url + '/webhooks');
    await page.getByRole('button', { name: 'Deliveries' }).click();
    const failed = page.locator('[data-testid="delivery-row"][data-status="failed"]');
    await failed.waitFor({ timeout: 30000 });
    await failed.getByText('Attempts and payload').click();
    assert.equal(await failed.getByTestId('delivery-attempt').count(), 2);
    await shot('webhook-failed');
    await failed.getByRole('button', { name: /^Retry/ }).click();
    await toast('Delivery queued again');
  },
  async 'webhook edit and delete'() {
    await page.goto(srv.url + '/webhooks');
    const row = page.getByTestId('webhook-row').filter({ hasText: 'Nobody listens' });
    await row.getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Description').fill('Still nobody');
    await dialog.getByRole('checkbox', { name: /job\.succeeded/ }).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await toast('Webhook saved');
    const saved = page.getByTestId('webhook-row').filter({ hasText: 'Still nobody' });
    await saved.getByText('job.succeeded').waitFor();
    await saved.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await toast('Webhook deleted');
    await page.getByText('No webhooks yet', { exact: true }).waitFor();
  },
  async 'schedule edit, pause, resume, run now, history, delete'() {
    const conn = (await api('GET', '/api/connections')).json.items.find((c) => c.connector === 'e2e-echo' && c.status === 'active');
    const cr = await api('POST', '/api/schedules', { name: 'Nightly', cron: '0 3 * * *', timezone: 'UTC', connector: 'e2e-echo', tool: 'shout', connection_id: conn.id, arguments: { message: 'night' } });
    assert.equal(cr.status, 201, cr.text);
    await page.goto(srv.url + '/scheduler');
    const row = () => page.getByTestId('schedule-row').filter({ hasText: 'Nightly' });
    await row().getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Nightly shout');
    await dialog.getByLabel(/^If the last run/).selectOption('allow');
    await dialog.getByLabel(/^Pause after/).fill('3');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await toast('Schedule saved');
    const got = (await api('GET', `/api/schedules/${cr.json.id}`)).json;
    assert.equal(got.name, 'Nightly shout');
    assert.equal(got.overlap, 'allow');
    assert.equal(got.max_failures, 3);
    const r = page.getByTestId('schedule-row').filter({ hasText: 'Nightly shout' });
    await r.getByRole('button', { name: 'Pause' }).click();
    await toast('Schedule paused');
    await r.getByText('paused', { exact: true }).waitFor();
    await r.getByRole('button', { name: 'Resume' }).click();
    await toast('Schedule resumed');
    await r.getByRole('button', { name: 'Run now' }).click();
    await toast('Run queued');
    await r.getByRole('button', { name: 'History' }).click();
    await r.getByText('succeeded', { exact: true }).waitFor({ timeout: 30000 }); // the run, live from the stream
    await shot('schedule-history');
    await r.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await toast('Schedule deleted');
    await page.getByText('No schedules yet', { exact: true }).waitFor();
  },
  async 'cron error caret'() {
    await page.goto(srv.url + '/scheduler');
    await page.getByRole('button', { name: 'New schedule' }).first().click();
    await page.getByLabel(/^Cron expression/).fill('0 25 * * *');
    const err = page.getByTestId('cron-error');
    await err.filter({ hasText: 'position 2' }).waitFor();
    assert.equal(await err.locator('pre').innerText(), '0 25 * * *\n  ^');
    await shot('cron-error');
    await page.keyboard.press('Escape');
  },
  async 'tool 422 tied to its field'() {
    await page.goto(srv.url + '/connectors/e2e-echo');
    await page.getByRole('button', { name: /shout/ }).click();
    await page.getByRole('button', { name: 'Run tool' }).click();
    const message = page.getByLabel(/^message/);
    await page.locator('[aria-invalid="true"]').first().waitFor();
    assert.equal(await message.getAttribute('aria-invalid'), 'true');
    const described = (await message.getAttribute('aria-describedby')) ?? '';
    const texts = await Promise.all(described.split(' ').filter(Boolean).map((id) => page.locator(`[id="${id}"]`).innerText()));
    assert.ok(texts.some((t) => /required/.test(t)), `the error is tied to the field: ${texts}`);
    await message.evaluate((el) => new Promise((resolve, reject) => {
      const t0 = Date.now();
      const check = () => (el === document.activeElement ? resolve() : Date.now() - t0 > 5000 ? reject(new Error('focus did not move to the invalid field')) : requestAnimationFrame(check));
      check();
    }));
    await shot('tool-422');
  },
  async 'OAuth connect, needs reconnect, one-click reconnect'() {
    await page.goto(srv.url + '/connectors/e2e-oauth');
    await page.getByLabel('Label').fill('OAuth account');
    await page.getByRole('button', { name: 'Connect with E2E OAuth' }).click();
    // start -> provider -> /api/oauth/callback -> /connections?oauth=ok&connection=<id>
    await toast('Connected.');
    await page.waitForURL((u) => u.pathname === '/connections' && !u.search);
    const first = page.locator('[data-testid="connection-row"][data-status="active"]').filter({ hasText: 'OAuth account' });
    await first.getByText(/^Scopes: /).waitFor(); // what the provider granted (the mock says "dummy")
    const before = (await api('GET', '/api/connections')).json.items.filter((c) => c.connector === 'e2e-oauth');
    assert.equal(before.length, 1);
    // The provider refuses the refresh: the connection needs a reconnect.
    refuseRefresh = true;
    const r = await api('POST', `/api/_test/oauth/connections/${before[0].id}/refresh`, { mode: 'force' });
    assert.equal(r.status, 409, r.text);
    refuseRefresh = false;
    const row = page.locator('[data-testid="connection-row"][data-needs-reconnect]').filter({ hasText: 'OAuth account' });
    await row.waitFor({ timeout: 20000 }); // the stream's connection row, no reload
    await shot('oauth-needs-reconnect');
    await row.getByRole('button', { name: /^Reconnect/ }).click(); // one click: off to the provider and back
    await toast('Connected.');
    await page.getByText('Disconnected (2)').waitFor(); // the REST key from before, and this one
    await page.locator('[data-needs-reconnect]').waitFor({ state: 'detached' });
    const after = (await api('GET', '/api/connections')).json.items.filter((c) => c.connector === 'e2e-oauth');
    assert.deepEqual(after.map((c) => c.status).sort(), ['active', 'revoked']);
    assert.equal(after.find((c) => c.status === 'revoked').id, before[0].id, 'the expired connection was the one removed');
    await shot('oauth-reconnected');
  },
  async 'empty password form'() {
    await page.goto(srv.url + '/settings/security');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('form[aria-label="Change password"] [aria-invalid="true"]').first().waitFor();
    await shot('password-invalid');
  },
};

let failed = 0;
for (const [name, run] of Object.entries(checks)) {
  const t0 = Date.now();
  try {
    await run();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
    await page.screenshot({ path: path.join(ART, `states-FAILED-${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
  }
}
if (pageErrors.length) {
  console.log('page errors:\n  ' + pageErrors.join('\n  '));
  failed++;
}
await stopAll();
console.log(`\n${Object.keys(checks).length - failed} of ${Object.keys(checks).length} passed`);
process.exit(failed ? 1 : 0);
