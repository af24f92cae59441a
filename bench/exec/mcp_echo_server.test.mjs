// The C MCP peer of the exec benchmark (bench/exec/mcp_echo_server.c) is a
// correct MCP server: the official TypeScript SDK client and the platform's
// own MCP client (discover + execute through toolconnect) both work with it,
// and it answers protocol errors as the Streamable HTTP transport says.
//   MCP_ECHO_BIN=<build>/bin/mcp_echo_server TC_BIN=<build>/bin/toolconnect node --test bench/exec/mcp_echo_server.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer, request } from '../../tests/blackbox/lib/server.mjs';
import { writeCatalog, signup } from '../../tests/blackbox/lib/standin.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..', '..');
const require = createRequire(path.join(root, 'tests', 'peers', 'package.json'));
const sdk = (p) => import(require.resolve(`@modelcontextprotocol/sdk/${p}`));
const BIN = process.env.MCP_ECHO_BIN || path.resolve(process.env.TC_BUILD_DIR || 'build', 'bin/mcp_echo_server');

let peer;
let url;

function startEchoPeer(bin = BIN) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => reject(new Error('mcp_echo_server did not start')), 10000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/LISTENING (\d+)/);
      if (m) { clearTimeout(t); resolve({ proc: p, url: `http://127.0.0.1:${m[1]}/mcp` }); }
    });
    p.on('error', reject);
    p.on('exit', (code) => reject(new Error(`mcp_echo_server exited ${code}`)));
  });
}

const ACCEPT = 'application/json, text/event-stream';
const rpc = (headers, body) => request(url, {
  method: 'POST', headers: { Accept: ACCEPT, 'Content-Type': 'application/json', ...headers }, body,
});
const initBody = (version = '2025-06-18') => ({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'test', version: '1' } },
});

