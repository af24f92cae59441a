// Starts @modelcontextprotocol/server-everything in streamableHttp, sse or
// stdio mode for the client tests. HTTP modes are forced onto 127.0.0.1 at
// a free port (its PORT variable would bind every interface) by patching
// http.Server.prototype.listen before the server is imported; the port is
// printed as "LISTENING <port>". GET /__stats answers how many sessions
// the server initialised (counted from its own log lines), so tests can
// check that the client reuses one session.
import http from 'node:http';
import './watchdog.mjs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const mode = process.argv[2] || 'stdio';
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'peers', 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist');
const stats = { sessions: 0 };

if (mode !== 'stdio') {
  // Keep stdout quiet (the test only reads the LISTENING line) and count
  // the server's "session initialized" log lines.
  const count = (...a) => {
    const line = a.join(' ');
    if (/Session initialized with ID|Client Connected/.test(line)) stats.sessions++;
  };
  console.log = count;
  console.error = count;
  const listen = http.Server.prototype.listen;
  http.Server.prototype.listen = function (...args) {
    const handlers = this.listeners('request');
    this.removeAllListeners('request');
    this.on('request', (req, res) => {
      if (req.url === '/__stats') {
        res.setHeader('Content-Type', 'application/json');
        return res.end(JSON.stringify(stats));
      }
      for (const h of handlers) h.call(this, req, res);
    });
    const cb = args.find((a) => typeof a === 'function');
    const server = this;
    return listen.call(this, 0, '127.0.0.1', () => {
      process.stdout.write(`LISTENING ${server.address().port}\n`);
      if (cb) cb();
    });
  };
}
await import(pathToFileURL(path.join(dist, 'transports', `${mode}.js`)).href);
