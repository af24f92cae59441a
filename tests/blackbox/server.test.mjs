// Black-box tests of the HTTP server and the serve/migrate commands: the real
// binary on a loopback port with a temp SQLite database.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { databaseUrl, startServer, request, runCli, tmpDir } from './lib/server.mjs';

const json = (obj) => ({ body: obj });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assertErrorShape(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers['content-type'], /application\/json/);
  assert.ok(r.json && r.json.error, `error body expected: ${r.text}`);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
}

// Raw HTTP/1.1 over one socket: sends each request after the previous
// response is complete (Content-Length responses only).
function rawExchange(port, requests) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const responses = [];
    let buf = Buffer.alloc(0);
    let i = 0;
    const sendNext = () => sock.write(requests[i]);
    sock.on('connect', sendNext);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const m = /content-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        responses.push({ head, body: buf.subarray(end + 4, end + 4 + len).toString() });
        buf = buf.subarray(end + 4 + len);
        i++;
        if (i === requests.length) {
          sock.end();
          resolve(responses);
          return;
        }
        sendNext();
      }
    });
    sock.on('error', reject);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('raw exchange timed out')); });
  });
}

describe('running server', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TC_CORS_ORIGINS: 'http://app.test, http://other.test', TC_HTTP_THREADS: '1' } });
  });
  after(async () => { await srv.stop(); });

  test('healthz, readyz and request ids', async () => {
    const h = await srv.request('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    assert.match(h.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    const r = await srv.request('GET', '/readyz', { headers: { 'X-Request-Id': 'trace-abc.123' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ready' });
    assert.equal(r.headers['x-request-id'], 'trace-abc.123');
    const bad = await srv.request('GET', '/healthz', { headers: { 'X-Request-Id': 'has space' } });
    assert.notEqual(bad.headers['x-request-id'], 'has space');
  });

  test('metrics are Prometheus text with requests, latency, db pool and build info', async () => {
    await srv.request('GET', '/healthz');
    await srv.request('GET', '/api/definitely-missing');
    const m = await srv.request('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'], /^text\/plain/);
    assert.match(m.text, /tc_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    assert.match(m.text, /tc_http_requests_total\{route="unmatched",method="any",status="404"\} \d+/);
    assert.match(m.text, /tc_http_request_duration_seconds_bucket\{route="\/healthz",method="GET",le="\+Inf"\} \d+/);
    assert.match(m.text, /tc_http_request_duration_seconds_count\{route="\/healthz",method="GET"\} \d+/);
    assert.match(m.text, /tc_db_pool_size \d+/);
    assert.match(m.text, /tc_db_queries_total \d+/);
    assert.match(m.text, new RegExp(`tc_build_info\\{version="[0-9.]+",db="${srv.pg ? 'postgres' : 'sqlite'}"\\} 1`));
  });

  test('unknown path is a 404 in the error shape; wrong method is 405 with Allow', async () => {
    assertErrorShape(await srv.request('GET', '/api/nope'), 404, 'not_found');
    const r = await srv.request('DELETE', '/healthz');
    assertErrorShape(r, 405, 'method_not_allowed');
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
    const e = await srv.request('GET', '/api/_test/echo');
    assertErrorShape(e, 405, 'method_not_allowed');
    assert.equal(e.headers.allow, 'POST, OPTIONS');
    const head = await srv.request('HEAD', '/healthz');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('JSON body: echo, 415, 400 malformed with position, invalid UTF-8, depth, 422 naming the field', async () => {
    const ok = await srv.request('POST', '/api/_test/echo', json({ name: 'bob', n: 3, flag: true }));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { json: { name: 'bob', n: 3, flag: true }, name: 'bob', n: 3, flag: true });

    const ct = await srv.request('POST', '/api/_test/echo', { body: '{}', headers: { 'Content-Type': 'text/plain' } });
    assertErrorShape(ct, 415, 'unsupported_media_type');
    const noct = await srv.request('POST', '/api/_test/echo', { body: '{}' });
    assertErrorShape(noct, 415, 'unsupported_media_type');

    const bad = await srv.request('POST', '/api/_test/echo', { body: '{"a": [1, 2,', headers: { 'Content-Type': 'application/json' } });
    assertErrorShape(bad, 400, 'invalid_json');
    assert.match(bad.json.error.message, /line 1 column \d+/);

    const utf8 = await srv.request('POST', '/api/_test/echo', {
      body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assertErrorShape(utf8, 400, 'invalid_utf8');

    const deep = await srv.request('POST', '/api/_test/echo', { body: '['.repeat(33) + ']'.repeat(33), headers: { 'Content-Type': 'application/json' } });
    assertErrorShape(deep, 400, 'json_too_deep');
    const okDepth = await srv.request('POST', '/api/_test/echo', { body: '{"a":' + '['.repeat(31) + ']'.repeat(31) + '}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(okDepth.status, 200, okDepth.text);

    const empty = await srv.request('POST', '/api/_test/echo', { body: '', headers: { 'Content-Type': 'application/json' } });
    assertErrorShape(empty, 400, 'invalid_json');

    const range = await srv.request('POST', '/api/_test/echo', json({ n: 101 }));
    assertErrorShape(range, 422, 'validation_failed');
    assert.equal(range.json.error.field, 'n');
    const type = await srv.request('POST', '/api/_test/echo', json({ name: 5 }));
    assertErrorShape(type, 422, 'validation_failed');
    assert.equal(type.json.error.field, 'name');
    const long = await srv.request('POST', '/api/_test/echo', json({ name: 'x'.repeat(17) }));
    assert.equal(long.json.error.field, 'name');
    const arr = await srv.request('POST', '/api/_test/echo', json([1, 2]));
    assertErrorShape(arr, 422, 'validation_failed');
  });

  test('413 for an oversize body, with Content-Length and chunked', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 0x61);
    const cl = await srv.request('POST', '/api/_test/echo', { body: big, headers: { 'Content-Type': 'application/json' } });
    assertErrorShape(cl, 413, 'too_large');
    const chunked = await new Promise((resolve, reject) => {
      import('node:http').then(({ default: http }) => {
        const req = http.request(srv.url + '/api/_test/echo', {
          method: 'POST', agent: false,
          headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
        }, (res) => {
          let text = '';
          res.on('data', (d) => { text += d; });
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        for (let i = 0; i < 20; i++) req.write(Buffer.alloc(64 * 1024, 0x61));
        req.end();
      });
    });
    assertErrorShape(chunked, 413, 'too_large');
    // the server is fine afterwards
    assert.equal((await srv.request('GET', '/healthz')).status, 200);
  });

  test('too many headers is refused', async () => {
    const headers = {};
    for (let i = 0; i < 80; i++) headers[`X-Extra-${i}`] = 'v';
    const r = await srv.request('GET', '/healthz', { headers });
    assertErrorShape(r, 413, 'too_many_headers');
    // header bytes are bounded by the per-connection memory limit (MHD answers 431)
    const huge = await srv.request('GET', '/healthz', { headers: { 'X-Huge': 'a'.repeat(40000) } });
    assert.equal(huge.status, 431);
    assert.equal((await srv.request('GET', '/healthz')).status, 200);
    // the default (TC_HTTP_CONN_MEMORY 12 KiB) still takes 8 KB of headers
    const big = await srv.request('GET', '/healthz', { headers: { 'X-Big': 'a'.repeat(8000) } });
    assert.equal(big.status, 200);
  });

  test('TC_HTTP_CONN_MEMORY raises the header limit', async () => {
    const big = await startServer({ env: { TC_HTTP_CONN_MEMORY: '65536' } });
    try {
      const r = await big.request('GET', '/healthz', { headers: { 'X-Huge': 'a'.repeat(40000) } });
      assert.equal(r.status, 200);
      const over = await big.request('GET', '/healthz', { headers: { 'X-Huge': 'a'.repeat(70000) } });
      assert.equal(over.status, 431);
    } finally {
      await big.stop();
    }
  });

  test('keep-alive: two requests on one socket', async () => {
    const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const [a, b] = await rawExchange(srv.port, [req, req.replace('/healthz', '/readyz')]);
    assert.match(a.head, /^HTTP\/1\.1 200/);
    assert.equal(a.body, '{"status":"ok"}');
    assert.match(b.head, /^HTTP\/1\.1 200/);
    assert.equal(b.body, '{"status":"ready"}');
  });

  test('CORS: preflight for an allowed origin, refusal for others, headers on responses', async () => {
    const pre = await srv.request('OPTIONS', '/api/_test/echo', {
      headers: { Origin: 'http://app.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'http://app.test');
    assert.match(pre.headers['access-control-allow-methods'], /POST/);
    assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
    assert.match(pre.headers.vary, /Origin/);
    const other = await srv.request('OPTIONS', '/api/_test/echo', {
      headers: { Origin: 'http://other.test', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(other.headers['access-control-allow-origin'], 'http://other.test');
    const denied = await srv.request('OPTIONS', '/api/_test/echo', {
      headers: { Origin: 'http://evil.test', 'Access-Control-Request-Method': 'POST' },
    });
    assertErrorShape(denied, 403, 'cors_origin_denied');
    assert.equal(denied.headers['access-control-allow-origin'], undefined);
    const get = await srv.request('GET', '/healthz', { headers: { Origin: 'http://app.test' } });
    assert.equal(get.headers['access-control-allow-origin'], 'http://app.test');
    const get2 = await srv.request('GET', '/healthz', { headers: { Origin: 'http://evil.test' } });
    assert.equal(get2.headers['access-control-allow-origin'], undefined);
  });

  test('suspended request is answered from another thread without blocking the only worker', async () => {
    const t0 = Date.now();
    let slowDone = false;
    const slow = srv.request('GET', '/api/_test/slow?ms=1500');
    slow.then(() => { slowDone = true; }, () => {});
    await sleep(50);
    const h = await srv.request('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(slowDone, false, 'healthz waited for the slow request');
    const s = await slow;
    assert.equal(s.status, 200);
    assert.deepEqual(s.json, { slept_ms: 1500 });
    assert.ok(Date.now() - t0 >= 1500);
    const bad = await srv.request('GET', '/api/_test/slow?ms=abc');
    assertErrorShape(bad, 400, 'bad_request');
    assert.equal(bad.json.error.field, 'ms');
  });

  test('stream: SSE events arrive over time, then the body ends; heartbeats when idle', async () => {
    const r = await srv.request('GET', '/api/_test/stream?n=3&interval_ms=50');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    assert.equal((r.text.match(/^event: tick$/gm) || []).length, 3);
    assert.match(r.text, /id: 3\nevent: tick\ndata: \{"i":3\}\n\n$/);
    const hb = await srv.request('GET', '/api/_test/stream?n=2&interval_ms=700&heartbeat_ms=200');
    assert.match(hb.text, /^: hb$/m);
  });

  test('access log: one line per request, without the query string', async () => {
    await srv.request('GET', '/healthz?ticket=SECRET-TICKET-123', { headers: { 'X-Request-Id': 'log-check-1' } });
    const line = await srv.waitForLog((l) => l.msg === 'request' && l.request_id === 'log-check-1');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/healthz');
    assert.equal(line.route, '/healthz');
    assert.equal(line.status, '200');
    assert.ok(Number(line.latency_ms) >= 0);
    assert.equal(line.bytes, '15');
    assert.ok('user_id' in line);
    assert.ok(!srv.logs().includes('SECRET-TICKET-123'));
  });

  test('static: no web root gives a page saying the app is not built; /api stays JSON', async () => {
    const r = await srv.request('GET', '/dashboard');
    assert.equal(r.status, 503);
    assert.match(r.headers['content-type'], /text\/html/);
    assert.match(r.text, /not built/);
    assertErrorShape(await srv.request('GET', '/api/unknown/thing'), 404, 'not_found');
  });
});

describe('static files', () => {
  let srv;
  let root;
  const appJs = 'console.log("hello from the app");\n'.repeat(200);
  before(async () => {
    root = tmpDir('tc-web-');
    fs.mkdirSync(path.join(root, 'assets'));
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>TC</title><div id="root"></div>');
    fs.writeFileSync(path.join(root, 'assets', 'app-3f9a1c.js'), appJs);
    const css = 'body { color: red; }\n'.repeat(100);
    fs.writeFileSync(path.join(root, 'assets', 'style-77aa.css'), css);
    fs.writeFileSync(path.join(root, 'assets', 'style-77aa.css.gz'), zlib.gzipSync(css, { level: 9 }));
    fs.writeFileSync(path.join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    fs.writeFileSync(path.join(path.dirname(root), 'tc-secret-outside.txt'), 'secret');
    srv = await startServer({ env: { TC_WEB_ROOT: root } });
  });
  after(async () => {
    await srv.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(root), 'tc-secret-outside.txt'), { force: true });
  });

  test('index.html at / and as the fallback for unknown app paths, never cached', async () => {
    for (const p of ['/', '/dashboard', '/connectors/github/tools']) {
      const r = await srv.request('GET', p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.match(r.text, /<div id="root">/);
    }
    const missing = await srv.request('GET', '/missing-file.js');
    assertErrorShape(missing, 404, 'not_found');
    assertErrorShape(await srv.request('GET', '/api/nope'), 404, 'not_found');
    const post = await srv.request('POST', '/dashboard', json({}));
    assertErrorShape(post, 405, 'method_not_allowed');
  });

  test('hashed assets: content type, immutable caching, gzip on the fly and precompressed', async () => {
    const plain = await srv.request('GET', '/assets/app-3f9a1c.js');
    assert.equal(plain.status, 200);
    assert.equal(plain.text, appJs);
    assert.match(plain.headers['content-type'], /^text\/javascript/);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-encoding'], undefined);

    const gz = await srv.request('GET', '/assets/app-3f9a1c.js', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers.vary, /Accept-Encoding/);
    assert.ok(gz.body.length < appJs.length / 4);
    assert.equal(zlib.gunzipSync(gz.body).toString(), appJs);

    const pre = await srv.request('GET', '/assets/style-77aa.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(pre.headers['content-encoding'], 'gzip');
    assert.match(pre.headers['content-type'], /^text\/css/);
    assert.deepEqual(pre.body, fs.readFileSync(path.join(root, 'assets', 'style-77aa.css.gz')));

    const q0 = await srv.request('GET', '/assets/app-3f9a1c.js', { headers: { 'Accept-Encoding': 'gzip;q=0' } });
    assert.equal(q0.headers['content-encoding'], undefined);

    const head = await srv.request('HEAD', '/assets/app-3f9a1c.js');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), appJs.length);
    assert.equal(head.body.length, 0);

    const png = await srv.request('GET', '/logo.png', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(png.headers['content-type'], 'image/png');
    assert.equal(png.headers['content-encoding'], undefined);
  });

  test('path traversal is refused', async () => {
    for (const p of ['/../tc-secret-outside.txt', '/assets/../../tc-secret-outside.txt', '/%2e%2e/tc-secret-outside.txt', '/assets//app-3f9a1c.js']) {
      const [r] = await rawExchange(srv.port, [`GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`]);
      assert.ok(!r.body.includes('secret'), p);
      assert.match(r.head, /^HTTP\/1\.1 (400|404)/, p);
    }
  });
});

test('test routes are not served unless TC_TEST_ROUTES=1', async () => {
  const srv = await startServer({ testRoutes: false });
  try {
    assertErrorShape(await srv.request('POST', '/api/_test/echo', json({})), 404, 'not_found');
  } finally {
    await srv.stop();
  }
});

test('graceful shutdown: in-flight requests finish, streams end, exit 0', async () => {
  const srv = await startServer();
  const slow = srv.request('GET', '/api/_test/slow?ms=700');
  const stream = srv.request('GET', '/api/_test/stream?n=0&interval_ms=50');
  await sleep(200);
  const t0 = Date.now();
  const stopped = srv.stop();
  const s = await slow;
  assert.equal(s.status, 200);
  assert.deepEqual(s.json, { slept_ms: 700 });
  const st = await stream;
  assert.equal(st.status, 200);
  assert.match(st.text, /event: tick/);
  assert.match(st.text, /\n\n$/);
  const res = await stopped;
  assert.equal(res.code, 0);
  assert.ok(Date.now() - t0 < 5000);
  assert.match(srv.logs(), /"msg":"shutting down"/);
  assert.match(srv.logs(), /"msg":"stopped"/);
  await assert.rejects(request(srv.url + '/healthz', { timeoutMs: 1000 }));
});

test('master key: generated once with mode 0600 and a warning; reused; a bad key is a clear error', async () => {
  const dir = tmpDir();
  try {
    const a = await startServer({ dataDir: dir });
    await a.stop();
    const keyPath = path.join(dir, 'master.key');
    const st = fs.statSync(keyPath);
    assert.equal(st.mode & 0o777, 0o600);
    const key = fs.readFileSync(keyPath, 'utf8').trim();
    assert.equal(Buffer.from(key, 'base64').length, 32);
    assert.match(a.logs(), /"level":"warn".*TC_MASTER_KEY/);
    assert.ok(!a.logs().includes(key), 'the key must never be logged');

    const b = await startServer({ dataDir: dir });
    await b.stop();
    assert.equal(fs.readFileSync(keyPath, 'utf8').trim(), key);

    const good = await startServer({ env: { TC_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') } });
    await good.stop();
    assert.ok(!/production deployments should set TC_MASTER_KEY/.test(good.logs()));

    const bad = await runCli(['serve'], {
      env: { TC_MASTER_KEY: Buffer.alloc(16, 1).toString('base64'), TC_DATA_DIR: dir, TC_LISTEN: '127.0.0.1:0' },
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /master key must decode to 32 bytes/);
    const notb64 = await runCli(['serve'], { env: { TC_MASTER_KEY: '!!!not base64!!!', TC_DATA_DIR: dir, TC_LISTEN: '127.0.0.1:0' } });
    assert.notEqual(notb64.code, 0);
    assert.match(notb64.stderr, /not valid base64/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('migrate twice, then serve on the same database', async () => {
  const dir = tmpDir();
  try {
    const env = { TC_DATA_DIR: dir, TC_DATABASE_URL: await databaseUrl(dir), TC_LOG_FORMAT: 'json' };
    const m1 = await runCli(['migrate'], { env });
    assert.equal(m1.code, 0, m1.stderr);
    assert.match(m1.stderr, /migrations applied/);
    const m2 = await runCli(['migrate'], { env });
    assert.equal(m2.code, 0, m2.stderr);
    assert.ok(!/migration applied/.test(m2.stderr), 'second run applies nothing');
    const portFile = path.join(dir, 'port');
    const srv = await startServer({ dataDir: dir, env: { TC_PORT_FILE: portFile } });
    assert.equal((await srv.request('GET', '/readyz')).status, 200);
    assert.equal(Number(fs.readFileSync(portFile, 'utf8').trim()), srv.port);
    await srv.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad settings are clear errors', async () => {
  const r = await runCli(['serve', '--listen', 'nonsense'], { env: { TC_DATA_DIR: tmpDir() } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /host:port/);
  const l = await runCli(['serve'], { env: { TC_LOG_FORMAT: 'xml' } });
  assert.equal(l.code, 2);
  assert.match(l.stderr, /TC_LOG_FORMAT/);
});
