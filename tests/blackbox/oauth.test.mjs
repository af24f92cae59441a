// OAuth 2.0 connections against a real, strict provider (oidc-provider from
// tests/peers, PKCE required, rotating refresh tokens for the public client)
// on 127.0.0.1: the full authorization-code flow for the three client
// authentication methods, every way the state can be wrong, the provider
// denying access, token endpoint failures, refresh rotation, single-flight
// refresh across two server processes on one database, invalid_grant
// expiring the connection, the background refresher, revocation on
// disconnect, and the admin API for client credentials.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tmpDir, request } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PEER = path.join(here, '..', 'peers', 'servers', 'oauth-oidc.mjs');

let peer;
let peerUrl;
let srv;
let srv2;
let catalogDir;
let alice;
let bob;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startPeer(redirect) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [PEER, '--redirect', redirect], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    const t = setTimeout(() => reject(new Error(`peer did not start: ${errText}`)), 15000);
    p.stderr.on('data', (d) => { errText += d; });
    p.stdout.on('data', (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ proc: p, port: Number(m[1]) });
      }
    });
    p.on('exit', (code) => reject(new Error(`peer exited ${code}: ${errText}`)));
  });
}

const peerCall = async (p, body) => {
  const r = await request(peerUrl + p, { method: body ? 'POST' : 'GET', body });
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const stats = () => peerCall('/_control/stats');
const setPeer = (o) => peerCall('/_control/set', o);
const refreshCount = async () => (await stats()).token.refresh_token || 0;

function connector(slug, tokenAuth) {
  return {
    slug, name: `OIDC ${slug}`, description: 'local oidc-provider', category: 'testing',
    base_url: peerUrl,
    auth: {
      type: 'oauth2',
      authorization_url: `${peerUrl}/auth`,
      token_url: `${peerUrl}/token`,
      revocation_url: `${peerUrl}/token/revocation`,
      scopes: ['openid', 'offline_access'],
      authorize_params: { prompt: 'consent' },
      token_auth: tokenAuth,
      pkce: true,
    },
    tools: [{ name: 'whoami', description: 'userinfo', input_schema: { type: 'object' }, request: { method: 'GET', path: '/me' } }],
  };
}

async function signup(s, email) {
  const r = await s.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

async function start(headers, connectorSlug, extra = {}) {
  const r = await srv.request('POST', '/api/oauth/start', { headers, body: { connector: connectorSlug, label: 'mine', ...extra } });
  assert.equal(r.status, 200, r.text);
  const setCookie = r.headers['set-cookie'][0];
  return { ...r.json, setCookie, cookie: setCookie.split(';')[0] };
}

// Plays the browser: provider login/consent, then our callback with the cookie.
async function callback(location, cookie) {
  const u = new URL(location);
  const r = await srv.request('GET', u.pathname + u.search, { headers: cookie ? { Cookie: cookie } : {} });
  assert.equal(r.status, 302, r.text);
  return new URL(r.headers.location);
}

async function connect(headers, slug) {
  const s = await start(headers, slug);
  const d = await peerCall('/_control/drive', { url: s.authorization_url });
  assert.ok(d.location, JSON.stringify(d));
  const out = await callback(d.location, s.cookie);
  assert.equal(out.searchParams.get('oauth'), 'ok', out.toString());
  return out.searchParams.get('connection');
}

const getConn = async (headers, id) => (await srv.request('GET', `/api/connections/${id}`, { headers })).json;
const refresh = (s, headers, id, mode) =>
  s.request('POST', `/api/_test/oauth/connections/${id}/refresh`, { headers, body: { mode } });

before(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = await startPeer(`${base}/api/oauth/callback`);
  peer = p.proc;
  peerUrl = `http://127.0.0.1:${p.port}`;
  catalogDir = tmpDir('tc-oauth-catalog-');
  const files = {
    'oidc-public.json': connector('oidc-public', 'none'),
    'oidc-basic.json': connector('oidc-basic', 'client_secret_basic'),
    'oidc-post.json': connector('oidc-post', 'client_secret_post'),
    'oidc-unset.json': connector('oidc-unset', 'none'),
  };
  for (const [n, doc] of Object.entries(files)) fs.writeFileSync(path.join(catalogDir, n), JSON.stringify(doc));
  // TC_TEST_PG_URL / TC_TEST_PG_STATE: lib/server.mjs gives the server a
  // fresh PostgreSQL database.
  srv = await startServer({
    env: {
      TC_LISTEN: `127.0.0.1:${port}`,
      TC_PUBLIC_URL: base,
      TC_CATALOG_PATH: catalogDir,
      TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_PROVIDER_TIMEOUT_MS: '3000',
      TC_OAUTH_REFRESH_INTERVAL_MS: '0',
      TC_OAUTH_OIDC_PUBLIC_CLIENT_ID: 'tc-public',
      TC_OAUTH_OIDC_BASIC_CLIENT_ID: 'tc-basic',
      TC_OAUTH_OIDC_BASIC_CLIENT_SECRET: 'basic-secret',
    },
  });
  alice = await signup(srv, 'alice@example.com'); // first user: administrator
  bob = await signup(srv, 'bob@example.com');
});

after(async () => {
  await srv2?.stop();
  await srv?.stop();
  peer?.kill('SIGTERM');
  if (catalogDir) fs.rmSync(catalogDir, { recursive: true, force: true });
});

test('admin sets client credentials; they are never returned', async () => {
  const body = { client_id: 'tc-post', client_secret: 'post-secret' };
  const denied = await srv.request('PUT', '/api/admin/oauth-clients/oidc-post', { headers: bob, body });
  assert.equal(denied.status, 403);
  const r = await srv.request('PUT', '/api/admin/oauth-clients/oidc-post', { headers: alice, body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { connector: 'oidc-post', client_id: 'tc-post', has_secret: true });
  assert.ok(!r.text.includes('post-secret'));
  const bad = await srv.request('PUT', '/api/admin/oauth-clients/oidc-post', { headers: alice, body: { client_secret: 'x' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.field, 'client_id');
  const notOauth = await srv.request('PUT', '/api/admin/oauth-clients/nope-nope', { headers: alice, body });
  assert.equal(notOauth.status, 404);
});

test('start: authorization URL with S256 challenge, state and a binding cookie; bad input named', async () => {
  const s = await start(alice, 'oidc-public');
  const u = new URL(s.authorization_url);
  assert.equal(u.origin + u.pathname, `${peerUrl}/auth`);
  const q = u.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), 'tc-public');
  assert.equal(q.get('redirect_uri'), `${srv.url}/api/oauth/callback`);
  assert.equal(q.get('scope'), 'openid offline_access');
  assert.equal(q.get('prompt'), 'consent');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(q.get('state').length >= 40);
  assert.equal(q.get('code_verifier'), null);
  assert.match(s.transaction_id, /^[0-9a-f-]{36}$/);
  assert.match(s.setCookie, new RegExp(`^tc_oauth_${s.transaction_id}=`));
  assert.match(s.setCookie, /HttpOnly/);
  assert.match(s.setCookie, /SameSite=Lax/);
  assert.match(s.setCookie, /Path=\/api\/oauth\/callback/);

  const cases = [
    [{}, 422, 'connector'],
    [{ connector: 'oidc-public', scopes: 'openid' }, 422, 'scopes'],
    [{ connector: 'oidc-public', scopes: ['a b'] }, 422, 'scopes'],
    [{ connector: 'oidc-public', label: 'x'.repeat(101) }, 422, 'label'],
    [{ connector: 'no-such-thing' }, 404, 'connector'],
    [{ connector: 'oidc-unset' }, 409, 'connector'],
  ];
  for (const [body, status, field] of cases) {
    const r = await srv.request('POST', '/api/oauth/start', { headers: alice, body });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.field, field);
  }
  const unset = await srv.request('POST', '/api/oauth/start', { headers: alice, body: { connector: 'oidc-unset' } });
  assert.equal(unset.json.error.code, 'oauth_client_missing');
  const anon = await srv.request('POST', '/api/oauth/start', { body: { connector: 'oidc-public' } });
  assert.equal(anon.status, 401);
});

test('full flow for public, client_secret_basic and client_secret_post clients', async () => {
  for (const slug of ['oidc-public', 'oidc-basic', 'oidc-post']) {
    const before = await stats();
    const id = await connect(alice, slug);
    const c = await getConn(alice, id);
    assert.equal(c.status, 'active', slug);
    assert.equal(c.connector, slug);
    assert.equal(c.label, 'mine');
    assert.match(c.scopes, /offline_access/);
    assert.ok(Date.parse(c.expires_at) > Date.now() + 3000 * 1000, c.expires_at);
    const after = await stats();
    assert.equal((after.token.authorization_code || 0) - (before.token.authorization_code || 0), 1, slug);
    assert.equal(after.refresh_tokens.length - before.refresh_tokens.length, 1, 'a refresh token was issued');
    // Bob can't see it; the secret never shows.
    assert.equal((await srv.request('GET', `/api/connections/${id}`, { headers: bob })).status, 404);
    const list = await srv.request('GET', '/api/connections', { headers: alice });
    assert.ok(!list.text.includes(after.refresh_tokens.at(-1)));
  }
});

test('callback: state missing, unknown, without the cookie, another user, expired, reused', async () => {
  const s = await start(alice, 'oidc-public');
  const d = await peerCall('/_control/drive', { url: s.authorization_url });
  const loc = new URL(d.location);
  const code = loc.searchParams.get('code');
  const state = loc.searchParams.get('state');
  const err = (u) => {
    assert.equal(u.pathname, '/connections');
    assert.equal(u.searchParams.get('oauth'), 'error');
    return u.searchParams.get('message');
  };
  const cb = `${srv.url}/api/oauth/callback`;
  assert.match(err(await callback(`${cb}?code=${code}`, s.cookie)), /no state/);
  assert.match(err(await callback(`${cb}?code=${code}&state=wrong-state`, s.cookie)), /unknown/);
  assert.match(err(await callback(d.location, null)), /not started in this browser/);
  // A cookie minted for another transaction/user does not fit this one.
  const other = await start(bob, 'oidc-public');
  const forged = `tc_oauth_${s.transaction_id}=${other.cookie.split('=')[1]}`;
  assert.match(err(await callback(d.location, forged)), /another user/);
  // None of that burned the transaction: the rightful browser completes it.
  const ok = await callback(d.location, s.cookie);
  assert.equal(ok.searchParams.get('oauth'), 'ok');
  // Reuse of the same state is refused.
  assert.match(err(await callback(d.location, s.cookie)), /already used/);
  assert.ok(code && state);

  // Expired: ten minutes passed (moved by a test route).
  const s2 = await start(alice, 'oidc-public');
  const d2 = await peerCall('/_control/drive', { url: s2.authorization_url });
  const ex = await srv.request('POST', `/api/_test/oauth/transactions/${s2.transaction_id}/expire`, { headers: alice, body: {} });
  assert.equal(ex.status, 204);
  assert.match(err(await callback(d2.location, s2.cookie)), /expired/);
});

test('the provider denying access ends the transaction with its reason', async () => {
  await setPeer({ deny: true });
  try {
    const s = await start(alice, 'oidc-public');
    const d = await peerCall('/_control/drive', { url: s.authorization_url });
    assert.equal(new URL(d.location).searchParams.get('error'), 'access_denied');
    const out = await callback(d.location, s.cookie);
    assert.equal(out.searchParams.get('oauth'), 'error');
    assert.match(out.searchParams.get('message'), /access_denied: the user denied access/);
    // Single use also after a failure.
    const again = await callback(d.location, s.cookie);
    assert.match(again.searchParams.get('message'), /already used/);
  } finally {
    await setPeer({ deny: false });
  }
});

test('token endpoint answering 400 or 500: no connection, a clear message', async () => {
  for (const [status, re] of [[400, /HTTP 400, invalid_request: injected failure/], [500, /HTTP 500/]]) {
    const before = (await srv.request('GET', '/api/connections', { headers: alice })).json.items.length;
    const s = await start(alice, 'oidc-basic');
    const d = await peerCall('/_control/drive', { url: s.authorization_url });
    await setPeer({ fail_token: status });
    try {
      const out = await callback(d.location, s.cookie);
      assert.equal(out.searchParams.get('oauth'), 'error');
      assert.match(out.searchParams.get('message'), re);
    } finally {
      await setPeer({ fail_token: 0 });
    }
    const afterN = (await srv.request('GET', '/api/connections', { headers: alice })).json.items.length;
    assert.equal(afterN, before);
  }
});

test('refresh rotation: the old refresh token dies, ours keeps working; then a dead grant means reconnect', async () => {
  const id = await connect(alice, 'oidc-public');
  const issued = (await stats()).refresh_tokens;
  const original = issued.at(-1);
  const n0 = await refreshCount();
  const c0 = await getConn(alice, id);
  let r = await refresh(srv, alice, id, 'force');
  assert.equal(r.status, 200, r.text);
  assert.equal(await refreshCount(), n0 + 1);
  const rotated = (await stats()).refresh_tokens.at(-1);
  assert.notEqual(rotated, original, 'the provider rotated the refresh token');
  assert.ok(Date.parse(r.json.expires_at) >= Date.parse(c0.expires_at));
  // Ours (the rotated one, saved with its access token) still works.
  r = await refresh(srv, alice, id, 'force');
  assert.equal(r.status, 200, r.text);
  assert.equal(await refreshCount(), n0 + 2);
  // The provider rejects the old one (and, seeing a replay, revokes the grant).
  const replay = await peerCall('/_control/replay', { refresh_token: original, client_id: 'tc-public' });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');
  // Our next refresh meets invalid_grant: the connection needs a reconnect.
  r = await refresh(srv, alice, id, 'force');
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'connection_expired');
  const c = await getConn(alice, id);
  assert.equal(c.status, 'expired');
  assert.equal(c.status_reason, 'needs reconnect');
});

