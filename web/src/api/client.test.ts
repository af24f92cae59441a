import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError } from './client';
import { TokenStore } from './tokens';

class MemStorage implements Storage {
  private m = new Map<string, string>();
  get length() { return this.m.size; }
  clear() { this.m.clear(); }
  getItem(k: string) { return this.m.get(k) ?? null; }
  key(i: number) { return Array.from(this.m.keys())[i] ?? null; }
  removeItem(k: string) { this.m.delete(k); }
  setItem(k: string, v: string) { this.m.set(k, v); }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

function setup(handler: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const tokens = new TokenStore(new MemStorage());
  const calls: { url: string; auth?: string; body?: string }[] = [];
  const fetchImpl = vi.fn(async (url: RequestInfo | URL, init: RequestInit = {}) => {
    const h = init.headers as Record<string, string>;
    calls.push({ url: String(url), auth: h.Authorization, body: init.body as string | undefined });
    return handler(String(url), init);
  });
  const ended = vi.fn();
  const client = new ApiClient({ tokens, fetch: fetchImpl as unknown as typeof fetch, onSessionEnd: ended });
  return { tokens, client, calls, ended };
}

const auth = (a: string, r: string) => ({ user: { id: 'u', email: 'a@b.c', created_at: '', is_admin: false }, access_token: a, refresh_token: r, expires_in: 900 });

describe('ApiClient', () => {
  it('sends the bearer token and parses JSON', async () => {
    const { client, tokens, calls } = setup(() => json(200, { id: 'u1' }));
    tokens.set('A1', 'R1');
    expect(await client.request('GET', '/api/me')).toEqual({ id: 'u1' });
    expect(calls[0].auth).toBe('Bearer A1');
  });

  it('refreshes once on 401, retries, and keeps the rotated tokens', async () => {
    const { client, tokens, calls, ended } = setup((url, init) => {
      if (url === '/api/auth/refresh') {
        expect(JSON.parse(init.body as string)).toEqual({ refresh_token: 'R1' });
        return json(200, auth('A2', 'R2'));
      }
      const h = init.headers as Record<string, string>;
      return h.Authorization === 'Bearer A2' ? json(200, { ok: true }) : json(401, { error: { code: 'unauthorized', message: 'expired' } });
    });
    tokens.set('A1', 'R1');
    expect(await client.request('GET', '/api/jobs')).toEqual({ ok: true });
    expect(calls.map((c) => c.url)).toEqual(['/api/jobs', '/api/auth/refresh', '/api/jobs']);
    expect(tokens.accessToken).toBe('A2');
    expect(tokens.refreshToken).toBe('R2');
    expect(ended).not.toHaveBeenCalled();
  });

  it('shares one refresh between concurrent 401s', async () => {
    let refreshes = 0;
    const { client, tokens } = setup(async (url, init) => {
      if (url === '/api/auth/refresh') {
        refreshes++;
        await new Promise((r) => setTimeout(r, 5));
        return json(200, auth('A2', 'R2'));
      }
      return (init.headers as Record<string, string>).Authorization === 'Bearer A2' ? json(200, { url }) : json(401, {});
    });
    tokens.set('A1', 'R1');
    const r = await Promise.all([client.request('GET', '/a'), client.request('GET', '/b'), client.request('GET', '/c')]);
    expect(r).toEqual([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    expect(refreshes).toBe(1);
  });

  it('logs out when the refresh is refused', async () => {
    const { client, tokens, calls, ended } = setup((url) => (url === '/api/auth/refresh' ? json(401, { error: { code: 'invalid_token', message: 'reused' } }) : json(401, { error: { code: 'unauthorized', message: 'Token expired' } })));
    tokens.set('A1', 'R1');
    const err = (await client.request('GET', '/api/me').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(calls.length).toBe(2); // no second retry, no refresh loop
    expect(tokens.accessToken).toBeNull();
    expect(tokens.refreshToken).toBeNull();
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('does not refresh for unauthenticated calls such as login', async () => {
    const { client, tokens, calls, ended } = setup(() => json(401, { error: { code: 'invalid_credentials', message: 'Wrong email or password' } }));
    tokens.set('A1', 'R1');
    const err = (await client.request('POST', '/api/auth/login', { auth: false, body: {} }).catch((e: unknown) => e)) as ApiError;
    expect(err.message).toBe('Wrong email or password');
    expect(calls.length).toBe(1);
    expect(ended).not.toHaveBeenCalled();
  });

  it('turns the error body into an ApiError with field, details and Retry-After', async () => {
    const { client } = setup(() =>
      json(422, { error: { code: 'validation_failed', message: 'Invalid', field: 'arguments', details: [{ path: '/arguments/x', keyword: 'type', message: 'must be integer' }] } }, { 'Retry-After': '3' }),
    );
    const err = (await client.request('POST', '/x', { body: {} }).catch((e) => e)) as ApiError;
    expect(err.code).toBe('validation_failed');
    expect(err.field).toBe('arguments');
    expect(err.details).toEqual([{ path: '/arguments/x', keyword: 'type', message: 'must be integer' }]);
    expect(err.retryAfter).toBe(3);
  });

  it('reports a network failure as network_error and handles 204', async () => {
    let fail = true;
    const { client } = setup(() => {
      if (fail) throw new TypeError('Failed to fetch');
      return new Response(null, { status: 204 });
    });
    const err = (await client.request('GET', '/x').catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('network_error');
    fail = false;
    expect(await client.request('DELETE', '/x')).toBeUndefined();
  });
});
