// A real MCP server (the official SDK, Streamable HTTP, stateless) on
// 127.0.0.1 with one slow tool, guarded by an API key, for the e2e test.
//   const peer = await startMcpPeer({ apiKey }); peer.url; await peer.close();
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const peers = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../peers/node_modules');
const require = createRequire(path.join(peers, 'x.js'));
const load = (spec) => import(pathToFileURL(require.resolve(spec)).href);

export async function startMcpPeer({ apiKey, delayMs = 2500 }) {
  const { McpServer } = await load('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } = await load('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const { z } = await load('zod');
  const calls = [];

  function makeServer() {
    const server = new McpServer({ name: 'e2e-echo', version: '1.0.0' });
    server.registerTool(
      'shout',
      {
        description: 'Repeats a message in capitals, after a short pause.',
        inputSchema: { message: z.string(), times: z.number().int().min(1).max(5).optional() },
      },
      async ({ message, times = 1 }) => {
        calls.push({ message, times });
        await new Promise((r) => setTimeout(r, delayMs));
        return { content: [{ type: 'text', text: Array(times).fill(message.toUpperCase()).join(' ') }] };
      },
    );
    return server;
  }

  const httpServer = http.createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"bad key"}');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' }).end();
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const { port } = httpServer.address();
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    close: () => new Promise((r) => { httpServer.closeAllConnections?.(); httpServer.close(r); }),
  };
}