async function rawSession() {
  const r = await rpc({}, initBody());
  assert.equal(r.status, 200, r.text);
  const sid = r.headers['mcp-session-id'];
  assert.match(sid, /^[0-9a-f]{32}$/);
  const n = await rpc({ 'Mcp-Session-Id': sid }, { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(n.status, 202);
  assert.equal(n.text, '');
  return sid;
}

before(async () => {
  peer = await startEchoPeer();
  url = peer.url;
});

after(() => {
  peer?.proc.kill('SIGTERM');
});

test('the MCP TypeScript SDK client initializes, lists tools, calls echo and add, and ends the session', async () => {
  const { Client } = await sdk('client/index.js');
  const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
  const client = new Client({ name: 'sdk-interop', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  assert.equal(client.getServerVersion().name, 'tc-mcp-echo');
  assert.ok(client.getServerCapabilities().tools);
  assert.match(transport.sessionId, /^[0-9a-f]{32}$/);

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name), ['echo', 'add']);
  assert.deepEqual(tools[0].inputSchema.required, ['message']);

  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
  assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: hello' }]);
  assert.equal(echo.isError, false);
  const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  assert.deepEqual(add.structuredContent, { sum: 42 });
  const bad = await client.callTool({ name: 'echo', arguments: { message: 7 } });
  assert.equal(bad.isError, true);
  assert.match(bad.content[0].text, /message/);
  await assert.rejects(client.callTool({ name: 'nope', arguments: {} }), /Unknown tool/);
  await client.ping();

  const sid = transport.sessionId;
  await transport.terminateSession();
  await client.close();
  const after = await rpc({ 'Mcp-Session-Id': sid }, { jsonrpc: '2.0', id: 9, method: 'ping' });
  assert.equal(after.status, 404, 'a deleted session is gone');
});

test('protocol version negotiation and the MCP-Protocol-Version header', async () => {
  for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    const r = await rpc({}, initBody(v));
    assert.equal(r.json.result.protocolVersion, v);
  }
  const other = await rpc({}, initBody('1999-01-01'));
  assert.equal(other.json.result.protocolVersion, '2025-11-25', 'an unknown version gets our latest');
  const sid = await rawSession();
  const bad = await rpc({ 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '1999-01-01' }, { jsonrpc: '2.0', id: 2, method: 'ping' });
  assert.equal(bad.status, 400);
  const good = await rpc({ 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' }, { jsonrpc: '2.0', id: 2, method: 'ping' });
  assert.deepEqual(good.json, { jsonrpc: '2.0', id: 2, result: {} });
});

test('transport errors: session header, Accept, Content-Type, Origin, GET, unknown path', async () => {
  const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
  const none = await rpc({}, ping);
  assert.equal(none.status, 400);
  assert.equal(none.json.error.code, -32000);
  const unknown = await rpc({ 'Mcp-Session-Id': 'f'.repeat(32) }, ping);
  assert.equal(unknown.status, 404);
  const sid = await rawSession();
  assert.equal((await rpc({ 'Mcp-Session-Id': sid, Accept: 'application/json' }, ping)).status, 406);
  assert.equal((await rpc({ 'Mcp-Session-Id': sid, 'Content-Type': 'text/plain' }, JSON.stringify(ping))).status, 415);
  assert.equal((await rpc({ 'Mcp-Session-Id': sid, Origin: 'http://evil.example' }, ping)).status, 403);
  assert.equal((await rpc({ 'Mcp-Session-Id': sid, Origin: 'http://localhost:5173' }, ping)).status, 200);
  const get = await request(url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } });
  assert.equal(get.status, 405);
  assert.match(get.headers.allow, /POST/);
  const elsewhere = await request(url.replace('/mcp', '/other'), { method: 'POST', body: ping });
  assert.equal(elsewhere.status, 404);
  const big = await rpc({ 'Mcp-Session-Id': sid }, JSON.stringify({ ...ping, pad: 'x'.repeat(1100000) }));
  assert.equal(big.status, 413);
});

test('JSON-RPC errors: parse error, invalid request, unknown method, bad params; batches', async () => {
  const sid = await rawSession();
  const h = { 'Mcp-Session-Id': sid };
  const parse = await rpc(h, '{"jsonrpc":"2.0", oops');
  assert.equal(parse.status, 400);
  assert.equal(parse.json.error.code, -32700);
  assert.equal((await rpc(h, { id: 3, method: 'ping' })).json.error.code, -32600);
  const nope = await rpc(h, { jsonrpc: '2.0', id: 'x', method: 'resources/list' });
  assert.equal(nope.json.id, 'x');
  assert.equal(nope.json.error.code, -32601);
  assert.equal((await rpc(h, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: {} })).json.error.code, -32602);
  assert.equal((await rpc(h, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: [] } })).json.error.code, -32602);
  const batch = await rpc(h, [
    { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'echo', arguments: { message: 'b' } } },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
    { jsonrpc: '2.0', id: 7, method: 'ping' },
  ]);
  assert.equal(batch.status, 200);
  assert.deepEqual(batch.json.map((m) => m.id), [6, 7]);
  assert.equal(batch.json[0].result.content[0].text, 'Echo: b');
  const onlyNotes = await rpc(h, [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }]);
  assert.equal(onlyNotes.status, 202);
});

test('the platform discovers the peer and runs echo through its MCP executor', async () => {
  const catalogDir = writeCatalog([{
    slug: 'cecho', name: 'C echo', description: 'mcp_echo_server', category: 'testing',
    mcp: { url }, auth: { type: 'none' }, tools: [],
  }]);
  const srv = await startServer({ env: { TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1' } });
  try {
    const h = await signup(srv, 'cecho@example.com');
    const d = await srv.request('POST', '/api/connectors/cecho/discover', { headers: h });
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json.tools.map((t) => t.name).sort(), ['add', 'echo']);
    const c = await srv.request('POST', '/api/connections', { headers: h, body: { connector: 'cecho', credentials: {} } });
    assert.equal(c.status, 201, c.text);
    for (const message of ['one', 'two']) {
      const r = await srv.request('POST', '/api/connectors/cecho/tools/echo/execute', {
        headers: h, body: { connection_id: c.json.id, arguments: { message } },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.job.status, 'succeeded');
      assert.equal(r.json.result.content[0].text, `Echo: ${message}`);
    }
    const add = await srv.request('POST', '/api/connectors/cecho/tools/add/execute', {
      headers: h, body: { connection_id: c.json.id, arguments: { a: 1.5, b: 2 } },
    });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.json.result.structuredContent.sum, 3.5);
  } finally {
    await srv.stop();
    fs.rmSync(catalogDir, { recursive: true, force: true });
  }
});
