import type { AuthResponse, ErrorBody, ErrorDetail } from './types';
import { TokenStore } from './tokens';

/** An error answered by the server ({"error":{code,message,field}}) or by the network. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly details: ErrorDetail[];
  readonly retryAfter?: number;
  /** The whole error object, for extra members (e.g. cron `position`). */
  readonly raw: Record<string, unknown>;

  constructor(status: number, code: string, message: string, opts: { field?: string; details?: ErrorDetail[]; retryAfter?: number; raw?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = opts.field;
    this.details = opts.details ?? [];
    this.retryAfter = opts.retryAfter;
    this.raw = opts.raw ?? {};
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Send the bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

export interface ClientOptions {
  baseUrl?: string;
  tokens: TokenStore;
  fetch?: typeof fetch;
  /** Called when the session is over (refresh failed or was refused). */
  onSessionEnd?: () => void;
}

export function buildUrl(base: string, path: string, query?: Query): string {
  let url = base + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue;
      params.set(k, String(v));
    }
    const s = params.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  return url;
}

async function toError(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ErrorBody>;
  } catch {
    body = null;
  }
  const e = body?.error;
  const retry = res.headers.get('Retry-After');
  return new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? (res.statusText || `Request failed (${res.status})`), {
    field: e?.field,
    details: e?.details ?? body?.details ?? [],
    retryAfter: retry ? Number(retry) : undefined,
    raw: (e as Record<string, unknown> | undefined) ?? {},
  });
}

/**
 * The HTTP client. Every call carries the in-memory access token; a 401 on an
 * authenticated call triggers one refresh (shared by concurrent callers) and
 * one retry; if the refresh fails the tokens are dropped and onSessionEnd runs.
 */
export class ApiClient {
  readonly tokens: TokenStore;
  private baseUrl: string;
  private fetchImpl: typeof fetch;
  private onSessionEnd?: () => void;
  private refreshing: Promise<boolean> | null = null;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl ?? '';
    this.tokens = opts.tokens;
    this.fetchImpl = opts.fetch ?? ((...a) => fetch(...a));
    this.onSessionEnd = opts.onSessionEnd;
  }

  setSessionEndHandler(fn: () => void): void {
    this.onSessionEnd = fn;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const auth = opts.auth ?? true;
    let res = await this.send(method, path, opts, auth);
    if (res.status === 401 && auth && this.tokens.refreshToken) {
      const ok = await this.refresh();
      if (ok) res = await this.send(method, path, opts, auth);
      if (!ok || res.status === 401) {
        this.endSession();
      }
    } else if (res.status === 401 && auth && this.tokens.accessToken) {
      this.endSession();
    }
    if (!res.ok) throw await toError(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Rotates the refresh token; true when a new access token is in place. */
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    const token = this.tokens.refreshToken;
    if (!token) return Promise.resolve(false);
    this.refreshing = (async () => {
      try {
        const res = await this.send('POST', '/api/auth/refresh', { body: { refresh_token: token } }, false);
        if (!res.ok) return false;
        const body = (await res.json()) as AuthResponse;
        this.tokens.set(body.access_token, body.refresh_token);
        return true;
      } catch {
        return false;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private endSession(): void {
    this.tokens.clear();
    this.onSessionEnd?.();
  }

  private async send(method: string, path: string, opts: RequestOptions, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const token = this.tokens.accessToken;
    if (auth && token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetchImpl(buildUrl(this.baseUrl, path, opts.query), { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
    }
  }
}

/** A human sentence for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}
