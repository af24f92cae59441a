// Running REST tools end to end: the real server, a local stand-in API,
// connector files in TC_CATALOG_PATH.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer } from './lib/server.mjs';
import { startStandin, standinConnector, writeCatalog, signup, connect, waitJob, sleep } from './lib/standin.mjs';

const KEY = 'sk_live_SECRETKEY_8d7f6e5a4b3c';
const QKEY = 'qk_SECRETQUERY_1a2b3c4d5e';
let api;
let srv;
let catalogDir;
let alice;
let bob;
let conn;   // alice's connection to stub
let qconn;  // alice's connection to stubq (query injection)

before(async () => {
  api = await startStandin();
  catalogDir = writeCatalog([
    standinConnector('stub', api.url),
    standinConnector('stubq', api.url, { query: 'api_key' }),
    standinConnector('stubdown', 'http://127.0.0.1:9'),
  ]);
  srv = await startServer({
    env: { TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_JOB_RESPONSE_MAX: '100000',
      TC_RATE_USER_PER_MIN: '1000', TC_RATE_CONNECTOR_PER_MIN: '1000' },
  });
  alice = await signup(srv, 'alice@example.com');
  bob = await signup(srv, 'bob@example.com');
  conn = await connect(srv, alice, 'stub', KEY);
  qconn = await connect(srv, alice, 'stubq', QKEY);
});

