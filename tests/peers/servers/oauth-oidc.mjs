// A strict OAuth 2.0 / OpenID provider for the oauth tests: oidc-provider on
// 127.0.0.1, PKCE required for every client, refresh tokens that rotate for
// the public client, revocation on. Interactive login and consent are
// answered by a tiny handler (devInteractions off) that logs in "user-1" and
// grants what was asked, or denies when told to.
//
//   node oauth-oidc.mjs --redirect http://127.0.0.1:PORT/api/oauth/callback [--port 0]
// prints "LISTENING <port>" once it accepts connections.
//
// Clients: tc-public (none), tc-basic (client_secret_basic, secret
// "basic-secret"), tc-post (client_secret_post, secret "post-secret").
//
// Control endpoints (JSON), for the tests only:
//   GET  /_control/stats   counts of token requests by grant type, revocations,
//                          refresh tokens issued, in order
//   POST /_control/set     {deny, fail_token (0|400|500), access_ttl (s)}
//   POST /_control/drive   {url}: plays the browser at the provider (cookie
//                          jar, redirects, login + consent) until it is sent
//                          to the redirect URI; answers {location}
//   POST /_control/replay  {refresh_token, client_id}: uses a refresh token
//                          directly at the token endpoint; answers {status, body}
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const redirect = arg('redirect');
if (!redirect) {
  console.error('--redirect is required');
  process.exit(2);
}

const control = { deny: false, fail_token: 0, access_ttl: 3600 };
const stats = { token: {}, revocations: 0, refresh_tokens: [], failed_injected: 0 };

const server = http.createServer();
await new Promise((r) => server.listen(Number(arg('port', '0')), '127.0.0.1', r));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const clientBase = { redirect_uris: [redirect], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
const provider = new Provider(issuer, {
  clients: [
    { ...clientBase, client_id: 'tc-public', token_endpoint_auth_method: 'none' },
    { ...clientBase, client_id: 'tc-basic', client_secret: 'basic-secret', token_endpoint_auth_method: 'client_secret_basic' },
    { ...clientBase, client_id: 'tc-post', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post' },
  ],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  ttl: {
    AccessToken: () => control.access_ttl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 600,
    Grant: 3600,
    RefreshToken: 3600,
  },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  clockTolerance: 0,
  jwks: undefined,
});
provider.on('server_error', (ctx, err) => console.error('provider server_error', err));

provider.use(async (ctx, next) => {
  if (ctx.path === '/token' && ctx.method === 'POST' && control.fail_token) {
    stats.failed_injected++;
    ctx.status = control.fail_token;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(control.fail_token === 400
      ? { error: 'invalid_request', error_description: 'injected failure' }
      : { error: 'server_error', error_description: 'injected failure' });
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST') {
    const gt = ctx.oidc?.params?.grant_type || 'unknown';
    const ok = ctx.status === 200;
    const key = `${gt}${ok ? '' : ':error'}`;
    stats.token[key] = (stats.token[key] || 0) + 1;
    if (ok && ctx.body?.refresh_token) stats.refresh_tokens.push(ctx.body.refresh_token);
  }
  if (ctx.path === '/token/revocation' && ctx.method === 'POST') stats.revocations++;
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (control.deny) {
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'the user denied access' }, { mergeWithLastSubmission: false });
  }
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: 'user-1' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) grant.addResourceScope(indicator, scopes.join(' '));
    result = { consent: { grantId: await grant.save() } };
  }
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

// A browser at the provider: follows redirects with cookies until the
// provider sends it to the redirect URI.
async function drive(url) {
  const jar = new Map();
  for (let hop = 0; hop < 20; hop++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
    const loc = r.headers.get('location');
    if (!loc) return { status: r.status, body: await r.text() };
    const next = new URL(loc, url).toString();
    if (next.startsWith(redirect)) return { location: next };
    url = next;
  }
  return { error: 'too many redirects' };
}

async function replay(body) {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: body.client_id });
  const r = await fetch(`${issuer}/token`, { method: 'POST', body: form });
  return { status: r.status, body: await r.json() };
}

function readJson(req) {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (d) => { s += d; });
    req.on('end', () => { try { resolve(s ? JSON.parse(s) : {}); } catch { resolve({}); } });
  });
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const reply = (obj, status = 200) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res);
    if (url.pathname === '/_control/stats') return reply(stats);
    if (url.pathname === '/_control/set') {
      Object.assign(control, await readJson(req));
      return reply(control);
    }
    if (url.pathname === '/_control/drive') return reply(await drive((await readJson(req)).url));
    if (url.pathname === '/_control/replay') return reply(await replay(await readJson(req)));
    return callback(req, res);
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500);
    res.end(String(e));
  }
});

process.stdout.write(`LISTENING ${port}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
