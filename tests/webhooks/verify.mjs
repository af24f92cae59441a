// Our webhook signatures (src/webhooks/sign.c) against the reference
// `standardwebhooks` npm library, in both directions.
//   TC_SIGN_CASES_BIN  path of the webhook_sign_cases helper (set by ctest)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = path.join(process.env.TC_SOURCE_DIR ?? path.join(here, '..', '..'), 'tests', 'peers', 'package.json');
const require = createRequire(peers);
let Webhook;
try {
  ({ Webhook } = require('standardwebhooks'));
} catch (e) {
  throw new Error(`standardwebhooks is not installed under tests/peers (run make peers): ${e.message}`);
}
const bin = process.env.TC_SIGN_CASES_BIN;
assert.ok(bin, 'TC_SIGN_CASES_BIN must point at the webhook_sign_cases helper');

const out = JSON.parse(execFileSync(bin, ['cases'], { encoding: 'utf8', timeout: 10000 }));
const byName = Object.fromEntries(out.cases.map((c) => [c.name, c]));
const headers = (c) => ({
  'webhook-id': c.id,
  'webhook-timestamp': c.timestamp,
  'webhook-signature': c.signature,
});

test('secrets have the whsec_ form with 32 bytes', () => {
  for (const s of [out.secret, out.new_secret, out.other_secret]) {
    assert.match(s, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(s.slice(6), 'base64').length, 32);
  }
});

test('the default envelope verifies and parses', () => {
  const c = byName.envelope;
  const payload = new Webhook(out.secret).verify(c.body, headers(c));
  assert.equal(payload.type, 'webhook.test');
  assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(payload.data, {});
  assert.match(c.id, /^msg_[A-Za-z0-9_-]{22}$/);
  assert.ok(Math.abs(Number(c.timestamp) - Date.now() / 1000) < 60);
});

test('a rendered template body with escapes and unicode verifies', () => {
  const c = byName.template;
  const payload = new Webhook(out.secret).verify(c.body, headers(c));
  assert.equal(payload.event.tool, 'create_issue');
  assert.equal(payload.event.duration_ms, 42);
  assert.ok(payload.text.startsWith('job.succeeded: create_issue (quotes " backslash \\ newline \n unicode é€ 🚀'));
  // the library also accepts the body as a Buffer of the same bytes
  new Webhook(out.secret).verify(Buffer.from(c.body, 'utf8'), headers(c));
});

test('during a rotation either secret verifies', () => {
  const c = byName.rotated;
  assert.equal(c.signature.split(' ').length, 2);
  assert.ok(new Webhook(out.secret).verify(c.body, headers(c)));
  assert.ok(new Webhook(out.new_secret).verify(c.body, headers(c)));
  assert.throws(() => new Webhook(out.other_secret).verify(c.body, headers(c)), /No matching signature/);
});

test('a tampered body fails', () => {
  const c = byName.tampered;
  assert.notEqual(c.body, byName.template.body);
  assert.throws(() => new Webhook(out.secret).verify(c.body, headers(c)), /No matching signature/);
});

test('a signature by another secret fails', () => {
  const c = byName.wrong_secret;
  assert.throws(() => new Webhook(out.secret).verify(c.body, headers(c)), /No matching signature/);
  // and a changed id or timestamp breaks a good signature
  const good = byName.template;
  assert.throws(() => new Webhook(out.secret).verify(good.body, { ...headers(good), 'webhook-id': 'msg_x' }),
    /No matching signature/);
  assert.throws(() => new Webhook(out.secret).verify(good.body,
    { ...headers(good), 'webhook-timestamp': String(Number(good.timestamp) - 1) }), /No matching signature/);
});

const cVerify = (msg, secrets) =>
  spawnSync(bin, ['verify', ...secrets], { input: JSON.stringify(msg), encoding: 'utf8', timeout: 10000 });

test('our verifier accepts what the library signs, and rejects tampering', () => {
  const wh = new Webhook(out.secret);
  const id = 'msg_fromnode123';
  const now = new Date();
  const body = JSON.stringify({ type: 'job.failed', timestamp: now.toISOString(), data: { s: 'é"\\' } });
  const signature = wh.sign(id, now, body);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  let r = cVerify({ id, timestamp, signature, body }, [out.secret]);
  assert.equal(r.status, 0, r.stderr);
  r = cVerify({ id, timestamp, signature, body }, [out.other_secret, out.secret]);
  assert.equal(r.status, 0, r.stderr);
  r = cVerify({ id, timestamp, signature, body: body.replace('failed', 'fai1ed') }, [out.secret]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no matching signature/);
  r = cVerify({ id, timestamp, signature, body }, [out.other_secret]);
  assert.equal(r.status, 1);
  const old = Math.floor(now.getTime() / 1000) - 3600;
  const oldSig = wh.sign(id, new Date(old * 1000), body);
  r = cVerify({ id, timestamp: String(old), signature: oldSig, body }, [out.secret]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /tolerance/);
});
