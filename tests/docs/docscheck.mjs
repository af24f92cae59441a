// Readers for the documentation checks (tests/docs/docs.test.mjs). No
// dependencies: a fresh Debian has node but no YAML library, so the OpenAPI
// file is read with a small indentation-aware scanner that only needs the
// block-style keys of `paths:` (path keys and their method keys).

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

// The route table of src/api/routes.c: [{method, path, test}]. Throws when a
// row inside the table cannot be read, so a reformatted table fails loudly
// instead of silently checking nothing.
export function parseRoutes(src) {
  const start = src.indexOf('tc_api_routes[] = {');
  if (start < 0) throw new Error('routes.c: "tc_api_routes[] = {" not found');
  const end = src.indexOf('\n};', start);
  if (end < 0) throw new Error('routes.c: end of the route table not found');
  const table = src.slice(start, end).replace(/\/\*[\s\S]*?\*\//g, '');
  const rows = table.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  const routes = [];
  const re = /^\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*([^}]*)\}\s*,?$/;
  for (const row of rows) {
    const m = re.exec(row);
    if (!m) throw new Error(`routes.c: cannot read route row: ${row}`);
    routes.push({ method: m[1].toLowerCase(), path: m[2], handler: m[3], test: /TC_ROUTE_TEST/.test(m[6]) });
  }
  return routes;
}

function unquote(k) {
  k = k.trim();
  if ((k.startsWith("'") && k.endsWith("'")) || (k.startsWith('"') && k.endsWith('"'))) return k.slice(1, -1);
  return k;
}

// Key of a block mapping line ("  key:" or "  key: value"), or null.
function blockKey(text) {
  const m = /^('[^']*'|"[^"]*"|[^\s#'"{[][^:#]*?)\s*:(\s|$)/.exec(text);
  return m ? unquote(m[1]) : null;
}

// The operations under `paths:` of an OpenAPI YAML document:
// [{path, method, line}]. Also returns duplicate path or method keys.
export function parseOpenApiPaths(yaml) {
  const lines = yaml.split('\n');
  const ops = [];
  const duplicates = [];
  let inPaths = false, pathIndent = -1, methodIndent = -1, current = null;
  const seenPaths = new Set();
  let seenMethods = new Set();
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (!raw.trim() || raw.trim().startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    const text = raw.trimStart();
    if (indent === 0) {
      inPaths = blockKey(text) === 'paths';
      current = null;
      continue;
    }
    if (!inPaths) continue;
    if (pathIndent < 0) pathIndent = indent;
    if (indent < pathIndent) throw new Error(`openapi: line ${i + 1}: bad indentation under paths`);
    if (indent === pathIndent) {
      const key = blockKey(text);
      if (!key || !key.startsWith('/')) throw new Error(`openapi: line ${i + 1}: expected a path key, got: ${text}`);
      if (seenPaths.has(key)) duplicates.push(key);
      seenPaths.add(key);
      current = key;
      seenMethods = new Set();
      methodIndent = -1;
      continue;
    }
    if (!current) continue;
    if (methodIndent < 0) methodIndent = indent;
    if (indent !== methodIndent) continue; // deeper: inside an operation
    const key = blockKey(text);
    if (key && METHODS.has(key)) {
      if (seenMethods.has(key)) duplicates.push(`${key} ${current}`);
      seenMethods.add(key);
      ops.push({ path: current, method: key, line: i + 1 });
    }
  }
  return { ops, duplicates };
}

// Settings table of src/config/config.c: [{flag, env, type, def}].
export function parseSettings(src) {
  const start = src.indexOf('static const cfg_desc settings[] = {');
  if (start < 0) throw new Error('config.c: settings table not found');
  const end = src.indexOf('\n};', start);
  const table = src.slice(start, end).replace(/\/\*[\s\S]*?\*\//g, '');
  // A row may span lines: join the whole table, then split at row starts.
  const flat = table.replace(/\s*\n\s*/g, ' ');
  const settings = [];
  const re = /\{"([a-z0-9-]+)",\s*"(TC_[A-Z0-9_]+)",\s*CFG_(STR|BOOL|INT),\s*F\((\w+)\),\s*"((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(flat))) settings.push({ flag: m[1], env: m[2], type: m[3], field: m[4], def: m[5] });
  const rows = (flat.match(/\{"[a-z0-9-]+",/g) || []).length;
  if (rows !== settings.length) throw new Error(`config.c: read ${settings.length} of ${rows} setting rows`);
  return settings;
}

// Table rows of a Markdown file that start with a backticked --flag:
// {flag -> row text}.
export function settingRows(md) {
  const rows = new Map();
  for (const line of md.split('\n')) {
    const m = /^\|\s*`--([a-z0-9-]+)`/.exec(line.trim());
    if (m) rows.set(m[1], line);
  }
  return rows;
}

// Compares routes and documented operations; returns human messages.
export function compareRoutes(routes, ops) {
  const key = (method, path) => `${method.toUpperCase()} ${path}`;
  const problems = [];
  const served = new Set(routes.filter((r) => !r.test).map((r) => key(r.method, r.path)));
  const testOnly = new Set(routes.filter((r) => r.test).map((r) => key(r.method, r.path)));
  const documented = new Set(ops.map((o) => key(o.method, o.path)));
  for (const k of served) if (!documented.has(k)) problems.push(`route ${k} is missing from docs/openapi.yaml`);
  for (const o of ops) {
    const k = key(o.method, o.path);
    if (testOnly.has(k)) problems.push(`docs/openapi.yaml:${o.line} documents the test-only route ${k}`);
    else if (!served.has(k)) problems.push(`docs/openapi.yaml:${o.line} lists ${k}, which no route in src/api/routes.c serves`);
  }
  return problems;
}
