// Provider quirks from the catalog against oauth2-mock-server (tests/peers)
// on 127.0.0.1: a Slack-shaped connector (user_scope with "," separator,
// client_secret_post, tokens nested under authed_user read through
// token_response pointers) and a token endpoint that answers 500.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tmpDir, request } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { OAuth2Server } = await import(path.join(here, '..', 'peers', 'node_modules', 'oauth2-mock-server', 'dist', 'index.mjs'));

let mock;
let srv;
let catalogDir;
let alice;
const seen = [];        // token request bodies and headers
let respond = null;     // (response) => void, rewrites the token answer

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  mock = new OAuth2Server();
  await mock.issuer.keys.generate('RS256');
  await mock.start(0, '127.0.0.1');
  const issuer = mock.issuer.url;
  mock.service.on('beforeResponse', (resp, req) => {
    seen.push({ body: { ...req.body }, authorization: req.headers.authorization, accept: req.headers.accept, probe: req.headers['x-probe'] });
    if (respond) respond(resp);
  });
  catalogDir = tmpDir('tc-oauth-mock-');
  const slackish = {
    slug: 'slackish', name: 'Slack-shaped', description: 'nested user token', category: 'testing', base_url: issuer,
    auth: {
      type: 'oauth2',
      authorization_url: `${issuer}/authorize`,
      token_url: `${issuer}/token`,
      scopes: ['channels:read', 'chat:write'],
      scope_param: 'user_scope',
      scope_separator: ',',
      token_auth: 'client_secret_post',
      token_headers: { 'X-Probe': 'yes' },
      authorize_params: { team: 'T1' },
      token_response: {
        access_token: '/authed_user/access_token', refresh_token: '/authed_user/refresh_token',
        expires_in: '/authed_user/expires_in', scope: '/authed_user/scope',
      },
    },
    tools: [{ name: 'me', description: 'me', input_schema: { type: 'object' }, request: { method: 'GET', path: '/userinfo' } }],
  };
  fs.writeFileSync(path.join(catalogDir, 'slackish.json'), JSON.stringify(slackish));
  const port = await freePort();
  srv = await startServer({
    env: {
      TC_LISTEN: `127.0.0.1:${port}`, TC_PUBLIC_URL: `http://127.0.0.1:${port}/`, TC_CATALOG_PATH: catalogDir,
      TC_ALLOW_PRIVATE_TARGETS: '1', TC_OAUTH_REFRESH_INTERVAL_MS: '0',
      TC_OAUTH_SLACKISH_CLIENT_ID: 'slack-client', TC_OAUTH_SLACKISH_CLIENT_SECRET: 'slack-secret',
    },
  });
  const r = await srv.request('POST', '/api/auth/signup', { body: { email: 'a@example.com', password: 'correct horse battery' } });
  alice = { Authorization: `Bearer ${r.json.access_token}` };
});

after(async () => {
  await srv?.stop();
  await mock?.stop();
  if (catalogDir) fs.rmSync(catalogDir, { recursive: true, force: true });
});

// start -> provider authorize (redirects at once) -> our callback.
async function flow() {
  const s = await srv.request('POST', '/api/oauth/start', { headers: alice, body: { connector: 'slackish' } });
  assert.equal(s.status, 200, s.text);
  const cookie = s.headers['set-cookie'][0].split(';')[0];
  const a = await request(s.json.authorization_url);
  assert.equal(a.status, 302, a.text);
  const cb = new URL(a.headers.location);
  const r = await srv.request('GET', cb.pathname + cb.search, { headers: { Cookie: cookie } });
  assert.equal(r.status, 302);
  return { start: s.json, outcome: new URL(r.headers.location) };
}

test('Slack-shaped provider: user_scope, comma separator, post auth, nested token pointers', async () => {
  respond = (resp) => {
    const b = resp.body;
    resp.body = { ok: true, team: { id: 'T1' }, authed_user: { id: 'U1', access_token: b.access_token, refresh_token: b.refresh_token, expires_in: 7200, scope: 'channels:read,chat:write' } };
  };
  try {
    const { start, outcome } = await flow();
    const q = new URL(start.authorization_url).searchParams;
    assert.equal(q.get('user_scope'), 'channels:read,chat:write');
    assert.equal(q.get('scope'), null);
    assert.equal(q.get('team'), 'T1');
    assert.equal(q.get('client_id'), 'slack-client');
    assert.equal(outcome.searchParams.get('oauth'), 'ok', outcome.toString());
    assert.equal(outcome.origin + outcome.pathname, `${srv.url}/connections`);
    const id = outcome.searchParams.get('connection');
    const c = (await srv.request('GET', `/api/connections/${id}`, { headers: alice })).json;
    assert.equal(c.status, 'active');
    assert.equal(c.scopes, 'channels:read chat:write');
    const exp = Date.parse(c.expires_at) - Date.now();
    assert.ok(exp > 7000 * 1000 && exp <= 7200 * 1000, c.expires_at);
    const req = seen.at(-1);
    assert.equal(req.body.grant_type, 'authorization_code');
    assert.equal(req.body.client_id, 'slack-client');
    assert.equal(req.body.client_secret, 'slack-secret');
    assert.match(req.body.code_verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(req.body.redirect_uri, `${srv.url}/api/oauth/callback`);
    assert.equal(req.authorization, undefined, 'client_secret_post sends no Basic header');
    assert.equal(req.probe, 'yes');
    assert.equal(req.accept, 'application/json');
    // The nested refresh token works for refresh too.
    const r = await srv.request('POST', `/api/_test/oauth/connections/${id}/refresh`, { headers: alice, body: { mode: 'force' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(seen.at(-1).body.grant_type, 'refresh_token');
    assert.match(seen.at(-1).body.refresh_token, /^[0-9a-f-]{36}$/);
  } finally {
    respond = null;
  }
});

test('token endpoint answering 500 or a 200 without a token: error outcome, no connection', async () => {
  for (const rewrite of [(resp) => { resp.statusCode = 500; resp.body = { error: 'server_error' }; },
    (resp) => { resp.body = { ok: false, error: 'invalid_code' }; }]) {
    respond = rewrite;
    try {
      const { outcome } = await flow();
      assert.equal(outcome.searchParams.get('oauth'), 'error');
      assert.match(outcome.searchParams.get('message'), /token endpoint/);
    } finally {
      respond = null;
    }
  }
  const list = (await srv.request('GET', '/api/connections', { headers: alice })).json.items;
  assert.equal(list.filter((c) => c.status !== 'active').length, 0);
});
