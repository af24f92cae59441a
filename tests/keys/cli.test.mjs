// `toolconnect keys status | rotate [--resume] [--no-wait]` against a fresh
// SQLite database in a temp directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

const bin = process.env.TC_BIN;
assert.ok(bin && existsSync(bin), `TC_BIN must point at a built toolconnect binary (${bin})`);

function keys(dir, args, env = {}) {
  const r = spawnSync(bin, ['keys', ...args], {
    encoding: 'utf8',
    timeout: 30000,
    env: { PATH: process.env.PATH, TC_DATA_DIR: dir, TC_LOG_LEVEL: 'warn', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmp(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tc-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('status, rotate, resume on a fresh database', (t) => {
  const dir = tmp(t);
  const master = randomBytes(32).toString('base64');
  const env = { TC_MASTER_KEY: master };
  let r = keys(dir, ['status'], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /keys \(active: 1\)/);
  assert.match(r.out, /key 1 +created \S+Z +active/);

  r = keys(dir, ['rotate', '--no-wait'], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /added key 2; it is now active/);
  assert.match(r.out, /1 old key retired/);
  assert.match(r.out, /keys \(active: 2\)/);
  assert.match(r.out, /key 1 +created \S+ +retired \S+Z/);

  r = keys(dir, ['rotate', '--resume', '--no-wait'], env);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /added key/);
  assert.match(r.out, /keys \(active: 2\)/);

  for (const x of [r.out, r.err])
    assert.ok(!x.includes(master), 'the master key never appears in the output');
});

test('the master key file in the data dir is used', (t) => {
  const dir = tmp(t);
  writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  const r = keys(dir, ['status']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /active: 1/);
});

test('no master key: a clear error, and none is created', (t) => {
  const dir = tmp(t);
  const r = keys(dir, ['status']);
  assert.equal(r.code, 1);
  assert.match(r.err, /no master key: set TC_MASTER_KEY or create .*master\.key/);
  assert.ok(!existsSync(path.join(dir, 'master.key')));
});

test('a bad master key is rejected without echoing it', (t) => {
  const dir = tmp(t);
  const bad = Buffer.from('only sixteen byt').toString('base64');
  const r = keys(dir, ['status'], { TC_MASTER_KEY: bad });
  assert.equal(r.code, 1);
  assert.match(r.err, /must decode to 32 bytes, got 16/);
  assert.ok(!r.err.includes(bad));
});

test('usage errors', (t) => {
  const dir = tmp(t);
  let r = keys(dir, ['spin']);
  assert.equal(r.code, 2);
  assert.match(r.err, /usage: toolconnect keys rotate/);
  r = keys(dir, ['status', '--nope'], { TC_MASTER_KEY: randomBytes(32).toString('base64') });
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown option --nope/);
  r = keys(dir, ['help']);
  assert.equal(r.code, 0);
});
