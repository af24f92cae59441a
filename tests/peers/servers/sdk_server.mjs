// An MCP server written with @modelcontextprotocol/sdk for the client tests.
//   node sdk_server.mjs [--json] [--stateless] [--stdio] [--page-size N]
// HTTP modes listen on 127.0.0.1 (free port) and print "LISTENING <port>".
// Tools: echo, add, slow(ms), big(bytes), ask-client(method), crash, plus
// filler tools so tools/list spans several pages (nextCursor).
// Extra HTTP routes for tests: GET /__stats (initialize count, sessions),
// POST /__expire (forget every session: the next call gets 404),
// and misbehaving MCP endpoints /bad-json, /bad-rpc, /wrong-type,
// /oversize, /hang.
import http from 'node:http';
import '../../mcp/watchdog.mjs';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const sdk = (p) => import(require.resolve(`@modelcontextprotocol/sdk/${p}`));
const { Server } = await sdk('server/index.js');
const { StreamableHTTPServerTransport } = await sdk('server/streamableHttp.js');
const { StdioServerTransport } = await sdk('server/stdio.js');
const types = await sdk('types.js');

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const pageSize = Number(args[args.indexOf('--page-size') + 1]) || 4;
const stats = { initialize: 0, sessions: 0, deleted: 0, cancelled: 0 };

const tools = [
  { name: 'echo', description: 'Echoes the message', inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'add', description: 'a + b, also as structuredContent', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } },
  { name: 'slow', description: 'Waits ms, reporting progress', inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
  { name: 'big', description: 'Returns a text of n bytes', inputSchema: { type: 'object', properties: { n: { type: 'number' } } } },
  { name: 'ask-client', description: 'Sends a server request to the client', inputSchema: { type: 'object', properties: { method: { type: 'string' } } } },
  { name: 'fail', description: 'Returns isError', inputSchema: { type: 'object' } },
  { name: 'crash', description: 'Exits the process mid-call', inputSchema: { type: 'object' } },
];
for (let i = 0; i < 7; i++) tools.push({ name: `filler-${i}`, description: 'filler', inputSchema: { type: 'object' } });

const text = (t) => ({ content: [{ type: 'text', text: t }] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeServer() {
  const server = new Server({ name: 'tc-test-sdk-server', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(types.ListToolsRequestSchema, async (req) => {
    const start = Number(req.params?.cursor ?? 0);
    const page = tools.slice(start, start + pageSize);
    const next = start + pageSize < tools.length ? String(start + pageSize) : undefined;
    return next ? { tools: page, nextCursor: next } : { tools: page };
  });
  server.setNotificationHandler(types.CancelledNotificationSchema, async () => { stats.cancelled++; });
  server.setRequestHandler(types.CallToolRequestSchema, async (req, extra) => {
    const a = req.params.arguments ?? {};
    switch (req.params.name) {
      case 'echo': return text(`Echo: ${a.message}`);
      case 'add': return { ...text(String(a.a + a.b)), structuredContent: { sum: a.a + a.b } };
      case 'big': return text('x'.repeat(a.n));
      case 'fail': return { ...text('tool failed on purpose'), isError: true };
      case 'crash': setTimeout(() => process.exit(3), 50); await sleep(10000); return text('unreachable');
      case 'slow': {
        const token = req.params._meta?.progressToken;
        const steps = 4;
        for (let i = 1; i <= steps; i++) {
          if (extra.signal.aborted) return text('aborted');
          await sleep(a.ms / steps);
          if (token !== undefined) {
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } });
          }
        }
        return text(`slept ${a.ms}`);
      }
      case 'ask-client': {
        try {
          const r = await extra.sendRequest({ method: a.method, params: {} }, types.ResultSchema, { timeout: 5000 });
          return text(`client answered: ${JSON.stringify(r)}`);
        } catch (e) {
          return text(`client error: ${e.code} ${e.message}`);
        }
      }
      default: return text('filler');
    }
  });
  server.oninitialized = () => {};
  return server;
}

if (flag('--stdio')) {
  const server = makeServer();
  await server.connect(new StdioServerTransport());
  process.stderr.write('sdk stdio server ready\n');
} else {
  const sessions = new Map();
  const readBody = (req) => new Promise((resolve) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => resolve(b));
  });
  const misbehave = {
    '/bad-json': (res) => { res.setHeader('Content-Type', 'application/json'); res.end('{"jsonrpc":"2.0", oops'); },
    '/bad-rpc': (res) => { res.setHeader('Content-Type', 'application/json'); res.end('{"hello":"world"}'); },
    '/wrong-type': (res) => { res.setHeader('Content-Type', 'text/html'); res.end('<html>hi</html>'); },
    '/oversize': (res) => { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { pad: 'x'.repeat(300000) } })); },
    '/hang': () => {},
  };
  const httpServer = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__stats') { res.setHeader('Content-Type', 'application/json'); return res.end(JSON.stringify(stats)); }
    if (url.pathname === '/__expire') {
      for (const t of sessions.values()) t.close().catch(() => {});
      sessions.clear();
      return res.end('expired');
    }
    if (misbehave[url.pathname]) { await readBody(req); return misbehave[url.pathname](res); }
    if (url.pathname !== '/mcp') { res.statusCode = 404; return res.end(); }
    if (req.headers.authorization) stats.auth = req.headers.authorization;
    const raw = req.method === 'POST' ? await readBody(req) : undefined;
    let body;
    try { body = raw ? JSON.parse(raw) : undefined; } catch { body = undefined; }
    if (body && !Array.isArray(body) && body.method === 'initialize') stats.initialize++;
    if (flag('--stateless')) {
      const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: flag('--json') });
      const server = makeServer();
      await server.connect(t);
      res.on('close', () => { t.close(); server.close(); });
      return t.handleRequest(req, res, body);
    }
    const sid = req.headers['mcp-session-id'];
    if (sid) {
      const t = sessions.get(sid);
      if (!t) { res.statusCode = 404; res.setHeader('Content-Type', 'application/json'); return res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } })); }
      if (req.method === 'DELETE') stats.deleted++;
      return t.handleRequest(req, res, body);
    }
    const t = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: flag('--json'),
      onsessioninitialized: (id) => { sessions.set(id, t); stats.sessions++; },
    });
    t.onclose = () => { if (t.sessionId) sessions.delete(t.sessionId); };
    await makeServer().connect(t);
    return t.handleRequest(req, res, body);
  });
  httpServer.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${httpServer.address().port}\n`));
}
