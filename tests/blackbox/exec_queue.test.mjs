// The job queue under pressure: a worker pool of 2, cancel of a queued job,
// exact rate limits under 200 concurrent calls, and SIGKILL + restart with
// jobs queued and running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pgQuery, startServer, tmpDir } from './lib/server.mjs';
import { startStandin, standinConnector, writeCatalog, signup, connect, waitJob, sleep } from './lib/standin.mjs';

const KEY = 'sk_live_QUEUEKEY_77aa99bb';
let api;
let catalogDir;

before(async () => {
  api = await startStandin();
  catalogDir = writeCatalog([standinConnector('stub', api.url), standinConnector('stub2', api.url)]);
});

after(() => {
  api?.close();
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

const env = (extra = {}) => ({ TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_JOB_WORKERS: '2', ...extra });

function runner(srv, headers, connection, slug = 'stub') {
  return (tool, args, query = '?async=1') => srv.request('POST', `/api/connectors/${slug}/tools/${tool}/execute${query}`, {
    headers, body: { connection_id: connection, arguments: args },
  });
}

test('cancel a queued job: it never runs', async () => {
  const srv = await startServer({ env: env() });
  try {
    const h = await signup(srv, 'q@example.com');
    const run = runner(srv, h, await connect(srv, h, 'stub', KEY));
    const a = await run('hang', { n: 1 });
    const b = await run('hang', { n: 2 });
    const c = await run('echo', { text: 'never' });
    assert.equal(c.status, 202);
    await waitJob(srv, h, a.json.job.id, (j) => j.status === 'running');
    await waitJob(srv, h, b.json.job.id, (j) => j.status === 'running');
    const q = await srv.request('GET', `/api/jobs/${c.json.job.id}`, { headers: h });
    assert.equal(q.json.status, 'queued');
    const cancel = await srv.request('POST', `/api/jobs/${c.json.job.id}/cancel`, { headers: h });
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(cancel.json.status, 'canceled');
    assert.equal(cancel.json.started_at, null);
    for (const j of [a, b]) {
      const r = await srv.request('POST', `/api/jobs/${j.json.job.id}/cancel`, { headers: h });
      assert.equal(r.status, 200);
    }
    await sleep(200);
    const after = await srv.request('GET', `/api/jobs/${c.json.job.id}`, { headers: h });
    assert.equal(after.json.status, 'canceled');
    assert.deepEqual(after.json.events.map((e) => e.message), ['queued', 'canceled by the user']);
    const list = await srv.request('GET', '/api/jobs?status=canceled', { headers: h });
    assert.equal(list.json.items.length, 3);
  } finally {
    await srv.stop();
  }
});

test('rate limit: 200 concurrent calls from one user leave exactly 30 accepted', async () => {
  const srv = await startServer({ env: env({ TC_RATE_CONNECTOR_PER_MIN: '1000' }) });
  try {
    const h = await signup(srv, 'r@example.com');
    const run = runner(srv, h, await connect(srv, h, 'stub', KEY));
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => run('echo', { text: `n${i}` })));
    const ok = all.filter((r) => r.status === 202);
    const limited = all.filter((r) => r.status === 429);
    assert.equal(ok.length, 30, all.map((r) => r.status).join(','));
    assert.equal(limited.length, 170);
    for (const r of limited) {
      assert.ok(Number(r.headers['retry-after']) >= 1 && Number(r.headers['retry-after']) <= 60);
      assert.equal(r.headers['x-ratelimit-limit'], '30');
      assert.equal(r.headers['x-ratelimit-remaining'], '0');
      assert.ok(r.headers['x-ratelimit-reset']);
      assert.equal(r.json.error.code, 'rate_limited');
    }
    assert.ok(ok.every((r) => r.headers['x-ratelimit-limit'] === '30'));
    const remaining = ok.map((r) => Number(r.headers['x-ratelimit-remaining'])).sort((a, b) => a - b);
    assert.deepEqual(remaining, Array.from({ length: 30 }, (_, i) => i));
    const jobs = await srv.request('GET', '/api/jobs?limit=200', { headers: h });
    assert.equal(jobs.json.items.length, 30, 'no job for refused calls');
    // Another user is not limited by the first one's window.
    const h2 = await signup(srv, 'r2@example.com');
    const run2 = runner(srv, h2, await connect(srv, h2, 'stub', KEY));
    assert.equal((await run2('echo', { text: 'x' })).status, 202);
  } finally {
    await srv.stop();
  }
});