after(async () => {
  await srv?.stop();
  api?.close();
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

const run = (tool, args, { slug = 'stub', headers = alice, connection = conn, query = '' } = {}) =>
  srv.request('POST', `/api/connectors/${slug}/tools/${tool}/execute${query}`, {
    headers, body: { connection_id: connection, arguments: args },
  });

test('path placeholders are URL-encoded, query mapped, credential injected, secret kept out of the result', async () => {
  const r = await run('get_item', { id: 'a b/c?d', q: 'x&y=z', tags: ['t1', 't2'] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'succeeded');
  assert.equal(r.json.job.connector, 'stub');
  assert.equal(r.json.job.tool, 'get_item');
  assert.equal(r.json.job.connection_id, conn);
  assert.ok(r.json.job.queued_at && r.json.job.started_at && r.json.job.finished_at);
  const echo = r.json.result;
  assert.equal(echo.method, 'GET');
  assert.equal(echo.rawPath, '/v1/items/a%20b%2Fc%3Fd');
  assert.equal(echo.query.q, 'x&y=z');
  assert.deepEqual(echo.query.tag, ['t1', 't2']);
  assert.equal(echo.query.fixed, 'yes');
  assert.equal(echo.headers['x-api-version'], '7');
  assert.equal(echo.auth, 'Bearer [REDACTED]', 'the credential reached upstream and was blotted from the result');
  assert.ok(!r.text.includes(KEY));
});

test('JSON body template: values typed, absent arguments dropped, header templates', async () => {
  const r = await run('create', { name: 'widget', count: 3 });
  assert.equal(r.status, 200, r.text);
  const echo = r.json.result;
  assert.equal(echo.method, 'POST');
  assert.equal(echo.headers['content-type'], 'application/json');
  assert.equal(echo.headers['x-trace'], 'trace-widget');
  assert.deepEqual(JSON.parse(echo.body), { name: 'widget', nested: { n: 3 } });
});

test('form body with nested values; {*} body takes the arguments not used in the path', async () => {
  const f = await run('form', { email: 'a+b@example.com', meta: { plan: 'pro' } });
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.result.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(f.json.result.body, 'email=a%2Bb%40example.com&meta%5Bplan%5D=pro');
  const s = await run('star', { id: 'k1', a: 1, b: { c: true } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.result.method, 'PUT');
  assert.equal(s.json.result.path, '/v1/star/k1');
  assert.deepEqual(JSON.parse(s.json.result.body), { a: 1, b: { c: true } });
});

test('query-parameter credential injection', async () => {
  const r = await run('get_item', { id: '1' }, { slug: 'stubq', connection: qconn });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.query.api_key, '[REDACTED]');
  assert.ok(r.json.result.rawQuery.includes('fixed=yes'));
  assert.equal(r.json.result.auth, null);
  assert.ok(!r.text.includes(QKEY));
});

test('result pointer picks the declared part', async () => {
  const r = await run('data', {});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result, [1, 2, 3]);
  assert.deepEqual(r.json.job.result, [1, 2, 3]);
});

test('4xx and 5xx fail the job with the status and an excerpt without the secret', async () => {
  for (const code of [404, 500]) {
    const r = await run('status', { code });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.job.status, 'failed');
    assert.equal(r.json.job.error.code, 'upstream_http_error');
    assert.equal(r.json.job.error.http_status, code);
    assert.match(r.json.job.error.message, new RegExp(`HTTP ${code}: .*nope`));
    assert.ok(!r.text.includes(KEY), 'the echoed key is blotted out');
    assert.equal(r.json.result, null);
  }
});

test('429 with Retry-After is retried within the time budget', async () => {
  const t0 = Date.now();
  const r = await run('retry', { key: 'r1' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'succeeded', r.text);
  assert.equal(r.json.result.attempts, 2);
  assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
});

test('a tool time limit fails the job with timeout', async () => {
  const r = await run('slow', { ms: 3000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'failed');
  assert.equal(r.json.job.error.code, 'timeout');
  assert.match(r.json.job.error.message, /timed out after 800 ms/);
});

test('oversize and garbage responses fail the job cleanly', async () => {
  const big = await run('big', {});
  assert.equal(big.json.job.status, 'failed');
  assert.equal(big.json.job.error.code, 'response_too_large');
  const bad = await run('garbage', {});
  assert.equal(bad.json.job.status, 'failed');
  assert.equal(bad.json.job.error.code, 'invalid_upstream_json');
  assert.match(bad.json.job.error.message, /not valid JSON/);
  const ok = await run('data', {});
  assert.equal(ok.json.job.status, 'succeeded', 'the server is fine afterwards');
});

test('upstream down fails the job with a clear error', async () => {
  const c = await connect(srv, alice, 'stubdown', KEY);
  const r = await run('data', {}, { slug: 'stubdown', connection: c });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'failed');
  assert.match(r.json.job.error.message, /cannot reach upstream/);
});

test('unknown connector or tool: 404; schema violations: 422 with paths and no job', async () => {
  const a = await run('data', {}, { slug: 'nope' });
  assert.equal(a.status, 404);
  assert.equal(a.json.error.field, 'connector');
  const b = await run('nope', {});
  assert.equal(b.status, 404);
  assert.equal(b.json.error.field, 'tool');
  const before = await srv.request('GET', '/api/jobs?limit=200', { headers: alice });
  const c = await run('create', { name: '', count: 'three', extra: 1 });
  assert.equal(c.status, 422, c.text);
  const paths = c.json.error.details.map((d) => d.path);
  assert.ok(paths.includes('/name'), JSON.stringify(c.json));
  assert.ok(paths.includes('/count'), JSON.stringify(c.json));
  const d = await run('get_item', {});
  assert.equal(d.status, 422);
  assert.ok(d.json.error.details.some((x) => x.keyword === 'required'));
  const e = await srv.request('POST', '/api/connectors/stub/tools/create/execute', { headers: alice, body: { connection_id: conn, arguments: [1] } });
  assert.equal(e.status, 422);
  assert.equal(e.json.error.field, 'arguments');
  const after = await srv.request('GET', '/api/jobs?limit=200', { headers: alice });
  assert.equal(after.json.items.length, before.json.items.length, 'no job was created');
});

test('no connection, a foreign one or an inactive one: 409 saying what to do', async () => {
  const none = await run('data', {}, { headers: bob, connection: null });
  assert.equal(none.status, 409, none.text);
  assert.equal(none.json.error.code, 'no_connection');
  assert.match(none.json.error.message, /POST \/api\/connections/);
  const foreign = await run('data', {}, { headers: bob, connection: conn });
  assert.equal(foreign.status, 409);
  assert.equal(foreign.json.error.code, 'no_connection');
  const mismatch = await run('data', {}, { connection: qconn });
  assert.equal(mismatch.status, 409);
  assert.equal(mismatch.json.error.code, 'connection_mismatch');
  const c = await connect(srv, bob, 'stub', KEY);
  const ok = await run('data', {}, { headers: bob, connection: null });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.job.connection_id, c);
  const del = await srv.request('DELETE', `/api/connections/${c}`, { headers: bob });
  assert.equal(del.status, 204);
  const inactive = await run('data', {}, { headers: bob, connection: c });
  assert.equal(inactive.status, 409);
  assert.equal(inactive.json.error.code, 'connection_inactive');
  assert.match(inactive.json.error.message, /reconnect/);
});

test('async run: 202 at once, then the job with its events', async () => {
  const r = await run('echo', { text: 'hi' }, { query: '?async=1' });
  assert.equal(r.status, 202, r.text);
  assert.ok(['queued', 'running', 'succeeded'].includes(r.json.job.status));
  const job = await waitJob(srv, alice, r.json.job.id);
  assert.equal(job.status, 'succeeded');
  assert.equal(JSON.parse(job.result.body).text, 'hi');
  assert.deepEqual(job.events.map((e) => e.message).slice(0, 2), ['queued', 'started']);
  assert.equal(job.events.at(-1).message, 'succeeded');
  assert.ok(job.events.every((e) => e.job_id === job.id && e.created_at && e.level));
});

test('wait limit: 202 with the running job, which finishes later', async () => {
  const t0 = Date.now();
  const r = await run('slow_long', { ms: 1200 }, { query: '?wait_ms=200' });
  assert.equal(r.status, 202, r.text);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(r.json.job.status, 'running');
  const job = await waitJob(srv, alice, r.json.job.id);
  assert.equal(job.status, 'succeeded');
});

test('cancel a running job aborts the upstream call; finished jobs refuse', async () => {
  const r = await run('hang', { n: 1 }, { query: '?async=1' });
  assert.equal(r.status, 202);
  await waitJob(srv, alice, r.json.job.id, (j) => j.status === 'running');
  for (let i = 0; i < 100 && api.hanging.size === 0; i++) await sleep(20);
  assert.ok(api.hanging.size >= 1);
  const c = await srv.request('POST', `/api/jobs/${r.json.job.id}/cancel`, { headers: alice });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.status, 'canceled');
  for (let i = 0; i < 100 && api.hanging.size > 0; i++) await sleep(20);
  assert.equal(api.hanging.size, 0, 'the upstream request was aborted');
  const again = await srv.request('POST', `/api/jobs/${r.json.job.id}/cancel`, { headers: alice });
  assert.equal(again.status, 409);
  const done = await run('data', {});
  const late = await srv.request('POST', `/api/jobs/${done.json.job.id}/cancel`, { headers: alice });
  assert.equal(late.status, 409);
  assert.equal(late.json.error.code, 'job_finished');
  const job = await waitJob(srv, alice, r.json.job.id);
  assert.equal(job.status, 'canceled');
  assert.ok(job.events.some((e) => e.message === 'canceled by the user'));
  const logs = await srv.request('GET', '/api/action-logs?tool=hang', { headers: alice });
  for (let i = 0; i < 50 && !logs.json.items.length; i++) await sleep(20);
});