test('transient refresh failures retry and do not expire the connection', async () => {
  const id = await connect(alice, 'oidc-basic');
  await setPeer({ fail_token: 500 });
  try {
    const r = await refresh(srv, alice, id, 'force');
    assert.equal(r.status, 503, r.text);
    assert.ok((await stats()).failed_injected >= 3, 'retried with backoff');
  } finally {
    await setPeer({ fail_token: 0 });
  }
  assert.equal((await getConn(alice, id)).status, 'active');
  // On demand with a token still valid: used as is, nothing to do.
  const n = await refreshCount();
  assert.equal((await refresh(srv, alice, id, 'ensure')).status, 200);
  assert.equal(await refreshCount(), n);
});

test('two instances on one database meeting an expired token refresh exactly once', async () => {
  srv2 = await startServer({
    dataDir: srv.dataDir,
    env: {
      TC_DATABASE_URL: srv.env.TC_DATABASE_URL,
      TC_PUBLIC_URL: srv.env.TC_PUBLIC_URL,
      TC_CATALOG_PATH: catalogDir,
      TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_OAUTH_REFRESH_INTERVAL_MS: '0',
    },
  });
  const id = await connect(alice, 'oidc-public');
  const e = await srv.request('POST', `/api/_test/oauth/connections/${id}/expire`, { headers: alice, body: { expires_in: -5 } });
  assert.equal(e.status, 204);
  const n0 = await refreshCount();
  const calls = [srv, srv2, srv, srv2].map((s) => refresh(s, alice, id, 'ensure'));
  const rs = await Promise.all(calls);
  for (const r of rs) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'active');
    assert.ok(Date.parse(r.json.expires_at) > Date.now() + 60000);
  }
  assert.equal(await refreshCount(), n0 + 1);
  // After a 401 with the token everyone used: one refresh, again.
  const n1 = await refreshCount();
  const rs2 = await Promise.all([srv, srv2].map((s) => refresh(s, alice, id, 'force')));
  for (const r of rs2) assert.equal(r.status, 200, r.text);
  assert.ok(await refreshCount() >= n1 + 1);
});

