// Keeps the documentation true to the code:
//  - every non-test route of src/api/routes.c is in docs/openapi.yaml, and
//    the OpenAPI file lists no path + method that no route serves;
//  - every setting of src/config/config.c has a row in docs/configuration.md
//    with its flag, variable and default, and no row names a setting that is
//    gone; every TC_* variable read with getenv() in src/ is documented;
//  - README.md lists every docs/*.md page (and only existing ones) and shows
//    `make run` and `make test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRoutes, parseOpenApiPaths, parseSettings, settingRows, compareRoutes } from './docscheck.mjs';

const root = process.env.TC_SOURCE_DIR || join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p) => readFileSync(join(root, p), 'utf8');

function walk(dir, out = []) {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out;
}

// ---- the readers themselves, on small inputs ----

test('the route reader finds rows, methods and the test flag, and refuses rows it cannot read', () => {
  const src = `const tc_route tc_api_routes[] = {
    /* method pattern */
    {"GET", "/a/{id}", h_a, R, TC_RATE_NONE, 0},
    {"POST", "/b", h_b, N, TC_RATE_API, TC_ROUTE_ADMIN},
    {"GET", "/api/_test/x", h_x, N, TC_RATE_NONE, TC_ROUTE_TEST},
};`;
  const r = parseRoutes(src);
  assert.deepEqual(r.map((x) => `${x.method} ${x.path} ${x.test}`), ['get /a/{id} false', 'post /b false', 'get /api/_test/x true']);
  assert.throws(() => parseRoutes(src.replace('{"POST", "/b",', '{"POST",\n "/b",')), /cannot read route row/);
});

test('the OpenAPI reader finds path and method keys at any indentation and skips nested keys', () => {
  const yaml = [
    'openapi: 3.1.0',
    'paths:',
    '   # a comment',
    "   '/q/{id}':",
    '      parameters: [{ name: id }]',
    '      get:',
    '         responses:',
    "            '200': { description: ok }",
    '         post: not-a-method-here',
    '      delete: { summary: x }',
    '   /plain:',
    '      summary: no methods',
    'components:',
    '   schemas:',
    '      get: {}',
  ].join('\n');
  const { ops, duplicates } = parseOpenApiPaths(yaml);
  assert.deepEqual(ops.map((o) => `${o.method} ${o.path}`), ['get /q/{id}', 'delete /q/{id}']);
  assert.deepEqual(duplicates, []);
  const dup = parseOpenApiPaths('paths:\n  /a:\n    get: {}\n    get: {}\n  /a:\n    put: {}\n');
  assert.deepEqual(dup.duplicates.sort(), ['/a', 'get /a']);
});

test('the comparison reports missing, extra and test-only operations', () => {
  const routes = [
    { method: 'get', path: '/a', test: false },
    { method: 'post', path: '/a', test: false },
    { method: 'get', path: '/api/_test/x', test: true },
  ];
  const ops = [
    { method: 'get', path: '/a', line: 3 },
    { method: 'put', path: '/a', line: 9 },
    { method: 'get', path: '/api/_test/x', line: 12 },
  ];
  const p = compareRoutes(routes, ops);
  assert.equal(p.length, 3);
  assert.match(p.join('\n'), /POST \/a is missing/);
  assert.match(p.join('\n'), /:9 lists PUT \/a, which no route/);
  assert.match(p.join('\n'), /:12 documents the test-only route GET \/api\/_test\/x/);
});

test('the settings reader reads rows split over lines', () => {
  const src = `static const cfg_desc settings[] = {
    {"listen", "TC_LISTEN", CFG_STR, F(listen), "127.0.0.1:8080", "address"},
    {"scheduler-misfire-grace-ms", "TC_SCHEDULER_MISFIRE_GRACE_MS", CFG_INT,
     F(scheduler_misfire_grace_ms), "60000",
     "a due run later than this"},
};`;
  const s = parseSettings(src);
  assert.deepEqual(s.map((x) => [x.flag, x.env, x.def]), [
    ['listen', 'TC_LISTEN', '127.0.0.1:8080'],
    ['scheduler-misfire-grace-ms', 'TC_SCHEDULER_MISFIRE_GRACE_MS', '60000'],
  ]);
});

// ---- the real files ----

test('docs/openapi.yaml documents exactly the routes of src/api/routes.c (test routes left out)', () => {
  const routes = parseRoutes(read('src/api/routes.c'));
  assert.ok(routes.filter((r) => !r.test).length >= 40, `only ${routes.length} routes read from routes.c`);
  const { ops, duplicates } = parseOpenApiPaths(read('docs/openapi.yaml'));
  assert.deepEqual(duplicates, [], 'duplicate keys in docs/openapi.yaml paths');
  const problems = compareRoutes(routes, ops);
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('docs/configuration.md has a row for every setting of src/config/config.c with its variable and default', () => {
  const settings = parseSettings(read('src/config/config.c'));
  assert.ok(settings.length >= 20, `only ${settings.length} settings read from config.c`);
  const md = read('docs/configuration.md');
  const rows = settingRows(md);
  const problems = [];
  for (const s of settings) {
    const row = rows.get(s.flag);
    if (!row) {
      problems.push(`--${s.flag} (${s.env}) has no row in docs/configuration.md`);
      continue;
    }
    if (!row.includes('`' + s.env + '`')) problems.push(`the row of --${s.flag} does not name \`${s.env}\``);
    const def = s.def === '' ? 'empty' : '`' + s.def + '`';
    if (!row.includes(def)) problems.push(`the row of --${s.flag} does not give the default ${def}`);
  }
  const known = new Set(settings.map((s) => s.flag));
  for (const flag of rows.keys())
    if (!known.has(flag)) problems.push(`docs/configuration.md documents --${flag}, which config.c does not have`);
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('every TC_* variable read with getenv() in src/ is documented in docs/configuration.md', () => {
  const md = read('docs/configuration.md');
  const names = new Set();
  for (const f of walk('src')) {
    for (const m of read(f).matchAll(/getenv\(\s*"(TC_[A-Z0-9_]+)"\s*\)/g)) names.add(m[1]);
  }
  assert.ok(names.has('TC_TEST_ROUTES'), 'expected getenv("TC_TEST_ROUTES") in src/');
  const missing = [...names].filter((n) => !md.includes('`' + n + '`'));
  assert.deepEqual(missing, [], `not in docs/configuration.md: ${missing.join(', ')}`);
  assert.match(md, /TC_OAUTH_<SLUG>_CLIENT_ID/);
  assert.match(md, /TC_OAUTH_<SLUG>_CLIENT_SECRET/);
});

test('README.md shows the two commands and lists every docs page', () => {
  const readme = read('README.md');
  assert.match(readme, /^\s+make run\b/m);
  assert.match(readme, /^\s+make test\b/m);
  const pages = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'));
  const listed = new Set([...readme.matchAll(/docs\/([a-z0-9_-]+\.md)/g)].map((m) => m[1]));
  const missing = pages.filter((p) => !listed.has(p));
  const stale = [...listed].filter((p) => !pages.includes(p));
  assert.deepEqual(missing, [], `docs pages not listed in README.md: ${missing.join(', ')}`);
  assert.deepEqual(stale, [], `README.md lists missing pages: ${stale.join(', ')}`);
});
