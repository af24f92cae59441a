// A local stand-in REST API for the executor tests, plus connector files
// pointing at it. The stand-in echoes what it received (method, path,
// query, headers, body), so tests can check the request mapping; it echoes
// the Authorization header too, so tests can check it never comes back.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tmpDir } from './server.mjs';

export function startStandin() {
  const hits = new Map(); // key -> count
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      const body = Buffer.concat(chunks).toString('utf8');
      const send = (code, obj, headers = {}) => {
        res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
        res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
      };
      const echo = {
        method: req.method,
        path: url.pathname,
        rawPath: req.url.split('?')[0],
        query: Object.fromEntries([...url.searchParams.keys()].map((k) => [k, url.searchParams.getAll(k).length > 1 ? url.searchParams.getAll(k) : url.searchParams.get(k)])),
        rawQuery: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        auth: req.headers.authorization || null,
        headers: req.headers,
        body,
      };
      const seg = url.pathname.split('/').filter(Boolean);
      const key = seg.slice(1).join('/');
      hits.set(key, (hits.get(key) || 0) + 1);
      if (seg[1] === 'status') return send(Number(seg[2]), { error: 'nope', echoed_auth: echo.auth });
      if (seg[1] === 'ratelimited') {
        if (hits.get(key) === 1) return send(429, { error: 'slow down' }, { 'Retry-After': '1' });
        return send(200, { ok: true, attempts: hits.get(key) });
      }
      if (seg[1] === 'slow') {
        const t = setTimeout(() => send(200, { slept: Number(url.searchParams.get('ms')) }), Number(url.searchParams.get('ms') || 0));
        res.on('close', () => clearTimeout(t));
        return undefined;
      }
      if (seg[1] === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return undefined;
      }
      if (seg[1] === 'big') return send(200, JSON.stringify({ blob: 'x'.repeat(300000) }));
      if (seg[1] === 'garbage') return send(200, '<html>this is not json');
      if (seg[1] === 'data') return send(200, { data: { items: [1, 2, 3] }, other: true });
      return send(200, echo);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({
        server, url, hits, hanging,
        close: () => { for (const r of hanging) r.destroy(); server.closeAllConnections?.(); server.close(); },
      });
    });
  });
}

const obj = (properties, required = []) => ({ type: 'object', properties, required });

export function standinConnector(slug, baseUrl, inject) {
  return {
    slug, name: `Stand-in ${slug}`, description: 'local REST stand-in', category: 'testing', base_url: baseUrl,
    headers: { 'X-Api-Version': '7' },
    auth: { type: 'api_key', ...(inject ? { inject } : {}) },
    tools: [
      { name: 'get_item', description: 'path + query', input_schema: obj({ id: { type: 'string' }, q: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } }, ['id']),
        request: { method: 'GET', path: '/v1/items/{id}', query: { q: '{q}', tag: '{tags}', fixed: 'yes' } } },
      { name: 'create', description: 'json body', input_schema: obj({ name: { type: 'string', minLength: 1 }, count: { type: 'integer' }, password: { type: 'string' }, missing: {} }, ['name']),
        request: { method: 'POST', path: '/v1/things', body: { name: '{name}', nested: { n: '{count}' }, opt: '{missing}', password: '{password}' }, headers: { 'X-Trace': 'trace-{name}' } } },
      { name: 'form', description: 'form body', input_schema: obj({ email: { type: 'string' }, meta: { type: 'object' } }),
        request: { method: 'POST', path: '/v1/form', form: { email: '{email}', meta: '{meta}' } } },
      { name: 'star', description: 'rest of the arguments', input_schema: obj({ id: { type: 'string' }, a: {}, b: {} }, ['id']),
        request: { method: 'PUT', path: '/v1/star/{id}', body: '{*}' } },
      { name: 'status', description: 'any status', input_schema: obj({ code: { type: 'integer' } }, ['code']),
        request: { method: 'GET', path: '/v1/status/{code}' } },
      { name: 'retry', description: '429 then 200', input_schema: obj({ key: { type: 'string' } }, ['key']),
        request: { method: 'GET', path: '/v1/ratelimited/{key}' } },
      { name: 'slow', description: 'sleeps', timeout_ms: 800, input_schema: obj({ ms: { type: 'integer' } }, ['ms']),
        request: { method: 'GET', path: '/v1/slow', query: { ms: '{ms}' } } },
      { name: 'slow_long', description: 'sleeps, long budget', input_schema: obj({ ms: { type: 'integer' } }, ['ms']),
        request: { method: 'GET', path: '/v1/slow', query: { ms: '{ms}' } } },
      { name: 'hang', description: 'never answers', input_schema: obj({ n: { type: 'integer' } }),
        request: { method: 'GET', path: '/v1/hang', query: { n: '{n}' } } },
      { name: 'big', description: 'oversize', input_schema: obj({}), request: { method: 'GET', path: '/v1/big' } },
      { name: 'garbage', description: 'not json', input_schema: obj({}), request: { method: 'GET', path: '/v1/garbage' } },
      { name: 'data', description: 'result pointer', input_schema: obj({}), request: { method: 'GET', path: '/v1/data', result: '/data/items' } },
      { name: 'echo', description: 'echo', input_schema: obj({ text: { type: 'string' } }), request: { method: 'POST', path: '/v1/echo', body: { text: '{text}' } } },
    ],
  };
}

// Writes connector files into a fresh directory for TC_CATALOG_PATH.
export function writeCatalog(docs) {
  const dir = tmpDir('tc-exec-catalog-');
  for (const d of docs) fs.writeFileSync(path.join(dir, `${d.slug}.json`), JSON.stringify(d));
  return dir;
}

export async function signup(srv, email) {
  const r = await srv.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
  if (r.status !== 201) throw new Error(`signup ${r.status} ${r.text}`);
  return { Authorization: `Bearer ${r.json.access_token}` };
}

export async function connect(srv, headers, connector, apiKey) {
  const r = await srv.request('POST', '/api/connections', { headers, body: { connector, label: 'test', credentials: { api_key: apiKey } } });
  if (r.status !== 201) throw new Error(`connect ${r.status} ${r.text}`);
  return r.json.id;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitJob(srv, headers, id, pred = (j) => !['queued', 'running'].includes(j.status), timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await srv.request('GET', `/api/jobs/${id}`, { headers });
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > end) throw new Error(`job ${id} did not reach the state: ${r.text}`);
    await sleep(25);
  }
}
