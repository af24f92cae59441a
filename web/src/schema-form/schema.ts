import type { JsonSchema } from '../api/types';

export type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'object' | 'array' | 'json';

/** Options of an enum-like schema: `enum`, or oneOf/anyOf made only of `const`s. */
export function enumOptions(s: JsonSchema): { value: unknown; label: string }[] | null {
  if (Array.isArray(s.enum)) return s.enum.map((v) => ({ value: v, label: String(v) }));
  const alts = s.oneOf ?? s.anyOf;
  if (Array.isArray(alts) && alts.length > 0 && alts.every((a) => a && 'const' in a)) {
    return alts.map((a) => ({ value: a.const, label: a.title ?? String(a.const) }));
  }
  return null;
}

export function kindOf(s: JsonSchema | undefined | null): Kind {
  if (!s || typeof s !== 'object') return 'json';
  if (enumOptions(s)) return 'enum';
  let t = s.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') ?? t[0];
  switch (t) {
    case 'string':
    case 'number':
    case 'integer':
    case 'boolean':
      return t;
    case 'object':
      return s.properties && Object.keys(s.properties).length > 0 ? 'object' : 'json';
    case 'array':
      return 'array';
    default:
      if (s.properties) return 'object';
      if (s.items) return 'array';
      return 'json';
  }
}

/** The starting value of a form: defaults, false for required booleans, nested required objects built. */
export function initialValue(s: JsonSchema | undefined, required = true): unknown {
  if (!s) return undefined;
  if (s.default !== undefined) return structuredClone(s.default);
  const k = kindOf(s);
  if (k === 'object') {
    const out: Record<string, unknown> = {};
    const req = new Set(s.required ?? []);
    for (const [name, sub] of Object.entries(s.properties ?? {})) {
      const v = initialValue(sub, req.has(name));
      if (v !== undefined) out[name] = v;
    }
    return required || Object.keys(out).length > 0 ? out : undefined;
  }
  if (k === 'boolean' && required) return false;
  if (k === 'array' && required) return [];
  return undefined;
}

/** Drops undefined members and empty optional objects so the server sees only what was filled in. */
export function cleanValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cleanValue).filter((x) => x !== undefined);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = cleanValue(x);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return v;
}

/** Reads a number input: '' is "not given", an unparsable text is kept for the server to reject. */
export function parseNumber(text: string, integer: boolean): number | string | undefined {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  if (integer && !Number.isInteger(n)) return text;
  return n;
}
