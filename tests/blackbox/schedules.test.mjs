// Schedules end to end: the API (validation, isolation, CRUD, preview, run
// now, pause/resume, runs) and the engine (firing within 1 s, once per due
// time, overlap skip, auto-pause after failures, misfire after downtime),
// against the real server with a local stand-in REST API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, tmpDir } from './lib/server.mjs';
import { startStandin, standinConnector, writeCatalog, signup, connect, sleep } from './lib/standin.mjs';

let api;
let srv;
let catalogDir;
let alice;
let bob;
let conn;      // alice's connection to stub
let bobConn;   // bob's connection to stub
let otherConn; // alice's connection to stub2

// A mail transport that is never reached (port 9): a queued e-mail stays in
// the outbox, where the test route shows it.
const env = () => ({
  TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1',
  TC_SMTP_URL: 'smtp://127.0.0.1:9', TC_MAIL_FROM: 'alerts@tc.test', TC_NOTIFY_POLL_MS: '600000',
});

before(async () => {
  api = await startStandin();
  catalogDir = writeCatalog([standinConnector('stub', api.url), standinConnector('stub2', api.url)]);
  srv = await startServer({ env: env() });
  alice = await signup(srv, 'alice@example.com');
  bob = await signup(srv, 'bob@example.com');
  conn = await connect(srv, alice, 'stub', 'k_alice');
  otherConn = await connect(srv, alice, 'stub2', 'k_alice2');
  bobConn = await connect(srv, bob, 'stub', 'k_bob');
});

after(async () => {
  await srv?.stop();
  api?.close();
  fs.rmSync(catalogDir, { recursive: true, force: true });
});

const base = (over = {}) => ({
  name: 'nightly echo', cron: '0 3 * * *', timezone: 'Europe/Berlin', connector: 'stub', tool: 'echo',
  connection_id: conn, arguments: { text: 'hi' }, enabled: true, overlap: 'skip', misfire: 'run_once', ...over,
});