test('jobs list: filters and cursor pagination, newest first', async () => {
  const page1 = await srv.request('GET', '/api/jobs?limit=3', { headers: alice });
  assert.equal(page1.status, 200);
  assert.equal(page1.json.items.length, 3);
  assert.ok(page1.json.next_cursor);
  const page2 = await srv.request('GET', `/api/jobs?limit=3&cursor=${encodeURIComponent(page1.json.next_cursor)}`, { headers: alice });
  assert.equal(page2.json.items.length, 3);
  const ids = new Set([...page1.json.items, ...page2.json.items].map((j) => j.id));
  assert.equal(ids.size, 6);
  assert.ok(page1.json.items[2].queued_at >= page2.json.items[0].queued_at);
  const failed = await srv.request('GET', '/api/jobs?status=failed&connector=stub&limit=200', { headers: alice });
  assert.ok(failed.json.items.length >= 3);
  assert.ok(failed.json.items.every((j) => j.status === 'failed' && j.connector === 'stub'));
  const tool = await srv.request('GET', '/api/jobs?tool=data&limit=200', { headers: alice });
  assert.ok(tool.json.items.every((j) => j.tool === 'data'));
  const future = await srv.request('GET', '/api/jobs?since=2999-01-01T00:00:00Z', { headers: alice });
  assert.equal(future.json.items.length, 0);
  const bad = await srv.request('GET', '/api/jobs?status=weird', { headers: alice });
  assert.equal(bad.status, 400);
  const badc = await srv.request('GET', '/api/jobs?cursor=zzz', { headers: alice });
  assert.equal(badc.status, 400);
});

