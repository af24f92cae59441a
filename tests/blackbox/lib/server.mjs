// Shared black-box helper: start the real toolconnect binary on a free
// 127.0.0.1 port with a fresh temp data dir and SQLite database, wait for
// /readyz, collect its logs, stop it with SIGTERM and check the clean exit.
//
//   import { startServer, request, runCli } from './lib/server.mjs';
//   const srv = await startServer({ env: { TC_CORS_ORIGINS: 'http://a.test' } });
//   const r = await srv.request('GET', '/healthz');   // {status, headers, json, text, body}
//   await srv.stop();                                   // asserts exit code 0
//
// Environment: TC_BIN (path of the binary; set by ctest), TC_KEEP_TMP=1 keeps
// temp dirs (and PostgreSQL databases), TC_SHOW_LOGS=1 echoes server logs to
// stderr.
//
// PostgreSQL: with TC_TEST_PG_URL set (scripts/pg-test.sh exec STATE ...) or
// TC_TEST_PG_STATE (that state dir; its `url` file is read), every
// startServer() gets a fresh database on that server instead of SQLite
// (CREATE DATABASE, via psql), one per data dir: a restart on the same dataDir
// reuses it. It is dropped when stop() removes the data dir, and any left at
// process exit are dropped then. srv.pg is {url, database} (null on SQLite).
// A TC_DATABASE_URL passed in env always wins (no database is created).
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.TC_BIN || path.resolve(process.env.TC_BUILD_DIR || 'build', 'bin/toolconnect');
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export function binary() {
  return BIN;
}