test('two concurrent tool runs meeting an expired token cause exactly one refresh', async () => {
  const id = await connect(alice, 'oidc-public');
  const e = await srv.request('POST', `/api/_test/oauth/connections/${id}/expire`, { headers: alice, body: { expires_in: -5 } });
  assert.equal(e.status, 204);
  const n0 = await refreshCount();
  const run = () => srv.request('POST', '/api/connectors/oidc-public/tools/whoami/execute',
    { headers: alice, body: { connection_id: id, arguments: {} } });
  const rs = await Promise.all([run(), run()]);
  for (const r of rs) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.job.status, 'succeeded', r.text);
    assert.equal(r.json.result.sub ?? r.json.result.body?.sub, 'user-1', r.text);
  }
  assert.equal(await refreshCount(), n0 + 1);
});

test('a 401 from the provider refreshes once and the run is retried', async () => {
  await setPeer({ access_ttl: 1 });
  let id;
  try {
    id = await connect(alice, 'oidc-basic');
  } finally {
    await setPeer({ access_ttl: 3600 });
  }
  const fresh = await getConn(alice, id);
  assert.ok(Date.parse(fresh.expires_at) < Date.now() + 5000, `provider TTL applied: ${fresh.expires_at}`);
  // We believe the token is good for an hour; the provider says 1 s.
  await srv.request('POST', `/api/_test/oauth/connections/${id}/expire`, { headers: alice, body: { expires_in: 3600 } });
  await new Promise((r) => setTimeout(r, 2100));
  const n0 = await refreshCount();
  const r = await srv.request('POST', '/api/connectors/oidc-basic/tools/whoami/execute',
    { headers: alice, body: { connection_id: id, arguments: {} } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'succeeded', r.text);
  assert.equal(await refreshCount(), n0 + 1, r.text);
});

test('background refresher renews tokens a margin before expiry', async () => {
  const s3 = await startServer({
    dataDir: srv.dataDir,
    env: {
      TC_DATABASE_URL: srv.env.TC_DATABASE_URL,
      TC_PUBLIC_URL: srv.env.TC_PUBLIC_URL,
      TC_CATALOG_PATH: catalogDir,
      TC_ALLOW_PRIVATE_TARGETS: '1',
      TC_OAUTH_REFRESH_INTERVAL_MS: '100',
      TC_OAUTH_REFRESH_MARGIN_S: '600',
    },
  });
  try {
    const id = await connect(alice, 'oidc-basic');
    const n0 = await refreshCount();
    await srv.request('POST', `/api/_test/oauth/connections/${id}/expire`, { headers: alice, body: { expires_in: 120 } });
    const end = Date.now() + 5000;
    let c;
    do {
      await new Promise((r) => setTimeout(r, 50));
      c = await getConn(alice, id);
    } while (Date.parse(c.expires_at) < Date.now() + 600 * 1000 && Date.now() < end);
    assert.ok(Date.parse(c.expires_at) > Date.now() + 600 * 1000, c.expires_at);
    assert.equal(c.status, 'active');
    assert.ok(await refreshCount() >= n0 + 1);
  } finally {
    await s3.stop();
  }
});

test('disconnect revokes the tokens at the provider', async () => {
  const id = await connect(alice, 'oidc-post');
  const r0 = (await stats()).revocations;
  const d = await srv.request('DELETE', `/api/connections/${id}`, { headers: alice });
  assert.equal(d.status, 204);
  assert.equal((await getConn(alice, id)).status, 'revoked');
  const end = Date.now() + 5000;
  while ((await stats()).revocations < r0 + 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await stats()).revocations, r0 + 2, 'refresh and access token revoked');
  const logs = srv.logs();
  for (const t of (await stats()).refresh_tokens) assert.ok(!logs.includes(t), 'no token in logs');
});