test('action log: redacted arguments and response, status, latency, error', async () => {
  const r = await run('create', { name: 'audited', password: 'hunter2-very-secret' });
  assert.equal(r.status, 200);
  const logs = await srv.request('GET', '/api/action-logs?tool=create', { headers: alice });
  assert.equal(logs.status, 200);
  const entry = logs.json.items.find((l) => l.job_id === r.json.job.id);
  assert.ok(entry, logs.text);
  assert.equal(entry.status, 'succeeded');
  assert.equal(entry.connector, 'stub');
  assert.equal(entry.connection_id, conn);
  assert.ok(entry.latency_ms >= 0);
  assert.equal(entry.arguments.password, '[REDACTED]');
  assert.equal(entry.arguments.name, 'audited');
  assert.equal(entry.response.auth, 'Bearer [REDACTED]');
  assert.ok(!logs.text.includes('hunter2-very-secret'));
  const failed = await srv.request('GET', '/api/action-logs?tool=status', { headers: alice });
  assert.ok(failed.json.items.some((l) => l.status === 'failed' && l.error.http_status === 404));
  const big = await srv.request('GET', '/api/action-logs?tool=get_item', { headers: alice });
  assert.ok(big.json.items.length >= 1);
});

test('cross-user isolation of jobs, events and action logs', async () => {
  const mine = await srv.request('GET', '/api/jobs?limit=1', { headers: alice });
  const id = mine.json.items[0].id;
  assert.equal((await srv.request('GET', `/api/jobs/${id}`, { headers: bob })).status, 404);
  assert.equal((await srv.request('POST', `/api/jobs/${id}/cancel`, { headers: bob })).status, 404);
  const bobs = await srv.request('GET', '/api/jobs?limit=200', { headers: bob });
  assert.ok(bobs.json.items.every((j) => j.id !== id));
  const logs = await srv.request('GET', '/api/action-logs', { headers: bob });
  assert.ok(logs.json.items.every((l) => l.connection_id !== conn));
  assert.equal((await srv.request('GET', '/api/jobs', {})).status, 401);
});

test('secrets never appear in the server logs', async () => {
  const logs = srv.logs();
  assert.ok(!logs.includes(KEY));
  assert.ok(!logs.includes(QKEY));
  assert.ok(!logs.includes('hunter2-very-secret'));
});

test('metrics count tool runs and the group commit that wrote them', async () => {
  const read = async () => {
    const m = await srv.request('GET', '/metrics');
    assert.equal(m.status, 200);
    const num = (re) => Number((m.text.match(re) || [])[1]);
    return {
      succeeded: num(/tc_jobs_total\{status="succeeded"\} (\d+)/),
      enqueued: num(/tc_jobs_total\{status="enqueued"\} (\d+)/),
      commits: num(/tc_exec_commits_total (\d+)/),
      pieces: num(/tc_exec_commit_pieces_total (\d+)/),
      running: num(/tc_jobs_running (\d+)/),
    };
  };
  const before = await read();
  const r = await run('get_item', { id: 'm' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.job.status, 'succeeded');
  const after = await read();
  assert.equal(after.succeeded - before.succeeded, 1);
  assert.equal(after.enqueued - before.enqueued, 1);
  assert.ok(after.pieces - before.pieces >= 2, 'the enqueue and the finish went through the group commit');
  assert.ok(after.commits > before.commits && after.commits <= after.pieces);
  assert.ok(Number.isInteger(after.running));
});
