// Where credentials live in the browser.
//
// - The access token (short-lived JWT) is kept in memory only: it never
//   touches storage, so it disappears on reload and a stale copy cannot be
//   read back later.
// - The refresh token is kept in sessionStorage: it survives a reload of the
//   tab, but not closing it, and each tab has its own. localStorage would keep
//   the user signed in across restarts, but would share one rotating refresh
//   token between tabs: two tabs refreshing at once would present the same
//   token twice, which the server treats as reuse and revokes the family.
//   Script running in the page (XSS) can read either storage, so the shorter
//   lifetime of sessionStorage is the safer of the two. See docs/web.md.

const REFRESH_KEY = 'tc.refresh_token';

type Listener = () => void;

export class TokenStore {
  private access: string | null = null;
  private listeners = new Set<Listener>();
  private storage: Storage | null;

  constructor(storage: Storage | null = typeof sessionStorage === 'undefined' ? null : sessionStorage) {
    this.storage = storage;
  }

  get accessToken(): string | null {
    return this.access;
  }

  get refreshToken(): string | null {
    try {
      return this.storage?.getItem(REFRESH_KEY) ?? null;
    } catch {
      return null;
    }
  }

  set(access: string, refresh: string): void {
    this.access = access;
    try {
      this.storage?.setItem(REFRESH_KEY, refresh);
    } catch {
      /* storage disabled: the session lasts until reload */
    }
    this.emit();
  }

  clear(): void {
    this.access = null;
    try {
      this.storage?.removeItem(REFRESH_KEY);
    } catch {
      /* ignore */
    }
    this.emit();
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}
