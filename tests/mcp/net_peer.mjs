// Tiny HTTP server for unit_net: fixed routes that exercise the limits of
// src/net. Listens on 127.0.0.1 at a free port and prints "LISTENING <port>".
import http from 'node:http';
import './watchdog.mjs';

const routes = {
  '/ok': (req, res) => { res.setHeader('X-Test', ' yes '); res.end('hello'); },
  '/echo': (req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization || null }));
    });
  },
  '/big': (req, res) => res.end('x'.repeat(200000)),
  '/bigheaders': (req, res) => { for (let i = 0; i < 50; i++) res.setHeader('X-Pad-' + i, 'p'.repeat(1000)); res.end('ok'); },
  '/hang': () => {},
  '/status/503': (req, res) => { res.statusCode = 503; res.end('down'); },
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const m = url.pathname.match(/^\/redirect\/(\d+)$/);
  if (m) {
    const n = Number(m[1]);
    res.statusCode = 302;
    res.setHeader('Location', n > 1 ? `/redirect/${n - 1}` : '/ok');
    return res.end();
  }
  const r = routes[url.pathname];
  if (!r) { res.statusCode = 404; return res.end('no'); }
  r(req, res);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