export function tmpDir(prefix = 'tc-bb-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function rmTmp(dir) {
  if (dir && !process.env.TC_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
}

// --- PostgreSQL databases per data dir --------------------------------------

const PG_BIN = process.env.TC_PG_BIN || '/usr/lib/postgresql/15/bin';
const PSQL = fs.existsSync(path.join(PG_BIN, 'psql')) ? path.join(PG_BIN, 'psql') : 'psql';
const pgDatabases = new Map(); // dataDir -> database name
let pgSeq = 0;

// The base URL of the test server, or null for SQLite.
export function pgBaseUrl() {
  if (process.env.TC_TEST_PG_URL) return process.env.TC_TEST_PG_URL;
  const state = process.env.TC_TEST_PG_STATE;
  if (!state) return null;
  const f = path.join(state, 'url');
  if (!fs.existsSync(f)) throw new Error(`TC_TEST_PG_STATE=${state}: no ${f} (run scripts/pg-test.sh start ${state})`);
  return fs.readFileSync(f, 'utf8').trim();
}

function pgUrlFor(base, database) {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

function psqlArgs(base, sql) {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', base, '-c', sql];
}

function pgRun(base, sql) {
  return new Promise((resolve, reject) => {
    execFile(PSQL, psqlArgs(base, sql), { timeout: 60000 }, (e, _out, stderr) => {
      if (e) reject(new Error(`psql ${sql}: ${stderr || e.message}`));
      else resolve();
    });
  });
}

function pgDropSync(base, database) {
  // WITH (FORCE): a server killed with SIGKILL may leave backends behind.
  spawnSync(PSQL, psqlArgs(base, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`), { stdio: 'ignore', timeout: 30000 });
}

// The database for dataDir (created on first use), or null without PostgreSQL.
async function pgDatabaseFor(dir) {
  const base = pgBaseUrl();
  if (!base) return null;
  let database = pgDatabases.get(dir);
  if (!database) {
    // Names are ours alone: pid + counter + random, lower-case identifier.
    database = `tc_bb_${process.pid}_${++pgSeq}_${Math.random().toString(36).slice(2, 8)}`;
    await pgRun(base, `CREATE DATABASE ${database}`);
    pgDatabases.set(dir, database);
  }
  return { base, database, url: pgUrlFor(base, database) };
}

// The TC_DATABASE_URL startServer({dataDir: dir}) will use (on PostgreSQL
// the database is created now), e.g. to run `toolconnect migrate` first.
export async function databaseUrl(dir) {
  const pg = await pgDatabaseFor(dir);
  return pg ? pg.url : `sqlite:${path.join(dir, 'toolconnect.db')}`;
}

async function pgForget(dir) {
  const database = pgDatabases.get(dir);
  if (!database || process.env.TC_KEEP_TMP) return;
  pgDatabases.delete(dir);
  await pgRun(pgBaseUrl(), `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

process.on('exit', () => {
  if (!pgDatabases.size || process.env.TC_KEEP_TMP) return;
  let base;
  try { base = pgBaseUrl(); } catch { return; }
  for (const database of pgDatabases.values()) pgDropSync(base, database);
});

// Runs SQL on the server's PostgreSQL database with psql; resolves to its
// unaligned output (rows one a line, fields |-separated). For tests that
// must change what only time would change (e.g. age a job lease).
export function pgQuery(srv, sql) {
  return new Promise((resolve, reject) => {
    execFile(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', srv.pg.url, '-c', sql], { timeout: 60000 }, (e, out, stderr) => {
      if (e) reject(new Error(`psql ${sql}: ${stderr || e.message}`));
      else resolve(out);
    });
  });
}

// pg_dump of the server's PostgreSQL database as text (plain format, bytea
// as \x hex): for checks that a value never reaches the database.
export function pgDump(srv) {
  const r = spawnSync(path.join(PG_BIN, 'pg_dump'), ['-d', srv.pg.url, '--data-only'], { timeout: 60000, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  return r.stdout;
}

// HTTP request with node:http (no automatic decompression or redirects).
// body: object -> JSON with Content-Type application/json; string/Buffer -> as is.
export function request(url, { method = 'GET', headers = {}, body, agent, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    let payload = body;
    if (body !== undefined && body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) {
      payload = JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    }
    const req = http.request(url, { method, headers: h, agent: agent ?? false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        let json;
        try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json, body: buf });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out: ${method} ${url}`)));
    req.on('error', reject);
    if (payload !== undefined && payload !== null) req.write(payload);
    req.end();
  });
}

// Runs a toolconnect subcommand to completion: {code, signal, stdout, stderr}.
export function runCli(args, { env = {}, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      live.delete(p);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Parses log lines (TC_LOG_FORMAT=json) into objects; non-JSON lines kept as {raw}.
export function parseLogs(text) {
  return text.split('\n').filter(Boolean).map((l) => {
    try { return JSON.parse(l); } catch { return { raw: l }; }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `toolconnect serve`. Options:
//   env         extra/override environment (TC_*)
//   args        extra command-line flags
//   dataDir     reuse a data dir (default: fresh temp dir, removed on stop);
//               on PostgreSQL the same dataDir means the same database
//   testRoutes  TC_TEST_ROUTES=1 (default true)
//   readyTimeoutMs  (default 15000)
export async function startServer({ env = {}, args = [], dataDir, testRoutes = true, readyTimeoutMs = 15000 } = {}) {
  const ownDir = !dataDir;
  const dir = dataDir || tmpDir();
  const pg = env.TC_DATABASE_URL ? null : await pgDatabaseFor(dir);
  const fullEnv = {
    ...process.env,
    TC_LISTEN: '127.0.0.1:0',
    TC_DATA_DIR: dir,
    TC_DATABASE_URL: pg ? pg.url : `sqlite:${path.join(dir, 'toolconnect.db')}`,
    TC_LOG_FORMAT: 'json',
    TC_LOG_LEVEL: 'info',
    TC_WEB_ROOT: path.join(dir, 'no-web-root'),
    TC_TEST_ROUTES: testRoutes ? '1' : '0',
    ...env,
  };
  const t0 = Date.now();
  const proc = spawn(BIN, ['serve', ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let logText = '';
  let stdout = '';
  proc.stderr.on('data', (d) => {
    logText += d;
    if (process.env.TC_SHOW_LOGS) process.stderr.write(d);
  });
  proc.stdout.on('data', (d) => { stdout += d; });
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(proc);
      resolve(exited);
    });
  });

  const srv = {
    proc,
    pid: proc.pid,
    dataDir: dir,
    env: fullEnv,
    pg: pg ? { url: pg.url, database: pg.database } : null,
    port: 0,
    url: '',
    logs: () => logText,
    logLines: () => parseLogs(logText),
    stdout: () => stdout,
    exited: () => exited,
    request: (method, p, opts = {}) => request(srv.url + p, { ...opts, method }),
    // Resolves when a log line matches pred (a RegExp on the raw text or a
    // function on the parsed object).
    async waitForLog(pred, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const lines = parseLogs(logText);
        const hit = lines.find((l) => (pred instanceof RegExp ? pred.test(JSON.stringify(l)) : pred(l)));
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`log line not seen; logs:\n${logText}`);
        await sleep(20);
      }
    },
    // SIGTERM (or another signal), wait for exit, assert a clean exit unless
    // expectClean is false. Returns {code, signal, ms}.
    async stop({ signal = 'SIGTERM', timeoutMs = 15000, expectClean = true, keepDir = false } = {}) {
      const t = Date.now();
      if (!exited) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const res = await exitPromise;
      clearTimeout(timer);
      if (ownDir && !keepDir) {
        rmTmp(dir);
        await pgForget(dir);
      }
      if (expectClean && (res.code !== 0 || res.signal)) {
        throw new Error(`server did not exit cleanly: ${JSON.stringify(res)}; logs:\n${logText}`);
      }
      return { ...res, ms: Date.now() - t };
    },
  };

  const end = Date.now() + readyTimeoutMs;
  while (!srv.port) {
    if (exited) throw new Error(`server exited early ${JSON.stringify(exited)}; logs:\n${logText}`);
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`server did not log "listening"; logs:\n${logText}`);
    }
    const l = parseLogs(logText).find((x) => x.msg === 'listening' && x.port);
    if (l) {
      srv.port = Number(l.port);
      srv.url = `http://127.0.0.1:${srv.port}`;
    } else {
      await sleep(10);
    }
  }
  for (;;) {
    try {
      const r = await request(srv.url + '/readyz', { timeoutMs: 2000 });
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (exited) throw new Error(`server exited early ${JSON.stringify(exited)}; logs:\n${logText}`);
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`server not ready; logs:\n${logText}`);
    }
    await sleep(20);
  }
  srv.readyMs = Date.now() - t0;
  return srv;
}