async function create(s, headers, body) {
  const r = await s.request('POST', '/api/schedules', { headers, body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function runs(s, headers, id) {
  const r = await s.request('GET', `/api/schedules/${id}/runs?limit=200`, { headers });
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

async function until(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const ms = (t) => Date.parse(t);

test('create validates every field and names it', async () => {
  const bad = async (over, status, field, re) => {
    const r = await srv.request('POST', '/api/schedules', { headers: alice, body: base(over) });
    assert.equal(r.status, status, `${JSON.stringify(over)}: ${r.text}`);
    if (field) assert.equal(r.json.error.field, field, r.text);
    if (re) assert.match(r.json.error.message, re);
    return r.json;
  };
  const e = await bad({ cron: '0 61 * * *' }, 422, 'cron', /hour: 61 is out of range 0-23 at position 2/);
  assert.equal(e.error.position, 2);
  assert.equal(e.error.cron_field, 'hour');
  await bad({ cron: '0 0 30 2 *' }, 422, 'cron', /can never fire/);
  await bad({ cron: '* * *' }, 422, 'cron');
  await bad({ timezone: 'Mars/Olympus' }, 422, 'timezone', /not a known IANA time zone/);
  await bad({ timezone: '../etc/passwd' }, 422, 'timezone');
  await bad({ connector: 'nope' }, 422, 'connector');
  await bad({ tool: 'nope' }, 422, 'tool');
  await bad({ connection_id: otherConn }, 422, 'connection_id', /belongs to stub2/);
  await bad({ connection_id: bobConn }, 422, 'connection_id');
  await bad({ overlap: 'queue' }, 422, 'overlap');
  await bad({ misfire: 'run_all' }, 422, 'misfire');
  await bad({ max_failures: -1 }, 422, 'max_failures');
  await bad({ name: '' }, 422, 'name');
  await bad({ name: 'x'.repeat(201) }, 422, 'name');
  await bad({ arguments: [] }, 422, 'arguments');
  const s = await bad({ tool: 'status', arguments: { code: 'five hundred' } }, 422, 'arguments');
  assert.ok(Array.isArray(s.error.details) && s.error.details.length >= 1, JSON.stringify(s));
  const noName = base();
  delete noName.name;
  const r = await srv.request('POST', '/api/schedules', { headers: alice, body: noName });
  assert.equal(r.status, 422);
  assert.equal(r.json.error.field, 'name');
  const anon = await srv.request('POST', '/api/schedules', { body: base() });
  assert.equal(anon.status, 401);
});

test('CRUD, preview, pages, pause and resume', async () => {
  const body = base();
  delete body.connection_id; // the newest active connection is the default
  const s = await create(srv, alice, body);
  assert.equal(s.connection_id, conn);
  assert.equal(s.enabled, true);
  assert.equal(s.overlap, 'skip');
  assert.equal(s.misfire, 'run_once');
  assert.equal(s.max_failures, 5);
  assert.equal(s.consecutive_failures, 0);
  assert.deepEqual(s.arguments, { text: 'hi' });
  // 03:00 in Berlin is 01:00 or 02:00 UTC
  assert.match(s.next_run_at, /T0[12]:00:00\.000Z$/);
  assert.ok(ms(s.next_run_at) > Date.now());

  const got = await srv.request('GET', `/api/schedules/${s.id}`, { headers: alice });
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, s);

  const pv = await srv.request('GET', `/api/schedules/${s.id}/preview?n=3`, { headers: alice });
  assert.equal(pv.status, 200, pv.text);
  assert.equal(pv.json.next.length, 3);
  assert.equal(pv.json.next[0].utc, s.next_run_at);
  assert.match(pv.json.next[0].local, /T03:00:00\.000\+0[12]:00$/);
  assert.equal((await srv.request('GET', `/api/schedules/${s.id}/preview?n=101`, { headers: alice })).status, 400);

  const p = await srv.request('PATCH', `/api/schedules/${s.id}`, {
    headers: alice, body: { name: 'hourly', cron: '30 * * * *', timezone: 'UTC' },
  });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.name, 'hourly');
  assert.match(p.json.next_run_at, /T\d\d:30:00\.000Z$/);
  assert.ok(ms(p.json.next_run_at) - Date.now() <= 3600e3);
  const pbad = await srv.request('PATCH', `/api/schedules/${s.id}`, { headers: alice, body: { cron: '1 2 3' } });
  assert.equal(pbad.status, 422);
  assert.equal(pbad.json.error.field, 'cron');
  assert.equal(typeof pbad.json.error.position, 'number');
  const pconn = await srv.request('PATCH', `/api/schedules/${s.id}`, { headers: alice, body: { connector: 'stub2' } });
  assert.equal(pconn.status, 200, pconn.text);
  assert.equal(pconn.json.connection_id, otherConn, 'another connector takes its default connection');

  const paused = await srv.request('POST', `/api/schedules/${s.id}/pause`, { headers: alice });
  assert.equal(paused.status, 200);
  assert.equal(paused.json.enabled, false);
  assert.equal(paused.json.next_run_at, null);
  const resumed = await srv.request('POST', `/api/schedules/${s.id}/resume`, { headers: alice });
  assert.equal(resumed.json.enabled, true);
  assert.ok(ms(resumed.json.next_run_at) > Date.now());

  const s2 = await create(srv, alice, base({ name: 'second' }));
  const page1 = await srv.request('GET', '/api/schedules?limit=1', { headers: alice });
  assert.equal(page1.json.items.length, 1);
  assert.equal(page1.json.items[0].id, s2.id, 'newest first');
  assert.ok(page1.json.next_cursor);
  const page2 = await srv.request('GET', `/api/schedules?limit=1&cursor=${encodeURIComponent(page1.json.next_cursor)}`, { headers: alice });
  assert.equal(page2.json.items[0].id, s.id);
  assert.equal((await srv.request('GET', '/api/schedules?cursor=garbage', { headers: alice })).status, 400);

  const del = await srv.request('DELETE', `/api/schedules/${s2.id}`, { headers: alice });
  assert.equal(del.status, 204);
  assert.equal((await srv.request('GET', `/api/schedules/${s2.id}`, { headers: alice })).status, 404);
  await srv.request('DELETE', `/api/schedules/${s.id}`, { headers: alice });
});

test("someone else's schedule is 404 everywhere", async () => {
  const s = await create(srv, alice, base({ name: 'private' }));
  for (const [m, p, body] of [
    ['GET', ''], ['PATCH', '', { name: 'mine now' }], ['DELETE', ''], ['GET', '/preview'],
    ['POST', '/run'], ['POST', '/pause'], ['POST', '/resume'], ['GET', '/runs'],
  ]) {
    const r = await srv.request(m, `/api/schedules/${s.id}${p}`, { headers: bob, body });
    assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
  }
  const list = await srv.request('GET', '/api/schedules', { headers: bob });
  assert.ok(!list.json.items.some((x) => x.id === s.id));
  const still = await srv.request('GET', `/api/schedules/${s.id}`, { headers: alice });
  assert.equal(still.json.name, 'private');
  await srv.request('DELETE', `/api/schedules/${s.id}`, { headers: alice });
});

test('POST /api/cron/preview', async () => {
  const r = await srv.request('POST', '/api/cron/preview', {
    headers: alice, body: { cron: '30 2 * * *', timezone: 'America/New_York', n: 2, from: '2024-03-09T12:00:00Z' },
  });
  assert.equal(r.status, 200, r.text);
  // 02:30 on 2024-03-10 does not exist in New York: it runs at 03:00 EDT
  assert.deepEqual(r.json.next.map((x) => x.utc), ['2024-03-10T07:00:00.000Z', '2024-03-11T06:30:00.000Z']);
  const bad = await srv.request('POST', '/api/cron/preview', { headers: alice, body: { cron: '*/0 * * * *', timezone: 'UTC' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.field, 'cron');
  assert.equal(bad.json.error.position, 2, bad.text);
});

test('run now makes a job linked to the schedule', async () => {
  const s = await create(srv, alice, base({ name: 'by hand', enabled: false }));
  const r = await srv.request('POST', `/api/schedules/${s.id}/run`, { headers: alice });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.job.schedule_id, s.id);
  assert.equal(r.json.job.tool, 'echo');
  const job = await until(async () => {
    const j = await srv.request('GET', `/api/jobs/${r.json.job.id}`, { headers: alice });
    return j.json.status === 'succeeded' && j.json;
  }, 5000, 'the run to succeed');
  assert.equal(job.result.body, '{"text":"hi"}');
  const list = await runs(srv, alice, s.id);
  assert.deepEqual(list.map((j) => j.id), [r.json.job.id]);
  const after = await srv.request('GET', `/api/schedules/${s.id}`, { headers: alice });
  assert.equal(after.json.last_job_id, r.json.job.id);
  await srv.request('DELETE', `/api/schedules/${s.id}`, { headers: alice });
});

test('a schedule every second fires within 1 s of each due time, once per due time', async () => {
  const s = await create(srv, alice, base({ name: 'every second', cron: '* * * * * *', overlap: 'allow' }));
  await sleep(3300);
  await srv.request('POST', `/api/schedules/${s.id}/pause`, { headers: alice });
  const jobs = await runs(srv, alice, s.id);
  assert.ok(jobs.length >= 3 && jobs.length <= 5, `${jobs.length} runs in 3.3 s`);
  const due = jobs.map((j) => ms(j.scheduled_for)).sort((a, b) => a - b);
  assert.equal(new Set(due).size, due.length, 'each due time at most once');
  for (let i = 0; i < due.length; i++) {
    assert.equal(due[i] % 1000, 0, 'due times are whole seconds');
    if (i) assert.equal(due[i] - due[i - 1], 1000, 'no due time skipped');
  }
  for (const j of jobs) {
    const late = ms(j.queued_at) - ms(j.scheduled_for);
    assert.ok(late >= 0 && late < 1000, `enqueued ${late} ms after its due time`);
  }
  await srv.request('DELETE', `/api/schedules/${s.id}`, { headers: alice });
});

test('overlap skip: no new run while the previous one is still going; allow overlaps', async () => {
  const slow = { tool: 'slow_long', arguments: { ms: 2200 }, cron: '* * * * * *' };
  const skip = await create(srv, alice, base({ ...slow, name: 'slow skip', overlap: 'skip' }));
  const allow = await create(srv, alice, base({ ...slow, name: 'slow allow', overlap: 'allow' }));
  await sleep(4600);
  await srv.request('POST', `/api/schedules/${skip.id}/pause`, { headers: alice });
  await srv.request('POST', `/api/schedules/${allow.id}/pause`, { headers: alice });
  const s = (await runs(srv, alice, skip.id)).sort((a, b) => ms(a.queued_at) - ms(b.queued_at));
  const a = await runs(srv, alice, allow.id);
  assert.ok(s.length >= 1 && s.length <= 2, `skip: ${s.length} runs`);
  for (let i = 1; i < s.length; i++) {
    assert.ok(s[i - 1].finished_at, 'the previous run had finished');
    assert.ok(ms(s[i].queued_at) >= ms(s[i - 1].finished_at), 'queued after the previous one finished');
  }
  assert.ok(a.length >= 4, `allow: ${a.length} runs`);
  await srv.request('DELETE', `/api/schedules/${skip.id}`, { headers: alice });
  await srv.request('DELETE', `/api/schedules/${allow.id}`, { headers: alice });
});

test('auto-pause after max_failures consecutive failures, with an event on the last failed run', async () => {
  const s = await create(srv, alice, base({
    name: 'flaky', tool: 'status', arguments: { code: 500 }, cron: '* * * * * *', max_failures: 2, overlap: 'allow',
  }));
  const paused = await until(async () => {
    const r = await srv.request('GET', `/api/schedules/${s.id}`, { headers: alice });
    return r.json.enabled === false && r.json;
  }, 6000, 'the schedule to pause itself');
  assert.equal(paused.consecutive_failures, 2);
  assert.equal(paused.next_run_at, null);
  assert.match(paused.paused_reason, /paused after 2 consecutive failed runs/);
  const jobs = await runs(srv, alice, s.id);
  const failed = jobs.filter((j) => j.status === 'failed');
  assert.ok(failed.length >= 2, JSON.stringify(jobs.map((j) => j.status)));
  const withEvent = [];
  for (const j of failed) {
    const full = await srv.request('GET', `/api/jobs/${j.id}`, { headers: alice });
    if (full.json.events.some((e) => /paused after 2 consecutive/.test(e.message) && e.level === 'error')) withEvent.push(j.id);
  }
  assert.equal(withEvent.length, 1, 'one pause event');
  const mail = (await srv.request('GET', '/api/_test/notifications', { headers: alice })).json.items;
  const paused1 = mail.filter((m) => m.kind === 'schedule.paused');
  assert.equal(paused1.length, 1, JSON.stringify(mail));
  assert.match(JSON.stringify(paused1[0]), /flaky/);
  await sleep(1300);
  assert.equal((await runs(srv, alice, s.id)).length, jobs.length, 'no runs after the pause');

  // resume resets the count; a success keeps it at 0
  const res = await srv.request('POST', `/api/schedules/${s.id}/resume`, { headers: alice });
  assert.equal(res.json.consecutive_failures, 0);
  assert.equal(res.json.paused_reason, null);
  await srv.request('PATCH', `/api/schedules/${s.id}`, { headers: alice, body: { tool: 'echo', arguments: {} } });
  await until(async () => {
    const list = await runs(srv, alice, s.id);
    return list.some((j) => j.tool === 'echo' && j.status === 'succeeded');
  }, 4000, 'a successful run');
  await srv.request('POST', `/api/schedules/${s.id}/pause`, { headers: alice });
  const ok = await srv.request('GET', `/api/schedules/${s.id}`, { headers: alice });
  assert.equal(ok.json.consecutive_failures, 0);
});

test('misfire after downtime: run_once runs the missed due time once, skip does not; due times persist', async () => {
  const dir = tmpDir('tc-sched-misfire-');
  let s1 = await startServer({ env: env(), dataDir: dir });
  const h = await signup(s1, 'carol@example.com');
  const c = await connect(s1, h, 'stub', 'k_carol');
  const mk = (name, misfire) => create(s1, h, base({ name, misfire, cron: '0 * * * *', timezone: 'UTC', connection_id: c }));
  const once = await mk('once', 'run_once');
  const skip = await mk('skip', 'skip');
  const every = await create(s1, h, base({ name: 'every second', cron: '* * * * * *', connection_id: c, overlap: 'allow' }));
  await until(async () => (await runs(s1, h, every.id)).length >= 2, 4000, 'two runs before the stop');
  await s1.stop({ keepDir: true });
  const before = await runs(s1, h, every.id).catch(() => null);
  assert.equal(before, null, 'server is down');

  // Two hours later, as far as the scheduler can tell.
  const s2 = await startServer({ env: { ...env(), TC_SCHEDULER_CLOCK_OFFSET_MS: String(2 * 3600e3) }, dataDir: dir });
  try {
    const r1 = await until(async () => {
      const list = await runs(s2, h, once.id);
      return list.length > 0 && list;
    }, 4000, 'the missed run');
    assert.equal(r1.length, 1);
    assert.equal(r1[0].scheduled_for, once.next_run_at, 'the missed due time runs, once');
    await sleep(600);
    assert.equal((await runs(s2, h, once.id)).length, 1);
    assert.equal((await runs(s2, h, skip.id)).length, 0, 'misfire skip: nothing runs');
    for (const id of [once.id, skip.id]) {
      const g = await s2.request('GET', `/api/schedules/${id}`, { headers: h });
      assert.ok(ms(g.json.next_run_at) > Date.now() + 2 * 3600e3 - 1000, 'next run moved past the downtime');
    }
    await s2.request('POST', `/api/schedules/${every.id}/pause`, { headers: h });
    const e = await runs(s2, h, every.id);
    const due = e.map((j) => j.scheduled_for);
    assert.equal(new Set(due).size, due.length, 'no due time fired twice across the restart');
  } finally {
    await s2.stop();
  }
});
