import { ApiError } from '../api/client';
import type { ErrorDetail } from '../api/types';

/**
 * Normalises an error path from the server to dotted form: "/arguments/a/0",
 * "$.a[0]", "arguments.a.0" and "a[0]" all become "a.0" (with `strip` = the
 * request-body prefix to drop, e.g. "arguments").
 */
export function normalizePath(path: string | undefined | null, strip?: string): string {
  if (!path) return '';
  let p = path.trim();
  if (p.startsWith('#')) p = p.slice(1);
  if (p.startsWith('$')) p = p.slice(1);
  const parts = p
    .replace(/\[(\d+|'[^']*'|"[^"]*")\]/g, (_, k: string) => '.' + k.replace(/^['"]|['"]$/g, ''))
    .split(p.includes('/') && !p.includes('.') ? '/' : /[./]/)
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (strip && parts[0] === strip) parts.shift();
  return parts.join('.');
}

/** Field errors keyed by dotted path ("" = the whole body / form). */
export type FieldErrors = Record<string, string>;

export function fieldErrors(err: unknown, strip?: string): FieldErrors {
  const out: FieldErrors = {};
  if (!(err instanceof ApiError)) return out;
  const details: ErrorDetail[] = err.details ?? [];
  for (const d of details) {
    let key = normalizePath(d.path, strip);
    // "required" is reported at the parent object; point it at the missing child.
    if (d.keyword === 'required') {
      const m = /['"`]([^'"`]+)['"`]/.exec(d.message);
      if (m && !key.endsWith(m[1])) key = key ? `${key}.${m[1]}` : m[1];
    }
    if (!(key in out)) out[key] = d.message;
  }
  // The top-level message summarises the details when there are some; it is
  // only a field error of its own when there are none.
  if (err.field && details.length === 0) {
    const key = normalizePath(err.field, strip);
    if (!(key in out)) out[key] = err.message;
  }
  return out;
}

/** Errors that match none of the known fields, to show above the form. */
export function unmatchedErrors(errs: FieldErrors, known: string[]): string[] {
  return Object.entries(errs)
    .filter(([k]) => !known.some((f) => f === k || k.startsWith(f + '.')))
    .map(([k, m]) => (k ? `${k}: ${m}` : m));
}