test('rate limit per connector across users', async () => {
  const srv = await startServer({ env: env({ TC_RATE_CONNECTOR_PER_MIN: '5' }) });
  try {
    const h1 = await signup(srv, 'c1@example.com');
    const h2 = await signup(srv, 'c2@example.com');
    const r1 = runner(srv, h1, await connect(srv, h1, 'stub', KEY));
    const r2 = runner(srv, h2, await connect(srv, h2, 'stub', KEY));
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await r1('echo', {})).status);
    codes.push((await r2('echo', {})).status);
    const sixth = await r2('echo', {});
    assert.deepEqual(codes, [202, 202, 202, 202, 202]);
    assert.equal(sixth.status, 429);
    assert.equal(sixth.headers['x-ratelimit-limit'], '5');
    const other = runner(srv, h2, await connect(srv, h2, 'stub2', KEY), 'stub2');
    assert.equal((await other('echo', {})).status, 202, 'another connector has its own window');
  } finally {
    await srv.stop();
  }
});

test('SIGKILL with jobs queued and running: queued ones run after restart, running ones fail "interrupted"', async () => {
  const dir = tmpDir('tc-exec-kill-');
  let srv = await startServer({ env: env({ TC_JOB_WORKERS: '1' }), dataDir: dir });
  let h;
  let ids;
  try {
    h = await signup(srv, 'k@example.com');
    const run = runner(srv, h, await connect(srv, h, 'stub', KEY));
    const running = await run('hang', { n: 9 });
    await waitJob(srv, h, running.json.job.id, (j) => j.status === 'running');
    const queued = [await run('echo', { text: 'after restart 1' }), await run('echo', { text: 'after restart 2' })];
    ids = { running: running.json.job.id, queued: queued.map((q) => q.json.job.id) };
    for (const id of ids.queued) assert.equal((await srv.request('GET', `/api/jobs/${id}`, { headers: h })).json.status, 'queued');
  } finally {
    await srv.stop({ signal: 'SIGKILL', expectClean: false, keepDir: true });
  }
  if (srv.pg) {
    // On PostgreSQL several instances may share the queue, so a new one
    // fails a running job only once its claim's lease (60 s, renewed by the
    // owner) has run out. Age the dead instance's claim instead of waiting.
    const aged = await pgQuery(srv, "UPDATE pipeline_jobs SET claimed_at = claimed_at - 3600000 WHERE status = 'running' RETURNING id");
    assert.deepEqual(aged.trim().split('\n'), [ids.running]);
  }
  srv = await startServer({ env: env({ TC_JOB_WORKERS: '1' }), dataDir: dir });
  try {
    const r = await waitJob(srv, h, ids.running);
    assert.equal(r.status, 'failed');
    assert.equal(r.error.code, 'interrupted');
    assert.match(r.error.message, /interrupted/);
    assert.ok(r.finished_at);
    for (const id of ids.queued) {
      const j = await waitJob(srv, h, id);
      assert.equal(j.status, 'succeeded', JSON.stringify(j));
      assert.match(JSON.parse(j.result.body).text, /after restart/);
    }
    const logs = await srv.request('GET', '/api/action-logs?tool=hang', { headers: h });
    assert.ok(logs.json.items.some((l) => l.job_id === ids.running && l.status === 'failed'));
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
