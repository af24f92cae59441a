// Black-box: every account flow against the real server (sign-up, login,
// /api/me, refresh rotation + reuse detection, logout, sessions, API keys,
// password change, account deletion, login throttling) and cross-user
// isolation of sessions and API keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const bearer = (t) => ({ Authorization: `Bearer ${t}` });

function assertError(r, status, code) {
  assert.equal(r.status, status, `status ${r.status}: ${r.text}`);
  assert.ok(r.json && r.json.error, `error body expected: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  if (code) assert.equal(r.json.error.code, code, r.text);
}

function assertTokens(r, status, email) {
  assert.equal(r.status, status, r.text);
  const b = r.json;
  assert.match(b.user.id, UUID);
  assert.equal(b.user.email, email);
  assert.match(b.user.created_at, RFC3339);
  assert.equal(typeof b.user.is_admin, 'boolean');
  assert.equal(typeof b.access_token, 'string');
  assert.equal(b.access_token.split('.').length, 3);
  assert.match(b.refresh_token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Number.isInteger(b.expires_in) && b.expires_in > 0);
  assert.equal(b.user.password_hash, undefined);
  return b;
}

let srv;
const signup = (email, password) => srv.request('POST', '/api/auth/signup', { body: { email, password } });
const login = (email, password, headers = {}) =>
  srv.request('POST', '/api/auth/login', { body: { email, password }, headers });
const refresh = (refresh_token) => srv.request('POST', '/api/auth/refresh', { body: { refresh_token } });
const me = (token) => srv.request('GET', '/api/me', { headers: bearer(token) });

describe('accounts', () => {
  let alice; // first user (admin)
  let bob; // second user

  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
  });

  test('sign-up: 201 shape; first user is admin, second is not', async () => {
    alice = assertTokens(await signup('  Alice@Example.COM ', 'alice-password-1'), 201, 'alice@example.com');
    assert.equal(alice.user.is_admin, true);
    bob = assertTokens(await signup('bob@example.com', 'bob-password-1'), 201, 'bob@example.com');
    assert.equal(bob.user.is_admin, false);
    assert.notEqual(alice.user.id, bob.user.id);
  });

  test('sign-up: duplicate e-mail is 409 (case-insensitive)', async () => {
    const r = await signup('ALICE@example.com', 'another-password');
    assertError(r, 409, 'email_taken');
    assert.equal(r.json.error.field, 'email');
  });

  test('sign-up: bad e-mail and short password are 422 naming the field', async () => {
    for (const email of ['not-an-email', 'a@b', '@example.com', 'x'.repeat(250) + '@example.com']) {
      const r = await signup(email, 'long-enough-pw');
      assertError(r, 422);
      assert.equal(r.json.error.field, 'email', email);
      assert.equal(r.json.error.details[0].path, 'email');
    }
    let r = await signup('carol@example.com', 'short');
    assertError(r, 422);
    assert.equal(r.json.error.field, 'password');
    assert.deepEqual(r.json.error.details[0], { path: 'password', keyword: 'minLength', message: r.json.error.message });
    r = await signup('carol@example.com', 'x'.repeat(1025));
    assertError(r, 422);
    assert.equal(r.json.error.field, 'password');
    r = await srv.request('POST', '/api/auth/signup', { body: { email: 'carol@example.com' } });
    assertError(r, 422);
    assert.equal(r.json.error.field, 'password');
    r = await srv.request('POST', '/api/auth/signup', { body: 'email=a', headers: { 'Content-Type': 'text/plain' } });
    assertError(r, 415);
    r = await srv.request('POST', '/api/auth/signup', { body: '{"email":', headers: { 'Content-Type': 'application/json' } });
    assertError(r, 400);
  });

  test('login: ok, and one message for a wrong password or an unknown e-mail', async () => {
    assertTokens(await login('alice@example.com', 'alice-password-1'), 200, 'alice@example.com');
    const wrong = await login('alice@example.com', 'wrong-password');
    assertError(wrong, 401, 'invalid_credentials');
    const unknown = await login('nobody@example.com', 'wrong-password');
    assertError(unknown, 401, 'invalid_credentials');
    assert.deepEqual(wrong.json, unknown.json);
    assert.equal(wrong.json.error.message, 'invalid email or password');
  });

  test('/api/me with an access token; 401 without or with a bad one', async () => {
    const r = await me(alice.access_token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['created_at', 'email', 'id', 'is_admin']);
    assert.equal(r.json.id, alice.user.id);
    assert.equal(r.json.email, 'alice@example.com');
    assert.equal(r.json.is_admin, true);
    assert.equal((await me(bob.access_token)).json.is_admin, false);

    assertError(await srv.request('GET', '/api/me'), 401);
    assertError(await srv.request('GET', '/api/me', { headers: { Authorization: 'Basic YTpi' } }), 401);
    const garbage = await me('garbage');
    assertError(garbage, 401, 'invalid_token');
    assert.match(garbage.headers['www-authenticate'] ?? '', /^Bearer/);
    // alg "none" with alice's claims and no signature
    const [, payload] = alice.access_token.split('.');
    const none = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
    assertError(await me(`${none}.${payload}.`), 401, 'invalid_token');
    // signature of another token on alice's payload
    const [h2, , sig2] = bob.access_token.split('.');
    assertError(await me(`${h2}.${payload}.${sig2}`), 401, 'invalid_token');
  });

  test('refresh: rotates; reusing a rotated token revokes the whole family', async () => {
    const s = assertTokens(await login('alice@example.com', 'alice-password-1'), 200, 'alice@example.com');
    const r1 = assertTokens(await refresh(s.refresh_token), 200, 'alice@example.com');
    assert.notEqual(r1.refresh_token, s.refresh_token);
    assert.equal((await me(r1.access_token)).status, 200);
    const r2 = assertTokens(await refresh(r1.refresh_token), 200, 'alice@example.com');
    assert.equal((await me(r2.access_token)).status, 200);

    // the stolen copy of an old token comes back
    assertError(await refresh(s.refresh_token), 401, 'refresh_token_reused');
    // the family is dead: the latest refresh token and its access token too
    assertError(await refresh(r2.refresh_token), 401);
    assertError(await me(r2.access_token), 401, 'session_revoked');
    // other sessions are untouched
    assert.equal((await me(alice.access_token)).status, 200);

    assertError(await refresh('x'.repeat(43)), 401, 'invalid_refresh_token');
    assertError(await refresh('short'), 401);
    assertError(await srv.request('POST', '/api/auth/refresh', { body: {} }), 422);
  });

  test('logout revokes the current session only', async () => {
    const s = assertTokens(await login('bob@example.com', 'bob-password-1'), 200, 'bob@example.com');
    const r = await srv.request('POST', '/api/auth/logout', { headers: bearer(s.access_token) });
    assert.equal(r.status, 204, r.text);
    assertError(await me(s.access_token), 401);
    assertError(await refresh(s.refresh_token), 401);
    assert.equal((await me(bob.access_token)).status, 200);
    assertError(await srv.request('POST', '/api/auth/logout'), 401);
  });

  test('sessions: list (current flagged), revoke; revoked tokens stop working', async () => {
    assertTokens(await login('bob@example.com', 'bob-password-1'), 200, 'bob@example.com');
    const r = await srv.request('GET', '/api/sessions', { headers: bearer(bob.access_token) });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.items));
    assert.ok('next_cursor' in r.json);
    const ids = r.json.items.map((x) => x.id);
    const current = r.json.items.find((x) => x.current);
    assert.ok(current, 'current session flagged');
    assert.ok(ids.length >= 2);
    for (const it of r.json.items) {
      assert.match(it.id, UUID);
      assert.match(it.created_at, RFC3339);
      assert.match(it.expires_at, RFC3339);
    }
    // paging
    const p1 = await srv.request('GET', '/api/sessions?limit=1', { headers: bearer(bob.access_token) });
    assert.equal(p1.json.items.length, 1);
    assert.equal(typeof p1.json.next_cursor, 'string');
    const p2 = await srv.request('GET', `/api/sessions?limit=1&cursor=${encodeURIComponent(p1.json.next_cursor)}`, {
      headers: bearer(bob.access_token),
    });
    assert.equal(p2.json.items.length, 1);
    assert.notEqual(p2.json.items[0].id, p1.json.items[0].id);
    assertError(await srv.request('GET', '/api/sessions?limit=0', { headers: bearer(bob.access_token) }), 400);
    assertError(await srv.request('GET', '/api/sessions?cursor=%%%', { headers: bearer(bob.access_token) }), 400);

    // revoke the second session from the first
    const other = r.json.items.find((x) => !x.current);
    assert.ok(other);
    const d = await srv.request('DELETE', `/api/sessions/${other.id}`, { headers: bearer(bob.access_token) });
    assert.equal(d.status, 204, d.text);
    const after = (await srv.request('GET', '/api/sessions', { headers: bearer(bob.access_token) })).json.items;
    assert.ok(!after.some((x) => x.id === other.id), 'a revoked session is not listed');
    assert.equal(after.length, ids.length - 1);
    const again = await srv.request('DELETE', `/api/sessions/${other.id}`, { headers: bearer(bob.access_token) });
    assertError(again, 404);
    assertError(await srv.request('DELETE', '/api/sessions/not-a-uuid', { headers: bearer(bob.access_token) }), 404);
  });

  test('sessions list survives odd user agents (non-UTF-8 bytes, very long)', async () => {
    const ua = 'caf\xe9 ' + 'x'.repeat(400);
    const s = assertTokens(await login('bob@example.com', 'bob-password-1', { 'User-Agent': ua }), 200, 'bob@example.com');
    const r = await srv.request('GET', '/api/sessions', { headers: bearer(s.access_token) });
    assert.equal(r.status, 200, r.text);
    const mine = r.json.items.find((x) => x.current);
    assert.ok(mine, r.text);
    assert.ok(mine.user_agent.startsWith('caf? xxx'), mine.user_agent);
    assert.ok(mine.user_agent.length <= 255);
    assert.equal(mine.ip, '127.0.0.1');
  });

  test('revoking a specific session kills exactly its tokens', async () => {
    const s = assertTokens(await login('bob@example.com', 'bob-password-1'), 200, 'bob@example.com');
    const list = (await srv.request('GET', '/api/sessions', { headers: bearer(s.access_token) })).json.items;
    const mine = list.find((x) => x.current);
    const d = await srv.request('DELETE', `/api/sessions/${mine.id}`, { headers: bearer(bob.access_token) });
    assert.equal(d.status, 204, d.text);
    assertError(await me(s.access_token), 401, 'session_revoked');
    assertError(await refresh(s.refresh_token), 401);
    assert.equal((await me(bob.access_token)).status, 200);
  });

  test('API keys: created once, listed by prefix, used as bearer, revoked', async () => {
    const c = await srv.request('POST', '/api/api-keys', { headers: bearer(alice.access_token), body: { name: 'ci' } });
    assert.equal(c.status, 201, c.text);
    assert.match(c.json.id, UUID);
    assert.equal(c.json.name, 'ci');
    assert.match(c.json.key, /^tc_[A-Za-z0-9_-]{43}$/);
    assert.match(c.json.prefix, /^tc_[A-Za-z0-9_-]{8}$/);
    assert.ok(c.json.key.startsWith(c.json.prefix));
    const key = c.json.key;

    const l = await srv.request('GET', '/api/api-keys', { headers: bearer(alice.access_token) });
    assert.equal(l.status, 200, l.text);
    assert.equal(l.json.next_cursor, null);
    const item = l.json.items.find((x) => x.id === c.json.id);
    assert.ok(item);
    assert.equal(item.prefix, c.json.prefix);
    assert.equal(item.key, undefined);
    assert.ok(!l.text.includes(key), 'the secret is never listed');

    const viaKey = await me(key);
    assert.equal(viaKey.status, 200, viaKey.text);
    assert.equal(viaKey.json.id, alice.user.id);
    const l2 = await srv.request('GET', '/api/api-keys', { headers: bearer(key) });
    assert.match(l2.json.items.find((x) => x.id === c.json.id).last_used_at, RFC3339);

    assertError(await srv.request('POST', '/api/api-keys', { headers: bearer(alice.access_token), body: { name: '' } }), 422);
    assertError(await srv.request('POST', '/api/api-keys', { headers: bearer(alice.access_token), body: {} }), 422);
    assertError(
      await srv.request('POST', '/api/api-keys', { headers: bearer(alice.access_token), body: { name: 'n'.repeat(101) } }),
      422,
    );

    const d = await srv.request('DELETE', `/api/api-keys/${c.json.id}`, { headers: bearer(alice.access_token) });
    assert.equal(d.status, 204, d.text);
    assertError(await me(key), 401, 'invalid_api_key');
    assertError(await srv.request('DELETE', `/api/api-keys/${c.json.id}`, { headers: bearer(alice.access_token) }), 404);
    assertError(await me('tc_' + 'A'.repeat(43)), 401, 'invalid_api_key');
    assertError(await me('tc_short'), 401);
  });

  test('cross-user isolation: sessions and API keys of others answer 404', async () => {
    const k = await srv.request('POST', '/api/api-keys', { headers: bearer(alice.access_token), body: { name: 'mine' } });
    assert.equal(k.status, 201);
    const aliceSessions = (await srv.request('GET', '/api/sessions', { headers: bearer(alice.access_token) })).json.items;
    const aSession = aliceSessions.find((x) => x.current);

    // bob lists only his own
    const bobKeys = (await srv.request('GET', '/api/api-keys', { headers: bearer(bob.access_token) })).json.items;
    assert.ok(!bobKeys.some((x) => x.id === k.json.id));
    const bobSessions = (await srv.request('GET', '/api/sessions', { headers: bearer(bob.access_token) })).json.items;
    assert.ok(!bobSessions.some((x) => aliceSessions.some((y) => y.id === x.id)));

    // and cannot revoke alice's: same 404 as a missing id
    const missing = '00000000-0000-4000-8000-000000000000';
    const r1 = await srv.request('DELETE', `/api/api-keys/${k.json.id}`, { headers: bearer(bob.access_token) });
    const r2 = await srv.request('DELETE', `/api/api-keys/${missing}`, { headers: bearer(bob.access_token) });
    assertError(r1, 404);
    assert.deepEqual(r1.json, r2.json);
    const r3 = await srv.request('DELETE', `/api/sessions/${aSession.id}`, { headers: bearer(bob.access_token) });
    const r4 = await srv.request('DELETE', `/api/sessions/${missing}`, { headers: bearer(bob.access_token) });
    assertError(r3, 404);
    assert.deepEqual(r3.json, r4.json);

    // alice's key and session still work
    assert.equal((await me(k.json.key)).status, 200);
    assert.equal((await me(alice.access_token)).status, 200);
    // a key acts as its owner only
    const viaKey = await srv.request('GET', '/api/api-keys', { headers: bearer(k.json.key) });
    assert.ok(viaKey.json.items.some((x) => x.id === k.json.id));
  });

  test('password change: needs the current one; revokes the other sessions', async () => {
    const other = assertTokens(await login('bob@example.com', 'bob-password-1'), 200, 'bob@example.com');
    const url = '/api/me/password';
    const h = bearer(bob.access_token);
    let r = await srv.request('POST', url, { headers: h, body: { current_password: 'wrong-one!', new_password: 'bob-password-2' } });
    assertError(r, 403, 'invalid_current_password');
    assert.equal(r.json.error.field, 'current_password');
    r = await srv.request('POST', url, { headers: h, body: { current_password: 'bob-password-1', new_password: 'short' } });
    assertError(r, 422);
    assert.equal(r.json.error.field, 'new_password');
    r = await srv.request('POST', url, { headers: h, body: { new_password: 'bob-password-2' } });
    assertError(r, 422);
    assert.equal(r.json.error.field, 'current_password');
    r = await srv.request('POST', url, { headers: h, body: { current_password: 'bob-password-1', new_password: 'bob-password-2' } });
    assert.equal(r.status, 204, r.text);

    assert.equal((await me(bob.access_token)).status, 200, 'calling session stays');
    assertError(await me(other.access_token), 401);
    assertError(await refresh(other.refresh_token), 401);
    assertError(await login('bob@example.com', 'bob-password-1'), 401);
    assertTokens(await login('bob@example.com', 'bob-password-2'), 200, 'bob@example.com');
  });

  test('delete account: 204, then its tokens, keys and login stop working', async () => {
    const dave = assertTokens(await signup('dave@example.com', 'dave-password-1'), 201, 'dave@example.com');
    const k = await srv.request('POST', '/api/api-keys', { headers: bearer(dave.access_token), body: { name: 'k' } });
    assert.equal(k.status, 201);
    const d = await srv.request('DELETE', '/api/me', { headers: bearer(dave.access_token) });
    assert.equal(d.status, 204, d.text);
    assert.equal(d.text, '');
    assertError(await me(dave.access_token), 401);
    assertError(await me(k.json.key), 401);
    assertError(await refresh(dave.refresh_token), 401);
    assertError(await login('dave@example.com', 'dave-password-1'), 401, 'invalid_credentials');
    // the e-mail is free again; the new account is not admin
    const again = assertTokens(await signup('dave@example.com', 'dave-password-2'), 201, 'dave@example.com');
    assert.equal(again.user.is_admin, false);
    assert.notEqual(again.user.id, dave.user.id);
  });

  test('no secrets in the logs', async () => {
    const logs = srv.logs();
    assert.ok(!logs.includes('alice-password-1'));
    assert.ok(!logs.includes(alice.refresh_token));
    assert.ok(!logs.includes(alice.access_token));
  });
});

describe('login throttling', () => {
  let t;
  let gusChecked = 0; // failures of the parallel test that reached the check
  before(async () => {
    t = await startServer();
  });
  after(async () => {
    await t.stop();
  });
  const tlogin = (email, password) => t.request('POST', '/api/auth/login', { body: { email, password } });

  test('per account: 429 with Retry-After, whether or not the e-mail exists', async () => {
    const s = await t.request('POST', '/api/auth/signup', { body: { email: 'erin@example.com', password: 'erin-password-1' } });
    assert.equal(s.status, 201);
    for (let i = 0; i < 5; i++) assertError(await tlogin('erin@example.com', 'wrong-password'), 401);
    const r = await tlogin('erin@example.com', 'erin-password-1');
    assertError(r, 429);
    const wait = Number(r.headers['retry-after']);
    assert.ok(Number.isInteger(wait) && wait > 0 && wait <= 900, `Retry-After ${r.headers['retry-after']}`);

    for (let i = 0; i < 5; i++) assertError(await tlogin('ghost@example.com', 'wrong-password'), 401);
    const g = await tlogin('ghost@example.com', 'wrong-password');
    assertError(g, 429);
    assert.ok(Number(g.headers['retry-after']) > 0);
    assert.equal(g.json.error.message.replace(/\d+/g, 'N'), r.json.error.message.replace(/\d+/g, 'N'));
  });

  test('parallel guesses: at most 5 reach the password check', async () => {
    const s = await t.request('POST', '/api/auth/signup', { body: { email: 'gus@example.com', password: 'gus-password-1' } });
    assert.equal(s.status, 201);
    // these count against the address too (10 so far + up to 5)
    const rs = await Promise.all(Array.from({ length: 8 }, () => tlogin('gus@example.com', 'wrong-password')));
    const checked = rs.filter((r) => r.status === 401).length;
    const limited = rs.filter((r) => r.status === 429).length;
    assert.equal(checked + limited, 8);
    assert.ok(checked >= 1 && checked <= 5, `checked ${checked}`);
    for (const r of rs.filter((x) => x.status === 429)) assert.ok(Number(r.headers['retry-after']) > 0);
    gusChecked = checked;
  });

  test('password change is throttled like a login (403 then 429 + Retry-After)', async () => {
    const s = await t.request('POST', '/api/auth/signup', { body: { email: 'hal@example.com', password: 'hal-password-1' } });
    assert.equal(s.status, 201);
    const h = { Authorization: `Bearer ${s.json.access_token}` };
    const body = { current_password: 'wrong-password', new_password: 'hal-password-2' };
    for (let i = 0; i < 5; i++) assertError(await t.request('POST', '/api/me/password', { headers: h, body }), 403);
    const r = await t.request('POST', '/api/me/password', { headers: h, body: { ...body, current_password: 'hal-password-1' } });
    assertError(r, 429);
    assert.ok(Number(r.headers['retry-after']) > 0);
  });

  test('per client address: 20 failures over many e-mails', async () => {
    // 10 + gusChecked failures already counted for this address by the tests above
    // (password-change failures carry no address)
    for (let i = 0; i < 10 - gusChecked; i++) assertError(await tlogin(`user${i}@example.com`, 'wrong-password'), 401);
    const r = await tlogin('fresh@example.com', 'whatever-pw');
    assertError(r, 429);
    assert.ok(Number(r.headers['retry-after']) > 0);
  });
});
