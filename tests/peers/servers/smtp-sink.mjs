// A local SMTP sink for the notification tests, on the `smtp-server` npm
// package: accepts every message on 127.0.0.1 (no TLS, no auth required but
// AUTH PLAIN/LOGIN accepted and recorded) and keeps them in memory.
//
//   import { startSmtpSink } from '../peers/servers/smtp-sink.mjs';
//   const sink = await startSmtpSink();            // or { port } to reuse one
//   sink.url                                        // smtp://127.0.0.1:PORT
//   const m = await sink.waitFor((m) => m.to.includes('a@b.c'));
//   m.subject, m.text (quoted-printable decoded), m.raw, m.auth
//   await sink.stop();                              // port can be reused later
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { SMTPServer } = require('smtp-server');

function decodeQP(s) {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function header(raw, name) {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(head);
  return m ? m[1].trim() : null;
}

export async function startSmtpSink({ port = 0 } = {}) {
  const messages = [];
  const waiters = new Set();
  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, session, cb) { cb(null, { user: auth.username, password: auth.password }); },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const bytes = Buffer.from(decodeQP(raw), 'latin1').toString('utf8');
        const msg = {
          raw,
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: header(raw, 'Subject'),
          text: bytes,
          auth: session.user || null,
          at: Date.now(),
        };
        messages.push(msg);
        for (const w of waiters) w();
        cb();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.server.address().port;
  return {
    port: actual,
    url: `smtp://127.0.0.1:${actual}`,
    messages,
    // Resolves with the first message matching pred (existing or future).
    waitFor(pred, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (!m) return false;
          waiters.delete(check);
          clearTimeout(t);
          resolve(m);
          return true;
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching email within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => [m.to, m.subject]))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
