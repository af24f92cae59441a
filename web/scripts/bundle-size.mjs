#!/usr/bin/env node
// Reports the gzipped size of every built chunk (web/dist/assets) and of the
// JavaScript the landing page (/) loads before it is interactive: the entry
// script, its static imports (modulepreload) and the lazy Landing route chunk
// with its own static imports. Exits 1 when that is over the budget.
//   node scripts/bundle-size.mjs [--budget-kb 200] [--json]
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const args = process.argv.slice(2);
const budgetKb = Number(args[args.indexOf('--budget-kb') + 1] || 200) || 200;
const asJson = args.includes('--json');

if (!existsSync(join(root, 'index.html'))) {
  console.error('bundle-size: web/dist/index.html is missing; run `npm run build` first');
  process.exit(2);
}

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const assets = readdirSync(join(root, 'assets'));
const chunks = assets
  .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
  .map((f) => ({ file: f, raw: readFileSync(join(root, 'assets', f)).length, gzip: gz(join(root, 'assets', f)) }))
  .sort((a, b) => b.gzip - a.gzip);

// Static imports of a chunk: `import ... from "./x.js"` / `import "./x.js"` (not dynamic import()).
function staticImports(file) {
  const src = readFileSync(join(root, 'assets', file), 'utf8');
  const out = new Set();
  for (const m of src.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w${},*\s]+from\s*)?["']\.\/([^"']+\.js)["']/g)) out.add(m[1]);
  return [...out];
}
function closure(start) {
  const seen = new Set();
  const stack = [...start];
  while (stack.length) {
    const f = stack.pop();
    if (seen.has(f) || !assets.includes(f)) continue;
    seen.add(f);
    stack.push(...staticImports(f));
  }
  return seen;
}

const html = readFileSync(join(root, 'index.html'), 'utf8');
const entry = [...html.matchAll(/<script[^>]+src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
const preload = [...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
const landing = assets.filter((f) => /^Landing-[\w-]+\.js$/.test(f));
const initial = closure([...entry, ...preload, ...landing]);
const initialGzip = [...initial].reduce((s, f) => s + gz(join(root, 'assets', f)), 0);
const ok = initialGzip <= budgetKb * 1024;

if (asJson) {
  console.log(JSON.stringify({ budget_kb: budgetKb, landing_initial_js_gzip: initialGzip, landing_files: [...initial], chunks, ok }, null, 2));
} else {
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KB';
  console.log('chunk'.padEnd(44) + '      raw' + '     gzip');
  for (const c of chunks) console.log(c.file.padEnd(44) + kb(c.raw) + kb(c.gzip));
  console.log(`\nlanding page initial JS (${[...initial].join(', ')}):`);
  console.log(`  ${(initialGzip / 1024).toFixed(1)} KB gzipped, budget ${budgetKb} KB: ${ok ? 'OK' : 'OVER BUDGET'}`);
}
process.exit(ok ? 0 : 1);
