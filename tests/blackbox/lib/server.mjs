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
// temp dirs, TC_SHOW_LOGS=1 echoes server logs to stderr.
import { spawn } from 'node:child_process';
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
//   dataDir     reuse a data dir (default: fresh temp dir, removed on stop)
//   testRoutes  TC_TEST_ROUTES=1 (default true)
//   readyTimeoutMs  (default 15000)
export async function startServer({ env = {}, args = [], dataDir, testRoutes = true, readyTimeoutMs = 15000 } = {}) {
  const ownDir = !dataDir;
  const dir = dataDir || tmpDir();
  const fullEnv = {
    ...process.env,
    TC_LISTEN: '127.0.0.1:0',
    TC_DATA_DIR: dir,
    TC_DATABASE_URL: `sqlite:${path.join(dir, 'toolconnect.db')}`,
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
      if (ownDir && !keepDir) rmTmp(dir);
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
